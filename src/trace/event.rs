//! What a trace records: every event hosts report, and what only the
//! simulator knows (the run's start with its claims and bounds, the
//! faults it carried out, the attacker's forgeries, the run's end). The
//! second kind is harness vocabulary, kept here rather than in the core
//! because no host reports it.

use super::Expect;
use crate::core::event::Event as HostEvent;
use crate::core::ids::{AgentId, MemberId, MessageId, Millis, Peer};
use crate::core::member::membership::Variant;
use crate::faults::{FaultKind, Forgery};
use serde::{Deserialize, Serialize};

pub use crate::core::event::OpKind;

/// The trace format this build writes. Format 2 records faults typed
/// (`phase`, `index`, `fault`) where format 1 gave a name and a
/// description; format 3 writes each fault's fields as the scenario
/// file does (`host`, `a`/`b`, `"250ms"`). A reader refuses a trace of
/// another format by name rather than misreading it.
pub const TRACE_FORMAT: u32 = 3;

/// A fault taking effect, or being lifted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Begin,
    End,
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
    /// How long after a fault lifts, or a failure is detected, a delivery
    /// it held up may still arrive (`delivery` judges it); traces of
    /// scenarios without the bound have none and are only measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_ms: Option<Millis>,
    /// What a run with server agents owes in time; traces from before it
    /// was recorded have none, and owe no takeover or prompt fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<ServerBounds>,
}

/// The protocol and network settings that bound what a coordinated
/// member must do in time: the candidates are the servers
/// `c0`..`c{servers-1}` in that order, each member waits
/// `takeover_after_ms` times one plus its rank before nominating the next
/// one, a nominee has `ack_timeout_ms` to answer, and a server's answer
/// reaches a member on a quiet network within `reply_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerBounds {
    pub servers: u32,
    pub takeover_after_ms: Millis,
    pub ack_timeout_ms: Millis,
    pub reply_ms: Millis,
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

/// One event of the trace. Host events are written as hosts report them
/// (the `Host` variant adds no tag of its own), so both kinds share one
/// flat `kind` namespace in the JSON Lines form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        /// The trace format this run wrote ([`TRACE_FORMAT`]); traces
        /// from before it was recorded have none.
        #[serde(default)]
        format: u32,
        scenario: String,
        seed: u64,
        variant: Variant,
        members: Vec<MemberId>,
        agents: Vec<AgentId>,
        founders: Vec<MemberId>,
        bounds: Bounds,
        expect: Expect,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ops: Vec<PlannedOp>,
        /// Each member's mailbox agents. Members reach each other only
        /// through them: a member cut off from its own mailboxes can
        /// notice nothing, whatever side its peers are on. Traces from
        /// before it was recorded have none, and are read as if members
        /// reached each other directly.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mailboxes: Vec<(MemberId, Vec<AgentId>)>,
    },
    /// Fault `index` of the plan took effect (or was lifted): the
    /// scenario's own typed fault, so that checkers and the timeline
    /// match on its kind and read its hosts and parameters.
    Fault {
        phase: Phase,
        index: usize,
        fault: FaultKind,
    },
    /// A datagram removed by the per-message loss fault.
    DatagramLost { to: Peer, bytes: usize },
    /// A datagram sent twice by the duplication fault.
    DatagramDuplicated { to: Peer },
    /// The attacker fault forged something aimed at `victim`. `msg` is
    /// the id a forged group message claims: no member may deliver it.
    Forged {
        attack: Forgery,
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
        /// The group's name and picture the member holds, once the group
        /// was renamed (absent before: the founding name).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        meta: Option<crate::core::member::particle::GroupMeta>,
    },

    /// Anything a host reported.
    #[serde(untagged)]
    Host(HostEvent),
}

impl From<HostEvent> for Event {
    fn from(e: HostEvent) -> Event {
        Event::Host(e)
    }
}

impl Event {
    /// The host event, if a host reported this one.
    pub fn host(&self) -> Option<&HostEvent> {
        match self {
            Event::Host(e) => Some(e),
            _ => None,
        }
    }

    /// The snake_case kind name as it appears in the trace.
    pub fn kind(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
            .unwrap_or_default()
    }
}
