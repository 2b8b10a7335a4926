//! Epoch agreement: members of one MLS group at one epoch hold the same
//! epoch authenticator, or someone noticed that they do not.
//!
//! The authenticator is derived from the whole key schedule, so two
//! members holding different ones at the same epoch are in different
//! groups: a server showed them different commits (equivocation), or a
//! generation was formed twice. MLS never merges such a split by itself,
//! so the only acceptable outcome is that a member on one side reports it
//! (`fork_detected`, or `equivocation_detected`). Two nominations of one
//! generation at different servers are different MLS groups, so epochs
//! are compared per (generation, server, epoch).

use super::Figure;
use super::coordination::Coordination;
use super::coordination::EpochEntry;
use super::history::{At, Faults, History, Run};
use super::{Evidence, Status, Verdict, list, measured};
use crate::core::ids::{MemberId, Millis, ServerId};
use crate::trace::CheckId;
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: CheckId = CheckId::EpochAgreement;

type Key = (u32, ServerId, u64);

/// Who holds which authenticator at one key, with when each entered.
type Holders = BTreeMap<String, BTreeMap<MemberId, Millis>>;

/// The epoch records to compare. A record whose authenticator equals the
/// member's previous one in the same generation is left out: the member
/// did not derive the new epoch's secrets (openmls leaves a removed
/// member's key schedule where it was while the epoch number moves on).
fn entered(h: &Parts<'_>) -> (BTreeMap<Key, Holders>, u64) {
    let mut last: BTreeMap<(MemberId, u32, ServerId), &EpochEntry> = BTreeMap::new();
    let mut out: BTreeMap<Key, Holders> = BTreeMap::new();
    let mut not_entered = 0;
    for At { t, host, what, .. } in &h.coord.epochs {
        let stream = (*host, what.generation, what.server);
        let stale = last.get(&stream).is_some_and(|prev| {
            prev.epoch < what.epoch && prev.authenticator == what.authenticator
        });
        last.insert(stream, what);
        if stale {
            not_entered += 1;
            continue;
        }
        out.entry((what.generation, what.server, what.epoch))
            .or_default()
            .entry(what.authenticator.clone())
            .or_default()
            .entry(*host)
            .or_insert(*t);
    }
    (out, not_entered)
}

/// The nominator of the generation `m` was in when it entered `key`, from
/// its last `joined` of that generation and server.
fn nominator(h: &Parts<'_>, m: MemberId, (g, s, _): Key) -> Option<MemberId> {
    h.coord
        .switches
        .iter()
        .filter(|a| a.host == m)
        .filter_map(|a| a.what)
        .rfind(|j| (j.generation, j.server) == (g, s))
        .map(|j| j.nominator)
}

/// Whether `m`, unreachable at the end, was gone within `detection` of
/// `since`: a crash of it began by then (one that left it down at the
/// end, or took its state). Until then it was the only witness some
/// holder of the other authenticator could have compared with; a member
/// wiped half a second after a fork left nothing to compare
/// (`coordinated-fork-branch-sender-wiped`).
fn gone_early(h: &Parts<'_>, m: MemberId, since: Millis, detection: Millis) -> bool {
    !h.run.reachable(m)
        && (h.faults.spans.iter()).any(|s| {
            s.kind == crate::faults::FaultType::Crash
                && s.hosts.contains(&crate::core::ids::Peer::Member(m))
                && s.from >= since
                && s.from < since.saturating_add(detection)
        })
}

/// The parts of the history this checker reads, and no others.
struct Parts<'a> {
    run: &'a Run,
    coord: &'a Coordination,
    faults: &'a Faults,
}

pub fn check(h: &History) -> Verdict {
    judge(&Parts {
        run: &h.run,
        coord: &h.coord,
        faults: &h.faults,
    })
}

fn judge(h: &Parts<'_>) -> Verdict {
    if h.run.start.is_none() {
        return Verdict::bare(NAME, Status::Unknown, "trace has no run_started");
    }
    if h.coord.epochs.is_empty() {
        return Verdict::new(
            NAME,
            Status::Pass,
            "no coordinated group (no epoch was entered)".into(),
            vec![],
            measured([(Figure::EpochsCompared, 0)]),
        );
    }
    let (by_key, not_entered) = entered(h);
    let detection = h.run.bounds().map_or(0, |b| b.detection_ms);
    let mut members = BTreeSet::new();
    let (mut failures, mut info) = (Vec::new(), Vec::new());
    let (mut split, mut detected, mut undetected, mut unjudged) = (0u64, 0u64, 0u64, 0u64);
    for (key, holders) in &by_key {
        members.extend(holders.values().flat_map(|m| m.keys().copied()));
        if holders.len() < 2 {
            continue;
        }
        split += 1;
        let sides: Vec<Vec<(MemberId, Millis)>> = holders
            .values()
            .map(|m| m.iter().map(|(m, t)| (*m, *t)).collect())
            .collect();
        let mut blamed = BTreeSet::new();
        let mut key_unjudged = false;
        for (i, a_side) in sides.iter().enumerate() {
            for b_side in &sides[i + 1..] {
                for &(a, ta) in a_side {
                    for &(b, tb) in b_side.iter().filter(|(b, _)| *b != a) {
                        let since = ta.min(tb);
                        let gone = gone_early(h, a, since, detection)
                            || gone_early(h, b, since, detection);
                        if h.coord.detected(a, since) || h.coord.detected(b, since) {
                            detected += 1;
                        } else if !gone && (h.run.reachable(a) || h.run.reachable(b)) {
                            undetected += 1;
                            blamed.extend([a, b].into_iter().filter(|m| h.run.reachable(*m)));
                        } else {
                            unjudged += 1;
                            key_unjudged = true;
                        }
                    }
                }
            }
        }
        let (g, s, e) = *key;
        let held: Vec<String> = holders
            .iter()
            .map(|(auth, ms)| {
                let noms: BTreeSet<String> = ms
                    .keys()
                    .filter_map(|m| nominator(h, *m, *key))
                    .map(|n| n.to_string())
                    .collect();
                format!(
                    "{} hold {auth} (nominated by {})",
                    list(ms.keys()),
                    list(noms)
                )
            })
            .collect();
        let at = holders.values().flat_map(|m| m.values()).max().copied();
        let all = holders.values().flat_map(|m| m.keys().copied());
        let ev = |note: String| {
            let e = Evidence::note(note).members(all.clone());
            match at {
                Some(t) => e.at(t),
                None => e,
            }
        };
        let place = format!("generation {g} at {s}, epoch {e}");
        if !blamed.is_empty() {
            failures.push(ev(format!(
                "{place}: {}; no fork or equivocation reported by {}",
                held.join("; "),
                list(&blamed)
            )));
        } else if key_unjudged {
            info.push(ev(format!(
                "{place}: {}; undetected, but one side's holders are unreachable at the end, or were gone within the detection bound",
                held.join("; ")
            )));
        } else {
            info.push(ev(format!("{place}: {}; reported", held.join("; "))));
        }
    }
    let m = measured([
        (Figure::EpochsCompared, by_key.len() as u64),
        (Figure::Members, members.len() as u64),
        (Figure::SplitEpochs, split),
        (Figure::PairsDetected, detected),
        (Figure::PairsUndetected, undetected),
        (Figure::PairsUnjudged, unjudged),
        (Figure::RecordsNotEntered, not_entered),
    ]);
    let streams: BTreeSet<(u32, ServerId)> = by_key.keys().map(|(g, s, _)| (*g, *s)).collect();
    let (status, summary) = if !failures.is_empty() {
        (
            Status::Fail,
            format!(
                "{} of {split} split epochs not reported by any reachable holder",
                failures.len()
            ),
        )
    } else if unjudged > 0 {
        (
            Status::Unknown,
            format!("{split} split epochs; some held only by members unreachable at the end"),
        )
    } else if split > 0 {
        (
            Status::Pass,
            format!("{split} split epochs, each reported by a holder"),
        )
    } else {
        (
            Status::Pass,
            format!(
                "{} members agree on the authenticator of each of {} epochs in {} generation(s)",
                members.len(),
                by_key.len(),
                streams.len()
            ),
        )
    };
    failures.extend(info);
    Verdict::new(NAME, status, summary, failures, m)
}

#[cfg(test)]
#[path = "tests/epochs.rs"]
mod tests;
