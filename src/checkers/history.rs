//! One pass over the trace that every checker shares.
//!
//! The checkers ask overlapping questions (who is reachable, which views were
//! held, what a message causally follows), so the trace is parsed once here
//! and odd records are noted instead of trusted: a checker must be able to
//! answer `Unknown` with a reason rather than panic on a truncated trace.

pub use super::at::At;
use super::coordination::Coordination;
use crate::core::ids::{EnvelopeId, MemberId, MessageId, Millis, Peer, ServerId};
use crate::core::server::dishonest::Mode;
use crate::faults::{FaultKind, StateOnRestart};
use crate::trace::Trace;
use crate::trace::{Bounds, Event, HostEvent, OpKind, Phase};
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
    pub start: Option<Start>,
    /// Member hosts named in `RunEnded`; `None` when the trace has no end.
    pub running: Option<BTreeSet<MemberId>>,
    /// Per member host, the commands it refused (`command_skipped`), by
    /// the command's own description.
    pub skips: Vec<At<String>>,
    /// When the run ended (the `run_ended` record's time).
    pub ended_at: Option<Millis>,
    pub finals: BTreeMap<MemberId, Final>,
    pub sent: BTreeMap<MessageId, At<Sent>>,
    /// Envelope to (message, recipient).
    pub envelopes: BTreeMap<EnvelopeId, (MessageId, MemberId)>,
    /// Earliest ack time per envelope.
    pub acks: BTreeMap<EnvelopeId, Millis>,
    /// Coordinated groups: when the server agent ordered each message,
    /// which acknowledges it for every recipient at once.
    pub ordered: BTreeMap<MessageId, Millis>,
    /// Coordinated groups: each ordered message's slot, and who the server
    /// counted as members when it filled each slot.
    pub slots: BTreeMap<MessageId, Slot>,
    pub ordered_for: BTreeMap<Slot, BTreeSet<MemberId>>,
    /// Coordinated groups: the (generation, server) streams each member
    /// joined.
    pub joined: BTreeMap<MemberId, BTreeSet<(u32, crate::core::ids::ServerId)>>,
    /// Coordinated groups: the slots that hold commits, with the epoch each
    /// was built on. A member counted in a commit's slot and not in the
    /// next was removed by it.
    pub commits: BTreeMap<Slot, u64>,
    /// Per host, every `Delivered` in trace order.
    pub deliveries: BTreeMap<MemberId, Vec<At<MessageId>>>,
    pub changes: Vec<At<Change>>,
    pub ops: Vec<At<Op>>,
    pub fork_reports: Vec<At<BTreeSet<MemberId>>>,
    /// Coordinated groups: members switching to lightweight mode, and
    /// members joining a generation.
    pub fallbacks: Vec<At<()>>,
    pub joins: Vec<At<u32>>,
    /// Members restarting without their volatile state: what they had not
    /// handed on yet is gone with it.
    pub volatile_lost: Vec<At<()>>,
    /// Server agents that crashed, and when.
    pub server_failures: Vec<(Millis, ServerId)>,
    /// Server agents back from a crash with their state kept, and when.
    pub server_recoveries: Vec<(Millis, ServerId)>,
    pub parent_missing: Vec<At<(MessageId, Vec<MessageId>)>>,
    /// Coordinated groups: generations, epochs and fork reports.
    pub coord: Coordination,
    /// Dishonest-server faults taking effect: (time, server).
    pub dishonest_faults: Vec<(Millis, ServerId)>,
    /// What lying servers recorded of their lies, in trace order.
    pub lies: Vec<Lie>,
    /// Members accusing a server with proof (`equivocation_detected`), or
    /// falling back because it lied (`fell_back` naming the `liar`).
    pub accusations: Vec<At<(ServerId, bool)>>,
    /// Servers under a `refuse` fault, and whether it has turned a request
    /// away yet.
    pub refusing: BTreeMap<ServerId, bool>,
    /// Who could reach whom, and when.
    pub reach: super::reach::Reach,
    /// Every acknowledgement a member took for its own submission, with
    /// the slot its receipt names.
    pub submit_acks: Vec<At<(MessageId, Slot)>>,
    /// Who the server agents recorded ordering in each slot.
    pub ordered_senders: BTreeMap<Slot, BTreeSet<MemberId>>,
    /// The attacker fault's forgeries, in trace order.
    pub forged: Vec<Forgery>,
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
    pub fn from_trace(trace: &Trace) -> History {
        let mut h = History::default();
        for (idx, r) in trace.records.iter().enumerate() {
            let host = match r.host.peer() {
                Some(Peer::Member(m)) => Some(m),
                _ => None,
            };
            let t = r.t;
            let mut unused = !h.coord.note(idx, r);
            if let Event::Fault {
                phase,
                index,
                fault,
            } = &r.event
            {
                h.reach.note(t, *index, fault, *phase);
            }
            match &r.event {
                Event::RunStarted {
                    members,
                    founders,
                    bounds,
                    ops,
                    ..
                } => {
                    if h.start.is_some() {
                        h.oddities
                            .push(format!("record {idx}: second run_started ignored"));
                    } else {
                        h.start = Some(Start {
                            bounds: bounds.clone(),
                            members: members.clone(),
                            founders: founders.clone(),
                            planned: ops.clone(),
                        });
                    }
                }
                Event::Host(HostEvent::CommandSkipped { command, .. }) => {
                    match At::on(host, t, idx, command.clone()) {
                        Some(a) => h.skips.push(a),
                        None => unused = true,
                    }
                }
                Event::Host(HostEvent::MemberStarted {
                    restart: true,
                    volatile_lost: true,
                }) => match At::on(host, t, idx, ()) {
                    Some(a) => h.volatile_lost.push(a),
                    None => unused = true,
                },
                Event::RunEnded { running } => {
                    let set = running.iter().filter_map(|n| match n {
                        Peer::Member(m) => Some(*m),
                        _ => None,
                    });
                    h.running.get_or_insert_with(BTreeSet::new).extend(set);
                    h.ended_at = Some(t);
                }
                Event::FinalView {
                    member,
                    in_group,
                    view,
                    state_lost,
                } => {
                    let f = Final {
                        in_group: *in_group,
                        view: view.iter().copied().collect(),
                        state_lost: *state_lost,
                    };
                    if h.finals.insert(*member, f).is_some() {
                        h.oddities
                            .push(format!("record {idx}: second final view of {member}"));
                    }
                }
                Event::Host(HostEvent::MessageSent {
                    msg,
                    recipients,
                    parents,
                    control,
                    submitted,
                }) => {
                    let s = Sent {
                        t,
                        idx,
                        recipients: recipients.iter().copied().collect(),
                        parents: parents.clone(),
                        control: *control,
                        submitted: *submitted,
                    };
                    match At::on(host, t, idx, s) {
                        Some(a) if a.host == msg.sender && !h.sent.contains_key(msg) => {
                            h.sent.insert(*msg, a);
                        }
                        _ => unused = true,
                    }
                }
                Event::Host(HostEvent::EnvelopeSent { env, msg, to, .. }) => {
                    h.envelopes.entry(*env).or_insert((*msg, *to));
                }
                Event::Host(HostEvent::SubmitAcked {
                    msg,
                    server,
                    generation,
                    seq,
                }) => {
                    let slot = Slot {
                        generation: *generation,
                        server: *server,
                        seq: *seq,
                    };
                    h.ordered.entry(*msg).or_insert(t);
                    h.slots.entry(*msg).or_insert(slot);
                    match At::on(host, t, idx, (*msg, slot)) {
                        Some(a) => h.submit_acks.push(a),
                        None => unused = true,
                    }
                }
                Event::Forged {
                    attack,
                    victim,
                    msg,
                    ..
                } => h.forged.push(Forgery {
                    t,
                    attack: *attack,
                    victim: *victim,
                    msg: *msg,
                }),
                Event::Host(HostEvent::Joined {
                    generation, server, ..
                }) => match At::on(host, t, idx, *generation) {
                    Some(a) => {
                        h.joined
                            .entry(a.host)
                            .or_default()
                            .insert((*generation, *server));
                        h.joins.push(a);
                    }
                    None => unused = true,
                },
                Event::Host(HostEvent::Ordered {
                    generation,
                    seq,
                    members,
                    epoch,
                    commit,
                    sender,
                    ..
                }) => {
                    if let Some(Peer::Server(server)) = r.host.peer() {
                        let slot = Slot {
                            generation: *generation,
                            server,
                            seq: *seq,
                        };
                        h.ordered_senders.entry(slot).or_default().insert(*sender);
                        if *commit {
                            h.commits.entry(slot).or_insert(*epoch);
                        }
                        h.ordered_for
                            .entry(slot)
                            .or_insert_with(|| members.iter().copied().collect());
                    }
                }
                Event::Host(HostEvent::DeliveryAcked { env, .. }) => {
                    h.acks.entry(*env).or_insert(t);
                }
                Event::Host(HostEvent::Delivered { msg }) => match At::on(host, t, idx, *msg) {
                    Some(a) => h.deliveries.entry(a.host).or_default().push(a),
                    None => unused = true,
                },
                Event::Host(HostEvent::ParentMissing { msg, missing }) => {
                    match At::on(host, t, idx, (*msg, missing.clone())) {
                        Some(a) => h.parent_missing.push(a),
                        None => unused = true,
                    }
                }
                Event::Host(HostEvent::MembershipChanged { view, in_group, .. }) => {
                    let c = Change {
                        view: view.iter().copied().collect(),
                        in_group: *in_group,
                    };
                    match At::on(host, t, idx, c) {
                        Some(a) => h.changes.push(a),
                        None => unused = true,
                    }
                }
                Event::Host(HostEvent::MembershipOp { msg, op, target }) => {
                    let o = Op {
                        msg: *msg,
                        op: *op,
                        target: *target,
                    };
                    match At::on(host, t, idx, o) {
                        Some(a) => h.ops.push(a),
                        None => unused = true,
                    }
                }
                Event::Host(HostEvent::ForkDetected { other_side, .. }) => {
                    match At::on(host, t, idx, other_side.iter().copied().collect()) {
                        Some(a) => h.fork_reports.push(a),
                        None => unused = true,
                    }
                }
                Event::Host(HostEvent::FellBack { liar, .. }) => match At::on(host, t, idx, ()) {
                    Some(a) => {
                        if let Some(server) = *liar {
                            let (t, idx, host) = (a.t, a.idx, a.host);
                            let what = (server, false);
                            h.accusations.push(At { t, idx, host, what });
                        }
                        h.fallbacks.push(a)
                    }
                    None => unused = true,
                },
                Event::Host(HostEvent::EquivocationDetected { server, .. }) => {
                    match At::on(host, t, idx, (*server, true)) {
                        Some(a) => h.accusations.push(a),
                        None => unused = true,
                    }
                }
                Event::Host(HostEvent::Lied {
                    mode,
                    to,
                    generation,
                    seq,
                }) => match r.host.peer() {
                    Some(Peer::Server(server)) => {
                        // A server that lies has failed as far as fallback
                        // is concerned, from its first lie.
                        if !h.lies.iter().any(|l| l.server == server) {
                            h.server_failures.push((t, server));
                        }
                        h.lies.push(Lie {
                            t,
                            server,
                            mode: *mode,
                            to: to.clone(),
                            generation: *generation,
                            seq: *seq,
                        });
                    }
                    _ => unused = true,
                },
                Event::Fault {
                    phase: Phase::Begin,
                    fault: FaultKind::Dishonest { server, .. },
                    ..
                } => h.dishonest_faults.push((t, *server)),
                Event::Fault {
                    phase,
                    fault:
                        FaultKind::Crash {
                            host: Peer::Server(server),
                            state,
                        },
                    ..
                } => match phase {
                    Phase::Begin => h.server_failures.push((t, *server)),
                    Phase::End if *state == StateOnRestart::Kept => {
                        h.server_recoveries.push((t, *server))
                    }
                    Phase::End => {}
                },
                // A refusal is a failure from the first request it turns
                // away: one that nobody met (a short window with no
                // traffic) gives no member anything to notice.
                Event::Fault {
                    phase,
                    fault: FaultKind::Refuse { server },
                    ..
                } => match phase {
                    Phase::Begin => {
                        h.refusing.insert(*server, false);
                    }
                    Phase::End => {
                        h.refusing.remove(server);
                    }
                },
                Event::Host(HostEvent::SubmitRejected {
                    reason: crate::core::server::sequencer::Rejection::Refused,
                    ..
                }) => {
                    if let Some(Peer::Server(server)) = r.host.peer()
                        && let Some(noted) = h.refusing.get_mut(&server).filter(|n| !**n)
                    {
                        *noted = true;
                        h.server_failures.push((t, server));
                    }
                }
                _ => {}
            }
            if unused {
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

    pub fn bounds(&self) -> Option<&Bounds> {
        self.start.as_ref().map(|s| &s.bounds)
    }

    /// Up at the end and still holding its state: only such a member can be
    /// blamed for what it does not hold.
    pub fn reachable(&self, m: MemberId) -> bool {
        self.running.as_ref().is_some_and(|r| r.contains(&m))
            && self.finals.get(&m).is_some_and(|f| !f.state_lost)
    }

    /// Reachable members whose final view says they are in the group.
    pub fn considered(&self) -> BTreeMap<MemberId, &Final> {
        self.finals
            .iter()
            .filter(|(m, f)| f.in_group && self.reachable(**m))
            .map(|(m, f)| (*m, f))
            .collect()
    }

    pub fn agreement(&self) -> Agreement {
        let mut by_view: BTreeMap<&BTreeSet<MemberId>, Vec<MemberId>> = BTreeMap::new();
        for (m, f) in self.considered() {
            by_view.entry(&f.view).or_default().push(m);
        }
        let groups: Vec<ViewGroup> = by_view
            .into_iter()
            .map(|(view, holders)| ViewGroup {
                view: view.clone(),
                holders,
            })
            .collect();
        match groups.len() {
            0 => Agreement::Nobody,
            1 => Agreement::Agreed(groups[0].clone()),
            _ => {
                let disjoint = groups
                    .iter()
                    .enumerate()
                    .all(|(i, a)| groups[i + 1..].iter().all(|b| a.view.is_disjoint(&b.view)));
                if disjoint {
                    Agreement::Islands(groups)
                } else {
                    Agreement::Diverged(groups)
                }
            }
        }
    }

    /// Everything `msg` causally follows: parents, transitively, and each
    /// sender's own earlier messages. Following only the next-lower known
    /// seq of a sender keeps this linear while still reaching all of them.
    pub fn causal_past(&self, msg: MessageId) -> Past {
        let mut past = Past::default();
        let mut stack = vec![msg];
        let mut seen = BTreeSet::from([msg]);
        while let Some(m) = stack.pop() {
            let lo = MessageId {
                sender: m.sender,
                seq: 0,
            };
            let earlier = self.sent.range(lo..m).next_back().map(|(id, _)| *id);
            let parents = match self.sent.get(&m) {
                Some(s) => s.what.parents.as_slice(),
                None => {
                    past.incomplete.insert(m);
                    &[]
                }
            };
            for p in earlier.into_iter().chain(parents.iter().copied()) {
                past.set.insert(p);
                if seen.insert(p) {
                    stack.push(p);
                }
            }
        }
        past.set.remove(&msg);
        past
    }

    /// The earliest ack time of `msg` for recipient `to`, over all envelopes.
    pub fn acked_pairs(&self) -> BTreeMap<(MessageId, MemberId), Millis> {
        let mut out: BTreeMap<(MessageId, MemberId), Millis> = BTreeMap::new();
        for (env, (msg, to)) in &self.envelopes {
            if let Some(&t) = self.acks.get(env) {
                let e = out.entry((*msg, *to)).or_insert(t);
                *e = (*e).min(t);
            }
        }
        for (msg, &t) in &self.ordered {
            let Some(sent) = self.sent.get(msg) else {
                continue;
            };
            // Acknowledged for the recipients the server still counted as
            // members when it ordered the message (a removal ordered first
            // takes a recipient out); for all of them if the server's
            // record is missing.
            let members = self
                .slots
                .get(msg)
                .and_then(|slot| self.ordered_for.get(slot));
            let counted =
                |r: &&MemberId| **r != msg.sender && members.is_none_or(|m| m.contains(r));
            for to in sent.what.recipients.iter().filter(counted) {
                let e = out.entry((*msg, *to)).or_insert(t);
                *e = (*e).min(t);
            }
        }
        out
    }

    /// Per member, where in the trace it fell back from which generation
    /// (founders of a coordinated group start in generation 1).
    pub fn fell_from(&self) -> BTreeMap<MemberId, Vec<(usize, u32)>> {
        let mut events: Vec<(usize, MemberId, Option<u32>)> = self
            .joins
            .iter()
            .map(|j| (j.idx, j.host, Some(j.what)))
            .chain(self.fallbacks.iter().map(|f| (f.idx, f.host, None)))
            .collect();
        events.sort();
        let mut current: BTreeMap<MemberId, u32> = BTreeMap::new();
        let mut out: BTreeMap<MemberId, Vec<(usize, u32)>> = BTreeMap::new();
        for (idx, m, joined) in events {
            match joined {
                Some(g) => {
                    current.insert(m, g);
                }
                None => out
                    .entry(m)
                    .or_default()
                    .push((idx, current.get(&m).copied().unwrap_or(1))),
            }
        }
        out
    }

    /// The first `Delivered` of each message per host.
    pub fn first_deliveries(&self) -> BTreeMap<(MemberId, MessageId), (usize, Millis)> {
        let mut out = BTreeMap::new();
        for (host, ds) in &self.deliveries {
            for d in ds {
                out.entry((*host, d.what)).or_insert((d.idx, d.t));
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "tests/history.rs"]
mod tests;
