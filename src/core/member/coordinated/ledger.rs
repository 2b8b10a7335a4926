//! The LWW set a member keeps beside its MLS roster while coordinated.
//!
//! In a generation the MLS roster is the membership, but the roster only
//! knows what its commits did. A removal made in lightweight mode that the
//! generation never heard of (made across a partition while the other side
//! upgraded, or took over, with the removed member's key package) would be
//! undone by it: the removed member is in the roster, reads everything
//! ordered there, and every member that joins or falls back takes the
//! roster for the membership (issue defect 2(c)). The rule kept here: a
//! removal that any member applied is never undone by a fallback, takeover
//! or upgrade, only by a causally later add.
//!
//! So a member keeps the LWW set it held when it entered the generation
//! (its *ledger*), merges into it every LWW set a lightweight message
//! brings and every add or removal a coordinated announcement makes
//! (stamped by its author's clock, so causally later than all it had
//! seen), hands it to each member it invites, and falls back to it. When
//! the ledger learns of a removal of a member the roster still holds, the
//! member commits that removal; several may, and the losers' commits are
//! dropped on rebase once the winner's is applied. The adds that form a
//! generation are not stamped: they repeat the nominator's view, and are
//! no later than any removal it had not heard of.

use super::{CommitStamps, What};
use crate::core::clock::Hlc;
use crate::core::event::OpKind;
use crate::core::ids::{MemberId, Millis};
use crate::core::io::Effects;
use crate::core::member::Member;
use crate::core::member::membership::{LwwSet, Variant};

impl Member {
    /// What this member knows of the LWW set: its ledger and, while its
    /// membership is still the lightweight one, that set too.
    pub(in crate::core::member) fn ledger_now(&self) -> Option<LwwSet> {
        let mut out = self.ledger.clone();
        if let Some(set) = self.membership.carried() {
            out.get_or_insert_with(LwwSet::default).merge(&set);
        }
        out
    }

    /// Keeps the lightweight set in the ledger before the roster replaces
    /// it as the membership.
    pub(super) fn ledger_keep_lightweight(&mut self) {
        if let Some(set) = self.membership.carried() {
            self.ledger.get_or_insert_with(LwwSet::default).merge(&set);
        }
    }

    /// Members a commit took out of the roster, at `epoch`: out of the
    /// ledger too, at the commit's stamp for them (`stamps.rs`): the
    /// committer's clock when it made the commit, which is past every add
    /// of them it had seen (a fallback's epoch stamp is not, and the
    /// ledger's lightweight adds would put them back), or the stamp of the
    /// removal it enforces; and no earlier than the founding stamp of a
    /// member that falls back from before the commit. Not by this member's
    /// clock when it processed the commit: a member that processed its
    /// removal late stamped it past its re-add, made in lightweight mode
    /// after the committer fell back, and stayed out
    /// (`coordinated-late-processed-removal-beats-readd`). A commit without
    /// stamps (none is unstamped today) falls back to this member's clock.
    pub(in crate::core::member) fn ledger_removed_by_commit(
        &mut self,
        gone: &[MemberId],
        epoch: u64,
        stamps: Option<&CommitStamps>,
    ) {
        if gone.is_empty() || self.cfg.variant == Variant::RecipientList {
            return;
        }
        let last = self.clock.last();
        // Kept even by a member with no ledger yet: one made later from a
        // stale lightweight set would count these in, and bring them back.
        let ledger = self.ledger.get_or_insert_with(LwwSet::default);
        for m in gone {
            let stamp = stamps.map_or(last, |s| s.of(*m));
            ledger.remove(*m, stamp.max(Hlc::founding(epoch)));
        }
    }

    /// Members a commit brought into the roster: into the ledger too, at
    /// the commit's stamp for them, so that a member whose ledger counts
    /// one out learns whether the add came after the removal (and keeps
    /// it) or carried out an older add (and takes it out again: see
    /// `after_commit`).
    pub(in crate::core::member) fn ledger_added_by_commit(
        &mut self,
        came: &[MemberId],
        stamps: Option<&CommitStamps>,
    ) {
        let (Some(stamps), false) = (stamps, self.cfg.variant == Variant::RecipientList) else {
            return;
        };
        if came.is_empty() {
            return;
        }
        let ledger = self.ledger.get_or_insert_with(LwwSet::default);
        for m in came {
            ledger.add(*m, stamps.of(*m));
        }
    }

    /// The stamps of a commit this member is about to make: its clock for
    /// what the application asked, and for what it carries out of its
    /// ledger or view, the stamp it holds for that change (see `stamps.rs`).
    /// An add with no stamp known (a member never heard of) takes the
    /// lowest, so that any removal of it anyone holds wins.
    pub(super) fn commit_stamps(&mut self, now: Millis, what: &What) -> CommitStamps {
        let hlc = self.clock.tick(self.wall(now));
        let made = self.op_stamp(now, hlc);
        let mut kept = std::collections::BTreeMap::new();
        let Some(c) = self.coord.as_ref() else {
            return CommitStamps { made, kept };
        };
        match what {
            What::Remove { target } => {
                if let Some(stamp) = c.enforcing.get(target) {
                    kept.insert(*target, *stamp);
                }
            }
            What::Add { targets } => {
                let view = self.membership.carried();
                for t in targets.iter().filter(|t| !c.announce.contains(t)) {
                    let known = [self.ledger.as_ref(), view.as_ref()]
                        .into_iter()
                        .flatten()
                        .filter_map(|l| l.added(*t))
                        .max();
                    kept.insert(*t, known.unwrap_or(Hlc::founding(0)));
                }
            }
            What::Message { .. } | What::Update => {}
        }
        CommitStamps { made, kept }
    }

    /// Brings into the roster every change the ledger holds and the
    /// roster lacks, learnt while nothing could be committed.
    ///
    /// The nominator's first commit formed the generation from its view:
    /// while it formed, its ledger took changes in, and a later message
    /// carrying the same set brings no news: an add made in lightweight
    /// mode by a member that had not joined yet was otherwise lost
    /// (`coordinated-large` seed 2: the added member stayed lightweight,
    /// the others' views lacked it). A member back in the generation it
    /// fell back from likewise learnt others' changes in lightweight mode:
    /// taking the roster for the membership again undid them
    /// (`coordinated-resumed-undoes-lightweight-removal`).
    pub(super) fn ledger_enforce(&mut self, now: Millis, fx: &mut Effects) {
        let known = |keep: fn(&LwwSet, MemberId) -> bool| -> Vec<MemberId> {
            (self.ledger.iter())
                .flat_map(|l| l.members_known().into_iter().filter(|m| keep(l, *m)))
                .collect()
        };
        let (removed, added) = (known(LwwSet::removed), known(LwwSet::contains));
        self.enforce_removals(now, &removed, fx);
        self.enforce_adds(now, &added, fx);
    }

    /// A group message delivered while coordinated: its LWW set (sent in
    /// lightweight mode) or its announced change (sent in this mode) goes
    /// into the ledger, and members it newly counts out are removed.
    pub(in crate::core::member) fn ledger_learn(
        &mut self,
        now: Millis,
        carried: Option<&LwwSet>,
        op: Option<(OpKind, MemberId)>,
        hlc: Hlc,
        fx: &mut Effects,
    ) {
        if self.coord.is_none() || self.cfg.variant == Variant::RecipientList {
            return;
        }
        let ledger = self.ledger.get_or_insert_with(LwwSet::default);
        let before = ledger.clone();
        match (carried, op) {
            (Some(set), _) => {
                ledger.merge(set);
            }
            (None, Some((OpKind::Add, target))) => ledger.add(target, hlc),
            (None, Some((OpKind::Remove, target))) => ledger.remove(target, hlc),
            (None, None) => return,
        }
        let newly: Vec<MemberId> = ledger
            .members_known()
            .into_iter()
            .filter(|m| ledger.removed(*m) && !before.removed(*m))
            .collect();
        let back: Vec<MemberId> = ledger
            .members_known()
            .into_iter()
            .filter(|m| ledger.contains(*m) && !before.contains(*m))
            .collect();
        self.enforce_removals(now, &newly, fx);
        self.enforce_adds(now, &back, fx);
    }

    /// Joined a generation with `invited`, the inviter's ledger: the ledger
    /// becomes both, and what only this member knew of is brought in.
    pub(in crate::core::member) fn ledger_join(
        &mut self,
        now: Millis,
        own: Option<LwwSet>,
        invited: Option<LwwSet>,
        fx: &mut Effects,
    ) {
        let Some(mut ledger) = own.clone().or_else(|| invited.clone()) else {
            return;
        };
        if let Some(i) = &invited {
            ledger.merge(i);
        }
        let news: Vec<MemberId> = ledger
            .members_known()
            .into_iter()
            .filter(|m| ledger.removed(*m) && !invited.as_ref().is_some_and(|i| i.removed(*m)))
            .collect();
        let adds: Vec<MemberId> = ledger
            .members_known()
            .into_iter()
            .filter(|m| ledger.contains(*m) && !invited.as_ref().is_some_and(|i| i.contains(*m)))
            .collect();
        self.ledger = Some(ledger);
        self.enforce_removals(now, &news, fx);
        self.enforce_adds(now, &adds, fx);
    }

    /// The ledger handed to joiners: this member's, with an add of each
    /// joiner the application asked for, stamped now (its announcement
    /// follows, after the Welcome), so that a member added back after its
    /// removal may join.
    pub(in crate::core::member) fn invite_ledger(
        &mut self,
        now: Millis,
        targets: &[MemberId],
    ) -> Option<LwwSet> {
        let mut ledger = self.ledger_now()?;
        let announced: Vec<MemberId> = self
            .coord
            .as_ref()
            .map(|c| {
                targets
                    .iter()
                    .filter(|t| c.announce.contains(t))
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        if !announced.is_empty() {
            let stamp = self.clock.tick(self.wall(now));
            for t in announced {
                ledger.add(t, stamp);
                if let Some(own) = self.ledger.as_mut() {
                    own.add(t, stamp);
                }
            }
        }
        Some(ledger)
    }

    /// A change this member announces while coordinated goes into its
    /// ledger as it goes into everyone else's.
    pub(in crate::core::member) fn ledger_own_op(
        &mut self,
        op: Option<(OpKind, MemberId)>,
        hlc: Hlc,
    ) {
        let (Some(ledger), true) = (self.ledger.as_mut(), self.coord.is_some()) else {
            return;
        };
        match op {
            Some((OpKind::Add, t)) => ledger.add(t, hlc),
            Some((OpKind::Remove, t)) => ledger.remove(t, hlc),
            None => {}
        }
    }

    /// Whether, coordinated, this member's ledger counts `m` out (the
    /// roster may still hold it).
    pub(in crate::core::member) fn ledger_removed(&self, m: MemberId) -> bool {
        self.coord.is_some() && self.ledger.as_ref().is_some_and(|l| l.removed(m))
    }

    /// Whether this member, joining with `invited`, holds its own removal
    /// with no later add of it in either set.
    pub(in crate::core::member) fn ledger_says_removed(&self, invited: Option<&LwwSet>) -> bool {
        let Some(mut known) = self.ledger_now() else {
            return false;
        };
        if let Some(i) = invited {
            known.merge(i);
        }
        known.removed(self.id)
    }

    /// Brings in each of `targets` the roster lacks: an add the generation
    /// never heard of (made in lightweight mode while this member or its
    /// inviter was apart) would otherwise be undone by the roster, the
    /// added member left reading a lightweight group nobody else is in
    /// (`coordinated-adversity` 343). Its key package is claimed and
    /// committed as for an application add, but the add is not announced
    /// again: it was, in lightweight mode. Several members may commit it;
    /// the losers' adds are dropped once the winner's is applied.
    ///
    /// A generation still forming takes them in too: its formation is an
    /// add of everyone it brings in, and a member the ledger counted out
    /// and then back in while it formed was left out of it for good, the
    /// nominator alone in a generation nobody joined once every other
    /// member it was to bring in had been removed
    /// (`coordinated-forming-generation-drops-readded-member`).
    pub(super) fn enforce_adds(&mut self, now: Millis, targets: &[MemberId], fx: &mut Effects) {
        let me = self.id;
        let Some(roster) = (self.coord.as_ref())
            .filter(|c| c.mls.is_active())
            .map(|c| c.roster())
        else {
            return;
        };
        let due: Vec<MemberId> = targets
            .iter()
            .copied()
            .filter(|t| *t != me && !roster.contains(t))
            .collect();
        let Some(c) = self.coord.as_mut().filter(|_| !due.is_empty()) else {
            return;
        };
        c.to_add.extend(due);
        c.batch_until = now;
        c.next_claim_at = now;
        self.reclaim(now, fx);
    }

    /// Commits the removal of each of `targets` the roster still holds,
    /// unless one is already on its way.
    ///
    /// The commit carries the stamp of the removal it enforces, and is not
    /// announced as a removal of this member's own: stamped afresh, it beat
    /// an add of the target made concurrently in lightweight mode, which
    /// the removal's author had not seen either, and the added member,
    /// already out, believed itself in while the generation held it out
    /// (`coordinated-removed-member-misses-later-removal`); announced, it
    /// showed a removal by this member, and one the target had made of it
    /// read as a fork that neither side detected
    /// (`coordinated-recommitted-removal-undetected-fork`).
    pub(super) fn enforce_removals(&mut self, now: Millis, targets: &[MemberId], fx: &mut Effects) {
        let me = self.id;
        if let Some(c) = self.coord.as_mut() {
            // Not to be brought in by a later add of the formation either.
            for t in targets {
                c.to_add.remove(t);
                c.claimed.remove(t);
            }
        }
        let Some(c) = self.active_coord() else {
            return;
        };
        let roster = c.roster();
        let under_way = |t: MemberId| {
            let is = |w: &What| matches!(w, What::Remove { target } if *target == t);
            c.queue.iter().any(is)
                || c.pending.values().any(|p| is(&p.what))
                || c.to_rebase.iter().any(is)
        };
        let due: Vec<MemberId> = targets
            .iter()
            .copied()
            .filter(|t| *t != me && roster.contains(t) && !under_way(*t))
            .collect();
        for target in due {
            let stamp = (self.ledger.as_ref()).and_then(|l| l.removal(target));
            if let (Some(stamp), Some(c)) = (stamp, self.coord.as_mut()) {
                c.enforcing.insert(target, stamp);
            }
            self.submit_what(now, What::Remove { target }, fx);
        }
    }
}
