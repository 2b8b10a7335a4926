//! Fork detection: every side of a real fork must notice it in time.
//!
//! Real forks are taken from ground truth the members themselves cannot see
//! (both removal operations and the causal order between them, or the final
//! views of everyone), so a member's `ForkDetected` can be graded as timely,
//! late, missing or a false alarm.

use super::Figure;
use super::history::{Agreement, Delivery, Faults, History, Membership, Past, Run};
use super::{Evidence, Status, Verdict, list, measured, set};
use crate::core::event::OpKind;
use crate::core::ids::{MemberId, MessageId, Millis};
use crate::core::server::dishonest::Mode;
use crate::trace::CheckId;
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: CheckId = CheckId::ForkDetection;

/// One side of one fork: who should notice, whom they must name, by when.
struct Side {
    label: String,
    detectors: Vec<MemberId>,
    others: BTreeSet<MemberId>,
    messages: Vec<MessageId>,
    since: Millis,
    deadline: Millis,
    reachable: bool,
}

/// Mutual removals whose messages are causally concurrent. One fork per
/// pair of members, dated by the earliest concurrent pair: a repeat of the
/// same quarrel does not restart the detection clock.
struct Mutual {
    forks: BTreeMap<(MemberId, MemberId), (Millis, MessageId, MessageId)>,
    ordered: Vec<(MemberId, MemberId, MessageId, MessageId)>,
    undetermined: BTreeSet<(MemberId, MemberId)>,
}

fn mutual_removals(h: &Parts<'_>) -> Mutual {
    let removes: Vec<_> = h
        .membership
        .ops
        .iter()
        .filter(|o| o.what.op == OpKind::Remove && o.what.target != o.host)
        .collect();
    let pasts: BTreeMap<MessageId, Past> = removes
        .iter()
        .map(|o| (o.what.msg, h.delivery.causal_past(o.what.msg)))
        .collect();
    let mut out = Mutual {
        forks: BTreeMap::new(),
        ordered: Vec::new(),
        undetermined: BTreeSet::new(),
    };
    for a in &removes {
        for b in &removes {
            if !(a.host < b.host && a.what.target == b.host && b.what.target == a.host) {
                continue;
            }
            let (ma, mb) = (a.what.msg, b.what.msg);
            let (Some(pa), Some(pb)) = (pasts.get(&ma), pasts.get(&mb)) else {
                continue;
            };
            if pa.set.contains(&mb) || pb.set.contains(&ma) {
                out.ordered.push((a.host, b.host, ma, mb));
            } else if !pa.incomplete.is_empty() || !pb.incomplete.is_empty() {
                out.undetermined.insert((a.host, b.host));
            } else {
                let t = a.t.max(b.t);
                let e = out.forks.entry((a.host, b.host)).or_insert((t, ma, mb));
                if t < e.0 {
                    *e = (t, ma, mb);
                }
            }
        }
    }
    out.undetermined
        .retain(|pair| !out.forks.contains_key(pair));
    out
}

fn sides(h: &Parts<'_>, mutual: &Mutual, heal_at: Millis, detection: Millis) -> Vec<Side> {
    let mut sides = Vec::new();
    for (&(x, y), &(t, mx, my)) in &mutual.forks {
        let deadline = t.max(heal_at).saturating_add(detection);
        for (me, other) in [(x, y), (y, x)] {
            sides.push(Side {
                label: format!(
                    "{me}'s side of the fork {x}/{y} ({x} removed {y} in {mx}, \
                     {y} removed {x} in {my}, concurrently; forked at {t} ms)"
                ),
                detectors: vec![me],
                others: BTreeSet::from([other]),
                messages: vec![mx, my],
                since: t,
                deadline,
                reachable: h.run.reachable(me),
            });
        }
    }
    if let Agreement::Islands(groups) = h.run.agreement() {
        let deadline = heal_at.saturating_add(detection);
        for (i, g) in groups.iter().enumerate() {
            let others: BTreeSet<MemberId> = groups
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .flat_map(|(_, o)| o.view.iter().chain(&o.holders).copied())
                .collect();
            sides.push(Side {
                label: format!(
                    "island {} (held by {}) of {} islands in the final views",
                    set(&g.view),
                    list(&g.holders),
                    groups.len()
                ),
                detectors: g.holders.clone(),
                others,
                messages: vec![],
                since: heal_at,
                deadline,
                reachable: true,
            });
        }
    }
    sides
}

/// Whether `host`, naming `others`, reported a fork a server made: a
/// forking server (the `fork` lie) signed one slot for two commits and
/// showed each side its own, and `host` and one of `others` were both
/// lied to about that slot. Which commit each ends up applying is not
/// always the one the server first meant for its side (a member cut off
/// then may be served the slot again later), so the sides the lie names
/// are not checked. Members see such a fork as differing epoch
/// authenticators; it is the equivocation checker's to judge, and no
/// false alarm here.
fn server_fork(faults: &Faults, host: MemberId, others: &BTreeSet<MemberId>) -> bool {
    let mut told: BTreeMap<_, BTreeSet<MemberId>> = BTreeMap::new();
    for l in faults.lies.iter().filter(|l| l.mode == Mode::Fork) {
        let slot = (l.server, l.generation, l.seq);
        told.entry(slot).or_default().extend(l.to.iter().copied());
    }
    told.values()
        .any(|to| to.contains(&host) && !to.is_disjoint(others))
}

/// The parts of the history this checker reads, and no others.
struct Parts<'a> {
    run: &'a Run,
    delivery: &'a Delivery,
    membership: &'a Membership,
    faults: &'a Faults,
}

pub fn check(h: &History) -> Verdict {
    judge(&Parts {
        run: &h.run,
        delivery: &h.delivery,
        membership: &h.membership,
        faults: &h.faults,
    })
}

fn judge(h: &Parts<'_>) -> Verdict {
    let Some(bounds) = h.run.bounds() else {
        return Verdict::new(
            NAME,
            Status::Unknown,
            "trace has no run_started: no detection bound to hold members to".into(),
            vec![],
            measured([(Figure::ForkReports, h.membership.fork_reports.len() as u64)]),
        );
    };
    let mutual = mutual_removals(h);
    let sides = sides(h, &mutual, bounds.heal_at, bounds.detection_ms);
    let islands = sides.len() - 2 * mutual.forks.len();
    let forks = mutual.forks.len() + usize::from(islands > 0);

    let (mut failed, mut unreachable, mut detected) = (vec![], vec![], vec![]);
    let mut late = 0u64;
    let mut latency_max = 0;
    for s in &sides {
        let first = h
            .membership
            .fork_reports
            .iter()
            .filter(|r| s.detectors.contains(&r.host) && !r.what.is_disjoint(&s.others))
            .min_by_key(|r| r.t);
        let base = Evidence::note("")
            .members(s.detectors.iter().chain(&s.others).copied())
            .messages(s.messages.iter().copied());
        if let Some(r) = first.filter(|r| r.t <= s.deadline) {
            latency_max = latency_max.max(r.t.saturating_sub(s.since));
            detected.push(Evidence {
                note: format!("{}: detected by {} at {} ms", s.label, r.host, r.t),
                at_ms: Some(r.t),
                ..base
            });
            continue;
        }
        let reach = if s.reachable {
            ""
        } else {
            " (unreachable at the end)"
        };
        let what = match first {
            Some(r) => {
                late += 1;
                format!("detected by {} only at {} ms", r.host, r.t)
            }
            None => format!("not detected by {}", list(&s.detectors)),
        };
        let e = Evidence {
            note: format!("{}: {what}, deadline {} ms{reach}", s.label, s.deadline),
            at_ms: Some(first.map_or(s.deadline, |r| r.t)),
            ..base
        };
        if s.reachable {
            failed.push(e);
        } else {
            unreachable.push(e);
        }
    }

    let (mut alarms, mut server_reports) = (Vec::new(), 0u64);
    for r in &h.membership.fork_reports {
        // A report is real if it names a member on the far side of a real
        // fork: from a side's own member, or from a third party that saw
        // both removals and names both sides.
        let real = sides.iter().any(|s| !r.what.is_disjoint(&s.others));
        if !real && server_fork(h.faults, r.host, &r.what) {
            server_reports += 1;
        } else if !real {
            alarms.push(
                Evidence::note(format!(
                    "false alarm: {} reported a fork against {} at {} ms, matching no real fork",
                    r.host,
                    set(&r.what),
                    r.t
                ))
                .members(std::iter::once(r.host).chain(r.what.iter().copied()))
                .at(r.t),
            );
        }
    }
    let ordered: Vec<Evidence> = mutual
        .ordered
        .iter()
        .map(|&(x, y, mx, my)| {
            Evidence::note(format!(
                "{x} and {y} removed each other ({mx}, {my}) but one removal causally \
                 follows the other: not a fork"
            ))
            .members([x, y])
            .messages([mx, my])
        })
        .collect();
    let undetermined: Vec<Evidence> = mutual
        .undetermined
        .iter()
        .map(|&(x, y)| {
            Evidence::note(format!(
                "{x} and {y} removed each other but a message_sent is missing, \
                 so whether the removals were concurrent is unknown"
            ))
            .members([x, y])
        })
        .collect();

    let missed = failed.len() + unreachable.len();
    let measured = measured([
        (Figure::Forks, forks as u64),
        (Figure::Sides, sides.len() as u64),
        (Figure::SidesDetected, detected.len() as u64),
        (Figure::SidesMissed, missed as u64),
        (Figure::SidesMissedUnreachable, unreachable.len() as u64),
        (Figure::SidesDetectedLate, late),
        (Figure::FalseAlarms, alarms.len() as u64),
        (Figure::ServerForkReports, server_reports),
        (Figure::DetectionLatencyMaxMs, latency_max),
        (Figure::OrderedRemovals, ordered.len() as u64),
        (Figure::UndeterminedRemovals, undetermined.len() as u64),
        (Figure::ForkReports, h.membership.fork_reports.len() as u64),
    ]);
    let alarm_note = if alarms.is_empty() {
        String::new()
    } else {
        format!("; {} false alarm(s)", alarms.len())
    };
    let (status, summary) = if !failed.is_empty() {
        let s = format!(
            "{} of {} fork side(s) of reachable members not detected in time ({} late)",
            failed.len(),
            sides.len(),
            late
        );
        (Status::Fail, s)
    } else if h.run.running.is_none() {
        let s = "trace has no run_ended: cannot tell who was reachable or whether islands formed";
        (Status::Unknown, s.to_owned())
    } else if !unreachable.is_empty() {
        let s = format!(
            "{} fork side(s) undetected, all of members unreachable at the end",
            unreachable.len()
        );
        (Status::Unknown, s)
    } else if !undetermined.is_empty() {
        let s = format!(
            "{} mutual removal(s) could not be ordered: the trace lacks their messages",
            undetermined.len()
        );
        (Status::Unknown, s)
    } else if forks == 0 {
        (Status::Pass, "no fork occurred".to_owned())
    } else {
        let s = format!(
            "{forks} fork(s), all {} side(s) detected in time (max latency {latency_max} ms)",
            sides.len()
        );
        (Status::Pass, s)
    };
    let evidence = [failed, unreachable, undetermined, detected, alarms, ordered].concat();
    Verdict::new(NAME, status, summary + &alarm_note, evidence, measured)
}

#[cfg(test)]
#[path = "tests/forks.rs"]
mod tests;
