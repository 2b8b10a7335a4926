//! The fault-plan executor: one place that carries out every fault of a
//! scenario, whichever engine runs it. What an engine must do itself (cut
//! a link, crash and restart a host) goes through [`Driver`], whose verbs
//! are turmoil's; everything else (loss, duplication, reordering, latency,
//! refusal, dishonesty, address expiry, clock skew, the attacker) is state
//! in the world that its fault layer and hosts consult.

use super::setup::hosts;
use super::world::World;
use crate::core::ids::{Millis, Peer};
use crate::core::io::Start;
use crate::core::io::{FaultCommand, Input};
use crate::faults::Action;
use crate::faults::{Fault, FaultKind, StateOnRestart};
use crate::scenario::Scenario;
use crate::trace::{Event, HostEvent, Origin, Phase};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// What an engine does for the fault plan.
pub trait Driver {
    /// Datagrams from `from` to `to` are lost until repaired.
    fn partition_oneway(&mut self, from: Peer, to: Peer);
    fn repair_oneway(&mut self, from: Peer, to: Peer);
    /// The host stops: what it held in memory, and what reaches it, is lost.
    fn crash(&mut self, host: Peer);
    /// The host's software starts again (see `World::start_host`).
    fn bounce(&mut self, host: Peer);
}

/// turmoil names its hosts; they are registered under their trace names.
impl Driver for turmoil::Sim<'_> {
    fn partition_oneway(&mut self, from: Peer, to: Peer) {
        turmoil::Sim::partition_oneway(self, from.to_string(), to.to_string());
    }
    fn repair_oneway(&mut self, from: Peer, to: Peer) {
        turmoil::Sim::repair_oneway(self, from.to_string(), to.to_string());
    }
    fn crash(&mut self, host: Peer) {
        turmoil::Sim::crash(self, host.to_string());
    }
    fn bounce(&mut self, host: Peer) {
        turmoil::Sim::bounce(self, host.to_string());
    }
}

/// Link blocks by direction, counted, so that overlapping partitions and
/// offline periods heal only when the last of them ends; and crashes per
/// host, likewise: overlapping crashes of one host are one outage, which
/// ends when the last of them does and leaves the least any of them
/// keeps. (Each crash's end restarted the host before: a host inside a
/// longer wiping crash ran again at a short crash's end, and was wiped
/// only later, losing what it had been handed meanwhile.)
#[derive(Default)]
pub struct FaultState {
    blocked: BTreeMap<(Peer, Peer), u32>,
    crashed: BTreeMap<Peer, (u32, StateOnRestart)>,
}

impl FaultState {
    pub fn apply(
        &mut self,
        sim: &mut impl Driver,
        world: &Rc<RefCell<World>>,
        s: &Scenario,
        now: Millis,
        action: Action,
        fault: &Fault,
    ) {
        let (phase, index) = match action {
            Action::Begin(i) => (Phase::Begin, i),
            Action::End(i) => (Phase::End, i),
        };
        self.carry_out(sim, world, s, now, phase == Phase::Begin, &fault.kind);
        tracing::debug!(at = now, ?phase, fault = ?fault.kind, "fault");
        world.borrow_mut().record(
            now,
            Origin::Sim,
            Event::Fault {
                phase,
                index,
                fault: fault.kind.clone(),
            },
        );
    }

    fn carry_out(
        &mut self,
        sim: &mut impl Driver,
        world: &Rc<RefCell<World>>,
        s: &Scenario,
        now: Millis,
        begin: bool,
        kind: &FaultKind,
    ) {
        let all = hosts(s);
        let mut w = world.borrow_mut();
        match kind {
            FaultKind::Partition { a, b } => {
                self.block(sim, a, b, begin);
                self.block(sim, b, a, begin);
            }
            FaultKind::PartitionOneway { from, to } => {
                self.block(sim, from, to, begin);
            }
            FaultKind::Offline { member } => {
                let me = vec![Peer::Member(*member)];
                let others: Vec<Peer> = all.iter().filter(|h| **h != me[0]).copied().collect();
                self.block(sim, &me, &others, begin);
                self.block(sim, &others, &me, begin);
            }
            FaultKind::Loss { rate } => {
                toggle(&mut w.net.loss, *rate, begin);
            }
            FaultKind::Duplicate { rate } => {
                toggle(&mut w.net.duplicate, *rate, begin);
            }
            FaultKind::Reorder { rate, extra_ms } => {
                toggle(&mut w.net.reorder, (*rate, *extra_ms), begin);
            }
            FaultKind::Latency {
                extra_ms,
                jitter_ms,
            } => {
                toggle(&mut w.net.latency, (*extra_ms, *jitter_ms), begin);
            }
            FaultKind::Crash { host, state } => {
                let outage = self.crashed.entry(*host).or_insert((0, *state));
                if begin {
                    if outage.0 == 0 {
                        *outage = (0, *state);
                        sim.crash(*host);
                    }
                    outage.0 += 1;
                    outage.1 = outage.1.max(*state);
                } else {
                    outage.0 = outage.0.saturating_sub(1);
                    if outage.0 > 0 {
                        return;
                    }
                    let state = outage.1;
                    let start = restart_state(&mut w, now, *host, state);
                    w.starts.insert(*host, start);
                    drop(w);
                    sim.bounce(*host);
                }
            }
            FaultKind::Refuse { server } => {
                let local = w.local_time(Peer::Server(*server), now);
                if let Some(agent) = w.servers.get_mut(server) {
                    agent.handle(local, Input::Fault(FaultCommand::RefuseService(begin)));
                }
            }
            FaultKind::Dishonest {
                server,
                mode,
                victim,
                sides,
            } => {
                use crate::core::server::dishonest::{Dishonesty, Sides};
                let d = Dishonesty {
                    mode: *mode,
                    victim: *victim,
                    sides: sides.as_ref().map(|(a, b)| Sides {
                        a: a.iter().copied().collect(),
                        b: b.iter().copied().collect(),
                    }),
                };
                let local = w.local_time(Peer::Server(*server), now);
                if let Some(agent) = w.servers.get_mut(server) {
                    agent.handle(
                        local,
                        Input::Fault(FaultCommand::Dishonest(begin.then_some(d))),
                    );
                }
            }
            FaultKind::ExpireAddresses { member } => {
                if begin {
                    let local = w.clock_epoch.saturating_add(now);
                    for a in w.agents.values_mut() {
                        a.handle(local, Input::Fault(FaultCommand::ExpireAddresses(*member)));
                    }
                }
            }
            FaultKind::Attack { forgery, victim } => {
                if let Some(a) = w.attacker.as_mut() {
                    a.toggle(*forgery, *victim, begin);
                }
            }
            FaultKind::ClockSkew { member, offset_ms } => {
                if begin {
                    w.skew.insert(*member, *offset_ms);
                } else {
                    w.skew.remove(member);
                }
            }
        }
    }

    fn block(&mut self, sim: &mut impl Driver, from: &[Peer], to: &[Peer], begin: bool) {
        for &f in from {
            for &t in to {
                let count = self.blocked.entry((f, t)).or_insert(0);
                if begin {
                    *count += 1;
                    if *count == 1 {
                        sim.partition_oneway(f, t);
                    }
                } else if *count > 0 {
                    *count -= 1;
                    if *count == 0 {
                        sim.repair_oneway(f, t);
                    }
                }
            }
        }
    }
}

/// Replaces a wiped host's state machine and says how it starts again.
fn restart_state(w: &mut World, now: Millis, peer: Peer, state: StateOnRestart) -> Start {
    match (peer, state) {
        (Peer::Agent(a), StateOnRestart::Wiped) => {
            if let Some(fresh) = w.agents.get(&a).map(|old| old.wiped()) {
                w.agents.insert(a, fresh);
                w.record(now, peer, Event::Host(HostEvent::MailboxWiped));
            }
        }
        (Peer::Member(m), StateOnRestart::Wiped) => {
            if let Some(fresh) = w.members.get(&m).map(|old| old.wiped()) {
                w.members.insert(m, fresh);
                w.wiped_members.insert(m);
                // A new device starts as if for the first time.
                return Start::Fresh;
            }
        }
        _ => {}
    }
    if state == StateOnRestart::VolatileLost {
        Start::VolatileLost
    } else {
        Start::Resumed
    }
}

fn toggle<T: PartialEq>(active: &mut Vec<T>, value: T, begin: bool) {
    if begin {
        active.push(value);
    } else if let Some(i) = active.iter().position(|v| *v == value) {
        active.remove(i);
    }
}
