//! Who could reach whom, and when, as the trace's fault records tell it.
//!
//! Checkers that excuse a member "cut off by a fault" must say from whom:
//! a member on one side of a partition can still compare notes with its
//! side, and excusing it for the whole partition hides a failure. The
//! partition's sides come typed in the `fault` record, never parsed back
//! from its description.

use crate::core::ids::{AgentId, Host, MemberId, Millis, Peer};
use crate::faults::FaultKind;
use crate::trace::Phase;
use std::collections::BTreeSet;

/// One fault that separated members while it lasted.
#[derive(Clone, Debug, PartialEq)]
struct Cut {
    /// The fault's place in the plan, which its end names too.
    index: usize,
    from: Millis,
    until: Option<Millis>,
    /// Two sides that cannot talk; one side alone is cut off from
    /// everyone (a member offline or crashed).
    sides: (BTreeSet<MemberId>, Option<BTreeSet<MemberId>>),
    /// The mailbox agents on each side, the same way (an agent's host
    /// crashed is one alone).
    agents: (BTreeSet<AgentId>, Option<BTreeSet<AgentId>>),
}

impl Cut {
    fn separates(&self, x: MemberId, y: MemberId) -> bool {
        let (a, b) = &self.sides;
        match b {
            None => a.contains(&x) || a.contains(&y),
            // A one-way partition is taken as a full one: comparing notes
            // needs answers both ways.
            Some(b) => (a.contains(&x) && b.contains(&y)) || (b.contains(&x) && a.contains(&y)),
        }
    }

    /// Whether member `x` cannot reach mailbox agent `a`, or `a` is down.
    fn blocks(&self, x: MemberId, a: AgentId) -> bool {
        let ((ma, aa), (mb, ab)) = (
            (&self.sides.0, &self.agents.0),
            (&self.sides.1, &self.agents.1),
        );
        match (mb, ab) {
            (Some(mb), Some(ab)) => {
                (ma.contains(&x) && ab.contains(&a)) || (mb.contains(&x) && aa.contains(&a))
            }
            _ => ma.contains(&x) || aa.contains(&a),
        }
    }

    fn active_at(&self, t: Millis) -> bool {
        self.from <= t && self.until.is_none_or(|u| u > t)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Reach {
    cuts: Vec<Cut>,
    /// Each member's mailbox agents, when the trace says (see
    /// [`Reach::set_mailboxes`]).
    mailboxes: std::collections::BTreeMap<MemberId, Vec<AgentId>>,
}

fn members(hosts: &[Peer]) -> BTreeSet<MemberId> {
    hosts
        .iter()
        .copied()
        .filter_map(MemberId::from_peer)
        .collect()
}

fn agents(hosts: &[Peer]) -> BTreeSet<AgentId> {
    (hosts.iter())
        .filter_map(|h| match h {
            Peer::Agent(a) => Some(*a),
            _ => None,
        })
        .collect()
}

impl Reach {
    /// Notes one `fault` record. Faults that do not separate members are
    /// ignored; an end closes the cut its begin opened.
    pub fn note(&mut self, t: Millis, index: usize, fault: &FaultKind, phase: Phase) {
        if phase == Phase::End {
            if let Some(open) =
                (self.cuts.iter_mut()).find(|c| c.index == index && c.until.is_none())
            {
                open.until = Some(t);
            }
            return;
        }
        let (sides, agents) = match fault.cut() {
            crate::faults::Cut::None => return,
            crate::faults::Cut::Alone(host) => ((members(&[host]), None), (agents(&[host]), None)),
            crate::faults::Cut::Sides(a, b) => {
                ((members(a), Some(members(b))), (agents(a), Some(agents(b))))
            }
        };
        if sides.0.is_empty() && agents.0.is_empty() {
            return;
        }
        self.cuts.push(Cut {
            index,
            from: t,
            until: None,
            sides,
            agents,
        });
    }

    /// Members reach each other only through mailbox agents: `x` reaches
    /// `y` while `x` can deliver to one of `y`'s agents that `y` can fetch
    /// from. Before this, a member cut off from every mailbox of its own
    /// (but on its peers' side of a partition) was held to noticing a
    /// lie it could not see (explore of `coordinated-adversity`, base
    /// seed 299: `coordinated-drop-victim-cut-from-mailboxes`).
    pub fn set_mailboxes(&mut self, boxes: &[(MemberId, Vec<AgentId>)]) {
        self.mailboxes = boxes.iter().cloned().collect();
    }

    /// Whether some fault cut `m` off from any member during [from, to].
    pub fn touched(&self, m: MemberId, from: Millis, to: Millis) -> bool {
        self.cuts.iter().any(|c| {
            c.from <= to
                && c.until.is_none_or(|u| u >= from)
                && (c.sides.0.contains(&m) || c.sides.1.as_ref().is_some_and(|b| b.contains(&m)))
        })
    }

    fn in_contact(&self, m: MemberId, with: &BTreeSet<MemberId>, t: Millis) -> bool {
        let active: Vec<&Cut> = self.cuts.iter().filter(|c| c.active_at(t)).collect();
        // `x` can hand `y` something: through a mailbox of `y`'s both can
        // reach, or (mailboxes unknown) directly.
        let to = |x: MemberId, y: MemberId| match self.mailboxes.get(&y) {
            Some(boxes) => boxes
                .iter()
                .any(|a| !active.iter().any(|c| c.blocks(x, *a) || c.blocks(y, *a))),
            None => !active.iter().any(|c| c.separates(x, y)),
        };
        with.iter().any(|o| to(m, *o) && to(*o, m))
    }

    /// The earliest time at or after `from` that starts `need` ms during
    /// which `m` could reach at least one member of `with` throughout:
    /// the start of the first chance it had to compare notes. `None` when
    /// faults never left it such a window.
    pub fn first_window(
        &self,
        m: MemberId,
        with: &BTreeSet<MemberId>,
        from: Millis,
        need: Millis,
    ) -> Option<Millis> {
        self.window(from, need, |t| self.in_contact(m, with, t))
    }

    /// The earliest time at or after `from` that starts `need` ms during
    /// which `m` itself was up: neither crashed nor offline. A member that
    /// is down cannot notice anything, so what it owes begins when it is
    /// back. `None` when it never was for that long.
    pub fn first_up(&self, m: MemberId, from: Millis, need: Millis) -> Option<Millis> {
        let down = |t| {
            (self.cuts.iter())
                .any(|c| c.active_at(t) && c.sides.1.is_none() && c.sides.0.contains(&m))
        };
        self.window(from, need, |t| !down(t))
    }

    /// The earliest time at or after `from` that starts `need` ms during
    /// which `ok` holds throughout (it can change only where a cut starts
    /// or ends).
    fn window(&self, from: Millis, need: Millis, ok: impl Fn(Millis) -> bool) -> Option<Millis> {
        let mut marks: Vec<Millis> = self
            .cuts
            .iter()
            .flat_map(|c| [Some(c.from), c.until])
            .flatten()
            .filter(|t| *t > from)
            .collect();
        marks.push(from);
        marks.sort_unstable();
        marks.dedup();
        let mut start: Option<Millis> = None;
        for (i, &p) in marks.iter().enumerate() {
            if ok(p) {
                let s = *start.get_or_insert(p);
                let next = marks.get(i + 1).copied();
                if next.is_none_or(|q| q.saturating_sub(s) >= need) {
                    return Some(s);
                }
            } else {
                start = None;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(ns: &[u32]) -> Vec<Peer> {
        ns.iter().map(|n| Peer::Member(MemberId(*n))).collect()
    }

    fn offline(m: u32) -> FaultKind {
        FaultKind::Offline {
            member: MemberId(m),
        }
    }

    fn set(ns: &[u32]) -> BTreeSet<MemberId> {
        ns.iter().map(|n| MemberId(*n)).collect()
    }

    #[test]
    fn a_partition_leaves_each_side_its_own() {
        let mut r = Reach::default();
        let cut = FaultKind::Partition {
            a: names(&[0, 1]),
            b: names(&[2, 3]),
        };
        r.note(100, 0, &cut, Phase::Begin);
        r.note(5_000, 0, &cut, Phase::End);
        // m0 can reach m1 throughout: its window starts at once.
        assert_eq!(
            r.first_window(MemberId(0), &set(&[1]), 200, 1_000),
            Some(200)
        );
        // m0 cannot reach m2 or m3 until the partition heals.
        assert_eq!(
            r.first_window(MemberId(0), &set(&[2, 3]), 200, 1_000),
            Some(5_000)
        );
        assert!(r.touched(MemberId(0), 0, 200));
    }

    #[test]
    fn offline_cuts_a_member_off_from_everyone_until_it_ends() {
        let mut r = Reach::default();
        r.note(100, 0, &offline(0), Phase::Begin);
        assert_eq!(r.first_window(MemberId(0), &set(&[1, 2]), 200, 1_000), None);
        assert_eq!(
            r.first_window(MemberId(1), &set(&[2]), 200, 1_000),
            Some(200)
        );
        r.note(3_000, 0, &offline(0), Phase::End);
        assert_eq!(
            r.first_window(MemberId(0), &set(&[1, 2]), 200, 1_000),
            Some(3_000)
        );
    }

    #[test]
    fn a_window_too_short_does_not_count() {
        let mut r = Reach::default();
        r.note(1_000, 0, &offline(0), Phase::Begin);
        r.note(1_500, 0, &offline(0), Phase::End);
        // Contact from 200 lasts only 800 ms before the cut.
        assert_eq!(
            r.first_window(MemberId(0), &set(&[1]), 200, 1_000),
            Some(1_500)
        );
        assert_eq!(r.first_window(MemberId(0), &set(&[1]), 200, 500), Some(200));
    }

    #[test]
    fn a_member_cut_off_from_its_mailboxes_reaches_nobody() {
        let mut r = Reach::default();
        // m0, m1 own mailboxes at s0; m2 at s1.
        r.set_mailboxes(&[
            (MemberId(0), vec![AgentId(0)]),
            (MemberId(1), vec![AgentId(0)]),
            (MemberId(2), vec![AgentId(1)]),
        ]);
        let cut = FaultKind::Partition {
            a: names(&[0, 1]),
            b: vec![
                Peer::named("s0"),
                Peer::named("s1"),
                Peer::Member(MemberId(2)),
            ],
        };
        r.note(100, 0, &cut, Phase::Begin);
        // On one side with m1, m0 still reaches nobody: every mailbox is
        // across the cut.
        assert_eq!(r.first_window(MemberId(0), &set(&[1, 2]), 200, 1_000), None);
        r.note(3_000, 0, &cut, Phase::End);
        assert_eq!(
            r.first_window(MemberId(0), &set(&[1]), 200, 1_000),
            Some(3_000)
        );
        // Across a partition that leaves each member its own mailbox and
        // the other's, two members still reach each other.
        let apart = FaultKind::Partition {
            a: names(&[0]),
            b: names(&[2]),
        };
        r.note(4_000, 1, &apart, Phase::Begin);
        assert_eq!(
            r.first_window(MemberId(0), &set(&[2]), 4_000, 1_000),
            Some(4_000)
        );
        // A crashed mailbox host cuts off whoever has only it.
        let crash = FaultKind::Crash {
            host: Peer::named("s1"),
            state: crate::faults::StateOnRestart::Kept,
        };
        r.note(6_000, 2, &crash, Phase::Begin);
        assert_eq!(r.first_window(MemberId(0), &set(&[2]), 6_000, 1_000), None);
        assert_eq!(
            r.first_window(MemberId(0), &set(&[1]), 6_000, 1_000),
            Some(6_000)
        );
    }

    #[test]
    fn faults_that_do_not_separate_are_ignored() {
        let mut r = Reach::default();
        r.note(100, 0, &FaultKind::Loss { rate: 0.5 }, Phase::Begin);
        let crash = FaultKind::Crash {
            host: Peer::named("c0"),
            state: crate::faults::StateOnRestart::Kept,
        };
        r.note(100, 1, &crash, Phase::Begin);
        assert_eq!(
            r.first_window(MemberId(0), &set(&[1]), 200, 1_000),
            Some(200)
        );
    }
}
