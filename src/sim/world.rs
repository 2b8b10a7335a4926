//! State shared by every host of one run: the state machines, the trace,
//! the fault layer's state and the counters.
//!
//! turmoil runs every host on one thread, one after another, so an
//! `Rc<RefCell<World>>` is enough and no lock order can reach the outcome.

use super::workload::Scheduled;
use crate::core::ids::{AgentId, MemberId, Millis, Peer, ServerId};
use crate::core::io::{Effect, Host, Input};
use crate::core::mailbox::MailboxAgent;
use crate::core::member::Member;
use crate::core::server::ServerAgent;
use crate::core::wire::Datagram;
use crate::faults::NetFaults;
use crate::faults::attack::{Attacker, Plan};
use crate::observations::Observations;
use crate::trace::{Event, Origin, Record, Trace};
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
    /// What the secrecy and blindness checkers judge besides the trace.
    pub observations: Observations,
    /// Members whose device was wiped during the run.
    pub wiped_members: BTreeSet<MemberId>,
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
            observations: Observations::default(),
            wiped_members: BTreeSet::new(),
            attacker: None,
            inbox: BTreeMap::new(),
            injected: 0,
            wire: Sha256::new(),
        }
    }

    pub fn record(&mut self, t: Millis, host: impl Into<Origin>, event: Event) {
        self.trace.push(Record {
            t,
            host: host.into(),
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
        if let Peer::Member(m) = host
            && let Some(member) = self.members.get(&m)
        {
            self.observations.stepped(member);
        }
        let mut sends = Vec::new();
        for effect in effects.0 {
            match effect {
                Effect::Record(event) => {
                    self.observations.recorded(host, &event, &self.members);
                    self.record(now, host, event.into())
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
        // Only what the observations or the attacker read is decoded.
        let decoded = (self.attacker.is_some() || Datagram::carries_ciphertext(&bytes))
            .then(|| Datagram::decode(&bytes).ok())
            .flatten();
        self.observations
            .sent(now, from, to, decoded.as_ref(), &bytes, &self.members);
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
        match fate.copies.len() {
            0 => {
                self.counters.datagrams_lost += 1;
                self.record(
                    now,
                    from,
                    Event::DatagramLost {
                        to,
                        bytes: bytes.len(),
                    },
                );
            }
            1 => {}
            _ => {
                self.counters.datagrams_duplicated += 1;
                self.record(now, from, Event::DatagramDuplicated { to });
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
                Origin::Sim,
                Event::Forged {
                    attack: f.forgery,
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
