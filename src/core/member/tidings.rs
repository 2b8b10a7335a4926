//! Passing a change on to a member its author did not address.
//!
//! A message goes to the members of its author's view. A member the
//! author did not know of yet (added concurrently, or joined a generation
//! after the message was ordered) is never sent the change, and in a
//! silent group no later message carries it: the member keeps a removed
//! member, or the group's old name, for good. A member that delivers such
//! a change and holds one of those members in its own view hands it what
//! it now holds (its LWW set in a lightweight group, the group's name and
//! picture in either), over the pairwise channel. What it hands over is
//! what any of its messages would carry, so the receiver merges it the
//! same way; nothing is relayed further, so one change costs at most one
//! hand-over per (deliverer, missed member).

use super::Member;
use super::message::{GroupMessage, Payload};
use super::particle::GroupMeta;
use crate::core::event::Event;
use crate::core::ids::{MemberId, Millis, Peer};
use crate::core::io::Effects;
use std::collections::BTreeSet;

impl Member {
    /// `msg`, just delivered, changed this member's view or the group's
    /// name (`news`): hands the result to each member of the view the
    /// message was not addressed to. And a member it brought into this
    /// member's view (`gained`) is handed the group's name if it was ever
    /// changed: a rename delivered here before this member knew of it
    /// never reached it, under a recipient list, where views grow only by
    /// the messages that name their members
    /// (`lightweight-rename-before-view-grew`).
    pub(super) fn pass_on(
        &mut self,
        now: Millis,
        msg: &GroupMessage,
        news: bool,
        gained: &BTreeSet<MemberId>,
        fx: &mut Effects,
    ) {
        if !news || !self.in_group() {
            return;
        }
        let me = self.id;
        let addressed: BTreeSet<MemberId> = msg.recipients.iter().copied().collect();
        // The message's own name reached whom it addressed; only one it
        // lacks is worth handing over.
        let renamed = self.particle.meta.is_some() && msg.meta != self.particle.meta;
        // The author too, when its own message brought it in: that is how
        // a recipient list learns of a member again.
        let missed: Vec<MemberId> = (self.membership.view().into_iter())
            .filter(|m| *m != me)
            .filter(|m| {
                (*m != msg.id.sender && !addressed.contains(m)) || (renamed && gained.contains(m))
            })
            .collect();
        if missed.is_empty() {
            return;
        }
        let tidings = Payload::Tidings {
            group: self.cfg.group,
            membership: self.membership.carried(),
            meta: self.particle.meta.clone(),
        }
        .encode();
        for m in missed {
            self.seal(now, m, None, tidings.clone(), fx);
        }
    }

    /// `msg`, just delivered, removed this member. Its author may be gone
    /// before its other recipients got it (wiped with the copies it was
    /// still delivering), and nothing later names it: the removed member
    /// holds it, signed, and hands it to them as its last act, once
    /// (`lightweight-removal-outlives-wiped-author`).
    pub(super) fn pass_on_own_removal(
        &mut self,
        now: Millis,
        msg: &GroupMessage,
        fx: &mut Effects,
    ) {
        let me = self.id;
        let plaintext = Payload::Forwarded(msg.clone()).encode();
        let others: Vec<MemberId> = (msg.recipients.iter().copied())
            .filter(|r| *r != me && *r != msg.id.sender)
            .collect();
        for r in others {
            self.seal(now, r, Some(msg.id), plaintext.clone(), fx);
        }
    }

    /// A Welcome came for this member although it knows of its own
    /// removal: the inviter formed its generation from a view that missed
    /// it. Refusing alone leaves the inviter's roster holding this member
    /// for good when nobody else knows of the removal (its author wiped,
    /// the order that carried it left), so the refuser hands the inviter
    /// its LWW set, which the inviter merges like any member's and then
    /// commits the removal (`coordinated-takeover-undoes-unprocessed-removal`).
    /// A member vouching for its own removal gives nobody a lever.
    pub(super) fn hand_removal(&mut self, now: Millis, inviter: MemberId, fx: &mut Effects) {
        let Some(set) = self.ledger_now() else {
            return;
        };
        let tidings = Payload::Tidings {
            group: self.cfg.group,
            membership: Some(set),
            meta: None,
        }
        .encode();
        self.seal(now, inviter, None, tidings, fx);
    }

    /// Merges what a member of the view handed over, as if a message of
    /// its carried it.
    pub(super) fn on_tidings(
        &mut self,
        now: Millis,
        from: MemberId,
        membership: Option<super::membership::LwwSet>,
        meta: Option<GroupMeta>,
        fx: &mut Effects,
    ) {
        if !self.in_group() || !self.membership.contains(from) {
            return self.reject(
                Peer::Member(from),
                format!("tidings from {from}, not a member of this member's group"),
                fx,
            );
        }
        // Only an LWW set merges: under `recipient-list`, a set handed
        // over (by a faulty or hostile peer) would have emptied the view.
        if let Some(set) = membership.as_ref() {
            if self.coord.is_some() {
                let hlc = self.clock.last();
                self.ledger_learn(now, Some(set), None, hlc, fx);
            } else if self.membership.carried().is_some()
                && self.membership.on_message(&BTreeSet::new(), Some(set))
            {
                fx.record(Event::MembershipChanged {
                    view: self.view(),
                    in_group: self.in_group(),
                    cause: None,
                });
            }
        }
        if let Some(meta) = meta {
            self.apply_meta(meta, None, fx);
        }
    }
}
