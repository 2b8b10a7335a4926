//! An instant network for protocol tests: every datagram arrives at once,
//! time jumps to the next wake-up, and hosts listed as down lose what is
//! sent to them. No engine, so a failure points straight at the protocol.
//! The member tests and the audit tests share it.

use crate::core::event::Event;
use crate::core::ids::{Millis, Peer};
use crate::core::io::Input;
use crate::core::member::membership::Variant;
use crate::scenario::Scenario;
use crate::sim::setup::{build_world, hosts};
use crate::sim::world::World;
use std::collections::VecDeque;

pub(crate) struct Instant {
    pub(crate) world: World,
    pub(crate) queue: VecDeque<(Peer, Peer, Vec<u8>)>,
    pub(crate) now: Millis,
    /// Hosts that are down: what is sent to them is lost.
    pub(crate) down: std::collections::BTreeSet<Peer>,
    /// Pairs of hosts that cannot reach each other, either way.
    pub(crate) cut: std::collections::BTreeSet<(Peer, Peer)>,
}

impl Instant {
    pub(crate) fn new(members: u32) -> Instant {
        Instant::of(Scenario::minimal(members, 2))
    }

    /// A coordinated group of `members`, ordered by server agent c0.
    pub(crate) fn coordinated(members: u32) -> Instant {
        Instant::coordinated_with(members, 1)
    }

    /// The same, with `servers` candidates: c1 and on can take over.
    pub(crate) fn coordinated_with(members: u32, servers: u32) -> Instant {
        let mut s = Scenario::minimal(members, 2);
        s.group_kind = crate::scenario::GroupKind::Coordinated;
        s.topology.servers = servers;
        Instant::of(s)
    }

    pub(crate) fn of(s: Scenario) -> Instant {
        let mut world = build_world(&s, 1, Variant::Lww);
        world.commands.clear();
        let mut net = Instant {
            world,
            queue: VecDeque::new(),
            now: 0,
            down: Default::default(),
            cut: Default::default(),
        };
        for h in hosts(&s) {
            net.input(h, Input::Start(crate::core::io::Start::Fresh));
        }
        net
    }

    pub(crate) fn input(&mut self, host: Peer, input: Input) {
        for (_, to, bytes) in self.world.step(self.now, host, input) {
            self.queue.push_back((host, to, bytes));
        }
    }

    /// Runs until `until`, delivering everything at once.
    pub(crate) fn run(&mut self, until: Millis) {
        loop {
            while let Some((from, to, bytes)) = self.queue.pop_front() {
                let cut = self.cut.contains(&(from, to)) || self.cut.contains(&(to, from));
                if !self.down.contains(&to) && !cut {
                    self.input(to, Input::Datagram { from, bytes });
                }
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

    pub(crate) fn count_all(&self, pred: impl Fn(&Event) -> bool) -> usize {
        self.world
            .trace
            .records
            .iter()
            .filter(|r| r.event.host().is_some_and(&pred))
            .count()
    }

    pub(crate) fn count(&self, host: &str, pred: impl Fn(&Event) -> bool) -> usize {
        self.world
            .trace
            .records
            .iter()
            .filter(|r| r.host.to_string() == host && r.event.host().is_some_and(&pred))
            .count()
    }
}
