//! Who could reach whom, and when, as the trace's fault records tell it.
//!
//! Checkers that excuse a member "cut off by a fault" must say from whom:
//! a member on one side of a partition can still compare notes with its
//! side, and excusing it for the whole partition hides a failure. The
//! partition's sides come typed in the `fault` record, never parsed back
//! from its description.

use crate::core::ids::{Host, MemberId, Millis, Peer};
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

    fn active_at(&self, t: Millis) -> bool {
        self.from <= t && self.until.is_none_or(|u| u > t)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Reach {
    cuts: Vec<Cut>,
}

fn members(hosts: &[Peer]) -> BTreeSet<MemberId> {
    hosts
        .iter()
        .copied()
        .filter_map(MemberId::from_peer)
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
        let sides = match fault.cut() {
            crate::faults::Cut::None => return,
            crate::faults::Cut::Alone(host) => (members(&[host]), None),
            crate::faults::Cut::Sides(a, b) => (members(a), Some(members(b))),
        };
        if sides.0.is_empty() {
            return;
        }
        self.cuts.push(Cut {
            index,
            from: t,
            until: None,
            sides,
        });
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
        with.iter().any(|o| {
            !self
                .cuts
                .iter()
                .any(|c| c.active_at(t) && c.separates(m, *o))
        })
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
