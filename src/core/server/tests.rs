//! The server agent with a real mailbox agent and real MLS payloads.

use super::sequencer::{Kind, Rejection};
use super::{ServerAgent, ServerConfig};
use crate::core::ids::{AgentId, MemberId, Peer, ServerId};
use crate::core::io::{Effect, Effects, FaultCommand, Input};
use crate::core::mailbox::{MailboxAgent, MailboxConfig};
use crate::core::member::message::MARKER;
use crate::core::mls::MlsClient;
use crate::core::wire::{Datagram, Stored, Submission};
use crate::entropy::run_seeded;
use std::collections::BTreeMap;

fn sends(fx: Effects) -> Vec<(Peer, Datagram)> {
    fx.0.into_iter()
        .filter_map(|e| match e {
            Effect::Send { to, bytes } => {
                Some((to, Datagram::decode(&bytes).expect("well-formed")))
            }
            _ => None,
        })
        .collect()
}

struct Setup {
    server: ServerAgent,
    mailbox: MailboxAgent,
}

fn setup() -> Setup {
    let mut mailbox = MailboxAgent::new(
        AgentId(0),
        MailboxConfig {
            ephemeral_ttl_ms: 10_000,
            long_term_ttl_ms: 1_000_000,
            max_batch: 32,
        },
        0,
    );
    let mut server = ServerAgent::new(
        ServerId(0),
        ServerConfig {
            retry_ms: 500,
            max_attempts: 3,
        },
    );
    let mailboxes: BTreeMap<MemberId, _> = (0..3)
        .map(|m| {
            (
                MemberId(m),
                vec![mailbox.register(MemberId(m), 0).0.address],
            )
        })
        .collect();
    server.serve(1, 1, 0, mailboxes);
    Setup { server, mailbox }
}

fn submit(
    server: &mut ServerAgent,
    now: u64,
    from: u32,
    kind: Kind,
    epoch: u64,
    payload: Vec<u8>,
) -> Vec<(Peer, Datagram)> {
    let submission = Submission {
        group: 1,
        generation: 1,
        epoch,
        kind,
        payload,
        members_after: None,
        joiners: Vec::new(),
    };
    let d = Datagram::Submit { req: 7, submission };
    sends(server.handle(
        now,
        Input::Datagram {
            from: Peer::Member(MemberId(from)),
            bytes: d.encode(),
        },
    ))
}

#[test]
fn orders_signs_and_fans_out_to_every_mailbox_which_stores_it_once() {
    run_seeded([1; 32], || {
        let Setup {
            mut server,
            mut mailbox,
        } = setup();
        let mut alice = MlsClient::new(b"m0", [3; 32]).unwrap();
        alice.create_group(b"g").unwrap();
        let ciphertext = alice.encrypt(b"commsim-plaintext-marker: hi").unwrap();
        let out = submit(&mut server, 10, 0, Kind::Message, 0, ciphertext);
        let (to, Datagram::Receipted { req: 7, receipt }) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(*to, Peer::Member(MemberId(0)));
        assert!(receipt.verify(&server.public_key()));
        let deliveries: Vec<_> = out[1..].to_vec();
        assert_eq!(deliveries.len(), 3, "one per member mailbox");
        for (to, d) in &deliveries {
            assert_eq!(*to, Peer::Agent(AgentId(0)));
            // Delivered twice (a retransmission): stored once, acknowledged twice.
            for _ in 0..2 {
                let acks = sends(mailbox.handle(
                    20,
                    Input::Datagram {
                        from: Peer::Server(ServerId(0)),
                        bytes: d.encode(),
                    },
                ));
                assert!(matches!(acks[0].1, Datagram::Accepted { .. }));
                server.handle(
                    30,
                    Input::Datagram {
                        from: Peer::Agent(AgentId(0)),
                        bytes: acks[0].1.encode(),
                    },
                );
            }
        }
        // Every fan-out acknowledged: nothing left to retry.
        assert!(sends(server.handle(10_000, Input::Wake)).is_empty());
        let fetched = sends(
            mailbox.handle(
                40,
                Input::Datagram {
                    from: Peer::Member(MemberId(1)),
                    bytes: Datagram::Fetch {
                        member: MemberId(1),
                        after: 0,
                    }
                    .encode(),
                },
            ),
        );
        let Datagram::Batch { items, .. } = &fetched[0].1 else {
            panic!()
        };
        assert_eq!(items.len(), 1);
        assert!(
            matches!(&items[0].1, Stored::Ordered { to: MemberId(1), item } if item.receipt == *receipt)
        );
        // The server held only ciphertext.
        assert!(
            server
                .stored_payloads()
                .all(|p| !p.windows(MARKER.len()).any(|w| w == MARKER))
        );
    });
}

#[test]
fn a_commit_on_an_old_epoch_is_rejected_with_the_current_one() {
    run_seeded([2; 32], || {
        let Setup { mut server, .. } = setup();
        submit(&mut server, 0, 0, Kind::Commit, 0, b"commit a".to_vec());
        let out = submit(&mut server, 0, 1, Kind::Commit, 0, b"commit b".to_vec());
        assert_eq!(out.len(), 1, "a rejection fans nothing out");
        assert!(matches!(
            &out[0].1,
            Datagram::SubmitRejected {
                rejection: Rejection::StaleEpoch {
                    submitted: 0,
                    current: 1
                },
                ..
            }
        ));
    });
}

#[test]
fn a_refusing_server_says_so_and_resumes() {
    run_seeded([3; 32], || {
        let Setup { mut server, .. } = setup();
        server.handle(0, Input::Fault(FaultCommand::RefuseService(true)));
        let out = submit(&mut server, 0, 0, Kind::Message, 0, b"x".to_vec());
        assert!(matches!(
            &out[0].1,
            Datagram::SubmitRejected {
                rejection: Rejection::Refused,
                ..
            }
        ));
        server.handle(0, Input::Fault(FaultCommand::RefuseService(false)));
        let out = submit(&mut server, 0, 0, Kind::Message, 0, b"x".to_vec());
        assert!(matches!(&out[0].1, Datagram::Receipted { .. }));
    });
}

#[test]
fn unacknowledged_fan_out_is_retried_then_abandoned() {
    run_seeded([4; 32], || {
        let Setup { mut server, .. } = setup();
        submit(&mut server, 0, 0, Kind::Message, 0, b"x".to_vec());
        assert_eq!(sends(server.handle(500, Input::Wake)).len(), 3);
        assert_eq!(sends(server.handle(1_500, Input::Wake)).len(), 3);
        assert!(sends(server.handle(10_000, Input::Wake)).is_empty());
        assert_eq!(server.stats.fanout_abandoned, 3);
    });
}

#[test]
fn malformed_datagrams_are_counted_and_the_order_continues() {
    run_seeded([5; 32], || {
        let Setup { mut server, .. } = setup();
        submit(&mut server, 0, 0, Kind::Message, 0, b"x".to_vec());
        for junk in [
            vec![],
            vec![0xff; 9],
            Datagram::Fetch {
                member: MemberId(0),
                after: 0,
            }
            .encode(),
        ] {
            server.handle(
                1,
                Input::Datagram {
                    from: Peer::Member(MemberId(0)),
                    bytes: junk,
                },
            );
        }
        assert_eq!(server.stats.rejected_datagrams, 3);
        let out = submit(&mut server, 2, 1, Kind::Message, 0, b"y".to_vec());
        let Datagram::Receipted { receipt, .. } = &out[0].1 else {
            panic!()
        };
        assert_eq!(receipt.seq, 1);
    });
}

#[test]
fn a_retried_submission_gets_its_first_receipt_and_no_second_slot() {
    run_seeded([6; 32], || {
        let Setup { mut server, .. } = setup();
        let first = submit(&mut server, 0, 0, Kind::Message, 0, b"once".to_vec());
        let again = submit(&mut server, 900, 0, Kind::Message, 0, b"once".to_vec());
        assert_eq!(again.len(), 1, "no second fan-out");
        assert_eq!(first[0].1, again[0].1);
        assert_eq!(server.stats.ordered, 1);
    });
}

mod dishonest {
    use super::*;
    use crate::core::event::Event;
    use crate::core::server::dishonest::{Dishonesty, Mode};
    use crate::core::server::sequencer::{FraudProof, Receipt};
    use crate::core::wire::Ordered;

    fn lie(server: &mut ServerAgent, mode: Mode, victim: Option<u32>) {
        let d = Dishonesty {
            mode,
            victim: victim.map(MemberId),
            sides: None,
        };
        server.handle(0, Input::Fault(FaultCommand::Dishonest(Some(d))));
    }

    /// What each member's mailbox was sent, in order.
    pub(super) fn fanned(out: &[(Peer, Datagram)], to: u32) -> Vec<Ordered> {
        out.iter()
            .filter_map(|(_, d)| match d {
                Datagram::DeliverOrdered { to: t, item, .. } if *t == MemberId(to) => {
                    Some(item.clone())
                }
                _ => None,
            })
            .collect()
    }

    fn receipt(out: &[(Peer, Datagram)]) -> Receipt {
        match &out[0].1 {
            Datagram::Receipted { receipt, .. } => receipt.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn equivocation_swaps_two_slots_for_the_victim_only_with_valid_receipts() {
        run_seeded([7; 32], || {
            let Setup { mut server, .. } = setup();
            let key = server.public_key();
            lie(&mut server, Mode::Equivocate, Some(2));
            let a = submit(&mut server, 0, 0, Kind::Message, 0, b"a".to_vec());
            assert!(fanned(&a, 2).is_empty(), "the victim's copy is held");
            assert_eq!(fanned(&a, 1).len(), 1);
            let b = submit(&mut server, 10, 1, Kind::Message, 0, b"b".to_vec());
            let honest = [fanned(&a, 1)[0].clone(), fanned(&b, 1)[0].clone()];
            let victim = fanned(&b, 2);
            assert_eq!(victim.len(), 2);
            assert_eq!(victim[0].receipt.seq, 0);
            assert_eq!(victim[0].payload, b"b");
            assert_eq!(victim[1].payload, b"a");
            assert!(victim.iter().all(|o| o.receipt.verify(&key)));
            let proof = FraudProof::check(&honest[0].receipt, &victim[0].receipt, &key);
            assert!(proof.is_some(), "two signed receipts for slot 0");
            assert_eq!(receipt(&a), honest[0].receipt, "the sender is not lied to");
        });
    }

    #[test]
    fn a_late_second_message_releases_the_held_copy_honestly() {
        run_seeded([8; 32], || {
            let Setup { mut server, .. } = setup();
            lie(&mut server, Mode::Equivocate, Some(2));
            submit(&mut server, 0, 0, Kind::Message, 0, b"a".to_vec());
            let woken = sends(server.handle(100, Input::Wake));
            let released = fanned(&woken, 2);
            assert_eq!(released.len(), 1);
            assert_eq!(
                (released[0].receipt.seq, &released[0].payload[..]),
                (0, &b"a"[..])
            );
        });
    }

    #[test]
    fn dropping_receipts_the_victims_message_and_fans_out_nothing() {
        run_seeded([9; 32], || {
            let Setup { mut server, .. } = setup();
            let key = server.public_key();
            lie(&mut server, Mode::Drop, Some(0));
            let out = submit(&mut server, 0, 0, Kind::Message, 0, b"mine".to_vec());
            assert_eq!(out.len(), 1, "a receipt and nothing else");
            let fake = receipt(&out);
            assert!(fake.verify(&key));
            let again = submit(&mut server, 500, 0, Kind::Message, 0, b"mine".to_vec());
            assert_eq!(receipt(&again), fake, "a retry gets the same receipt");
            let other = submit(&mut server, 600, 1, Kind::Message, 0, b"theirs".to_vec());
            let real = receipt(&other);
            assert_eq!(fanned(&other, 0).len(), 1, "the victim still gets others'");
            assert!(FraudProof::check(&fake, &real, &key).is_some());
        });
    }

    #[test]
    fn replaying_orders_an_old_message_again_under_a_new_slot() {
        run_seeded([10; 32], || {
            let Setup { mut server, .. } = setup();
            let key = server.public_key();
            submit(&mut server, 0, 0, Kind::Message, 0, b"old".to_vec());
            lie(&mut server, Mode::Replay, None);
            let fx = server.handle(
                5,
                Input::Datagram {
                    from: Peer::Member(MemberId(1)),
                    bytes: Datagram::Submit {
                        req: 1,
                        submission: Submission {
                            group: 1,
                            generation: 1,
                            epoch: 0,
                            kind: Kind::Message,
                            payload: b"new".to_vec(),
                            members_after: None,
                            joiners: Vec::new(),
                        },
                    }
                    .encode(),
                },
            );
            let lies =
                fx.0.iter()
                    .filter(|e| matches!(e, Effect::Record(Event::Lied { .. })))
                    .count();
            let out = sends(fx);
            let items = fanned(&out, 2);
            assert_eq!(items.len(), 2);
            assert_eq!(
                (items[1].receipt.seq, &items[1].payload[..]),
                (2, &b"old"[..])
            );
            assert!(items[1].receipt.verify(&key));
            assert_eq!(lies, 1);
        });
    }
}

mod fork;

/// `coordinated-adversity` 76: a member whose mailbox agents lost their
/// store gets what it missed again, at the addresses it gives now.
#[test]
fn readdress_moves_the_fan_out_and_sends_again_what_was_missed() {
    run_seeded([5; 32], || {
        let Setup { mut server, .. } = setup();
        for payload in [b"x", b"z"] {
            submit(&mut server, 0, 0, Kind::Message, 0, payload.to_vec());
        }
        let new = crate::core::wire::Address {
            agent: AgentId(0),
            token: 99,
        };
        let readdress = |server: &mut ServerAgent, from: u32, generation: u32| {
            let d = Datagram::Readdress {
                req: 4,
                group: 1,
                generation,
                next_seq: 1,
                mailboxes: vec![new],
            };
            sends(server.handle(
                10,
                Input::Datagram {
                    from: Peer::Member(MemberId(from)),
                    bytes: d.encode(),
                },
            ))
        };
        // Not a member, or not of this generation: nothing to get here.
        assert!(readdress(&mut server, 9, 1).is_empty());
        assert!(readdress(&mut server, 1, 2).is_empty());
        let out = readdress(&mut server, 1, 1);
        assert!(matches!(
            out[0],
            (Peer::Member(MemberId(1)), Datagram::Readdressed { req: 4 })
        ));
        let again: Vec<u64> = out[1..]
            .iter()
            .map(|(_, d)| match d {
                Datagram::DeliverOrdered { address, item, .. } => {
                    assert_eq!(*address, new);
                    item.receipt.seq
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(again, vec![1], "from the first slot the member lacks");
        // Later messages go to the new address only.
        let out = submit(&mut server, 20, 0, Kind::Message, 0, b"y".to_vec());
        let to_m1: Vec<_> = out
            .iter()
            .filter_map(|(_, d)| match d {
                Datagram::DeliverOrdered {
                    to: MemberId(1),
                    address,
                    ..
                } => Some(*address),
                _ => None,
            })
            .collect();
        assert_eq!(to_m1, vec![new]);
    });
}
