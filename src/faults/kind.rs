//! The fault vocabulary: what a scenario can do to a run, typed once and
//! used as it is by the loader, the executor, the trace, the checkers, the
//! generator and the timeline. A fault's kind is an enum, never a name
//! matched back, so that adding one is a compiler error at every place
//! that must handle it.

use crate::core::ids::{
    MemberId, Millis, Peer, ServerId, host_name, host_names, millis_text, optional_host_name,
    signed_millis_text,
};
use crate::core::server::dishonest::Mode;
use serde::{Deserialize, Serialize};
use strum::{EnumDiscriminants, EnumIter, EnumString, IntoStaticStr};

/// One fault of a plan: when it begins, when (if ever) it is lifted, and
/// what it does.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub at_ms: Millis,
    /// When the fault is lifted; `None` for faults that last to the end.
    pub until_ms: Option<Millis>,
    pub kind: FaultKind,
}

/// What a host keeps across a crash, from the most to the least (the
/// order is what overlapping crashes of one host combine by).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StateOnRestart {
    /// Everything survives (the process was only stopped).
    Kept,
    /// Members: in-memory queues (unsent retries, buffered out-of-order
    /// messages) are lost; what a client persists survives.
    VolatileLost,
    /// Agents: the whole mailbox store is lost. Members: the device is
    /// wiped and comes back with new identity keys and no group state.
    Wiped,
}

/// What a fault does, with its parameters. Its serde form is the one the
/// trace records (`{"kind": "crash", "host": "c0", "state": "kept"}`), so
/// a saved trace carries the fault itself, not a description of it; and
/// it is the `[[faults]]` table of a scenario file, field for field, so
/// that `explore` and `shrink` write faults back without a line per kind.
///
/// [`FaultType`] is the same list without parameters: the names scenario
/// files, `[explore]` bounds and the timeline's legend use. The order is
/// the order `explore` draws kinds in: a new kind goes last, or every
/// explored plan changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, EnumDiscriminants)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[strum_discriminants(
    name(FaultType),
    derive(
        EnumIter,
        EnumString,
        IntoStaticStr,
        PartialOrd,
        Ord,
        Hash,
        Serialize,
        Deserialize
    ),
    strum(serialize_all = "snake_case"),
    serde(rename_all = "snake_case")
)]
pub enum FaultKind {
    /// No datagram crosses between `a` and `b` in either direction.
    Partition {
        #[serde(with = "host_names")]
        a: Vec<Peer>,
        #[serde(with = "host_names")]
        b: Vec<Peer>,
    },
    /// Datagrams from `from` to `to` are dropped; the reverse still flows.
    PartitionOneway {
        #[serde(with = "host_names")]
        from: Vec<Peer>,
        #[serde(with = "host_names")]
        to: Vec<Peer>,
    },
    /// Each datagram is lost independently with this probability.
    Loss { rate: f64 },
    /// Each datagram is sent twice with this probability.
    Duplicate { rate: f64 },
    /// Each datagram is held back by up to `extra_ms` with this probability,
    /// so later ones overtake it.
    Reorder {
        rate: f64,
        #[serde(rename = "extra", with = "millis_text")]
        extra_ms: Millis,
    },
    /// Extra latency and jitter on every datagram.
    Latency {
        #[serde(rename = "extra", with = "millis_text")]
        extra_ms: Millis,
        #[serde(rename = "jitter", with = "millis_text")]
        jitter_ms: Millis,
    },
    /// The host stops; it restarts at `until_ms` if given.
    Crash {
        #[serde(with = "host_name")]
        host: Peer,
        state: StateOnRestart,
    },
    /// A member is cut off from everyone and comes back at `until_ms`.
    Offline {
        #[serde(with = "host_name")]
        member: MemberId,
    },
    /// The member's ephemeral addresses are expired at every agent.
    ExpireAddresses {
        #[serde(with = "host_name")]
        member: MemberId,
    },
    /// The member's clock reads `offset_ms` off the others' (see
    /// `Scenario::clock_epoch`).
    ClockSkew {
        #[serde(with = "host_name")]
        member: MemberId,
        #[serde(rename = "offset", with = "signed_millis_text")]
        offset_ms: i64,
    },
    /// A server agent stays up but refuses service until `until_ms`.
    Refuse {
        #[serde(rename = "host", with = "host_name")]
        server: ServerId,
    },
    /// A server agent stays up and lies until `until_ms`: it equivocates
    /// to `victim`, drops the victim's submissions, replays old messages,
    /// or forks the group by commits between `sides` (see
    /// `core/server/dishonest.rs` and `fork.rs`).
    Dishonest {
        #[serde(rename = "host", with = "host_name")]
        server: ServerId,
        mode: Mode,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "optional_host_name"
        )]
        victim: Option<MemberId>,
        /// Mode `fork`: the members shown one history (`a`) and the
        /// members shown the other (`b`).
        #[serde(flatten, with = "fork_sides")]
        sides: Option<(Vec<MemberId>, Vec<MemberId>)>,
    },
    /// An attacker on the network injects forgeries aimed at `victim`
    /// until `until_ms` (see `faults/attack.rs`).
    Attack {
        #[serde(rename = "mode")]
        forgery: Forgery,
        #[serde(with = "host_name")]
        victim: MemberId,
    },
}

named_enum!(FaultType);

/// A fork's sides as the file writes them: two fields, `a` and `b`, beside
/// the fault's others, and neither when the lie is not a fork.
mod fork_sides {
    use crate::core::ids::{MemberId, host_names};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    type Sides = Option<(Vec<MemberId>, Vec<MemberId>)>;

    #[derive(Serialize, Deserialize)]
    struct Named {
        #[serde(with = "host_names")]
        a: Vec<MemberId>,
        #[serde(with = "host_names")]
        b: Vec<MemberId>,
    }

    pub fn serialize<S: Serializer>(sides: &Sides, s: S) -> Result<S::Ok, S::Error> {
        let named = sides.as_ref().map(|(a, b)| Named {
            a: a.clone(),
            b: b.clone(),
        });
        named.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Sides, D::Error> {
        Ok(Option::<Named>::deserialize(d)?.map(|n| (n.a, n.b)))
    }
}

/// What sort of harm a fault does, as a picture of a run tells them apart:
/// the timeline gives each sort its colour, so a new kind of fault picks
/// its sort here rather than a colour there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Harm {
    /// Hosts that cannot reach each other.
    Cut,
    /// Datagrams lost one way only.
    OneWayCut,
    /// A host stopped.
    Crash,
    /// A member gone from the network.
    Offline,
    /// A server agent or an attacker lying.
    Lie,
    /// A server agent turning requests away.
    Refusal,
    /// Network-wide or clock trouble: loss, delay, duplication, skew.
    Weather,
}

impl FaultType {
    pub fn harm(self) -> Harm {
        match self {
            FaultType::Partition => Harm::Cut,
            FaultType::PartitionOneway => Harm::OneWayCut,
            FaultType::Crash => Harm::Crash,
            FaultType::Offline => Harm::Offline,
            FaultType::Dishonest | FaultType::Attack => Harm::Lie,
            FaultType::Refuse => Harm::Refusal,
            FaultType::Loss
            | FaultType::Duplicate
            | FaultType::Reorder
            | FaultType::Latency
            | FaultType::ExpireAddresses
            | FaultType::ClockSkew => Harm::Weather,
        }
    }
}

/// How a fault makes a server agent fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerFailure {
    /// It stops (a crash) from the fault's start; `recovers` when it comes
    /// back with its state.
    Stops { recovers: bool },
    /// It stays up and turns requests away: a failure from the first
    /// request it refuses.
    Refuses,
    /// It stays up and lies: a failure from its first lie.
    Lies,
}

impl FaultType {
    /// Whether the fault needs a server agent, so a coordinated group.
    pub fn needs_server(self) -> bool {
        match self {
            FaultType::Refuse | FaultType::Dishonest => true,
            FaultType::Partition
            | FaultType::PartitionOneway
            | FaultType::Loss
            | FaultType::Duplicate
            | FaultType::Reorder
            | FaultType::Latency
            | FaultType::Crash
            | FaultType::Offline
            | FaultType::ExpireAddresses
            | FaultType::ClockSkew
            | FaultType::Attack => false,
        }
    }
}

/// Who a fault cuts off from whom, as checkers that excuse a member need
/// to know it.
#[derive(Clone, Debug, PartialEq)]
pub enum Cut<'a> {
    /// Nobody: the fault does not separate hosts (loss, a lying server).
    None,
    /// This host is cut off from everyone (offline, crashed).
    Alone(Peer),
    /// The two sides cannot talk (a one-way partition is taken as a full
    /// one: comparing notes needs answers both ways).
    Sides(&'a [Peer], &'a [Peer]),
}

impl FaultKind {
    pub fn fault_type(&self) -> FaultType {
        self.into()
    }

    /// The hosts the fault names, in the order the scenario gives them.
    pub fn hosts(&self) -> Vec<Peer> {
        match self {
            FaultKind::Partition { a, b } => a.iter().chain(b).copied().collect(),
            FaultKind::PartitionOneway { from, to } => from.iter().chain(to).copied().collect(),
            FaultKind::Loss { .. }
            | FaultKind::Duplicate { .. }
            | FaultKind::Reorder { .. }
            | FaultKind::Latency { .. } => Vec::new(),
            FaultKind::Crash { host, .. } => vec![*host],
            FaultKind::Refuse { server } | FaultKind::Dishonest { server, .. } => {
                vec![Peer::Server(*server)]
            }
            FaultKind::Offline { member }
            | FaultKind::ExpireAddresses { member }
            | FaultKind::ClockSkew { member, .. }
            | FaultKind::Attack { victim: member, .. } => vec![Peer::Member(*member)],
        }
    }

    /// Whom the fault separates while it lasts.
    pub fn cut(&self) -> Cut<'_> {
        match self {
            FaultKind::Partition { a, b } => Cut::Sides(a, b),
            FaultKind::PartitionOneway { from, to } => Cut::Sides(from, to),
            FaultKind::Offline { member } => Cut::Alone(Peer::Member(*member)),
            FaultKind::Crash { host, .. } => Cut::Alone(*host),
            FaultKind::Loss { .. }
            | FaultKind::Duplicate { .. }
            | FaultKind::Reorder { .. }
            | FaultKind::Latency { .. }
            | FaultKind::Refuse { .. }
            | FaultKind::Dishonest { .. }
            | FaultKind::ExpireAddresses { .. }
            | FaultKind::ClockSkew { .. }
            | FaultKind::Attack { .. } => Cut::None,
        }
    }

    /// The same fault with its hosts renamed by `host` (a shrinker taking
    /// a host out renumbers the rest); `None` when it names a host that is
    /// gone and cannot do without it (a partition side left empty).
    pub fn renamed(&self, host: &impl Fn(Peer) -> Option<Peer>) -> Option<FaultKind> {
        let member = |m: MemberId| match host(Peer::Member(m))? {
            Peer::Member(m) => Some(m),
            _ => None,
        };
        let server = |c: ServerId| match host(Peer::Server(c))? {
            Peer::Server(c) => Some(c),
            _ => None,
        };
        let side = |hosts: &[Peer]| -> Option<Vec<Peer>> {
            let kept: Vec<Peer> = hosts.iter().filter_map(|h| host(*h)).collect();
            (!kept.is_empty()).then_some(kept)
        };
        Some(match self {
            FaultKind::Partition { a, b } => FaultKind::Partition {
                a: side(a)?,
                b: side(b)?,
            },
            FaultKind::PartitionOneway { from, to } => FaultKind::PartitionOneway {
                from: side(from)?,
                to: side(to)?,
            },
            FaultKind::Crash { host: h, state } => FaultKind::Crash {
                host: host(*h)?,
                state: *state,
            },
            FaultKind::Refuse { server: c } => FaultKind::Refuse {
                server: server(*c)?,
            },
            FaultKind::Dishonest {
                server: c,
                mode,
                victim,
                sides,
            } => FaultKind::Dishonest {
                server: server(*c)?,
                mode: *mode,
                victim: match victim {
                    Some(v) => Some(member(*v)?),
                    None => None,
                },
                // A fork keeps the members still there on each side; a side
                // left empty leaves no fork to make.
                sides: match sides {
                    Some((a, b)) => {
                        let kept = |s: &[MemberId]| -> Option<Vec<MemberId>> {
                            let kept: Vec<MemberId> = s.iter().filter_map(|m| member(*m)).collect();
                            (!kept.is_empty()).then_some(kept)
                        };
                        Some((kept(a)?, kept(b)?))
                    }
                    None => None,
                },
            },
            FaultKind::Offline { member: m } => FaultKind::Offline {
                member: member(*m)?,
            },
            FaultKind::ExpireAddresses { member: m } => FaultKind::ExpireAddresses {
                member: member(*m)?,
            },
            FaultKind::ClockSkew {
                member: m,
                offset_ms,
            } => FaultKind::ClockSkew {
                member: member(*m)?,
                offset_ms: *offset_ms,
            },
            FaultKind::Attack { forgery, victim } => FaultKind::Attack {
                forgery: *forgery,
                victim: member(*victim)?,
            },
            FaultKind::Loss { .. }
            | FaultKind::Duplicate { .. }
            | FaultKind::Reorder { .. }
            | FaultKind::Latency { .. } => self.clone(),
        })
    }

    /// The server agent this fault makes fail, and how, for the fallback
    /// checker: what a member can notice differs with how it fails.
    pub fn server_failure(&self) -> Option<(ServerId, ServerFailure)> {
        match self {
            FaultKind::Crash {
                host: Peer::Server(s),
                state,
            } => Some((
                *s,
                ServerFailure::Stops {
                    recovers: *state == StateOnRestart::Kept,
                },
            )),
            FaultKind::Refuse { server } => Some((*server, ServerFailure::Refuses)),
            FaultKind::Dishonest { server, .. } => Some((*server, ServerFailure::Lies)),
            FaultKind::Crash { .. }
            | FaultKind::Partition { .. }
            | FaultKind::PartitionOneway { .. }
            | FaultKind::Loss { .. }
            | FaultKind::Duplicate { .. }
            | FaultKind::Reorder { .. }
            | FaultKind::Latency { .. }
            | FaultKind::Offline { .. }
            | FaultKind::ExpireAddresses { .. }
            | FaultKind::ClockSkew { .. }
            | FaultKind::Attack { .. } => None,
        }
    }
}

/// What the attacker fault forges. Each is something a member must reject
/// without losing anything genuine (see `faults/attack.rs`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    EnumIter,
    EnumString,
    IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Forgery {
    /// Swallows the victim's submissions to its server agent and answers
    /// each with a receipt signed by the attacker's key.
    Receipt,
    /// A stranger's Olm pre-key message claiming a group member's name.
    Outsider,
    /// Envelopes and ordered messages delivered again: into another
    /// member's mailbox, and into the victim's own, later.
    Replay,
    /// A copy of each datagram for the victim's mailbox with its
    /// ciphertext altered, arriving just ahead of the genuine one.
    Corrupt,
}

named_enum!(Forgery);

#[cfg(test)]
impl FaultKind {
    /// One fault of every kind, on hosts that a coordinated group of four
    /// members, two agents and two server agents has: for tests that
    /// must cover every kind (a new kind's sample goes here).
    pub fn samples() -> Vec<FaultKind> {
        vec![
            FaultKind::Partition {
                a: vec![Peer::named("m0")],
                b: vec![Peer::named("s1")],
            },
            FaultKind::PartitionOneway {
                from: vec![Peer::named("c1")],
                to: vec![Peer::named("m2")],
            },
            FaultKind::Loss { rate: 0.1 },
            FaultKind::Duplicate { rate: 0.1 },
            FaultKind::Reorder {
                rate: 0.1,
                extra_ms: 3,
            },
            FaultKind::Latency {
                extra_ms: 1,
                jitter_ms: 2,
            },
            FaultKind::Crash {
                host: Peer::named("m1"),
                state: StateOnRestart::VolatileLost,
            },
            FaultKind::Refuse {
                server: ServerId(0),
            },
            FaultKind::Dishonest {
                server: ServerId(1),
                mode: Mode::Fork,
                victim: None,
                sides: Some((vec![MemberId(0)], vec![MemberId(1)])),
            },
            FaultKind::Offline {
                member: MemberId(2),
            },
            FaultKind::ExpireAddresses {
                member: MemberId(2),
            },
            FaultKind::ClockSkew {
                member: MemberId(2),
                offset_ms: -40,
            },
            FaultKind::Attack {
                forgery: Forgery::Corrupt,
                victim: MemberId(3),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One name per kind: the one serde writes into the trace is the one
    /// scenario files and `[explore]` use.
    #[test]
    fn serde_and_scenario_names_agree() {
        let samples = FaultKind::samples();
        assert_eq!(samples.len(), FaultType::all().count());
        for k in samples {
            let json = serde_json::to_value(&k).unwrap();
            assert_eq!(json["kind"], k.fault_type().name(), "{json}");
            let back: FaultKind = serde_json::from_value(json).unwrap();
            assert_eq!(back, k);
        }
        for t in FaultType::all() {
            assert_eq!(FaultType::parse(t.name()), Some(t));
        }
        for g in Forgery::all() {
            assert_eq!(serde_json::to_value(g).unwrap(), g.name());
        }
    }

    #[test]
    fn a_crash_is_written_with_host_names() {
        let k = FaultKind::Crash {
            host: Peer::named("c0"),
            state: StateOnRestart::Kept,
        };
        assert_eq!(
            serde_json::to_string(&k).unwrap(),
            r#"{"kind":"crash","host":"c0","state":"kept"}"#
        );
    }

    /// A lie is written as the file writes it: the server agent as
    /// `host`, a fork's sides as `a` and `b`, spans with their unit.
    #[test]
    fn a_fork_is_written_as_the_file_writes_it() {
        let fork = FaultKind::Dishonest {
            server: ServerId(1),
            mode: Mode::Fork,
            victim: None,
            sides: Some((vec![MemberId(0)], vec![MemberId(1), MemberId(2)])),
        };
        assert_eq!(
            serde_json::to_string(&fork).unwrap(),
            r#"{"kind":"dishonest","host":"c1","mode":"fork","a":["m0"],"b":["m1","m2"]}"#
        );
        let skew = FaultKind::ClockSkew {
            member: MemberId(2),
            offset_ms: -40,
        };
        assert_eq!(
            serde_json::to_string(&skew).unwrap(),
            r#"{"kind":"clock_skew","member":"m2","offset":"-40ms"}"#
        );
    }
}
