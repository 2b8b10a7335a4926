//! Total order: in a coordinated group every member delivers the messages
//! its server agent ordered in the order the server assigned.
//!
//! A member may deliver fewer (it joined later, or was removed), never a
//! different order: two members that both delivered messages a and b
//! deliver them the same way round. Checked per member as "sequence numbers
//! strictly increase", which implies it.
//!
//! Only deliveries while the member follows the order count: once it fell
//! back from a generation, what it delivers of that generation came over
//! the pairwise channels of the lightweight group, in causal order only
//! (the delivery checker's part). The same holds before it joined the
//! generation: what it had of it by then came over the pairwise channels.
//!
//! Nor is a member held to the order of slots the server did not order for
//! it: a member a commit removed may still be sent, over the pairwise
//! channels, a message its sender wrote before it heard of the removal
//! (and resent at a fallback), which the server ordered after the removal
//! for the others only (`coordinated-adversity` 783).
//!
//! A receipt is the server's word, not its order: a server that drops a
//! member's message (the `drop` lie) receipts it for a slot it then fills
//! with the next honest message, so two messages hold a receipt for one
//! slot. Only the one the server served there is in its order; the dropped
//! one reaches members over the pairwise channels once the lie is caught,
//! in causal order only (the delivery checker's part).

use super::Figure;
use super::history::History;
use super::{Evidence, Status, Verdict, measured};
use crate::trace::CheckId;

pub const NAME: CheckId = CheckId::TotalOrder;

pub fn check(h: &History) -> Verdict {
    if h.run.start.is_none() {
        return Verdict::bare(NAME, Status::Unknown, "trace has no run_started");
    }
    if h.servers.slots.is_empty() {
        return Verdict::new(
            NAME,
            Status::Pass,
            "no server-ordered messages (a lightweight group)".into(),
            vec![],
            measured([(Figure::Ordered, 0)]),
        );
    }
    let mut evidence = Vec::new();
    let (mut checked, mut after_fallback, mut before_join) = (0u64, 0u64, 0u64);
    let mut not_for_member = 0u64;
    let dropped = h.dropped_receipts();
    let mut not_served = 0u64;
    let fell_from = h.servers.fell_from();
    // Where each member first joined each generation, in trace order.
    let mut joined_at = std::collections::BTreeMap::new();
    for s in &h.coord.switches {
        if let Some(j) = s.what {
            joined_at
                .entry((s.host, (j.generation, j.server)))
                .or_insert(s.idx);
        }
    }
    for (member, deliveries) in &h.delivery.deliveries {
        let mut last = std::collections::BTreeMap::new();
        let fell = fell_from.get(member).map(Vec::as_slice).unwrap_or_default();
        for d in deliveries {
            // Judged for the members of the slot's generation: another
            // member may have had it by backfill, in causal order only.
            let Some(slot) = h.servers.slots.get(&d.what).filter(|s| {
                h.servers.joined.is_empty()
                    || h.servers
                        .joined
                        .get(member)
                        .is_some_and(|j| j.contains(&s.stream()))
            }) else {
                continue;
            };
            if dropped.contains(&d.what) {
                not_served += 1;
                continue;
            }
            if h.servers
                .ordered_for
                .get(slot)
                .is_some_and(|members| !members.contains(member))
            {
                not_for_member += 1;
                continue;
            }
            if fell
                .iter()
                .any(|(idx, g)| *idx < d.idx && *g == slot.generation)
            {
                after_fallback += 1;
                continue;
            }
            if joined_at
                .get(&(*member, slot.stream()))
                .is_some_and(|idx| d.idx < *idx)
            {
                before_join += 1;
                continue;
            }
            checked += 1;
            let (seq, (generation, server)) = (slot.seq, slot.stream());
            if let Some((prev_seq, prev)) =
                last.get(&slot.stream()).copied().filter(|(s, _)| *s >= seq)
            {
                evidence.push(
                    Evidence::note(format!(
                        "{member} delivered {} (seq {seq}) after {prev} (seq {prev_seq}), generation {generation} at {server}",
                        d.what
                    ))
                    .members([*member])
                    .messages([prev, d.what])
                    .at(d.t),
                );
            }
            last.insert(slot.stream(), (seq, d.what));
        }
    }
    let m = measured([
        (Figure::Ordered, h.servers.slots.len() as u64),
        (Figure::DeliveriesChecked, checked),
        (Figure::AfterFallback, after_fallback),
        (Figure::BeforeJoin, before_join),
        (Figure::NotOrderedForMember, not_for_member),
        (Figure::DroppedReceipts, dropped.len() as u64),
        (Figure::NotServed, not_served),
        (Figure::OutOfOrder, evidence.len() as u64),
    ]);
    if evidence.is_empty() {
        Verdict::new(
            NAME,
            Status::Pass,
            format!(
                "{checked} deliveries of {} ordered messages all follow the server's order",
                h.servers.slots.len()
            ),
            evidence,
            m,
        )
    } else {
        Verdict::new(
            NAME,
            Status::Fail,
            format!("{} deliveries break the server's order", evidence.len()),
            evidence,
            m,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testkit::*;
    use crate::core::server::dishonest::Mode;
    use crate::trace::Event;
    use crate::trace::HostEvent;

    fn ordered(tb: &mut Tb, t: u64, msg: crate::core::ids::MessageId, seq: u64) {
        tb.at(
            t,
            &format!("m{}", msg.sender.0),
            Event::Host(HostEvent::SubmitAcked {
                msg,
                server: crate::core::ids::ServerId(0),
                generation: 1,
                seq,
            }),
        );
    }

    fn history(swap_at_m2: bool) -> History {
        let mut tb = Tb::start(&[0, 1, 2]);
        tb.send(10, id(0, 0), &[0, 1, 2], &[]);
        ordered(&mut tb, 11, id(0, 0), 0);
        tb.send(12, id(1, 0), &[0, 1, 2], &[]);
        ordered(&mut tb, 13, id(1, 0), 1);
        tb.deliver(20, 1, id(0, 0)).deliver(21, 0, id(1, 0));
        if swap_at_m2 {
            tb.deliver(22, 2, id(1, 0)).deliver(23, 2, id(0, 0));
        } else {
            tb.deliver(22, 2, id(0, 0)).deliver(23, 2, id(1, 0));
        }
        History::from_trace(&tb.build())
    }

    #[test]
    fn passes_in_the_servers_order() {
        let v = check(&history(false));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::DeliveriesChecked], 4);
    }

    #[test]
    fn fails_when_a_member_delivers_out_of_order() {
        let v = check(&history(true));
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        assert!(
            mentions_member(&v, m(2)) && mentions_message(&v, id(0, 0)),
            "{v:#?}"
        );
    }

    /// Sequence numbers start again in each generation, and only the
    /// members of a generation are held to its order.
    #[test]
    fn each_generation_is_its_own_order_for_its_own_members() {
        use crate::core::ids::ServerId;
        let mut tb = Tb::start(&[0, 1, 2]);
        let joined = |tb: &mut Tb, m: u32, generation, server| {
            tb.at(
                5,
                &format!("m{m}"),
                Event::Host(HostEvent::Joined {
                    generation,
                    server: ServerId(server),
                    nominator: crate::core::ids::MemberId(0),
                    epoch: 1,
                }),
            );
        };
        joined(&mut tb, 1, 1, 0);
        joined(&mut tb, 1, 2, 1);
        joined(&mut tb, 2, 1, 0);
        tb.send(10, id(0, 0), &[0, 1, 2], &[]);
        ordered(&mut tb, 11, id(0, 0), 5);
        for seq in 0..2 {
            tb.send(12, id(0, 1 + seq as u32), &[0, 1, 2], &[]);
            tb.at(
                13,
                "m0",
                Event::Host(HostEvent::SubmitAcked {
                    msg: id(0, 1 + seq as u32),
                    server: ServerId(1),
                    generation: 2,
                    seq,
                }),
            );
        }
        // m1 follows generation 1 then 2; m2 never joined generation 2 and
        // had its messages some other way, in another order.
        tb.deliver(20, 1, id(0, 0))
            .deliver(21, 1, id(0, 1))
            .deliver(21, 1, id(0, 2));
        tb.deliver(22, 2, id(0, 2))
            .deliver(23, 2, id(0, 1))
            .deliver(23, 2, id(0, 0));
        let v = check(&History::from_trace(&tb.build()));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::DeliveriesChecked], 4);
    }

    #[test]
    fn what_a_member_delivers_after_falling_back_is_not_held_to_the_order() {
        let mut tb = Tb::start(&[0, 1, 2]);
        tb.send(10, id(0, 0), &[0, 1, 2], &[]);
        ordered(&mut tb, 11, id(0, 0), 0);
        tb.send(12, id(1, 0), &[0, 1, 2], &[]);
        ordered(&mut tb, 13, id(1, 0), 1);
        tb.at(
            15,
            "m2",
            Event::Host(HostEvent::FellBack {
                cause: crate::core::event::FallbackCause::NoReceipt,
                reason: "test".into(),
                liar: None,
            }),
        );
        tb.deliver(22, 2, id(1, 0)).deliver(23, 2, id(0, 0));
        let v = check(&History::from_trace(&tb.build()));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::AfterFallback], 2);
        // Back in a later generation, its deliveries of that one count.
        let mut tb2 = tb;
        tb2.at(
            30,
            "m2",
            Event::Host(HostEvent::Joined {
                generation: 2,
                server: crate::core::ids::ServerId(1),
                nominator: m(0),
                epoch: 1,
            }),
        );
        for (seq, n) in [(1, 1), (0, 2)] {
            let msg = id(0, n);
            tb2.send(40, msg, &[0, 1, 2], &[]);
            tb2.at(
                41,
                "m0",
                Event::Host(HostEvent::SubmitAcked {
                    msg,
                    server: crate::core::ids::ServerId(1),
                    generation: 2,
                    seq,
                }),
            );
            tb2.deliver(50, 2, msg);
        }
        let v = check(&History::from_trace(&tb2.build()));
        assert_eq!(v.status, Status::Fail, "{v:#?}");
    }

    /// `coordinated-adversity` 783: m2, removed at slot 2, was sent two
    /// messages pairwise that the server ordered after the removal, for
    /// the others only; it delivered them the other way round. The old
    /// checker held it to the order of slots that were never its own.
    #[test]
    fn slots_ordered_for_others_do_not_bind_a_removed_member() {
        let history = |removed: bool| {
            let mut tb = Tb::start(&[0, 1, 2]);
            for n in 0..3 {
                tb.joined(5, n, 1, 0, 0);
            }
            let members: &[u32] = if removed { &[0, 1] } else { &[0, 1, 2] };
            for (n, sender) in [(3u64, 0u32), (4, 1)] {
                tb.send(10, id(sender, 0), &[0, 1, 2], &[]);
                ordered(&mut tb, 11, id(sender, 0), n);
                tb.ordered(11, 0, 1, n, 2, sender, false, members);
            }
            tb.deliver(22, 2, id(1, 0)).deliver(23, 2, id(0, 0));
            History::from_trace(&tb.build())
        };
        let v = check(&history(true));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::NotOrderedForMember], 2);
        assert_eq!(check(&history(false)).status, Status::Fail);
    }

    /// The old checker held a member to a generation's order for what it
    /// delivered in lightweight mode, over the pairwise channels, before
    /// it joined that generation (an upgrade it joined late).
    #[test]
    fn what_a_member_delivers_before_joining_is_not_held_to_the_order() {
        let mut tb = Tb::start(&[0, 1, 2]);
        tb.joined(5, 0, 1, 0, 0).joined(5, 1, 1, 0, 0);
        tb.send(10, id(0, 0), &[0, 1, 2], &[]);
        ordered(&mut tb, 11, id(0, 0), 0);
        tb.send(12, id(1, 0), &[0, 1, 2], &[]);
        ordered(&mut tb, 13, id(1, 0), 1);
        tb.deliver(20, 0, id(1, 0)).deliver(20, 1, id(0, 0));
        // m2 had both by backfill, the other way round, then joined.
        tb.deliver(22, 2, id(1, 0)).deliver(23, 2, id(0, 0));
        tb.joined(30, 2, 1, 0, 0);
        let v = check(&History::from_trace(&tb.build()));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::BeforeJoin], 2);
        // Delivered after joining, the same swap is a failure.
        let mut tb = Tb::start(&[0, 1, 2]);
        for n in 0..3 {
            tb.joined(5, n, 1, 0, 0);
        }
        tb.send(10, id(0, 0), &[0, 1, 2], &[]);
        ordered(&mut tb, 11, id(0, 0), 0);
        tb.send(12, id(1, 0), &[0, 1, 2], &[]);
        ordered(&mut tb, 13, id(1, 0), 1);
        tb.deliver(22, 2, id(1, 0)).deliver(23, 2, id(0, 0));
        let v = check(&History::from_trace(&tb.build()));
        assert_eq!(v.status, Status::Fail, "{v:#?}");
    }

    /// c0 lies to m0 in `drop` mode about `seq` of generation 1, at 9 ms.
    fn dropped_for_m0(tb: &mut Tb, seq: u64) {
        let lie = HostEvent::Lied {
            mode: Mode::Drop,
            to: vec![m(0)],
            generation: 1,
            seq,
        };
        tb.at(9, "c0", Event::Host(lie));
    }

    /// A dropping server receipted m0#0 for slot 0, served nobody, and
    /// gave slot 0 to m0#1. m1 had m0#0 over the pairwise channels once the
    /// lie was caught, then m0#1: the old checker read two receipts for
    /// one slot as m0#1 delivered after a message of the same slot.
    #[test]
    fn a_dropped_messages_receipt_is_not_the_servers_order() {
        let history = |lie: bool| {
            let mut tb = Tb::start(&[0, 1]);
            if lie {
                dropped_for_m0(&mut tb, 0);
            }
            tb.send(8, id(0, 0), &[0, 1], &[]);
            ordered(&mut tb, 10, id(0, 0), 0);
            tb.send(12, id(0, 1), &[0, 1], &[id(0, 0)]);
            ordered(&mut tb, 13, id(0, 1), 0);
            tb.deliver(20, 1, id(0, 0)).deliver(21, 1, id(0, 1));
            History::from_trace(&tb.build())
        };
        let v = check(&history(true));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::DroppedReceipts], 1);
        assert_eq!(v.measured[Figure::NotServed], 1);
        // Without a lie, two messages delivered under one slot still fail.
        let v = check(&history(false));
        assert_eq!(v.status, Status::Fail, "{v:#?}");
    }

    /// A slot the server dropped and never filled (a silent group gives
    /// it no next message) holds nothing of its order, once the trace
    /// records what the server ordered.
    #[test]
    fn a_dropped_slot_never_filled_holds_nothing() {
        let mut tb = Tb::start(&[0, 1]);
        tb.send(5, id(1, 0), &[0, 1], &[]);
        ordered(&mut tb, 6, id(1, 0), 0);
        tb.ordered(6, 0, 1, 0, 1, 1, false, &[0, 1]);
        dropped_for_m0(&mut tb, 1);
        tb.send(8, id(0, 0), &[0, 1], &[]);
        ordered(&mut tb, 10, id(0, 0), 1);
        let h = History::from_trace(&tb.build());
        assert_eq!(
            h.dropped_receipts(),
            std::collections::BTreeSet::from([id(0, 0)])
        );
        assert!(!h.acked_pairs().contains_key(&(id(0, 0), m(1))));
        assert!(h.acked_pairs().contains_key(&(id(1, 0), m(0))));
    }

    #[test]
    fn lightweight_runs_have_nothing_to_order() {
        assert_eq!(check(&History::from_trace(&healthy())).status, Status::Pass);
        assert_eq!(check(&History::default()).status, Status::Unknown);
    }
}
