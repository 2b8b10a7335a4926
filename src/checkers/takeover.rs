//! Takeovers owed: a group that fell back from a failed server, with a
//! later candidate to go to and a quiet network, is coordinated again.
//!
//! Falling back keeps the group alive; handing it to the next server
//! agent is what gives it its order back. A protocol whose takeover never
//! fires leaves every group lightweight for good after its first server
//! failure, and no other check sees it: nothing is lost or misordered,
//! only never coordinated again (`docs/mutants/11-takeover-timer-never-fires.patch`).
//!
//! A takeover is owed only where the checker can be sure one was
//! possible: the failed server has a later candidate, and from the
//! failure to the deadline no fault but the failed server's own was in
//! effect anywhere (a partition or a crash elsewhere can make a
//! nomination fail, and the protocol then rightly gives that candidate
//! up). The deadline gives every member its turn: the members who fell
//! back wait `takeover_after` times one plus their rank before
//! nominating, and the nominee has `ack_timeout`, twice, to answer.

use super::history::History;
use crate::core::ids::{MemberId, Millis, Peer, ServerId};
use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq)]
pub struct Takeover {
    pub server: ServerId,
    pub failed_at: Millis,
    pub deadline: Millis,
    /// When the first member joined a later generation, if anyone did.
    pub joined: Option<Millis>,
}

impl Takeover {
    pub fn met(&self) -> bool {
        self.joined.is_some_and(|t| t <= self.deadline)
    }
}

/// The takeovers owed for these server failures: (when, which server,
/// the members it was serving that owed a fallback).
pub fn owed<'a>(
    h: &History,
    failures: impl IntoIterator<Item = (Millis, ServerId, &'a BTreeSet<MemberId>)>,
) -> Vec<Takeover> {
    let (Some(bounds), Some(end)) = (h.run.bounds(), h.run.ended_at) else {
        return Vec::new();
    };
    let Some(tb) = bounds.servers.filter(|tb| tb.takeover_after_ms > 0) else {
        return Vec::new();
    };
    let members = h.run.start.as_ref().map_or(0, |s| s.members.len()) as u64;
    let mut out = Vec::new();
    for (at, server, owed) in failures {
        if server.0 + 1 >= tb.servers || owed.is_empty() {
            continue;
        }
        // The generation the failed server ordered: a takeover is a join
        // of a later one.
        let failed_gen = (h.coord.switches.iter())
            .filter(|s| s.t < at && owed.contains(&s.host))
            .filter_map(|s| s.what.filter(|j| j.server == server))
            .map(|j| j.generation)
            .max()
            .unwrap_or(0);
        // Every member's takeover clock starts at its fallback.
        let fell_at = |m: &MemberId| {
            (h.servers.fallbacks.iter())
                .find(|f| f.host == *m && f.t >= at)
                .map_or(at.saturating_add(bounds.detection_ms), |f| f.t)
        };
        // A member that went back to the failed server's own generation
        // after its fallback found that server serving again: handing the
        // group on is then not owed, only allowed.
        let returned = |m: &MemberId| {
            let fell = fell_at(m);
            (h.coord.switches.iter()).any(|s| {
                s.host == *m
                    && s.t >= fell
                    && s.what
                        .is_some_and(|j| j.server == server && j.generation == failed_gen)
            })
        };
        if failed_gen > 0 && owed.iter().all(returned) {
            continue;
        }
        let fell = owed.iter().map(fell_at).max().unwrap_or(at);
        let deadline = fell
            .saturating_add(tb.takeover_after_ms.saturating_mul(members + 1))
            .saturating_add(tb.ack_timeout_ms.saturating_mul(2));
        let own = [Peer::Server(server)];
        let quiet = !(h.faults.spans.iter()).any(|s| s.hosts != own && s.overlaps(at, deadline));
        if deadline > end || !quiet {
            continue;
        }
        // A join of the failed generation's number at another server counts
        // too: the other side of a contested generation, formed before the
        // failure, is coordinated at a server that is up, and moving there
        // is the handover (`coordinated-adversity` explore 912 of 1..=1000,
        // base seed 39: everyone ended at c2, and a takeover was called
        // missing).
        let joined = (h.coord.switches.iter())
            .filter(|s| s.t > at)
            .filter(|s| {
                s.what.is_some_and(|j| {
                    j.generation > failed_gen || (j.generation == failed_gen && j.server != server)
                })
            })
            .map(|s| s.t)
            .min();
        out.push(Takeover {
            server,
            failed_at: at,
            deadline,
            joined,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testkit::*;
    use crate::faults::{FaultKind, StateOnRestart};
    use crate::trace::{Event, Phase};

    /// m0 and m1 in generation 1 at c0 (of two servers), which crashes at
    /// 1 s; both fall back at 1.2 s. With `after_ms` 100 and two members,
    /// the deadline is 1200 + 300 + 2 × 200 = 1900 ms.
    fn base() -> Tb {
        let mut tb = Tb::start(&[0, 1]);
        tb.with_servers();
        tb.accepted(10, 0, 1, 0);
        tb.joined(20, 0, 1, 0, 0).joined(20, 1, 1, 0, 0);
        let crash = FaultKind::Crash {
            host: Peer::named("c0"),
            state: StateOnRestart::Kept,
        };
        tb.fault(1_000, 0, Phase::Begin, crash);
        tb.fell_back(1_200, 0).fell_back(1_200, 1);
        tb
    }

    fn judge(tb: &mut Tb) -> Vec<Takeover> {
        tb.end_agreed(&[0, 1], &[0, 1]);
        let h = History::from_trace(&tb.build());
        let owed: BTreeSet<MemberId> = [m(0), m(1)].into();
        owed_for(&h, &owed)
    }

    fn owed_for(h: &History, owed: &BTreeSet<MemberId>) -> Vec<Takeover> {
        super::owed(h, [(1_000, ServerId(0), owed)])
    }

    #[test]
    fn a_join_of_a_later_generation_by_the_deadline_meets_it() {
        let mut tb = base();
        tb.accepted(1_400, 1, 2, 0).joined(1_500, 0, 2, 1, 0);
        let t = judge(&mut tb);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].deadline, 1_900);
        assert!(t[0].met(), "{t:?}");
    }

    #[test]
    fn a_join_of_the_same_generation_at_another_server_meets_it() {
        // c1 took generation 1 too (a dual nomination); m0 moves there.
        let mut tb = base();
        tb.accepted(500, 1, 1, 1).joined(1_500, 0, 1, 1, 1);
        assert!(judge(&mut tb)[0].met());
        // Back at the failed server's own generation is no handover.
        let mut tb = base();
        tb.joined(1_500, 0, 1, 0, 0);
        assert!(!judge(&mut tb)[0].met());
    }

    #[test]
    fn no_join_or_a_late_one_misses_it() {
        assert!(!judge(&mut base())[0].met());
        let mut tb = base();
        tb.joined(2_000, 0, 2, 1, 0);
        assert!(!judge(&mut tb)[0].met());
    }

    #[test]
    fn members_back_at_the_restarted_server_owe_no_takeover() {
        let mut tb = base();
        tb.joined(1_600, 0, 1, 0, 0).joined(1_650, 1, 1, 0, 0);
        assert_eq!(judge(&mut tb), vec![]);
        // One member still out of it: the takeover stays owed.
        let mut tb = base();
        tb.joined(1_600, 0, 1, 0, 0);
        assert!(!judge(&mut tb)[0].met());
    }

    #[test]
    fn nothing_is_owed_without_a_later_candidate_a_quiet_network_or_time() {
        // c1 failing has no candidate after it.
        let mut tb = base();
        tb.end_agreed(&[0, 1], &[0, 1]);
        let h = History::from_trace(&tb.build());
        let owed: BTreeSet<MemberId> = [m(0)].into();
        assert_eq!(super::owed(&h, [(1_000, ServerId(1), &owed)]), vec![]);
        // Another fault in the window.
        let mut tb = base();
        tb.partition(1_300, &[0], &[1], Some(1_400));
        assert_eq!(judge(&mut tb), vec![]);
        // The run ends before the deadline.
        let mut tb = base();
        tb.end(1_800, &[0, 1]);
        tb.final_view(0, true, &[0, 1], false);
        tb.final_view(1, true, &[0, 1], false);
        let h = History::from_trace(&tb.build());
        assert_eq!(owed_for(&h, &[m(0), m(1)].into()), vec![]);
        // A trace without the takeover bound owes none.
        let mut tb = base();
        if let Event::RunStarted { bounds, .. } = &mut tb.trace.records[0].event {
            bounds.servers = None;
        }
        assert_eq!(judge(&mut tb), vec![]);
    }
}
