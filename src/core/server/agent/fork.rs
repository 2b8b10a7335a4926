//! The `fork` mode of the dishonest-server fault: RFC 9750's malicious
//! delivery service, which shows two groups of members two histories.
//!
//! A smart liar does not invent commits (it cannot: they are MLS
//! handshakes signed by members); it waits for two members, one on each
//! side, to commit on the same epoch, which happens whenever two members
//! update at about the same time. An honest server orders the first and
//! rejects the second as stale. This one:
//!
//! 1. orders the first commit `x` (slot S) as usual, but fans it out only
//!    to its sender's side, and holds the other side's copy for up to
//!    [`FORK_WINDOW_MS`]. Whatever else it orders meanwhile goes to
//!    everyone (the other side keeps it behind slot S);
//! 2. if a commit `y` of the other side for the same epoch arrives in that
//!    window, signs `y` into slot S too and sends it to `y`'s side in
//!    place of `x`: the sides now apply different commits for one epoch,
//!    and hold different epoch authenticators from then on. Otherwise `x`
//!    goes to the other side honestly and the server waits for the next
//!    commit.
//!
//! From the fork on, each side's submissions are ordered on its own
//! branch (its own epochs, its own membership) but on one slot counter,
//! and every slot goes to everyone: the other side cannot decrypt it, but
//! gets the same message under the same receipt, so no slot but S ever
//! has two receipts.
//!
//! Slot S alone would still give the fork away: members digest the slots
//! they processed in their audits, a digest over S differs between the
//! sides, and the receipts exchanged then are a fraud proof. So right
//! after the fork the server orders [`PADDING`] filler slots (bytes no one
//! can process, one distinct hash each, so that none looks replayed) to
//! everyone: a member's next audit digests at most the last
//! [`MAX_ENTRIES`] slots it processed, and S falls out of every digest.
//! What still shows the fork is the epoch authenticators the members
//! compare (docs/coordinated.md, "A fork by commits").
//!
//! Only commits that leave the membership as it is (self-updates) are
//! forked: an add or a removal would need Welcomes and removals on one
//! side only, which this simulation does not model.

use super::super::dishonest::{Lie, Mode, Sides};
use super::super::sequencer::{Kind, Receipt, Rejection, Sequencer, hash};
use super::ServerAgent;
use crate::core::event::Event;
use crate::core::ids::{MemberId, Millis};
use crate::core::io::Effects;
use crate::core::member::audit::MAX_ENTRIES;
use crate::core::wire::{Ordered, Submission};
use std::collections::BTreeSet;

/// How long the other side's copy of a first commit is held back, waiting
/// for a commit of that side on the same epoch. Two members updating "at
/// the same time" submit within a round trip of each other, or one queued
/// submission later; well under `ack_timeout`, so that nobody on the held
/// side falls back for want of the epoch meanwhile.
pub const FORK_WINDOW_MS: Millis = 1_000;

/// Filler slots ordered right after the fork: as many as one audit digest
/// covers, so that no digest spans the forked slot.
pub const PADDING: u64 = MAX_ENTRIES as u64;

/// One group's fork at this server, from the first commit held back on.
pub(super) enum Fork {
    /// `x` is ordered and was sent to its sender's side; the other side's
    /// copy waits until `until`. `branch` is the order as it was before
    /// `x`, which the other side follows if the fork happens.
    Holding {
        x: Ordered,
        branch: Sequencer,
        sides: Sides,
        until: Millis,
    },
    /// The sides follow different branches: side b `branch` when
    /// `branch_is_b`, else side a; the other side the main sequencer.
    Forked {
        branch: Sequencer,
        sides: Sides,
        branch_is_b: bool,
    },
}

impl Fork {
    pub(super) fn wake(&self) -> Option<Millis> {
        match self {
            Fork::Holding { until, .. } => Some(until + 1),
            Fork::Forked { .. } => None,
        }
    }

    /// Members the branch counts that the main order may not: every slot
    /// goes to both sides, so that neither waits on a gap.
    pub(super) fn branch_members(&self) -> BTreeSet<MemberId> {
        match self {
            Fork::Forked { branch, .. } => branch.members().clone(),
            Fork::Holding { .. } => BTreeSet::new(),
        }
    }
}

/// Whether a commit leaves the membership as it is.
fn keeps_members(members_after: Option<&[MemberId]>, before: &BTreeSet<MemberId>) -> bool {
    members_after.is_none_or(|after| after.iter().copied().collect::<BTreeSet<_>>() == *before)
}

/// Orders `sub` on `seq`, as an honest server orders on its one order.
fn submit_to(
    seq: &mut Sequencer,
    sender: MemberId,
    sub: &Submission,
) -> Result<Receipt, Rejection> {
    seq.submit(
        sub.generation,
        sender,
        sub.kind,
        sub.epoch,
        &sub.payload,
        sub.members_after.as_deref(),
    )
}

impl ServerAgent {
    /// A submission the fork mode handles itself: a first commit to hold
    /// back, the commit that forks, or a submission of the side that
    /// follows the branch. `None` leaves it to the honest path.
    pub(super) fn fork_submit(
        &mut self,
        now: Millis,
        sender: MemberId,
        sub: &Submission,
        fx: &mut Effects,
    ) -> Option<Result<Receipt, Rejection>> {
        self.release_fork(now, fx);
        let lying = self.liar.fork_sides().cloned();
        let served = self.groups.get_mut(&sub.group)?;
        let before = served.sequencer.members().clone();
        let commit =
            sub.kind == Kind::Commit && keeps_members(sub.members_after.as_deref(), &before);
        match served.fork.take() {
            None => {
                let sides = lying?;
                let first = commit && sub.epoch == served.sequencer.epoch();
                if !first || !before.contains(&sender) {
                    return None;
                }
                Some(self.hold_first(now, sender, sub, sides, fx))
            }
            Some(Fork::Holding {
                x, branch, sides, ..
            }) if commit
                && lying.is_some()
                && sides.in_b(sender) != sides.in_b(x.receipt.sender)
                && sub.epoch == branch.epoch() =>
            {
                Some(self.fork_on(now, sender, sub, (x, branch, sides), &before, fx))
            }
            Some(Fork::Forked {
                branch,
                sides,
                branch_is_b,
            }) if sides.in_b(sender) == branch_is_b => {
                Some(self.on_branch(now, sender, sub, (branch, sides, branch_is_b), fx))
            }
            other => {
                served.fork = other;
                None
            }
        }
    }

    /// The first commit on an epoch: ordered, sent to its sender's side
    /// only, and held for the other side.
    fn hold_first(
        &mut self,
        now: Millis,
        sender: MemberId,
        sub: &Submission,
        sides: Sides,
        fx: &mut Effects,
    ) -> Result<Receipt, Rejection> {
        let Some(served) = self.groups.get_mut(&sub.group) else {
            return Err(Rejection::NotServed(sub.group));
        };
        let branch = served.sequencer.clone();
        let x = self.order(sender, sub, fx)?;
        let side = sides.in_b(sender);
        for m in branch.members().iter().filter(|m| sides.in_b(**m) == side) {
            self.send_ordered(now, *m, &x, fx);
        }
        let receipt = x.receipt.clone();
        if let Some(served) = self.groups.get_mut(&sub.group) {
            served.fork = Some(Fork::Holding {
                x,
                branch,
                sides,
                until: now + FORK_WINDOW_MS,
            });
        }
        Ok(receipt)
    }

    /// The other side's commit on the same epoch: signed into the held
    /// commit's slot, sent to its side in its place, and the forked slot
    /// buried under filler.
    fn fork_on(
        &mut self,
        now: Millis,
        sender: MemberId,
        sub: &Submission,
        (x, mut branch, sides): (Ordered, Sequencer, Sides),
        before: &BTreeSet<MemberId>,
        fx: &mut Effects,
    ) -> Result<Receipt, Rejection> {
        let slot = branch.next_seq();
        let receipt = submit_to(&mut branch, sender, sub)?;
        let y = self.record_ordered(sub, receipt.clone(), before.clone(), fx);
        let branch_is_b = sides.in_b(sender);
        let (mine, theirs): (Vec<MemberId>, Vec<MemberId>) =
            before.iter().partition(|m| sides.in_b(**m) == branch_is_b);
        for m in &mine {
            self.send_ordered(now, *m, &y, fx);
        }
        self.pad(now, sub.group, x.receipt.sender, before, fx);
        if let Some(served) = self.groups.get_mut(&sub.group) {
            branch.skip_to(served.sequencer.next_seq());
            served.fork = Some(Fork::Forked {
                branch,
                sides,
                branch_is_b,
            });
        }
        for to in [theirs, mine] {
            let lie = Lie {
                mode: Mode::Fork,
                to,
                seq: slot,
            };
            self.lied(sub.group, lie, fx);
        }
        Ok(receipt)
    }

    /// A submission of the side that follows the branch: ordered on the
    /// branch, in the next slot of the one counter, and sent to everyone.
    fn on_branch(
        &mut self,
        now: Millis,
        sender: MemberId,
        sub: &Submission,
        (mut branch, sides, branch_is_b): (Sequencer, Sides, bool),
        fx: &mut Effects,
    ) -> Result<Receipt, Rejection> {
        let Some(served) = self.groups.get_mut(&sub.group) else {
            return Err(Rejection::NotServed(sub.group));
        };
        branch.skip_to(served.sequencer.next_seq());
        let before = branch.members().clone();
        let result = submit_to(&mut branch, sender, sub);
        served.sequencer.skip_to(branch.next_seq());
        for (m, addresses) in &sub.joiners {
            if branch.members().contains(m) {
                served.mailboxes.insert(*m, addresses.clone());
            }
        }
        let mut recipients: BTreeSet<MemberId> = served.sequencer.members().clone();
        recipients.extend(before.iter().chain(branch.members()));
        served.fork = Some(Fork::Forked {
            branch,
            sides,
            branch_is_b,
        });
        let item = self.record_ordered(sub, result?, before, fx);
        for m in &recipients {
            self.send_ordered(now, *m, &item, fx);
        }
        Ok(item.receipt)
    }

    /// Orders `sub` on the main order (as the honest path would) and
    /// records it; the caller decides who gets it.
    fn order(
        &mut self,
        sender: MemberId,
        sub: &Submission,
        fx: &mut Effects,
    ) -> Result<Ordered, Rejection> {
        let Some(served) = self.groups.get_mut(&sub.group) else {
            return Err(Rejection::NotServed(sub.group));
        };
        let before = served.sequencer.members().clone();
        let receipt = submit_to(&mut served.sequencer, sender, sub)?;
        Ok(self.record_ordered(sub, receipt, before, fx))
    }

    /// The bookkeeping of one ordered message: the `ordered` event, the
    /// log, the receipt kept for a retried submission.
    fn record_ordered(
        &mut self,
        sub: &Submission,
        receipt: Receipt,
        before: BTreeSet<MemberId>,
        fx: &mut Effects,
    ) -> Ordered {
        self.stats.ordered += 1;
        fx.record(Event::Ordered {
            group: sub.group,
            generation: receipt.generation,
            seq: receipt.seq,
            epoch: receipt.epoch,
            sender: receipt.sender,
            commit: sub.kind == Kind::Commit,
            members: before.into_iter().collect(),
        });
        let item = Ordered {
            receipt,
            kind: sub.kind,
            payload: sub.payload.clone(),
        };
        if let Some(served) = self.groups.get_mut(&sub.group) {
            served
                .by_hash
                .insert(item.receipt.hash, item.receipt.clone());
            served.log.push(item.clone());
        }
        item
    }

    /// [`PADDING`] filler slots to everyone, attributed to `sender` (no
    /// member checks that the slots under its name are its own).
    fn pad(
        &mut self,
        now: Millis,
        group: u64,
        sender: MemberId,
        to: &BTreeSet<MemberId>,
        fx: &mut Effects,
    ) {
        let Some(served) = self.groups.get_mut(&group) else {
            return;
        };
        let epoch = served.sequencer.epoch();
        let items: Vec<Ordered> = (0..PADDING)
            .map(|_| {
                let seq = served.sequencer.next_seq();
                let payload = [b"commsim-fork-padding".as_slice(), &seq.to_be_bytes()].concat();
                Ordered {
                    receipt: served.sequencer.sign(sender, epoch, hash(&payload)),
                    kind: Kind::Message,
                    payload,
                }
            })
            .collect();
        for item in &items {
            for m in to {
                self.send_ordered(now, *m, item, fx);
            }
        }
    }

    /// The held copy of a first commit goes to the other side once no
    /// fork can come of it: its window has passed, or the fault ended.
    pub(super) fn release_fork(&mut self, now: Millis, fx: &mut Effects) {
        let lying = self.liar.fork_sides().is_some();
        let due: Vec<u64> = self
            .groups
            .iter()
            .filter(|(_, g)| {
                matches!(&g.fork, Some(Fork::Holding { until, .. }) if now > *until || !lying)
            })
            .map(|(group, _)| *group)
            .collect();
        for group in due {
            let Some(served) = self.groups.get_mut(&group) else {
                continue;
            };
            let Some(Fork::Holding {
                x, sides, branch, ..
            }) = served.fork.take()
            else {
                continue;
            };
            let side = sides.in_b(x.receipt.sender);
            let others: BTreeSet<MemberId> = (branch.members().iter())
                .chain(served.sequencer.members())
                .copied()
                .filter(|m| sides.in_b(*m) != side)
                .collect();
            for m in others {
                self.send_ordered(now, m, &x, fx);
            }
        }
    }
}
