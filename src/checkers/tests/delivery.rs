use super::*;
use crate::checkers::history::History;
use crate::checkers::testkit::*;
use crate::core::ids::Millis;
use crate::trace::HostEvent;
use crate::trace::{Event, Trace};

fn run(t: &Trace) -> Verdict {
    check(&History::from_trace(t))
}

#[test]
fn a_healthy_run_passes() {
    let v = run(&healthy());
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::Messages], 4);
    assert_eq!(v.measured[Figure::AcknowledgedPairs], 8);
    assert_eq!(v.measured[Figure::DeliveredPairs], 8);
    assert_eq!(v.measured[Figure::Lost], 0);
}

#[test]
fn an_acknowledged_message_never_delivered_is_lost() {
    let t = Tb::start(&[0, 1, 2])
        .exchange(100, id(0, 0), &[0, 1, 2], &[])
        .send(200, id(1, 0), &[0, 1, 2], &[id(0, 0)])
        .envelope(200, id(1, 0), 0, true)
        .envelope(200, id(1, 0), 2, true)
        .deliver(210, 0, id(1, 0))
        .end_agreed(&[0, 1, 2], &[0, 1, 2])
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.summary, "1 lost");
    let e = &v.evidence[0];
    assert_eq!(
        (e.members[0], e.messages.as_slice()),
        (m(2), &[id(1, 0)][..])
    );
    assert_eq!(e.at_ms, Some(201));
}

#[test]
fn gaps_at_unreachable_recipients_are_counted_not_failed() {
    let t = Tb::start(&[0, 1, 2, 3])
        .send(100, id(0, 0), &[0, 1, 2, 3], &[])
        .envelope(100, id(0, 0), 1, true) // m1 is down at the end
        .envelope(100, id(0, 0), 2, true) // m2 lost its state
        .envelope(100, id(0, 0), 3, false) // never acknowledged: m3 is down too
        .end(3_000, &[0, 2])
        .final_view(0, true, &[0, 1, 2, 3], false)
        .final_view(1, true, &[0, 1, 2, 3], false)
        .final_view(2, true, &[0, 1, 2, 3], true)
        .final_view(3, true, &[0, 1, 2, 3], false)
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::AcknowledgedToUnreachable], 2);
    assert_eq!(v.measured[Figure::UnacknowledgedPairs], 1);
    assert_eq!(v.measured[Figure::UnacknowledgedToUnreachable], 1);
    assert_eq!(v.measured[Figure::Lost], 0);
    assert!(mentions_member(&v, m(1)) && mentions_member(&v, m(2)));
}

/// m0 sends to m1 and m2; only m1's copy is acknowledged and delivered.
/// Everyone stays up. The old checker passed this: it only counted
/// acknowledged messages, so a sender that quietly dropped what it had not
/// handed on yet (the fallback that forgets its unacknowledged messages)
/// went unseen.
#[test]
fn an_unacknowledged_message_of_a_sender_that_stays_up_is_owed() {
    let t = Tb::start(&[0, 1, 2])
        .send(100, id(0, 0), &[0, 1, 2], &[])
        .envelope(100, id(0, 0), 1, true)
        .deliver(110, 1, id(0, 0))
        .envelope(100, id(0, 0), 2, false)
        .end_agreed(&[0, 1, 2], &[0, 1, 2])
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.summary, "1 lost unacknowledged");
    assert_eq!(v.measured[Figure::UnacknowledgedOwed], 1);
    let e = &v.evidence[0];
    assert_eq!(e.members, [m(2), m(0)]);
    assert_eq!(e.messages, [id(0, 0)]);
    assert!(e.note.contains("due by 2000 ms"), "{}", e.note);
}

/// A coordinated group whose server stops answering: m1 submits m1#0 and
/// gets no receipt, and everyone falls back. With `resent`, m1 sends the
/// message on over Olm and it arrives; without, it reaches nobody.
fn dropped_at_fallback(resent: bool) -> Trace {
    let mut tb = Tb::start(&[0, 1, 2]);
    for n in 0..3 {
        tb.joined(0, n, 1, 0, 0);
    }
    tb.send(100, id(1, 0), &[0, 1, 2], &[]).fell_back(600, 1);
    if resent {
        tb.envelope(600, id(1, 0), 0, true)
            .envelope(600, id(1, 0), 2, true)
            .deliver(650, 0, id(1, 0))
            .deliver(650, 2, id(1, 0));
    }
    tb.fell_back(700, 0).fell_back(700, 2);
    tb.end_agreed(&[0, 1, 2], &[0, 1, 2]).build()
}

/// The server never ordered m1#0, so the old checker had nothing
/// acknowledged to hold against anyone and passed the dropped message.
#[test]
fn a_message_dropped_at_fallback_is_lost() {
    let v = run(&dropped_at_fallback(false));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.summary, "2 lost unacknowledged");
    assert!(mentions_member(&v, m(0)) && mentions_member(&v, m(2)));
    let v = run(&dropped_at_fallback(true));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
}

/// m2 is removed after m0 addressed it; it is still owed what was sent to
/// it while it was a member. The old checker passed this too.
#[test]
fn a_recipient_removed_after_the_message_is_still_owed_it() {
    let t = Tb::start(&[0, 1, 2])
        .send(100, id(0, 0), &[0, 1, 2], &[])
        .envelope(100, id(0, 0), 1, true)
        .deliver(110, 1, id(0, 0))
        .envelope(100, id(0, 0), 2, false)
        .remove(200, 1, 2, id(1, 0))
        .exchange(200, id(1, 0), &[0, 1, 2], &[])
        .end(3_000, &[0, 1, 2])
        .final_view(0, true, &[0, 1], false)
        .final_view(1, true, &[0, 1], false)
        .final_view(2, false, &[], false)
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.measured[Figure::LostUnacknowledged], 1);
    assert_eq!(v.evidence[0].members, [m(2), m(0)]);
}

/// m0 sends m0#0 to m1 and m2 at `t`; neither acknowledges or shows it.
/// `setup` runs before the send, `later` after it; the members in
/// `running` are up at 3 s.
fn unacked_up(
    t: Millis,
    setup: impl FnOnce(&mut Tb) -> &mut Tb,
    later: impl FnOnce(&mut Tb) -> &mut Tb,
    running: &[u32],
) -> Verdict {
    let mut tb = Tb::start(&[0, 1, 2]);
    setup(&mut tb).send(t, id(0, 0), &[0, 1, 2], &[]);
    later(&mut tb).end(3_000, running);
    for n in 0..3 {
        tb.final_view(n, true, &[0, 1, 2], false);
    }
    run(&tb.build())
}

fn unacked(
    t: Millis,
    setup: impl FnOnce(&mut Tb) -> &mut Tb,
    later: impl FnOnce(&mut Tb) -> &mut Tb,
) -> Verdict {
    unacked_up(t, setup, later, &[0, 1, 2])
}

fn nothing(tb: &mut Tb) -> &mut Tb {
    tb
}

#[test]
fn an_unacknowledged_message_is_owed_only_with_time_to_arrive() {
    // Due at max(t, heal 1000) + detection 500 + convergence 500.
    let v = unacked(2_000, nothing, nothing);
    assert_eq!(v.measured[Figure::LostUnacknowledged], 2, "{v:#?}");
    let v = unacked(2_001, nothing, nothing);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::UnacknowledgedNotDue], 2);
    // A partition that never heals cuts m0 off from m2 to the end.
    let v = unacked(100, |tb| tb.partition(50, &[0, 1], &[2], None), nothing);
    assert_eq!(v.measured[Figure::LostUnacknowledged], 0, "{v:#?}");
    assert_eq!(v.measured[Figure::UnacknowledgedNotDue], 2);
    let v = unacked(
        100,
        |tb| tb.partition(50, &[0, 1], &[2], Some(900)),
        nothing,
    );
    assert_eq!(v.measured[Figure::LostUnacknowledged], 2, "{v:#?}");
}

#[test]
fn a_sender_that_went_down_or_lost_its_queues_owes_nothing_unacknowledged() {
    let v = unacked_up(100, nothing, nothing, &[1, 2]);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::UnacknowledgedSenderGone], 2);
    let v = unacked(100, nothing, |tb| tb.restarted(900, 0, true));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::UnacknowledgedSenderGone], 2);
    // A restart that kept everything, or one before the send, excuses nothing.
    let v = unacked(100, nothing, |tb| tb.restarted(900, 0, false));
    assert_eq!(v.measured[Figure::LostUnacknowledged], 2, "{v:#?}");
    let v = unacked(100, |tb| tb.restarted(50, 0, true), nothing);
    assert_eq!(v.measured[Figure::LostUnacknowledged], 2, "{v:#?}");
}

#[test]
fn a_recipient_or_sender_removed_before_the_send_is_owed_nothing() {
    // m1 removed m2 before m0 (not knowing) addressed it.
    let v = unacked(100, |tb| tb.remove(50, 1, 2, id(1, 0)), nothing);
    assert_eq!(v.measured[Figure::LostUnacknowledged], 1, "{v:#?}");
    assert_eq!(v.measured[Figure::UnacknowledgedNotAddressable], 1);
    assert_eq!(v.evidence[0].members, [m(1), m(0)]);
    // Re-added since: owed again.
    let v = unacked(
        100,
        |tb| tb.remove(50, 1, 2, id(1, 0)).add(60, 1, 2, id(1, 1)),
        nothing,
    );
    assert_eq!(v.measured[Figure::LostUnacknowledged], 2, "{v:#?}");
    // m0 itself had been removed: what it still sends is owed to nobody.
    let v = unacked(100, |tb| tb.remove(50, 1, 0, id(1, 0)), nothing);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::UnacknowledgedNotAddressable], 2);
}

/// `coordinated-removed-member-pairwise-order` seed 774: m1 removed m2;
/// m0, not knowing, addressed m2 and its server ordered the message for a
/// roster with m2 in it, but m2 knows it is out and refused to rejoin.
/// The old checker called the acknowledged message lost.
#[test]
fn an_acknowledged_message_to_a_member_removed_before_the_send_is_not_owed() {
    let removed_first = |first: bool, back_in: bool| {
        let mut tb = Tb::start(&[0, 1, 2]);
        if first {
            tb.remove(50, 1, 2, id(1, 0));
        }
        tb.send(100, id(0, 0), &[0, 1, 2], &[])
            .envelope(100, id(0, 0), 1, true)
            .deliver(110, 1, id(0, 0))
            .envelope(100, id(0, 0), 2, true);
        if !first {
            tb.remove(200, 1, 2, id(1, 0));
        }
        tb.end(3_000, &[0, 1, 2])
            .final_view(0, true, &[0, 1], false)
            .final_view(1, true, &[0, 1], false)
            .final_view(2, back_in, &[0, 1, 2], false);
        run(&tb.build())
    };
    let v = removed_first(true, false);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::AcknowledgedToRemoved], 1);
    // Removed after the send, it is owed what was sent to it before.
    assert_eq!(removed_first(false, false).status, Status::Fail);
    // A member that believes itself in the group is owed it still.
    assert_eq!(removed_first(true, true).status, Status::Fail);
}

fn founders(tb: &mut Tb) -> &mut Tb {
    tb.joined(0, 0, 1, 0, 0)
        .joined(0, 1, 1, 0, 0)
        .joined(0, 2, 1, 0, 0)
}

fn learns_it_was_removed(tb: &mut Tb) -> &mut Tb {
    tb.changed(200, 0, &[0, 1, 2], true)
        .changed(300, 0, &[], false)
}

/// m0 submits m0#0 in generation 1, then learns from the server's order
/// that it was removed first, and drops the message: nothing of a removed
/// member may be ordered. Had it fallen back before, it would have owed
/// the message over Olm.
#[test]
fn a_coordinated_sender_removed_first_withdraws_its_unordered_messages() {
    let v = unacked(100, founders, learns_it_was_removed);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::UnacknowledgedNotAddressable], 2);
    let v = unacked(100, founders, |tb| {
        tb.fell_back(200, 0).changed(300, 0, &[], false)
    });
    assert_eq!(v.measured[Figure::LostUnacknowledged], 2, "{v:#?}");
    // Not in a generation when it sent: a lightweight sender never drops.
    let v = unacked(100, nothing, learns_it_was_removed);
    assert_eq!(v.measured[Figure::LostUnacknowledged], 2, "{v:#?}");
}

#[test]
fn a_second_delivery_is_a_duplicate() {
    let mut tb = Tb::start(&[0, 1]);
    tb.exchange(100, id(0, 0), &[0, 1], &[])
        .deliver(500, 1, id(0, 0));
    let v = run(&tb.end_agreed(&[0, 1], &[0, 1]).build());
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.measured[Figure::Duplicates], 1);
    let e = &v.evidence[0];
    assert_eq!((e.members.as_slice(), e.at_ms), (&[m(1)][..], Some(500)));
    assert_eq!(e.messages, [id(0, 0)]);
}

#[test]
fn duplicates_fail_even_in_a_truncated_trace() {
    let t = Tb::start(&[0, 1])
        .exchange(100, id(0, 0), &[0, 1], &[])
        .deliver(500, 1, id(0, 0))
        .build();
    assert_eq!(run(&t).status, Status::Fail);
}

#[test]
fn delivering_before_a_parent_breaks_causal_order() {
    let t = Tb::start(&[0, 1, 2])
        .send(100, id(0, 0), &[0, 1, 2], &[])
        .deliver(110, 1, id(0, 0))
        .send(200, id(1, 0), &[0, 1, 2], &[id(0, 0)])
        .deliver(210, 0, id(1, 0))
        .deliver(220, 2, id(1, 0))
        .deliver(230, 2, id(0, 0))
        .end_agreed(&[0, 1, 2], &[0, 1, 2])
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.measured[Figure::CausalViolations], 1);
    let e = &v.evidence[0];
    assert_eq!(e.members[0], m(2));
    assert_eq!(e.messages, [id(1, 0), id(0, 0)]);
    assert_eq!(e.at_ms, Some(220));
    assert!(e.note.contains("delivered at 230 ms"), "{}", e.note);
}

#[test]
fn parents_not_addressed_to_the_recipient_do_not_hold_it_back() {
    // m0#0 went to m1 only; m2 may show m1#0 without it. m0 sent m0#0
    // itself, so its own message counts as delivered to it.
    let t = Tb::start(&[0, 1, 2])
        .exchange(100, id(0, 0), &[0, 1], &[])
        .exchange(200, id(1, 0), &[0, 1, 2], &[id(0, 0)])
        .end_agreed(&[0, 1, 2], &[0, 1, 2])
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::CausalViolations], 0);
}

#[test]
fn an_undelivered_control_parent_is_not_held_against_order() {
    let t = Tb::start(&[0, 1])
        .sent(100, id(0, 0), &[0, 1], &[], true)
        .exchange(200, id(0, 1), &[0, 1], &[id(0, 0)])
        .exchange(300, id(1, 0), &[0, 1], &[id(0, 0), id(0, 1)])
        .end_agreed(&[0, 1], &[0, 1])
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::ControlMessages], 1);
}

#[test]
fn parent_missing_is_reported() {
    let t = Tb::start(&[0, 1])
        .send(100, id(0, 0), &[0, 1], &[])
        .parent_missing(150, 1, id(0, 1), &[id(0, 0)])
        .deliver(200, 1, id(0, 0))
        .end_agreed(&[0, 1], &[0, 1])
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::ParentMissing], 1);
    assert!(mentions_message(&v, id(0, 1)) && mentions_member(&v, m(1)));
}

#[test]
fn unknown_without_messages_or_an_end() {
    let t = Tb::start(&[0, 1])
        .sent(100, id(0, 0), &[0, 1], &[], true)
        .end_agreed(&[0, 1], &[0, 1])
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert!(v.summary.contains("no group message"), "{}", v.summary);

    let t = Tb::start(&[0, 1])
        .exchange(100, id(0, 0), &[0, 1], &[])
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert!(v.summary.contains("no run_ended"), "{}", v.summary);
}

/// A coordinated group: the server's receipt acknowledges a message for
/// every recipient it still counted as a member when it ordered it.
fn coordinated(server_members: &[u32], delivered_at_m2: bool) -> History {
    coordinated_with(server_members, delivered_at_m2, nothing, nothing)
}

/// As [`coordinated`], with `before` run before the send and `after` once
/// the message is delivered at m1.
fn coordinated_with(
    server_members: &[u32],
    delivered_at_m2: bool,
    before: impl FnOnce(&mut Tb) -> &mut Tb,
    after: impl FnOnce(&mut Tb) -> &mut Tb,
) -> History {
    let mut tb = Tb::start(&[0, 1, 2]);
    before(&mut tb).send(10, id(0, 0), &[0, 1, 2], &[]);
    let members = server_members.iter().map(|n| m(*n)).collect();
    tb.at(
        11,
        "c0",
        Event::Host(HostEvent::Ordered {
            group: 1,
            generation: 1,
            seq: 0,
            epoch: 1,
            sender: m(0),
            commit: false,
            members,
        }),
    );
    tb.at(
        12,
        "m0",
        Event::Host(HostEvent::SubmitAcked {
            msg: id(0, 0),
            server: crate::core::ids::ServerId(0),
            generation: 1,
            seq: 0,
        }),
    );
    tb.deliver(20, 1, id(0, 0));
    if delivered_at_m2 {
        tb.deliver(20, 2, id(0, 0));
    }
    after(&mut tb).end_agreed(&[0, 1, 2], &[0, 1, 2]);
    History::from_trace(&tb.build())
}

/// A slot filled after the recipient had left that order (m2 fell back at
/// 5 ms) is no acknowledgement for it: the sender owes m2 the message over
/// Olm, as any unacknowledged one, and a sender wiped or restarted without
/// its queues owes nothing (`coordinated-adversity` explore 624: a liar
/// ordered it after m0 had caught the lie, and its sender was wiped just
/// after resending it).
#[test]
fn a_slot_filled_after_the_recipient_left_the_order_is_owed_by_the_sender() {
    fn fell(tb: &mut Tb) -> &mut Tb {
        tb.joined(1, 2, 1, 0, 0).fell_back(5, 2)
    }
    fn gone(tb: &mut Tb) -> &mut Tb {
        tb.restarted(30, 0, true)
    }
    let v = check(&coordinated_with(&[0, 1, 2], false, fell, nothing));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.measured[Figure::LostUnacknowledged], 1, "{v:#?}");
    let v = check(&coordinated_with(&[0, 1, 2], false, fell, gone));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::UnacknowledgedSenderGone], 1);
}

#[test]
fn a_server_ordered_message_must_reach_every_member_it_was_ordered_for() {
    let v = check(&coordinated(&[0, 1, 2], false));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(
        mentions_member(&v, m(2)) && mentions_message(&v, id(0, 0)),
        "{v:#?}"
    );
    assert_eq!(check(&coordinated(&[0, 1, 2], true)).status, Status::Pass);
}

#[test]
fn a_member_removed_before_the_message_was_ordered_is_not_owed_it() {
    let v = check(&coordinated(&[0, 1], false));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
}

/// m0 sends to m1 and m2 at 100 ms while a partition (100..1,000 ms) cuts
/// m2 off; m1 gets it at once, m2 at `arrives`. With `bound`, the run
/// holds deliveries to it.
fn held_up_by_a_partition(arrives: Millis, bound: Option<Millis>) -> Trace {
    let mut tb = Tb::start(&[0, 1, 2]);
    if let Some(Event::RunStarted { bounds, .. }) =
        tb.trace.records.first_mut().map(|r| &mut r.event)
    {
        bounds.recovery_ms = bound;
    }
    tb.partition(100, &[0, 1], &[2], Some(1_000))
        .send(100, id(0, 0), &[0, 1, 2], &[])
        .envelope(100, id(0, 0), 1, true)
        .envelope(100, id(0, 0), 2, true)
        .deliver(150, 1, id(0, 0))
        .deliver(arrives, 2, id(0, 0))
        .end_agreed(&[0, 1, 2], &[0, 1, 2])
        .build()
}

#[test]
fn recovery_is_timed_from_the_heal_not_from_the_send() {
    let v = run(&held_up_by_a_partition(1_400, None));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    // m1's copy arrived before the partition lifted: not a recovery.
    assert_eq!(v.measured[Figure::RecoveredDeliveries], 1);
    assert_eq!(v.measured[Figure::RecoveredAfterMs], 400);
    assert_eq!(v.measured[Figure::RecoveredLate], 0);
}

#[test]
fn a_delivery_later_than_the_recovery_bound_fails() {
    let v = run(&held_up_by_a_partition(1_400, Some(300)));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.summary, "1 recovered late");
    assert!(mentions_member(&v, m(2)) && mentions_message(&v, id(0, 0)));
    let v = run(&held_up_by_a_partition(1_300, Some(300)));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
}

#[test]
fn a_run_with_nothing_to_recover_has_no_recovery_time() {
    let v = run(&healthy());
    assert_eq!(v.measured[Figure::RecoveredDeliveries], 0);
    assert_eq!(v.measured.get(Figure::RecoveredAfterMs), None);
}

/// A receipt for a slot whose membership lacks the sender (the server had
/// ordered the sender's removal first, and the `drop` lie receipted the
/// message anyway) acknowledges it for nobody: m2 removed m0 before m0
/// wrote it, and nobody owes it (`coordinated-drop-victim-removed`).
#[test]
fn a_receipt_for_a_slot_its_sender_was_out_of_acknowledges_nothing() {
    fn removal(tb: &mut Tb) -> &mut Tb {
        tb.remove(5, 2, 0, id(2, 0))
    }
    let v = check(&coordinated_with(&[1, 2], false, removal, nothing));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::AcknowledgedPairs], 0, "{v:#?}");
    // With the sender a member of the slot, the same receipt is owed.
    let v = check(&coordinated_with(&[0, 1, 2], false, removal, nothing));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
}

/// After a fork lie put m0 and m2 on different branches (m1 with m0), a
/// slot of m0's branch is no acknowledgement for m2, which cannot decrypt
/// it: m0 owes m2 the message over Olm, and owes nothing once wiped
/// (`coordinated-fork-branch-sender-wiped`). m1, on m0's branch, is owed
/// it by the server's order as before.
#[test]
fn a_slot_on_the_other_branch_of_a_fork_is_owed_by_the_sender() {
    use crate::core::server::dishonest::Mode;
    fn forked(tb: &mut Tb) -> &mut Tb {
        tb.lied(5, 0, Mode::Fork, &[0, 1], (1, 0))
            .lied(5, 0, Mode::Fork, &[2], (1, 0))
    }
    fn gone(tb: &mut Tb) -> &mut Tb {
        tb.restarted(30, 0, true)
    }
    let v = check(&coordinated_with(&[0, 1, 2], false, forked, nothing));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.measured[Figure::LostUnacknowledged], 1, "{v:#?}");
    assert_eq!(v.measured[Figure::AcknowledgedPairs], 1, "{v:#?}");
    let v = check(&coordinated_with(&[0, 1, 2], false, forked, gone));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::UnacknowledgedSenderGone], 1, "{v:#?}");
}

/// m1 writes m1#0 to m0; only the agent s0 acknowledges, and m0 never
/// shows it. A wipe of s0 after the ack takes the only copy the system
/// held: the message is then held by its sender alone, owed while m1
/// stays up and excused once m1 is down.
#[test]
fn an_ack_by_an_agent_wiped_afterwards_acknowledges_nothing() {
    use crate::core::ids::Peer;
    use crate::faults::{FaultKind, StateOnRestart};
    use crate::trace::Phase;
    let verdict = |wiped: bool, sender_up: bool| {
        let mut tb = Tb::start(&[0, 1]);
        tb.send(100, id(1, 0), &[0, 1], &[])
            .envelope(100, id(1, 0), 0, true);
        if wiped {
            let wipe = FaultKind::Crash {
                host: Peer::named("s0"),
                state: StateOnRestart::Wiped,
            };
            tb.fault(300, 0, Phase::Begin, wipe);
        }
        let running: &[u32] = if sender_up { &[0, 1] } else { &[0] };
        tb.end(3_000, running);
        for n in 0..2 {
            tb.final_view(n, true, &[0, 1], false);
        }
        run(&tb.build())
    };
    let v = verdict(false, false);
    assert_eq!(v.summary, "1 lost", "{v:#?}");
    let v = verdict(true, false);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::UnacknowledgedSenderGone], 1);
    let v = verdict(true, true);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.measured[Figure::LostUnacknowledged], 1);
}
