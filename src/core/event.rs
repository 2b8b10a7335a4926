//! The events of a run, as hosts and the simulator report them. One enum
//! for every host kind, so that a trace is one ordered log and a checker
//! can read it without knowing who wrote what. It is the trace's
//! vocabulary, but it lives in the core, which reports it, so that the core
//! depends on nothing above it.
//!
//! Nothing here may hold plaintext or key material: events name messages by
//! id and give sizes, never contents.

mod claim;

use crate::core::ids::{AgentId, EnvelopeId, MemberId, MessageId, Millis, Peer, ServerId};
use crate::core::member::membership::Variant;
pub use claim::Claim;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A membership change requested by the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Add,
    Remove,
}

/// What a checker is expected to answer, as written in the scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Unknown,
}

/// The time limits checkers hold the run to, copied into the trace so that
/// `commsim check` can judge a saved trace without its scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// When the last fault has healed.
    pub heal_at: Millis,
    /// How long after `heal_at` membership may take to settle.
    pub convergence_ms: Millis,
    /// How long after a fork (or after `heal_at`, whichever is later) it may
    /// take each side to detect it.
    pub detection_ms: Millis,
}

/// A membership change the workload asks a member to make, copied into
/// the trace so that a change the protocol drops without a word can be
/// counted: the intent is in the trace whether or not anything followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedOp {
    pub at: Millis,
    pub by: MemberId,
    pub op: OpKind,
    pub target: MemberId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    // ---- the simulator ----
    RunStarted {
        scenario: String,
        seed: u64,
        variant: Variant,
        members: Vec<MemberId>,
        agents: Vec<AgentId>,
        founders: Vec<MemberId>,
        bounds: Bounds,
        expect: BTreeMap<String, Claim>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ops: Vec<PlannedOp>,
    },
    /// A fault took effect (or healed); `detail` says which, in the
    /// scenario's own words.
    Fault {
        fault: String,
        #[serde(with = "crate::core::ids::host_names")]
        hosts: Vec<Peer>,
        /// A partition's two sides (`from` and `to` for a one-way one), so
        /// that checkers can tell who could still reach whom.
        #[serde(
            default,
            skip_serializing_if = "Vec::is_empty",
            with = "crate::core::ids::host_name_lists"
        )]
        sides: Vec<Vec<Peer>>,
        detail: String,
    },
    /// A datagram removed by the per-message loss fault.
    DatagramLost {
        to: Peer,
        bytes: usize,
    },
    /// A datagram sent twice by the duplication fault.
    DatagramDuplicated {
        to: Peer,
    },
    /// The attacker fault forged something aimed at `victim` (`attack`:
    /// receipt, outsider, replay or corrupt). `msg` is the id a forged
    /// group message claims: no member may deliver it.
    Forged {
        attack: String,
        victim: MemberId,
        detail: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        msg: Option<MessageId>,
    },
    /// The end of the run: who is up, and each member's final belief.
    RunEnded {
        #[serde(with = "crate::core::ids::host_names")]
        running: Vec<Peer>,
    },
    FinalView {
        member: MemberId,
        in_group: bool,
        view: Vec<MemberId>,
        /// Members whose state was wiped at some point; they cannot be
        /// expected to hold anything.
        state_lost: bool,
    },

    // ---- members ----
    MemberStarted {
        restart: bool,
        volatile_lost: bool,
    },
    /// The application changed membership; `msg` is the message carrying it.
    MembershipOp {
        msg: MessageId,
        op: OpKind,
        target: MemberId,
    },
    /// A group message left its sender (once, whatever the fan-out).
    /// `parents` are the sender's causal frontier, before per-recipient
    /// filtering.
    MessageSent {
        msg: MessageId,
        recipients: Vec<MemberId>,
        parents: Vec<MessageId>,
        control: bool,
        /// Handed to the group's server agent to order, rather than sealed
        /// pairwise: only such a message can show a member that its server
        /// is down (see the fallback checker).
        #[serde(default)]
        submitted: bool,
    },
    /// One pairwise ciphertext of a group message.
    EnvelopeSent {
        env: EnvelopeId,
        msg: MessageId,
        to: MemberId,
        prekey: bool,
        bytes: usize,
    },
    /// A recipient's mailbox accepted an envelope: the message is
    /// acknowledged for that recipient from here on.
    DeliveryAcked {
        env: EnvelopeId,
        to: MemberId,
        agent: AgentId,
    },
    DeliveryRefused {
        env: EnvelopeId,
        to: MemberId,
        agent: AgentId,
        reason: String,
    },
    DeliveryAbandoned {
        env: EnvelopeId,
        to: MemberId,
        agent: AgentId,
    },
    /// The server agent ordered a coordinated group's message: it is
    /// acknowledged for every recipient from here on.
    /// A coordinated group's member switched the group to lightweight mode.
    FellBack {
        reason: String,
        /// The server agent the member holds proof of a lie against.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        liar: Option<ServerId>,
    },
    /// This member joined (or, as nominator, formed) a generation of the
    /// coordinated group: `server` orders it.
    Joined {
        generation: u32,
        server: ServerId,
        nominator: MemberId,
        epoch: u64,
    },
    /// This member's MLS group entered `epoch`; `authenticator` is the
    /// start of its epoch authenticator, the value members compare.
    EpochEntered {
        generation: u32,
        server: ServerId,
        epoch: u64,
        authenticator: String,
    },
    /// This member asked `server` to take on `generation`.
    Nominating {
        generation: u32,
        server: ServerId,
    },
    /// A server of an older generation sent this member something; the
    /// member ignored it and told the server the group moved on.
    StaleServer {
        server: ServerId,
        generation: u32,
        current: u32,
    },
    SubmitAcked {
        msg: MessageId,
        server: ServerId,
        generation: u32,
        seq: u64,
    },
    SessionCreated {
        peer: MemberId,
        inbound: bool,
    },
    DecryptFailed {
        env: EnvelopeId,
        from: MemberId,
        error: String,
    },
    /// Shown to the application.
    Delivered {
        msg: MessageId,
    },
    /// A message waits for parents that have not arrived.
    ParentMissing {
        msg: MessageId,
        missing: Vec<MessageId>,
    },
    MembershipChanged {
        view: Vec<MemberId>,
        in_group: bool,
        cause: Option<MessageId>,
    },
    ForkDetected {
        other_side: Vec<MemberId>,
        evidence: String,
    },
    /// This member holds proof that `server` lied about slot `seq` of
    /// `generation`: two receipts it signed for one slot over different
    /// messages, or one message under two slots (a replay). `evidence`
    /// names both (hashes and senders, never contents).
    EquivocationDetected {
        server: ServerId,
        generation: u32,
        seq: u64,
        evidence: String,
    },
    AddressRotated {
        agent: AgentId,
    },
    /// A sender whose card for `member` was refused at `agent` learnt the
    /// member's newer long-term address there.
    AddressLookedUp {
        member: MemberId,
        agent: AgentId,
    },
    CommandSkipped {
        command: String,
        reason: String,
    },
    DatagramRejected {
        from: Peer,
        error: String,
    },

    // ---- receiving service agents ----
    AddressRefused {
        member: MemberId,
        sender: Peer,
        reason: String,
    },
    MailboxWiped,

    // ---- server agents ----
    /// A coordinated group's message took its place in the order.
    /// `members` is the group as the server knew it then: the members the
    /// message is acknowledged for.
    Ordered {
        group: u64,
        generation: u32,
        seq: u64,
        epoch: u64,
        sender: MemberId,
        commit: bool,
        members: Vec<MemberId>,
    },
    SubmitRejected {
        sender: MemberId,
        reason: String,
    },
    /// A nomination was accepted: this server serves `generation`.
    GenerationAccepted {
        group: u64,
        generation: u32,
        nominator: MemberId,
    },
    /// The dishonest-server fault made this server lie to `to` about slot
    /// `seq` of `generation` (`mode`: equivocate, drop or replay).
    /// Simulator instrumentation for the checkers: no member sees it.
    Lied {
        mode: String,
        to: Vec<MemberId>,
        generation: u32,
        seq: u64,
    },
    /// This server learnt the group moved on to generation `by` and
    /// stopped serving its `generation`.
    Fenced {
        group: u64,
        generation: u32,
        by: u32,
    },
}

impl Event {
    /// The snake_case kind name as it appears in the trace.
    pub fn kind(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
            .unwrap_or_default()
    }
}
