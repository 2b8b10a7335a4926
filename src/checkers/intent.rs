//! Membership intent: the final membership reflects every change that was
//! made, in causal order.
//!
//! Convergence asks whether members agree; this asks whether what they
//! agree on is what was asked for. A member whose causally last change was
//! a removal must be out of every view (and know it); one whose last change
//! was an add must be in. When an add and a removal of the same member were
//! concurrent, either outcome honours someone's intent, and only agreement
//! (the convergence checker) is judged.

use super::Figure;
use super::history::{At, Delivery, History, Membership, Op, Run};
use super::{Evidence, Status, Verdict, list, measured};
use crate::core::event::OpKind;
use crate::core::ids::{MemberId, MessageId};
use crate::core::io::Command;
use crate::trace::CheckId;
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: CheckId = CheckId::MembershipIntent;

/// The changes to `target` that no other change to it causally follows.
fn last_changes(
    h: &Parts<'_>,
    pasts: &BTreeMap<MessageId, BTreeSet<MessageId>>,
    ops: &[(MessageId, OpKind)],
) -> Vec<(MessageId, OpKind)> {
    ops.iter()
        .filter(|(m, _)| {
            !ops.iter()
                .any(|(o, _)| o != m && pasts.get(o).is_some_and(|p| p.contains(m)))
        })
        .filter(|(m, _)| h.delivery.sent.contains_key(m))
        .copied()
        .collect()
}

/// What became of each membership change the workload asked for: made
/// (a `membership_op` by the member asked), refused (a `command_skipped`
/// for it: the application was told), or neither: dropped without a word.
/// A dropped change is a failure when nothing later touched its target
/// and the final views do not show it anyway. Returns the failures and
/// the (made, refused, dropped) counts.
fn dropped(h: &Parts<'_>) -> (Vec<Evidence>, [u64; 3]) {
    let Some(start) = h.run.start.as_ref() else {
        return (Vec::new(), [0; 3]);
    };
    let mut planned = start.planned.clone();
    planned.sort_by_key(|p| p.at);
    let (mut used_ops, mut used_skips) = (BTreeSet::new(), BTreeSet::new());
    let mut counts = [0u64; 3];
    let mut evidence = Vec::new();
    let considered = h.run.considered();
    for p in &planned {
        let made = h.membership.ops.iter().position(|o| {
            o.host == p.by
                && o.t >= p.at
                && o.what.op == p.op
                && o.what.target == p.target
                && !used_ops.contains(&o.idx)
        });
        if let Some(i) = made {
            used_ops.insert(h.membership.ops[i].idx);
            counts[0] += 1;
            continue;
        }
        let command = match p.op {
            OpKind::Add => Command::Add(p.target),
            OpKind::Remove => Command::Remove(p.target),
        }
        .describe();
        let refused = h.run.skips.iter().find(|s| {
            s.host == p.by && s.t >= p.at && s.what == command && !used_skips.contains(&s.idx)
        });
        if let Some(s) = refused {
            used_skips.insert(s.idx);
            counts[1] += 1;
            continue;
        }
        counts[2] += 1;
        // Asked of a member whose device was wiped afterwards: a change
        // still pending then (a key package it could not claim across a
        // partition) went with it, as a write goes with a crashed client
        // (`coordinated-adversity` explore 1662 of 1001..=2000).
        if h.run.finals.get(&p.by).is_some_and(|f| f.state_lost) {
            continue;
        }
        let later = start
            .planned
            .iter()
            .any(|q| q.target == p.target && q.at > p.at)
            || h.membership
                .ops
                .iter()
                .any(|o| o.what.target == p.target && o.t > p.at);
        let wanted_in = p.op == OpKind::Add;
        let wrong: Vec<MemberId> = considered
            .iter()
            .filter(|(_, f)| f.view.contains(&p.target) != wanted_in)
            .map(|(m, _)| *m)
            .collect();
        if !later && !wrong.is_empty() {
            evidence.push(
                Evidence::note(format!(
                    "{} was asked at {} ms to {command}; it was neither made nor refused, \
                     and {} do not reflect it",
                    p.by,
                    p.at,
                    list(&wrong)
                ))
                .members(std::iter::once(p.by).chain(wrong))
                .at(p.at),
            );
        }
    }
    (evidence, counts)
}

/// The parts of the history this checker reads, and no others.
struct Parts<'a> {
    run: &'a Run,
    delivery: &'a Delivery,
    membership: &'a Membership,
}

pub fn check(h: &History) -> Verdict {
    judge(&Parts {
        run: &h.run,
        delivery: &h.delivery,
        membership: &h.membership,
    })
}

fn judge(h: &Parts<'_>) -> Verdict {
    if h.run.start.is_none() || h.run.running.is_none() {
        return Verdict::bare(
            NAME,
            Status::Unknown,
            "trace has no run_started or run_ended",
        );
    }
    let (lost, [made, refused, silent]) = dropped(h);
    let mut by_target: BTreeMap<MemberId, Vec<(MessageId, OpKind)>> = BTreeMap::new();
    // A change its author lost with its state before it reached anyone
    // was never made for the group: nobody could reflect it (`coordinated-
    // adversity` explore 844: a removal written across a partition by a
    // member wiped before the heal was held against everyone).
    let left_author =
        |o: &&At<Op>| h.run.reachable(o.what.msg.sender) || h.delivery.escaped(o.what.msg);
    for o in h.membership.ops.iter().filter(left_author) {
        by_target
            .entry(o.what.target)
            .or_default()
            .push((o.what.msg, o.what.op));
    }
    if by_target.is_empty() && lost.is_empty() {
        return Verdict::new(
            NAME,
            Status::Pass,
            "no membership change was made".into(),
            vec![],
            measured([
                (Figure::ChangedMembers, 0),
                (Figure::PlannedRefused, refused),
                (Figure::PlannedDropped, silent),
            ]),
        );
    }
    let pasts: BTreeMap<MessageId, BTreeSet<MessageId>> = h.delivery.pasts();
    let considered = h.run.considered();
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
        if h.run.reachable(*target)
            && h.run
                .finals
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
    let dropped_failures = lost.len();
    evidence.extend(lost);
    let m = measured([
        (Figure::ChangedMembers, by_target.len() as u64),
        (Figure::Judged, judged),
        (Figure::ConcurrentAddRemove, concurrent),
        (Figure::Violations, evidence.len() as u64),
        (Figure::PlannedMade, made),
        (Figure::PlannedRefused, refused),
        (Figure::PlannedDropped, silent),
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
            if dropped_failures == 0 {
                format!(
                    "{} final memberships contradict the last change made",
                    evidence.len()
                )
            } else {
                format!(
                    "{} final memberships contradict the last change made; \
                     {dropped_failures} asked-for change(s) dropped without a word",
                    evidence.len() - dropped_failures
                )
            },
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
        assert_eq!(v.measured[Figure::ConcurrentAddRemove], 1);
    }
}

#[cfg(test)]
mod planned {
    use super::*;
    use crate::checkers::testkit::*;
    use crate::trace::Event;
    use crate::trace::HostEvent;
    use crate::trace::PlannedOp;

    /// m0 is asked to remove m2 at 50 ms.
    fn asked() -> Tb {
        let mut tb = Tb::start(&[0, 1, 2]);
        if let Event::RunStarted { ops, .. } = &mut tb.trace.records[0].event {
            ops.push(PlannedOp {
                at: 50,
                by: m(0),
                op: OpKind::Remove,
                target: m(2),
            });
        }
        tb
    }

    /// Ends with everyone holding `view` and judges.
    fn judge(mut tb: Tb, view: &[u32]) -> Verdict {
        tb.end_agreed(&[0, 1, 2], view);
        check(&History::from_trace(&tb.build()))
    }

    /// The old checker saw no `membership_op` and said "no membership
    /// change was made": a removal the protocol dropped went unnoticed.
    #[test]
    fn a_change_dropped_without_a_word_fails() {
        let v = judge(asked(), &[0, 1, 2]);
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        assert!(
            v.summary.contains("dropped without a word"),
            "{}",
            v.summary
        );
        assert_eq!(v.measured[Figure::PlannedDropped], 1);
    }

    #[test]
    fn a_refused_change_is_counted_not_failed() {
        let mut tb = asked();
        tb.at(
            50,
            "m0",
            Event::Host(HostEvent::CommandSkipped {
                command: "remove m2".into(),
                reason: "a commit of this member is still being ordered".into(),
            }),
        );
        let v = judge(tb, &[0, 1, 2]);
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::PlannedRefused], 1);
    }

    #[test]
    fn a_made_change_is_judged_as_before() {
        let mut tb = asked();
        tb.exchange(10, id(0, 0), &[0, 1, 2], &[]);
        tb.remove(60, 0, 2, id(0, 1))
            .exchange(60, id(0, 1), &[0, 1, 2], &[id(0, 0)]);
        tb.end(100, &[0, 1, 2])
            .final_view(0, true, &[0, 1], false)
            .final_view(1, true, &[0, 1], false)
            .final_view(2, false, &[0, 1], false);
        let v = check(&History::from_trace(&tb.build()));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::PlannedMade], 1);
    }

    /// A removal that never left its author before the author was wiped
    /// binds nobody; one a mailbox took still does.
    #[test]
    fn a_change_lost_with_its_wiped_author_is_not_judged() {
        let lost = |ack: bool| {
            let mut tb = Tb::start(&[0, 1, 2]);
            tb.exchange(10, id(0, 0), &[0, 1, 2], &[]);
            tb.remove(60, 0, 2, id(0, 1))
                .send(60, id(0, 1), &[0, 1, 2], &[id(0, 0)])
                .envelope(60, id(0, 1), 1, ack);
            tb.end(100, &[0, 1, 2])
                .final_view(0, false, &[], true)
                .final_view(1, true, &[0, 1, 2], false)
                .final_view(2, true, &[0, 1, 2], false);
            check(&History::from_trace(&tb.build()))
        };
        let v = lost(false);
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::ChangedMembers], 0);
        assert_eq!(lost(true).status, Status::Fail);
    }

    /// A change still pending when its member's device was wiped went
    /// with it: counted as dropped, not failed.
    #[test]
    fn a_change_lost_with_a_wiped_device_is_not_a_failure() {
        let mut tb = asked();
        tb.end(100, &[0, 1, 2])
            .final_view(0, false, &[], true)
            .final_view(1, true, &[0, 1, 2], false)
            .final_view(2, true, &[0, 1, 2], false);
        let v = check(&History::from_trace(&tb.build()));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::PlannedDropped], 1);
    }

    /// A dropped change whose target someone changed later is moot.
    #[test]
    fn a_dropped_change_superseded_later_is_not_a_failure() {
        let mut tb = asked();
        tb.exchange(10, id(0, 0), &[0, 1, 2], &[]);
        tb.add(80, 1, 2, id(1, 0))
            .exchange(80, id(1, 0), &[0, 1, 2], &[id(0, 0)]);
        let v = judge(tb, &[0, 1, 2]);
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::PlannedDropped], 1);
    }
}
