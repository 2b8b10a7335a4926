use super::*;
use crate::checkers::history::History;
use crate::checkers::testkit::*;
use crate::trace::{Event, Trace};

fn run(t: &Trace) -> Verdict {
    check(&History::from_trace(t))
}

#[test]
fn a_healthy_run_passes() {
    let v = run(&healthy());
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured["messages"], 4);
    assert_eq!(v.measured["acknowledged_pairs"], 8);
    assert_eq!(v.measured["delivered_pairs"], 8);
    assert_eq!(v.measured["lost"], 0);
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
fn gaps_at_unreachable_or_unacknowledged_recipients_are_counted_not_failed() {
    let t = Tb::start(&[0, 1, 2, 3])
        .send(100, id(0, 0), &[0, 1, 2, 3], &[])
        .envelope(100, id(0, 0), 1, true) // m1 is down at the end
        .envelope(100, id(0, 0), 2, true) // m2 lost its state
        .envelope(100, id(0, 0), 3, false) // never acknowledged
        .end(3_000, &[0, 2, 3])
        .final_view(0, true, &[0, 1, 2, 3], false)
        .final_view(1, true, &[0, 1, 2, 3], false)
        .final_view(2, true, &[0, 1, 2, 3], true)
        .final_view(3, true, &[0, 1, 2, 3], false)
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured["acknowledged_to_unreachable"], 2);
    assert_eq!(v.measured["unacknowledged_pairs"], 1);
    assert_eq!(v.measured["lost"], 0);
    assert!(mentions_member(&v, m(1)) && mentions_member(&v, m(2)));
}

#[test]
fn a_second_delivery_is_a_duplicate() {
    let mut tb = Tb::start(&[0, 1]);
    tb.exchange(100, id(0, 0), &[0, 1], &[])
        .deliver(500, 1, id(0, 0));
    let v = run(&tb.end_agreed(&[0, 1], &[0, 1]).build());
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.measured["duplicates"], 1);
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
    assert_eq!(v.measured["causal_violations"], 1);
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
    assert_eq!(v.measured["causal_violations"], 0);
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
    assert_eq!(v.measured["control_messages"], 1);
}

#[test]
fn parent_missing_is_reported() {
    let t = Tb::start(&[0, 1])
        .send(100, id(0, 0), &[0, 1], &[])
        .parent_missing(150, 1, id(0, 1), &[id(0, 0)])
        .end_agreed(&[0, 1], &[0, 1])
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured["parent_missing"], 1);
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
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.send(10, id(0, 0), &[0, 1, 2], &[]);
    let members = server_members.iter().map(|n| m(*n)).collect();
    tb.at(
        11,
        "c0",
        Event::Ordered {
            group: 1,
            generation: 1,
            seq: 0,
            epoch: 1,
            sender: m(0),
            commit: false,
            members,
        },
    );
    tb.at(
        12,
        "m0",
        Event::SubmitAcked {
            msg: id(0, 0),
            server: crate::core::ids::ServerId(0),
            generation: 1,
            seq: 0,
        },
    );
    tb.deliver(20, 1, id(0, 0));
    if delivered_at_m2 {
        tb.deliver(20, 2, id(0, 0));
    }
    tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
    History::from_trace(&tb.build())
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
