//! State shared by every host of one run: the state machines, the trace,
//! the fault layer's state and the counters.
//!
//! turmoil runs every host on one thread, one after another, so an
//! `Rc<RefCell<World>>` is enough and no lock order can reach the outcome.

use super::workload::Scheduled;
use crate::core::ids::{AgentId, EnvelopeId, MemberId, MessageId, Millis, Peer, ServerId};
use crate::core::io::{Effect, Host, Input};
use crate::core::mailbox::MailboxAgent;
use crate::core::member::Member;
use crate::core::member::sessions::Sessions;
use crate::core::mls::{MlsClient, Processed};
use crate::core::server::ServerAgent;
use crate::core::wire::{Datagram, Envelope};
use crate::faults::NetFaults;
use crate::faults::attack::{Attacker, Plan};
use crate::trace::event::OpKind;
use crate::trace::{Event, Record, Trace};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Network and crypto counts for the `--json` summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub datagrams_sent: u64,
    pub bytes_sent: u64,
    pub datagrams_lost: u64,
    pub datagrams_duplicated: u64,
}

pub struct World {
    pub trace: Trace,
    /// What setup did on the hosts' behalf (forming generation 1), kept
    /// until the trace has its `run_started`, so that it reads as if the
    /// hosts had done it themselves at time 0.
    pub founding: Vec<Record>,
    pub members: BTreeMap<MemberId, Member>,
    pub agents: BTreeMap<AgentId, MailboxAgent>,
    pub servers: BTreeMap<ServerId, ServerAgent>,
    /// Each host's next wake-up, in simulated (not local) time.
    pub wakes: BTreeMap<Peer, Millis>,
    pub commands: BTreeMap<MemberId, VecDeque<Scheduled>>,
    pub starts: BTreeMap<Peer, crate::core::io::Start>,
    pub net: NetFaults,
    pub net_rngs: BTreeMap<Peer, ChaCha20Rng>,
    pub skew: BTreeMap<MemberId, i64>,
    /// What every host's clock reads at simulated time 0
    /// ([`crate::scenario::Scenario::clock_epoch`]).
    pub clock_epoch: Millis,
    pub latency_ms: Millis,
    pub jitter_ms: Millis,
    pub counters: Counters,
    /// Every envelope that went on the wire (first copy): what an observer
    /// of the network, or a removed member, could collect.
    pub observed: BTreeMap<EnvelopeId, Envelope>,
    /// The removed member's key state at the moment of each removal.
    pub removal_snapshots: BTreeMap<MessageId, (MemberId, Sessions)>,
    /// Every payload a server agent fanned out, by (generation, server,
    /// seq): what a removed member could collect from the wire.
    pub observed_ordered: BTreeMap<(u32, ServerId, u64), Vec<u8>>,
    /// Coordinated groups: each removed member's MLS state from just
    /// before it applied the commit that removed it, by (member,
    /// generation, server, epoch of that commit).
    pub mls_removal_copies: BTreeMap<(MemberId, u32, ServerId, u64), MlsClient>,
    /// The same key for a removed member that had not applied the commit
    /// when the server ordered the next message (it was offline, say):
    /// its MLS state as it then was, behind the commit. It is handed the
    /// stream from the start, as it could have collected it.
    pub mls_behind_copies: BTreeMap<(MemberId, u32, ServerId, u64), MlsClient>,
    /// Per stream (generation, server), the last ordered message.
    last_ordered: BTreeMap<(u32, ServerId), LastOrdered>,
    /// Members whose device was wiped during the run.
    pub wiped_members: BTreeSet<MemberId>,
    /// Datagrams sent to mailbox and server agents, and those of them that
    /// carried a plaintext marker: what server blindness is judged on.
    pub to_servers: u64,
    pub plaintext_to_servers: Vec<(Millis, Peer, Peer)>,
    /// The attacker fault, when the scenario has one.
    pub attacker: Option<Attacker>,
    /// Datagrams that reach a host from the network without any host
    /// having sent them (the attacker's), by due time and arrival order,
    /// with the source they claim. The driver hands them over like any
    /// datagram.
    pub inbox: BTreeMap<Peer, Inbox>,
    injected: u64,
    wire: Sha256,
}

/// Forged datagrams waiting for one host: (due, arrival order) to (the
/// source they claim, bytes).
pub type Inbox = BTreeMap<(Millis, u64), (Peer, Vec<u8>)>;

/// What the secrecy oracle remembers of a stream's last ordered message.
#[derive(Debug)]
struct LastOrdered {
    epoch: u64,
    commit: bool,
    members: Vec<MemberId>,
}

impl World {
    pub fn new(latency_ms: Millis, jitter_ms: Millis, clock_epoch: Millis) -> Self {
        World {
            trace: Trace::default(),
            founding: Vec::new(),
            members: BTreeMap::new(),
            agents: BTreeMap::new(),
            servers: BTreeMap::new(),
            wakes: BTreeMap::new(),
            commands: BTreeMap::new(),
            starts: BTreeMap::new(),
            net: NetFaults::default(),
            net_rngs: BTreeMap::new(),
            skew: BTreeMap::new(),
            clock_epoch,
            latency_ms,
            jitter_ms,
            counters: Counters::default(),
            observed: BTreeMap::new(),
            removal_snapshots: BTreeMap::new(),
            observed_ordered: BTreeMap::new(),
            mls_removal_copies: BTreeMap::new(),
            mls_behind_copies: BTreeMap::new(),
            last_ordered: BTreeMap::new(),
            wiped_members: BTreeSet::new(),
            to_servers: 0,
            plaintext_to_servers: Vec::new(),
            attacker: None,
            inbox: BTreeMap::new(),
            injected: 0,
            wire: Sha256::new(),
        }
    }

    pub fn record(&mut self, t: Millis, host: &str, event: Event) {
        self.trace.push(Record {
            t,
            host: host.to_owned(),
            event,
        });
    }

    /// The host's clock offset from simulated time: the epoch, plus a
    /// member's skew. Never negative: the epoch covers the largest
    /// negative skew.
    fn offset(&self, host: Peer) -> i64 {
        let skew = match host {
            Peer::Member(m) => self.skew.get(&m).copied().unwrap_or(0),
            Peer::Agent(_) | Peer::Server(_) => 0,
        };
        i64::try_from(self.clock_epoch)
            .unwrap_or(i64::MAX)
            .saturating_add(skew)
    }

    /// What the host's own clock reads at simulated time `now`.
    pub fn local_time(&self, host: Peer, now: Millis) -> Millis {
        now.saturating_add_signed(self.offset(host))
    }

    /// When, in simulated time, the host's clock reads `local`; saturating
    /// so that a time the clock has passed (it was just set back) is due
    /// at once rather than wrapped.
    fn sim_time(&self, host: Peer, local: Millis) -> Millis {
        local.saturating_add_signed(self.offset(host).saturating_neg())
    }

    /// Feeds one input to a host's state machine and carries out its
    /// effects, except the sends, which are returned with the delay each
    /// copy must wait (the fault layer has already decided their fate).
    pub fn step(&mut self, now: Millis, host: Peer, input: Input) -> Vec<(Millis, Peer, Vec<u8>)> {
        let local = self.local_time(host, now);
        let machine: Option<&mut dyn Host> = match host {
            Peer::Member(m) => self.members.get_mut(&m).map(|h| h as &mut dyn Host),
            Peer::Agent(a) => self.agents.get_mut(&a).map(|h| h as &mut dyn Host),
            Peer::Server(c) => self.servers.get_mut(&c).map(|h| h as &mut dyn Host),
        };
        let Some(machine) = machine else {
            return Vec::new();
        };
        let effects = machine.handle(local, input);
        if let Peer::Member(m) = host {
            self.keep_mls_removal_copy(m);
        }
        let name = host.to_string();
        let mut sends = Vec::new();
        for effect in effects.0 {
            match effect {
                Effect::Record(event) => {
                    if let (Peer::Server(server), Event::Ordered { .. }) = (host, &event) {
                        self.keep_mls_behind_copies(server, &event);
                    }
                    if let Event::MembershipOp {
                        msg,
                        op: OpKind::Remove,
                        target,
                    } = &event
                        && let Some(removed) = self.members.get(target)
                    {
                        self.removal_snapshots
                            .insert(*msg, (*target, removed.sessions().snapshot()));
                    }
                    self.record(now, &name, event)
                }
                Effect::WakeAt(at) => {
                    let at = self.sim_time(host, at);
                    self.wakes.insert(host, at);
                }
                Effect::Send { to, bytes } => self.fault_layer(now, host, to, bytes, &mut sends),
            }
        }
        sends
    }

    /// Takes the copy a member's MLS client kept when it applied a commit
    /// removing it, once per removal. Checked after every step because the
    /// client may move on (a later generation) soon after.
    fn keep_mls_removal_copy(&mut self, m: MemberId) {
        let Some(c) = self.members.get(&m).and_then(|member| member.coordinated()) else {
            return;
        };
        let Some(kept) = c
            .mls()
            .removal_copy()
            .filter(|k| k.group_id() == c.mls().group_id())
        else {
            return;
        };
        let key = (m, c.generation(), c.server(), kept.epoch().unwrap_or(0));
        if self.mls_removal_copies.contains_key(&key) {
            return;
        }
        if let Ok(copy) = kept.copy() {
            self.mls_removal_copies.insert(key, copy);
        }
    }

    /// When the message after a commit is ordered, the commit's removals
    /// show as members the server no longer counts. A removed member that
    /// has not applied the commit by then keeps its state from before it,
    /// which the secrecy checker must still be able to try.
    fn keep_mls_behind_copies(&mut self, server: ServerId, event: &Event) {
        let Event::Ordered {
            generation,
            epoch,
            commit,
            members,
            ..
        } = event
        else {
            return;
        };
        let stream = (*generation, server);
        let now = LastOrdered {
            epoch: *epoch,
            commit: *commit,
            members: members.clone(),
        };
        let Some(LastOrdered {
            epoch: prev_epoch,
            commit: true,
            members: prev_members,
        }) = self.last_ordered.insert(stream, now)
        else {
            return;
        };
        for m in prev_members.iter().filter(|m| !members.contains(m)) {
            let key = (*m, *generation, server, prev_epoch);
            if self.mls_removal_copies.contains_key(&key)
                || self.mls_behind_copies.contains_key(&key)
            {
                continue;
            }
            let copy = self
                .members
                .get(m)
                .and_then(|member| member.coordinated())
                .filter(|c| c.generation() == *generation && c.server() == server)
                .filter(|c| c.mls().epoch().is_some_and(|e| e <= prev_epoch))
                .and_then(|c| c.mls().copy().ok());
            if let Some(copy) = copy {
                self.mls_behind_copies.insert(key, copy);
            }
        }
    }

    fn fault_layer(
        &mut self,
        now: Millis,
        from: Peer,
        to: Peer,
        bytes: Vec<u8>,
        out: &mut Vec<(Millis, Peer, Vec<u8>)>,
    ) {
        self.counters.datagrams_sent += 1;
        self.counters.bytes_sent += bytes.len() as u64;
        self.wire.update(now.to_le_bytes());
        self.wire.update(from.to_string().as_bytes());
        self.wire.update(to.to_string().as_bytes());
        self.wire.update((bytes.len() as u64).to_le_bytes());
        self.wire.update(&bytes);
        if matches!(to, Peer::Agent(_) | Peer::Server(_)) {
            self.to_servers += 1;
            let marker = crate::core::member::message::MARKER;
            if bytes.windows(marker.len()).any(|w| w == marker) {
                self.plaintext_to_servers.push((now, from, to));
            }
        }
        let decoded = Datagram::decode(&bytes).ok();
        match &decoded {
            Some(Datagram::Deliver { envelope, .. }) => {
                self.observed
                    .entry(envelope.id)
                    .or_insert_with(|| envelope.clone());
            }
            Some(Datagram::DeliverOrdered { item, .. }) => {
                if let Peer::Server(server) = from {
                    let slot = (item.receipt.generation, server, item.receipt.seq);
                    self.observed_ordered
                        .entry(slot)
                        .or_insert_with(|| item.payload.clone());
                }
            }
            _ => {}
        }
        if let (Some(attacker), Some(d)) = (self.attacker.as_mut(), &decoded) {
            let plan = attacker.observe(now, from, to, d);
            if self.carry_out_attack(now, plan) {
                return;
            }
        }
        let Some(rng) = self.net_rngs.get_mut(&from) else {
            return;
        };
        let fate = self.net.fate(rng, self.latency_ms, self.jitter_ms);
        let name = from.to_string();
        match fate.copies.len() {
            0 => {
                self.counters.datagrams_lost += 1;
                self.record(
                    now,
                    &name,
                    Event::DatagramLost {
                        to,
                        bytes: bytes.len(),
                    },
                );
            }
            1 => {}
            _ => {
                self.counters.datagrams_duplicated += 1;
                self.record(now, &name, Event::DatagramDuplicated { to });
            }
        }
        for delay in fate.copies {
            out.push((now.saturating_add(delay), to, bytes.clone()));
        }
    }

    /// Queues the attacker's forgeries and records them; says whether the
    /// genuine datagram is swallowed.
    fn carry_out_attack(&mut self, now: Millis, plan: Plan) -> bool {
        for f in plan.forged {
            self.record(
                now,
                "sim",
                Event::Forged {
                    attack: f.forgery.name().into(),
                    victim: f.victim,
                    detail: f.detail,
                    msg: f.msg,
                },
            );
        }
        for i in plan.inject {
            self.wire.update(i.due.to_le_bytes());
            self.wire.update(i.from.to_string().as_bytes());
            self.wire.update(i.to.to_string().as_bytes());
            self.wire.update(&i.bytes);
            self.injected += 1;
            let queue = self.inbox.entry(i.to).or_default();
            queue.insert((i.due, self.injected), (i.from, i.bytes));
        }
        plan.swallow
    }

    /// The forged datagrams due at `host` by `now`, as inputs.
    pub fn due_injections(&mut self, host: Peer, now: Millis) -> Vec<Input> {
        let Some(queue) = self.inbox.get_mut(&host) else {
            return Vec::new();
        };
        let mut due = Vec::new();
        while let Some(entry) = queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (from, bytes) = entry.remove();
            due.push(Input::Datagram { from, bytes });
        }
        due
    }

    /// When the next forged datagram is due at `host`.
    pub fn next_injection(&self, host: Peer) -> Option<Millis> {
        self.inbox.get(&host)?.keys().next().map(|(t, _)| *t)
    }

    /// A host that was down lost what arrived meanwhile.
    pub fn drop_injections_before(&mut self, host: Peer, now: Millis) {
        if let Some(queue) = self.inbox.get_mut(&host) {
            queue.retain(|(t, _), _| *t >= now);
        }
    }

    /// SHA-256 over every datagram handed to the network, with its time,
    /// source and destination: equal hashes mean byte-identical traffic,
    /// ciphertexts included, which only seeded randomness can give.
    pub fn wire_digest(&self) -> String {
        hex::encode(self.wire.clone().finalize())
    }
}

impl crate::checkers::secrecy::Oracle for World {
    fn readable(
        &self,
        member: MemberId,
        removal: MessageId,
        envs: &[EnvelopeId],
    ) -> Option<(BTreeSet<EnvelopeId>, usize)> {
        let (_, snapshot) = self
            .removal_snapshots
            .get(&removal)
            .filter(|(m, _)| *m == member)?;
        let mut state = snapshot.snapshot();
        let mut opened = BTreeSet::new();
        let mut handed = 0;
        for env in envs {
            let (Some(envelope), Some(sender)) =
                (self.observed.get(env), self.members.get(&env.sender))
            else {
                continue;
            };
            handed += 1;
            if state.try_open(
                env.sender,
                sender.curve25519(),
                envelope.message_type,
                &envelope.ciphertext,
            ) {
                opened.insert(*env);
            }
        }
        Some((opened, handed))
    }

    fn mls_readable(
        &self,
        member: MemberId,
        (generation, server): (u32, ServerId),
        epoch: u64,
        seqs: &[u64],
    ) -> Option<(BTreeSet<u64>, usize)> {
        let key = (member, generation, server, epoch);
        let (mut copy, behind) = match self.mls_removal_copies.get(&key) {
            Some(kept) => (kept.copy().ok()?, false),
            None => (self.mls_behind_copies.get(&key)?.copy().ok()?, true),
        };
        if behind {
            // Catch up as the member could have: everything ordered up to
            // and including the commit that removed it.
            let first = seqs.first().copied().unwrap_or(u64::MAX);
            for (_, payload) in self
                .observed_ordered
                .range((generation, server, 0)..(generation, server, first))
            {
                let _ = copy.process(payload);
            }
        }
        let mut opened = BTreeSet::new();
        let mut handed = 0;
        for seq in seqs {
            let Some(payload) = self.observed_ordered.get(&(generation, server, *seq)) else {
                continue;
            };
            handed += 1;
            // Its own messages it could not read anyway; anything else that
            // processes (a message, or a commit it could follow) is a leak.
            if matches!(
                copy.process(payload),
                Ok(Processed::Application(_) | Processed::Commit { .. } | Processed::Proposal)
            ) {
                opened.insert(*seq);
            }
        }
        Some((opened, handed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_set_back_reads_behind_the_others_and_never_below_zero() {
        let mut w = World::new(20, 10, 120_000);
        let (m0, m1, s0) = (
            Peer::Member(MemberId(0)),
            Peer::Member(MemberId(1)),
            Peer::Agent(AgentId(0)),
        );
        w.skew.insert(MemberId(1), -120_000);
        assert_eq!(w.local_time(m1, 0), 0);
        assert_eq!(w.local_time(m0, 0), 120_000);
        assert_eq!(w.local_time(s0, 5), 120_005);
        // A timer m1 sets for its 1 s mark fires at 1 s of simulated time.
        assert_eq!(w.sim_time(m1, 1_000), 1_000);
        assert_eq!(w.sim_time(m0, 121_000), 1_000);
        w.skew.insert(MemberId(1), 30_000);
        assert_eq!(w.local_time(m1, 0), 150_000);
    }
}
