//! Catching a server agent that lies: members compare notes.
//!
//! A server agent orders a coordinated group's messages and signs where it
//! put each one. It could show members different orders (equivocation),
//! order an old message again (replay), or receipt a member's message and
//! never serve it (a selective drop). Each leaves a trace a member can
//! check without trusting anyone:
//!
//! - Every receipt a member holds (its own submissions' receipts, every
//!   slot it processed, and what peers tell it) is kept by slot. Two valid
//!   receipts for one (generation, seq) over different messages are a
//!   fraud proof (`FraudProof::check`); one message under two slots is a
//!   replay. Either is proof that anyone can check with the server's key.
//! - Every `audit_every`, a member sends a few peers of its roster (in
//!   rotation, `FANOUT` at a time), over the pairwise Olm channel, one
//!   digest of the message hashes in the slots it processed since its last
//!   audit, and the epoch authenticators it reached, as XMTP members
//!   compare per commit sequence number. A differing authenticator at one
//!   epoch is a fork. A peer whose digest of the same slots differs (now,
//!   or once it has processed them) answers with its signed receipts for
//!   those slots, and the two receipts of the slot that differs are the
//!   proof. Digests keep the steady cost at a few dozen bytes per report;
//!   receipts travel only when orders differ.
//! - A member sees its own messages come back in the order. One that was
//!   receipted but still has not come back `ack_timeout` after the receipt,
//!   although the member has fetched from its mailboxes since, was
//!   withheld.
//!
//! A proof is recorded (`equivocation_detected`, or `fork_detected`),
//! forwarded to every peer in one report (the two receipts prove it to
//! them too), and the member falls back to the lightweight group with the
//! lie as the reason, which brings the takeover by the next candidate.

use super::Member;
use super::message::Payload;
use crate::core::ids::{MemberId, MessageId, Millis, Peer, ServerId};
use crate::core::io::Effects;
use crate::core::server::sequencer::Receipt;
use crate::core::wire::Ordered;
use crate::trace::Event;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What one member tells another about one server's order, over Olm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    pub group: u64,
    pub generation: u32,
    pub server: ServerId,
    /// Slots `lo..=hi` the sender processed, as one digest of their
    /// message hashes (see [`digest`]).
    pub range: Option<(u64, u64, [u8; 32])>,
    /// Signed receipts: the answer to a digest that differed, or the
    /// evidence of a lie.
    pub receipts: Vec<Receipt>,
    /// (epoch, epoch authenticator) pairs the sender reached.
    pub epochs: Vec<(u64, Vec<u8>)>,
}

/// The digest of the message hashes in consecutive slots.
pub fn digest<'a>(lo: u64, hashes: impl IntoIterator<Item = &'a [u8; 32]>) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut d = Sha256::new();
    d.update(b"commsim-audit/v1");
    for (i, h) in hashes.into_iter().enumerate() {
        d.update((lo + i as u64).to_be_bytes());
        d.update(h);
    }
    d.finalize().into()
}

/// Peers audited per round.
const FANOUT: usize = 2;
/// Slots per digest and receipts per report; a report is dropped whole
/// if it carries more.
const MAX_ENTRIES: usize = 64;
/// Digests kept until this member has processed the slots they cover.
const WAITING: usize = 256;
/// Slots and epochs remembered; the oldest are forgotten first.
const KEEP: usize = 8192;

/// One server's order of one generation.
pub type Stream = (ServerId, u32);

/// What a comparison found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Two valid receipts `a`, `b`: one slot over two messages, or (a
    /// replay) one message in two slots. `from` told us of `b`.
    Proof {
        stream: Stream,
        a: Receipt,
        b: Receipt,
        from: Option<MemberId>,
    },
    /// Two authenticators for one epoch; `other` holds the second.
    Fork {
        stream: Stream,
        epoch: u64,
        ours: Vec<u8>,
        theirs: Vec<u8>,
        other: Option<MemberId>,
    },
    /// `peer` processed slots `lo..=hi` differently: it gets our receipts.
    Differs {
        peer: MemberId,
        stream: Stream,
        lo: u64,
        hi: u64,
    },
    /// An own message receipted but never served back.
    Withheld {
        stream: Stream,
        seq: u64,
        msg: MessageId,
    },
}

/// An own message with its receipt, until the fallback it would be
/// re-sent at (receivers deduplicate by message id).
#[derive(Clone, Debug)]
struct Own {
    msg: MessageId,
    stream: Stream,
    seq: u64,
    hash: [u8; 32],
    at: Millis,
    back: bool,
}

/// A member's notes on the orders it was shown (kept across fallbacks:
/// evidence can still arrive after the member left the generation).
#[derive(Default)]
pub struct Auditor {
    slots: BTreeMap<(Stream, u64), Receipt>,
    by_hash: BTreeMap<(Stream, [u8; 32]), u64>,
    /// Epoch authenticators, with who told us (`None`: reached here).
    epochs: BTreeMap<(Stream, u64), (Vec<u8>, Option<MemberId>)>,
    /// The message hash of every slot processed here, in order.
    order: BTreeMap<(Stream, u64), [u8; 32]>,
    /// The last slot reported per order, and epochs reached since.
    sent_upto: BTreeMap<Stream, u64>,
    unsent_epochs: Vec<(Stream, u64, Vec<u8>)>,
    /// Peers' digests of slots not processed here yet.
    waiting: Vec<(MemberId, Stream, u64, u64, [u8; 32])>,
    own: Vec<Own>,
    next_at: Option<Millis>,
    cursor: usize,
    last_fetch: Millis,
    /// Streams whose lie was reported (and its evidence forwarded).
    reported: BTreeSet<Stream>,
    pub found: Vec<Finding>,
}

impl Auditor {
    /// Takes a receipt into the notes if `key` signed it for `stream`, and
    /// compares it with every other receipt held for its slot and its
    /// message. Returns whether it was valid.
    pub fn learn(
        &mut self,
        stream: Stream,
        key: &[u8; 32],
        r: &Receipt,
        from: Option<MemberId>,
    ) -> bool {
        if r.generation != stream.1 || !r.verify(key) {
            return false;
        }
        let slot = (stream, r.seq);
        if let Some(a) = self.slots.get(&slot) {
            if a.hash != r.hash {
                self.found.push(Finding::Proof {
                    stream,
                    a: a.clone(),
                    b: r.clone(),
                    from,
                });
            }
            return true;
        }
        if let Some(a) = self
            .by_hash
            .get(&(stream, r.hash))
            .and_then(|seq| self.slots.get(&(stream, *seq)))
        {
            self.found.push(Finding::Proof {
                stream,
                a: a.clone(),
                b: r.clone(),
                from,
            });
            return true;
        }
        self.slots.insert(slot, r.clone());
        self.by_hash.insert((stream, r.hash), r.seq);
        while self.slots.len() > KEEP {
            if let Some((_, old)) = self.slots.pop_first() {
                self.by_hash.remove(&(stream, old.hash));
            }
        }
        true
    }

    /// An epoch authenticator, reached here (`from` None) or told by a
    /// peer; a different one already held for that epoch is a fork.
    pub fn epoch(&mut self, stream: Stream, epoch: u64, auth: Vec<u8>, from: Option<MemberId>) {
        match self.epochs.get(&(stream, epoch)) {
            Some((held, _)) if *held == auth => {}
            Some((held, by)) => {
                let (ours, theirs, other) = match (by, from) {
                    (None, _) => (held.clone(), auth, from),
                    (Some(_), None) => (auth, held.clone(), *by),
                    (Some(_), Some(_)) => (held.clone(), auth, from),
                };
                self.found.push(Finding::Fork {
                    stream,
                    epoch,
                    ours,
                    theirs,
                    other,
                });
            }
            None => {
                if from.is_none() {
                    self.unsent_epochs.push((stream, epoch, auth.clone()));
                }
                self.epochs.insert((stream, epoch), (auth, from));
                while self.epochs.len() > KEEP {
                    self.epochs.pop_first();
                }
            }
        }
    }

    /// A slot processed here: noted for the next audit, and an own
    /// message counts as served back.
    fn processed(&mut self, stream: Stream, r: &Receipt) {
        self.order.insert((stream, r.seq), r.hash);
        while self.order.len() > KEEP {
            self.order.pop_first();
        }
        for o in self.own.iter_mut().filter(|o| o.hash == r.hash) {
            o.back = true;
        }
        let (due, rest) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| w.1 == stream && w.3 == r.seq);
        self.waiting = rest;
        for (peer, stream, lo, hi, theirs) in due {
            self.compare(peer, stream, (lo, hi, theirs));
        }
    }

    /// This member's digest of slots `lo..=hi`, if it processed them all.
    fn digest(&self, stream: Stream, lo: u64, hi: u64) -> Option<[u8; 32]> {
        let hashes: Vec<&[u8; 32]> = self
            .order
            .range((stream, lo)..=(stream, hi))
            .map(|(_, h)| h)
            .collect();
        (lo <= hi && hashes.len() as u64 == hi - lo + 1).then(|| digest(lo, hashes))
    }

    /// Compares a peer's digest with ours, now or once we have processed
    /// its slots; a difference is a finding.
    pub fn compare(
        &mut self,
        peer: MemberId,
        stream: Stream,
        (lo, hi, theirs): (u64, u64, [u8; 32]),
    ) {
        if let Some(ours) = self.digest(stream, lo, hi) {
            if ours != theirs {
                self.found.push(Finding::Differs {
                    peer,
                    stream,
                    lo,
                    hi,
                });
            }
            return;
        }
        let behind = self
            .order
            .range((stream, 0)..=(stream, u64::MAX))
            .next_back()
            .is_none_or(|((_, seq), _)| *seq < hi);
        if behind && self.waiting.len() < WAITING {
            self.waiting.push((peer, stream, lo, hi, theirs));
        }
    }

    /// The next report's digest: the slots processed since the last one.
    fn next_range(&mut self, stream: Stream) -> Option<(u64, u64, [u8; 32])> {
        let all = (stream, 0)..=(stream, u64::MAX);
        let hi = self.order.range(all).next_back().map(|((_, s), _)| *s)?;
        let from = self.sent_upto.get(&stream).map_or(0, |s| s + 1);
        let lo = from.max(hi.saturating_sub(MAX_ENTRIES as u64 - 1));
        let lo = (lo..=hi).find(|s| self.order.contains_key(&(stream, *s)))?;
        self.sent_upto.insert(stream, hi);
        Some((lo, hi, self.digest(stream, lo, hi)?))
    }

    /// Our signed receipts for slots `lo..=hi`.
    fn receipts(&self, stream: Stream, lo: u64, hi: u64) -> Vec<Receipt> {
        self.slots
            .range((stream, lo)..=(stream, hi))
            .map(|(_, r)| r.clone())
            .take(MAX_ENTRIES)
            .collect()
    }

    /// The receipt of an own message.
    pub fn own_message(&mut self, now: Millis, stream: Stream, msg: MessageId, r: &Receipt) {
        self.own.push(Own {
            msg,
            stream,
            seq: r.seq,
            hash: r.hash,
            at: now,
            back: false,
        });
    }

    /// The member fetched from a mailbox: what the server fanned out
    /// before `now` minus its retries should be there.
    pub fn fetched(&mut self, now: Millis) {
        self.last_fetch = now;
    }

    /// An own message of `stream` that should long be back, if any.
    fn withheld(&self, stream: Stream, timeout: Millis) -> Option<Finding> {
        let o = self
            .own
            .iter()
            .find(|o| o.stream == stream && !o.back && o.at + timeout <= self.last_fetch)?;
        Some(Finding::Withheld {
            stream,
            seq: o.seq,
            msg: o.msg,
        })
    }
}

fn short(h: &[u8]) -> String {
    hex::encode(&h[..h.len().min(4)])
}

impl Member {
    fn server_key(&self, server: ServerId) -> Option<[u8; 32]> {
        self.candidates
            .iter()
            .find(|(s, _)| *s == server)
            .map(|(_, k)| *k)
    }

    /// Before an ordered message is processed: its receipt is compared
    /// with everything known, and the epoch reached so far is noted.
    /// Returns true when a lie was found and the member fell back, so
    /// that nothing more of this order is processed.
    pub(super) fn audit_before(&mut self, now: Millis, item: &Ordered, fx: &mut Effects) -> bool {
        let Some(c) = self.coord.as_ref() else {
            return true;
        };
        let stream = (c.server, c.generation);
        let auth = c.mls.epoch().zip(c.mls.epoch_authenticator());
        let Some(key) = self.server_key(c.server) else {
            return false;
        };
        if let Some((epoch, auth)) = auth {
            self.audit.epoch(stream, epoch, auth, None);
        }
        self.audit.learn(stream, &key, &item.receipt, None);
        self.audit.processed(stream, &item.receipt);
        self.act_on_audit(now, fx);
        self.coord
            .as_ref()
            .is_none_or(|c| (c.server, c.generation) != stream)
    }

    /// A peer's report: each receipt and authenticator is compared with
    /// this member's own. Works after a fallback too, so that forwarded
    /// evidence still reaches a member that left the generation.
    pub(super) fn on_audit(&mut self, from: MemberId, report: AuditReport, fx: &mut Effects) {
        let Some(key) = self.server_key(report.server) else {
            return self.reject(
                Peer::Member(from),
                format!("an audit of {}, not a candidate", report.server),
                fx,
            );
        };
        let long = report
            .range
            .is_some_and(|(lo, hi, _)| hi < lo || hi - lo >= MAX_ENTRIES as u64);
        if long || report.receipts.len() > MAX_ENTRIES || report.epochs.len() > MAX_ENTRIES {
            return self.reject(Peer::Member(from), "an oversized audit".into(), fx);
        }
        let stream = (report.server, report.generation);
        let mut forged = 0;
        for r in report.receipts.iter().filter(|r| r.group == self.cfg.group) {
            if !self.audit.learn(stream, &key, r, Some(from)) {
                forged += 1;
            }
        }
        for (epoch, auth) in report.epochs {
            self.audit.epoch(stream, epoch, auth, Some(from));
        }
        if let Some(range) = report.range {
            self.audit.compare(from, stream, range);
        }
        if forged > 0 {
            // Receipts the server never signed frame nobody.
            self.reject(
                Peer::Member(from),
                format!("{forged} receipts in an audit fail their signature"),
                fx,
            );
        }
    }

    /// Every audit period: a withheld own message is looked for, then a
    /// report of what is new goes to the next `FANOUT` peers in rotation.
    pub(super) fn audit_tick(&mut self, now: Millis, fx: &mut Effects) {
        let every = self.cfg.audit_every_ms;
        if every == 0 {
            return;
        }
        let Some(at) = self.audit.next_at else {
            // Staggered, so that members do not all audit at once.
            let offset = u64::from(self.id.0).wrapping_mul(389) % every;
            self.audit.next_at = Some(now + every + offset);
            return;
        };
        if now < at {
            return;
        }
        self.audit.next_at = Some(now + every);
        let Some(c) = self
            .coord
            .as_ref()
            .filter(|c| c.sending && c.mls.is_active())
        else {
            return;
        };
        let stream = (c.server, c.generation);
        if let Some((epoch, auth)) = c.mls.epoch().zip(c.mls.epoch_authenticator()) {
            self.audit.epoch(stream, epoch, auth, None);
        }
        let window = self.cfg.ack_timeout_ms;
        if let Some(w) = self.audit.withheld(stream, window) {
            return self.audit.found.push(w);
        }
        self.audit.own.retain(|o| !o.back || o.at + window >= now);
        let peers: Vec<MemberId> = c.roster().into_iter().filter(|m| *m != self.id).collect();
        let range = self.audit.next_range(stream);
        // Epochs noted of an earlier order are not this server's to answer.
        let epochs: Vec<(u64, Vec<u8>)> = std::mem::take(&mut self.audit.unsent_epochs)
            .into_iter()
            .filter_map(|(s, e, a)| (s == stream).then_some((e, a)))
            .collect();
        if peers.is_empty() || (range.is_none() && epochs.is_empty()) {
            return;
        }
        let report = AuditReport {
            group: self.cfg.group,
            generation: stream.1,
            server: stream.0,
            range,
            receipts: Vec::new(),
            epochs: epochs.into_iter().rev().take(MAX_ENTRIES).rev().collect(),
        };
        let start = self.audit.cursor + self.id.0 as usize;
        self.audit.cursor += FANOUT;
        let to: BTreeSet<MemberId> = (0..FANOUT.min(peers.len()))
            .map(|i| peers[(start + i) % peers.len()])
            .collect();
        self.send_report(now, &report, to, fx);
    }

    fn send_report(
        &mut self,
        now: Millis,
        report: &AuditReport,
        to: impl IntoIterator<Item = MemberId>,
        fx: &mut Effects,
    ) {
        let bytes = Payload::Audit(report.clone()).encode();
        for peer in to {
            self.stats.audits_sent += 1;
            self.stats.audit_bytes += bytes.len() as u64;
            self.seal(now, peer, None, bytes.clone(), fx);
        }
    }

    pub(super) fn audit_wake(&self) -> Option<Millis> {
        self.audit.next_at.filter(|_| self.cfg.audit_every_ms > 0)
    }

    /// Acts on what the comparisons found: records the proof once per
    /// order, forwards it to every peer, and falls back from the order if
    /// this member is still in it.
    pub(super) fn act_on_audit(&mut self, now: Millis, fx: &mut Effects) {
        for f in std::mem::take(&mut self.audit.found) {
            let (stream, reason) = match f {
                Finding::Proof { stream, a, b, from } => {
                    let first = self.audit.reported.insert(stream);
                    let told = from.map(|m| format!(" (told by {m})")).unwrap_or_default();
                    let (seq, evidence) = if a.seq == b.seq {
                        (
                            a.seq,
                            format!(
                                "slot {} signed for {}'s message {} and for {}'s message {}{told}",
                                a.seq,
                                a.sender,
                                short(&a.hash),
                                b.sender,
                                short(&b.hash)
                            ),
                        )
                    } else {
                        (
                            b.seq,
                            format!(
                                "replay: {}'s message {} signed into slots {} and {}{told}",
                                a.sender,
                                short(&a.hash),
                                a.seq,
                                b.seq
                            ),
                        )
                    };
                    if first {
                        fx.record(Event::EquivocationDetected {
                            server: stream.0,
                            generation: stream.1,
                            seq,
                            evidence: evidence.clone(),
                        });
                        let report = AuditReport {
                            group: self.cfg.group,
                            generation: stream.1,
                            server: stream.0,
                            range: None,
                            receipts: vec![a, b],
                            epochs: Vec::new(),
                        };
                        let peers = self.peers();
                        self.send_report(now, &report, peers, fx);
                    }
                    (stream, format!("{} lied: {evidence}", stream.0))
                }
                Finding::Fork {
                    stream,
                    epoch,
                    ours,
                    theirs,
                    other,
                } => {
                    let first = self.audit.reported.insert(stream);
                    let evidence = format!(
                        "epoch {epoch} of generation {} at {}: authenticator {} here, {} at {}",
                        stream.1,
                        stream.0,
                        short(&ours),
                        short(&theirs),
                        other.map_or("a peer".into(), |m| m.to_string())
                    );
                    if first {
                        fx.record(Event::ForkDetected {
                            other_side: other.into_iter().collect(),
                            evidence: evidence.clone(),
                        });
                    }
                    (stream, format!("{} lied: {evidence}", stream.0))
                }
                Finding::Differs {
                    peer,
                    stream,
                    lo,
                    hi,
                } => {
                    // Not a proof yet: our receipts let the peer find one.
                    let report = AuditReport {
                        group: self.cfg.group,
                        generation: stream.1,
                        server: stream.0,
                        range: None,
                        receipts: self.audit.receipts(stream, lo, hi),
                        epochs: Vec::new(),
                    };
                    self.send_report(now, &report, [peer], fx);
                    continue;
                }
                Finding::Withheld { stream, seq, msg } => (
                    stream,
                    format!(
                        "{} receipted {msg} for slot {seq} of generation {} but has not \
                         served it back within {} ms",
                        stream.0, stream.1, self.cfg.ack_timeout_ms
                    ),
                ),
            };
            if self
                .coord
                .as_ref()
                .is_some_and(|c| (c.server, c.generation) == stream)
            {
                self.fall_back(now, reason, true, fx);
            }
        }
    }

    /// Everyone this member would tell: the roster while coordinated, the
    /// membership otherwise.
    fn peers(&self) -> Vec<MemberId> {
        let all = match self.coord.as_ref().filter(|c| c.sending) {
            Some(c) => c.roster(),
            None => self.membership.view(),
        };
        all.into_iter().filter(|m| *m != self.id).collect()
    }

    /// At a fallback: own messages the server receipted but never served
    /// back, or served back so recently that members who fell back before
    /// they processed them may have missed them, go again over Olm under
    /// their ids (receivers deduplicate). A receipt from a server that
    /// is failing or lying proves nothing about who got the message.
    pub(super) fn resend_unconfirmed(&mut self, now: Millis, fx: &mut Effects) {
        let window = self.cfg.ack_timeout_ms;
        let me = self.id;
        for o in std::mem::take(&mut self.audit.own) {
            if o.back && o.at + window < now {
                continue;
            }
            let Some((message, parents)) = self.archive.get(&o.msg).cloned() else {
                continue;
            };
            for r in message.recipients.iter().copied().filter(|r| *r != me) {
                self.seal_message(now, r, &message, &parents, fx);
            }
        }
    }
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
