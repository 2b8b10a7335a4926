//! One pass over the trace that every checker shares.
//!
//! The checkers ask overlapping questions (who is reachable, which views were
//! held, what a message causally follows), so the trace is parsed once here
//! and odd records are noted instead of trusted: a checker must be able to
//! answer `Unknown` with a reason rather than panic on a truncated trace.

pub use super::at::At;
use super::coordination::Coordination;
use crate::trace::Record;

mod delivery;
mod faults;
mod membership;
mod run;
mod servers;

use crate::core::ids::{AgentId, EnvelopeId, MemberId, MessageId, Millis, Peer, ServerId};
use crate::core::server::dishonest::Mode;
use crate::trace::Trace;
use crate::trace::{Bounds, Event, HostEvent, OpKind, Phase};
pub use delivery::Delivery;
pub use faults::{Faults, Span};
pub use membership::Membership;
pub use run::Run;
pub use servers::Servers;
use std::collections::{BTreeMap, BTreeSet};

/// What `RunStarted` promised.
#[derive(Clone, Debug)]
pub struct Start {
    pub bounds: Bounds,
    pub members: Vec<MemberId>,
    pub founders: Vec<MemberId>,
    /// The membership changes the workload asked for.
    pub planned: Vec<crate::trace::PlannedOp>,
}

#[derive(Clone, Debug)]
pub struct Sent {
    pub t: Millis,
    /// Position in the trace: "already delivered" is decided by trace order,
    /// because several events may share one millisecond.
    pub idx: usize,
    pub recipients: BTreeSet<MemberId>,
    pub parents: Vec<MessageId>,
    pub control: bool,
    /// Handed to a server agent to order (not sealed pairwise).
    pub submitted: bool,
}

#[derive(Clone, Debug)]
pub struct Final {
    pub in_group: bool,
    pub view: BTreeSet<MemberId>,
    pub state_lost: bool,
    pub meta: Option<crate::core::member::particle::GroupMeta>,
}

/// A rename the application made: the message carrying it, and the
/// register it set.
#[derive(Clone, Debug)]
pub struct Renamed {
    pub msg: MessageId,
    pub meta: crate::core::member::particle::GroupMeta,
}

#[derive(Clone, Debug)]
pub struct Op {
    pub msg: MessageId,
    pub op: OpKind,
    pub target: MemberId,
}

#[derive(Clone, Debug)]
pub struct Change {
    pub view: BTreeSet<MemberId>,
    pub in_group: bool,
}

/// Members holding one identical final view.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewGroup {
    pub view: BTreeSet<MemberId>,
    pub holders: Vec<MemberId>,
}

/// How the reachable in-group members' final views relate.
#[derive(Clone, Debug, PartialEq)]
pub enum Agreement {
    Nobody,
    Agreed(ViewGroup),
    /// Two or more groups whose views share no member: a fork.
    Islands(Vec<ViewGroup>),
    /// Two or more groups whose views overlap: not converged.
    Diverged(Vec<ViewGroup>),
}

/// A causal past. `incomplete` lists messages reached whose `MessageSent` is
/// missing, so their own parents could not be followed.
#[derive(Clone, Debug, Default)]
pub struct Past {
    pub set: BTreeSet<MessageId>,
    pub incomplete: BTreeSet<MessageId>,
}

#[derive(Clone, Debug, Default)]
pub struct History {
    pub run: Run,
    pub delivery: Delivery,
    pub servers: Servers,
    pub membership: Membership,
    pub faults: Faults,
    /// Coordinated groups: generations, epochs and fork reports.
    pub coord: Coordination,
    /// Records that could not be used, in words.
    pub oddities: Vec<String>,
}

/// One forgery the attacker fault injected.
#[derive(Clone, Debug)]
pub struct Forgery {
    pub t: Millis,
    pub attack: crate::faults::Forgery,
    pub victim: MemberId,
    /// The id a forged group message claims.
    pub msg: Option<MessageId>,
}

/// Where a server agent placed a message: one server's order within one
/// generation (two servers may both have been nominated for a generation
/// while members could not talk).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    pub generation: u32,
    pub server: crate::core::ids::ServerId,
    pub seq: u64,
}

/// One lie of a dishonest server agent, as the server recorded it.
#[derive(Clone, Debug)]
pub struct Lie {
    pub t: Millis,
    pub server: ServerId,
    pub mode: Mode,
    pub to: Vec<MemberId>,
    pub generation: u32,
    pub seq: u64,
}

impl Slot {
    /// The order a slot belongs to.
    pub fn stream(&self) -> (u32, crate::core::ids::ServerId) {
        (self.generation, self.server)
    }
}

impl History {
    /// Every part takes in every record it has a use for, in trace order.
    pub fn from_trace(trace: &Trace) -> History {
        let mut h = History::default();
        for (idx, r) in trace.records.iter().enumerate() {
            let host = match r.host.peer() {
                Some(Peer::Member(m)) => Some(m),
                _ => None,
            };
            let used = [
                h.coord.note(idx, r),
                h.run.note(idx, r, host, &mut h.oddities),
                h.delivery.note(idx, r, host),
                h.servers.note(idx, r, host),
                h.membership.note(idx, r, host),
                h.faults.note(idx, r, host),
            ];
            if used.contains(&false) {
                h.oddities.push(format!(
                    "record {idx}: {} on host {:?} ignored (not a member host, \
                     not the sender, or a repeat)",
                    r.event.kind(),
                    r.host
                ));
            }
        }
        h
    }

    /// Whether `member` had left the order `slot` belongs to by `t`: it
    /// fell back from it, or joined another generation. A slot a server
    /// fills after that is no promise to that member (it no longer reads
    /// that order, and may have dropped its client for it); the sender
    /// owes it the message over Olm, which `delivery` judges as it does
    /// any unacknowledged message. Counted as the server's acknowledgement,
    /// a message a liar ordered after the recipient had caught the lie,
    /// whose sender was wiped just after resending it, was a loss nothing
    /// could have prevented (`coordinated-adversity` explore 624).
    pub fn left_order(&self, member: MemberId, t: Millis, slot: &Slot) -> bool {
        (self.coord.switches.iter())
            .rfind(|s| s.host == member && s.t <= t)
            .is_some_and(|s| {
                s.what
                    .is_none_or(|j| (j.server, j.generation) != (slot.server, slot.generation))
            })
    }

    /// Whether `slot`, which `sender` wrote to, lies on the other branch
    /// of a fork from `member`: after a forking server (the `fork` lie)
    /// showed two sides two commits for one slot, it orders each side's
    /// messages on that side's branch, and serves them to the other side,
    /// which cannot decrypt them. Such a slot is no promise to `member`;
    /// the sender owes it the message over Olm once the fork is caught,
    /// as any unacknowledged one. Counted as the server's
    /// acknowledgement, a message whose sender was wiped before anyone
    /// could catch the fork was a loss nothing could have prevented
    /// (`coordinated-fork-branch-sender-wiped`).
    pub fn other_branch(&self, sender: MemberId, member: MemberId, slot: &Slot) -> bool {
        let forks = (self.faults.lies.iter()).filter(|l| {
            l.mode == crate::core::server::dishonest::Mode::Fork
                && (l.server, l.generation) == (slot.server, slot.generation)
                && l.seq <= slot.seq
        });
        let side_of = |m: MemberId| forks.clone().find(|l| l.to.contains(&m)).map(|l| &l.to);
        matches!((side_of(sender), side_of(member)), (Some(a), Some(b)) if a != b)
    }

    /// The earliest ack time of each message for each recipient: over all
    /// envelopes, and the server's order for whom it still counted.
    ///
    /// An ack by a mailbox agent whose store was wiped afterwards stands
    /// for nothing, nor does a receipt the server gave a message it then
    /// dropped (the `drop` lie): the message is held by its sender alone,
    /// and owed as an unacknowledged one is, while the sender stays up. A
    /// sender wiped too leaves nothing any protocol could deliver
    /// (`coordinated-adversity` explore 1258 of 1001..=2000, shrunk: a drop
    /// victim's resend acknowledged only by an agent wiped before the
    /// heal, then the victim wiped).
    pub fn acked_pairs(&self) -> BTreeMap<(MessageId, MemberId), Millis> {
        let mut out: BTreeMap<(MessageId, MemberId), Millis> = BTreeMap::new();
        let wiped_after = |agent: AgentId, t: Millis| {
            (self.faults.agent_wipes.iter()).any(|(w, a)| *a == agent && *w >= t)
        };
        for (env, (msg, to)) in &self.delivery.envelopes {
            let kept = (self.delivery.acked_by.get(env).into_iter().flatten())
                .filter(|(agent, t)| !wiped_after(*agent, *t))
                .map(|(_, t)| *t)
                .min();
            if let Some(t) = kept {
                let e = out.entry((*msg, *to)).or_insert(t);
                *e = (*e).min(t);
            }
        }
        let dropped = self.dropped_receipts();
        for (msg, &t) in &self.servers.ordered {
            let Some(sent) = self.delivery.sent.get(msg) else {
                continue;
            };
            if dropped.contains(msg) {
                continue;
            }
            // Acknowledged for the recipients the server still counted as
            // members when it ordered the message (a removal ordered first
            // takes a recipient out); for all of them if the server's
            // record is missing.
            let members = self
                .servers
                .slots
                .get(msg)
                .and_then(|slot| self.servers.ordered_for.get(slot));
            // A receipt for a slot whose membership lacks the sender: the
            // server had ordered the sender's removal first, so no honest
            // order holds the message, and only the `drop` lie receipts
            // one (`coordinated-drop-victim-removed`). It was written
            // after its author was out, and is owed to nobody.
            if members.is_some_and(|m| !m.contains(&msg.sender)) {
                continue;
            }
            let slot = self.servers.slots.get(msg);
            let counted = |r: &&MemberId| {
                **r != msg.sender
                    && members.is_none_or(|m| m.contains(r))
                    && slot.is_none_or(|slot| {
                        !self.left_order(**r, t, slot) && !self.other_branch(msg.sender, **r, slot)
                    })
            };
            for to in sent.what.recipients.iter().filter(counted) {
                let e = out.entry((*msg, *to)).or_insert(t);
                *e = (*e).min(t);
            }
        }
        self.cumulative(out)
    }

    /// Messages whose receipt a dropping server never honoured: of the
    /// messages receipted for a slot the server lied about in `drop` mode,
    /// every one but the last receipted, which is the one the slot was
    /// served with (the lie reserves the slot for the next honest message);
    /// and the one receipted for such a slot that the server never filled,
    /// or filled with another sender's message (a silent group gives it no
    /// next message).
    pub fn dropped_receipts(&self) -> BTreeSet<MessageId> {
        let mut claims: BTreeMap<Slot, Vec<(Millis, MessageId)>> = BTreeMap::new();
        for (msg, slot) in &self.servers.slots {
            let t = self.servers.ordered.get(msg).copied().unwrap_or_default();
            claims.entry(*slot).or_default().push((t, *msg));
        }
        let lied = |slot: &Slot| {
            self.faults.lies.iter().any(|l| {
                l.mode == Mode::Drop
                    && l.server == slot.server
                    && l.generation == slot.generation
                    && l.seq == slot.seq
            })
        };
        let mut out = BTreeSet::new();
        for (slot, mut msgs) in claims {
            if !lied(&slot) {
                continue;
            }
            msgs.sort();
            // Judged only from a trace that records what servers ordered.
            let recorded = !self.servers.ordered_senders.is_empty();
            let served = self.servers.ordered_senders.get(&slot);
            if let Some((_, last)) = msgs.pop()
                && recorded
                && served.is_none_or(|senders| !senders.contains(&last.sender))
            {
                out.insert(last);
            }
            out.extend(msgs.into_iter().map(|(_, m)| m));
        }
        out
    }

    /// A message is acknowledged for a recipient only once everything its
    /// sender addressed there before it is too (or has reached it some
    /// other way): the recipient shows nothing before its parents, and
    /// each message follows its sender's earlier ones, so a mailbox or an
    /// order holding the newer message without the older one holds
    /// nothing the recipient can use. Taken one at a time, a sender wiped
    /// while its older message waited out a retry left a newer one
    /// "acknowledged" and undeliverable by any protocol that keeps causal
    /// order (`coordinated-backed-off-parent-unacknowledged`). While the
    /// sender stays up, what this leaves unacknowledged is still owed.
    fn cumulative(
        &self,
        direct: BTreeMap<(MessageId, MemberId), Millis>,
    ) -> BTreeMap<(MessageId, MemberId), Millis> {
        let delivered = self.delivery.first_deliveries();
        let mut out = BTreeMap::new();
        // Per (sender, recipient): when everything sent there so far was
        // acknowledged or delivered; `None` once something never was.
        let mut prefix: BTreeMap<(MemberId, MemberId), Option<Millis>> = BTreeMap::new();
        for (msg, sent) in self.delivery.sent.iter().filter(|(_, s)| !s.what.control) {
            for to in sent.what.recipients.iter().filter(|r| **r != msg.sender) {
                let before = prefix.entry((msg.sender, *to)).or_insert(Some(0));
                let acked = direct.get(&(*msg, *to)).copied();
                if let (Some(b), Some(a)) = (*before, acked) {
                    out.insert((*msg, *to), a.max(b));
                }
                let reached = delivered.get(&(*to, *msg)).map(|d| d.1);
                let here = match (acked, reached) {
                    (Some(a), Some(d)) => Some(a.min(d)),
                    (a, d) => a.or(d),
                };
                *before = before.zip(here).map(|(b, h)| b.max(h));
            }
        }
        // Messages whose sending the trace lacks keep what was seen.
        for (pair, t) in direct {
            if !self.delivery.sent.contains_key(&pair.0) {
                out.insert(pair, t);
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "../tests/history.rs"]
mod tests;
