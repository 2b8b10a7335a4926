//! Post-removal secrecy: a removed member cannot read what the group says
//! after its removal.
//!
//! This is not assumed from the design: every ciphertext that went on the
//! wire after a removal is handed to a copy of the removed member's real
//! key state, which tries to open it. The trace alone holds no key
//! material, so on a saved trace the answer is Unknown.

use super::history::History;
use super::{Evidence, Status, Verdict, measured};
use crate::core::ids::{EnvelopeId, MemberId, MessageId};
use crate::trace::event::OpKind;
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
}

pub const NAME: &str = "post_removal_secrecy";

/// Messages that must be secret from `removed`: those that causally follow
/// its removal and do not causally follow a later re-add.
fn after_removal(
    h: &History,
    pasts: &BTreeMap<MessageId, BTreeSet<MessageId>>,
    removal: MessageId,
    removed: MemberId,
) -> Vec<MessageId> {
    let readds: Vec<MessageId> = h
        .ops
        .iter()
        .filter(|o| o.what.op == OpKind::Add && o.what.target == removed)
        .map(|o| o.what.msg)
        .filter(|a| pasts.get(a).is_some_and(|p| p.contains(&removal)))
        .collect();
    pasts
        .iter()
        .filter(|(m, past)| **m != removal && past.contains(&removal))
        .filter(|(m, past)| !readds.iter().any(|a| a == *m || past.contains(a)))
        .map(|(m, _)| *m)
        .collect()
}

pub fn check(h: &History, oracle: Option<&dyn Oracle>) -> Verdict {
    let removals: Vec<(MessageId, MemberId)> = h
        .ops
        .iter()
        .filter(|o| o.what.op == OpKind::Remove)
        .map(|o| (o.what.msg, o.what.target))
        .collect();
    if removals.is_empty() {
        return Verdict::new(
            NAME,
            Status::Pass,
            "no member was removed".into(),
            Vec::new(),
            measured([("removals", 0)]),
        );
    }
    let Some(oracle) = oracle else {
        return Verdict::new(
            NAME,
            Status::Unknown,
            "needs the removed members' key state, which a trace never holds: re-run the scenario"
                .into(),
            Vec::new(),
            measured([("removals", removals.len() as u64)]),
        );
    };
    let pasts: BTreeMap<MessageId, BTreeSet<MessageId>> =
        h.sent.keys().map(|m| (*m, h.causal_past(*m).set)).collect();
    let mut by_msg: BTreeMap<MessageId, Vec<EnvelopeId>> = BTreeMap::new();
    for (env, (msg, _)) in &h.envelopes {
        by_msg.entry(*msg).or_default().push(*env);
    }
    let (mut tried, mut missing) = (0u64, 0u64);
    let mut evidence = Vec::new();
    for (removal, removed) in &removals {
        let later = after_removal(h, &pasts, *removal, *removed);
        let mut envs: Vec<EnvelopeId> = later
            .iter()
            .flat_map(|m| by_msg.get(m).into_iter().flatten().copied())
            .collect();
        envs.sort();
        let Some((opened, handed)) = oracle.readable(*removed, *removal, &envs) else {
            missing += envs.len() as u64;
            continue;
        };
        tried += handed as u64;
        missing += (envs.len() - handed) as u64;
        for env in opened {
            let msg = h.envelopes.get(&env).map(|(m, _)| *m).unwrap_or(*removal);
            let t = h.sent.get(&msg).map(|s| s.t).unwrap_or(0);
            evidence.push(
                Evidence::note(format!("{removed}, removed in {removal}, can read envelope {env} of {msg}, which follows the removal"))
                    .members([*removed])
                    .messages([*removal, msg])
                    .at(t),
            );
        }
    }
    let leaks = evidence.len() as u64;
    let m = measured([
        ("removals", removals.len() as u64),
        ("ciphertexts_tried", tried),
        ("ciphertexts_not_on_wire", missing),
        ("readable", leaks),
    ]);
    if leaks == 0 && tried == 0 {
        return Verdict::new(
            NAME,
            Status::Unknown,
            format!(
                "no ciphertext that follows the {} removals could be tried (none on the wire, or not pairwise Olm)",
                removals.len()
            ),
            evidence,
            m,
        );
    }
    if leaks > 0 {
        Verdict::new(
            NAME,
            Status::Fail,
            format!("{leaks} ciphertexts sent after a removal are readable by the removed member"),
            evidence,
            m,
        )
    } else {
        Verdict::new(
            NAME,
            Status::Pass,
            format!(
                "none of {tried} ciphertexts sent after {} removals opens with the removed member's keys",
                removals.len()
            ),
            evidence,
            m,
        )
    }
}

#[cfg(test)]
#[path = "tests/secrecy.rs"]
mod tests;
