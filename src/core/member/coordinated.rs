//! A member of a coordinated group: group messages are MLS ciphertexts,
//! submitted to the group's server agent and received in the order it
//! assigned, each with a signed receipt.
//!
//! The server's total order is also a causal order (a member only names as
//! parents messages it has delivered, which the server ordered earlier), so
//! ordered messages carry no parents of their own; the trace still records
//! the sender's frontier for the checkers.

use super::Member;
use super::message::{GroupMessage, Payload};
use crate::core::ids::{MemberId, MessageId, Millis, Peer, ServerId};
use crate::core::io::Effects;
use crate::core::mls::{MlsClient, Processed};
use crate::core::server::sequencer::{Kind, Receipt, Rejection};
use crate::core::wire::{Datagram, Ordered};
use crate::trace::Event;
use std::collections::BTreeMap;

/// A submission waiting for its receipt (volatile).
struct Pending {
    msg: MessageId,
    plaintext: Vec<u8>,
    datagram: Datagram,
    attempts: u32,
    next_at: Millis,
}

pub struct Coordinated {
    server: ServerId,
    server_key: [u8; 32],
    generation: u32,
    mls: MlsClient,
    /// The next sequence number to deliver; later ones wait in `reorder`.
    next_seq: u64,
    reorder: BTreeMap<u64, Ordered>,
    pending: BTreeMap<u64, Pending>,
}

impl Coordinated {
    pub fn new(
        server: ServerId,
        server_key: [u8; 32],
        generation: u32,
        mls: MlsClient,
        next_seq: u64,
    ) -> Self {
        Coordinated {
            server,
            server_key,
            generation,
            mls,
            next_seq,
            reorder: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }

    pub fn mls(&self) -> &MlsClient {
        &self.mls
    }

    pub(super) fn forget_pending(&mut self) {
        self.pending.clear();
    }

    pub(super) fn next_wake(&self) -> Option<Millis> {
        self.pending.values().map(|p| p.next_at).min()
    }
}

impl Member {
    /// Joins the coordinated group this member's MLS client is already in.
    pub fn coordinate(&mut self, c: Coordinated) {
        self.coord = Some(c);
    }

    pub fn coordinated(&self) -> Option<&Coordinated> {
        self.coord.as_ref()
    }

    /// Encrypts a group message for the MLS group and submits it.
    pub(super) fn submit(&mut self, now: Millis, message: &GroupMessage, fx: &mut Effects) {
        let plaintext = Payload::Group(GroupMessage {
            parents: Vec::new(),
            ..message.clone()
        })
        .encode();
        self.submit_plaintext(now, message.id, plaintext, fx);
    }

    fn submit_plaintext(
        &mut self,
        now: Millis,
        msg: MessageId,
        plaintext: Vec<u8>,
        fx: &mut Effects,
    ) {
        let req = self.next_req();
        let (group, retry_ms) = (self.cfg.group, self.cfg.retry_ms);
        let Some(c) = self.coord.as_mut() else { return };
        let (Ok(payload), Some(epoch)) = (c.mls.encrypt(&plaintext), c.mls.epoch()) else {
            return fx.record(Event::CommandSkipped {
                command: format!("submit {msg}"),
                reason: "no MLS group to encrypt for".into(),
            });
        };
        let datagram = Datagram::Submit {
            req,
            group,
            generation: c.generation,
            epoch,
            kind: Kind::Message,
            payload,
            members_after: None,
        };
        fx.send(Peer::Server(c.server), datagram.encode());
        c.pending.insert(
            req,
            Pending {
                msg,
                plaintext,
                datagram,
                attempts: 1,
                next_at: now + retry_ms,
            },
        );
    }

    pub(super) fn retry_submits(&mut self, now: Millis, fx: &mut Effects) {
        let (retry_ms, max) = (self.cfg.retry_ms, self.cfg.max_attempts);
        let Some(c) = self.coord.as_mut() else { return };
        for p in c.pending.values_mut().filter(|p| p.next_at <= now) {
            if p.attempts < max {
                p.attempts += 1;
            }
            p.next_at = now + retry_ms * u64::from(p.attempts.min(8));
            fx.send(Peer::Server(c.server), p.datagram.encode());
        }
    }

    pub(super) fn on_server_datagram(
        &mut self,
        now: Millis,
        server: ServerId,
        d: Datagram,
        fx: &mut Effects,
    ) {
        let Some(c) = self.coord.as_mut().filter(|c| c.server == server) else {
            return self.reject(
                Peer::Server(server),
                "not this group's server agent".into(),
                fx,
            );
        };
        match d {
            Datagram::Receipted { req, receipt } if receipt.verify(&c.server_key) => {
                if let Some(p) = c.pending.remove(&req) {
                    fx.record(Event::SubmitAcked {
                        msg: p.msg,
                        seq: receipt.seq,
                    });
                }
            }
            Datagram::SubmitRejected {
                req,
                rejection: Rejection::StaleEpoch { current, .. },
            } => {
                // Re-encrypt once this member has caught up with the commit
                // that moved the epoch; until then, retry later.
                let caught_up = c.mls.epoch().is_some_and(|e| e >= current);
                if let Some(p) = c.pending.remove(&req) {
                    if caught_up {
                        self.submit_plaintext(now, p.msg, p.plaintext, fx);
                    } else if let Some(c) = self.coord.as_mut() {
                        c.pending.insert(req, p);
                    }
                }
            }
            Datagram::SubmitRejected { .. } => {}
            other => self.reject(
                Peer::Server(server),
                format!("unexpected from a server agent: {}", other.name()),
                fx,
            ),
        }
    }

    /// Takes an ordered message from the mailbox and delivers, in sequence
    /// order, everything that is now contiguous.
    pub(super) fn on_ordered(&mut self, now: Millis, item: Ordered, fx: &mut Effects) {
        let Some(c) = self.coord.as_mut() else {
            return self.reject(
                Peer::Server(ServerId(u32::MAX)),
                "an ordered message, but no coordinated group here".into(),
                fx,
            );
        };
        let r = &item.receipt;
        if r.group != self.cfg.group
            || r.generation != c.generation
            || !r.verify(&c.server_key)
            || crate::core::server::sequencer::hash(&item.payload) != r.hash
        {
            let (server, seq) = (c.server, r.seq);
            return self.reject(
                Peer::Server(server),
                format!("ordered message {seq} fails its receipt"),
                fx,
            );
        }
        if r.seq >= c.next_seq {
            c.reorder.insert(r.seq, item);
        }
        while let Some(c) = self.coord.as_mut()
            && let Some(item) = c.reorder.remove(&c.next_seq)
        {
            c.next_seq += 1;
            let result = c.mls.process(&item.payload);
            self.apply_ordered(now, &item.receipt, result, fx);
        }
    }

    fn apply_ordered(
        &mut self,
        now: Millis,
        receipt: &Receipt,
        result: Result<Processed, crate::core::mls::MlsError>,
        fx: &mut Effects,
    ) {
        let from: MemberId = receipt.sender;
        let env = crate::core::ids::EnvelopeId {
            sender: from,
            seq: receipt.seq,
        };
        match result {
            Ok(Processed::Application(bytes)) => match Payload::decode(&bytes) {
                Some(Payload::Group(msg))
                    if msg.id.sender == from && msg.group == self.cfg.group =>
                {
                    self.accept(now, from, msg, fx)
                }
                _ => fx.record(Event::DecryptFailed {
                    env,
                    from,
                    error: "malformed or misattributed plaintext".into(),
                }),
            },
            Ok(Processed::Own | Processed::Proposal | Processed::Commit { .. }) => {}
            Err(e) => fx.record(Event::DecryptFailed {
                env,
                from,
                error: e.to_string(),
            }),
        }
    }
}
