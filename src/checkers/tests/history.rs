use super::*;
use crate::checkers::testkit::*;
use crate::trace::HostEvent;

#[test]
fn causal_past_follows_parents_transitively_and_own_earlier_messages() {
    let t = Tb::start(&[0, 1, 2])
        .send(10, id(0, 0), &[0, 1, 2], &[])
        .send(20, id(1, 0), &[0, 1, 2], &[id(0, 0)])
        .send(30, id(1, 1), &[0, 1, 2], &[])
        .send(40, id(2, 0), &[0, 1, 2], &[id(1, 1)])
        .send(50, id(0, 1), &[0, 1, 2], &[])
        .build();
    let h = History::from_trace(&t);
    let past = h.delivery.causal_past(id(2, 0));
    // m1#1 names no parent, but follows m1#0, which follows m0#0.
    assert_eq!(
        past.set,
        BTreeSet::from([id(1, 1), id(1, 0), id(0, 0)]),
        "{past:?}"
    );
    assert!(past.incomplete.is_empty());
    // m0#1 follows its sender's m0#0 only.
    assert_eq!(
        h.delivery.causal_past(id(0, 1)).set,
        BTreeSet::from([id(0, 0)])
    );
    assert!(!h.delivery.causal_past(id(0, 1)).set.contains(&id(2, 0)));
}

#[test]
fn causal_past_marks_messages_it_could_not_follow() {
    let t = Tb::start(&[0, 1])
        .send(10, id(1, 0), &[0, 1], &[id(0, 7)])
        .build();
    let h = History::from_trace(&t);
    let past = h.delivery.causal_past(id(1, 0));
    assert_eq!(past.incomplete, BTreeSet::from([id(0, 7)]));
    // A parent cycle in an odd trace terminates and excludes the message.
    let t = Tb::start(&[0])
        .send(10, id(0, 0), &[0], &[id(0, 1)])
        .send(20, id(0, 1), &[0], &[id(0, 0)])
        .build();
    let past = History::from_trace(&t).delivery.causal_past(id(0, 1));
    assert_eq!(past.set, BTreeSet::from([id(0, 0)]));
}

#[test]
fn reachable_needs_running_and_kept_state() {
    let t = Tb::start(&[0, 1, 2, 3])
        .end(100, &[0, 1, 3])
        .final_view(0, true, &[0, 1], false)
        .final_view(1, true, &[0, 1], true)
        .final_view(2, true, &[0, 1], false)
        .build();
    let h = History::from_trace(&t);
    assert!(h.run.reachable(m(0)));
    assert!(!h.run.reachable(m(1)), "state lost");
    assert!(!h.run.reachable(m(2)), "not running");
    assert!(!h.run.reachable(m(3)), "no final view");
    assert_eq!(
        h.run.considered().keys().copied().collect::<Vec<_>>(),
        [m(0)]
    );
}

#[test]
fn agreement_tells_islands_from_divergence() {
    let views = |vs: &[(u32, &[u32])]| {
        let mut tb = Tb::start(&[0, 1, 2, 3]);
        tb.end(100, &[0, 1, 2, 3]);
        for (n, v) in vs {
            tb.final_view(*n, true, v, false);
        }
        History::from_trace(&tb.build()).run.agreement()
    };
    assert!(matches!(
        views(&[(0, &[0, 1]), (1, &[0, 1])]),
        Agreement::Agreed(_)
    ));
    match views(&[(0, &[0, 1]), (1, &[0, 1]), (2, &[2, 3]), (3, &[2, 3])]) {
        Agreement::Islands(gs) => assert_eq!(gs.len(), 2),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        views(&[(0, &[0, 1, 2]), (2, &[1, 2])]),
        Agreement::Diverged(_)
    ));
    assert_eq!(views(&[]), Agreement::Nobody);
}

#[test]
fn acks_take_the_earliest_envelope_and_odd_hosts_are_noted() {
    let mut tb = Tb::start(&[0, 1]);
    tb.send(10, id(0, 0), &[0, 1], &[])
        .envelope(20, id(0, 0), 1, true)
        .envelope(15, id(0, 0), 1, true)
        .envelope(30, id(0, 0), 1, false)
        .at(
            40,
            "sim",
            Event::Host(HostEvent::Delivered { msg: id(0, 0) }),
        )
        // A message "sent" by someone other than its sender.
        .send(50, id(0, 1), &[0, 1], &[]);
    tb.trace.records.last_mut().unwrap().host = "m1".parse().unwrap();
    let h = History::from_trace(&tb.build());
    assert_eq!(h.acked_pairs().get(&(id(0, 0), m(1))), Some(&16));
    assert!(h.delivery.deliveries.is_empty());
    assert!(!h.delivery.sent.contains_key(&id(0, 1)));
    assert_eq!(h.oddities.len(), 2, "{:?}", h.oddities);
}

/// m0#1 reached m1's mailbox at 21 ms, but m0#0 before it only at 41:
/// m0#1 is acknowledged for m1 from 41 ms. Had m0#0 never been taken, m0#1
/// would not be acknowledged at all, unless m0#0 reached m1 another way.
#[test]
fn a_message_is_acknowledged_only_with_its_senders_earlier_ones() {
    let two = |first: Option<Millis>, delivered: bool| {
        let mut tb = Tb::start(&[0, 1]);
        tb.send(10, id(0, 0), &[0, 1], &[])
            .send(20, id(0, 1), &[0, 1], &[id(0, 0)])
            .envelope(20, id(0, 1), 1, true);
        match first {
            Some(t) => tb.envelope(t, id(0, 0), 1, true),
            None => tb.envelope(10, id(0, 0), 1, false),
        };
        if delivered {
            tb.deliver(60, 1, id(0, 0));
        }
        History::from_trace(&tb.build()).acked_pairs()
    };
    let acked = two(Some(40), false);
    assert_eq!(acked.get(&(id(0, 0), m(1))), Some(&41));
    assert_eq!(acked.get(&(id(0, 1), m(1))), Some(&41));
    assert_eq!(two(None, false).get(&(id(0, 1), m(1))), None);
    assert_eq!(two(None, true).get(&(id(0, 1), m(1))), Some(&60));
}
