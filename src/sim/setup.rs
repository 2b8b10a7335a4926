//! Building the world a run starts from: agents, members with real Olm
//! identities, their addresses, attestations and contact cards, the group,
//! and the workload.

use super::workload::{self, Scheduled};
use super::world::World;
use crate::core::agent::{Agent, AgentConfig};
use crate::core::ids::{MemberId, Peer};
use crate::core::member::membership::Variant;
use crate::core::member::particle::{Attestation, Contact, Directory, Presentation, ServiceAgent};
use crate::core::member::{Member, MemberConfig};
use crate::core::wire::WELL_KNOWN;
use crate::scenario::Scenario;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use vodozemac::Ed25519Keypair;

/// Independent random streams, one per purpose, all from the run's seed.
/// Adding draws to one purpose never shifts another.
pub fn stream(seed: u64, purpose: u64) -> ChaCha20Rng {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(purpose);
    rng
}

pub const STREAM_WORKLOAD: u64 = 1;
const STREAM_NET_BASE: u64 = 1_000;

/// The group id every member of the run shares.
pub const GROUP_ID: u64 = 1;
const DOMAIN: &str = "example.com";

pub fn build_world(s: &Scenario, seed: u64, variant: Variant) -> World {
    let mut world = World::new(s.network.latency_ms, s.network.jitter_ms);
    let p = &s.protocol;
    for a in s.topology.agent_ids() {
        let config = AgentConfig {
            ephemeral_ttl_ms: p.ephemeral_ttl_ms,
            long_term_ttl_ms: p.long_term_ttl_ms,
            max_batch: 32,
        };
        world.agents.insert(a, Agent::new(a, config, 0));
    }
    let member_cfg = MemberConfig {
        variant,
        group: GROUP_ID,
        fetch_interval_ms: p.fetch_interval_ms,
        retry_ms: p.retry_ms,
        max_attempts: p.max_attempts,
        rotate_every_ms: p.rotate_every_ms,
        parent_timeout_ms: p.parent_timeout_ms,
        deliver_to_all: p.deliver_to_all,
        prekeys_per_agent: 8,
    };
    // The domain that attests members' scoped names.
    let attester = Ed25519Keypair::new();
    let mut directory = Directory::new();
    for m in s.topology.member_ids() {
        let mut member = Member::new(m, member_cfg.clone());
        let own: Vec<ServiceAgent> = s
            .topology
            .agents_of(m)
            .into_iter()
            .map(|a| {
                let (long_term, ephemeral) = world
                    .agents
                    .get_mut(&a)
                    .expect("agent exists")
                    .register(m, 0);
                ServiceAgent {
                    agent: a,
                    url: format!("https://{a}.{DOMAIN}{WELL_KNOWN}"),
                    long_term,
                    ephemeral: Some(ephemeral),
                }
            })
            .collect();
        member.set_own_agents(own.clone());
        let scoped_name = format!("{m}@{DOMAIN}");
        let ipk = member.ipk();
        let signature = attester
            .sign(&Attestation::statement(&scoped_name, &ipk))
            .to_bytes()
            .to_vec();
        directory.insert(
            m,
            Contact {
                member: m,
                presentation: Presentation {
                    preferred_name: format!("Member {}", m.0),
                    pronouns: (m.0 % 3 == 0).then(|| "they/them".to_owned()),
                    picture: (m.0 % 2 == 0).then(|| format!("picture://{m}")),
                },
                ipk,
                curve25519: member.curve25519(),
                attestation: Some(Attestation {
                    scoped_name,
                    attester: *attester.public_key().as_bytes(),
                    signature,
                }),
                agents: own,
            },
        );
        world.members.insert(m, member);
    }
    let founders: BTreeSet<MemberId> = (0..s.topology.founders).map(MemberId).collect();
    for member in world.members.values_mut() {
        member.found_group(&s.name, &founders, directory.clone());
    }
    for (i, host) in hosts(s).into_iter().enumerate() {
        world
            .net_rngs
            .insert(host, stream(seed, STREAM_NET_BASE + i as u64));
    }
    let mut commands: BTreeMap<MemberId, VecDeque<Scheduled>> = BTreeMap::new();
    for c in workload::generate(s, &mut stream(seed, STREAM_WORKLOAD)) {
        commands.entry(c.member).or_default().push_back(c);
    }
    world.commands = commands;
    world
}

/// Every host of the run: agents first, then members.
pub fn hosts(s: &Scenario) -> Vec<Peer> {
    s.topology
        .agent_ids()
        .map(Peer::Agent)
        .chain(s.topology.member_ids().map(Peer::Member))
        .collect()
}
