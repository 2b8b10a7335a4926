//! Pairwise Olm (Double Ratchet) sessions with every other member: the
//! message-security state of a lightweight group.

use crate::core::ids::MemberId;
use std::collections::BTreeMap;
use vodozemac::Curve25519PublicKey;
use vodozemac::olm::{Account, OlmMessage, Session, SessionConfig};

/// Sessions kept per peer. Concurrent session starts (both sides claim a
/// key at once) leave two; a few more cover restarts. Older ones go first.
const MAX_SESSIONS_PER_PEER: usize = 4;

/// Crypto operations, counted for the performance report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CryptoOps {
    pub encryptions: u64,
    pub decryptions: u64,
    pub failed_decryptions: u64,
    pub sessions_created: u64,
    pub keys_generated: u64,
    pub signatures_verified: u64,
    pub signatures_made: u64,
}

impl CryptoOps {
    pub fn total(&self) -> u64 {
        self.encryptions
            + self.decryptions
            + self.failed_decryptions
            + self.sessions_created
            + self.keys_generated
            + self.signatures_verified
            + self.signatures_made
    }
}

pub struct Sessions {
    account: Account,
    /// Front of each list is the session to send on: the one the peer used
    /// last, so that both sides settle on the same one.
    by_peer: BTreeMap<MemberId, Vec<Session>>,
    /// The published fallback key. It is generated once and kept: agents
    /// hand it out when one-time keys run out, to any number of senders.
    fallback: Option<[u8; 32]>,
    pub ops: CryptoOps,
}

/// What a successful decryption produced.
pub struct Opened {
    pub plaintext: Vec<u8>,
    pub new_session: bool,
}

impl Sessions {
    pub fn new() -> Self {
        Sessions {
            account: Account::new(),
            by_peer: BTreeMap::new(),
            fallback: None,
            ops: CryptoOps::default(),
        }
    }

    pub fn ipk(&self) -> [u8; 32] {
        *self.account.ed25519_key().as_bytes()
    }

    pub fn curve25519(&self) -> [u8; 32] {
        self.account.curve25519_key().to_bytes()
    }

    /// Signs with the identity key (Ed25519 signing is deterministic: it
    /// draws no randomness).
    pub fn sign(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.ops.signatures_made += 1;
        self.account.sign(bytes).to_bytes().to_vec()
    }

    /// Fresh one-time keys, and the fallback key, marked as published.
    /// The keys come back in generation order; the account's own map of
    /// keys is a HashMap whose order must not reach the wire.
    ///
    /// `Account::generate_fallback_key` returns the key it *discards*, not
    /// the new one, and a rotated-out fallback key that agents still hand
    /// out makes every session started from it fail: the 50-member run
    /// found this. So the fallback key is made once and read back from the
    /// account's unpublished keys.
    pub fn new_prekeys(&mut self, count: usize) -> (Vec<[u8; 32]>, Option<[u8; 32]>) {
        let created = self.account.generate_one_time_keys(count).created;
        self.ops.keys_generated += created.len() as u64;
        if self.fallback.is_none() {
            self.account.generate_fallback_key();
            self.fallback = self
                .account
                .fallback_key()
                .values()
                .next()
                .map(|k| k.to_bytes());
            self.ops.keys_generated += 1;
        }
        self.account.mark_keys_as_published();
        (
            created.iter().map(|k| k.to_bytes()).collect(),
            self.fallback,
        )
    }

    pub fn unused_one_time_keys(&self) -> usize {
        self.account.stored_one_time_key_count()
    }

    pub fn has_session(&self, peer: MemberId) -> bool {
        self.by_peer.get(&peer).is_some_and(|s| !s.is_empty())
    }

    pub fn start_outbound(
        &mut self,
        peer: MemberId,
        identity: [u8; 32],
        one_time_key: [u8; 32],
    ) -> Result<(), String> {
        let session = self
            .account
            .create_outbound_session(
                SessionConfig::default(),
                Curve25519PublicKey::from_bytes(identity),
                Curve25519PublicKey::from_bytes(one_time_key),
            )
            .map_err(|e| e.to_string())?;
        self.ops.sessions_created += 1;
        self.keep(peer, session);
        Ok(())
    }

    fn keep(&mut self, peer: MemberId, session: Session) {
        let list = self.by_peer.entry(peer).or_default();
        list.insert(0, session);
        list.truncate(MAX_SESSIONS_PER_PEER);
    }

    /// Encrypts for `peer`; returns the Olm message type and bytes.
    pub fn encrypt(&mut self, peer: MemberId, plaintext: &[u8]) -> Option<(u8, Vec<u8>)> {
        let session = self.by_peer.get_mut(&peer)?.first_mut()?;
        let msg = session.encrypt(plaintext).ok()?;
        self.ops.encryptions += 1;
        let (t, bytes) = msg.to_parts();
        Some((u8::try_from(t).unwrap_or(u8::MAX), bytes))
    }

    /// Decrypts a message from `peer`, starting an inbound session from a
    /// pre-key message when no existing session matches.
    pub fn decrypt(
        &mut self,
        peer: MemberId,
        peer_curve: [u8; 32],
        message_type: u8,
        bytes: &[u8],
    ) -> Result<Opened, String> {
        let result = self.decrypt_inner(peer, peer_curve, message_type, bytes);
        match &result {
            Ok(_) => self.ops.decryptions += 1,
            Err(_) => self.ops.failed_decryptions += 1,
        }
        result
    }

    fn decrypt_inner(
        &mut self,
        peer: MemberId,
        peer_curve: [u8; 32],
        message_type: u8,
        bytes: &[u8],
    ) -> Result<Opened, String> {
        let message =
            OlmMessage::from_parts(usize::from(message_type), bytes).map_err(|e| e.to_string())?;
        let sessions = self.by_peer.entry(peer).or_default();
        if let OlmMessage::PreKey(pre) = &message {
            let sid = pre.session_id();
            if let Some(i) = sessions.iter().position(|s| s.session_id() == sid) {
                let plaintext = sessions[i].decrypt(&message).map_err(|e| e.to_string())?;
                let s = sessions.remove(i);
                sessions.insert(0, s);
                return Ok(Opened {
                    plaintext,
                    new_session: false,
                });
            }
            let created = self
                .account
                .create_inbound_session(
                    SessionConfig::default(),
                    Curve25519PublicKey::from_bytes(peer_curve),
                    pre,
                )
                .map_err(|e| e.to_string())?;
            self.ops.sessions_created += 1;
            self.keep(peer, created.session);
            return Ok(Opened {
                plaintext: created.plaintext,
                new_session: true,
            });
        }
        let mut last_err = "no session with this member".to_owned();
        for i in 0..sessions.len() {
            match sessions[i].decrypt(&message) {
                Ok(plaintext) => {
                    let s = sessions.remove(i);
                    sessions.insert(0, s);
                    return Ok(Opened {
                        plaintext,
                        new_session: false,
                    });
                }
                Err(e) => last_err = e.to_string(),
            }
        }
        Err(last_err)
    }

    /// A copy of this state that can be used without touching the real one.
    /// The post-removal secrecy checker takes one when a member is removed
    /// and later hands it every ciphertext the member could have observed.
    pub fn snapshot(&self) -> Sessions {
        Sessions {
            account: Account::from_pickle(self.account.pickle()),
            by_peer: self
                .by_peer
                .iter()
                .map(|(p, list)| {
                    (
                        *p,
                        list.iter()
                            .map(|s| Session::from_pickle(s.pickle()))
                            .collect(),
                    )
                })
                .collect(),
            fallback: self.fallback,
            ops: CryptoOps::default(),
        }
    }

    /// Tries to open ciphertexts in the order given, as the member would if
    /// it received them, advancing the (copied) ratchets as it goes.
    pub fn try_open(
        &mut self,
        peer: MemberId,
        peer_curve: [u8; 32],
        message_type: u8,
        bytes: &[u8],
    ) -> bool {
        self.decrypt_inner(peer, peer_curve, message_type, bytes)
            .is_ok()
    }
}

impl Default for Sessions {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_members_talk_and_a_third_cannot_listen() {
        let (mut a, mut b, mut eve) = (Sessions::new(), Sessions::new(), Sessions::new());
        let (otks, _) = b.new_prekeys(2);
        a.start_outbound(MemberId(1), b.curve25519(), otks[0])
            .unwrap();
        let (t, c) = a.encrypt(MemberId(1), b"hello").unwrap();
        assert_eq!(t, 0, "the first message is a pre-key message");
        assert!(
            !c.windows(5).any(|w| w == b"hello"),
            "ciphertext on the wire"
        );
        assert!(!eve.snapshot().try_open(MemberId(0), a.curve25519(), t, &c));
        let opened = b.decrypt(MemberId(0), a.curve25519(), t, &c).unwrap();
        assert_eq!(opened.plaintext, b"hello");
        assert!(opened.new_session);
        // b answers on the same session; a's next messages are normal ones.
        let (t2, c2) = b.encrypt(MemberId(0), b"hi").unwrap();
        assert_eq!(
            a.decrypt(MemberId(1), b.curve25519(), t2, &c2)
                .unwrap()
                .plaintext,
            b"hi"
        );
        let (t3, _) = a.encrypt(MemberId(1), b"again").unwrap();
        assert_eq!(t3, 1);
        assert!(eve.decrypt(MemberId(0), a.curve25519(), t, &c).is_err());
    }

    #[test]
    fn a_fallback_key_handed_out_earlier_still_works_after_replenishing() {
        let mut b = Sessions::new();
        let (_, fallback) = b.new_prekeys(1);
        // Senders claim the fallback key now; their first messages arrive
        // only after b has replenished its keys a few times.
        let mut senders: Vec<Sessions> = (0..3).map(|_| Sessions::new()).collect();
        for a in &mut senders {
            a.start_outbound(MemberId(1), b.curve25519(), fallback.unwrap())
                .unwrap();
        }
        for _ in 0..3 {
            assert_eq!(
                b.new_prekeys(1).1,
                fallback,
                "the published fallback key is kept"
            );
        }
        for (i, a) in senders.iter_mut().enumerate() {
            let (t, c) = a.encrypt(MemberId(1), b"via fallback").unwrap();
            assert!(
                b.decrypt(MemberId(10 + i as u32), a.curve25519(), t, &c)
                    .is_ok(),
                "sender {i}"
            );
        }
    }

    #[test]
    fn a_repeated_ciphertext_fails_the_second_time_and_a_snapshot_does_not_consume() {
        let (mut a, mut b) = (Sessions::new(), Sessions::new());
        let (otks, _) = b.new_prekeys(1);
        a.start_outbound(MemberId(1), b.curve25519(), otks[0])
            .unwrap();
        let (t, c) = a.encrypt(MemberId(1), b"x").unwrap();
        assert!(b.snapshot().try_open(MemberId(0), a.curve25519(), t, &c));
        assert!(b.decrypt(MemberId(0), a.curve25519(), t, &c).is_ok());
        let (t, c) = a.encrypt(MemberId(1), b"y").unwrap();
        assert!(b.decrypt(MemberId(0), a.curve25519(), t, &c).is_ok());
        assert!(b.decrypt(MemberId(0), a.curve25519(), t, &c).is_err());
    }
}
