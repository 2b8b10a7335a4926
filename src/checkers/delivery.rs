//! Delivery: once a mailbox has acknowledged a message for a recipient, the
//! recipient must show it, exactly once, and never before what it follows;
//! and a message whose sender stays up must arrive, acknowledged or not.
//!
//! The acknowledgement is the line: before it the sender may still lose the
//! message to faults and nobody promised anything; after it the system has
//! taken responsibility. Recipients that crashed with their state or are down
//! at the end cannot be held to it, so their gaps are counted, not failed.
//!
//! A sender that stays up never lost the message, though: it still holds
//! it, and the protocol promises to hand it on (over Olm, if the server
//! agent it was submitted to fails). Counting only acknowledged messages
//! let a protocol that dropped everything unacknowledged at fallback pass,
//! so such messages are owed too, with time to arrive and only to
//! recipients the sender was right to address.
//!
//! Arriving is not enough after a fault: how long the deliveries it held
//! up took once recovery could begin is timed too (`recovery.rs`).

use super::Figure;
use super::history::{At, History, Sent};
use super::{Evidence, Status, Verdict, measured};
use crate::core::event::OpKind;
use crate::core::ids::{MemberId, MessageId, Millis};
use crate::trace::CheckId;
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: CheckId = CheckId::Delivery;

pub fn check(h: &History) -> Verdict {
    let messages: Vec<_> = h
        .delivery
        .sent
        .iter()
        .filter(|(_, s)| !s.what.control)
        .collect();
    if messages.is_empty() {
        return Verdict::new(
            NAME,
            Status::Unknown,
            format!(
                "no group message was sent ({} control messages): nothing to deliver",
                h.delivery.sent.len()
            ),
            vec![],
            measured([(Figure::Messages, 0)]),
        );
    }
    let acked = h.acked_pairs();
    let first = h.delivery.first_deliveries();
    let owed = Owed::new(h);

    let (mut lost, mut duplicates, mut causal, mut info) = (vec![], vec![], vec![], vec![]);
    let mut lost_unacked = vec![];
    let (mut pairs, mut acked_pairs, mut delivered_pairs, mut acked_unreachable) = (0, 0, 0, 0);
    let (mut owed_pairs, mut excused) = (0u64, BTreeMap::<Excuse, u64>::new());
    let mut acked_to_removed = 0u64;
    for &(&msg, s) in &messages {
        for &r in s.what.recipients.iter().filter(|r| **r != msg.sender) {
            pairs += 1;
            let delivered = first.contains_key(&(r, msg));
            delivered_pairs += u64::from(delivered);
            let Some(&t) = acked.get(&(msg, r)) else {
                match owed.excuse(msg, s, r) {
                    Some(why) => *excused.entry(why).or_default() += 1,
                    None if delivered => owed_pairs += 1,
                    None => {
                        owed_pairs += 1;
                        lost_unacked.push(
                            Evidence::note(format!(
                                "{msg} was sent to {r} at {} ms and never acknowledged; \
                                 {} and {r} stayed reachable, but {r} never delivered it \
                                 (due by {} ms)",
                                s.t,
                                msg.sender,
                                owed.deadline(s.t).unwrap_or(s.t)
                            ))
                            .members([r, msg.sender])
                            .messages([msg])
                            .at(s.t),
                        );
                    }
                }
                continue;
            };
            acked_pairs += 1;
            if delivered {
                continue;
            }
            // Addressed to a member some other member had removed before
            // the send, which ends out of the group: the sender had not
            // heard, the server ordered it for the roster the sender made,
            // and the removed member rightly refused to rejoin for it
            // (`coordinated-removed-member-pairwise-order` seed 774). As
            // for an unacknowledged message, that is not owed.
            if owed.removed(r, s.idx) && h.run.finals.get(&r).is_some_and(|f| !f.in_group) {
                acked_to_removed += 1;
                continue;
            }
            let e = Evidence::note("")
                .members([r, msg.sender])
                .messages([msg])
                .at(t);
            if h.run.reachable(r) {
                lost.push(Evidence {
                    note: format!(
                        "{msg} was acknowledged for {r} at {t} ms but never delivered there"
                    ),
                    ..e
                });
            } else {
                acked_unreachable += 1;
                info.push(Evidence {
                    note: format!(
                        "{msg} was acknowledged for {r} at {t} ms and not delivered, \
                         but {r} is unreachable at the end"
                    ),
                    ..e
                });
            }
        }
    }

    let mut unknown_parents = 0u64;
    for (&host, ds) in &h.delivery.deliveries {
        let mut seen = BTreeSet::new();
        for d in ds {
            let msg = d.what;
            if !seen.insert(msg) {
                duplicates.push(
                    Evidence::note(format!("{host} delivered {msg} again at {} ms", d.t))
                        .members([host])
                        .messages([msg])
                        .at(d.t),
                );
                continue;
            }
            let Some(s) = h.delivery.sent.get(&msg) else {
                continue;
            };
            for &p in s.what.parents.iter().filter(|p| **p != msg) {
                let before = |i: &(usize, u64)| i.0 < d.idx;
                let got = first.get(&(host, p));
                let ok = match h.delivery.sent.get(&p) {
                    // A member's own messages are delivered to it when sent.
                    Some(ps) if p.sender == host => ps.idx < d.idx || got.is_some_and(before),
                    None if p.sender == host && got.is_some_and(before) => true,
                    None => {
                        unknown_parents += 1;
                        continue;
                    }
                    Some(ps) if !ps.what.recipients.contains(&host) => continue,
                    // Control messages may never be shown to the application,
                    // so only one shown too late counts against the order.
                    Some(ps) if ps.what.control && got.is_none() => continue,
                    Some(_) => got.is_some_and(before),
                };
                if !ok {
                    let when = got.map_or("never".to_owned(), |g| format!("at {} ms", g.1));
                    causal.push(
                        Evidence::note(format!(
                            "{host} delivered {msg} at {} ms before its parent {p} \
                             (delivered {when})",
                            d.t
                        ))
                        .members([host, msg.sender])
                        .messages([msg, p])
                        .at(d.t),
                    );
                }
            }
        }
    }

    for pm in &h.delivery.parent_missing {
        let (msg, missing) = &pm.what;
        info.push(
            Evidence::note(format!(
                "{} held back {msg} at {} ms waiting for {} parent(s)",
                pm.host,
                pm.t,
                missing.len()
            ))
            .members([pm.host])
            .messages(std::iter::once(*msg).chain(missing.iter().copied()))
            .at(pm.t),
        );
    }

    let times = messages.iter().map(|(m, s)| (**m, s.t)).collect();
    let recovered = super::recovery::Recovered::judge(h, &times, &first);
    let counts: BTreeMap<Figure, u64> = BTreeMap::from([
        (Figure::Lost, lost.len() as u64),
        (Figure::RecoveredLate, recovered.late.len() as u64),
        (Figure::LostUnacknowledged, lost_unacked.len() as u64),
        (Figure::Duplicates, duplicates.len() as u64),
        (Figure::CausalViolations, causal.len() as u64),
    ]);
    let excused_for = |why| excused.get(&why).copied().unwrap_or(0);
    let mut measured = measured([
        (Figure::Messages, messages.len() as u64),
        (Figure::RecoveredDeliveries, recovered.deliveries),
        (Figure::RecoveredLate, counts[&Figure::RecoveredLate]),
        (
            Figure::ControlMessages,
            (h.delivery.sent.len() - messages.len()) as u64,
        ),
        (Figure::Pairs, pairs),
        (Figure::AcknowledgedPairs, acked_pairs),
        (Figure::UnacknowledgedPairs, pairs - acked_pairs),
        (Figure::DeliveredPairs, delivered_pairs),
        (Figure::Lost, counts[&Figure::Lost]),
        (Figure::AcknowledgedToUnreachable, acked_unreachable),
        (Figure::AcknowledgedToRemoved, acked_to_removed),
        (Figure::UnacknowledgedOwed, owed_pairs),
        (
            Figure::LostUnacknowledged,
            counts[&Figure::LostUnacknowledged],
        ),
        (
            Figure::UnacknowledgedToUnreachable,
            excused_for(Excuse::Unreachable),
        ),
        (
            Figure::UnacknowledgedSenderGone,
            excused_for(Excuse::SenderGone),
        ),
        (
            Figure::UnacknowledgedNotAddressable,
            excused_for(Excuse::NotAddressable),
        ),
        (Figure::UnacknowledgedNotDue, excused_for(Excuse::NotDue)),
        (Figure::Duplicates, counts[&Figure::Duplicates]),
        (Figure::CausalViolations, counts[&Figure::CausalViolations]),
        (
            Figure::ParentMissing,
            h.delivery.parent_missing.len() as u64,
        ),
        (Figure::UnknownParents, unknown_parents),
    ]);
    if let Some(after) = recovered.after_ms {
        measured.insert(Figure::RecoveredAfterMs, after);
    }
    let problems: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {}", k.name().replace('_', " ")))
        .collect();
    let (status, summary) = if !problems.is_empty() {
        (Status::Fail, problems.join(", "))
    } else if h.run.running.is_none() {
        let s = "trace has no run_ended: cannot tell whether acknowledged messages were lost";
        (Status::Unknown, s.to_owned())
    } else {
        let s = format!(
            "all {} acknowledged deliveries to reachable members, and all {owed_pairs} \
             owed unacknowledged ones, arrived once, in causal order ({} messages, \
             {acked_unreachable} acknowledged to unreachable members)",
            acked_pairs - acked_unreachable,
            messages.len()
        );
        (Status::Pass, s)
    };
    let evidence = [lost, lost_unacked, recovered.late, duplicates, causal, info].concat();
    Verdict::new(NAME, status, summary, evidence, measured)
}

/// Why an unacknowledged message is not owed to a recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Excuse {
    /// The recipient is down or lost its state at the end: as for an
    /// acknowledged message, it cannot be blamed.
    Unreachable,
    /// The sender is down or lost its state at the end, or restarted
    /// without its volatile state after sending: it may no longer hold
    /// what it had not handed on, which is what a crash means.
    SenderGone,
    /// The sender should not have addressed the recipient, or had no
    /// standing to send at all: the server agent ordered the message
    /// after the recipient left; the recipient or the sender had been
    /// removed when it was sent; or the server ordered the sender's own
    /// removal first and the sender withdrew the message on learning it.
    NotAddressable,
    /// Sent too late to be expected by the end, or a fault still cuts
    /// off the sender or the recipient when the run ends.
    NotDue,
}

/// What a member did, as far as whether it may still send in a
/// coordinated group matters.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mark {
    Joined,
    FellBack,
    Changed { in_group: bool },
}

/// Decides which unacknowledged messages are owed. Indexes are built once
/// so that judging each pair is a lookup, not a pass over the trace.
struct Owed<'a> {
    h: &'a History,
    end: Option<Millis>,
    /// Per member, the membership operations targeting it, in trace order.
    ops: BTreeMap<MemberId, Vec<(usize, OpKind)>>,
    /// Per member, its joins, fallbacks and membership changes, in trace
    /// order.
    marks: BTreeMap<MemberId, Vec<(usize, Mark)>>,
    volatile_lost: BTreeMap<MemberId, Vec<usize>>,
}

impl<'a> Owed<'a> {
    fn new(h: &'a History) -> Owed<'a> {
        let mut ops: BTreeMap<MemberId, Vec<(usize, OpKind)>> = BTreeMap::new();
        for o in &h.membership.ops {
            ops.entry(o.what.target)
                .or_default()
                .push((o.idx, o.what.op));
        }
        let mut marks: BTreeMap<MemberId, Vec<(usize, Mark)>> = BTreeMap::new();
        let joins = h
            .servers
            .joins
            .iter()
            .map(|a| (a.host, a.idx, Mark::Joined));
        let falls = h
            .servers
            .fallbacks
            .iter()
            .map(|a| (a.host, a.idx, Mark::FellBack));
        let changes = h.membership.changes.iter().map(|a| {
            let in_group = a.what.in_group;
            (a.host, a.idx, Mark::Changed { in_group })
        });
        for (m, idx, mark) in joins.chain(falls).chain(changes) {
            marks.entry(m).or_default().push((idx, mark));
        }
        for v in ops.values_mut() {
            v.sort_by_key(|(idx, _)| *idx);
        }
        for v in marks.values_mut() {
            v.sort_by_key(|(idx, _)| *idx);
        }
        let mut volatile_lost: BTreeMap<MemberId, Vec<usize>> = BTreeMap::new();
        for a in &h.run.volatile_lost {
            volatile_lost.entry(a.host).or_default().push(a.idx);
        }
        Owed {
            h,
            end: h.run.ended_at,
            ops,
            marks,
            volatile_lost,
        }
    }

    /// When a message sent at `t` must have arrived: after every fault
    /// has healed, `detection` for its sender to notice a failed server
    /// agent and fall back, then `convergence` for the copy sent again
    /// over Olm to get through. `None` without the bounds.
    fn deadline(&self, t: Millis) -> Option<Millis> {
        let b = self.h.run.bounds()?;
        Some(
            t.max(b.heal_at)
                .saturating_add(b.detection_ms)
                .saturating_add(b.convergence_ms),
        )
    }

    fn excuse(&self, msg: MessageId, s: &At<Sent>, r: MemberId) -> Option<Excuse> {
        let sender = msg.sender;
        if !self.h.run.reachable(r) {
            return Some(Excuse::Unreachable);
        }
        let restarted = self
            .volatile_lost
            .get(&sender)
            .is_some_and(|v| v.iter().any(|i| *i > s.idx));
        if !self.h.run.reachable(sender) || restarted {
            return Some(Excuse::SenderGone);
        }
        // Ordered, yet not acknowledged for `r`: the server no longer
        // counted it (`History::acked_pairs`). Unless the server still
        // counted `r` and `r` had left that order by then, or the slot was
        // on the other branch of a fork from `r`: the sender owes it the
        // message over Olm.
        let ordered = (self.h.servers.slots.get(&msg)).is_some_and(|slot| {
            let t = self.h.servers.ordered.get(&msg).copied().unwrap_or(s.t);
            let counted = (self.h.servers.ordered_for.get(slot)).is_none_or(|m| m.contains(&r));
            let elsewhere = self.h.left_order(r, t, slot) || self.h.other_branch(sender, r, slot);
            !(counted && elsewhere)
        });
        if ordered
            || self.removed(r, s.idx)
            || self.removed(sender, s.idx)
            || self.withdrawn(sender, s.idx)
        {
            return Some(Excuse::NotAddressable);
        }
        let due = match (self.deadline(s.t), self.end) {
            (Some(d), Some(end)) => {
                d <= end
                    && ![sender, r]
                        .iter()
                        .any(|m| self.h.faults.reach.touched(*m, end, end))
            }
            _ => false,
        };
        if !due {
            return Some(Excuse::NotDue);
        }
        None
    }

    /// Whether the last membership operation on `m` before trace position
    /// `idx` removed it. By trace order, not causality: a recipient some
    /// member had removed by then may be refused by a sender that heard of
    /// it, and a concurrent removal is not the sender's fault either way.
    fn removed(&self, m: MemberId, idx: usize) -> bool {
        let ops = self.ops.get(&m).map(Vec::as_slice).unwrap_or_default();
        let before = ops.partition_point(|(i, _)| *i < idx);
        before > 0 && ops[before - 1].1 == OpKind::Remove
    }

    /// A coordinated member drops what it submitted when the server's
    /// order tells it that it was removed first: nothing of a removed
    /// member may be ordered. That shows as the member, still in its
    /// generation (joined, not fallen back) when it sent the message,
    /// next recording that it is out of the group (changes that keep it
    /// in do not matter); an unordered message sent before is then
    /// withdrawn, not lost. A fallback in between would have sent it on.
    fn withdrawn(&self, sender: MemberId, idx: usize) -> bool {
        let marks = self
            .marks
            .get(&sender)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let split = marks.partition_point(|(i, _)| *i < idx);
        let coordinating = marks[..split]
            .iter()
            .rev()
            .find(|(_, m)| matches!(m, Mark::Joined | Mark::FellBack))
            .is_some_and(|(_, m)| *m == Mark::Joined);
        let next = marks[split..]
            .iter()
            .find(|(_, m)| *m != Mark::Changed { in_group: true });
        coordinating && next.is_some_and(|(_, m)| *m == Mark::Changed { in_group: false })
    }
}

#[cfg(test)]
#[path = "tests/delivery.rs"]
mod tests;
