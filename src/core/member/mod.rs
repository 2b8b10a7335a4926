//! A group member: the Group Particle, pairwise Olm sessions, membership,
//! causal delivery.
//!
//! The member talks only to receiving service agents: it delivers envelopes
//! to the recipients' mailboxes and fetches its own. `outbound.rs` holds the
//! sending half (messages, envelopes, retried requests), `inbound.rs` the
//! receiving half (fetch, decrypt, causal delivery, membership).

pub mod audit;
mod backfill;
mod coordinated;
mod generations;
mod inbound;
mod lookup;
pub mod membership;
pub mod message;
mod outbound;
pub mod particle;
pub mod sessions;
mod tidings;
mod timers;

use crate::core::clock::{Hlc, HlcClock};
use crate::core::event::{Event, OpKind};
use crate::core::ids::{AgentId, EnvelopeId, MemberId, MessageId, Millis, Peer, ServerId};
use crate::core::io::{Command, Effects, Input};
use crate::core::wire::Datagram;
use membership::{Membership, Variant};
use message::GroupMessage;
use outbound::Request;
use particle::{Contact, Directory, GroupParticle, ServiceAgent};
use sessions::Sessions;
use timers::TimerTable;

pub use coordinated::Coordinated;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The protocol's knobs, from the scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberConfig {
    pub variant: Variant,
    pub group: u64,
    pub fetch_interval_ms: Millis,
    pub retry_ms: Millis,
    pub max_attempts: u32,
    pub rotate_every_ms: Millis,
    /// How long the agents guarantee a long-term address (their
    /// configuration documents say so); the member renews at half of it.
    pub long_term_ttl_ms: Millis,
    pub parent_timeout_ms: Millis,
    /// Coordinated groups: fall back after this long without a receipt.
    pub ack_timeout_ms: Millis,
    /// Coordinated groups: the takeover stagger (see `ProtocolParams`).
    pub takeover_after_ms: Millis,
    /// Coordinated groups: the audit period (see `ProtocolParams`).
    pub audit_every_ms: Millis,
    /// MLS key packages published per agent.
    pub key_packages_per_agent: usize,
    pub deliver_to_all: bool,
    /// One-time keys published per agent.
    pub prekeys_per_agent: usize,
}

/// Most recent delivered messages a reply may pick from.
const RECENT: usize = 16;
/// Cap on the causal frontier a message names; older heads are implied by
/// the sender's own previous message.
const MAX_PARENTS: usize = 8;
/// Group messages (own and others', as signed by their authors) kept for
/// answering backfill requests; the oldest received goes first.
const ARCHIVE: usize = 2048;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberStats {
    pub messages_sent: u64,
    pub delivered: u64,
    pub rejected_datagrams: u64,
    /// Audit reports sent to peers, and their plaintext bytes.
    pub audits_sent: u64,
    pub audit_bytes: u64,
}

/// A plaintext waiting for a session, with the group message it carries
/// (none for a backfill request).
type Parked = (Option<MessageId>, Vec<u8>);

struct Buffered {
    msg: GroupMessage,
    /// Where a server placed it: (generation, seq). A message waiting for
    /// a parent holds back every later one of its generation, so that the
    /// server's order is kept.
    slot: Option<(u32, u64)>,
    since: Millis,
    /// When its missing parents were last asked for (and reported).
    asked_at: Option<Millis>,
    /// How many times they were asked for.
    asks: u32,
    /// Who handed it over: its author, or the member that forwarded it.
    /// Either holds its parents, so either is asked for a missing one.
    via: MemberId,
    /// Sent again over Olm at its author's fallback, with the slot the
    /// server had given it (`Payload::Resent`): should this member join
    /// that order while the message waits for a parent, it waits for the
    /// order to reach that slot too, or it overtook the slots before it
    /// (`coordinated-left-order-holds-parent` seed 172).
    awaits: Option<(ServerId, u32, u64)>,
}

pub struct Member {
    id: MemberId,
    cfg: MemberConfig,
    sessions: Sessions,
    particle: GroupParticle,
    directory: Arc<Directory>,
    /// This member's own agents and addresses.
    own: Vec<ServiceAgent>,
    clock: HlcClock,
    membership: Membership,
    /// What this member sends and waits on (`outbound.rs`).
    out: Outbox,
    /// The group messages it has seen (`inbound.rs`, `outbound.rs`).
    causal: Causal,
    cursors: BTreeMap<AgentId, u64>,
    /// Own agents found to have lost their store, whose senders this
    /// member has asked again (`Member::resync`), until they register it
    /// anew (volatile: a restart registers everywhere again anyway).
    stores_lost: BTreeSet<AgentId>,
    forks_reported: BTreeSet<(MemberId, MemberId)>,
    /// Set when the group is coordinated: MLS through a server agent.
    coord: Option<Coordinated>,
    /// The LWW set kept beside the MLS roster (`coordinated/ledger.rs`).
    ledger: Option<membership::LwwSet>,
    /// Generations known, fallen from and nominated (`generations.rs`).
    gens: Generations,
    /// What this member was shown of the servers' orders (`audit.rs`).
    audit: audit::Auditor,
    due: TimerTable,
    pub stats: MemberStats,
}

/// What a member sends and is waiting on.
#[derive(Default)]
struct Outbox {
    next_msg: u32,
    next_env: u64,
    next_req: u64,
    /// Requests to agents awaiting a reply (volatile).
    requests: BTreeMap<u64, Request>,
    /// Plaintexts waiting for a session with their recipient (volatile).
    awaiting_session: BTreeMap<MemberId, Vec<Parked>>,
}

/// The group messages a member has seen, delivered or not.
#[derive(Default)]
struct Causal {
    seen_envelopes: BTreeSet<EnvelopeId>,
    /// Delivered messages (including own) with their recipients.
    delivered: BTreeMap<MessageId, Vec<MemberId>>,
    /// The causal frontier, longest-standing first.
    heads: Vec<MessageId>,
    recent: Vec<MessageId>,
    /// Group messages as their authors signed them, own and received, for
    /// sending again (persisted); `archived` is their arrival order.
    archive: BTreeMap<MessageId, GroupMessage>,
    archived: std::collections::VecDeque<MessageId>,
    /// The LWW set the last kept message carried (see `keep`).
    last_kept_set: Option<Arc<membership::LwwSet>>,
    /// Received messages waiting for their parents.
    buffer: BTreeMap<MessageId, Buffered>,
}

/// A coordinated group's generations, as far as this member knows them.
#[derive(Default)]
struct Generations {
    /// This member's MLS client while it is in no coordinated generation
    /// (it keeps the private keys of its published key packages).
    mls_spare: Option<crate::core::mls::MlsClient>,
    /// The generation this member fell back from, still taking what its
    /// server had ordered; it holds the MLS client until the next one.
    draining: Option<Coordinated>,
    /// The group's candidate server agents, with their receipt keys.
    candidates: Vec<(ServerId, [u8; 32])>,
    /// The latest generation this member knows of, the one it last fell
    /// back from (and its rank), and the server that failed last.
    generation: u32,
    fell_from: u32,
    fell_rank: Option<coordinated::Rank>,
    failed_server: Option<ServerId>,
    nomination: Option<generations::Nomination>,
    takeover_at: Option<Millis>,
    /// The server the armed takeover goes to, when it is not the one
    /// after the failed server: the server of a generation this member
    /// refused (see `on_invite`), which is known to be up.
    takeover_to: Option<ServerId>,
    /// Whether this member's last fallback was on its server going quiet,
    /// and, while it may still return to that generation, the membership
    /// changes it made in lightweight mode since (`coordinated/doubt.rs`).
    may_return: bool,
    lightweight_ops: Vec<(crate::core::event::OpKind, MemberId)>,
    /// Told that its server still serves the others: asking it too.
    returning: Option<coordinated::Returning>,
    /// Ordered messages of a generation this member has not joined yet.
    early: Vec<crate::core::wire::Ordered>,
    /// Whether `early` was lost with the device's memory since the last
    /// join: the next join asks its server to send again from the
    /// Welcome's slot (see `on_invite`).
    early_lost: bool,
    /// Own messages peers sent again over Olm that the order this member
    /// follows carries too, held until it falls back (see
    /// `Payload::Resent`); by then the order delivered most of them.
    resent: Vec<(MemberId, (ServerId, u32), message::GroupMessage)>,
    /// The order (server, generation) each own message was submitted to.
    wrote_to: BTreeMap<MessageId, (ServerId, u32)>,
    /// Members asked to catch this one up, per stale order they wrote to
    /// (see `catch_up`).
    caught_up: BTreeSet<(MemberId, (ServerId, u32))>,
    /// Stale servers already told that the group moved on.
    told_stale: BTreeSet<(ServerId, u32)>,
    /// When each member this one counts out was last handed its removal
    /// (volatile).
    told_removed: BTreeMap<MemberId, Millis>,
}

impl Member {
    /// A member with a fresh identity. Its contact card is filled in by
    /// [`Member::set_own_agents`] once its agents have registered it.
    pub fn new(id: MemberId, cfg: MemberConfig) -> Self {
        let membership = Membership::found(cfg.variant, &BTreeSet::new(), HlcClock::new(id).last());
        Member {
            id,
            cfg,
            sessions: Sessions::new(),
            particle: GroupParticle::default(),
            directory: Arc::default(),
            own: Vec::new(),
            clock: HlcClock::new(id),
            membership,
            out: Outbox::default(),
            causal: Causal::default(),
            cursors: BTreeMap::new(),
            stores_lost: BTreeSet::new(),
            forks_reported: BTreeSet::new(),
            coord: None,
            ledger: None,
            gens: Generations::default(),
            audit: audit::Auditor::default(),
            due: TimerTable::default(),
            stats: MemberStats::default(),
        }
    }

    pub fn id(&self) -> MemberId {
        self.id
    }

    /// The same member after its device was wiped: new identity keys, no
    /// sessions and no group state. It keeps what its user would set up
    /// again by hand: its configuration, its agents (with its addresses
    /// and when they are due for renewal) and its contacts.
    pub fn wiped(&self) -> Member {
        let mut fresh = Member::new(self.id, self.cfg.clone());
        fresh.own = self.own.clone();
        fresh.due.renew = self.due.renew.clone();
        fresh.due.set_back = self.due.set_back;
        fresh.due.last_read = self.due.last_read;
        fresh.directory = self.directory.clone();
        fresh
    }

    pub fn ipk(&self) -> [u8; 32] {
        self.sessions.ipk()
    }

    pub fn curve25519(&self) -> [u8; 32] {
        self.sessions.curve25519()
    }

    pub fn set_own_agents(&mut self, agents: Vec<ServiceAgent>) {
        self.own = agents;
    }

    /// Forms (or joins, for founders) the group: every founder starts from
    /// the same membership and the same contact cards.
    pub fn found_group(
        &mut self,
        name: &str,
        founders: &BTreeSet<MemberId>,
        directory: Arc<Directory>,
    ) {
        self.directory = directory;
        self.particle.name = Some(name.to_owned());
        self.membership = Membership::found(
            self.cfg.variant,
            founders,
            HlcClock::new(MemberId(0)).last(),
        );
        if founders.contains(&self.id) {
            for m in founders {
                self.learn_contact(*m);
            }
        }
    }

    pub fn in_group(&self) -> bool {
        self.membership.contains(self.id)
    }

    pub fn view(&self) -> Vec<MemberId> {
        self.membership.view().into_iter().collect()
    }

    /// MLS operations so far, including those of a group that fell back.
    pub fn mls_ops(&self) -> crate::core::mls::MlsOps {
        let mut ops = crate::core::mls::MlsOps::default();
        for c in self.coord.iter().chain(&self.gens.draining) {
            ops += c.mls().ops;
        }
        if let Some(m) = &self.gens.mls_spare {
            ops += m.ops;
        }
        ops
    }

    pub fn crypto_ops(&self) -> sessions::CryptoOps {
        self.sessions.ops
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    pub fn particle(&self) -> &GroupParticle {
        &self.particle
    }

    /// Copies a contact from the directory into the particle, checking its
    /// attestation first. Returns whether the member is now known.
    fn learn_contact(&mut self, m: MemberId) -> bool {
        if m == self.id || self.particle.others.contains_key(&m) {
            return m != self.id;
        }
        let Some(c) = self.directory.get(&m).cloned() else {
            return false;
        };
        if c.attestation.is_some() {
            self.sessions.ops.signatures_verified += 1;
        }
        if !c.attestation_holds() {
            return false;
        }
        self.particle.others.insert(m, c);
        true
    }

    fn contact(&self, m: MemberId) -> Option<&Contact> {
        self.particle.others.get(&m).map(|c| &**c)
    }

    fn next_req(&mut self) -> u64 {
        self.out.next_req += 1;
        self.out.next_req
    }

    pub fn handle(&mut self, now: Millis, input: Input) -> Effects {
        let mut fx = Effects::default();
        // A clock set back (a skew ending, an NTP correction) must not
        // leave deadlines armed up to the jump in the future.
        let now = self.timer_time(now);
        match input {
            Input::Start(start) => self.start(now, start, &mut fx),
            Input::Wake => self.wake(now, &mut fx),
            Input::Command(c) => self.command(now, c, &mut fx),
            fault @ Input::Fault(_) => fx.record(fault.skipped("not a member command")),
            Input::Datagram { from, bytes } => match (from, Datagram::decode(&bytes)) {
                (Peer::Agent(a), Ok(d)) => self.on_agent_datagram(now, a, d, &mut fx),
                (Peer::Server(c), Ok(d)) => self.on_server_datagram(now, c, d, &mut fx),
                (_, Ok(_)) => self.reject(
                    from,
                    "members accept datagrams only from agents".into(),
                    &mut fx,
                ),
                (_, Err(e)) => self.reject(from, e.to_string(), &mut fx),
            },
        }
        self.act_on_audit(now, &mut fx);
        self.release_resent(now, &mut fx);
        fx.wake_at(self.wall(self.next_wake()));
        fx
    }

    fn reject(&mut self, from: Peer, error: String, fx: &mut Effects) {
        self.stats.rejected_datagrams += 1;
        fx.record(Event::DatagramRejected { from, error });
    }

    fn start(&mut self, now: Millis, start: crate::core::io::Start, fx: &mut Effects) {
        let (restart, volatile_lost) = (
            start.restart(),
            start == crate::core::io::Start::VolatileLost,
        );
        fx.record(Event::MemberStarted {
            restart,
            volatile_lost,
        });
        if volatile_lost {
            self.out.requests.clear();
            self.out.awaiting_session.clear();
            self.stores_lost.clear();
            if let Some(c) = self.coord.as_mut() {
                let lost = c.forget_pending();
                coordinated::refuse_commits(lost, "lost with the device's memory", fx);
            }
            self.gens.nomination = None;
            self.gens.early.clear();
            self.gens.early_lost = true;
            self.resend_latest(now, fx);
        }
        if !restart {
            self.publish_prekeys(now, fx);
            self.publish_key_packages(now, self.cfg.key_packages_per_agent, fx);
            self.get_configs(now, fx);
            self.due.rotate = now + self.cfg.rotate_every_ms;
        }
        // The addresses set up with the member were issued as it started.
        let renew_at = now + self.renew_after();
        for a in &self.own {
            self.due.renew.entry(a.agent).or_insert(renew_at);
        }
        self.due.fetch = now;
        for r in self
            .out
            .requests
            .values_mut()
            .filter(|r| r.next_at != lookup::PARKED)
        {
            r.next_at = now;
        }
    }

    fn command(&mut self, now: Millis, c: Command, fx: &mut Effects) {
        let skip = |fx: &mut Effects, reason: &str| {
            fx.record(Event::CommandSkipped {
                command: c.describe(),
                reason: reason.to_owned(),
            })
        };
        if !self.in_group() {
            return skip(fx, "not in the group");
        }
        match c {
            Command::Send { reply, pick } => {
                let reply_to = (reply && !self.causal.recent.is_empty())
                    .then(|| self.causal.recent[(pick % self.causal.recent.len() as u64) as usize]);
                self.send_group(now, None, reply_to, fx);
            }
            Command::Add(m) if self.membership.contains(m) => skip(fx, "already a member"),
            Command::Remove(m) if !self.membership.contains(m) => skip(fx, "not a member"),
            Command::Add(m) if !self.learn_contact(m) => skip(fx, "no verified contact card"),
            Command::Add(m) if self.coord.as_ref().is_some_and(|c| c.sending) => {
                self.add_coordinated(now, m, fx)
            }
            Command::Remove(target) if self.coord.is_some() => {
                self.commit(now, coordinated::What::Remove { target }, c.describe(), fx)
            }
            Command::Update if self.coord.is_some() => {
                self.commit(now, coordinated::What::Update, c.describe(), fx)
            }
            Command::Update => skip(fx, "only a coordinated group has MLS keys to update"),
            Command::Nominate(server) => self.nominate(now, server, fx),
            Command::Rename { name, picture } => self.rename(now, name, picture, fx),
            Command::Add(m) => self.change_lightweight(now, (OpKind::Add, m), fx),
            Command::Remove(m) => self.change_lightweight(now, (OpKind::Remove, m), fx),
        }
    }
}

impl Member {
    /// A membership change in lightweight mode; kept, too, to commit on
    /// return to a generation this member fell back from alone.
    fn change_lightweight(&mut self, now: Millis, op: (OpKind, MemberId), fx: &mut Effects) {
        self.send_group(now, Some(op), None, fx);
        if self.gens.draining.is_some() {
            self.gens.lightweight_ops.push(op);
        }
    }
}

impl Member {
    /// Renames the group: the new register goes out in a group message of
    /// its own, and in every message after it (see
    /// [`particle::GroupMeta`]), in either mode, so no commit is needed:
    /// the stamp, not the server's order, settles concurrent renames.
    fn rename(&mut self, now: Millis, name: String, picture: Option<String>, fx: &mut Effects) {
        let hlc = self.clock.tick(self.wall(now));
        let stamp = self.op_stamp(now, hlc);
        let msg = MessageId {
            sender: self.id,
            seq: self.out.next_msg,
        };
        fx.record(Event::GroupRenamed {
            msg,
            name: name.clone(),
            picture: picture.clone(),
            stamp,
        });
        self.particle.meta = Some(particle::GroupMeta {
            name,
            picture,
            stamp,
        });
        self.send_group(now, None, None, fx);
    }

    /// Takes up a rename if it beats the one this member holds.
    pub(super) fn apply_meta(
        &mut self,
        meta: particle::GroupMeta,
        via: Option<MessageId>,
        fx: &mut Effects,
    ) -> bool {
        if !meta.beats(self.particle.meta.as_ref()) {
            return false;
        }
        fx.record(Event::RenameApplied {
            stamp: meta.stamp,
            via,
        });
        self.particle.meta = Some(meta);
        true
    }

    /// The stamp an own op is ordered by: the member's hybrid clock, or,
    /// under `lww-wallclock`, its wall clock alone (the variant that
    /// shows what clock skew does to last-writer-wins).
    pub(super) fn op_stamp(&self, now: Millis, hlc: Hlc) -> Hlc {
        if self.cfg.variant.wallclock_stamps() {
            Hlc {
                wall: self.wall(now),
                logical: 0,
                node: self.id,
            }
        } else {
            hlc
        }
    }
}

impl crate::core::io::Host for Member {
    fn handle(&mut self, now: Millis, input: Input) -> Effects {
        Member::handle(self, now, input)
    }
}

/// What the member tests in `sim/tests/member.rs` look into and poke: they
/// drive members through a world, which the core cannot build, and check
/// state no event shows.
#[cfg(test)]
impl Member {
    pub(crate) fn test_cfg(&self) -> &MemberConfig {
        &self.cfg
    }

    pub(crate) fn test_heads(&self) -> &[MessageId] {
        &self.causal.heads
    }

    pub(crate) fn test_archive(&mut self) -> &mut BTreeMap<MessageId, GroupMessage> {
        &mut self.causal.archive
    }

    pub(crate) fn test_own(&self) -> &[ServiceAgent] {
        &self.own
    }

    pub(crate) fn test_mark_delivered(&mut self, id: MessageId, parents: &[MessageId]) {
        self.mark_delivered(id, parents, vec![]);
    }

    pub(crate) fn test_ask_for(
        &mut self,
        now: Millis,
        ask: BTreeMap<MemberId, BTreeSet<MessageId>>,
        fx: &mut Effects,
    ) {
        self.ask_for(now, ask, fx);
    }
}
