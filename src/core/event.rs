//! The events hosts report: one enum for every host kind, so that a trace
//! is one ordered log and a checker can read it without knowing who wrote
//! what. What only the simulator records (the run's start and end, faults,
//! forgeries) is the trace's own vocabulary (`trace/event.rs`): no host
//! reports it, so the core does not define it.
//!
//! Nothing here may hold plaintext or key material: events name messages by
//! id and give sizes, never contents.

use crate::core::ids::{AgentId, EnvelopeId, MemberId, MessageId, Peer, ServerId};
use crate::core::server::dishonest::Mode;
use crate::core::server::sequencer::Rejection;
use serde::{Deserialize, Serialize};

/// A membership change requested by the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Add,
    Remove,
}

/// Why a member switched its group from coordinated to lightweight mode,
/// typed for what reads it (the coverage explore steers by, the
/// checkers); the event's `reason` says it for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackCause {
    /// A submission got no receipt within `ack_timeout`.
    NoReceipt,
    /// The server did not answer the member's new addresses in time.
    NoReaddressAnswer,
    /// The server refused service.
    Refused,
    /// The server was fenced: the group is at a later generation.
    Fenced,
    /// The server receipted a message and did not serve it back.
    Withheld,
    /// The member holds proof that the server lied.
    Lie,
    /// A peer said it fell back from this generation.
    PeerNotice,
    /// A later generation supersedes this one.
    Superseded,
    /// The member moves the group to another server.
    Moving,
    /// The member learnt it was removed from the group.
    Removed,
}

impl FallbackCause {
    /// Whether the member saw its server fail itself, rather than being
    /// told by a peer, a later generation, its own move or its removal.
    pub fn first_hand(self) -> bool {
        use FallbackCause::*;
        match self {
            NoReceipt | NoReaddressAnswer | Refused | Fenced | Withheld | Lie => true,
            PeerNotice | Superseded | Moving | Removed => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
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
    /// The application renamed the group; `msg` is the message carrying
    /// the new name and picture, `stamp` the order renames resolve by.
    GroupRenamed {
        msg: MessageId,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        picture: Option<String>,
        stamp: crate::core::clock::Hlc,
    },
    /// This member took up a rename that beats the one it held, from the
    /// message `via` that carried it (none: from a Welcome).
    RenameApplied {
        stamp: crate::core::clock::Hlc,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<MessageId>,
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
        cause: FallbackCause,
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
        reason: Rejection,
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
        mode: Mode,
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
