//! The receiving half of a coordinated member: ordered messages taken from
//! the mailboxes, checked against their receipts, processed in the server's
//! order (or drained from the generation just left), and what an applied
//! commit changes.

use super::{Coordinated, What};
use crate::core::clock::Hlc;
use crate::core::event::Event;
use crate::core::event::OpKind;
use crate::core::ids::{EnvelopeId, MemberId, Millis, Peer, ServerId};
use crate::core::io::Effects;
use crate::core::member::Member;
use crate::core::member::message::Payload;
use crate::core::mls::{MlsError, Processed};
use crate::core::server::sequencer::{Receipt, hash};
use crate::core::wire::Ordered;
use std::collections::BTreeMap;

impl Member {
    /// The generation an ordered message belongs to: the current one, or
    /// the one being drained after a fallback.
    fn stream(&mut self, draining: bool) -> Option<&mut Coordinated> {
        if draining {
            self.gens.draining.as_mut()
        } else {
            self.coord.as_mut()
        }
    }

    /// Takes an ordered message from the mailbox and delivers, in sequence
    /// order, everything that is now contiguous. Messages of a later
    /// generation wait until this member joins it; those of an earlier one
    /// come from a stale server, which is told so.
    pub(in crate::core::member) fn on_ordered(
        &mut self,
        now: Millis,
        item: Ordered,
        fx: &mut Effects,
    ) {
        let r = &item.receipt;
        let signer = self
            .gens
            .candidates
            .iter()
            .find(|(_, k)| r.verify(k))
            .map(|(s, _)| *s);
        let server = match signer {
            Some(s) if r.group == self.cfg.group && hash(&item.payload) == r.hash => s,
            _ => {
                let error = format!("ordered message {} fails its receipt", r.seq);
                return self.reject(Peer::Server(ServerId(u32::MAX)), error, fx);
            }
        };
        let ours = |c: &Option<Coordinated>| {
            c.as_ref()
                .is_some_and(|c| (c.generation, c.server) == (r.generation, server))
        };
        let draining = match (ours(&self.coord), ours(&self.gens.draining)) {
            (true, _) => false,
            (false, true) => true,
            _ => {
                // Another server's: of a later generation, or a better one
                // of this generation, it waits for a Welcome; otherwise it
                // is stale, and its server is told.
                let current = self.coord.as_ref().map(|c| (c.generation, c.server));
                let ahead = r.generation > self.gens.generation
                    || (r.generation == self.gens.generation
                        && current.is_none_or(|(g, s)| g < r.generation || server < s));
                return if ahead {
                    self.hold_early(item)
                } else {
                    self.audit_stale(now, (server, r.generation), &item, fx);
                    self.catch_up(now, r.sender, (server, r.generation), fx);
                    self.stale_server(server, r.generation, fx)
                };
            }
        };
        let Some(c) = self.stream(draining) else {
            return;
        };
        if !draining {
            c.heard = now;
        }
        if r.seq >= c.next_seq {
            c.reorder.insert(r.seq, item);
        }
        while let Some(c) = self.stream(draining)
            && let Some(item) = c.reorder.remove(&c.next_seq)
        {
            c.next_seq += 1;
            if !draining && self.audit_before(now, &item, fx) {
                break;
            }
            if draining {
                self.audit_drained(now, &item, fx);
            }
            let Some(c) = self.stream(draining) else {
                break;
            };
            let result = c.mls.process(&item.payload);
            if !draining {
                self.apply_ordered(now, &item.receipt, result, fx);
            } else if let Ok(Processed::Application(_)) = result {
                // What the failed server had already ordered still arrives:
                // delivered in its order, not left to backfill.
                self.apply_ordered(now, &item.receipt, result, fx);
            } else if let Ok(Processed::Commit { epoch, aad }) = result {
                let stamps = super::CommitStamps::decode(&aad);
                self.drained_commit(now, epoch, item.receipt.sender, stamps, fx);
                self.audit_drained_commit(now, item.receipt.seq, fx);
            }
        }
    }

    /// A commit drained from the generation this member fell back from
    /// changes the lightweight set it founded from that generation's
    /// roster, stamped as a member falling back after the commit founds
    /// it (wall 0, the commit's epoch; see `fall_back`), so that every
    /// member's set holds the same stamps whichever side of the commit it
    /// fell back on, and a change made in lightweight mode since (a real
    /// clock's stamp) still wins. Without it, a member that fell back
    /// just before a removal commit it then drained kept the removed
    /// member as a recipient, and what it sent after delivering the
    /// removal's announcement reached that member (`coordinated-adversity`
    /// seed 82). In a later generation the roster is the membership, and
    /// this one's commits no longer count.
    fn drained_commit(
        &mut self,
        now: Millis,
        epoch: u64,
        committer: MemberId,
        stamps: Option<super::CommitStamps>,
        fx: &mut Effects,
    ) {
        if self.coord.is_some() {
            return;
        }
        let Some(c) = self.gens.draining.as_mut().filter(|c| c.sending) else {
            return;
        };
        let removed_here = !c.mls.is_active();
        let after = c.roster();
        let Some(before) = c.synced.replace(after.clone()) else {
            return;
        };
        let founding = Hlc::founding(epoch);
        // A removal is stamped as its commit says (see `stamps.rs`): by its
        // committer's clock when it made the commit, past the adds the ledger
        // brought in, and naming its committer, so that a member that
        // removed the committer in lightweight mode meanwhile holds the two
        // removals as a mutual one and reports the fork
        // (`coordinated-drained-mutual-removal-reported`). Stamped past this
        // member's clock when it drained the commit instead, the removal
        // beat what was done since: a member's own removal, redone when it
        // fell back, undid its own later re-add
        // (`coordinated-drained-own-removal-undoes-readd`).
        if let Some(s) = &stamps {
            self.clock.observe(self.wall(now), s.made);
        }
        let last = self.clock.last();
        let out_stamp = |m: MemberId| match &stamps {
            Some(s) => s.of(m).max(founding),
            None => founding.max(Hlc {
                logical: last.logical.saturating_add(1),
                node: committer,
                ..last
            }),
        };
        let stamp = founding;
        let (view, in_group) = (self.view(), self.in_group());
        if removed_here {
            self.membership.remove(self.id, out_stamp(self.id));
        } else {
            for m in before.difference(&after) {
                self.membership.remove(*m, out_stamp(*m));
            }
            for m in after.difference(&before) {
                self.membership.add(*m, stamp);
            }
        }
        if (self.view(), self.in_group()) != (view, in_group) {
            fx.record(Event::MembershipChanged {
                view: self.view(),
                in_group: self.in_group(),
                cause: None,
            });
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
                // Sent before this member joined, encrypted and ordered
                // after: readable here, but not addressed here.
                Some(Payload::Group(msg)) if !msg.recipients.contains(&self.id) => {}
                Some(Payload::Group(msg))
                    if msg.id.sender == from && msg.group == self.cfg.group =>
                {
                    let slot = (receipt.generation, receipt.seq);
                    self.accept(now, from, msg, Some(slot), from, fx)
                }
                _ => fx.record(Event::DecryptFailed {
                    env,
                    from,
                    error: "malformed or misattributed plaintext".into(),
                }),
            },
            Ok(Processed::Commit { aad, .. }) => {
                let stamps = super::CommitStamps::decode(&aad);
                self.after_commit(now, receipt, stamps, fx)
            }
            Ok(Processed::Own | Processed::Proposal) => {}
            Err(e) => fx.record(Event::DecryptFailed {
                env,
                from,
                error: e.to_string(),
            }),
        }
    }

    /// A commit has been applied: the roster may have changed, joiners get
    /// their Welcome, own removals and adds are announced, and commits that
    /// lost their epoch are rebuilt.
    fn after_commit(
        &mut self,
        now: Millis,
        receipt: &Receipt,
        stamps: Option<super::CommitStamps>,
        fx: &mut Effects,
    ) {
        if let Some(s) = &stamps {
            self.clock.observe(self.wall(now), s.made);
        }
        let before = self.membership.view();
        let own = receipt.sender == self.id;
        let Some(c) = self.coord.as_mut() else { return };
        // A member this commit removed has no new epoch to show.
        if c.mls.is_active() {
            fx.record(c.epoch_entered());
        }
        self.audit
            .commit_applied((c.server, c.generation), receipt.seq);
        let welcome = if own {
            c.welcomes.remove(&receipt.hash)
        } else {
            None
        };
        c.welcomes.clear();
        let added: Vec<MemberId> = welcome
            .as_ref()
            .map(|w| w.targets.clone())
            .unwrap_or_default();
        for t in &added {
            c.to_add.remove(t);
            c.claimed.remove(t);
        }
        // The first own commit of a forming generation ends the formation:
        // the view before it was the lightweight one, so what it lacks now
        // was never removed, only not brought in yet.
        let formed = own && !c.sending;
        if own {
            c.sending = true;
        }
        if let Some(welcoming) = welcome {
            self.send_invites(now, receipt.seq + 1, welcoming, fx);
        }
        let was_in = self.in_group();
        self.sync_roster(stamps.as_ref(), fx);
        if let Some(c) = (self.coord.as_ref()).filter(|c| was_in && c.sending && !c.mls.is_active())
        {
            let stream = (c.server, c.generation);
            self.leave_evidence(now, stream, &before, fx);
        }
        if let Some(c) = self.coord.as_mut() {
            // Another member's commit may have brought in one this member
            // was adding too (see `enforce_adds`).
            let roster = c.roster();
            c.to_add.retain(|m| !roster.contains(m));
            c.claimed.retain(|m, _| !roster.contains(m));
        }
        let enforced = (self.coord.as_mut())
            .map(|c| {
                let roster = c.roster();
                let (gone, kept): (BTreeMap<_, _>, _) = std::mem::take(&mut c.enforcing)
                    .into_iter()
                    .partition(|(m, _)| !roster.contains(m));
                c.enforcing = kept;
                gone
            })
            .unwrap_or_default();
        let after = self.membership.view();
        // The nominator brings in whom the generation lacks; a commit that
        // takes the nominator out hands that to every member still in, or
        // a lightweight add it had not brought in yet was lost for good
        // (`coordinated-lightweight-add-lost-in-generation`).
        let orphaned = self.coord.as_ref().is_some_and(|c| {
            c.nominator != self.id && before.contains(&c.nominator) && !after.contains(&c.nominator)
        });
        if formed || orphaned {
            self.ledger_enforce(now, fx);
        }
        // A removal committed from a ledger that had not seen a later add
        // of the member (made in lightweight mode, concurrently) lost to
        // that add in the ledgers that had: they bring the member back, or
        // it stayed out of the generation while its own set, and the
        // add's author's intent, held it in
        // (`coordinated-removed-member-misses-later-removal`, seed 245).
        let readded: Vec<MemberId> = (before.difference(&after))
            .filter(|m| self.ledger.as_ref().is_some_and(|l| l.contains(**m)))
            .copied()
            .collect();
        self.enforce_adds(now, &readded, fx);
        // An add committed without announcing it (the view its committer
        // formed the generation from, or one its ledger brought in) may
        // have been on its way when the ledger learnt of that member's
        // removal, or made by a committer that never learnt of it; the
        // removal, made later, is committed now, or the generation undid
        // it (`coordinated-offline-former-undoes-removal`;
        // `coordinated-recommitted-removal-undetected-fork`, seed 217). An
        // announced add, or one made after the removal, was stamped into
        // the ledger (`ledger_added_by_commit`) and is kept.
        let unwanted: Vec<MemberId> = (added.iter().chain(after.difference(&before)))
            .copied()
            .filter(|t| after.contains(t) && self.ledger_removed(*t))
            .collect();
        self.enforce_removals(now, &unwanted, fx);
        if own && !formed {
            let removed: Vec<MemberId> = before.difference(&after).copied().collect();
            if let Some(c) = self.coord.as_mut() {
                c.pending.retain(
                    |_, p| !matches!(p.what, What::Remove { target } if removed.contains(&target)),
                );
            }
            // A removal the ledger brought in was announced by its author.
            for target in removed.into_iter().filter(|t| !enforced.contains_key(t)) {
                self.send_group(now, Some((OpKind::Remove, target)), None, fx);
            }
            for target in added {
                if self
                    .coord
                    .as_mut()
                    .is_some_and(|c| c.announce.remove(&target))
                {
                    self.send_group(now, Some((OpKind::Add, target)), None, fx);
                }
            }
        }
        let rebase = self
            .coord
            .as_mut()
            .map(|c| std::mem::take(&mut c.to_rebase))
            .unwrap_or_default();
        let mut stale = Vec::new();
        if let Some(c) = self.coord.as_mut() {
            let reqs: Vec<u64> = c
                .pending
                .iter()
                .filter(|(_, p)| p.stale)
                .map(|(req, _)| *req)
                .collect();
            stale.extend(
                reqs.iter()
                    .filter_map(|req| c.pending.remove(req))
                    .map(|p| p.what),
            );
        }
        // Messages rejected for the epoch just reached go again first, in
        // their order, ahead of everything queued since (see `resubmit`);
        // lost commits are rebuilt behind them.
        self.resubmit(now, stale, fx);
        for what in rebase {
            match what {
                What::Remove { target } if !after.contains(&target) => {}
                // Rebuilt from the key packages in hand.
                What::Add { .. } => {}
                what => self.submit_what(now, what, fx),
            }
        }
        self.maybe_commit_adds(now, fx);
        self.advance(now, fx);
    }
}
