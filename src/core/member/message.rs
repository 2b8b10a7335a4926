//! The plaintext of a group message, as it is inside each Olm ciphertext.

use super::membership::LwwSet;
use crate::core::clock::Hlc;
use crate::core::event::OpKind;
use crate::core::ids::{MemberId, MessageId, ServerId};
use crate::core::wire::Grant;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use vodozemac::{Ed25519PublicKey, Ed25519Signature};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupMessage {
    pub group: u64,
    pub id: MessageId,
    /// Who the sender addressed. Under `recipient-list` this *is* the
    /// membership.
    pub recipients: Vec<MemberId>,
    /// The sender's causal frontier (the latest messages it had delivered).
    pub parents: Vec<MessageId>,
    /// Parents that some recipients were never sent, with those
    /// recipients: they do not wait for them (a member cannot wait for what
    /// it was never meant to get). One signed message serves every
    /// recipient, whether it comes from its author over Olm, from the
    /// server's order, or forwarded by a peer (`Payload::Forwarded`), so
    /// each receiver filters the parents for itself ([`GroupMessage::parents_for`]).
    pub unsent: Vec<(MessageId, Vec<MemberId>)>,
    pub reply_to: Option<MessageId>,
    pub hlc: Hlc,
    /// The membership change this message makes, if any.
    pub op: Option<(OpKind, MemberId)>,
    /// Under `lww`, the sender's whole membership state. Shared (it is
    /// the same bytes on the wire): a member's archive holds thousands of
    /// messages that mostly carry the same set (see `Member::keep`).
    pub membership: Option<Arc<LwwSet>>,
    /// The sender's current addresses at each of its agents (long-term,
    /// ephemeral), so that others can use fresh ones and stop using expired
    /// or lost ones.
    pub contact: Vec<(Grant, Option<Grant>)>,
    /// The generation of a coordinated group, and its server, that the
    /// sender last fell back from. A member still coordinating in exactly
    /// that generation learns from it that its server failed for the
    /// sender; a member in any other generation just delivers the message.
    pub fell_from: Option<(u32, ServerId)>,
    /// The group's name and picture as the sender holds them, once the
    /// group was renamed (see [`super::particle::GroupMeta`]).
    pub meta: Option<super::particle::GroupMeta>,
    pub body: Vec<u8>,
    /// The author's Ed25519 signature (its identity key, the IPK of its
    /// contact card) over everything above: what lets a member that holds
    /// the message forward it to one that misses it without being able to
    /// change it or forge one in the author's name. Pairwise Olm
    /// authenticates only the hop.
    pub signature: Vec<u8>,
}

impl GroupMessage {
    /// The bytes the author signs: the message without its signature,
    /// domain-separated from every other signature of the same key.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let unsigned = GroupMessage {
            signature: Vec::new(),
            ..self.clone()
        };
        let mut bytes = b"commsim-group-message/v1|".to_vec();
        bytes.extend_from_slice(&postcard::to_stdvec(&unsigned).unwrap_or_default());
        bytes
    }

    /// Whether the holder of `ipk` (an Ed25519 public key) signed it.
    pub fn verify(&self, ipk: &[u8; 32]) -> bool {
        let Ok(key) = Ed25519PublicKey::from_slice(ipk) else {
            return false;
        };
        let Ok(sig) = Ed25519Signature::from_slice(&self.signature) else {
            return false;
        };
        key.verify(&self.signed_bytes(), &sig).is_ok()
    }

    /// The parents `member` waits for: all but those it was never sent.
    pub fn parents_for(&self, member: MemberId) -> Vec<MessageId> {
        self.parents
            .iter()
            .copied()
            .filter(|p| {
                !self
                    .unsent
                    .iter()
                    .any(|(u, not_sent)| u == p && not_sent.contains(&member))
            })
            .collect()
    }
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
    /// The inviter's LWW set (its ledger, `coordinated/ledger.rs`): a
    /// joiner that holds a removal it lacks brings it into the
    /// generation, and one that knows itself removed joins only if this
    /// set holds a later add of it.
    pub ledger: Option<super::membership::LwwSet>,
    /// The joiner's long-term addresses the server was given, from the
    /// inviter's card: a joiner holding others readdresses.
    pub mailboxes: Vec<crate::core::wire::Address>,
    /// The inviter's name and picture of the group, if it was renamed: a
    /// joiner of a silent group gets no message that would carry them.
    pub meta: Option<super::particle::GroupMeta>,
}

/// What travels inside a pairwise Olm ciphertext.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Payload {
    Group(GroupMessage),
    /// "Please send me these messages again": asked of a missing
    /// parent's author and of the members that handed over a message
    /// naming it (they hold it), when that message has waited too long.
    /// Anyone holding a wanted message answers, but only to one of its
    /// recipients, and only over this authenticated pairwise channel.
    /// `have` is the asker's highest delivered seq per author: the answer
    /// carries the wanted messages' ancestors past it too, so that a
    /// chain missed whole (a partition's, or another fork branch's)
    /// crosses in one round trip, not one per link (issue 21 (3), (4)).
    Backfill {
        group: u64,
        want: Vec<MessageId>,
        have: Vec<(MemberId, u32)>,
    },
    /// Someone else's group message, sent again by a member that holds it
    /// in answer to a `Backfill`; its author's signature proves it.
    Forwarded(GroupMessage),
    Welcome(Invite),
    /// Coordinated groups: what this member was shown of the server's
    /// order, for the recipient to compare (see `audit.rs`).
    Audit(super::audit::AuditReport),
    /// An own message sent again over Olm at a fallback, which `server`
    /// had ordered in `generation`. A member still following that order
    /// holds it until it processes its slot or falls back itself: taken
    /// at once, it overtook the slots before it (issue 21 (6),
    /// `coordinated-commit-fork`). Last, so that the others keep their
    /// encoding.
    Resent {
        server: crate::core::ids::ServerId,
        generation: u32,
        /// The slot the server gave it: a member that joins that order
        /// only later holds it until the order gets there.
        seq: u64,
        msg: GroupMessage,
    },
    /// "You wrote to an order I had left: send me what you wrote there",
    /// with the asker's highest delivered seq per author (see
    /// `Member::catch_up`).
    CatchUp {
        group: u64,
        server: crate::core::ids::ServerId,
        generation: u32,
        have: Vec<(MemberId, u32)>,
    },
    /// "I asked: `server` still serves me `generation`", to a member whose
    /// fallback notice this member did not follow. The member that fell
    /// back alone stops its takeover and returns once the server answers
    /// it too (see `coordinated/doubt.rs`).
    StillServed {
        group: u64,
        server: crate::core::ids::ServerId,
        generation: u32,
    },
    /// "I fell back from `generation` at `server`: my server did not
    /// answer me", to a few peers, from a member that followed a notice
    /// only after its own question went unanswered. It tells nobody else
    /// (the member it followed has), but without this none that still
    /// reaches the server could tell it so, and it took the group over
    /// (see `coordinated/doubt.rs`).
    FellFrom {
        group: u64,
        server: crate::core::ids::ServerId,
        generation: u32,
    },
    /// "My mailbox lost its store: send me again what you wrote to me
    /// past `have`" (see `Member::resync`). Last, so that the others keep
    /// their encoding.
    Resync {
        group: u64,
        have: Vec<(MemberId, u32)>,
    },
    /// What a member holds after delivering a change, handed to a member
    /// of its view the change's author did not address (see
    /// `tidings.rs`). Last, so that the others keep their encoding.
    Tidings {
        group: u64,
        membership: Option<super::membership::LwwSet>,
        meta: Option<super::particle::GroupMeta>,
    },
    /// "Your agents had no key package left when I came to add you":
    /// claims by generations that never brought the member in (refused,
    /// superseded, or cut off before their commit) use key packages up,
    /// and the member, told by nobody, otherwise stayed out of every later
    /// generation (see `Member::on_key_package`). Last, so that the others
    /// keep their encoding.
    KeysWanted {
        group: u64,
    },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::clock::HlcClock;
    use crate::core::member::sessions::Sessions;

    fn id(sender: u32, seq: u32) -> MessageId {
        MessageId {
            sender: MemberId(sender),
            seq,
        }
    }

    fn message() -> GroupMessage {
        GroupMessage {
            group: 1,
            id: id(0, 3),
            recipients: vec![MemberId(0), MemberId(1), MemberId(2)],
            parents: vec![id(1, 0), id(2, 0)],
            unsent: vec![(id(1, 0), vec![MemberId(2)])],
            reply_to: None,
            hlc: HlcClock::new(MemberId(0)).last(),
            op: None,
            membership: None,
            contact: Vec::new(),
            fell_from: None,
            meta: None,
            body: body_for(id(0, 3)),
            signature: Vec::new(),
        }
    }

    #[test]
    fn a_signed_message_verifies_only_unchanged_and_only_with_its_authors_key() {
        let (mut author, other) = (Sessions::new(), Sessions::new());
        let mut m = message();
        m.signature = author.sign(&m.signed_bytes());
        assert!(m.verify(&author.ipk()));
        assert!(!m.verify(&other.ipk()));
        for tamper in [
            |m: &mut GroupMessage| m.body = b"forged".to_vec(),
            |m: &mut GroupMessage| m.recipients.push(MemberId(9)),
            |m: &mut GroupMessage| m.parents.clear(),
            |m: &mut GroupMessage| m.unsent.clear(),
        ] {
            let mut forged = m.clone();
            tamper(&mut forged);
            assert!(!forged.verify(&author.ipk()));
        }
    }

    #[test]
    fn a_recipient_waits_only_for_the_parents_it_was_sent() {
        let m = message();
        assert_eq!(m.parents_for(MemberId(1)), vec![id(1, 0), id(2, 0)]);
        assert_eq!(m.parents_for(MemberId(2)), vec![id(2, 0)]);
    }
}
