//! Convergence: after the last fault heals and the last membership change
//! is made, every reachable member still in the group ends holding the
//! same view, and stops changing it in time.
//!
//! A clean fork (islands with disjoint views) is not a convergence failure:
//! each side converged on its own, and whether the sides noticed is the fork
//! detection checker's question. Overlapping but different views are the
//! failure this checker exists for.

use super::Figure;
use super::history::{Agreement, History, Membership, Run, ViewGroup};
use super::{Evidence, Status, Verdict, list, measured, set};
use crate::trace::CheckId;

pub const NAME: CheckId = CheckId::Convergence;

/// The parts of the history this checker reads, and no others.
struct Parts<'a> {
    run: &'a Run,
    membership: &'a Membership,
    oddities: &'a [String],
}

pub fn check(h: &History) -> Verdict {
    judge(&Parts {
        run: &h.run,
        membership: &h.membership,
        oddities: &h.oddities,
    })
}

fn judge(h: &Parts<'_>) -> Verdict {
    let (Some(bounds), Some(_)) = (h.run.bounds(), h.run.running.as_ref()) else {
        let why = if h.run.start.is_none() {
            "no run_started"
        } else {
            "no run_ended"
        };
        return Verdict::new(
            NAME,
            Status::Unknown,
            format!("trace has {why}: cannot judge final views"),
            vec![],
            measured([(Figure::OddRecords, h.oddities.len() as u64)]),
        );
    };
    let considered = h.run.considered();
    // A membership change made after the last fault is as legitimate as
    // one made before it, and needs the same time to spread.
    let last_op = h.membership.ops.iter().map(|o| o.t).max().unwrap_or(0);
    let settle_from = bounds.heal_at.max(last_op);
    let deadline = settle_from.saturating_add(bounds.convergence_ms);
    let last_planned = (h.run.start.iter())
        .flat_map(|s| s.planned.iter().map(|p| p.at))
        .max()
        .unwrap_or(0);
    let asked_from = bounds.heal_at.max(last_planned);

    let agreement = h.run.agreement();
    let diverged = matches!(agreement, Agreement::Diverged(_));
    let groups: Vec<ViewGroup> = match agreement {
        Agreement::Nobody => {
            return Verdict::new(
                NAME,
                Status::Unknown,
                format!(
                    "no reachable member is in the group at the end \
                     ({} final views, {} running members)",
                    h.run.finals.len(),
                    h.run.running.as_ref().map_or(0, |r| r.len())
                ),
                vec![],
                measured([(Figure::Considered, 0)]),
            );
        }
        Agreement::Agreed(g) => vec![g],
        Agreement::Islands(gs) | Agreement::Diverged(gs) => gs,
    };

    let mut evidence = Vec::new();
    for g in &groups {
        evidence.push(
            Evidence::note(format!(
                "view {} held by {}",
                set(&g.view),
                list(&g.holders)
            ))
            .members(g.holders.iter().copied()),
        );
    }

    let late: Vec<_> = h
        .membership
        .changes
        .iter()
        .filter(|c| c.t > deadline && considered.contains_key(&c.host))
        .collect();
    for c in &late {
        evidence.push(
            Evidence::note(format!(
                "{} changed its view to {} at {} ms, after the deadline of {deadline} ms",
                c.host,
                set(&c.what.view),
                c.t
            ))
            .members([c.host])
            .at(c.t),
        );
    }

    let mut stale = 0u64;
    for g in &groups {
        for &v in &g.view {
            let out = h.run.finals.get(&v).is_some_and(|f| !f.in_group);
            if out && h.run.reachable(v) {
                stale += 1;
                evidence.push(
                    Evidence::note(format!(
                        "{v} is in the view held by {} but its own final view \
                         says it is not in the group",
                        list(&g.holders)
                    ))
                    .members(std::iter::once(v).chain(g.holders.iter().copied())),
                );
            }
        }
    }

    let last_change = h
        .membership
        .changes
        .iter()
        .filter(|c| considered.contains_key(&c.host))
        .map(|c| c.t)
        .max()
        .unwrap_or(0);
    let measured = measured([
        (Figure::Considered, considered.len() as u64),
        (Figure::DistinctViews, groups.len() as u64),
        (
            Figure::Islands,
            if diverged { 0 } else { groups.len() as u64 },
        ),
        (Figure::LateChanges, late.len() as u64),
        (Figure::StaleMembers, stale),
        (Figure::LastChangeMs, last_change),
        (Figure::LastOpMs, last_op),
        (Figure::DeadlineMs, deadline),
    ]);
    // How long the group took to settle, from when the last change was
    // asked for (a coordinated member records its op only once the server
    // ordered it): what `commsim report` plots. Views that settled before
    // it have no such time, which is not the same as settling at once.
    let mut measured = measured;
    if last_change >= asked_from {
        measured.insert(Figure::SettledAfterMs, last_change - asked_from);
    }

    let mut problems = Vec::new();
    if diverged {
        problems.push(format!(
            "{} members hold {} different overlapping views",
            considered.len(),
            groups.len()
        ));
    }
    if !late.is_empty() {
        problems.push(format!(
            "{} view change(s) after {deadline} ms (last at {last_change} ms)",
            late.len()
        ));
    }
    if stale > 0 {
        problems.push(format!("{stale} stale member(s) in an agreed view"));
    }
    if !problems.is_empty() {
        // Lead with the failures: they matter more than the views.
        evidence.rotate_left(groups.len());
        return Verdict::new(NAME, Status::Fail, problems.join("; "), evidence, measured);
    }
    let summary = if groups.len() == 1 {
        format!(
            "all {} reachable in-group members hold {} (settled by {last_change} ms, \
             deadline {deadline} ms)",
            considered.len(),
            set(&groups[0].view)
        )
    } else {
        format!(
            "forked into {} islands with disjoint views; each island agrees",
            groups.len()
        )
    };
    Verdict::new(NAME, Status::Pass, summary, evidence, measured)
}

#[cfg(test)]
#[path = "tests/convergence.rs"]
mod tests;
