//! Membership intent: the final membership reflects every change that was
//! made, in causal order.
//!
//! Convergence asks whether members agree; this asks whether what they
//! agree on is what was asked for. A member whose causally last change was
//! a removal must be out of every view (and know it); one whose last change
//! was an add must be in. When an add and a removal of the same member were
//! concurrent, either outcome honours someone's intent, and only agreement
//! (the convergence checker) is judged.

use super::history::History;
use super::{Evidence, Status, Verdict, list, measured};
use crate::core::ids::{MemberId, MessageId};
use crate::trace::event::OpKind;
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: &str = "membership_intent";

/// The changes to `target` that no other change to it causally follows.
fn last_changes(
    h: &History,
    pasts: &BTreeMap<MessageId, BTreeSet<MessageId>>,
    ops: &[(MessageId, OpKind)],
) -> Vec<(MessageId, OpKind)> {
    ops.iter()
        .filter(|(m, _)| {
            !ops.iter()
                .any(|(o, _)| o != m && pasts.get(o).is_some_and(|p| p.contains(m)))
        })
        .filter(|(m, _)| h.sent.contains_key(m))
        .copied()
        .collect()
}

pub fn check(h: &History) -> Verdict {
    if h.start.is_none() || h.running.is_none() {
        return Verdict::bare(
            NAME,
            Status::Unknown,
            "trace has no run_started or run_ended",
        );
    }
    let mut by_target: BTreeMap<MemberId, Vec<(MessageId, OpKind)>> = BTreeMap::new();
    for o in &h.ops {
        by_target
            .entry(o.what.target)
            .or_default()
            .push((o.what.msg, o.what.op));
    }
    if by_target.is_empty() {
        return Verdict::new(
            NAME,
            Status::Pass,
            "no membership change was made".into(),
            vec![],
            measured([("changed_members", 0)]),
        );
    }
    let pasts: BTreeMap<MessageId, BTreeSet<MessageId>> =
        h.sent.keys().map(|m| (*m, h.causal_past(*m).set)).collect();
    let considered = h.considered();
    let (mut judged, mut concurrent) = (0u64, 0u64);
    let mut evidence = Vec::new();
    for (target, ops) in &by_target {
        let last = last_changes(h, &pasts, ops);
        let kinds: BTreeSet<OpKind> = last.iter().map(|(_, k)| *k).collect();
        let msgs: Vec<MessageId> = last.iter().map(|(m, _)| *m).collect();
        let Some(kind) = kinds.first().filter(|_| kinds.len() == 1) else {
            concurrent += u64::from(kinds.len() > 1);
            continue;
        };
        judged += 1;
        let should_be_in = *kind == OpKind::Add;
        let wrong: Vec<MemberId> = considered
            .iter()
            .filter(|(_, f)| f.view.contains(target) != should_be_in)
            .map(|(m, _)| *m)
            .collect();
        let (verb, holds) = if should_be_in {
            ("added", "lack it in")
        } else {
            ("removed", "still hold it in")
        };
        if !wrong.is_empty() {
            evidence.push(
                Evidence::note(format!(
                    "{target} was last {verb} (in {}), but {} {holds} their view",
                    list(&msgs),
                    list(&wrong)
                ))
                .members(std::iter::once(*target).chain(wrong))
                .messages(msgs.iter().copied()),
            );
        }
        if h.reachable(*target)
            && h.finals
                .get(target)
                .is_some_and(|f| f.in_group != should_be_in)
        {
            let belief = if should_be_in { "out of" } else { "in" };
            evidence.push(
                Evidence::note(format!(
                    "{target} was last {verb} (in {}), but believes it is {belief} the group",
                    list(&msgs)
                ))
                .members([*target])
                .messages(msgs.iter().copied()),
            );
        }
    }
    let m = measured([
        ("changed_members", by_target.len() as u64),
        ("judged", judged),
        ("concurrent_add_remove", concurrent),
        ("violations", evidence.len() as u64),
    ]);
    if evidence.is_empty() {
        Verdict::new(
            NAME,
            Status::Pass,
            format!(
                "every reachable member reflects the last change to each of the {judged} changed members"
            ),
            evidence,
            m,
        )
    } else {
        Verdict::new(
            NAME,
            Status::Fail,
            format!(
                "{} final memberships contradict the last change made",
                evidence.len()
            ),
            evidence,
            m,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testkit::*;

    /// m0 removes m2 in m0#1; m1 then speaks after seeing it.
    fn removal() -> Tb {
        let mut tb = Tb::start(&[0, 1, 2]);
        tb.exchange(10, id(0, 0), &[0, 1, 2], &[]);
        tb.remove(20, 0, 2, id(0, 1))
            .exchange(20, id(0, 1), &[0, 1, 2], &[id(0, 0)]);
        tb.exchange(30, id(1, 0), &[0, 1], &[id(0, 1)]);
        tb
    }

    #[test]
    fn passes_when_the_removed_member_is_out_everywhere() {
        let mut tb = removal();
        tb.end(100, &[0, 1, 2])
            .final_view(0, true, &[0, 1], false)
            .final_view(1, true, &[0, 1], false)
            .final_view(2, false, &[0, 1], false);
        let v = check(&History::from_trace(&tb.build()));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
    }

    #[test]
    fn fails_when_a_removed_member_comes_back_into_a_view() {
        let mut tb = removal();
        tb.end(100, &[0, 1, 2])
            .final_view(0, true, &[0, 1], false)
            .final_view(1, true, &[0, 1, 2], false)
            .final_view(2, false, &[0, 1], false);
        let v = check(&History::from_trace(&tb.build()));
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        assert!(
            mentions_member(&v, m(1)) && mentions_message(&v, id(0, 1)),
            "{v:#?}"
        );
    }

    #[test]
    fn fails_when_the_removed_member_believes_it_is_in() {
        let mut tb = removal();
        tb.end(100, &[0, 1, 2])
            .final_view(0, true, &[0, 1], false)
            .final_view(1, true, &[0, 1], false)
            .final_view(2, true, &[0, 1, 2], false);
        let v = check(&History::from_trace(&tb.build()));
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        assert!(
            v.evidence
                .iter()
                .any(|e| e.note.contains("believes it is in")),
            "{v:#?}"
        );
    }

    #[test]
    fn a_causally_later_add_wins_and_concurrent_changes_are_not_judged() {
        let mut tb = removal();
        tb.add(40, 1, 2, id(1, 1));
        tb.exchange(40, id(1, 1), &[0, 1, 2], &[id(1, 0)]);
        tb.end(100, &[0, 1, 2])
            .final_view(0, true, &[0, 1], false)
            .final_view(1, true, &[0, 1], false)
            .final_view(2, false, &[0, 1], false);
        let v = check(&History::from_trace(&tb.build()));
        assert_eq!(
            v.status,
            Status::Fail,
            "m2 was re-added after its removal: {v:#?}"
        );

        let mut tb = Tb::start(&[0, 1, 2]);
        tb.exchange(10, id(0, 0), &[0, 1, 2], &[]);
        tb.remove(20, 0, 2, id(0, 1))
            .exchange(20, id(0, 1), &[0, 1], &[id(0, 0)]);
        tb.add(20, 1, 2, id(1, 0));
        tb.exchange(20, id(1, 0), &[0, 1, 2], &[id(0, 0)]);
        tb.end(100, &[0, 1, 2])
            .final_view(0, true, &[0, 1], false)
            .final_view(1, true, &[0, 1], false)
            .final_view(2, false, &[0, 1], false);
        let v = check(&History::from_trace(&tb.build()));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured["concurrent_add_remove"], 1);
    }
}
