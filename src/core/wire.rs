//! Datagrams between members and receiving service agents.
//!
//! Encoded with postcard: compact, so that bytes-on-the-wire figures mean
//! something, and strict, so that a malformed datagram is an error value
//! rather than a panic.

use super::ids::{AgentId, EnvelopeId, MemberId, Millis, ServerId};
use super::server::sequencer::{self, Kind, Receipt, Rejection};
use serde::{Deserialize, Serialize};

/// The path an agent serves its configuration at (like an MX record).
pub const WELL_KNOWN: &str = "/.well-known/Communicator.json";

/// A delivery address at one agent. The token is opaque to senders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Address {
    pub agent: AgentId,
    pub token: u64,
}

/// An address with the time it is guaranteed valid until (agent's clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub address: Address,
    pub valid_until: Millis,
}

/// One pairwise Olm ciphertext, addressed to one member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: EnvelopeId,
    pub to: MemberId,
    /// Olm message type: 0 pre-key, 1 normal.
    pub message_type: u8,
    pub ciphertext: Vec<u8>,
}

/// A message a server agent has ordered, with the receipt that places it.
/// The payload is MLS ciphertext (or a public handshake message); the server
/// never sees more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ordered {
    pub receipt: Receipt,
    pub kind: Kind,
    pub payload: Vec<u8>,
}

/// A coordinated group's message as submitted to its server agent.
/// `members_after` is the membership a commit leaves (the server cannot
/// read it out of the commit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub group: u64,
    pub generation: u32,
    pub epoch: u64,
    pub kind: Kind,
    pub payload: Vec<u8>,
    pub members_after: Option<Vec<MemberId>>,
    /// Mailboxes of the members an add commit brings in, for fan-out.
    pub joiners: Vec<(MemberId, Vec<Address>)>,
}

/// What makes two stored items the same: kind, ids, and a digest of the
/// bytes (see [`Stored::dedup_key`]).
pub type DedupKey = (u8, u64, u64, u64, [u8; 32]);

/// What a mailbox holds for a member: a pairwise envelope from another
/// member, or a message ordered by a coordinated group's server agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stored {
    Envelope(Envelope),
    Ordered { to: MemberId, item: Ordered },
}

impl Stored {
    pub fn to(&self) -> MemberId {
        match self {
            Stored::Envelope(e) => e.to,
            Stored::Ordered { to, .. } => *to,
        }
    }

    /// Two deliveries of the same thing have the same key, so a mailbox
    /// stores a retransmission once. The key covers the bytes, not just
    /// the ids: a mailbox cannot check ciphertext, so a forged copy under a
    /// genuine id (or receipt) that arrived first must not shadow the real
    /// one; the member, which can check, drops whichever is false. Two
    /// servers nominated for one generation likewise each fill the same
    /// slot numbers, and neither may shadow the other.
    pub fn dedup_key(&self) -> DedupKey {
        match self {
            Stored::Envelope(e) => (
                0,
                u64::from(e.id.sender.0),
                e.id.seq,
                u64::from(e.message_type),
                sequencer::hash(&e.ciphertext),
            ),
            Stored::Ordered { item, .. } => (
                1,
                item.receipt.group,
                u64::from(item.receipt.generation),
                item.receipt.seq,
                sequencer::hash(&[&item.receipt.hash[..], &item.payload[..]].concat()),
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The address is past its validity; the sender should use another.
    AddressExpired { valid_until: Millis },
    /// The agent has no such address (never issued, or its store was lost).
    UnknownAddress,
    /// The agent serves nothing at that path.
    NotFound,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Datagram {
    // ---- member -> agent ----
    GetConfig {
        req: u64,
        path: String,
    },
    Register {
        req: u64,
        member: MemberId,
    },
    RotateEphemeral {
        req: u64,
        member: MemberId,
    },
    /// Asks for a new long-term address (and a fresh ephemeral one) while
    /// the current long-term one is still guaranteed: the member renews
    /// ahead of expiry so that it is never left without a recovery path.
    RenewLongTerm {
        req: u64,
        member: MemberId,
    },
    PublishKeys {
        req: u64,
        member: MemberId,
        identity: [u8; 32],
        one_time_keys: Vec<[u8; 32]>,
        fallback_key: Option<[u8; 32]>,
    },
    ClaimKey {
        req: u64,
        member: MemberId,
    },
    /// MLS key packages, each handed out once, so that a member can be
    /// added to a coordinated group while it is offline.
    PublishKeyPackages {
        req: u64,
        member: MemberId,
        key_packages: Vec<Vec<u8>>,
    },
    ClaimKeyPackage {
        req: u64,
        member: MemberId,
    },
    Deliver {
        req: u64,
        address: Address,
        envelope: Envelope,
    },
    /// Everything up to and including `after` has been received and may be
    /// dropped; send what follows.
    Fetch {
        member: MemberId,
        after: u64,
    },
    /// A coordinated group's message, for its server agent to order.
    Submit {
        req: u64,
        submission: Submission,
    },
    /// Asks a candidate server agent to serve `generation` of the group,
    /// starting with the nominator alone (it adds the others by commits).
    Nominate {
        req: u64,
        group: u64,
        generation: u32,
        mailboxes: Vec<Address>,
    },
    /// A member tells a server agent of an older generation that the group
    /// has moved on: it must stop serving (fencing).
    Superseded {
        group: u64,
        generation: u32,
        server: ServerId,
    },

    /// A member whose mailbox addresses changed (an agent lost its store
    /// and issued new ones) tells its server agent, which fans out to them
    /// from now on and sends again what it ordered from `next_seq` on:
    /// its fan-outs to the old addresses were refused and abandoned.
    Readdress {
        req: u64,
        group: u64,
        generation: u32,
        next_seq: u64,
        mailboxes: Vec<Address>,
    },

    // ---- server agent -> member ----
    /// The submission was ordered; the receipt says where.
    Receipted {
        req: u64,
        receipt: Receipt,
    },
    SubmitRejected {
        req: u64,
        rejection: Rejection,
    },
    /// The nomination was accepted: this server serves `generation`.
    Nominated {
        req: u64,
        group: u64,
        generation: u32,
    },
    /// The new addresses are in use.
    Readdressed {
        req: u64,
    },

    // ---- server agent -> agent ----
    DeliverOrdered {
        req: u64,
        address: Address,
        to: MemberId,
        item: Ordered,
    },

    // ---- agent -> member ----
    Config {
        req: u64,
        document: String,
    },
    Addresses {
        req: u64,
        long_term: Grant,
        ephemeral: Grant,
    },
    KeyClaimed {
        req: u64,
        member: MemberId,
        identity: [u8; 32],
        one_time_key: Option<[u8; 32]>,
    },
    KeyPackageClaimed {
        req: u64,
        member: MemberId,
        key_package: Option<Vec<u8>>,
    },
    Accepted {
        req: u64,
    },
    Refused {
        req: u64,
        reason: Refusal,
    },
    Batch {
        items: Vec<(u64, Stored)>,
        more: bool,
    },
    /// The agent does not know the fetching member (its store was lost).
    UnknownMember {
        member: MemberId,
    },

    // ---- member -> agent, and back: a contact card looked up again ----
    /// Asks one of a member's agents for the member's newest long-term
    /// address. A sender whose copy of the card was refused (the agent lost
    /// its store and the member registered again) learns the new one the
    /// way it learns a one-time key: from the agent the card names.
    LookupAddress {
        req: u64,
        member: MemberId,
    },
    /// The answer: `None` while the agent does not know the member.
    CurrentAddress {
        req: u64,
        member: MemberId,
        long_term: Option<Grant>,
    },

    // ---- member -> server agent, and back: is the order still kept? ----
    /// Asks the group's server agent whether it still serves `generation`
    /// to this member. A member told by a peer that it fell back asks
    /// before it follows (a peer's word alone would let any one member
    /// take the group off a healthy server), and a member that fell back
    /// alone asks before it returns. Last, with its answer, so that the
    /// other datagrams keep their encoding.
    Probe {
        req: u64,
        group: u64,
        generation: u32,
    },
    /// The answer of a server serving the member: the next slot it will
    /// fill. A refusal or a later generation is answered as for a
    /// submission (`SubmitRejected`).
    Serving {
        req: u64,
        group: u64,
        generation: u32,
        next_seq: u64,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed datagram: {0}")]
pub struct WireError(String);

impl Datagram {
    pub fn encode(&self) -> Vec<u8> {
        // Our own enum always serialises.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Datagram, WireError> {
        match postcard::take_from_bytes::<Datagram>(bytes) {
            Ok((d, [])) => Ok(d),
            Ok((_, rest)) => Err(WireError(format!("{} trailing bytes", rest.len()))),
            Err(e) => Err(WireError(e.to_string())),
        }
    }

    /// Whether encoded `bytes` are a `Deliver` or a `DeliverOrdered`, read
    /// off postcard's leading variant index (one byte below 128 variants),
    /// so that an observer of the wire that wants only those need not
    /// decode, and copy, everything else.
    pub fn carries_ciphertext(bytes: &[u8]) -> bool {
        matches!(
            bytes.first(),
            Some(&(Self::DELIVER | Self::DELIVER_ORDERED))
        )
    }

    const DELIVER: u8 = 8;
    const DELIVER_ORDERED: u8 = 18;

    /// The variant's name, for error messages.
    pub fn name(&self) -> String {
        format!("{self:?}")
            .split([' ', '{', '('])
            .next()
            .unwrap_or("")
            .to_owned()
    }

    /// The request id a reply answers, if it is a reply.
    pub fn reply_to(&self) -> Option<u64> {
        match self {
            Datagram::Config { req, .. }
            | Datagram::Addresses { req, .. }
            | Datagram::KeyClaimed { req, .. }
            | Datagram::KeyPackageClaimed { req, .. }
            | Datagram::CurrentAddress { req, .. }
            | Datagram::Nominated { req, .. }
            | Datagram::Readdressed { req }
            | Datagram::Accepted { req }
            | Datagram::Refused { req, .. }
            | Datagram::Receipted { req, .. }
            | Datagram::Serving { req, .. }
            | Datagram::SubmitRejected { req, .. } => Some(*req),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Seed 4 of `coordinated-dual-nomination`: c1's message at slot 15 of
    /// generation 2 was dropped as a copy of c2's message at the same slot,
    /// and the member stalled for good.
    #[test]
    fn two_servers_same_slot_are_not_one_message() {
        let ordered = |hash: u8| Stored::Ordered {
            to: MemberId(1),
            item: Ordered {
                receipt: Receipt {
                    group: 1,
                    generation: 2,
                    seq: 15,
                    epoch: 1,
                    sender: MemberId(0),
                    hash: [hash; 32],
                    signature: Vec::new(),
                },
                kind: Kind::Commit,
                payload: vec![hash],
            },
        };
        assert_eq!(ordered(1).dedup_key(), ordered(1).dedup_key());
        assert_ne!(ordered(1).dedup_key(), ordered(2).dedup_key());
    }

    #[test]
    fn round_trip() {
        let d = Datagram::Fetch {
            member: MemberId(3),
            after: 99,
        };
        assert_eq!(Datagram::decode(&d.encode()), Ok(d));
    }

    #[test]
    fn deliveries_are_told_apart_without_decoding() {
        let address = Address {
            agent: AgentId(0),
            token: 7,
        };
        let deliver = Datagram::Deliver {
            req: 1,
            address,
            envelope: Envelope {
                id: EnvelopeId {
                    sender: MemberId(0),
                    seq: 1,
                },
                to: MemberId(1),
                message_type: 0,
                ciphertext: vec![1, 2, 3],
            },
        };
        let ordered = Datagram::DeliverOrdered {
            req: 2,
            address,
            to: MemberId(1),
            item: Ordered {
                receipt: Receipt {
                    group: 1,
                    generation: 1,
                    seq: 3,
                    epoch: 1,
                    sender: MemberId(0),
                    hash: [0; 32],
                    signature: Vec::new(),
                },
                kind: Kind::Commit,
                payload: vec![4],
            },
        };
        assert!(Datagram::carries_ciphertext(&deliver.encode()));
        assert!(Datagram::carries_ciphertext(&ordered.encode()));
        for other in [
            Datagram::Accepted { req: 1 },
            Datagram::Fetch {
                member: MemberId(3),
                after: 99,
            },
        ] {
            assert!(!Datagram::carries_ciphertext(&other.encode()));
        }
        assert!(!Datagram::carries_ciphertext(&[]));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = Datagram::Accepted { req: 1 }.encode();
        bytes.push(0);
        assert!(Datagram::decode(&bytes).is_err());
    }

    proptest! {
        #[test]
        fn decoding_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = Datagram::decode(&bytes);
        }
    }
}
