//! The heart of a server agent: one total order per group generation.
//!
//! Every message a coordinated group sends goes through the sequencer. It
//! accepts exactly one commit per MLS epoch (compare-and-set on the epoch,
//! as Signal's group server does with its version number), assigns each
//! accepted message the next sequence number, and signs the statement
//! (group, generation, sequence number, message hash). A signed statement
//! is a receipt: two receipts from the same server for the same slot over
//! different messages are a fraud proof of equivocation (as in key
//! transparency), which any member can check without trusting anyone.

use crate::core::ids::MemberId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vodozemac::{Ed25519Keypair, Ed25519PublicKey, Ed25519Signature};

/// What a submitted message is, as far as ordering is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// Moves the group to the next epoch: at most one per epoch.
    Commit,
    /// Application data or a proposal: ordered within the current epoch.
    Message,
}

/// One slot of a group's order, signed by its server agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub group: u64,
    pub generation: u32,
    pub seq: u64,
    /// The MLS epoch the message belongs to.
    pub epoch: u64,
    pub sender: MemberId,
    pub hash: [u8; 32],
    pub signature: Vec<u8>,
}

/// Its serde names are the trace's; postcard, on the wire, encodes
/// variants by position and ignores them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// The commit was built on an old epoch; rebase on `current`.
    #[error("stale epoch {submitted}: the group is at epoch {current}")]
    StaleEpoch { submitted: u64, current: u64 },
    /// The sender is not a member of the group as the server knows it.
    #[error("{0} is not a member")]
    NotAMember(MemberId),
    /// The message is for another generation: this server does not (or no
    /// longer) serve it.
    #[error("generation {submitted} is not served here (current {current})")]
    WrongGeneration { submitted: u32, current: u32 },
    /// This server agent does not serve the group at all.
    #[error("group {0} is not served here")]
    NotServed(u64),
    /// The server agent is up but refuses service (a fault, or policy).
    #[error("service refused")]
    Refused,
}

/// The bytes a receipt's signature covers. Domain-separated so that no
/// other signature by the same key can be passed off as a receipt.
pub fn statement(
    group: u64,
    generation: u32,
    seq: u64,
    epoch: u64,
    sender: MemberId,
    hash: &[u8; 32],
) -> Vec<u8> {
    let mut s = b"commsim-receipt/v1".to_vec();
    s.extend_from_slice(&group.to_be_bytes());
    s.extend_from_slice(&generation.to_be_bytes());
    s.extend_from_slice(&seq.to_be_bytes());
    s.extend_from_slice(&epoch.to_be_bytes());
    s.extend_from_slice(&sender.0.to_be_bytes());
    s.extend_from_slice(hash);
    s
}

pub fn hash(payload: &[u8]) -> [u8; 32] {
    Sha256::digest(payload).into()
}

impl Receipt {
    /// Whether `server` signed this receipt.
    pub fn verify(&self, server: &[u8; 32]) -> bool {
        let Ok(key) = Ed25519PublicKey::from_slice(server) else {
            return false;
        };
        let Ok(sig) = Ed25519Signature::from_slice(&self.signature) else {
            return false;
        };
        key.verify(
            &statement(
                self.group,
                self.generation,
                self.seq,
                self.epoch,
                self.sender,
                &self.hash,
            ),
            &sig,
        )
        .is_ok()
    }
}

/// Two valid receipts for the same slot over different messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudProof {
    pub a: Receipt,
    pub b: Receipt,
}

impl FraudProof {
    /// Checks that `a` and `b` prove `server` equivocated.
    pub fn check(a: &Receipt, b: &Receipt, server: &[u8; 32]) -> Option<FraudProof> {
        let same_slot = (a.group, a.generation, a.seq) == (b.group, b.generation, b.seq);
        (same_slot && a.hash != b.hash && a.verify(server) && b.verify(server)).then(|| {
            FraudProof {
                a: a.clone(),
                b: b.clone(),
            }
        })
    }
}

/// The order of one group generation at one server agent. Cloned only by
/// the forking server, which keeps a second branch of the order.
#[derive(Clone)]
pub struct Sequencer {
    group: u64,
    generation: u32,
    epoch: u64,
    next_seq: u64,
    members: std::collections::BTreeSet<MemberId>,
    key: Ed25519Keypair,
}

impl Sequencer {
    pub fn new(
        group: u64,
        generation: u32,
        epoch: u64,
        members: impl IntoIterator<Item = MemberId>,
        key: Ed25519Keypair,
    ) -> Self {
        Sequencer {
            group,
            generation,
            epoch,
            next_seq: 0,
            members: members.into_iter().collect(),
            key,
        }
    }

    pub fn public_key(&self) -> [u8; 32] {
        *self.key.public_key().as_bytes()
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The slot the next ordered message will take.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn members(&self) -> &std::collections::BTreeSet<MemberId> {
        &self.members
    }

    /// Orders one message. A commit must be built on the current epoch and
    /// moves the group to the next; `members_after` is the membership it
    /// leaves (the server cannot read it out of an encrypted commit).
    pub fn submit(
        &mut self,
        generation: u32,
        sender: MemberId,
        kind: Kind,
        epoch: u64,
        payload: &[u8],
        members_after: Option<&[MemberId]>,
    ) -> Result<Receipt, Rejection> {
        if generation != self.generation {
            return Err(Rejection::WrongGeneration {
                submitted: generation,
                current: self.generation,
            });
        }
        if !self.members.contains(&sender) {
            return Err(Rejection::NotAMember(sender));
        }
        if epoch != self.epoch {
            return Err(Rejection::StaleEpoch {
                submitted: epoch,
                current: self.epoch,
            });
        }
        let receipt = self.sign(sender, epoch, hash(payload));
        if kind == Kind::Commit {
            self.epoch += 1;
            if let Some(after) = members_after {
                self.members = after.iter().copied().collect();
            }
        }
        Ok(receipt)
    }

    /// Signs the next slot. Honest servers only call this from `submit`;
    /// the dishonest-server fault calls it directly to sign two different
    /// messages for the same slot.
    pub fn sign(&mut self, sender: MemberId, epoch: u64, hash: [u8; 32]) -> Receipt {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.sign_slot(seq, sender, epoch, hash)
    }

    /// Moves the next slot up to `seq` (never back). Honest servers have
    /// one order; a forking server keeps two branches on one slot
    /// counter, so that each side's slots follow on without a gap.
    pub fn skip_to(&mut self, seq: u64) {
        self.next_seq = self.next_seq.max(seq);
    }

    pub fn sign_slot(&self, seq: u64, sender: MemberId, epoch: u64, hash: [u8; 32]) -> Receipt {
        let signature = self
            .key
            .sign(&statement(
                self.group,
                self.generation,
                seq,
                epoch,
                sender,
                &hash,
            ))
            .to_bytes()
            .to_vec();
        Receipt {
            group: self.group,
            generation: self.generation,
            seq,
            epoch,
            sender,
            hash,
            signature,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequencer() -> Sequencer {
        Sequencer::new(
            7,
            1,
            0,
            [MemberId(0), MemberId(1), MemberId(2)],
            Ed25519Keypair::new(),
        )
    }

    #[test]
    fn one_commit_per_epoch_and_the_loser_learns_the_current_epoch() {
        let mut s = sequencer();
        let first = s
            .submit(1, MemberId(0), Kind::Commit, 0, b"commit a", None)
            .unwrap();
        assert_eq!((first.seq, first.epoch, s.epoch()), (0, 0, 1));
        assert_eq!(
            s.submit(1, MemberId(1), Kind::Commit, 0, b"commit b", None),
            Err(Rejection::StaleEpoch {
                submitted: 0,
                current: 1
            })
        );
        let rebased = s
            .submit(1, MemberId(1), Kind::Commit, 1, b"commit b'", None)
            .unwrap();
        assert_eq!((rebased.seq, s.epoch()), (1, 2));
    }

    #[test]
    fn messages_are_numbered_in_order_and_signed() {
        let mut s = sequencer();
        let key = s.public_key();
        let receipts: Vec<Receipt> = (0..3)
            .map(|i| {
                s.submit(1, MemberId(i), Kind::Message, 0, &[i as u8], None)
                    .unwrap()
            })
            .collect();
        assert_eq!(
            receipts.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert!(receipts.iter().all(|r| r.verify(&key)));
        let mut forged = receipts[0].clone();
        forged.hash = hash(b"something else");
        assert!(!forged.verify(&key));
        assert!(
            !receipts[0].verify(&Sequencer::new(7, 1, 0, [], Ed25519Keypair::new()).public_key())
        );
    }

    #[test]
    fn removed_members_and_other_generations_are_refused() {
        let mut s = sequencer();
        s.submit(
            1,
            MemberId(0),
            Kind::Commit,
            0,
            b"remove m2",
            Some(&[MemberId(0), MemberId(1)]),
        )
        .unwrap();
        assert_eq!(
            s.submit(1, MemberId(2), Kind::Message, 1, b"hi", None),
            Err(Rejection::NotAMember(MemberId(2)))
        );
        assert_eq!(
            s.submit(2, MemberId(0), Kind::Message, 1, b"hi", None),
            Err(Rejection::WrongGeneration {
                submitted: 2,
                current: 1
            })
        );
    }

    #[test]
    fn two_receipts_for_one_slot_are_a_fraud_proof_and_nothing_else_is() {
        let mut s = sequencer();
        let key = s.public_key();
        let honest = s
            .submit(1, MemberId(0), Kind::Message, 0, b"to everyone", None)
            .unwrap();
        // The dishonest server signs a different message into the same slot.
        let lie = s.sign_slot(honest.seq, MemberId(1), 0, hash(b"to some"));
        assert!(FraudProof::check(&honest, &lie, &key).is_some());
        // Same message twice, or different slots, prove nothing.
        assert!(FraudProof::check(&honest, &honest.clone(), &key).is_none());
        let next = s
            .submit(1, MemberId(1), Kind::Message, 0, b"later", None)
            .unwrap();
        assert!(FraudProof::check(&honest, &next, &key).is_none());
        // A receipt the server never signed cannot frame it.
        let mut framed = lie.clone();
        framed.signature[0] ^= 1;
        assert!(FraudProof::check(&honest, &framed, &key).is_none());
    }
}
