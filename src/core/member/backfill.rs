//! Backfill: a member that waited too long for a message's parents asks
//! for them over the pairwise channels, and whoever holds them answers
//! with them and with the ancestors the asker lacks, so that what a
//! partition or a fork branch kept from it crosses in one round trip.

use super::Member;
use super::message::{GroupMessage, Payload};
use crate::core::ids::{MemberId, MessageId, Millis, ServerId};
use crate::core::io::Effects;
use std::collections::{BTreeMap, BTreeSet};

/// Messages in one answer: a burst missed whole (a few hundred) crosses in
/// one, and a longer history in a few, without one answer flooding the
/// asker's mailboxes with thousands of envelopes at once.
const BACKFILL_BATCH: usize = 512;

impl Member {
    /// Answers a backfill request from `from`: sends again each wanted
    /// message this member holds (its own, or one it received) that `from`
    /// was a recipient of, and nothing else. The request came over the
    /// pairwise Olm channel, so it is `from` asking, not a mailbox or
    /// server in its name; and a message goes only where its author sent
    /// it, so a member removed before a message was sent never gets it.
    /// Others' messages go as `Forwarded`, carrying their author's
    /// signature. See [`Member::closure`] for what else goes with them.
    pub(super) fn backfill(
        &mut self,
        now: Millis,
        from: MemberId,
        want: &[MessageId],
        have: Option<&[(MemberId, u32)]>,
        fx: &mut Effects,
    ) {
        for message in self.closure(from, want, have) {
            if message.id.sender == self.id {
                self.seal_message(now, from, &message, fx);
            } else {
                let id = message.id;
                let plaintext = Payload::Forwarded(message).encode();
                self.seal(now, from, Some(id), plaintext, fx);
            }
        }
    }

    /// The wanted messages addressed to `from`, with (given `have`) their
    /// ancestors addressed to it that it has not delivered, judged by
    /// `have` (its highest delivered seq per author: causal delivery means
    /// it holds what that message followed), oldest first, at most
    /// [`BACKFILL_BATCH`]. Without the ancestors a chain of k messages
    /// missed whole cost k round trips: 76 messages one branch of a fork
    /// carried, or a minority's partition, took minutes after the heal.
    fn closure(
        &self,
        from: MemberId,
        want: &[MessageId],
        have: Option<&[(MemberId, u32)]>,
    ) -> Vec<GroupMessage> {
        let ancestors = have.is_some();
        let have: BTreeMap<MemberId, u32> = have.unwrap_or_default().iter().copied().collect();
        let held = |id: &MessageId| id.sender == from || have.get(&id.sender) >= Some(&id.seq);
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut stack: Vec<(MessageId, bool)> = want.iter().rev().map(|id| (*id, true)).collect();
        while let Some((id, wanted)) = stack.pop() {
            if out.len() >= BACKFILL_BATCH || !seen.insert(id) || (!wanted && held(&id)) {
                continue;
            }
            let Some(message) = self.causal.archive.get(&id) else {
                continue;
            };
            if !message.recipients.contains(&from) || id.sender == from {
                continue;
            }
            if ancestors {
                stack.extend(message.parents_for(from).into_iter().map(|p| (p, false)));
            }
            out.push(message.clone());
        }
        // Oldest first (a parent's clock is below its child's), so that
        // the asker delivers them as they arrive rather than buffering.
        out.sort_by_key(|m| m.hlc);
        out
    }

    /// Asks for missing messages again: each member in `ask` for the
    /// messages listed with it, in one request over the pairwise channel.
    pub(super) fn ask_for(
        &mut self,
        now: Millis,
        ask: BTreeMap<MemberId, BTreeSet<MessageId>>,
        fx: &mut Effects,
    ) {
        let have = self.have();
        for (peer, want) in ask {
            if peer == self.id {
                continue;
            }
            self.seal(
                now,
                peer,
                None,
                Payload::Backfill {
                    group: self.cfg.group,
                    want: want.into_iter().collect(),
                    have: have.clone(),
                }
                .encode(),
                fx,
            );
        }
    }

    /// The highest seq delivered here per author.
    fn have(&self) -> Vec<(MemberId, u32)> {
        let mut have: Vec<(MemberId, u32)> = Vec::new();
        for id in self.causal.delivered.keys() {
            match have.last_mut() {
                Some((sender, seq)) if *sender == id.sender => *seq = (*seq).max(id.seq),
                _ => have.push((id.sender, id.seq)),
            }
        }
        have
    }

    /// `sender` wrote to an older generation than this member's (its
    /// slots came from a stale server): it followed that server longer,
    /// on the small side of a partition, say, and what it wrote there
    /// this member dropped as stale. If it fell silent before the heal,
    /// nothing it sends later names that history, and no parent is ever
    /// missing (`coordinated-minority-quiet-heal`). Asked once per sender
    /// and stale order.
    pub(super) fn catch_up(
        &mut self,
        now: Millis,
        sender: MemberId,
        stale: (ServerId, u32),
        fx: &mut Effects,
    ) {
        if sender == self.id
            || stale.1 >= self.gens.generation
            || !self.gens.caught_up.insert((sender, stale))
        {
            return;
        }
        let plaintext = Payload::CatchUp {
            group: self.cfg.group,
            server: stale.0,
            generation: stale.1,
            have: self.have(),
        };
        self.seal(now, sender, None, plaintext.encode(), fx);
    }

    /// At a fallback on proof that the server lied: the order this member
    /// followed may not be the one its peers followed (a fork), and what
    /// they wrote there never reached it. Each peer is asked at once for
    /// what it wrote to that order, rather than after a message naming it
    /// has waited `parent_timeout`: a fork found late, after the heal,
    /// otherwise left a burst written on the other branch unrecovered at
    /// the end of the run (`coordinated-fork-across-partition-recovered`,
    /// once the other side no longer fell back on a bare notice).
    pub(super) fn catch_up_after_lie(
        &mut self,
        now: Millis,
        stream: (ServerId, u32),
        roster: &BTreeSet<MemberId>,
        fx: &mut Effects,
    ) {
        let plaintext = Payload::CatchUp {
            group: self.cfg.group,
            server: stream.0,
            generation: stream.1,
            have: self.have(),
        }
        .encode();
        let me = self.id;
        for peer in roster.iter().copied().filter(|p| *p != me) {
            if self.gens.caught_up.insert((peer, stream)) {
                self.seal(now, peer, None, plaintext.clone(), fx);
            }
        }
    }

    /// Answers a catch-up request: the own messages this member submitted
    /// to `stale` past the asker's `have`, with their ancestors it lacks.
    /// Only those: what this member wrote since to the asker's own order
    /// would overtake that order's slots at the asker
    /// (`coordinated-dual-nomination` 12 and 14, when the answer was this
    /// member's whole frontier).
    pub(super) fn answer_catch_up(
        &mut self,
        now: Millis,
        from: MemberId,
        stale: (ServerId, u32),
        have: &[(MemberId, u32)],
        fx: &mut Effects,
    ) {
        let seen = have.iter().find(|(m, _)| *m == self.id).map(|(_, s)| *s);
        let want: Vec<MessageId> = (self.gens.wrote_to.iter())
            .filter(|(id, s)| **s == stale && seen.is_none_or(|h| id.seq > h))
            .map(|(id, _)| *id)
            .collect();
        if !want.is_empty() {
            self.backfill(now, from, &want, Some(have), fx);
        }
    }

    /// A mailbox agent of this member lost its store, with whatever it
    /// held for this member and had not handed over; the senders were
    /// told it arrived, and nothing names it if it was their last word
    /// before a silence. So every member of the view is asked for what it
    /// wrote to this one past `have` (each answers for its own messages
    /// only, so nothing comes twice). An acknowledged message was lost
    /// for good before: `coordinated-adversity` explore 332, shrunk to
    /// `lightweight-wiped-mailbox-resync`. A member that follows a
    /// server's order gets what it lacks from the server instead
    /// (`Readdress`): copies over Olm would overtake the order's slots.
    pub(super) fn resync(&mut self, now: Millis, fx: &mut Effects) {
        if !self.in_group() || self.coord.is_some() {
            return;
        }
        let plaintext = Payload::Resync {
            group: self.cfg.group,
            have: self.have(),
        }
        .encode();
        let me = self.id;
        let peers: Vec<MemberId> = (self.membership.view().into_iter())
            .filter(|p| *p != me)
            .collect();
        for peer in peers {
            self.seal(now, peer, None, plaintext.clone(), fx);
        }
    }

    /// After a restart that lost the device's memory, what this member
    /// was still delivering went with its retry queue, and in a silent
    /// group a peer its last messages never reached never asks for them
    /// (a rename lost this way: `coordinated-restart-resends-latest`). Its
    /// latest own message goes to each recipient again: one that lacks it
    /// delivers it and asks for any older one it lacks too (each names
    /// the one before). A member that follows a server's order is left
    /// alone: copies over Olm would overtake the order's slots.
    pub(super) fn resend_latest(&mut self, now: Millis, fx: &mut Effects) {
        if self.coord.is_some() || !self.in_group() {
            return;
        }
        let me = self.id;
        let latest = (self
            .causal
            .archive
            .range(MessageId { sender: me, seq: 0 }..))
        .take_while(|(id, _)| id.sender == me)
        .last()
        .map(|(_, m)| m.clone());
        let Some(message) = latest else { return };
        for r in message.recipients.iter().copied().filter(|r| *r != me) {
            self.seal_message(now, r, &message, fx);
        }
    }

    /// Answers a resync request: the own messages addressed to the asker
    /// past its `have`, with the ancestors it lacks.
    pub(super) fn answer_resync(
        &mut self,
        now: Millis,
        from: MemberId,
        have: &[(MemberId, u32)],
        fx: &mut Effects,
    ) {
        let seen = have.iter().find(|(m, _)| *m == self.id).map(|(_, s)| *s);
        let me = self.id;
        let want: Vec<MessageId> = (self
            .causal
            .archive
            .range(MessageId { sender: me, seq: 0 }..))
        .take_while(|(id, _)| id.sender == me)
        .filter(|(id, m)| seen.is_none_or(|h| id.seq > h) && m.recipients.contains(&from))
        .map(|(id, _)| *id)
        .collect();
        if !want.is_empty() {
            self.backfill(now, from, &want, Some(have), fx);
        }
    }
}
