//! The attacker fault: someone on the network who reads every datagram and
//! injects forgeries aimed at one member, the victim.
//!
//! It sees what any on-path observer sees (addresses, published keys,
//! submissions, receipts, ciphertext) and nothing else: no member's keys.
//! It can spoof any source address. Whatever it injects a correct member
//! must reject without losing anything genuine, and the
//! `forgeries_rejected` checker fails when a member accepts a forgery.
//!
//! - **receipt**: swallows the victim's submissions to its server agent and
//!   answers each at once with a receipt for a plausible slot, signed with
//!   the attacker's own key. A member that believes it stops resubmitting,
//!   and its message is never ordered.
//! - **outsider**: a stranger with its own Olm identity writes the victim a
//!   group message in the name of the member who just wrote to it, as a
//!   pre-key message built on the victim's published keys, into the
//!   victim's mailbox (whose address it saw on the wire).
//! - **replay**: envelopes for other members delivered into the victim's
//!   mailbox, and the victim's own envelopes and ordered messages
//!   delivered again a few seconds later, after its mailbox let them go.
//! - **corrupt**: for each datagram bound for the victim's mailbox, a copy
//!   with one ciphertext byte flipped that arrives just ahead of the
//!   genuine one: a mailbox or member that keys "seen" on the id alone
//!   keeps the forgery and drops the real message.

use super::kind::Forgery;
use crate::core::clock::Hlc;
use crate::core::ids::{EnvelopeId, MemberId, MessageId, Millis, Peer, ServerId};
use crate::core::member::message::{GroupMessage, Payload, body_for};
use crate::core::member::sessions::Sessions;
use crate::core::server::sequencer::{Receipt, hash, statement};
use crate::core::wire::{Address, Datagram, Envelope, Ordered, Submission};
use std::collections::BTreeMap;
use vodozemac::Ed25519Keypair;

/// A replay into the victim's own mailbox waits this long, so that the
/// mailbox has handed the original over and forgotten it.
pub const REPLAY_AFTER_MS: Millis = 4_000;

/// Every this many eligible datagrams, one is replayed: enough to test
/// every path, few enough that the run stays about the protocol.
const REPLAY_EVERY: u64 = 3;

/// The stranger writes at most this often.
const OUTSIDER_EVERY_MS: Millis = 1_000;

/// Forged ids and request numbers start here, far above anything a member
/// numbers itself, so that a forgery never collides with genuine traffic.
const FORGED_BASE: u64 = 1 << 40;

/// One forged datagram, due at `due` at `to`, appearing to come from `from`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Injection {
    pub due: Millis,
    pub from: Peer,
    pub to: Peer,
    pub bytes: Vec<u8>,
}

/// What the attacker did about one datagram, for the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forged {
    pub forgery: Forgery,
    pub victim: MemberId,
    pub detail: String,
    /// The message id a forged group message claims, so that the checker
    /// can see whether any member delivered it.
    pub msg: Option<MessageId>,
}

/// One datagram handed to the network, as the attacker sees it.
#[derive(Clone, Copy)]
struct OnWire<'a> {
    now: Millis,
    from: Peer,
    to: Peer,
    d: &'a Datagram,
}

/// The attacker's answer to one datagram on the wire.
#[derive(Debug, Default)]
pub struct Plan {
    /// The genuine datagram never arrives.
    pub swallow: bool,
    pub inject: Vec<Injection>,
    pub forged: Vec<Forged>,
}

pub struct Attacker {
    /// (forgery, victim) pairs in force, one entry per active fault.
    active: Vec<(Forgery, MemberId)>,
    /// Signs forged receipts: a valid signature, by the wrong key.
    key: Ed25519Keypair,
    /// The stranger's Olm account.
    stranger: Sessions,
    /// What it learnt on the wire.
    addresses: BTreeMap<MemberId, Address>,
    prekeys: BTreeMap<MemberId, ([u8; 32], [u8; 32])>,
    last_seq: BTreeMap<(ServerId, u32), u64>,
    last_outsider: BTreeMap<MemberId, Millis>,
    seen: u64,
    counter: u64,
    latency_ms: Millis,
    /// The group id, which is no secret: it is in every submission.
    group: u64,
}

impl Attacker {
    /// Draws the attacker's keys from the run's entropy: build it only when
    /// the scenario has an attack, so that other runs draw as before.
    pub fn new(latency_ms: Millis, group: u64) -> Attacker {
        Attacker {
            active: Vec::new(),
            key: Ed25519Keypair::new(),
            stranger: Sessions::new(),
            addresses: BTreeMap::new(),
            prekeys: BTreeMap::new(),
            last_seq: BTreeMap::new(),
            last_outsider: BTreeMap::new(),
            seen: 0,
            counter: 0,
            latency_ms,
            group,
        }
    }

    pub fn toggle(&mut self, forgery: Forgery, victim: MemberId, begin: bool) {
        if begin {
            self.active.push((forgery, victim));
        } else if let Some(i) = self.active.iter().position(|a| *a == (forgery, victim)) {
            self.active.remove(i);
        }
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        FORGED_BASE + self.counter
    }

    /// Looks at one datagram handed to the network (`now` is simulated
    /// time) and decides what to forge.
    pub fn observe(&mut self, now: Millis, from: Peer, to: Peer, d: &Datagram) -> Plan {
        self.learn(from, d);
        let mut plan = Plan::default();
        let active = self.active.clone();
        let w = OnWire { now, from, to, d };
        for (forgery, victim) in active {
            match forgery {
                Forgery::Receipt => self.forge_receipt(&w, victim, &mut plan),
                Forgery::Outsider => self.write_as_outsider(&w, victim, &mut plan),
                Forgery::Replay => self.replay(&w, victim, &mut plan),
                Forgery::Corrupt => self.corrupt(&w, victim, &mut plan),
            }
        }
        plan
    }

    fn learn(&mut self, from: Peer, d: &Datagram) {
        match (from, d) {
            (
                Peer::Member(m),
                Datagram::PublishKeys {
                    member,
                    identity,
                    one_time_keys,
                    fallback_key,
                    ..
                },
            ) if m == *member => {
                if let Some(key) = fallback_key.or_else(|| one_time_keys.last().copied()) {
                    self.prekeys.insert(m, (*identity, key));
                }
            }
            (
                _,
                Datagram::Deliver {
                    address, envelope, ..
                },
            ) => {
                self.addresses.insert(envelope.to, *address);
            }
            (Peer::Server(s), Datagram::DeliverOrdered { item, .. }) => {
                let r = &item.receipt;
                let last = self.last_seq.entry((s, r.generation)).or_insert(0);
                *last = (*last).max(r.seq);
            }
            _ => {}
        }
    }

    fn forge_receipt(&mut self, w: &OnWire<'_>, victim: MemberId, plan: &mut Plan) {
        let OnWire { now, from, to, d } = *w;
        let (Peer::Server(server), Datagram::Submit { req, submission }) = (to, d) else {
            return;
        };
        if from != Peer::Member(victim) {
            return;
        }
        let Submission {
            group,
            generation,
            epoch,
            payload,
            ..
        } = submission;
        let seq = self
            .last_seq
            .get(&(server, *generation))
            .map_or(0, |s| s + 1);
        let digest = hash(payload);
        let signature = self
            .key
            .sign(&statement(
                *group,
                *generation,
                seq,
                *epoch,
                victim,
                &digest,
            ))
            .to_bytes()
            .to_vec();
        let receipt = Receipt {
            group: *group,
            generation: *generation,
            seq,
            epoch: *epoch,
            sender: victim,
            hash: digest,
            signature,
        };
        plan.swallow = true;
        plan.inject.push(Injection {
            due: now + 2 * self.latency_ms,
            from: to,
            to: from,
            bytes: Datagram::Receipted { req: *req, receipt }.encode(),
        });
        plan.forged.push(Forged {
            forgery: Forgery::Receipt,
            victim,
            detail: format!(
                "swallowed submission {req} to {server}; answered with a receipt for slot \
                 {seq} of generation {generation} signed by the attacker"
            ),
            msg: None,
        });
    }

    fn write_as_outsider(&mut self, w: &OnWire<'_>, victim: MemberId, plan: &mut Plan) {
        let OnWire { now, from, d, .. } = *w;
        let Datagram::Deliver { envelope, .. } = d else {
            return;
        };
        let claimed = envelope.id.sender;
        if envelope.to != victim || from != Peer::Member(claimed) {
            return;
        }
        if self
            .last_outsider
            .get(&victim)
            .is_some_and(|t| now < t + OUTSIDER_EVERY_MS)
        {
            return;
        }
        let (Some((identity, prekey)), Some(address)) = (
            self.prekeys.get(&victim).copied(),
            self.addresses.get(&victim).copied(),
        ) else {
            return;
        };
        if !self.stranger.has_session(victim)
            && self
                .stranger
                .start_outbound(victim, identity, prekey)
                .is_err()
        {
            return;
        }
        self.last_outsider.insert(victim, now);
        let n = self.next();
        let id = MessageId {
            sender: claimed,
            seq: u32::try_from(n & 0x3fff_ffff).unwrap_or(u32::MAX) | 0x4000_0000,
        };
        let mut msg = GroupMessage {
            group: self.group,
            id,
            recipients: vec![victim],
            parents: Vec::new(),
            unsent: Vec::new(),
            reply_to: None,
            hlc: Hlc {
                wall: now,
                logical: 0,
                node: claimed,
            },
            op: None,
            membership: None,
            contact: Vec::new(),
            fell_from: None,
            meta: None,
            body: body_for(id),
            signature: Vec::new(),
        };
        msg.signature = self.stranger.sign(&msg.signed_bytes());
        let Some((message_type, ciphertext)) =
            self.stranger.encrypt(victim, &Payload::Group(msg).encode())
        else {
            return;
        };
        let envelope = Envelope {
            id: EnvelopeId {
                sender: claimed,
                seq: n,
            },
            to: victim,
            message_type,
            ciphertext,
        };
        plan.inject.push(Injection {
            due: now + self.latency_ms,
            from,
            to: Peer::Agent(address.agent),
            bytes: Datagram::Deliver {
                req: n,
                address,
                envelope,
            }
            .encode(),
        });
        plan.forged.push(Forged {
            forgery: Forgery::Outsider,
            victim,
            detail: format!("a stranger's pre-key message in {claimed}'s name"),
            msg: Some(id),
        });
    }

    fn replay(&mut self, w: &OnWire<'_>, victim: MemberId, plan: &mut Plan) {
        let OnWire { now, from, to, d } = *w;
        let eligible = match d {
            Datagram::Deliver { .. } => self.addresses.contains_key(&victim),
            Datagram::DeliverOrdered { to: m, .. } => *m == victim,
            _ => false,
        };
        if !eligible {
            return;
        }
        self.seen += 1;
        if !self.seen.is_multiple_of(REPLAY_EVERY) {
            return;
        }
        let req = self.next();
        let (again, target, later, what) = match d {
            Datagram::Deliver { envelope, .. } => {
                let Some(address) = self.addresses.get(&victim).copied() else {
                    return;
                };
                let own = envelope.to == victim;
                let what = if own {
                    format!("envelope {} again, later", envelope.id)
                } else {
                    format!(
                        "envelope {} for {} into its mailbox",
                        envelope.id, envelope.to
                    )
                };
                let again = Datagram::Deliver {
                    req,
                    address,
                    envelope: envelope.clone(),
                };
                (again, Peer::Agent(address.agent), own, what)
            }
            Datagram::DeliverOrdered { item, .. } => {
                let what = format!(
                    "ordered slot {} of generation {} again, later",
                    item.receipt.seq, item.receipt.generation
                );
                (d.clone(), to, true, what)
            }
            _ => return,
        };
        let due = now
            + if later {
                REPLAY_AFTER_MS
            } else {
                self.latency_ms
            };
        plan.inject.push(Injection {
            due,
            from,
            to: target,
            bytes: again.encode(),
        });
        plan.forged.push(Forged {
            forgery: Forgery::Replay,
            victim,
            detail: what,
            msg: None,
        });
    }

    fn corrupt(&mut self, w: &OnWire<'_>, victim: MemberId, plan: &mut Plan) {
        let OnWire { now, from, to, d } = *w;
        let (bytes, what) = match d {
            Datagram::Deliver {
                req,
                address,
                envelope,
            } if envelope.to == victim => {
                let mut envelope = envelope.clone();
                flip(&mut envelope.ciphertext);
                let what = format!("envelope {} with a byte flipped", envelope.id);
                let d = Datagram::Deliver {
                    req: *req,
                    address: *address,
                    envelope,
                };
                (d.encode(), what)
            }
            Datagram::DeliverOrdered {
                req,
                address,
                to: m,
                item,
            } if *m == victim => {
                let mut item: Ordered = item.clone();
                flip(&mut item.payload);
                let what = format!(
                    "ordered slot {} of generation {} with a byte flipped",
                    item.receipt.seq, item.receipt.generation
                );
                let d = Datagram::DeliverOrdered {
                    req: *req,
                    address: *address,
                    to: *m,
                    item,
                };
                (d.encode(), what)
            }
            _ => return,
        };
        plan.inject.push(Injection {
            due: now + self.latency_ms.saturating_sub(1),
            from,
            to,
            bytes,
        });
        plan.forged.push(Forged {
            forgery: Forgery::Corrupt,
            victim,
            detail: what,
            msg: None,
        });
    }
}

/// Flips one byte in the middle, where it is ciphertext (not a header).
fn flip(bytes: &mut [u8]) {
    let mid = bytes.len() / 2;
    if let Some(b) = bytes.get_mut(mid) {
        *b ^= 0x5a;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::server::sequencer::Kind;
    use crate::core::wire::Stored;

    fn submit() -> Datagram {
        Datagram::Submit {
            req: 7,
            submission: Submission {
                group: 1,
                generation: 1,
                epoch: 0,
                kind: Kind::Message,
                payload: b"mls ciphertext".to_vec(),
                members_after: None,
                joiners: Vec::new(),
            },
        }
    }

    #[test]
    fn a_forged_receipt_swallows_the_submission_and_fails_the_servers_key() {
        let (m1, c0) = (Peer::Member(MemberId(1)), Peer::Server(ServerId(0)));
        let mut a = Attacker::new(20, 1);
        assert!(!a.observe(0, m1, c0, &submit()).swallow, "inactive");
        a.toggle(Forgery::Receipt, MemberId(1), true);
        let plan = a.observe(10, m1, c0, &submit());
        assert!(plan.swallow);
        let [i] = &plan.inject[..] else {
            panic!("{plan:?}")
        };
        assert_eq!((i.from, i.to, i.due), (c0, m1, 50));
        let Ok(Datagram::Receipted { req: 7, receipt }) = Datagram::decode(&i.bytes) else {
            panic!("not a receipt")
        };
        let server = Ed25519Keypair::new();
        assert!(!receipt.verify(server.public_key().as_bytes()));
        assert!(receipt.verify(a.key.public_key().as_bytes()), "well formed");
        a.toggle(Forgery::Receipt, MemberId(1), false);
        assert!(!a.observe(20, m1, c0, &submit()).swallow, "ended");
    }

    #[test]
    fn a_corrupted_copy_overtakes_the_genuine_one_and_is_stored_beside_it() {
        let envelope = Envelope {
            id: EnvelopeId {
                sender: MemberId(0),
                seq: 3,
            },
            to: MemberId(2),
            message_type: 1,
            ciphertext: vec![1, 2, 3, 4],
        };
        let d = Datagram::Deliver {
            req: 1,
            address: Address {
                agent: crate::core::ids::AgentId(0),
                token: 9,
            },
            envelope: envelope.clone(),
        };
        let mut a = Attacker::new(20, 1);
        a.toggle(Forgery::Corrupt, MemberId(2), true);
        let to = Peer::Agent(crate::core::ids::AgentId(0));
        let plan = a.observe(100, Peer::Member(MemberId(0)), to, &d);
        assert!(!plan.swallow);
        let [i] = &plan.inject[..] else {
            panic!("{plan:?}")
        };
        assert_eq!(i.due, 119, "ahead of the genuine copy's 20 ms");
        let Ok(Datagram::Deliver { envelope: bad, .. }) = Datagram::decode(&i.bytes) else {
            panic!("not a delivery")
        };
        assert_eq!(bad.id, envelope.id);
        assert_ne!(bad.ciphertext, envelope.ciphertext);
        assert_ne!(
            Stored::Envelope(bad).dedup_key(),
            Stored::Envelope(envelope).dedup_key()
        );
    }
}
