//! The abstract protocol states a run reached, read from its trace: what
//! guided exploration steers by, and what tells a user which situations a
//! sweep exercised. Each feature forgets who and when (a fallback of m3 at
//! 12 s and of m0 at 40 s for the same cause are one feature) and keeps
//! what the protocol must handle differently: the cause, the generation,
//! the ops still pending, the mode the group was in when a fault struck.
//!
//! The set is fixed and documented (docs/exploration.md): a feature is a
//! typed value, so a new one is a new variant here, and a renamed event
//! is a compiler error, not a feature silently never seen again.

use crate::core::event::{FallbackCause, OpKind};
use crate::core::ids::{MemberId, Peer, ServerId};
use crate::core::server::dishonest::Mode;
use crate::core::server::sequencer::Rejection;
use crate::faults::{FaultType, Forgery};
use crate::trace::{Event, HostEvent, Origin, Phase, Trace};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A generation, as far as recovery differs: the first (formed from a
/// lightweight group or at the start), the first takeover, or later ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gen {
    First,
    Second,
    Later,
}

impl Gen {
    fn of(generation: u32) -> Gen {
        match generation {
            0 | 1 => Gen::First,
            2 => Gen::Second,
            _ => Gen::Later,
        }
    }
}

/// How many messages one backfill asks for at once, in powers of four.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Span {
    One,
    UpTo4,
    UpTo16,
    More,
}

impl Span {
    fn of(n: usize) -> Span {
        match n {
            0 | 1 => Span::One,
            2..=4 => Span::UpTo4,
            5..=16 => Span::UpTo16,
            _ => Span::More,
        }
    }
}

/// The membership ops a member has asked for and not yet seen applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pending {
    pub add: bool,
    pub remove: bool,
}

/// What mode the group is in, as its members see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupMode {
    /// Every member in lightweight mode (never coordinated, or fallen
    /// back).
    Lightweight,
    /// Every member in one generation.
    Coordinated,
    /// Some in a generation, some not, or in different ones: a fallback
    /// or a takeover under way.
    Mixed,
}

/// Why a server turned a submission away, without its numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    StaleEpoch,
    NotAMember,
    WrongGeneration,
    NotServed,
    Refused,
}

impl From<&Rejection> for Refusal {
    fn from(r: &Rejection) -> Refusal {
        match r {
            Rejection::StaleEpoch { .. } => Refusal::StaleEpoch,
            Rejection::NotAMember(_) => Refusal::NotAMember,
            Rejection::WrongGeneration { .. } => Refusal::WrongGeneration,
            Rejection::NotServed(_) => Refusal::NotServed,
            Rejection::Refused => Refusal::Refused,
        }
    }
}

/// One abstract protocol state or event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "feature", rename_all = "snake_case")]
pub enum Feature {
    /// A member left generation `from` for lightweight mode.
    FellBack {
        cause: FallbackCause,
        from: Gen,
        pending: Pending,
    },
    /// A member joined (or formed, as `nominator`) a generation, coming
    /// from lightweight mode or from an older generation.
    Joined {
        generation: Gen,
        nominator: bool,
        from_lightweight: bool,
        pending: Pending,
    },
    /// A member asked for a membership change in this mode.
    OpAsked {
        op: OpKind,
        coordinated: bool,
    },
    /// A server agent took on a later generation while some member had an
    /// op pending.
    TakeoverWhilePending {
        pending: Pending,
    },
    /// Two server agents took on the same generation number.
    RivalGenerations,
    /// A server agent lied (`commit`: about a commit's slot).
    Lied {
        mode: Mode,
        commit: bool,
    },
    ForkDetected,
    EquivocationDetected,
    /// A member waited for this many missing parents at once.
    Backfill {
        span: Span,
    },
    StaleServerNoticed,
    Fenced,
    SubmitRejected {
        refusal: Refusal,
    },
    DeliveryRefused,
    DeliveryAbandoned,
    DecryptFailed,
    /// A member restarted (`volatile_lost`: its in-memory queues gone).
    Restarted {
        volatile_lost: bool,
    },
    MailboxWiped,
    AddressRefused,
    AddressLookedUp,
    /// A member learnt it was removed.
    LearntRemoved,
    /// The attacker forged this.
    Forged {
        attack: Forgery,
    },
    /// A fault began while the group was in this mode.
    FaultWhile {
        fault: FaultType,
        mode: GroupMode,
    },
    /// The highest generation any server agent took on.
    Generations {
        reached: Gen,
    },
}

/// Where each member stands, as the trace tells it so far.
#[derive(Default)]
struct Walk {
    /// The generation each member is in; absent: lightweight mode.
    generation: BTreeMap<MemberId, u32>,
    /// Each member's asked-for ops not yet applied, by message.
    pending: BTreeMap<MemberId, BTreeMap<crate::core::ids::MessageId, OpKind>>,
    /// Slots the server ordered as commits.
    commits: BTreeSet<(ServerId, u32, u64)>,
    /// Which server took on which generation.
    accepted: BTreeMap<u32, BTreeSet<ServerId>>,
    members: Vec<MemberId>,
}

impl Walk {
    fn pending(&self, m: MemberId) -> Pending {
        let mut p = Pending::default();
        for op in self
            .pending
            .get(&m)
            .into_iter()
            .flat_map(|ops| ops.values())
        {
            match op {
                OpKind::Add => p.add = true,
                OpKind::Remove => p.remove = true,
            }
        }
        p
    }

    fn anyone_pending(&self) -> Pending {
        let mut all = Pending::default();
        for m in self.pending.keys() {
            let p = self.pending(*m);
            all.add |= p.add;
            all.remove |= p.remove;
        }
        all
    }

    fn mode(&self) -> GroupMode {
        let gens: BTreeSet<Option<u32>> = (self.members.iter())
            .map(|m| self.generation.get(m).copied())
            .collect();
        match gens.len() {
            1 if gens.contains(&None) => GroupMode::Lightweight,
            1 => GroupMode::Coordinated,
            _ => GroupMode::Mixed,
        }
    }
}

/// Every feature the run reached.
pub fn features(trace: &Trace) -> BTreeSet<Feature> {
    let mut out = BTreeSet::new();
    let mut w = Walk::default();
    for r in &trace.records {
        let host = match r.host {
            Origin::Host(p) => Some(p),
            Origin::Sim => None,
        };
        let member = match host {
            Some(Peer::Member(m)) => Some(m),
            _ => None,
        };
        let server = match host {
            Some(Peer::Server(c)) => Some(c),
            _ => None,
        };
        match &r.event {
            Event::RunStarted { founders, .. } => w.members = founders.clone(),
            Event::Fault {
                phase: Phase::Begin,
                fault,
                ..
            } => {
                out.insert(Feature::FaultWhile {
                    fault: fault.fault_type(),
                    mode: w.mode(),
                });
            }
            Event::Forged { attack, .. } => {
                out.insert(Feature::Forged { attack: *attack });
            }
            Event::Host(e) => note(&mut w, &mut out, member, server, e),
            _ => {}
        }
    }
    if let Some(top) = w.accepted.keys().max() {
        out.insert(Feature::Generations {
            reached: Gen::of(*top),
        });
    }
    out
}

fn note(
    w: &mut Walk,
    out: &mut BTreeSet<Feature>,
    member: Option<MemberId>,
    server: Option<ServerId>,
    e: &HostEvent,
) {
    if let Some(m) = member {
        let feature = match e {
            HostEvent::FellBack { cause, .. } => {
                let from = Gen::of(w.generation.remove(&m).unwrap_or(0));
                Some(Feature::FellBack {
                    cause: *cause,
                    from,
                    pending: w.pending(m),
                })
            }
            HostEvent::Joined {
                generation,
                nominator,
                ..
            } => {
                let from_lightweight = w.generation.insert(m, *generation).is_none();
                if !w.members.contains(&m) {
                    w.members.push(m);
                }
                Some(Feature::Joined {
                    generation: Gen::of(*generation),
                    nominator: *nominator == m,
                    from_lightweight,
                    pending: w.pending(m),
                })
            }
            HostEvent::MembershipOp { msg, op, .. } => {
                w.pending.entry(m).or_default().insert(*msg, *op);
                Some(Feature::OpAsked {
                    op: *op,
                    coordinated: w.generation.contains_key(&m),
                })
            }
            HostEvent::MembershipChanged {
                in_group, cause, ..
            } => {
                if let (Some(msg), Some(ops)) = (cause, w.pending.get_mut(&m)) {
                    ops.remove(msg);
                }
                if !*in_group {
                    w.members.retain(|x| *x != m);
                    w.generation.remove(&m);
                }
                (!*in_group).then_some(Feature::LearntRemoved)
            }
            HostEvent::ForkDetected { .. } => Some(Feature::ForkDetected),
            HostEvent::EquivocationDetected { .. } => Some(Feature::EquivocationDetected),
            HostEvent::ParentMissing { missing, .. } => Some(Feature::Backfill {
                span: Span::of(missing.len()),
            }),
            HostEvent::StaleServer { .. } => Some(Feature::StaleServerNoticed),
            HostEvent::DeliveryRefused { .. } => Some(Feature::DeliveryRefused),
            HostEvent::DeliveryAbandoned { .. } => Some(Feature::DeliveryAbandoned),
            HostEvent::DecryptFailed { .. } => Some(Feature::DecryptFailed),
            HostEvent::MemberStarted {
                restart: true,
                volatile_lost,
            } => Some(Feature::Restarted {
                volatile_lost: *volatile_lost,
            }),
            HostEvent::AddressLookedUp { .. } => Some(Feature::AddressLookedUp),
            _ => None,
        };
        out.extend(feature);
        return;
    }
    let feature = match e {
        HostEvent::Ordered {
            generation,
            seq,
            commit: true,
            ..
        } => {
            if let Some(c) = server {
                w.commits.insert((c, *generation, *seq));
            }
            None
        }
        HostEvent::Lied {
            mode,
            generation,
            seq,
            ..
        } => Some(Feature::Lied {
            mode: *mode,
            commit: server.is_some_and(|c| w.commits.contains(&(c, *generation, *seq))),
        }),
        HostEvent::GenerationAccepted { generation, .. } => {
            let servers = w.accepted.entry(*generation).or_default();
            servers.extend(server);
            if servers.len() > 1 {
                out.insert(Feature::RivalGenerations);
            }
            let pending = w.anyone_pending();
            (*generation >= 2 && pending != Pending::default())
                .then_some(Feature::TakeoverWhilePending { pending })
        }
        HostEvent::Fenced { .. } => Some(Feature::Fenced),
        HostEvent::SubmitRejected { reason, .. } => Some(Feature::SubmitRejected {
            refusal: reason.into(),
        }),
        HostEvent::MailboxWiped => Some(Feature::MailboxWiped),
        HostEvent::AddressRefused { .. } => Some(Feature::AddressRefused),
        _ => None,
    };
    out.extend(feature);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FaultKind;
    use crate::trace::testkit::{Tb, id};

    /// A takeover with an add pending: the fallback, the join of the new
    /// generation and the takeover each carry the pending add; a lie about
    /// a commit's slot is told from a lie about a message's; a fault that
    /// strikes while members disagree on the generation is seen as such.
    #[test]
    fn a_takeover_with_an_add_pending() {
        let mut tb = Tb::start(&[0, 1, 2]);
        tb.joined(10, 0, 1, 0, 0)
            .joined(20, 1, 1, 0, 0)
            .joined(20, 2, 1, 0, 0);
        tb.ordered(100, 0, 1, 0, 1, 1, true, &[0, 1, 2]);
        tb.at(
            110,
            "c0",
            Event::Host(HostEvent::Lied {
                mode: Mode::Drop,
                to: vec![MemberId(1)],
                generation: 1,
                seq: 0,
            }),
        );
        tb.add(200, 0, 3, id(0, 5));
        tb.fell_back(300, 0);
        tb.fault(350, 0, Phase::Begin, FaultKind::Loss { rate: 0.1 });
        tb.accepted(400, 1, 2, 0);
        tb.joined(410, 0, 2, 1, 0);
        tb.parent_missing(500, 2, id(0, 9), &[id(0, 6), id(0, 7), id(0, 8)]);
        let f = features(&tb.build());
        let add = Pending {
            add: true,
            remove: false,
        };
        for expected in [
            Feature::Lied {
                mode: Mode::Drop,
                commit: true,
            },
            Feature::OpAsked {
                op: OpKind::Add,
                coordinated: true,
            },
            Feature::FellBack {
                cause: FallbackCause::NoReceipt,
                from: Gen::First,
                pending: add,
            },
            Feature::FaultWhile {
                fault: FaultType::Loss,
                mode: GroupMode::Mixed,
            },
            Feature::TakeoverWhilePending { pending: add },
            Feature::Joined {
                generation: Gen::Second,
                nominator: true,
                from_lightweight: true,
                pending: add,
            },
            Feature::Backfill { span: Span::UpTo4 },
            Feature::Generations {
                reached: Gen::Second,
            },
        ] {
            assert!(f.contains(&expected), "{expected:?} not in {f:#?}");
        }
        // Applied, the add is no longer pending at the next transition.
        let mut tb2 = Tb::start(&[0, 1]);
        tb2.joined(10, 0, 1, 0, 0).add(200, 0, 3, id(0, 5));
        tb2.at(
            250,
            "m0",
            Event::Host(HostEvent::MembershipChanged {
                view: vec![MemberId(0), MemberId(1), MemberId(3)],
                in_group: true,
                cause: Some(id(0, 5)),
            }),
        );
        tb2.fell_back(300, 0);
        let f = features(&tb2.build());
        assert!(f.contains(&Feature::FellBack {
            cause: FallbackCause::NoReceipt,
            from: Gen::First,
            pending: Pending::default(),
        }));
    }
}
