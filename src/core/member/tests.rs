//! Member tests over an instant network: every datagram arrives at once,
//! time jumps to the next wake-up. No turmoil, so failures point straight
//! at the protocol.

use crate::core::ids::{MemberId, Millis, Peer};
use crate::core::io::{Command, Input};
use crate::core::member::membership::Variant;
use crate::scenario::Scenario;
use crate::sim::entropy::run_seeded;
use crate::sim::setup::{build_world, hosts};
use crate::sim::world::World;
use crate::trace::Event;
use std::collections::VecDeque;

struct Instant {
    world: World,
    queue: VecDeque<(Peer, Peer, Vec<u8>)>,
    now: Millis,
}

impl Instant {
    fn new(members: u32) -> Instant {
        let s = Scenario::minimal(members, 2);
        let mut world = build_world(&s, 1, Variant::Lww);
        world.commands.clear();
        let mut net = Instant {
            world,
            queue: VecDeque::new(),
            now: 0,
        };
        for h in hosts(&s) {
            net.input(
                h,
                Input::Start {
                    restart: false,
                    volatile_lost: false,
                },
            );
        }
        net
    }

    fn input(&mut self, host: Peer, input: Input) {
        for (_, to, bytes) in self.world.step(self.now, host, input) {
            self.queue.push_back((host, to, bytes));
        }
    }

    /// Runs until `until`, delivering everything at once.
    fn run(&mut self, until: Millis) {
        loop {
            while let Some((from, to, bytes)) = self.queue.pop_front() {
                self.input(to, Input::Datagram { from, bytes });
            }
            let Some((host, at)) = self
                .world
                .wakes
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(h, t)| (*h, *t))
            else {
                break;
            };
            if at > until {
                break;
            }
            self.now = self.now.max(at);
            self.world.wakes.remove(&host);
            self.input(host, Input::Wake);
        }
        self.now = until;
    }

    fn count(&self, host: &str, pred: impl Fn(&Event) -> bool) -> usize {
        self.world
            .trace
            .records
            .iter()
            .filter(|r| r.host == host && pred(&r.event))
            .count()
    }
}

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
    use super::{Member, MemberConfig};
    use crate::core::ids::MessageId;
    let s = Scenario::minimal(3, 2);
    let world = build_world(&s, 1, Variant::Lww);
    let cfg: MemberConfig = world.members[&MemberId(0)].cfg.clone();
    let mut m = Member::new(MemberId(0), cfg);
    let id = |sender, seq| MessageId {
        sender: MemberId(sender),
        seq,
    };
    m.mark_delivered(id(0, 0), &[], vec![]);
    for seq in 0..12 {
        let parents: Vec<MessageId> = (seq > 0).then(|| id(9, seq - 1)).into_iter().collect();
        m.mark_delivered(id(9, seq), &parents, vec![]);
    }
    assert_eq!(m.heads, vec![id(0, 0), id(9, 11)]);
    m.mark_delivered(id(1, 0), &[id(0, 0), id(9, 11)], vec![]);
    assert_eq!(m.heads, vec![id(1, 0)]);
}
