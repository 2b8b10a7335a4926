//! Submissions nobody answered: the other way a coordinated member owes a
//! fallback.
//!
//! A server crash is not the only failure a member must notice. A
//! partition between it and its server, a server that stops answering
//! one member only, or a receipt lost on every retry all leave the member
//! holding a message its server never receipted. The seed's promise is
//! that such a member does not wait on the server for ever: within the
//! detection bound it switches the group to lightweight mode (or has
//! moved to a later generation), and sends what it holds over Olm. A
//! member that keeps waiting stalls everything it writes, and the
//! delivery checker may never see it, because the lightweight fallback of
//! the others, or a heal, can carry the message late but in time
//! (`docs/mutants/2-no-fallback-on-timeout.patch` went unseen by every
//! check until this one).
//!
//! Judged only where the checker can tell: the member stayed up and kept
//! one clock through the window (a crash may lose what it held, and a
//! clock jump moves its timers), it ended in the group and reachable, and
//! the run lasted past the deadline.

use super::history::History;
use super::move_owed::{MoveOwed, first_move};
use crate::core::ids::{MemberId, MessageId, Millis};
use std::collections::BTreeMap;

/// Every stall in the run, one per episode: submissions made while an
/// earlier one was still unanswered and the member had not yet moved are
/// the same stall, and a move that answers the first answers them too.
pub fn stalls(h: &History) -> Vec<MoveOwed> {
    let (Some(bounds), Some(end)) = (h.run.bounds(), h.run.ended_at) else {
        return Vec::new();
    };
    let detection = bounds.detection_ms;
    let mut receipted: BTreeMap<(MemberId, MessageId), Millis> = BTreeMap::new();
    for a in &h.servers.submit_acks {
        receipted.entry((a.host, a.what.0)).or_insert(a.t);
    }
    let mut submitted: Vec<_> = (h.delivery.sent.iter())
        .filter(|(_, s)| s.what.submitted)
        .collect();
    submitted.sort_by_key(|(_, s)| s.idx);
    // Per member, until when its open stall covers later submissions.
    let mut covered: BTreeMap<MemberId, Millis> = BTreeMap::new();
    let mut out = Vec::new();
    for (msg, s) in submitted {
        let m = s.host;
        let deadline = s.t.saturating_add(detection);
        let judged = deadline <= end
            && h.run.reachable(m)
            && h.run.finals.get(&m).is_some_and(|f| f.in_group)
            && covered.get(&m).is_none_or(|until| s.t > *until)
            && receipted.get(&(m, *msg)).is_none_or(|t| *t > deadline)
            && h.faults.reach.first_up(m, s.t, detection) == Some(s.t)
            && !(h.faults.clock_jumps.iter()).any(|(t, j)| *j == m && *t >= s.t && *t <= deadline);
        if !judged {
            continue;
        }
        let moved = first_move(h, m, s.t);
        covered.insert(m, moved.unwrap_or(Millis::MAX));
        out.push(MoveOwed {
            member: m,
            at: s.t,
            deadline,
            moved,
            why: format!(
                "its server never receipted {msg} it submitted at {} ms",
                s.t
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testkit::*;
    use crate::core::ids::ServerId;
    use crate::trace::HostEvent;
    use crate::trace::{Event, Phase};

    fn acked(tb: &mut Tb, t: Millis, host: u32, msg: MessageId) {
        let e = Event::Host(HostEvent::SubmitAcked {
            msg,
            server: ServerId(0),
            generation: 1,
            seq: 1,
        });
        tb.at(t, &format!("m{host}"), e);
    }

    /// m0 and m1 in generation 1 at c0; m0 submits at 100 ms.
    fn base() -> Tb {
        let mut tb = Tb::start(&[0, 1]);
        tb.accepted(10, 0, 1, 0);
        tb.joined(20, 0, 1, 0, 0).joined(20, 1, 1, 0, 0);
        tb.submitted(100, id(0, 0), &[0, 1]);
        tb
    }

    fn judge(tb: &mut Tb) -> Vec<MoveOwed> {
        tb.end_agreed(&[0, 1], &[0, 1]);
        stalls(&History::from_trace(&tb.build()))
    }

    #[test]
    fn a_receipt_in_time_owes_nothing() {
        let mut tb = base();
        acked(&mut tb, 300, 0, id(0, 0));
        assert_eq!(judge(&mut tb), vec![]);
    }

    #[test]
    fn an_unanswered_submission_owes_a_move_by_the_deadline() {
        let stall = |moved: Option<Millis>| {
            let mut tb = base();
            if let Some(t) = moved {
                tb.fell_back(t, 0);
            }
            judge(&mut tb)
        };
        let s = stall(Some(400));
        assert_eq!(s.len(), 1);
        assert!(s[0].met(), "{s:?}");
        assert_eq!(s[0].deadline, 100 + DETECTION);
        let late = stall(Some(2_000));
        assert!(!late[0].met(), "{late:?}");
        let never = stall(None);
        assert_eq!(never[0].moved, None);
        // A receipt after the deadline is no answer either.
        let mut tb = base();
        acked(&mut tb, 100 + DETECTION + 1, 0, id(0, 0));
        assert!(!judge(&mut tb)[0].met());
    }

    #[test]
    fn later_submissions_of_one_stall_are_one_obligation() {
        let mut tb = base();
        tb.submitted(200, id(0, 1), &[0, 1]);
        tb.fell_back(400, 0);
        tb.submitted(500, id(0, 2), &[0, 1]);
        acked(&mut tb, 600, 0, id(0, 2));
        let s = judge(&mut tb);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].at, 100, "the first submission, m0#0, opens the stall");
    }

    #[test]
    fn a_member_down_or_with_a_jumping_clock_is_not_judged() {
        let mut tb = base();
        tb.fault(
            150,
            0,
            Phase::Begin,
            crate::faults::FaultKind::Offline { member: m(0) },
        );
        tb.fault(
            250,
            0,
            Phase::End,
            crate::faults::FaultKind::Offline { member: m(0) },
        );
        assert_eq!(judge(&mut tb), vec![]);
        let mut tb = base();
        let skew = crate::faults::FaultKind::ClockSkew {
            member: m(0),
            offset_ms: -400,
        };
        tb.fault(150, 0, Phase::Begin, skew);
        assert_eq!(judge(&mut tb), vec![]);
        // Another member's trouble excuses nothing.
        let mut tb = base();
        let skew = crate::faults::FaultKind::ClockSkew {
            member: m(1),
            offset_ms: -400,
        };
        tb.fault(150, 0, Phase::Begin, skew);
        assert_eq!(judge(&mut tb).len(), 1);
    }

    #[test]
    fn a_run_that_ends_before_the_deadline_is_not_judged() {
        let mut tb = base();
        tb.end(100 + DETECTION - 1, &[0, 1]);
        tb.final_view(0, true, &[0, 1], false);
        tb.final_view(1, true, &[0, 1], false);
        assert_eq!(stalls(&History::from_trace(&tb.build())), vec![]);
    }
}
