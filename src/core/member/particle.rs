//! The Group Particle: what one member holds about its group, exactly the
//! fields the seed lists, plus the contact cards members start from.

use crate::core::ids::{AgentId, MemberId};
use crate::core::wire::Grant;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use vodozemac::{Ed25519PublicKey, Ed25519Signature};

/// How a member wants to be shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presentation {
    pub preferred_name: String,
    pub pronouns: Option<String>,
    /// A reference to a picture, never the picture itself.
    pub picture: Option<String>,
}

/// A signed statement that links an identity public key to a scoped name
/// (like `m3@example.com`), made by the name's domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    pub scoped_name: String,
    pub attester: [u8; 32],
    pub signature: Vec<u8>,
}

impl Attestation {
    pub fn statement(scoped_name: &str, ipk: &[u8; 32]) -> Vec<u8> {
        let mut s = b"communicator-attestation/v1|".to_vec();
        s.extend_from_slice(scoped_name.as_bytes());
        s.push(b'|');
        s.extend_from_slice(ipk);
        s
    }

    /// Checks the signature over this member's IPK.
    pub fn verify(&self, ipk: &[u8; 32]) -> bool {
        let Ok(key) = Ed25519PublicKey::from_slice(&self.attester) else {
            return false;
        };
        let Ok(sig) = Ed25519Signature::from_slice(&self.signature) else {
            return false;
        };
        key.verify(&Self::statement(&self.scoped_name, ipk), &sig)
            .is_ok()
    }
}

/// One of a member's receiving service agents, as others know it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAgent {
    pub agent: AgentId,
    /// Where the agent's configuration is served.
    pub url: String,
    /// Valid for a long, guaranteed time: the recovery path. The newest
    /// one announced; its holder renews it at half its TTL, and agents
    /// keep honouring the ones it replaced while it does.
    pub long_term: Grant,
    /// Short-lived; rotated by the member and announced in its messages.
    pub ephemeral: Option<Grant>,
}

/// What one member knows about another: the seed's per-member fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub member: MemberId,
    pub presentation: Presentation,
    /// Identity public key (Ed25519): the member's Olm signing key.
    pub ipk: [u8; 32],
    /// The Olm Curve25519 identity key that sessions are bound to.
    pub curve25519: [u8; 32],
    pub attestation: Option<Attestation>,
    /// At least two.
    pub agents: Vec<ServiceAgent>,
    /// Whether the attestation holds, once some member has checked it.
    /// Every member still counts the check as its own work (a real client
    /// makes it), but a card shared by a thousand founders is checked
    /// once: a million Ed25519 verifications of the same thousand
    /// statements were nearly all of a 1,000-member run's setup.
    #[serde(skip)]
    pub attested: OnceLock<bool>,
}

impl Contact {
    /// Whether the card's attestation (if it has one) binds its name to its
    /// identity key.
    pub fn attestation_holds(&self) -> bool {
        *self.attested.get_or_init(|| {
            self.attestation
                .as_ref()
                .is_none_or(|a| a.verify(&self.ipk))
        })
    }
}

/// The Group Particle held by one member. The member's own identity private
/// key and message-security state (the Olm account and sessions) live beside
/// it in the member, where they can be used without being copied.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GroupParticle {
    /// The name the group was founded with.
    pub name: Option<String>,
    pub picture: Option<String>,
    /// The last rename this member applied, if the group was ever renamed:
    /// it overrides the founding name and picture.
    pub meta: Option<GroupMeta>,
    /// Every *other* member of the group. Shared with the directory until
    /// the member learns something newer (copied on write), so that a
    /// thousand founders do not hold a million copies of the same cards.
    pub others: BTreeMap<MemberId, Arc<Contact>>,
}

/// The group's name and picture after a rename: one last-writer-wins
/// register, ordered by the renamer's stamp, in both kinds of group.
///
/// It travels whole in every group message after the rename (and in
/// Welcomes), not as an op: a member that missed the rename, joined after
/// it, or fell back or moved generation meanwhile converges on the next
/// message it gets, and concurrent renames resolve by the same stamp order
/// everywhere, whichever order a server or the network delivered them in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupMeta {
    pub name: String,
    pub picture: Option<String>,
    pub stamp: crate::core::clock::Hlc,
}

impl GroupMeta {
    /// Whether this rename wins over what a member holds.
    pub fn beats(&self, held: Option<&GroupMeta>) -> bool {
        held.is_none_or(|h| self.stamp > h.stamp)
    }
}

/// The contact cards every member starts with: the simulation assumes the
/// members already have 1:1 relationships (the seed builds groups on them),
/// so a member knows how to reach anyone it may be asked to add. One copy,
/// shared by every member: setup memory grows with the members, not their
/// square.
pub type Directory = BTreeMap<MemberId, Arc<Contact>>;

#[cfg(test)]
mod tests {
    use super::*;
    use vodozemac::Ed25519Keypair;

    #[test]
    fn attestation_binds_name_and_key() {
        let domain = Ed25519Keypair::new();
        let ipk = [5u8; 32];
        let a = Attestation {
            scoped_name: "m1@example.com".into(),
            attester: domain.public_key().as_bytes().to_owned(),
            signature: domain
                .sign(&Attestation::statement("m1@example.com", &ipk))
                .to_bytes()
                .to_vec(),
        };
        assert!(a.verify(&ipk));
        assert!(!a.verify(&[6u8; 32]));
        let forged = Attestation {
            scoped_name: "m2@example.com".into(),
            ..a
        };
        assert!(!forged.verify(&ipk));
    }

    /// The answer is kept per card, so it must be the card's own: a card
    /// whose attestation names another key fails for every member that
    /// reads it, however many have read it before, and a good one holds.
    #[test]
    fn a_shared_card_keeps_its_own_answer() {
        let domain = Ed25519Keypair::new();
        let card = |ipk: [u8; 32], signed_for: [u8; 32]| Contact {
            member: MemberId(1),
            presentation: Presentation {
                preferred_name: "m1".into(),
                pronouns: None,
                picture: None,
            },
            ipk,
            curve25519: [0; 32],
            attestation: Some(Attestation {
                scoped_name: "m1@example.com".into(),
                attester: domain.public_key().as_bytes().to_owned(),
                signature: domain
                    .sign(&Attestation::statement("m1@example.com", &signed_for))
                    .to_bytes()
                    .to_vec(),
            }),
            agents: Vec::new(),
            attested: OnceLock::new(),
        };
        let good = Arc::new(card([5; 32], [5; 32]));
        let bad = Arc::new(card([5; 32], [6; 32]));
        for _ in 0..3 {
            assert!(good.clone().attestation_holds());
            assert!(!bad.clone().attestation_holds());
        }
    }
}
