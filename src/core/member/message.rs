//! The plaintext of a group message, as it is inside each Olm ciphertext.

use super::membership::LwwSet;
use crate::core::clock::Hlc;
use crate::core::ids::{MemberId, MessageId, ServerId};
use crate::core::wire::Grant;
use crate::trace::event::OpKind;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupMessage {
    pub group: u64,
    pub id: MessageId,
    /// Who the sender addressed. Under `recipient-list` this *is* the
    /// membership.
    pub recipients: Vec<MemberId>,
    /// The sender's causal frontier, filtered to the messages this recipient
    /// was itself sent (it cannot wait for what it was never meant to get).
    pub parents: Vec<MessageId>,
    /// Ordered (MLS) messages only: one ciphertext serves every recipient,
    /// so parents that some recipients were never sent are listed here
    /// with those recipients, who do not wait for them.
    pub unsent: Vec<(MessageId, Vec<MemberId>)>,
    pub reply_to: Option<MessageId>,
    pub hlc: Hlc,
    /// The membership change this message makes, if any.
    pub op: Option<(OpKind, MemberId)>,
    /// Under `lww`, the sender's whole membership state.
    pub membership: Option<LwwSet>,
    /// The sender's current addresses at each of its agents (long-term,
    /// ephemeral), so that others can use fresh ones and stop using expired
    /// or lost ones.
    pub contact: Vec<(Grant, Option<Grant>)>,
    /// The generation of a coordinated group, and its server, that the
    /// sender last fell back from. A member still coordinating in exactly
    /// that generation learns from it that its server failed for the
    /// sender; a member in any other generation just delivers the message.
    pub fell_from: Option<(u32, ServerId)>,
    pub body: Vec<u8>,
}

/// An MLS Welcome into one generation of a coordinated group, sent over
/// the pairwise Olm channel by the member whose commit added the joiner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invite {
    pub group: u64,
    pub generation: u32,
    pub server: ServerId,
    pub nominator: MemberId,
    /// The first sequence number the joiner processes: the one after the
    /// commit that added it.
    pub next_seq: u64,
    pub welcome: Vec<u8>,
}

/// What travels inside a pairwise Olm ciphertext.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Payload {
    Group(GroupMessage),
    /// "Please send me these messages of yours again": asked of a
    /// message's author when a message that follows it has waited too long
    /// for it. Only authors answer, so a forwarded message can never be
    /// forged in someone else's name.
    Backfill {
        group: u64,
        want: Vec<MessageId>,
    },
    Welcome(Invite),
    /// Coordinated groups: what this member was shown of the server's
    /// order, for the recipient to compare (see `audit.rs`).
    Audit(super::audit::AuditReport),
}

impl Payload {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<Payload> {
        postcard::from_bytes(bytes).ok()
    }
}

/// The application payload of a generated message. A fixed, recognisable
/// prefix lets the server-blindness and secrecy checks look for plaintext on
/// the wire without knowing message contents.
pub const MARKER: &[u8] = b"commsim-plaintext-marker:";

pub fn body_for(id: MessageId) -> Vec<u8> {
    let mut b = MARKER.to_vec();
    b.extend_from_slice(id.to_string().as_bytes());
    b
}
