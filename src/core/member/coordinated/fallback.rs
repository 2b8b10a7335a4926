//! Falling back to the lightweight group: why a member leaves its
//! generation, and what it takes with it (see docs/coordinated.md,
//! "Fallback").

use super::What;
use crate::core::clock::Hlc;
use crate::core::event::{Event, FallbackCause, OpKind};
use crate::core::ids::{MemberId, Millis, ServerId};
use crate::core::io::Effects;
use crate::core::member::Member;
use crate::core::member::membership::Membership;
use crate::core::member::message::Payload;

/// Why a member falls back: the reason for a person, the server it holds
/// proof against, if any, typed for the checkers, and whether it learnt
/// of the fallback first-hand.
pub(in crate::core::member) struct Why {
    pub(super) cause: FallbackCause,
    reason: String,
    liar: Option<ServerId>,
    /// Told by a peer that fell back: that peer has told everyone already.
    told: bool,
    /// Whether the member may return to this generation if its server
    /// turns out to serve the others still: only when all it knows is
    /// that the server went quiet (see `doubt.rs`).
    pub(super) quiet: bool,
}

impl Why {
    pub(in crate::core::member) fn new(cause: FallbackCause, reason: String) -> Why {
        Why {
            cause,
            reason,
            liar: None,
            told: false,
            quiet: matches!(
                cause,
                FallbackCause::NoReceipt | FallbackCause::NoReaddressAnswer
            ),
        }
    }

    pub(in crate::core::member) fn lie(server: ServerId, evidence: &str) -> Why {
        Why {
            cause: FallbackCause::Lie,
            reason: format!("{server} lied: {evidence}"),
            liar: Some(server),
            told: false,
            quiet: false,
        }
    }

    pub(in crate::core::member) fn liar(&self) -> Option<ServerId> {
        self.liar
    }

    /// A peer's message said it fell back from this generation.
    pub(in crate::core::member) fn told_by(peer: MemberId) -> Why {
        Why {
            cause: FallbackCause::PeerNotice,
            reason: format!("{peer} fell back from this generation"),
            liar: None,
            told: true,
            quiet: true,
        }
    }
}

impl Member {
    /// Switches the group to lightweight mode: the membership starts from
    /// the MLS roster of the last applied epoch, messages the server never
    /// acknowledged go again over the pairwise channels under their
    /// original ids (receivers deduplicate), and the others learn of the
    /// switch from the next message they get that way. After a failure
    /// (`takeover`), the member also arms its takeover timer.
    pub(in crate::core::member) fn fall_back(
        &mut self,
        now: Millis,
        why: Why,
        takeover: bool,
        fx: &mut Effects,
    ) {
        let seen = (self.view(), self.in_group());
        let Some(mut c) = self.coord.take() else {
            return;
        };
        let fenced = why.cause == FallbackCause::Fenced;
        let refused = (c.doubt.take().and_then(|d| d.refused)).filter(|_| fenced);
        let Why {
            cause,
            reason,
            liar,
            told,
            quiet,
        } = why;
        self.gens.may_return = quiet;
        let lied = liar.is_some();
        self.gens.lightweight_ops.clear();
        fx.record(Event::FellBack {
            cause,
            reason,
            liar,
        });
        self.gens.fell_from = self.gens.fell_from.max(c.generation);
        self.gens.fell_rank = self.gens.fell_rank.max(Some(c.rank()));
        self.gens.failed_server = Some(c.server);
        if c.sending {
            // The same founding stamp at every member that fell back from
            // the same epoch, so that their sets merge as one.
            let stamp = Hlc::founding(c.mls.epoch().unwrap_or(0));
            self.membership = Membership::found(self.cfg.variant, &c.roster(), stamp);
            // A member a commit removed is a tombstone stamped with the
            // epoch it was out in, not merely absent: a member that falls
            // back from an older epoch founds its set with the removed
            // member in it, at that older epoch's stamp, and an absence
            // would let the merge put the removed member back.
            for (m, out_at) in &c.departed {
                self.membership.remove(*m, Hlc::founding(*out_at));
            }
        }
        // What the roster never learnt (a removal made in lightweight mode
        // across a partition) outlives the generation: see `ledger.rs`. So
        // does what a nominator learnt while still forming its generation,
        // when its membership is the lightweight set but lightweight
        // messages only reach the ledger (`coordinated-adversity` 61: a
        // removal delivered then was undone by the fallback, and the
        // removed member read what followed).
        if let Some(ledger) = &self.ledger {
            self.membership.merge_set(ledger);
        }
        // The set founded here is the view from now on, and what the
        // member writes next goes to it: the trace shows it, or a member
        // that learnt of a re-add from its ledger and wrote to the re-added
        // member looked, to the secrecy checker, as if it had not
        // (`coordinated-adversity` explore, base seed 92).
        if (self.view(), self.in_group()) != seen {
            fx.record(Event::MembershipChanged {
                view: self.view(),
                in_group: self.in_group(),
                cause: None,
            });
        }
        let me = self.id;
        let pending = std::mem::take(&mut c.pending);
        let queue = std::mem::take(&mut c.queue);
        // Commits that lost their epoch too, and adds the application asked
        // for whose key packages were still being claimed: a removal
        // rejected for an epoch this member never reached was dropped here
        // without a word (`coordinated-adversity` 70).
        let rebase = std::mem::take(&mut c.to_rebase);
        let roster = c.roster();
        let stream = (c.server, c.generation);
        let unclaimed: Vec<MemberId> = std::mem::take(&mut c.announce)
            .into_iter()
            .filter(|t| !roster.contains(t))
            .collect();
        let unacknowledged = pending
            .into_values()
            .map(|p| p.what)
            .chain(queue)
            .chain(rebase)
            .chain((!unclaimed.is_empty()).then_some(What::Add { targets: unclaimed }));
        let mut redo = Vec::new();
        for what in unacknowledged {
            match what {
                What::Message { msg, .. } => {
                    let Some(message) = self.causal.archive.get(&msg).cloned() else {
                        continue;
                    };
                    for r in message.recipients.iter().copied().filter(|r| *r != me) {
                        self.seal_message(now, r, &message, fx);
                    }
                }
                // A membership change the application asked for outlives
                // the server that never ordered it: it is made again in
                // lightweight mode below, not dropped.
                what @ (What::Remove { .. } | What::Add { .. }) => redo.extend(what.changes()),
                other => fx.record(Event::CommandSkipped {
                    command: format!("{other:?}").chars().take(40).collect(),
                    reason: "its commit was never ordered; the group fell back".into(),
                }),
            }
        }
        let epoch = (c.mls.epoch().zip(c.mls.epoch_authenticator())).filter(|_| c.mls.is_active());
        self.send_closing_audit(now, (c.server, c.generation), epoch, &roster, fx);
        if lied {
            self.catch_up_after_lie(now, (c.server, c.generation), &roster, fx);
        }
        // Own commits receipted but never served back are redone too: a
        // receipt is not an order (issue 21 (2): a removal the server
        // receipted and dropped was lost here without a word).
        redo.extend(self.resend_unconfirmed(now, fx));
        // Messages the server ordered before it failed may still arrive:
        // the old generation drains until this member needs its MLS client
        // for the next one.
        self.gens.draining = Some(c);
        if takeover {
            self.schedule_takeover(now, refused);
        }
        if self.in_group() {
            // Tell everyone now rather than at the next chat message. A
            // member told by a peer does not tell everyone again: that
            // peer has, and every member passing it on made a fallback
            // cost members squared pairwise sessions (a 150-member group
            // created 33,000 in five seconds, most of a run's memory).
            if !told {
                self.send_group(now, None, None, fx);
            } else if quiet {
                // Told, and its own question went unanswered: a few peers
                // hear it, so that one still served can say so.
                let fell = Payload::FellFrom {
                    group: self.cfg.group,
                    server: stream.0,
                    generation: stream.1,
                }
                .encode();
                let peers: Vec<MemberId> =
                    roster.iter().copied().filter(|m| *m != self.id).collect();
                for peer in self.next_peers(&peers) {
                    self.seal(now, peer, None, fell.clone(), fx);
                }
            }
            for (kind, target) in redo {
                let wanted = self.membership.contains(target) != (kind == OpKind::Add);
                if wanted && (kind == OpKind::Remove || self.learn_contact(target)) {
                    self.send_group(now, Some((kind, target)), None, fx);
                    self.gens.lightweight_ops.push((kind, target));
                }
            }
        }
        // What that order's slots held back is released in causal order.
        self.drain(now, fx);
    }
}
