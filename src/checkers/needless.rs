//! Needless fallback: no member abandons a server agent that keeps
//! serving it because a peer said so.
//!
//! A fallback notice is a peer's word. If every member followed it, any
//! one member could make the whole group leave a healthy server: by going
//! offline from the server alone, or by lying (issue 21 (7)). A member
//! should follow a peer only on evidence it can check, or when its own
//! timers say its server is gone. So a fallback on a peer's notice
//! (`peer_notice`) is needless when the member's server was up, honest,
//! current and cut off from it by no fault for an `ack_timeout` either
//! side of the fallback: asked, it would have answered.
//!
//! Fallbacks on the member's own evidence are not judged here (whether
//! they came in time is `fallback`'s part), nor are moves to a later
//! generation: after a partition the side that kept the server must join
//! the other side's generation for the group to be one again.

use super::Figure;
use super::history::History;
use super::{Evidence, Status, Verdict, measured};
use crate::core::event::FallbackCause;
use crate::core::ids::{MemberId, Millis, Peer, ServerId};
use crate::trace::CheckId;

pub const NAME: CheckId = CheckId::NeedlessFallback;

pub fn check(h: &History) -> Verdict {
    let Some(bounds) = h.run.bounds() else {
        return Verdict::bare(NAME, Status::Unknown, "trace has no run_started");
    };
    let Some(servers) = bounds.servers else {
        let summary = "no server agents: nothing to abandon";
        return Verdict::new(
            NAME,
            Status::Pass,
            summary.into(),
            vec![],
            measured([(Figure::Judged, 0)]),
        );
    };
    let ack = servers.ack_timeout_ms;
    let (mut judged, mut excused, mut needless) = (0u64, 0u64, Vec::new());
    for f in &h.servers.fallbacks {
        let Some((generation, server)) = from(h, f.host, f.idx) else {
            continue;
        };
        let how = match f.what {
            FallbackCause::PeerNotice => "on a peer's notice",
            FallbackCause::Superseded if on_word(h, f.host, f.idx, (generation, server)) => {
                "for a generation formed on a peer's notice"
            }
            _ => continue,
        };
        judged += 1;
        let moved = f.what == FallbackCause::Superseded;
        if excuse(h, f.host, (server, generation, moved), (f.t, ack)).is_some() {
            excused += 1;
            continue;
        }
        needless.push(
            Evidence::note(format!(
                "{} left generation {generation} at {server} at {} ms {how}, \
                 though {server} was up, honest and reachable from it throughout {} to {} ms",
                f.host,
                f.t,
                f.t.saturating_sub(ack),
                f.t + ack
            ))
            .members([f.host])
            .at(f.t),
        );
    }
    let m = measured([
        (Figure::Judged, judged),
        (Figure::Excused, excused),
        (Figure::Needless, needless.len() as u64),
    ]);
    let (status, summary) = if needless.is_empty() {
        let s = if judged == 0 {
            "no member fell back on a peer's notice".to_owned()
        } else {
            format!(
                "{excused} fallbacks on a peer's notice, each while the member's server \
                 had failed or a fault touched it"
            )
        };
        (Status::Pass, s)
    } else {
        let s = format!(
            "{} members abandoned a server that kept serving them, on a peer's notice",
            needless.len()
        );
        (Status::Fail, s)
    };
    Verdict::new(NAME, status, summary, needless, m)
}

/// Whether the generation `m` moved to after trace position `idx` was
/// formed by a member that had left the old one on a peer's word (its own
/// question to the server unanswered, for it alone): a takeover that
/// moved a group its server still served (a helper's adversarial case:
/// a member cut off from the server one way followed a notice and took
/// everyone to c1, though the member it followed had already returned).
/// Only a later generation formed by a member that left the same one
/// counts: a contest of one generation settling by the tie rule moves
/// members off a working server by design (`coordinated-dual-nomination`).
fn on_word(h: &History, m: MemberId, idx: usize, left: (u32, ServerId)) -> bool {
    let Some(next) = (h.coord.switches.iter())
        .find(|s| s.host == m && s.idx > idx && s.what.is_some())
        .and_then(|s| s.what)
    else {
        return false;
    };
    next.generation > left.0
        && (h.servers.fallbacks.iter())
            .rfind(|f| f.host == next.nominator && f.idx < idx)
            .is_some_and(|f| {
                f.what == FallbackCause::PeerNotice && from(h, next.nominator, f.idx) == Some(left)
            })
}

/// The generation `m` was in just before trace position `idx`.
fn from(h: &History, m: MemberId, idx: usize) -> Option<(u32, ServerId)> {
    (h.coord.switches.iter())
        .rfind(|s| s.host == m && s.idx < idx)
        .and_then(|s| s.what)
        .map(|j| (j.generation, j.server))
}

/// Why following the notice at `t` was not needless, if it was not:
/// within `ack` of it the server failed, was fenced, or the group formed
/// a later generation; or a fault touched the member, the server, or the
/// whole network.
/// A member that `moved` to the later generation is not excused by that
/// generation, nor by the fence the move put on its old server.
fn excuse(
    h: &History,
    m: MemberId,
    (server, generation, moved): (ServerId, u32, bool),
    (t, ack): (Millis, Millis),
) -> Option<&'static str> {
    let (from, to) = (t.saturating_sub(ack), t + ack);
    // Removed by then: its server rightly no longer serves it, so it
    // abandoned nothing (a helper's adversarial case, seed 22).
    let out = (h.membership.changes.iter())
        .rfind(|c| c.host == m && c.t <= t)
        .is_some_and(|c| !c.what.in_group);
    if out {
        return Some("it had been removed");
    }
    if (h.faults.server_failures.iter()).any(|(at, s)| *s == server && *at <= to) {
        return Some("its server failed");
    }
    if moved {
        // Judged below on faults alone.
    } else if (h.coord.fenced.iter()).any(|(at, s, _)| *s == server && *at <= to) {
        return Some("its server was fenced");
    } else if (h.coord.accepted.iter()).any(|a| a.generation > generation && a.t <= t) {
        return Some("a later generation was formed");
    }
    let (me, it) = (Peer::Member(m), Peer::Server(server));
    // A partition matters only if it kept these two apart; weather (no
    // hosts) touches every path; any other fault, if it names either.
    let touches = |s: &super::history::Span| match &s.sides {
        Some((a, b)) => {
            (a.contains(&me) && b.contains(&it)) || (a.contains(&it) && b.contains(&me))
        }
        None => s.hosts.is_empty() || s.hosts.contains(&me) || s.hosts.contains(&it),
    };
    (h.faults.spans.iter())
        .any(|s| s.overlaps(from, to) && touches(s))
        .then_some("a fault touched it, its server or the path between them")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testkit::*;
    use crate::trace::Phase;

    /// m0 and m1 in generation 1 at c0; m1 falls back at 1,000 ms for
    /// `cause`; `fault`, if any, is in effect from 900 to 950 ms.
    fn run(cause: FallbackCause, fault: Option<crate::faults::FaultKind>) -> Verdict {
        let mut tb = Tb::start(&[0, 1]);
        tb.with_servers()
            .joined(100, 0, 1, 0, 0)
            .joined(200, 1, 1, 0, 0);
        if let Some(f) = fault {
            tb.fault(900, 0, Phase::Begin, f.clone())
                .fault(950, 0, Phase::End, f);
        }
        tb.fell_back_for(1_000, 1, cause)
            .end_agreed(&[0, 1], &[0, 1]);
        check(&History::from_trace(&tb.build()))
    }

    #[test]
    fn following_a_notice_away_from_a_healthy_server_fails() {
        let v = run(FallbackCause::PeerNotice, None);
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        assert!(mentions_member(&v, m(1)));
        assert_eq!(v.measured[Figure::Needless], 1);
    }

    /// m1 follows a notice and forms generation 2 at c1; m0, whose c0
    /// still served it, is moved there by m1's Welcome.
    #[test]
    fn a_takeover_on_a_peers_word_that_moves_a_served_member_fails() {
        let mut tb = Tb::start(&[0, 1]);
        tb.with_servers()
            .joined(100, 0, 1, 0, 0)
            .joined(200, 1, 1, 0, 0)
            .fell_back_for(1_000, 1, FallbackCause::PeerNotice)
            .accepted(1_200, 1, 2, 1)
            .joined(1_210, 1, 2, 1, 1)
            .fell_back_for(1_500, 0, FallbackCause::Superseded)
            .joined(1_510, 0, 2, 1, 1)
            .end_agreed(&[0, 1], &[0, 1]);
        let v = check(&History::from_trace(&tb.build()));
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        assert_eq!(v.measured[Figure::Needless], 2, "{v:#?}");
        assert!(
            v.evidence
                .iter()
                .any(|e| e.note.contains("formed on a peer's notice"))
        );
    }

    #[test]
    fn own_evidence_is_not_judged() {
        let v = run(FallbackCause::NoReceipt, None);
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::Judged], 0);
    }

    #[test]
    fn a_partition_elsewhere_excuses_nothing() {
        let p = crate::faults::FaultKind::Partition {
            a: vec![Peer::Member(m(0))],
            b: vec![Peer::Server(ServerId(0))],
        };
        let v = run(FallbackCause::PeerNotice, Some(p));
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        let p = crate::faults::FaultKind::Partition {
            a: vec![Peer::Server(ServerId(0))],
            b: vec![Peer::Member(m(1))],
        };
        let v = run(FallbackCause::PeerNotice, Some(p));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
    }

    #[test]
    fn a_fault_on_the_member_or_its_server_excuses_it() {
        let crash = crate::faults::FaultKind::Crash {
            host: Peer::Member(m(1)),
            state: crate::faults::StateOnRestart::Kept,
        };
        let v = run(FallbackCause::PeerNotice, Some(crash));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::Excused], 1);
    }
}
