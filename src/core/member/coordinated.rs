//! A member of a coordinated group: group messages are MLS ciphertexts,
//! submitted to the group's server agent and received in the order it
//! assigned, each with a signed receipt.
//!
//! The server's total order is also a causal order (a member only names as
//! parents messages it has delivered, which the server ordered earlier), so
//! ordered messages carry no parents of their own; the trace still records
//! the sender's frontier for the checkers.
//!
//! A removal is an MLS commit. The server accepts one commit per epoch; a
//! commit that loses its epoch is rebuilt on the winner once this member
//! has applied it, and resubmitted. Once its own commit is applied, the
//! committer announces the change in an ordinary group message (the
//! `membership_op` the checkers follow).

use super::Member;
use super::membership::Membership;
use super::message::{GroupMessage, Payload};
use crate::core::ids::{EnvelopeId, MemberId, MessageId, Millis, Peer, ServerId};
use crate::core::io::Effects;
use crate::core::mls::{MlsClient, MlsError, Processed};
use crate::core::server::sequencer::{Kind, Receipt, Rejection, hash};
use crate::core::wire::{Datagram, Ordered, Submission};
use crate::trace::Event;
use crate::trace::event::OpKind;
use std::collections::{BTreeMap, BTreeSet};

/// What a submission carries.
#[derive(Clone, Debug)]
enum What {
    Message { msg: MessageId, plaintext: Vec<u8> },
    Remove { target: MemberId },
}

/// A submission, ready for the server agent.
struct Built {
    kind: Kind,
    epoch: u64,
    payload: Vec<u8>,
    members_after: Option<Vec<MemberId>>,
}

/// A submission waiting for its receipt (volatile).
struct Pending {
    what: What,
    datagram: Datagram,
    attempts: u32,
    next_at: Millis,
    /// When it was first submitted, for the fallback timeout.
    since: Millis,
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
    /// Submissions waiting for the one in flight: one at a time, so that
    /// the server orders each member's messages in the order it sent them
    /// even when a receipt is lost and a submission retried.
    queue: std::collections::VecDeque<What>,
    /// Own commits that lost their epoch: rebuilt after the next commit.
    to_rebase: Vec<MemberId>,
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
            queue: Default::default(),
            to_rebase: Vec::new(),
        }
    }

    pub fn mls(&self) -> &MlsClient {
        &self.mls
    }

    pub(super) fn forget_pending(&mut self) {
        self.pending.clear();
        self.queue.clear();
        self.to_rebase.clear();
    }

    pub(super) fn next_wake(&self) -> Option<Millis> {
        self.pending.values().map(|p| p.next_at).min()
    }

    fn commit_pending(&self) -> bool {
        self.pending
            .values()
            .any(|p| matches!(p.what, What::Remove { .. }))
            || !self.to_rebase.is_empty()
    }

    /// The roster as member ids; empty once this member is out.
    fn roster(&self) -> BTreeSet<MemberId> {
        if !self.mls.is_active() {
            return BTreeSet::new();
        }
        self.mls
            .members()
            .iter()
            .filter_map(|id| {
                std::str::from_utf8(id)
                    .ok()
                    .and_then(|s| s.strip_prefix('m')?.parse().ok())
            })
            .map(MemberId)
            .collect()
    }
}

impl Member {
    /// Joins the coordinated group this member's MLS client is already in.
    pub fn coordinate(&mut self, c: Coordinated) {
        self.coord = Some(c);
        self.sync_roster(None, &mut Effects::default());
    }

    pub fn coordinated(&self) -> Option<&Coordinated> {
        self.coord.as_ref()
    }

    /// In a coordinated group the MLS roster is the membership.
    fn sync_roster(&mut self, cause: Option<MessageId>, fx: &mut Effects) {
        let Some(c) = self.coord.as_mut() else { return };
        if !c.mls.is_active() {
            // Removed: nothing of ours will be ordered any more, and a
            // missing receipt is no reason to fall back.
            c.forget_pending();
        }
        let view = c.roster();
        if view != self.membership.view() {
            self.membership = Membership::RecipientList { view };
            fx.record(Event::MembershipChanged {
                view: self.view(),
                in_group: self.in_group(),
                cause,
            });
        }
    }

    /// Encrypts a group message for the MLS group and submits it.
    pub(super) fn submit(&mut self, now: Millis, message: &GroupMessage, fx: &mut Effects) {
        let plaintext = Payload::Group(GroupMessage {
            parents: Vec::new(),
            ..message.clone()
        })
        .encode();
        self.submit_what(
            now,
            What::Message {
                msg: message.id,
                plaintext,
            },
            fx,
        );
    }

    /// Starts removing `target`: an MLS commit, submitted for ordering.
    pub(super) fn commit_remove(&mut self, now: Millis, target: MemberId, fx: &mut Effects) {
        if self.coord.as_ref().is_some_and(Coordinated::commit_pending) {
            return fx.record(Event::CommandSkipped {
                command: format!("remove {target}"),
                reason: "a commit of this member is still being ordered".into(),
            });
        }
        self.submit_what(now, What::Remove { target }, fx);
    }

    /// Sends `what` now if nothing is in flight, or queues it.
    fn submit_what(&mut self, now: Millis, what: What, fx: &mut Effects) {
        match self.coord.as_mut() {
            Some(c) if !c.pending.is_empty() => c.queue.push_back(what),
            Some(_) => self.send_submission(now, what, fx),
            None => {}
        }
    }

    /// Sends the next queued submission once nothing is in flight.
    fn advance(&mut self, now: Millis, fx: &mut Effects) {
        let next = match self.coord.as_mut() {
            Some(c) if c.pending.is_empty() => c.queue.pop_front(),
            _ => None,
        };
        if let Some(what) = next {
            self.send_submission(now, what, fx);
        }
    }

    fn send_submission(&mut self, now: Millis, what: What, fx: &mut Effects) {
        let req = self.next_req();
        let (group, retry_ms) = (self.cfg.group, self.cfg.retry_ms);
        let Some(c) = self.coord.as_mut() else { return };
        let built = match &what {
            What::Message { plaintext, .. } => c.mls.encrypt(plaintext).map(|payload| Built {
                kind: Kind::Message,
                epoch: c.mls.epoch().unwrap_or(0),
                payload,
                members_after: None,
            }),
            What::Remove { target } => {
                let after: Vec<MemberId> = c.roster().into_iter().filter(|m| m != target).collect();
                c.mls
                    .remove(&[target.to_string().into_bytes()])
                    .map(|p| Built {
                        kind: Kind::Commit,
                        epoch: p.epoch,
                        payload: p.commit,
                        members_after: Some(after),
                    })
            }
        };
        let Built {
            kind,
            epoch,
            payload,
            members_after,
        } = match built {
            Ok(b) => b,
            Err(e) => {
                return fx.record(Event::CommandSkipped {
                    command: format!("{what:?}").chars().take(40).collect(),
                    reason: e.to_string(),
                });
            }
        };
        let submission = Submission {
            group,
            generation: c.generation,
            epoch,
            kind,
            payload,
            members_after,
        };
        let datagram = Datagram::Submit { req, submission };
        fx.send(Peer::Server(c.server), datagram.encode());
        c.pending.insert(
            req,
            Pending {
                what,
                datagram,
                attempts: 1,
                next_at: now + retry_ms,
                since: now,
            },
        );
    }

    pub(super) fn retry_submits(&mut self, now: Millis, fx: &mut Effects) {
        let (retry_ms, timeout) = (self.cfg.retry_ms, self.cfg.ack_timeout_ms);
        let Some(c) = self.coord.as_mut() else { return };
        if c.pending.values().any(|p| p.since + timeout <= now) {
            let reason = format!("no receipt from {} within {timeout} ms", c.server);
            return self.fall_back(now, reason, fx);
        }
        for p in c.pending.values_mut().filter(|p| p.next_at <= now) {
            p.attempts = p.attempts.saturating_add(1);
            p.next_at = now + retry_ms * u64::from(p.attempts.min(8));
            fx.send(Peer::Server(c.server), p.datagram.encode());
        }
    }

    /// Switches the group to lightweight mode: the membership starts from
    /// the MLS roster of the last applied epoch, messages the server never
    /// acknowledged go again over the pairwise channels under their
    /// original ids (receivers deduplicate), and the others learn of the
    /// switch from the next message they get that way.
    pub(super) fn fall_back(&mut self, now: Millis, reason: String, fx: &mut Effects) {
        let Some(c) = self.coord.take() else { return };
        fx.record(Event::FellBack { reason });
        self.retired_mls += c.mls.ops;
        let roster = c.roster();
        // The same founding stamp at every member that fell back from the
        // same epoch, so that their sets merge as one.
        let stamp = crate::core::clock::Hlc {
            wall: 0,
            logical: c.mls.epoch().unwrap_or(0) as u32,
            node: MemberId(0),
        };
        self.membership = Membership::found(self.cfg.variant, &roster, stamp);
        let me = self.id;
        let unacknowledged = c.pending.into_values().map(|p| p.what).chain(c.queue);
        for what in unacknowledged {
            match what {
                What::Message { msg, .. } => {
                    let Some((message, parents)) = self.archive.get(&msg).cloned() else {
                        continue;
                    };
                    for r in message.recipients.iter().copied().filter(|r| *r != me) {
                        self.seal_message(now, r, &message, &parents, fx);
                    }
                }
                What::Remove { target } => fx.record(Event::CommandSkipped {
                    command: format!("remove {target}"),
                    reason: "its commit was never ordered; the group fell back".into(),
                }),
            }
        }
        if self.in_group() {
            // Tell everyone now rather than at the next chat message.
            self.send_group(now, None, None, fx);
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
                if let Some(Pending {
                    what: What::Message { msg, .. },
                    ..
                }) = c.pending.remove(&req)
                {
                    fx.record(Event::SubmitAcked {
                        msg,
                        generation: receipt.generation,
                        seq: receipt.seq,
                    });
                }
            }
            Datagram::SubmitRejected {
                req,
                rejection: Rejection::StaleEpoch { current, .. },
            } => {
                let caught_up = c.mls.epoch().is_some_and(|e| e >= current);
                let Some(p) = c.pending.remove(&req) else {
                    return;
                };
                match p.what {
                    // Another commit won the epoch: rebuild ours on it once
                    // it has been applied here.
                    What::Remove { target } => c.to_rebase.push(target),
                    What::Message { .. } if caught_up => self.submit_what(now, p.what, fx),
                    What::Message { .. } => {
                        c.pending.insert(req, p);
                    }
                }
            }
            Datagram::SubmitRejected {
                rejection: Rejection::Refused,
                ..
            } => {
                let reason = format!("{server} refuses service");
                self.fall_back(now, reason, fx);
            }
            Datagram::SubmitRejected {
                req,
                rejection: Rejection::NotAMember(_),
            } => {
                c.pending.remove(&req);
            }
            Datagram::SubmitRejected { .. } => {}
            other => self.reject(
                Peer::Server(server),
                format!("unexpected from a server agent: {}", other.name()),
                fx,
            ),
        }
        self.advance(now, fx);
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
            || hash(&item.payload) != r.hash
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
        result: Result<Processed, MlsError>,
        fx: &mut Effects,
    ) {
        let from: MemberId = receipt.sender;
        let env = EnvelopeId {
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
            Ok(Processed::Commit { .. }) => self.after_commit(now, receipt, fx),
            Ok(Processed::Own | Processed::Proposal) => {}
            Err(e) => fx.record(Event::DecryptFailed {
                env,
                from,
                error: e.to_string(),
            }),
        }
    }

    /// A commit has been applied: the roster may have changed, our own
    /// removal is announced, and commits that lost their epoch are rebuilt.
    fn after_commit(&mut self, now: Millis, receipt: &Receipt, fx: &mut Effects) {
        let before = self.membership.view();
        self.sync_roster(None, fx);
        let after = self.membership.view();
        if receipt.sender == self.id {
            let removed: Vec<MemberId> = before.difference(&after).copied().collect();
            if let Some(c) = self.coord.as_mut() {
                c.pending.retain(
                    |_, p| !matches!(p.what, What::Remove { target } if removed.contains(&target)),
                );
            }
            for target in removed {
                self.send_group(now, Some((OpKind::Remove, target)), None, fx);
            }
        }
        let rebase = self
            .coord
            .as_mut()
            .map(|c| std::mem::take(&mut c.to_rebase))
            .unwrap_or_default();
        for target in rebase.into_iter().filter(|t| after.contains(t)) {
            self.submit_what(now, What::Remove { target }, fx);
        }
        self.advance(now, fx);
    }
}
