//! Post-removal secrecy: a removed member cannot read what the group says
//! after its removal.
//!
//! This is not assumed from the design: every ciphertext that went on the
//! wire after a removal is handed to a copy of the removed member's real
//! key state, which tries to open it. In a lightweight group that is its
//! Olm sessions and every envelope of a later message; in a coordinated
//! group, its MLS state from just before it applied the removing commit
//! and every message the server ordered after that commit. The trace alone
//! holds no key material, so on a saved trace the answer is Unknown.

use super::Figure;
use super::history::{At, Delivery, History, Membership, Op, Servers, Slot};
use super::{Evidence, Status, Verdict, measured};
use crate::core::event::OpKind;
use crate::core::ids::{EnvelopeId, MemberId, MessageId, ServerId};
use crate::trace::CheckId;
use std::collections::{BTreeMap, BTreeSet};

/// Access to what the run put on the wire and to members' key state.
pub trait Oracle {
    /// Hands `member`'s key state, as it was when `removal` was made, the
    /// envelopes `envs` (in that order, as if it had observed them on the
    /// wire) and says which it could decrypt. `None` when the oracle has no
    /// such state; envelopes it never saw on the wire are left out.
    fn readable(
        &self,
        member: MemberId,
        removal: MessageId,
        envs: &[EnvelopeId],
    ) -> Option<(BTreeSet<EnvelopeId>, usize)>;

    /// The same for a coordinated group: hands `member`'s MLS state from
    /// just before it applied the commit built on `epoch` in `stream`
    /// (generation, server) the messages ordered at `seqs` in that stream,
    /// in order, and says which it could process. `None` when the member
    /// never applied that commit (so kept no such state).
    fn mls_readable(
        &self,
        member: MemberId,
        stream: (u32, ServerId),
        epoch: u64,
        seqs: &[u64],
    ) -> Option<(BTreeSet<u64>, usize)>;
}

/// A member that a commit took out of a coordinated group, read off the
/// server's own record: counted as a member when the commit was ordered,
/// no longer when the next message was.
#[derive(Clone, Debug, PartialEq)]
struct MlsRemoval {
    member: MemberId,
    commit: Slot,
    epoch: u64,
}

fn mls_removals(h: &Parts<'_>) -> Vec<MlsRemoval> {
    let mut out = Vec::new();
    for (slot, epoch) in &h.servers.commits {
        let next = Slot {
            seq: slot.seq + 1,
            ..*slot
        };
        let (Some(before), Some((_, after))) = (
            h.servers.ordered_for.get(slot),
            h.servers
                .ordered_for
                .range(next..)
                .next()
                .filter(|(s, _)| s.stream() == slot.stream()),
        ) else {
            continue;
        };
        out.extend(before.difference(after).map(|m| MlsRemoval {
            member: *m,
            commit: *slot,
            epoch: *epoch,
        }));
    }
    out
}

/// What was handed to removed members' copies, and what they opened.
#[derive(Default)]
struct Tally {
    tried: u64,
    missing: u64,
    mls_tried: u64,
    mls_missing: u64,
    /// Opened by the removed member's keys, but written for it by an
    /// author that had not applied the removal.
    mls_addressed: u64,
    evidence: Vec<Evidence>,
}

pub const NAME: CheckId = CheckId::PostRemovalSecrecy;

/// Messages that must be secret from `removed`: those that causally follow
/// its removal and do not causally follow a re-add that is not before it.
fn after_removal(
    h: &Parts<'_>,
    pasts: &BTreeMap<MessageId, BTreeSet<MessageId>>,
    removal: MessageId,
    removed: MemberId,
) -> Vec<MessageId> {
    let readd_ops: Vec<&At<Op>> = (h.membership.ops.iter())
        .filter(|o| o.what.op == OpKind::Add && o.what.target == removed)
        // A re-add after the removal, or concurrent with it (either
        // outcome honours someone's intent), lets the member back in.
        .filter(|a| {
            a.what.msg != removal && !pasts.get(&removal).is_some_and(|p| p.contains(&a.what.msg))
        })
        .collect();
    let readds: Vec<MessageId> = readd_ops.iter().map(|o| o.what.msg).collect();
    let first_readd = readd_ops.iter().map(|o| o.idx).min();
    // Another announcement of the same removal (a member that learnt of
    // it later bringing it into a generation that missed it) is addressed
    // to the removed member as the first one is, so that it learns it.
    let removals: BTreeSet<MessageId> = h
        .membership
        .ops
        .iter()
        .filter(|o| o.what.op == OpKind::Remove && o.what.target == removed)
        .map(|o| o.what.msg)
        .collect();
    pasts
        .iter()
        .filter(|(m, past)| !removals.contains(m) && past.contains(&removal))
        .filter(|(m, past)| !readds.iter().any(|a| a == *m || past.contains(a)))
        .filter(|(m, _)| !first_readd.is_some_and(|at| regained(h, removal, removed, **m, at)))
        .map(|(m, _)| *m)
        .collect()
}

/// Whether `msg`'s author, after it had learnt of `removal`, took
/// `member` back into its view, a re-add of it having been made before
/// `msg` was (trace position `readd_at`), and addressed `msg` to it: it
/// learnt of the re-add by a commit, which needs no announcement and so
/// shows in no message's past (`coordinated-removed-member-misses-later-removal`,
/// seed 262: a member that fell back right after processing the re-add's
/// commit told everyone, the re-added member included, before the
/// announcement reached it). The add's own event comes after the commit
/// is ordered, so the view may regain the member first. An author whose
/// view never regained the member, or that wrote before any re-add was
/// made, is still judged.
fn regained(
    h: &Parts<'_>,
    removal: MessageId,
    member: MemberId,
    msg: MessageId,
    readd_at: usize,
) -> bool {
    let author = msg.sender;
    let Some(sent) = h.delivery.sent.get(&msg) else {
        return false;
    };
    if !sent.what.recipients.contains(&member) {
        return false;
    }
    let learnt = if removal.sender == author {
        h.delivery.sent.get(&removal).map(|s| s.idx)
    } else {
        (h.delivery.deliveries.get(&author).into_iter().flatten())
            .find(|d| d.what == removal)
            .map(|d| d.idx)
    };
    let Some(learnt) = learnt else {
        return false;
    };
    if readd_at > sent.idx {
        return false;
    }
    (h.membership.changes.iter()).any(|c| {
        c.host == author
            && c.idx > learnt
            && c.idx < sent.idx
            && c.what.in_group
            && c.what.view.contains(&member)
    })
}

/// What a run observed answers the oracle's questions by replaying it to
/// the removed member's kept state.
impl Oracle for crate::observations::Observations {
    fn readable(
        &self,
        member: MemberId,
        removal: MessageId,
        envs: &[EnvelopeId],
    ) -> Option<(BTreeSet<EnvelopeId>, usize)> {
        self.olm_readable(member, removal, envs)
    }

    fn mls_readable(
        &self,
        member: MemberId,
        stream: (u32, ServerId),
        epoch: u64,
        seqs: &[u64],
    ) -> Option<(BTreeSet<u64>, usize)> {
        crate::observations::Observations::mls_readable(self, member, stream, epoch, seqs)
    }
}

/// The parts of the history this checker reads, and no others.
struct Parts<'a> {
    delivery: &'a Delivery,
    membership: &'a Membership,
    servers: &'a Servers,
    /// The founding view, which founders hold before any change.
    founders: &'a [MemberId],
}

impl<'a> Parts<'a> {
    fn of(h: &'a History) -> Parts<'a> {
        Parts {
            delivery: &h.delivery,
            membership: &h.membership,
            servers: &h.servers,
            founders: h.run.start.as_ref().map_or(&[], |s| &s.founders),
        }
    }
}

pub fn check(h: &History, oracle: Option<&dyn Oracle>) -> Verdict {
    judge(&Parts::of(h), oracle)
}

fn judge(h: &Parts<'_>, oracle: Option<&dyn Oracle>) -> Verdict {
    let removals: Vec<(MessageId, MemberId)> = h
        .membership
        .ops
        .iter()
        .filter(|o| o.what.op == OpKind::Remove)
        .map(|o| (o.what.msg, o.what.target))
        .collect();
    let mls = mls_removals(h);
    if removals.is_empty() && mls.is_empty() {
        return Verdict::new(
            NAME,
            Status::Pass,
            "no member was removed".into(),
            Vec::new(),
            measured([(Figure::Removals, 0), (Figure::MlsRemovals, 0)]),
        );
    }
    let shown = shown_after_removal(h, &removals, &mls);
    let Some(oracle) = oracle else {
        let n = shown.len() as u64;
        let (status, summary) = if n > 0 {
            (
                Status::Fail,
                format!("removed members were shown {n} messages sent after their removal"),
            )
        } else {
            (
                Status::Unknown,
                "needs the removed members' key state, which a trace never holds: re-run the scenario"
                    .into(),
            )
        };
        return Verdict::new(
            NAME,
            status,
            summary,
            shown,
            measured([
                (Figure::Removals, removals.len() as u64),
                (Figure::MlsRemovals, mls.len() as u64),
                (Figure::ShownAfterRemoval, n),
            ]),
        );
    };
    let mut t = Tally::default();
    let shown_n = shown.len() as u64;
    t.evidence.extend(shown);
    try_olm(h, oracle, &removals, &mut t);
    try_mls(h, oracle, &mls, &mut t);
    let leaks = t.evidence.len() as u64;
    let tried = t.tried + t.mls_tried;
    let m = measured([
        (Figure::Removals, removals.len() as u64),
        (Figure::MlsRemovals, mls.len() as u64),
        (Figure::CiphertextsTried, tried),
        (Figure::CiphertextsNotOnWire, t.missing),
        (Figure::MlsTried, t.mls_tried),
        (Figure::MlsNotTried, t.mls_missing),
        (Figure::MlsAddressed, t.mls_addressed),
        (Figure::Readable, leaks - shown_n),
        (Figure::ShownAfterRemoval, shown_n),
    ]);
    let (status, summary) = if leaks > 0 {
        (
            Status::Fail,
            format!(
                "{leaks} messages or ciphertexts sent after a removal reached the removed member \
                 ({shown_n} shown to it, {} opened by its keys)",
                leaks - shown_n
            ),
        )
    } else if tried == 0 {
        (
            Status::Unknown,
            format!(
                "no ciphertext that follows a removal ({} announced, {} by MLS commit) could be tried (none on the wire, or no removed member's state kept)",
                removals.len(),
                mls.len()
            ),
        )
    } else {
        (
            Status::Pass,
            if mls.is_empty() {
                format!(
                    "none of {tried} ciphertexts sent after {} removals opens with the removed member's keys",
                    removals.len()
                )
            } else {
                format!(
                    "none of {tried} ciphertexts sent after a removal ({} announced, {} by MLS commit) opens with the removed member's keys ({} pairwise Olm, {} MLS)",
                    removals.len(),
                    mls.len(),
                    t.tried,
                    t.mls_tried
                )
            },
        )
    };
    Verdict::new(NAME, status, summary, t.evidence, m)
}

/// What the trace itself shows: a removed member's application was shown
/// a message that follows its removal (causally, after a lightweight
/// removal not undone by a later add; or ordered after the commit that
/// removed it, when the server no longer counted it). Whatever channel
/// carried it, a fallback or an upgrade that put the member back, the
/// member read it.
fn shown_after_removal(
    h: &Parts<'_>,
    removals: &[(MessageId, MemberId)],
    mls: &[MlsRemoval],
) -> Vec<Evidence> {
    let mut out = Vec::new();
    if !removals.is_empty() {
        let pasts: BTreeMap<MessageId, BTreeSet<MessageId>> = h.delivery.pasts();
        for (removal, removed) in removals {
            let later: BTreeSet<MessageId> = after_removal(h, &pasts, *removal, *removed)
                .into_iter()
                .collect();
            for d in h.delivery.deliveries.get(removed).into_iter().flatten() {
                if later.contains(&d.what) && !readded_by_commit(h, *removed, d.what) {
                    out.push(
                        Evidence::note(format!(
                            "{removed}, removed in {removal}, was shown {} at {} ms, which follows its removal",
                            d.what, d.t
                        ))
                        .members([*removed])
                        .messages([*removal, d.what])
                        .at(d.t),
                    );
                }
            }
        }
    }
    for r in mls {
        for d in h.delivery.deliveries.get(&r.member).into_iter().flatten() {
            let Some(slot) = h.servers.slots.get(&d.what) else {
                continue;
            };
            let counted = h
                .servers
                .ordered_for
                .get(slot)
                .is_some_and(|m| m.contains(&r.member));
            // Its author addressed it to the member, not having applied
            // the commit yet (a message in flight when the commit was
            // ordered, or the announcement of the removal itself): that
            // is the author's view, not a leak. What causally follows an
            // announced removal is judged above.
            let addressed = addressed_to(h, d.what, r.member);
            if slot.stream() == r.commit.stream()
                && slot.seq > r.commit.seq
                && !counted
                && !addressed
            {
                out.push(
                    Evidence::note(format!(
                        "{}, removed by the commit at seq {} of generation {}, was shown {} (seq {}) at {} ms",
                        r.member, r.commit.seq, r.commit.generation, d.what, slot.seq, d.t
                    ))
                    .members([r.member])
                    .messages([d.what])
                    .at(d.t),
                );
            }
        }
    }
    out
}

/// Whether `msg`'s author sent it to `member`: its view still held the
/// member when it wrote it.
fn addressed_to(h: &Parts<'_>, msg: MessageId, member: MemberId) -> bool {
    h.delivery
        .sent
        .get(&msg)
        .is_some_and(|s| s.what.recipients.contains(&member))
}

/// Whether every author of the commit in `slot` still held `member` in
/// its view when the server ordered it: a commit built on a branch of a
/// fork that never removed the member, which the member is meant to
/// follow. (An honest server orders no commit built on an epoch before
/// the removal, so its author had applied the removal.)
fn committed_with(h: &Parts<'_>, slot: Slot, member: MemberId) -> bool {
    let (Some(authors), Some(at)) = (
        h.servers.ordered_senders.get(&slot),
        h.servers.slot_at.get(&slot),
    ) else {
        return false;
    };
    authors.iter().all(|a| {
        match h
            .membership
            .changes
            .iter()
            .rfind(|c| c.host == *a && c.t <= *at)
        {
            Some(c) => c.what.in_group && c.what.view.contains(&member),
            None => h.founders.contains(a) && h.founders.contains(&member),
        }
    })
}

/// Whether the server ordered `msg` for `member` after a commit of the
/// same generation had added it back (it was counted out at an earlier
/// slot): an MLS add needs no announcement to be causally before what
/// follows it.
fn readded_by_commit(h: &Parts<'_>, member: MemberId, msg: MessageId) -> bool {
    let Some(slot) = h.servers.slots.get(&msg) else {
        return false;
    };
    let counted = |s: &Slot| {
        h.servers
            .ordered_for
            .get(s)
            .is_some_and(|m| m.contains(&member))
    };
    counted(slot)
        && h.servers
            .ordered_for
            .range(..*slot)
            .any(|(s, _)| s.stream() == slot.stream() && !counted(s))
}

/// Lightweight groups: every envelope of every later message, to the
/// removed member's Olm sessions.
fn try_olm(h: &Parts<'_>, oracle: &dyn Oracle, removals: &[(MessageId, MemberId)], t: &mut Tally) {
    if removals.is_empty() {
        return;
    }
    let pasts: BTreeMap<MessageId, BTreeSet<MessageId>> = h.delivery.pasts();
    let mut by_msg: BTreeMap<MessageId, Vec<EnvelopeId>> = BTreeMap::new();
    for (env, (msg, _)) in &h.delivery.envelopes {
        by_msg.entry(*msg).or_default().push(*env);
    }
    for (removal, removed) in removals {
        let later = after_removal(h, &pasts, *removal, *removed);
        let mut envs: Vec<EnvelopeId> = later
            .iter()
            .flat_map(|m| by_msg.get(m).into_iter().flatten().copied())
            .collect();
        envs.sort();
        let Some((opened, handed)) = oracle.readable(*removed, *removal, &envs) else {
            t.missing += envs.len() as u64;
            continue;
        };
        t.tried += handed as u64;
        t.missing += (envs.len() - handed) as u64;
        for env in opened {
            let msg = h
                .delivery
                .envelopes
                .get(&env)
                .map(|(m, _)| *m)
                .unwrap_or(*removal);
            let at = h.delivery.sent.get(&msg).map(|s| s.t).unwrap_or(0);
            t.evidence.push(
                Evidence::note(format!("{removed}, removed in {removal}, can read envelope {env} of {msg}, which follows the removal"))
                    .members([*removed])
                    .messages([*removal, msg])
                    .at(at),
            );
        }
    }
}

/// Coordinated groups: every message the server ordered after the
/// removing commit, in its order, to the removed member's MLS state from
/// just before that commit. Later generations are fresh MLS groups that
/// the removed member is never welcomed into, so only the commit's own
/// stream is tried.
fn try_mls(h: &Parts<'_>, oracle: &dyn Oracle, removals: &[MlsRemoval], t: &mut Tally) {
    for r in removals {
        let (generation, server) = r.commit.stream();
        let seqs: Vec<u64> = h
            .servers
            .ordered_for
            .keys()
            .filter(|s| s.stream() == r.commit.stream() && s.seq > r.commit.seq)
            .map(|s| s.seq)
            .collect();
        let Some((opened, handed)) =
            oracle.mls_readable(r.member, r.commit.stream(), r.epoch, &seqs)
        else {
            t.mls_missing += seqs.len() as u64;
            continue;
        };
        t.mls_tried += handed as u64;
        t.mls_missing += (seqs.len() - handed) as u64;
        for seq in opened {
            let slot = Slot { seq, ..r.commit };
            let msg = h
                .servers
                .slots
                .iter()
                .find(|(_, s)| **s == slot)
                .map(|(m, _)| *m);
            // Its author wrote it for the member, never having applied the
            // removal: a message in flight when the commit was ordered, or
            // one from the other side of a fork the server told the author
            // (where the member was never removed). The removed member's
            // keys open what its author meant it to read; that is the
            // author's view, as for what the member was shown.
            let meant = match msg {
                Some(m) => addressed_to(h, m, r.member),
                None => committed_with(h, slot, r.member),
            };
            if meant {
                t.mls_addressed += 1;
                continue;
            }
            let what = msg.map_or_else(|| "a commit".to_owned(), |m| m.to_string());
            let at = msg
                .and_then(|m| h.servers.ordered.get(&m))
                .copied()
                .unwrap_or(0);
            t.evidence.push(
                Evidence::note(format!(
                    "{}, removed by the commit at seq {} (epoch {}) of generation {generation} at {server}, can process seq {seq} ({what}), ordered after it",
                    r.member, r.commit.seq, r.epoch
                ))
                .members([r.member])
                .messages(msg)
                .at(at),
            );
        }
    }
}

#[cfg(test)]
#[path = "tests/secrecy.rs"]
mod tests;
