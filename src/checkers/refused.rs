//! Refusals a member must act on at once: its server said it refuses
//! service, or that it was fenced by a later generation.
//!
//! Such an answer is proof, not a guess from silence: the member has no
//! reason to wait for a timeout, and every message it writes while it
//! waits goes to a server that will not order it. A member that ignored
//! the answer and fell back only when its receipt timer ran out passed
//! every other rule, since that timer is within the detection bound
//! (`docs/mutants/13-fenced-rejection-ignored.patch`). So a refusal owes a
//! fallback, or a join of a later generation, within the time the answer
//! takes to arrive (`reply_ms` in the trace's bounds).
//!
//! Judged only when the answer surely arrived: the member was coordinated
//! on that server's generation when it was turned away, and no fault that
//! could lose, delay or misdate the answer (network weather, a cut or
//! crash naming the member or the server, a clock skew on the member) was
//! in effect until the deadline.

use super::history::History;
use super::move_owed::{MoveOwed, first_move};
use crate::core::ids::{MemberId, Peer, ServerId};
use crate::core::server::sequencer::Rejection;
use crate::faults::{FaultType, Harm};

/// Whether a fault in effect could have kept the answer from `server`
/// to `member` from arriving on time.
fn could_hide(hosts: &[Peer], kind: FaultType, member: MemberId, server: ServerId) -> bool {
    if hosts.is_empty() {
        return true;
    }
    let names_server = hosts.contains(&Peer::Server(server));
    hosts.contains(&Peer::Member(member))
        || (names_server && matches!(kind.harm(), Harm::Cut | Harm::OneWayCut))
}

pub fn refusals(h: &History) -> Vec<MoveOwed> {
    let (Some(bounds), Some(end)) = (h.run.bounds(), h.run.ended_at) else {
        return Vec::new();
    };
    let Some(sb) = bounds.servers else {
        return Vec::new();
    };
    let mut out: Vec<MoveOwed> = Vec::new();
    for (at, server, member, why) in &h.servers.rejections {
        let (at, server, member) = (*at, *server, *member);
        // The generation it was turned away from, and whether that proves
        // the server will not serve it again.
        let from = match why {
            Rejection::Refused => None,
            Rejection::WrongGeneration { submitted, current } if current > submitted => {
                Some(*submitted)
            }
            _ => continue,
        };
        // Coordinated on that server (and generation) when turned away.
        let on_it = (h.coord.switches.iter())
            .rfind(|s| s.host == member && s.t <= at)
            .and_then(|s| s.what)
            .is_some_and(|j| j.server == server && from.is_none_or(|g| g == j.generation));
        let deadline = at.saturating_add(sb.reply_ms);
        let quiet = !(h.faults.spans.iter())
            .any(|s| s.overlaps(at, deadline) && could_hide(&s.hosts, s.kind, member, server));
        let open = out
            .iter()
            .any(|r| r.member == member && r.moved.is_none_or(|t| t >= at));
        if !on_it || !quiet || open || deadline > end || !h.run.reachable(member) {
            continue;
        }
        out.push(MoveOwed {
            member,
            at,
            deadline,
            moved: first_move(h, member, at),
            why: format!("{server} turned it away at {at} ms"),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testkit::*;
    use crate::trace::{Event, HostEvent, Phase};

    /// m0 and m1 in generation 1 at c0; c0 turns m0 away at 1 s.
    fn base(why: Rejection) -> Tb {
        let mut tb = Tb::start(&[0, 1]);
        tb.with_servers();
        tb.accepted(10, 0, 1, 0);
        tb.joined(20, 0, 1, 0, 0).joined(20, 1, 1, 0, 0);
        let e = Event::Host(HostEvent::SubmitRejected {
            sender: m(0),
            reason: why,
        });
        tb.at(1_000, "c0", e);
        tb
    }

    fn judge(tb: &mut Tb) -> Vec<MoveOwed> {
        tb.end_agreed(&[0, 1], &[0, 1]);
        refusals(&History::from_trace(&tb.build()))
    }

    const FENCED: Rejection = Rejection::WrongGeneration {
        submitted: 1,
        current: 2,
    };

    #[test]
    fn a_refusal_or_a_fence_owes_a_move_within_the_reply_time() {
        for why in [Rejection::Refused, FENCED] {
            let mut tb = base(why.clone());
            tb.fell_back(1_030, 0);
            let r = judge(&mut tb);
            assert_eq!(r.len(), 1, "{why:?}");
            assert!(r[0].met(), "{r:?}");
            let mut tb = base(why);
            tb.fell_back(3_000, 0);
            assert!(!judge(&mut tb)[0].met());
        }
    }

    #[test]
    fn other_rejections_and_members_elsewhere_owe_nothing() {
        let stale = Rejection::StaleEpoch {
            submitted: 1,
            current: 2,
        };
        assert_eq!(judge(&mut base(stale)), vec![]);
        // A rival nomination for the same generation proves nothing.
        let rival = Rejection::WrongGeneration {
            submitted: 2,
            current: 2,
        };
        assert_eq!(judge(&mut base(rival)), vec![]);
        // m0 had already fallen back: a late retry's refusal owes nothing.
        let mut tb = Tb::start(&[0, 1]);
        tb.accepted(10, 0, 1, 0)
            .joined(20, 0, 1, 0, 0)
            .fell_back(900, 0);
        let e = Event::Host(HostEvent::SubmitRejected {
            sender: m(0),
            reason: Rejection::Refused,
        });
        tb.at(1_000, "c0", e);
        assert_eq!(judge(&mut tb), vec![]);
    }

    #[test]
    fn a_fault_that_could_hide_the_answer_excuses_it() {
        let mut tb = base(Rejection::Refused);
        let loss = crate::faults::FaultKind::Loss { rate: 0.1 };
        tb.fault(990, 0, Phase::Begin, loss);
        assert_eq!(judge(&mut tb), vec![]);
        // The server's own refusal fault hides nothing.
        let mut tb = base(Rejection::Refused);
        let refuse = crate::faults::FaultKind::Refuse {
            server: ServerId(0),
        };
        tb.fault(990, 0, Phase::Begin, refuse);
        assert_eq!(judge(&mut tb).len(), 1);
    }
}
