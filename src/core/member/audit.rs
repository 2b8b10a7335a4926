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
use super::coordinated::Why;
use super::message::Payload;
use crate::core::event::{Event, FallbackCause, OpKind};
use crate::core::ids::{MemberId, Millis, Peer, ServerId};
use crate::core::io::Effects;
use crate::core::wire::Ordered;
use std::collections::BTreeSet;

mod notes;
use notes::FANOUT;
pub use notes::MAX_ENTRIES;
pub use notes::{AuditReport, Auditor, Finding, Owned, Stream, Unconfirmed, digest};

fn short(h: &[u8]) -> String {
    hex::encode(&h[..h.len().min(4)])
}

impl Member {
    fn server_key(&self, server: ServerId) -> Option<[u8; 32]> {
        self.gens
            .candidates
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
        // A member a commit removed holds the epoch number the commit
        // reached but the authenticator of the epoch before: noted, it
        // accused an honest server of a fork once it was added back to
        // the same generation and compared (`coordinated-forming-generation-drops-readded-member`,
        // seed 235).
        let auth = (c.mls.epoch().zip(c.mls.epoch_authenticator())).filter(|_| c.mls.is_active());
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

    /// A slot drained from the order this member just left is still what
    /// that server showed it: its receipt joins the notes, and peers'
    /// digests waiting for it are compared. A victim cut off while the
    /// server lied to it, then gone for another cause (a refusal), takes
    /// the lied slots only here, after it left; without this it never set
    /// them beside anyone's (`coordinated-equivocation-before-refusal-unseen`).
    ///
    /// So is a slot of an order this member left and no longer drains (it
    /// moved on to the next generation), as long as it ever processed a
    /// slot of that order: a victim offline while the server lied to it
    /// fell back and nominated before it fetched the lied slots, and they
    /// reached it only once its client served another order
    /// (`coordinated-lie-fetched-after-moving-on`). Only the signed
    /// receipt is compared; nothing is decrypted or applied.
    pub(super) fn audit_drained(&mut self, now: Millis, item: &Ordered, fx: &mut Effects) {
        let Some(c) = self.gens.draining.as_ref() else {
            return;
        };
        self.audit_left(now, (c.server, c.generation), item, fx);
    }

    /// See [`Member::audit_drained`]; a stale slot is taken only by a
    /// member that followed its order.
    pub(super) fn audit_stale(
        &mut self,
        now: Millis,
        stream: (ServerId, u32),
        item: &Ordered,
        fx: &mut Effects,
    ) {
        if self.audit.followed(stream) {
            self.audit_left(now, stream, item, fx);
        }
    }

    fn audit_left(
        &mut self,
        now: Millis,
        stream: (ServerId, u32),
        item: &Ordered,
        fx: &mut Effects,
    ) {
        let Some(key) = self.server_key(stream.0) else {
            return;
        };
        self.audit.learn(stream, &key, &item.receipt, None);
        self.audit.processed(stream, &item.receipt);
        self.act_on_audit(now, fx);
    }

    /// A commit drained from the order this member left: the epoch it
    /// reaches there goes to every member of that order. A forking server
    /// pads the forked slot out of every digest, so only authenticators
    /// show the fork, and a side that left before it processed the forked
    /// commit reached that epoch only here, after every audit of its own
    /// was over (`coordinated-fork-sides-left-before-the-commit`).
    pub(super) fn audit_drained_commit(&mut self, now: Millis, seq: u64, fx: &mut Effects) {
        let Some(c) = self.gens.draining.as_ref() else {
            return;
        };
        let stream = (c.server, c.generation);
        let Some((epoch, auth)) =
            (c.mls.epoch().zip(c.mls.epoch_authenticator())).filter(|_| c.mls.is_active())
        else {
            return;
        };
        let peers: Vec<MemberId> = (c.roster().into_iter()).filter(|m| *m != self.id).collect();
        self.audit.commit_applied(stream, seq);
        self.audit.epoch(stream, epoch, auth.clone(), None);
        self.audit
            .unsent_epochs
            .retain(|(s, e, _)| (*s, *e) != (stream, epoch));
        let report = AuditReport {
            epochs: vec![(epoch, auth)],
            ..self.receipts_report(stream, Vec::new())
        };
        self.send_report(now, &report, peers, fx);
        self.act_on_audit(now, fx);
    }

    /// A peer's report: each receipt and authenticator is compared with
    /// this member's own. Works after a fallback too, so that forwarded
    /// evidence still reaches a member that left the generation.
    pub(super) fn on_audit(
        &mut self,
        now: Millis,
        from: MemberId,
        report: AuditReport,
        fx: &mut Effects,
    ) {
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
            } else {
                self.audit.told_of(now, stream, r);
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

    /// A withheld own message or commit is due from the first read of the
    /// mailboxes `ack_timeout` after its receipt, so it is looked for
    /// after every fetch as well as at every audit: waiting for the next
    /// audit period could miss the detection bound by up to that period
    /// (`coordinated-withheld-commit-noticed` was found 210 ms late).
    /// Returns whether one was found.
    pub(super) fn look_for_withheld(&mut self) -> bool {
        // A nominator still forming its generation submits its add commits
        // too: one dropped was never noticed, and the generation stalled
        // until another member superseded it (`coordinated-adversity`
        // explore 179, `coordinated-forming-commit-withheld`).
        let Some(c) = (self.coord.as_ref()).filter(|c| c.mls.is_active()) else {
            return false;
        };
        let at = ((c.server, c.generation), c.next_seq);
        match self.audit.withheld(at, self.id, self.cfg.ack_timeout_ms) {
            Some(w) => {
                self.audit.found.push(w);
                true
            }
            None => false,
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
        self.ask_if_quiet(now, fx);
        if self.look_for_withheld() {
            return;
        }
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
        self.audit.prune_own(now, window);
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
        let to = self.next_peers(&peers);
        self.send_report(now, &report, to, fx);
    }

    /// The next `FANOUT` of `peers` in this member's rotation.
    pub(super) fn next_peers(&mut self, peers: &[MemberId]) -> BTreeSet<MemberId> {
        let start = self.audit.cursor + self.id.0 as usize;
        self.audit.cursor += FANOUT;
        (0..FANOUT.min(peers.len()))
            .map(|i| peers[(start + i) % peers.len()])
            .collect()
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

    /// Only a coordinated member has anything to audit; the fetch timer
    /// wakes the others often enough to start once they coordinate.
    pub(super) fn audit_wake(&self) -> Option<Millis> {
        self.audit
            .next_at
            .filter(|_| self.cfg.audit_every_ms > 0 && self.coord.is_some())
    }

    /// Acts on what the comparisons found: records the proof once per
    /// order, forwards it to every peer, and falls back from the order if
    /// this member is still in it.
    pub(super) fn act_on_audit(&mut self, now: Millis, fx: &mut Effects) {
        for f in std::mem::take(&mut self.audit.found) {
            let (stream, reason): (_, Why) = match f {
                Finding::Proof { stream, a, b, from } => {
                    self.audit.reported.insert(stream);
                    let first = self.audit.proved.insert(stream);
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
                    (stream, Why::lie(stream.0, &evidence))
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
                        // Authenticators convince only us; the peer's own
                        // receipt for the slot where we parted, next to
                        // ours, is a proof it forwards to everyone.
                        if let Some(peer) = other {
                            let report = AuditReport {
                                group: self.cfg.group,
                                generation: stream.1,
                                server: stream.0,
                                range: None,
                                receipts: self.audit.commit_receipts(stream),
                                epochs: Vec::new(),
                            };
                            self.send_report(now, &report, [peer], fx);
                        }
                    }
                    (stream, Why::lie(stream.0, &evidence))
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
                Finding::Withheld {
                    stream,
                    seq,
                    msg,
                    sender,
                } => {
                    let reason = format!(
                        "{} receipted {} for slot {seq} of generation {} but has not \
                         served it here within {} ms",
                        stream.0,
                        msg.map_or(format!("a commit of {sender}"), |m| m.to_string()),
                        stream.1,
                        self.cfg.ack_timeout_ms
                    );
                    // Asked first: its answer may prove the withholding.
                    self.suspect(now, stream, Why::new(FallbackCause::Withheld, reason), fx);
                    continue;
                }
            };
            if self
                .coord
                .as_ref()
                .is_some_and(|c| (c.server, c.generation) == stream)
            {
                self.fall_back(now, reason, true, fx);
            } else if reason.liar().is_some() {
                // Already out of that order (its server went quiet for
                // this member first): the lie still means the peers may
                // have written on another branch of it.
                let peers = self.membership.view();
                self.catch_up_after_lie(now, stream, &peers, fx);
            }
        }
    }

    /// At a fallback: the receipts of own submissions the server never
    /// served back here go to the next `FANOUT` peers of `roster`, as an
    /// audit would. Each side of a fork the server made across a
    /// partition holds a receipt for the slot where the sides parted, and
    /// the side cut off from its mailboxes processed nothing to compare:
    /// no audit runs once both have left the generation, so without this
    /// nobody ever set the two receipts side by side (issue 21 (3)).
    ///
    /// It also carries what the next periodic audit would have: the digest
    /// of the slots processed since the last one, and the epoch
    /// authenticators not yet sent, the one `epoch` reached included
    /// (noted only when the next slot is processed). A fork the server made
    /// by showing each side its own commit, just before it stopped serving,
    /// left every receipt served back and no audit to come: the split epoch
    /// went unreported (`coordinated-fork-then-refusal-detected`).
    pub(super) fn send_closing_audit(
        &mut self,
        now: Millis,
        stream: Stream,
        epoch: Option<(u64, Vec<u8>)>,
        roster: &BTreeSet<MemberId>,
        fx: &mut Effects,
    ) {
        if let Some((epoch, auth)) = epoch {
            self.audit.epoch(stream, epoch, auth, None);
        }
        let receipts = self.audit.unserved_receipts(stream);
        let range = self.audit.next_range(stream);
        let (epochs, others): (Vec<_>, Vec<_>) = std::mem::take(&mut self.audit.unsent_epochs)
            .into_iter()
            .partition(|(s, _, _)| *s == stream);
        self.audit.unsent_epochs = others;
        let peers: Vec<MemberId> = roster.iter().copied().filter(|m| *m != self.id).collect();
        if (receipts.is_empty() && range.is_none() && epochs.is_empty()) || peers.is_empty() {
            return;
        }
        let mut report = self.receipts_report(stream, receipts);
        report.range = range;
        report.epochs = (epochs.into_iter().rev().take(MAX_ENTRIES).rev())
            .map(|(_, e, a)| (e, a))
            .collect();
        let to = self.next_peers(&peers);
        self.send_report(now, &report, to, fx);
    }

    /// Removed by a commit: the receipts of own submissions the server
    /// never served back go to the members this one leaves. A server that
    /// receipted a message of a member it had already removed, and served
    /// another in its slot (the `drop` lie), left the only evidence with
    /// a member no order would show it to again; the others, shown the
    /// receipt beside their own for that slot, hold the proof
    /// (`coordinated-drop-victim-removed`). A receipt the server honours
    /// matches theirs and proves nothing, so an honest server loses nothing.
    pub(super) fn leave_evidence(
        &mut self,
        now: Millis,
        stream: Stream,
        left: &BTreeSet<MemberId>,
        fx: &mut Effects,
    ) {
        let receipts = self.audit.unserved_receipts(stream);
        if receipts.is_empty() {
            return;
        }
        let report = self.receipts_report(stream, receipts);
        let me = self.id;
        let peers: Vec<MemberId> = left.iter().copied().filter(|m| *m != me).collect();
        self.send_report(now, &report, peers, fx);
    }

    /// A report that carries only `receipts`: no digest, no epochs.
    fn receipts_report(
        &self,
        stream: Stream,
        receipts: Vec<crate::core::server::sequencer::Receipt>,
    ) -> AuditReport {
        AuditReport {
            group: self.cfg.group,
            generation: stream.1,
            server: stream.0,
            range: None,
            receipts,
            epochs: Vec::new(),
        }
    }

    /// The receipt this member holds for slot `seq` of `stream`, to every
    /// peer, as an audit would carry it.
    pub(super) fn forward_receipt(
        &mut self,
        now: Millis,
        stream: Stream,
        seq: u64,
        fx: &mut Effects,
    ) {
        let receipts = self.audit.receipts(stream, seq, seq);
        if receipts.is_empty() {
            return;
        }
        let report = self.receipts_report(stream, receipts);
        let peers = self.peers();
        self.send_report(now, &report, peers, fx);
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
    /// back, or receipted so recently (within `ack_timeout`) that members
    /// who fell back before they processed them may have missed them, go
    /// again over Olm under their ids (receivers deduplicate). A receipt from a server that
    /// is failing or lying proves nothing about who got the message.
    /// Returns the changes of own commits never served back, to redo.
    pub(super) fn resend_unconfirmed(
        &mut self,
        now: Millis,
        fx: &mut Effects,
    ) -> Vec<(OpKind, MemberId)> {
        let window = self.cfg.ack_timeout_ms;
        let me = self.id;
        let Unconfirmed { messages, ops } = self.audit.take_unconfirmed(now, window);
        for (msg, (server, generation), seq) in messages {
            let Some(message) = self.causal.archive.get(&msg).cloned() else {
                continue;
            };
            let plaintext = Payload::Resent {
                server,
                generation,
                seq,
                msg: message.clone(),
            }
            .encode();
            for r in message.recipients.iter().copied().filter(|r| *r != me) {
                self.seal(now, r, Some(msg), plaintext.clone(), fx);
            }
        }
        ops
    }
}

#[cfg(test)]
mod tests;
