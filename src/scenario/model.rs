//! What a scenario file says, after parsing and validation.
//!
//! These types are the contract between the file format (`load.rs`) and the
//! simulator (`sim/`). Everything here is already checked: host names exist,
//! times are ordered, rates are in range.

use super::SeedRange;
use crate::core::event::OpKind;
use crate::core::ids::{AgentId, MemberId, Millis, Peer, ServerId};
use crate::core::member::membership::Variant;
use crate::faults::{Fault, FaultKind};
use crate::trace::Expect;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Base name of the file, used in traces and reports.
    pub name: String,
    pub description: String,
    /// The seed `run` uses when the command line gives none.
    pub seed: u64,
    /// The seeds the expectations are claims over; `sweep` runs them all.
    pub seeds: SeedRange,
    /// Variants the scenario is meant for, each with its expectations.
    pub variants: Vec<Variant>,
    pub sim: SimParams,
    pub topology: Topology,
    pub group_kind: GroupKind,
    pub network: NetworkParams,
    pub protocol: ProtocolParams,
    pub workload: Workload,
    pub faults: Vec<Fault>,
    /// Quiet time after the last fault ends and the workload stops, before
    /// the final checks.
    pub healing_ms: Millis,
    pub bounds: BoundsParams,
    /// Bounds for `commsim explore`'s generated fault plans.
    pub explore: ExploreBounds,
    /// SHA-256 of the file text the scenario was loaded from, so that
    /// results name exactly what they ran.
    pub source_sha256: String,
    /// Per variant, per checker name: the claim over `seeds`.
    pub expect: BTreeMap<Variant, Expect>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SimParams {
    /// turmoil's tick. Every host is polled once per tick, so the wall cost
    /// of a run is roughly hosts x simulated time / tick.
    pub tick_ms: Millis,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    pub members: u32,
    pub agents: u32,
    /// Receiving service agents each member registers with (at least 2).
    pub agents_per_member: u32,
    /// Members in the group when it is formed (m0 .. m{founders-1}); the
    /// rest are contacts that may be added later.
    pub founders: u32,
    /// Candidate server agents for coordinated groups (c0 ..), in order.
    pub servers: u32,
}

/// What the application chose when it formed the group.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum GroupKind {
    /// Fully decentralised, pairwise Olm.
    Lightweight,
    /// MLS, ordered by a server agent.
    Coordinated,
}

impl GroupKind {
    pub fn name(self) -> &'static str {
        match self {
            GroupKind::Lightweight => "lightweight",
            GroupKind::Coordinated => "coordinated",
        }
    }
}

impl Topology {
    pub fn member_ids(&self) -> impl Iterator<Item = MemberId> {
        (0..self.members).map(MemberId)
    }
    pub fn agent_ids(&self) -> impl Iterator<Item = AgentId> {
        (0..self.agents).map(AgentId)
    }
    pub fn server_ids(&self) -> impl Iterator<Item = ServerId> {
        (0..self.servers).map(ServerId)
    }
    /// Agents of member `m`: a fixed rotation, so that load spreads evenly.
    pub fn agents_of(&self, m: MemberId) -> Vec<AgentId> {
        (0..self.agents_per_member)
            .map(|k| AgentId((m.0 + k) % self.agents))
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NetworkParams {
    /// One-way latency added to every datagram.
    pub latency_ms: Millis,
    /// Uniform extra delay in [0, jitter_ms].
    pub jitter_ms: Millis,
}

/// The protocol's timers. They are scenario parameters because the right
/// values depend on the network the group runs over.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtocolParams {
    /// How often a member polls each of its mailboxes.
    pub fetch_interval_ms: Millis,
    /// Retransmission timeout for an unacknowledged delivery.
    pub retry_ms: Millis,
    /// Deliveries given up after this many attempts per mailbox.
    pub max_attempts: u32,
    /// Lifetime of an ephemeral delivery address.
    pub ephemeral_ttl_ms: Millis,
    /// How often a member asks for a new ephemeral address.
    pub rotate_every_ms: Millis,
    /// Validity of a long-term delivery address.
    pub long_term_ttl_ms: Millis,
    /// After this long waiting for a parent, the member reports it missing.
    pub parent_timeout_ms: Millis,
    /// Coordinated groups: a member that gets no receipt from the server
    /// agent for this long falls back to a lightweight group.
    pub ack_timeout_ms: Millis,
    /// Coordinated groups: after falling back, a member waits this long,
    /// times one plus its rank in the membership, before it nominates the
    /// next candidate server agent itself (0: never). The stagger lets the
    /// lowest live member nominate while the others wait for its Welcome.
    pub takeover_after_ms: Millis,
    /// Coordinated groups: how often a member sends a few peers, over Olm,
    /// the receipts of the slots it processed since its last audit and the
    /// epoch authenticators it reached, so that a server that shows
    /// members different orders is caught (0: never).
    pub audit_every_ms: Millis,
    /// Deliver to every mailbox of a recipient (true) or only the first.
    pub deliver_to_all: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// Random traffic runs in [start_ms, stop_ms).
    pub start_ms: Millis,
    pub stop_ms: Millis,
    /// Group messages per simulated second, over the whole group.
    pub messages_per_s: f64,
    /// Chance that a message is a reply to a recent one.
    pub reply_probability: f64,
    /// Spans in which traffic runs at another rate (a burst, or a
    /// silence at 0), in time order and disjoint.
    pub phases: Vec<RatePhase>,
    /// Explicit membership changes.
    pub ops: Vec<ScheduledOp>,
}

/// From `at_ms` to `until_ms`, random traffic runs at `messages_per_s`
/// instead of the workload's rate: how a file says "quiet for a minute,
/// then a burst", the traffic shapes that hide or expose a withheld
/// message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RatePhase {
    pub at_ms: Millis,
    pub until_ms: Millis,
    pub messages_per_s: f64,
}

impl Workload {
    /// The rate over time: `(from, to, messages_per_s)` spans covering
    /// [start, stop) in order, the phases cut into the base rate.
    pub fn spans(&self) -> Vec<(Millis, Millis, f64)> {
        let mut out = Vec::new();
        let mut t = self.start_ms;
        for p in &self.phases {
            let (at, until) = (p.at_ms.max(t), p.until_ms.min(self.stop_ms));
            if at >= until {
                continue;
            }
            if t < at {
                out.push((t, at, self.messages_per_s));
            }
            out.push((at, until, p.messages_per_s));
            t = until;
        }
        if t < self.stop_ms {
            out.push((t, self.stop_ms, self.messages_per_s));
        }
        out
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledOp {
    pub at_ms: Millis,
    pub by: MemberId,
    pub action: Action,
}

/// What a scheduled operation asks of its member.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Add or remove `target`.
    Membership(OpKind, MemberId),
    /// Refresh the member's own MLS keys (coordinated groups).
    Update,
    /// Nominate a server agent for the next generation (takeover, or the
    /// upgrade of a lightweight group).
    Nominate(ServerId),
    /// Rename the group: its new name and picture reference.
    Rename {
        name: String,
        picture: Option<String>,
    },
}

/// What `commsim explore` may add to the scenario, per seed. Every checker
/// is held to `pass` (what a correct protocol must give) unless `expect`
/// says otherwise for a variant.
#[derive(Clone, Debug, PartialEq)]
pub struct ExploreBounds {
    /// Fault kinds to draw from; each seed uses a random subset of them
    /// (swarm testing).
    pub faults: Vec<crate::faults::FaultType>,
    pub max_faults: u32,
    /// Faults begin and end inside [start, end).
    pub window: (Millis, Millis),
    /// Upper bound of loss, duplication and reordering rates.
    pub max_rate: f64,
    /// Hosts faults may name; `None` for every host.
    pub hosts: Option<Vec<Peer>>,
    /// Op kinds to add (add, remove, update, nominate).
    pub ops: Vec<String>,
    pub max_ops: u32,
    /// The shape of the run itself, drawn per plan: host counts and the
    /// traffic's rate, its bursts and silences (see [`PlanShape`]).
    pub shape: PlanShape,
    /// Ops placed where races are: within 50 ms of another op, or just
    /// before or after a fault's edge or a timer's.
    pub races: bool,
    /// Faults combined to hit a protocol phase (a fork whose sides are
    /// cut apart, the server on a partition's small side, a second
    /// server failure after a takeover...; see `explore/combos.rs`).
    pub combos: bool,
    pub expect: BTreeMap<Variant, Expect>,
}

/// Ranges the generator draws a run's shape from; `None` keeps the
/// scenario's own value, so a file without them explores as before.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanShape {
    pub members: Option<(u32, u32)>,
    pub agents: Option<(u32, u32)>,
    pub servers: Option<(u32, u32)>,
    /// The base rate, drawn log-uniformly (from one a minute to a busy
    /// group, say).
    pub messages_per_s: Option<(f64, f64)>,
    /// Up to this many bursts or silences (`[[workload.phases]]`).
    pub max_phases: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BoundsParams {
    pub convergence_ms: Millis,
    pub detection_ms: Millis,
    /// How long after a fault lifts, or a failure is detected, a delivery
    /// it held up may still arrive; `None` measures without judging.
    pub recovery_ms: Option<Millis>,
}

impl Scenario {
    /// The time the last fault is lifted (or starts, if it lasts forever).
    pub fn heal_at(&self) -> Millis {
        self.faults
            .iter()
            .map(|f| f.until_ms.unwrap_or(f.at_ms))
            .max()
            .unwrap_or(0)
    }

    /// How far ahead of simulated time every host's clock reads: the
    /// largest negative clock offset, so that a member set back by it reads
    /// zero at worst. A clock clamped at zero would stand still and stop
    /// its member's timers; a common epoch keeps every clock moving and
    /// every difference between clocks what the scenario says. 0 without
    /// a negative offset, so that such scenarios run exactly as before.
    pub fn clock_epoch(&self) -> Millis {
        (self.faults.iter())
            .filter_map(|f| match f.kind {
                FaultKind::ClockSkew { offset_ms, .. } if offset_ms < 0 => {
                    Some(offset_ms.unsigned_abs())
                }
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// When the run stops and the checkers look.
    pub fn end_at(&self) -> Millis {
        let last_op = self.workload.ops.iter().map(|o| o.at_ms).max().unwrap_or(0);
        self.heal_at()
            .max(self.workload.stop_ms)
            .max(last_op)
            .saturating_add(self.healing_ms)
    }
}

impl Scenario {
    /// A small fault-free scenario with every default, for unit tests and
    /// benches that vary one parameter (the member count, say).
    pub fn minimal(members: u32, agents: u32) -> Scenario {
        Scenario {
            name: "minimal".into(),
            description: String::new(),
            seed: 1,
            seeds: SeedRange::DEFAULT,
            variants: Variant::DEFAULT.to_vec(),
            sim: SimParams { tick_ms: 5 },
            topology: Topology {
                members,
                agents,
                agents_per_member: 2,
                founders: members,
                servers: 0,
            },
            group_kind: GroupKind::Lightweight,
            network: NetworkParams {
                latency_ms: 20,
                jitter_ms: 10,
            },
            protocol: ProtocolParams {
                fetch_interval_ms: 500,
                retry_ms: 1_000,
                max_attempts: 30,
                ephemeral_ttl_ms: 30_000,
                rotate_every_ms: 20_000,
                long_term_ttl_ms: 3_600_000,
                parent_timeout_ms: 10_000,
                ack_timeout_ms: 5_000,
                takeover_after_ms: 2_000,
                audit_every_ms: 5_000,
                deliver_to_all: true,
            },
            workload: Workload {
                start_ms: 1_000,
                stop_ms: 10_000,
                messages_per_s: 2.0,
                reply_probability: 0.5,
                phases: Vec::new(),
                ops: Vec::new(),
            },
            faults: Vec::new(),
            healing_ms: 10_000,
            bounds: BoundsParams {
                convergence_ms: 10_000,
                detection_ms: 10_000,
                recovery_ms: None,
            },
            expect: BTreeMap::new(),
            explore: ExploreBounds {
                faults: Vec::new(),
                max_faults: 0,
                window: (1_000, 10_000),
                max_rate: 0.2,
                hosts: None,
                ops: Vec::new(),
                max_ops: 0,
                shape: PlanShape::default(),
                races: false,
                combos: false,
                expect: BTreeMap::new(),
            },
            source_sha256: String::new(),
        }
    }
}
