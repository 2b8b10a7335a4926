//! One run: a scenario, a seed and a variant in; a trace, its digest and
//! the counts out.

use super::entropy;
use super::host::run_host;
use super::setup::{build_world, hosts};
use super::world::{Counters, StartKind, World};
use crate::core::ids::{Millis, Peer};
use crate::core::io::{Command, Input};
use crate::core::member::membership::Variant;
use crate::core::member::sessions::CryptoOps;
use crate::core::mls::MlsOps;
use crate::faults::{Action, Timeline, fault_name, fault_sides};
use crate::scenario::{Fault, FaultKind, Scenario, StateOnRestart};
use crate::trace::event::Bounds;
use crate::trace::{Event, Trace};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

/// What a run produced.
pub struct RunOutput {
    pub trace: Trace,
    pub digest: String,
    pub wire_digest: String,
    pub counters: Counters,
    pub crypto: CryptoOps,
    /// MLS operations of coordinated groups.
    pub mls: MlsOps,
    pub messages_sent: u64,
    pub deliveries: u64,
    pub simulated_ms: Millis,
    /// getrandom draws that did not come from the seed; must be zero.
    pub unseeded_draws: u64,
    /// The world as it ended, for checks that need live state.
    pub world: World,
}

#[derive(Debug, thiserror::Error)]
#[error("the simulation failed: {0}")]
pub struct RunError(String);

/// Runs the scenario on a fresh, seeded thread (see `entropy`).
pub fn run(scenario: &Scenario, seed: u64, variant: Variant) -> Result<RunOutput, RunError> {
    let scenario = scenario.clone();
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(b"entropy!");
    entropy::run_seeded(key, move || run_here(&scenario, seed, variant))
}

fn run_here(s: &Scenario, seed: u64, variant: Variant) -> Result<RunOutput, RunError> {
    let world = Rc::new(RefCell::new(build_world(s, seed, variant)));
    let end = s.end_at();
    {
        let mut w = world.borrow_mut();
        let mut expect: BTreeMap<String, _> = BTreeMap::new();
        if let Some(e) = s.expect.get(&variant) {
            expect = e.clone();
        }
        let started = Event::RunStarted {
            scenario: s.name.clone(),
            seed,
            variant,
            members: s.topology.member_ids().collect(),
            agents: s.topology.agent_ids().collect(),
            founders: (0..s.topology.founders)
                .map(crate::core::ids::MemberId)
                .collect(),
            bounds: Bounds {
                heal_at: s.heal_at(),
                convergence_ms: s.bounds.convergence_ms,
                detection_ms: s.bounds.detection_ms,
            },
            expect,
            ops: s
                .workload
                .ops
                .iter()
                .filter_map(|o| match o.action {
                    crate::scenario::model::Action::Membership(op, target) => {
                        Some(crate::trace::event::PlannedOp {
                            at: o.at_ms,
                            by: o.by,
                            op,
                            target,
                        })
                    }
                    _ => None,
                })
                .collect(),
        };
        w.record(0, "sim", started);
        for r in std::mem::take(&mut w.founding) {
            w.trace.push(r);
        }
    }
    let mut sim = turmoil::Builder::new()
        .epoch(UNIX_EPOCH + Duration::from_secs(1_800_000_000))
        .tick_duration(Duration::from_millis(s.sim.tick_ms))
        .simulation_duration(Duration::from_millis(end.saturating_add(60_000)))
        .min_message_latency(Duration::ZERO)
        .max_message_latency(Duration::ZERO)
        .udp_capacity(1 << 16)
        .rng_seed(seed)
        .build();
    for host in hosts(s) {
        let w = world.clone();
        sim.host(host.to_string(), move || run_host(w.clone(), host));
    }
    let mut timeline = Timeline::new(s.faults.clone());
    let mut faults = FaultState::default();
    loop {
        let now = sim.elapsed().as_millis() as Millis;
        for (action, fault) in timeline.due(now) {
            faults.apply(&mut sim, &world, s, now, action, &fault);
        }
        if now >= end {
            break;
        }
        sim.step().map_err(|e| RunError(e.to_string()))?;
    }
    let now = sim.elapsed().as_millis() as Millis;
    let running: Vec<String> = hosts(s)
        .into_iter()
        .map(|h| h.to_string())
        .filter(|h| sim.is_host_running(h.as_str()))
        .collect();
    drop(sim);
    let mut w = Rc::try_unwrap(world)
        .map_err(|_| RunError("hosts still hold the world".into()))?
        .into_inner();
    w.record(now, "sim", Event::RunEnded { running });
    let views: Vec<_> = w
        .members
        .values()
        .map(|m| (m.id(), m.in_group(), m.view()))
        .collect();
    for (member, in_group, view) in views {
        let state_lost = w.wiped_members.contains(&member);
        w.record(
            now,
            "sim",
            Event::FinalView {
                member,
                in_group,
                view,
                state_lost,
            },
        );
    }
    let mut crypto = CryptoOps::default();
    let mut mls = MlsOps::default();
    for m in w.members.values() {
        mls += m.mls_ops();
    }
    for m in w.members.values() {
        let c = m.crypto_ops();
        crypto.encryptions += c.encryptions;
        crypto.decryptions += c.decryptions;
        crypto.failed_decryptions += c.failed_decryptions;
        crypto.sessions_created += c.sessions_created;
        crypto.keys_generated += c.keys_generated;
        crypto.signatures_verified += c.signatures_verified;
        crypto.signatures_made += c.signatures_made;
    }
    // Counted from the trace, which outlives a wiped member's own counters.
    let count =
        |pred: fn(&Event) -> bool| w.trace.records.iter().filter(|r| pred(&r.event)).count() as u64;
    let messages_sent = count(|e| matches!(e, Event::MessageSent { .. }));
    let deliveries = count(|e| matches!(e, Event::Delivered { .. }));
    Ok(RunOutput {
        digest: w.trace.digest(),
        wire_digest: w.wire_digest(),
        trace: std::mem::take(&mut w.trace),
        counters: w.counters.clone(),
        crypto,
        mls,
        messages_sent,
        deliveries,
        simulated_ms: now,
        unseeded_draws: entropy::unseeded_draws(),
        world: w,
    })
}

/// Link blocks by direction, counted, so that overlapping partitions and
/// offline periods heal only when the last of them ends.
#[derive(Default)]
struct FaultState {
    blocked: BTreeMap<(String, String), u32>,
}

impl FaultState {
    fn apply(
        &mut self,
        sim: &mut turmoil::Sim<'_>,
        world: &Rc<RefCell<World>>,
        s: &Scenario,
        now: Millis,
        action: Action,
        fault: &Fault,
    ) {
        let begin = matches!(action, Action::Begin(_));
        let (hosts, detail) = self.carry_out(sim, world, s, now, begin, &fault.kind);
        let detail = format!("{} {detail}", if begin { "begin" } else { "end" });
        world.borrow_mut().record(
            now,
            "sim",
            Event::Fault {
                fault: fault_name(&fault.kind).into(),
                hosts,
                sides: fault_sides(&fault.kind),
                detail,
            },
        );
    }

    fn carry_out(
        &mut self,
        sim: &mut turmoil::Sim<'_>,
        world: &Rc<RefCell<World>>,
        s: &Scenario,
        now: Millis,
        begin: bool,
        kind: &FaultKind,
    ) -> (Vec<String>, String) {
        let all: Vec<String> = hosts(s).iter().map(|h| h.to_string()).collect();
        let mut w = world.borrow_mut();
        match kind {
            FaultKind::Partition { a, b } => {
                self.block(sim, a, b, begin);
                self.block(sim, b, a, begin);
                (
                    a.iter().chain(b).cloned().collect(),
                    format!("{a:?} | {b:?}"),
                )
            }
            FaultKind::PartitionOneway { from, to } => {
                self.block(sim, from, to, begin);
                (
                    from.iter().chain(to).cloned().collect(),
                    format!("{from:?} -> {to:?}"),
                )
            }
            FaultKind::Offline { member } => {
                let me = vec![member.to_string()];
                let others: Vec<String> = all.iter().filter(|h| **h != me[0]).cloned().collect();
                self.block(sim, &me, &others, begin);
                self.block(sim, &others, &me, begin);
                (me, String::new())
            }
            FaultKind::Loss { rate } => {
                toggle(&mut w.net.loss, *rate, begin);
                (Vec::new(), format!("rate {rate}"))
            }
            FaultKind::Duplicate { rate } => {
                toggle(&mut w.net.duplicate, *rate, begin);
                (Vec::new(), format!("rate {rate}"))
            }
            FaultKind::Reorder { rate, extra_ms } => {
                toggle(&mut w.net.reorder, (*rate, *extra_ms), begin);
                (Vec::new(), format!("rate {rate} extra {extra_ms} ms"))
            }
            FaultKind::Latency {
                extra_ms,
                jitter_ms,
            } => {
                toggle(&mut w.net.latency, (*extra_ms, *jitter_ms), begin);
                (
                    Vec::new(),
                    format!("extra {extra_ms} ms jitter {jitter_ms} ms"),
                )
            }
            FaultKind::Crash { host, state } => {
                if begin {
                    sim.crash(host.as_str());
                } else {
                    let Some(peer) = Peer::parse(host) else {
                        return (vec![host.clone()], "unknown host".into());
                    };
                    let start = restart_state(&mut w, now, peer, *state);
                    w.starts.insert(peer, start);
                    drop(w);
                    sim.bounce(host.as_str());
                }
                (vec![host.clone()], format!("{state:?}"))
            }
            FaultKind::Refuse { server } => {
                let local = w.local_time(Peer::Server(*server), now);
                if let Some(agent) = w.servers.get_mut(server) {
                    agent.handle(local, Input::Command(Command::RefuseService(begin)));
                }
                (vec![server.to_string()], String::new())
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
                        Input::Command(Command::Dishonest(begin.then_some(d))),
                    );
                }
                let to = match (victim, sides) {
                    (Some(v), _) => format!(" to {v}"),
                    (None, Some((a, b))) => {
                        let names = |s: &[crate::core::ids::MemberId]| {
                            s.iter()
                                .map(|m| m.to_string())
                                .collect::<Vec<_>>()
                                .join(",")
                        };
                        format!(" between {} | {}", names(a), names(b))
                    }
                    (None, None) => String::new(),
                };
                (vec![server.to_string()], format!("{mode}{to}"))
            }
            FaultKind::ExpireAddresses { member } => {
                if begin {
                    let local = w.clock_epoch.saturating_add(now);
                    for a in w.agents.values_mut() {
                        a.handle(local, Input::Command(Command::ExpireAddresses(*member)));
                    }
                }
                (vec![member.to_string()], String::new())
            }
            FaultKind::Attack { forgery, victim } => {
                if let Some(a) = w.attacker.as_mut() {
                    a.toggle(*forgery, *victim, begin);
                }
                (
                    vec![victim.to_string()],
                    format!("{forgery} aimed at {victim}"),
                )
            }
            FaultKind::ClockSkew { member, offset_ms } => {
                if begin {
                    w.skew.insert(*member, *offset_ms);
                } else {
                    w.skew.remove(member);
                }
                (vec![member.to_string()], format!("offset {offset_ms} ms"))
            }
        }
    }

    fn block(&mut self, sim: &mut turmoil::Sim<'_>, from: &[String], to: &[String], begin: bool) {
        for f in from {
            for t in to {
                let count = self.blocked.entry((f.clone(), t.clone())).or_insert(0);
                if begin {
                    *count += 1;
                    if *count == 1 {
                        sim.partition_oneway(f.as_str(), t.as_str());
                    }
                } else if *count > 0 {
                    *count -= 1;
                    if *count == 0 {
                        sim.repair_oneway(f.as_str(), t.as_str());
                    }
                }
            }
        }
    }
}

/// Replaces a wiped host's state machine and says how it starts again.
fn restart_state(w: &mut World, now: Millis, peer: Peer, state: StateOnRestart) -> StartKind {
    let volatile_lost = state == StateOnRestart::VolatileLost;
    match (peer, state) {
        (Peer::Agent(a), StateOnRestart::Wiped) => {
            if let Some(fresh) = w.agents.get(&a).map(|old| old.wiped()) {
                w.agents.insert(a, fresh);
                w.record(now, &peer.to_string(), Event::MailboxWiped);
            }
        }
        (Peer::Member(m), StateOnRestart::Wiped) => {
            if let Some(fresh) = w.members.get(&m).map(|old| old.wiped()) {
                w.members.insert(m, fresh);
                w.wiped_members.insert(m);
                // A new device starts as if for the first time.
                return StartKind {
                    restart: false,
                    volatile_lost,
                };
            }
        }
        _ => {}
    }
    StartKind {
        restart: true,
        volatile_lost,
    }
}

fn toggle<T: PartialEq>(active: &mut Vec<T>, value: T, begin: bool) {
    if begin {
        active.push(value);
    } else if let Some(i) = active.iter().position(|v| *v == value) {
        active.remove(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_group_delivers_everything_and_repeats_itself() {
        let s = Scenario::minimal(4, 3);
        let out = run(&s, 7, Variant::Lww).unwrap();
        assert_eq!(out.unseeded_draws, 0);
        assert!(out.messages_sent > 5, "{}", out.messages_sent);
        let kinds: BTreeMap<String, usize> =
            out.trace.records.iter().fold(BTreeMap::new(), |mut m, r| {
                *m.entry(r.event.kind()).or_default() += 1;
                m
            });
        eprintln!("{kinds:?}");
        assert_eq!(out.deliveries, out.messages_sent * 3, "{kinds:?}");
        let again = run(&s, 7, Variant::Lww).unwrap();
        assert_eq!(out.digest, again.digest);
        assert_eq!(out.wire_digest, again.wire_digest);
    }
}
