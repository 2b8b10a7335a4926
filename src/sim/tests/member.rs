//! Member tests over the instant network of `testnet.rs`.

use crate::core::event::Event;
use crate::core::ids::{MemberId, Peer, ServerId};
use crate::core::io::{Command, Input};
use crate::entropy::run_seeded;
use crate::scenario::Scenario;
use crate::sim::testnet::Instant;

fn send(net: &mut Instant, m: u32) {
    net.input(
        Peer::Member(MemberId(m)),
        Input::Command(Command::Send {
            reply: false,
            pick: 0,
        }),
    );
}

#[test]
fn messages_reach_every_member_once_over_real_olm() {
    run_seeded([1; 32], || {
        let mut net = Instant::new(3);
        send(&mut net, 0);
        send(&mut net, 1);
        net.run(5_000);
        for m in ["m0", "m1", "m2"] {
            let delivered = net.count(m, |e| matches!(e, Event::Delivered { .. }));
            assert_eq!(delivered, if m == "m2" { 2 } else { 1 }, "{m}");
        }
    });
}

#[test]
fn a_malformed_datagram_is_rejected_counted_and_nothing_is_lost() {
    run_seeded([2; 32], || {
        let mut net = Instant::new(3);
        send(&mut net, 0);
        net.run(2_000);
        let m1 = Peer::Member(MemberId(1));
        let before = net.world.members[&MemberId(1)].stats.delivered;
        for garbage in [vec![], vec![0xff; 40], b"\x05\x00not postcard".to_vec()] {
            net.input(
                m1,
                Input::Datagram {
                    from: Peer::Agent(crate::core::ids::AgentId(0)),
                    bytes: garbage,
                },
            );
        }
        // A datagram claiming to come from another member is refused too.
        net.input(
            m1,
            Input::Datagram {
                from: Peer::Member(MemberId(2)),
                bytes: vec![1, 2, 3],
            },
        );
        let member = &net.world.members[&MemberId(1)];
        assert_eq!(member.stats.rejected_datagrams, 4);
        assert_eq!(member.stats.delivered, before);
        assert_eq!(
            net.count("m1", |e| matches!(e, Event::DatagramRejected { .. })),
            4
        );
        // It keeps working: the next message still arrives.
        send(&mut net, 2);
        net.run(4_000);
        assert_eq!(net.world.members[&MemberId(1)].stats.delivered, before + 1);
    });
}

#[test]
fn a_removed_member_learns_it_and_stops_sending() {
    run_seeded([3; 32], || {
        let mut net = Instant::new(3);
        send(&mut net, 0);
        net.run(2_000);
        net.input(
            Peer::Member(MemberId(0)),
            Input::Command(Command::Remove(MemberId(2))),
        );
        net.run(4_000);
        assert!(!net.world.members[&MemberId(2)].in_group());
        send(&mut net, 2);
        assert_eq!(
            net.count("m2", |e| matches!(e, Event::CommandSkipped { .. })),
            1
        );
        assert_eq!(
            net.world.members[&MemberId(1)].view(),
            vec![MemberId(0), MemberId(1)]
        );
    });
}

/// The causal frontier is what a message names as its parents. It must
/// drop a message only once a later one names it (or when it is the
/// longest-standing head beyond the cap): dropping by smallest id made the
/// low-numbered senders' messages vanish from every frontier, so their
/// losses were never noticed or asked for again.
#[test]
fn the_frontier_keeps_a_head_until_something_names_it() {
    use crate::core::ids::MessageId;
    use crate::core::member::{Member, MemberConfig};
    let s = Scenario::minimal(3, 2);
    let world =
        crate::sim::setup::build_world(&s, 1, crate::core::member::membership::Variant::Lww);
    let cfg: MemberConfig = world.members[&MemberId(0)].test_cfg().clone();
    let mut m = Member::new(MemberId(0), cfg);
    let id = |sender, seq| MessageId {
        sender: MemberId(sender),
        seq,
    };
    m.test_mark_delivered(id(0, 0), &[]);
    for seq in 0..12 {
        let parents: Vec<MessageId> = (seq > 0).then(|| id(9, seq - 1)).into_iter().collect();
        m.test_mark_delivered(id(9, seq), &parents);
    }
    assert_eq!(m.test_heads(), [id(0, 0), id(9, 11)]);
    m.test_mark_delivered(id(1, 0), &[id(0, 0), id(9, 11)]);
    assert_eq!(m.test_heads(), [id(1, 0)]);
}

/// Drops the envelopes of `from` addressed to `to` that are still in the
/// network queue: as if `from` crashed before its mailbox deliveries to
/// `to` went out.
fn drop_envelopes(net: &mut Instant, from: u32, to: u32) {
    use crate::core::wire::Datagram;
    net.queue.retain(|(src, _, bytes)| {
        *src != Peer::Member(MemberId(from))
            || !matches!(Datagram::decode(bytes), Ok(Datagram::Deliver { envelope, .. }) if envelope.to == MemberId(to))
    });
}

fn delivered(net: &Instant, host: &str, msg: crate::core::ids::MessageId) -> usize {
    net.count(
        host,
        |e| matches!(e, Event::Delivered { msg: m } if *m == msg),
    )
}

fn forwarded(net: &Instant, by: &str, msg: crate::core::ids::MessageId, to: u32) -> usize {
    net.count(by, |e| {
        matches!(e, Event::EnvelopeSent { msg: m, to: t, .. } if *m == msg && *t == MemberId(to))
    })
}

/// The lightweight-member-restart seed-24 loss: m0's message reaches m1
/// only, then m0's device is gone for good. m1's next message names it, so
/// m2 waits for it; its author cannot answer any more, but m1, which
/// handed over the waiting message, holds it and serves it, signed by m0.
#[test]
fn a_parent_whose_author_is_gone_is_served_by_the_member_that_named_it() {
    use crate::core::ids::MessageId;
    run_seeded([4; 32], || {
        let mut net = Instant::new(3);
        for m in 0..3 {
            send(&mut net, m);
        }
        net.run(3_000);
        let id = |sender, seq| MessageId {
            sender: MemberId(sender),
            seq,
        };
        send(&mut net, 0);
        drop_envelopes(&mut net, 0, 2);
        net.world.members.remove(&MemberId(0));
        net.run(4_000);
        assert_eq!(delivered(&net, "m1", id(0, 1)), 1);
        assert_eq!(delivered(&net, "m2", id(0, 1)), 0);
        send(&mut net, 1);
        net.run(8_000);
        assert_eq!(delivered(&net, "m2", id(1, 1)), 0, "waits for its parent");
        net.run(20_000);
        assert_eq!(forwarded(&net, "m1", id(0, 1), 2), 1);
        assert_eq!(delivered(&net, "m2", id(0, 1)), 1);
        assert_eq!(delivered(&net, "m2", id(1, 1)), 1);
    });
}

/// A chain missed whole crosses in one answer: m0's five messages never
/// reach m2, and m0's device is gone. m1's next message names the last of
/// them; m2 asks once, and m1 answers with the whole chain m2 lacks (its
/// `have` says what it delivered), not one link per round trip (issue 21
/// (3), (4): a fork branch's 76 messages took 76 round trips).
#[test]
fn a_chain_missed_whole_is_backfilled_in_one_answer() {
    use crate::core::ids::MessageId;
    run_seeded([6; 32], || {
        let mut net = Instant::new(3);
        for m in 0..3 {
            send(&mut net, m);
        }
        net.run(3_000);
        let chain: Vec<MessageId> = (1..=5)
            .map(|seq| MessageId {
                sender: MemberId(0),
                seq,
            })
            .collect();
        for (i, _) in chain.iter().enumerate() {
            send(&mut net, 0);
            drop_envelopes(&mut net, 0, 2);
            net.run(3_500 + 100 * i as u64);
        }
        net.world.members.remove(&MemberId(0));
        net.run(5_000);
        assert!(chain.iter().all(|id| delivered(&net, "m1", *id) == 1));
        assert!(chain.iter().all(|id| delivered(&net, "m2", *id) == 0));
        send(&mut net, 1);
        net.run(30_000);
        for id in &chain {
            assert_eq!(delivered(&net, "m2", *id), 1, "{id}");
            assert_eq!(forwarded(&net, "m1", *id, 2), 1, "{id} sent once");
        }
        let asks = net.count("m2", |e| matches!(e, Event::ParentMissing { .. }));
        assert_eq!(asks, 1, "one wait, one answer");
    });
}

/// A member serves a held message only to one of its recipients: m2,
/// removed before m0's next message, asks m1 for it and gets nothing. And
/// a forwarded copy that its author did not sign is refused.
#[test]
fn a_held_message_goes_only_to_its_recipients_and_only_as_signed() {
    use crate::core::ids::MessageId;
    use std::collections::{BTreeMap, BTreeSet};
    run_seeded([5; 32], || {
        let mut net = Instant::new(3);
        send(&mut net, 0);
        net.run(2_000);
        net.input(
            Peer::Member(MemberId(0)),
            Input::Command(Command::Remove(MemberId(2))),
        );
        send(&mut net, 0);
        net.run(4_000);
        let first = MessageId {
            sender: MemberId(0),
            seq: 0,
        };
        let secret = MessageId {
            sender: MemberId(0),
            seq: 2,
        };
        assert_eq!(delivered(&net, "m1", secret), 1);
        let ask = |net: &mut Instant, want: MessageId| {
            let m2 = net.world.members.get_mut(&MemberId(2)).expect("m2");
            let mut fx = crate::core::io::Effects::default();
            let now = net.now;
            m2.test_ask_for(
                now,
                BTreeMap::from([(MemberId(1), BTreeSet::from([want]))]),
                &mut fx,
            );
            for e in fx.0 {
                if let crate::core::io::Effect::Send { to, bytes } = e {
                    net.queue.push_back((Peer::Member(MemberId(2)), to, bytes));
                }
            }
        };
        ask(&mut net, secret);
        net.run(6_000);
        assert_eq!(
            forwarded(&net, "m1", secret, 2),
            0,
            "m2 was not a recipient"
        );
        assert_eq!(delivered(&net, "m2", secret), 0);
        // m2 was a recipient of the first message: served (a duplicate).
        ask(&mut net, first);
        net.run(8_000);
        assert_eq!(forwarded(&net, "m1", first, 2), 1);
        assert_eq!(delivered(&net, "m2", first), 1, "once");
        // m1 alters its copy: m2 refuses what m0 did not sign.
        let m1 = net.world.members.get_mut(&MemberId(1)).expect("m1");
        m1.test_archive().get_mut(&first).expect("held").body = b"forged".to_vec();
        ask(&mut net, first);
        net.run(10_000);
        assert_eq!(forwarded(&net, "m1", first, 2), 2);
        assert_eq!(
            net.count("m2", |e| matches!(e, Event::DatagramRejected { error, .. } if error.contains("forwarded"))),
            1
        );
    });
}

/// The `coordinated-concurrent-commits` seed-14 loss: m0's update wins the
/// epoch; m1's update and then its message m1#0 are rejected for the stale
/// epoch before m1 has applied m0's commit, while m1#1 waits in m1's queue.
/// Once m1 has applied the commit, m1#0 must go first: queued behind m1#1,
/// it was ordered after its own child and m0 waited for it forever.
#[test]
fn a_message_rejected_for_a_stale_epoch_is_ordered_before_the_senders_later_ones() {
    use crate::core::ids::MessageId;
    run_seeded([6; 32], || {
        let mut net = Instant::coordinated(2);
        net.run(1_000);
        for m in [0, 1] {
            net.input(Peer::Member(MemberId(m)), Input::Command(Command::Update));
        }
        send(&mut net, 1);
        send(&mut net, 1);
        net.run(10_000);
        let stale = net.count("c0", |e| {
            matches!(e, Event::SubmitRejected { sender, reason } if *sender == MemberId(1) && matches!(reason, crate::core::server::sequencer::Rejection::StaleEpoch { .. }))
        });
        assert!(stale >= 2, "m1's commit and first message lose the epoch");
        let slot = |seq| {
            net.world
                .trace
                .records
                .iter()
                .find_map(|r| match r.event.host()? {
                    Event::SubmitAcked { msg, seq: slot, .. }
                        if *msg
                            == MessageId {
                                sender: MemberId(1),
                                seq,
                            } =>
                    {
                        Some(*slot)
                    }
                    _ => None,
                })
                .unwrap_or_else(|| panic!("m1#{seq} was never ordered"))
        };
        assert!(
            slot(0) < slot(1),
            "m1#0 in slot {}, m1#1 in {}",
            slot(0),
            slot(1)
        );
        for seq in 0..2 {
            let msg = MessageId {
                sender: MemberId(1),
                seq,
            };
            assert_eq!(delivered(&net, "m0", msg), 1, "{msg}");
        }
    });
}

/// Three members whose agents guarantee long-term addresses for 10 s and
/// ephemeral ones for 2 s, so that a short run outlives both.
fn short_lived_addresses() -> Instant {
    let mut s = Scenario::minimal(3, 2);
    s.protocol.long_term_ttl_ms = 10_000;
    s.protocol.ephemeral_ttl_ms = 2_000;
    s.protocol.rotate_every_ms = 1_000;
    Instant::of(s)
}

fn own_long_term(net: &Instant, m: u32) -> Vec<crate::core::wire::Grant> {
    net.world.members[&MemberId(m)]
        .test_own()
        .iter()
        .map(|a| a.long_term)
        .collect()
}

#[test]
fn a_member_renews_its_long_term_addresses_at_half_their_ttl() {
    run_seeded([7; 32], || {
        let mut net = short_lived_addresses();
        let set_up = own_long_term(&net, 0);
        net.run(4_900);
        assert_eq!(own_long_term(&net, 0), set_up, "not before half the TTL");
        net.run(5_500);
        let renewed = own_long_term(&net, 0);
        for (old, new) in set_up.iter().zip(&renewed) {
            assert!(new.address.token > old.address.token, "a new address");
            assert!(new.valid_until >= old.valid_until + 5_000, "{new:?}");
            assert!(net.now < old.valid_until, "before the old one expires");
        }
        // Three TTLs on, it still holds addresses guaranteed for a while.
        net.run(35_000);
        for g in own_long_term(&net, 0) {
            assert!(g.valid_until >= 35_000 + 5_000, "{g:?}");
        }
    });
}

/// Delivers everything in the network queue (and what it causes) at
/// once, returning the addresses `to`'s envelopes were delivered to.
fn deliveries_to(net: &mut Instant, to: u32) -> Vec<crate::core::wire::Address> {
    use crate::core::wire::Datagram;
    let mut addresses = Vec::new();
    while let Some((from, host, bytes)) = net.queue.pop_front() {
        if let Ok(Datagram::Deliver {
            address, envelope, ..
        }) = Datagram::decode(&bytes)
            && envelope.to == MemberId(to)
        {
            addresses.push(address);
        }
        net.input(host, Input::Datagram { from, bytes });
    }
    addresses
}

#[test]
fn a_sender_delivers_to_the_renewed_long_term_address_it_was_told_of() {
    run_seeded([8; 32], || {
        let mut net = short_lived_addresses();
        let set_up = own_long_term(&net, 0);
        net.run(6_000);
        // m0 announces its renewed addresses in its next message.
        send(&mut net, 0);
        net.run(7_000);
        let renewed = own_long_term(&net, 0);
        assert_ne!(renewed, set_up);
        let held = |net: &Instant| -> Vec<crate::core::wire::Grant> {
            net.world.members[&MemberId(1)].particle().others[&MemberId(0)]
                .agents
                .iter()
                .map(|a| a.long_term)
                .collect()
        };
        assert_eq!(held(&net), renewed);
        // m0 stays quiet until after its first addresses expired and the
        // ephemeral ones m1 knows for it did too; m1 uses what it was told.
        net.run(25_000);
        send(&mut net, 1);
        let used = deliveries_to(&mut net, 0);
        let expected: Vec<_> = renewed.iter().map(|g| g.address).collect();
        assert_eq!(used, expected);
        net.run(27_000);
        assert_eq!(
            net.count("m1", |e| matches!(
                e,
                Event::DeliveryRefused { .. } | Event::DeliveryAbandoned { .. }
            )),
            0
        );
        let msg = crate::core::ids::MessageId {
            sender: MemberId(1),
            seq: 0,
        };
        assert_eq!(delivered(&net, "m0", msg), 1);
    });
}

/// Every `lww` message carries its sender's whole set: a member's archive
/// shares one copy among the messages that carry the same set, rather than
/// holding messages × members entries (a 150-member fallback held 800 MB).
#[test]
fn archived_messages_share_the_set_they_carry() {
    run_seeded([9; 32], || {
        let mut net = Instant::new(3);
        for m in [0, 1, 0] {
            send(&mut net, m);
        }
        net.run(5_000);
        let m2 = net.world.members.get_mut(&MemberId(2)).expect("m2");
        let sets: Vec<_> = m2
            .test_archive()
            .values()
            .filter_map(|msg| msg.membership.clone())
            .collect();
        assert_eq!(sets.len(), 3, "{sets:?}");
        assert!(
            sets.windows(2)
                .all(|w| std::sync::Arc::ptr_eq(&w[0], &w[1])),
            "equal sets kept apart"
        );
    });
}

/// `coordinated-adversity` 76: a member whose agents both lost their store
/// registers again, and stays silent, so nobody hears its new addresses.
/// A sender refused at every address on its card looks the newest one up
/// at the refusing agent and delivers there, rather than abandoning.
#[test]
fn a_sender_refused_at_a_wiped_card_looks_the_address_up() {
    run_seeded([10; 32], || {
        let mut net = Instant::new(3);
        net.run(2_000);
        let agents: Vec<_> = net.world.agents.keys().copied().collect();
        for a in agents {
            let fresh = net.world.agents[&a].wiped();
            net.world.agents.insert(a, fresh);
        }
        // Every member fetches, is unknown, and registers again.
        net.run(4_000);
        let renewed = own_long_term(&net, 2);
        assert!(
            renewed.iter().all(|g| g.address.token >> 32 == 1),
            "{renewed:?}"
        );
        send(&mut net, 0);
        net.run(8_000);
        let msg = crate::core::ids::MessageId {
            sender: MemberId(0),
            seq: 0,
        };
        assert_eq!(delivered(&net, "m2", msg), 1);
        let looked_up = |e: &Event| matches!(e, Event::AddressLookedUp { member, .. } if *member == MemberId(2));
        assert_eq!(net.count("m0", looked_up), renewed.len());
        assert_eq!(
            net.count("m0", |e| matches!(e, Event::DeliveryAbandoned { .. })),
            0
        );
    });
}

/// A member that learns of a fallback from a peer's message does not tell
/// everyone again: the peer did. When every member passed it on, a
/// fallback cost members squared pairwise sessions (33,000 in five seconds
/// in a 150-member group, most of the run's memory).
#[test]
fn a_member_told_of_a_fallback_does_not_tell_everyone_again() {
    run_seeded([11; 32], || {
        let mut net = Instant::coordinated(6);
        net.run(2_000);
        net.down.insert(Peer::Server(crate::core::ids::ServerId(0)));
        let sent_before = net.count_all(|e| matches!(e, Event::MessageSent { .. }));
        send(&mut net, 0);
        net.run(20_000);
        let fell = net.count_all(|e| matches!(e, Event::FellBack { .. }));
        assert_eq!(fell, 6, "every member falls back");
        // m0's chat message, and its announcement of the fallback.
        let sent = net.count_all(|e| matches!(e, Event::MessageSent { .. })) - sent_before;
        assert_eq!(sent, 2, "only the member that noticed tells everyone");
    });
}

/// A member cut off from the server while the others are not falls back
/// alone: the others ask the server before following its notice, hear it
/// still serves them, and say so; the member neither takes the group over
/// nor stays out, but returns once the server answers it (issue 21 (7)).
#[test]
fn a_member_cut_off_from_the_server_alone_returns_instead_of_taking_over() {
    run_seeded([12; 32], || {
        let mut net = Instant::coordinated_with(4, 2);
        net.run(2_000);
        let (m3, c0) = (Peer::Member(MemberId(3)), Peer::Server(ServerId(0)));
        net.cut.insert((m3, c0));
        send(&mut net, 3);
        net.run(15_000);
        let fell = |net: &Instant| net.count_all(|e| matches!(e, Event::FellBack { .. }));
        assert_eq!(
            fell(&net),
            1,
            "only the member that lost the server falls back"
        );
        assert_eq!(net.count("m3", |e| matches!(e, Event::FellBack { .. })), 1);
        assert_eq!(
            net.count_all(|e| matches!(e, Event::Nominating { .. })),
            0,
            "nobody takes the group off a server that serves it"
        );
        let joined = |net: &Instant| net.count("m3", |e| matches!(e, Event::Joined { .. }));
        let before = joined(&net);
        net.cut.clear();
        net.run(20_000);
        assert_eq!(
            joined(&net),
            before + 1,
            "m3 returns to generation 1 once c0 answers it"
        );
        assert_eq!(fell(&net), 1);
        // Back in the order, its next message is submitted, not sealed.
        send(&mut net, 3);
        net.run(22_000);
        assert!(net.count("m3", |e| matches!(e, Event::SubmitAcked { .. })) > 0);
    });
}
