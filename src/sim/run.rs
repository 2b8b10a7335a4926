//! One run: a scenario, a seed and a variant in; a trace, its digest and
//! the counts out.

use super::fault_plan::FaultState;
use super::host::run_host;
use super::setup::{build_world, hosts};
use super::world::{Counters, World};
use super::{Engine, RunError};
use crate::core::ids::{Millis, Peer};
use crate::core::member::membership::Variant;
use crate::core::member::sessions::CryptoOps;
use crate::core::mls::MlsOps;
use crate::entropy;
use crate::faults::Timeline;
use crate::observations::Observations;
use crate::scenario::Scenario;
use crate::trace::Bounds;
use crate::trace::HostEvent;
use crate::trace::Origin;
use crate::trace::{Event, Trace};
use std::cell::RefCell;
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
    /// Members in the scenario.
    pub members: usize,
    /// Audit reports members sent each other, and their bytes.
    pub audits: (u64, u64),
    /// What the secrecy and blindness checkers judge besides the trace.
    pub observations: Observations,
    pub engine: Engine,
}

/// Runs the scenario on the default engine.
pub fn run(scenario: &Scenario, seed: u64, variant: Variant) -> Result<RunOutput, RunError> {
    run_on(scenario, seed, variant, Engine::default())
}

/// Runs the scenario on `engine`, on a fresh, seeded thread (see
/// `entropy`).
pub fn run_on(
    scenario: &Scenario,
    seed: u64,
    variant: Variant,
    engine: Engine,
) -> Result<RunOutput, RunError> {
    if engine == Engine::Turmoil
        && let Some(why) = scenario.too_costly_for_turmoil()
    {
        return Err(RunError(why));
    }
    let scenario = scenario.clone();
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(b"entropy!");
    entropy::run_seeded(key, move || run_here(&scenario, seed, variant, engine))
}

fn run_here(
    s: &Scenario,
    seed: u64,
    variant: Variant,
    engine: Engine,
) -> Result<RunOutput, RunError> {
    let world = Rc::new(RefCell::new(build_world(s, seed, variant)));
    let end = s.end_at();
    {
        let mut w = world.borrow_mut();
        let expect = s.expect.get(&variant).cloned().unwrap_or_default();
        let started = Event::RunStarted {
            format: crate::trace::TRACE_FORMAT,
            scenario: s.name.clone(),
            seed,
            variant,
            members: s.topology.member_ids().collect(),
            agents: s.topology.agent_ids().collect(),
            founders: (0..s.topology.founders)
                .map(crate::core::ids::MemberId)
                .collect(),
            mailboxes: (s.topology.member_ids())
                .map(|m| (m, s.topology.agents_of(m)))
                .collect(),
            bounds: Bounds {
                heal_at: s.heal_at(),
                convergence_ms: s.bounds.convergence_ms,
                detection_ms: s.bounds.detection_ms,
                recovery_ms: s.bounds.recovery_ms,
                servers: (s.topology.servers > 0).then_some(crate::trace::ServerBounds {
                    servers: s.topology.servers,
                    takeover_after_ms: s.protocol.takeover_after_ms,
                    ack_timeout_ms: s.protocol.ack_timeout_ms,
                    // A datagram's worst delay, a tick to send it and one to
                    // act on it, and room for the reply's own processing.
                    reply_ms: s.network.latency_ms + s.network.jitter_ms + 2 * s.sim.tick_ms + 100,
                }),
            },
            expect,
            ops: s
                .workload
                .ops
                .iter()
                .filter_map(|o| match o.action {
                    crate::scenario::model::Action::Membership(op, target) => {
                        Some(crate::trace::PlannedOp {
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
        w.record(0, Origin::Sim, started);
        for r in std::mem::take(&mut w.founding) {
            w.trace.push(r);
        }
    }
    tracing::debug!(
        scenario = %s.name,
        seed,
        %variant,
        %engine,
        members = s.topology.members,
        "set up; running to {end} ms"
    );
    let (now, running) = match engine {
        Engine::Turmoil => drive_turmoil(&world, s, seed, end)?,
        Engine::Events => super::events::drive(&world, s, end)?,
    };
    let mut w = Rc::try_unwrap(world)
        .map_err(|_| RunError("hosts still hold the world".into()))?
        .into_inner();
    tracing::debug!(
        simulated_ms = now,
        records = w.trace.records.len(),
        datagrams = w.counters.datagrams_sent,
        "run ended"
    );
    w.record(now, Origin::Sim, Event::RunEnded { running });
    let views: Vec<_> = w
        .members
        .values()
        .map(|m| (m.id(), m.in_group(), m.view(), m.particle().meta.clone()))
        .collect();
    for (member, in_group, view, meta) in views {
        let state_lost = w.wiped_members.contains(&member);
        w.record(
            now,
            Origin::Sim,
            Event::FinalView {
                member,
                in_group,
                view,
                state_lost,
                meta,
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
    let messages_sent = count(|e| matches!(e, Event::Host(HostEvent::MessageSent { .. })));
    let deliveries = count(|e| matches!(e, Event::Host(HostEvent::Delivered { .. })));
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
        members: w.members.len(),
        audits: w.members.values().fold((0, 0), |(n, b), m| {
            (n + m.stats.audits_sent, b + m.stats.audit_bytes)
        }),
        observations: std::mem::take(&mut w.observations),
        engine,
    })
}

/// Runs the world on turmoil until `end`: every host a tokio task with a
/// real UDP socket, polled tick by tick.
fn drive_turmoil(
    world: &Rc<RefCell<World>>,
    s: &Scenario,
    seed: u64,
    end: Millis,
) -> Result<(Millis, Vec<Peer>), RunError> {
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
            faults.apply(&mut sim, world, s, now, action, &fault);
        }
        if now >= end {
            break;
        }
        sim.step().map_err(|e| RunError(e.to_string()))?;
    }
    let now = sim.elapsed().as_millis() as Millis;
    let running = hosts(s)
        .into_iter()
        .filter(|h| sim.is_host_running(h.to_string()))
        .collect();
    Ok((now, running))
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
        let kinds: std::collections::BTreeMap<String, usize> =
            out.trace
                .records
                .iter()
                .fold(std::collections::BTreeMap::new(), |mut m, r| {
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
