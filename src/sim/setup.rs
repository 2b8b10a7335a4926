//! Building the world a run starts from: agents, members with real Olm
//! identities, their addresses, attestations and contact cards, the group,
//! and the workload.

use super::workload::{self, Scheduled};
use super::world::World;
use crate::core::ids::ServerId;
use crate::core::ids::{MemberId, Peer};
use crate::core::mailbox::{MailboxAgent, MailboxConfig};
use crate::core::member::membership::Variant;
use crate::core::member::particle::{Attestation, Contact, Directory, Presentation, ServiceAgent};
use crate::core::member::{Coordinated, Member, MemberConfig};
use crate::core::mls::MlsClient;
use crate::core::server::{ServerAgent, ServerConfig};
use crate::core::wire::WELL_KNOWN;
use crate::scenario::{GroupKind, Scenario};
use crate::trace::HostEvent;
use crate::trace::{Event, Origin, Record};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use vodozemac::Ed25519Keypair;

/// What a random stream is for. Each (purpose, host) pair gets its own
/// ChaCha20 stream of the run's seed, and no two can meet: MLS keys are
/// tagged in the stream number's high 32 bits, above every network stream
/// (`1_000 + host index`, below 2^32 for any host count the loader takes)
/// and the workload's (1). MLS keys used to be `2_000 + member`: with more
/// than a thousand hosts, host 1000's network stream was member 0's MLS
/// key stream. The workload and network numbers are kept as they were, so
/// every run's timing, and the claims that depend on it, stay the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The workload's command schedule.
    Workload,
    /// A host's network fate (loss, delay, duplication), by host index.
    Net(u32),
    /// A member's MLS client key.
    MlsKey(MemberId),
}

impl Purpose {
    fn stream_number(self) -> u64 {
        match self {
            Purpose::Workload => 1,
            Purpose::Net(i) => 1_000 + u64::from(i),
            Purpose::MlsKey(m) => (3 << 32) | u64::from(m.0),
        }
    }
}

/// Independent random streams, one per purpose and host, all from the
/// run's seed. Adding draws to one never shifts another.
pub fn stream(seed: u64, purpose: Purpose) -> ChaCha20Rng {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(purpose.stream_number());
    rng
}

/// The group id every member of the run shares.
pub const GROUP_ID: u64 = 1;
const DOMAIN: &str = "example.com";

pub fn build_world(s: &Scenario, seed: u64, variant: Variant) -> World {
    let epoch = s.clock_epoch();
    let mut world = World::new(s.network.latency_ms, s.network.jitter_ms, epoch);
    let p = &s.protocol;
    for a in s.topology.agent_ids() {
        let config = MailboxConfig {
            ephemeral_ttl_ms: p.ephemeral_ttl_ms,
            long_term_ttl_ms: p.long_term_ttl_ms,
            max_batch: 32,
        };
        world.agents.insert(a, MailboxAgent::new(a, config, 0));
    }
    let member_cfg = MemberConfig {
        variant,
        group: GROUP_ID,
        fetch_interval_ms: p.fetch_interval_ms,
        retry_ms: p.retry_ms,
        max_attempts: p.max_attempts,
        rotate_every_ms: p.rotate_every_ms,
        long_term_ttl_ms: p.long_term_ttl_ms,
        parent_timeout_ms: p.parent_timeout_ms,
        ack_timeout_ms: p.ack_timeout_ms,
        takeover_after_ms: p.takeover_after_ms,
        audit_every_ms: p.audit_every_ms,
        key_packages_per_agent: 2,
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
                    .register(m, epoch);
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
            Arc::new(Contact {
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
                attested: Default::default(),
            }),
        );
        world.members.insert(m, member);
    }
    let founders: BTreeSet<MemberId> = (0..s.topology.founders).map(MemberId).collect();
    let directory = Arc::new(directory);
    for member in world.members.values_mut() {
        member.found_group(&s.name, &founders, directory.clone());
    }
    coordinate(&mut world, s, seed, &founders, &directory);
    for (i, host) in (0u32..).zip(hosts(s)) {
        world.net_rngs.insert(host, stream(seed, Purpose::Net(i)));
    }
    let mut commands: BTreeMap<MemberId, VecDeque<Scheduled>> = BTreeMap::new();
    for c in workload::generate(s, &mut stream(seed, Purpose::Workload)) {
        commands.entry(c.member).or_default().push_back(c);
    }
    world.commands = commands;
    if s.faults
        .iter()
        .any(|f| matches!(f.kind, crate::faults::FaultKind::Attack { .. }))
    {
        world.attacker = Some(crate::faults::attack::Attacker::new(
            s.network.latency_ms,
            GROUP_ID,
        ));
    }
    world
}

/// Every host of the run: agents, then members, then server agents.
pub fn hosts(s: &Scenario) -> Vec<Peer> {
    s.topology
        .agent_ids()
        .map(Peer::Agent)
        .chain(s.topology.member_ids().map(Peer::Member))
        .chain(s.topology.server_ids().map(Peer::Server))
        .collect()
}

/// Gives every member an MLS client and the candidate server agents, when
/// the scenario has any; a coordinated group is then formed the way its
/// founder would: `m0` creates the MLS group and adds every founder from
/// their key packages, and the first candidate server agent takes on
/// generation 1 at the resulting epoch. Done at setup, like the contact
/// cards (see docs/coordinated.md).
fn coordinate(
    world: &mut World,
    s: &Scenario,
    seed: u64,
    founders: &BTreeSet<MemberId>,
    directory: &Directory,
) {
    let p = &s.protocol;
    for c in s.topology.server_ids() {
        world.servers.insert(
            c,
            ServerAgent::new(
                c,
                ServerConfig {
                    retry_ms: p.retry_ms,
                    max_attempts: p.max_attempts,
                },
            ),
        );
    }
    let candidates: Vec<(ServerId, [u8; 32])> = world
        .servers
        .iter()
        .map(|(c, a)| (*c, a.public_key()))
        .collect();
    if candidates.is_empty() {
        return;
    }
    let mut clients: BTreeMap<MemberId, MlsClient> = BTreeMap::new();
    for m in s.topology.member_ids() {
        let mut key = [0u8; 32];
        stream(seed, Purpose::MlsKey(m)).fill_bytes(&mut key);
        let mut client =
            MlsClient::new(m.to_string().as_bytes(), key).expect("an MLS client from a seed");
        // For the post-removal secrecy checker (see `World::mls_removal_copies`).
        client.keep_copy_when_removed();
        clients.insert(m, client);
    }
    if s.group_kind == GroupKind::Coordinated {
        found_coordinated(world, &mut clients, &candidates, founders, directory);
    }
    for (m, member) in world.members.iter_mut() {
        member.set_mls(candidates.clone(), clients.remove(m));
    }
}

/// Founds generation 1 at `c0` with the founders' clients, which are taken
/// out of `clients`.
fn found_coordinated(
    world: &mut World,
    clients: &mut BTreeMap<MemberId, MlsClient>,
    candidates: &[(ServerId, [u8; 32])],
    founders: &BTreeSet<MemberId>,
    directory: &Directory,
) {
    let order: Vec<MemberId> = founders.iter().copied().collect();
    let Some((&first, rest)) = order.split_first() else {
        return;
    };
    let key_packages: Vec<Vec<u8>> = rest
        .iter()
        .filter_map(|m| clients.get_mut(m).and_then(|c| c.key_package().ok()))
        .collect();
    let creator = clients.get_mut(&first).expect("the first founder");
    creator
        .create_group(&GROUP_ID.to_be_bytes())
        .expect("a new MLS group");
    let prepared = creator
        .add(&key_packages)
        .expect("founders' key packages are valid");
    let epoch = creator
        .confirm_pending()
        .expect("the founding commit applies");
    let welcome = prepared.welcome.unwrap_or_default();
    for m in rest {
        if let Some(c) = clients.get_mut(m) {
            c.join(&welcome).expect("the founding welcome applies");
        }
    }
    let (server, key) = candidates[0];
    let mailboxes = founders
        .iter()
        .map(|m| {
            (
                *m,
                directory[m]
                    .agents
                    .iter()
                    .map(|a| a.long_term.address)
                    .collect(),
            )
        })
        .collect();
    let Some(agent) = world.servers.get_mut(&server) else {
        return;
    };
    agent.serve(GROUP_ID, 1, epoch, mailboxes);
    let mut founding: Vec<(Origin, Event)> = vec![(
        Peer::Server(server).into(),
        Event::Host(HostEvent::GenerationAccepted {
            group: GROUP_ID,
            generation: 1,
            nominator: first,
        }),
    )];
    for m in founders {
        if let (Some(client), Some(member)) = (clients.remove(m), world.members.get_mut(m)) {
            // What a member records when it joins a generation, so that
            // generation 1 is as visible to the checkers as later ones.
            let authenticator = client.epoch_authenticator().unwrap_or_default();
            founding.push((
                (*m).into(),
                Event::Host(HostEvent::Joined {
                    generation: 1,
                    server,
                    nominator: first,
                    epoch,
                }),
            ));
            founding.push((
                (*m).into(),
                Event::Host(HostEvent::EpochEntered {
                    generation: 1,
                    server,
                    epoch,
                    authenticator: hex::encode(&authenticator[..authenticator.len().min(8)]),
                }),
            ));
            member.coordinate(Coordinated::new((server, key), 1, first, client, 0));
        }
    }
    world.founding.extend(
        founding
            .into_iter()
            .map(|(host, event)| Record { t: 0, host, event }),
    );
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    #[test]
    fn no_two_purposes_share_a_stream() {
        let first = |p: Purpose| {
            let mut r = stream(7, p);
            let mut b = [0u8; 16];
            r.fill_bytes(&mut b);
            b
        };
        // The old numbering's collision: host 1000's network stream was
        // member 0's MLS key stream.
        assert_ne!(
            first(Purpose::Net(1000)),
            first(Purpose::MlsKey(MemberId(0)))
        );
        let all = [
            Purpose::Workload,
            Purpose::Net(0),
            Purpose::Net(1),
            Purpose::MlsKey(MemberId(0)),
            Purpose::MlsKey(MemberId(1)),
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(first(*a), first(*b), "{a:?} {b:?}");
            }
        }
    }
}
