//! Two result sets of the same scenarios and seeds, side by side: which
//! claims changed, which runs behave differently, and which costs moved.
//!
//! Runs are matched by (scenario, variant, engine, seed); only matched
//! runs are judged, so that a claim over a seed range is judged over the
//! same seeds on both sides. Everything here is computed from the typed
//! results; `markdown.rs` only lays it out.

use crate::checkers::Figure;
use crate::core::member::membership::Variant;
use crate::explore::outcome::{RunLine, Summary};
use crate::explore::runner::replay_command;
use crate::explore::sweep::tabulate;
use crate::sim::Engine;
use crate::trace::CheckId;
use std::collections::{BTreeMap, BTreeSet};

/// What identifies a run across two builds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunKey {
    pub scenario: String,
    pub variant: Variant,
    pub engine: Engine,
    pub seed: u64,
}

impl RunKey {
    fn of(line: &RunLine) -> RunKey {
        RunKey {
            scenario: line.scenario().to_owned(),
            variant: line.variant(),
            engine: line.engine(),
            seed: line.seed(),
        }
    }
}

/// One side of the comparison, as its results describe it.
#[derive(Clone, Debug, Default)]
pub struct Side {
    pub label: String,
    pub runs: usize,
    /// The commsim versions and commits its runs name.
    pub builds: BTreeSet<String>,
}

/// A claim over the matched seeds of one (scenario, variant) whose
/// outcome differs: `None` where it held, the reason where it did not.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimChange {
    pub scenario: String,
    pub variant: Variant,
    pub check: CheckId,
    pub claim: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl ClaimChange {
    pub fn regressed(&self) -> bool {
        self.before.is_none() && self.after.is_some()
    }
}

/// A run that met its claims on one side and not on the other.
#[derive(Clone, Debug, PartialEq)]
pub struct RunChange {
    pub key: RunKey,
    pub replay: String,
    /// The claims it missed on the side that missed, one line each.
    pub why: Vec<String>,
}

/// A cost summed over the matched runs of one (scenario, variant).
#[derive(Clone, Debug, PartialEq)]
pub struct CostChange {
    pub scenario: String,
    pub variant: Variant,
    pub figure: &'static str,
    pub before: f64,
    pub after: f64,
}

impl CostChange {
    /// after / before; infinite when only `after` is non-zero.
    pub fn ratio(&self) -> f64 {
        if self.before == 0.0 {
            if self.after == 0.0 {
                1.0
            } else {
                f64::INFINITY
            }
        } else {
            self.after / self.before
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Comparison {
    pub before: Side,
    pub after: Side,
    pub matched: usize,
    pub claims: Vec<ClaimChange>,
    pub newly_missed: Vec<RunChange>,
    pub newly_met: Vec<RunChange>,
    /// Matched runs whose wire digest changed: different datagrams went
    /// on the wire, so the protocol behaved differently on them.
    pub digests_changed: Vec<RunKey>,
    /// Matched runs whose trace changed while the wire did not: the same
    /// protocol run, recorded differently (the trace format, an event
    /// added or renamed).
    pub recording_changed: Vec<RunKey>,
    /// Costs that moved by more than the threshold.
    pub costs: Vec<CostChange>,
    /// Median wall time after / before, per (scenario, variant): shown as
    /// a ratio only, and never judged (the machines are shared).
    pub wall: Vec<(String, Variant, f64)>,
    pub only_before: Vec<RunKey>,
    pub only_after: Vec<RunKey>,
    pub threshold_pct: f64,
}

impl Comparison {
    /// A claim that held before and not after, or a run that met its
    /// claims before and not after.
    pub fn regressed(&self) -> bool {
        self.claims.iter().any(ClaimChange::regressed) || !self.newly_missed.is_empty()
    }
}

/// A cost figure: its name, and how to read it off one run (`None` when
/// the run did not measure it).
type Cost = (&'static str, fn(&Summary) -> Option<f64>);

/// The figures compared, each summed over a row's matched runs that
/// measured it on both sides: a run with no fallback has no fallback time,
/// and counting it as 0 would move the sum for no reason.
const COSTS: [Cost; 16] = [
    ("bytes on the wire", |s| Some(s.counts.bytes_on_wire as f64)),
    ("datagrams", |s| Some(s.counts.datagrams_sent as f64)),
    ("messages sent", |s| Some(s.counts.messages_sent as f64)),
    ("deliveries", |s| Some(s.counts.deliveries as f64)),
    ("Olm operations", |s| Some(s.counts.crypto_ops_total as f64)),
    ("MLS operations", |s| {
        let m = &s.counts.mls_ops;
        let all = m.commits + m.commits_processed + m.welcomes_joined + m.encryptions;
        Some((all + m.decryptions) as f64)
    }),
    ("trace events", |s| Some(s.counts.trace_events as f64)),
    ("delivery latency, p99 (ms)", |s| {
        Some(s.counts.delivery_latency.p99_ms as f64)
    }),
    ("convergence time (ms)", |s| {
        measured(s, CheckId::Convergence, Figure::LastChangeMs)
    }),
    ("fallback time, worst (ms)", |s| {
        measured(s, CheckId::Fallback, Figure::FallbackLatencyMaxMs)
    }),
    // What recovery costs and leaves behind (the recovery issue's
    // figures): a protocol change that recovers slower, or loses or
    // drops more, shows here even while its claims still hold.
    ("takeover time, worst (ms)", |s| {
        measured(s, CheckId::Fallback, Figure::TakeoverLatencyMaxMs)
    }),
    ("recovery after a fault or detection, worst (ms)", |s| {
        measured(s, CheckId::Delivery, Figure::RecoveredAfterMs)
    }),
    ("deliveries recovered late", |s| {
        measured(s, CheckId::Delivery, Figure::RecoveredLate)
    }),
    ("acknowledged deliveries lost", |s| {
        measured(s, CheckId::Delivery, Figure::Lost)
    }),
    ("ops neither applied nor refused", |s| {
        measured(s, CheckId::MembershipIntent, Figure::PlannedDropped)
    }),
    ("needless fallbacks", |s| {
        measured(s, CheckId::NeedlessFallback, Figure::Needless)
    }),
];

fn measured(s: &Summary, check: CheckId, figure: Figure) -> Option<f64> {
    s.figure(check, figure).map(|v| v as f64)
}

/// Compares `after` with `before`; a cost is reported when its sum moved
/// by more than `threshold_pct` percent.
pub fn compare(
    (before_label, before): (&str, &[RunLine]),
    (after_label, after): (&str, &[RunLine]),
    threshold_pct: f64,
) -> Comparison {
    let index = |lines: &[RunLine]| -> BTreeMap<RunKey, usize> {
        (lines.iter().enumerate())
            .map(|(i, l)| (RunKey::of(l), i))
            .collect()
    };
    let (bi, ai) = (index(before), index(after));
    let matched: Vec<(&RunKey, &RunLine, &RunLine)> = (bi.iter())
        .filter_map(|(k, b)| Some((k, &before[*b], &after[*ai.get(k)?])))
        .collect();
    let mut c = Comparison {
        before: side(before_label, before),
        after: side(after_label, after),
        matched: matched.len(),
        only_before: bi.keys().filter(|k| !ai.contains_key(k)).cloned().collect(),
        only_after: ai.keys().filter(|k| !bi.contains_key(k)).cloned().collect(),
        threshold_pct,
        ..Comparison::default()
    };
    for (key, b, a) in &matched {
        let (bm, am) = (met(b), met(a));
        if bm && !am {
            c.newly_missed.push(change(key, a));
        } else if !bm && am {
            c.newly_met.push(change(key, b));
        }
        if let (RunLine::Done(b), RunLine::Done(a)) = (b, a) {
            if b.wire_digest != a.wire_digest {
                c.digests_changed.push((*key).clone());
            } else if b.digest != a.digest {
                c.recording_changed.push((*key).clone());
            }
        }
    }
    c.claims = claim_changes(&matched);
    (c.costs, c.wall) = costs(&matched, threshold_pct);
    c
}

fn side(label: &str, lines: &[RunLine]) -> Side {
    let builds = lines.iter().map(|l| {
        let p = match l {
            RunLine::Done(s) => &s.provenance,
            RunLine::Panicked(p) => &p.provenance,
        };
        match &p.git_commit {
            Some(commit) => format!("commsim {} ({commit})", p.commsim_version),
            None => format!("commsim {}", p.commsim_version),
        }
    });
    Side {
        label: label.to_owned(),
        runs: lines.len(),
        builds: builds.collect(),
    }
}

fn met(line: &RunLine) -> bool {
    matches!(line, RunLine::Done(s) if s.met())
}

fn change(key: &RunKey, missed: &RunLine) -> RunChange {
    let why = match missed {
        RunLine::Panicked(p) => vec![format!("panicked: {}", p.panic)],
        RunLine::Done(s) => (s.checks.iter())
            .filter(|c| !c.met)
            .map(|c| {
                let claim = c.expected.map(|e| e.to_string()).unwrap_or_default();
                format!(
                    "{} {} (claimed {claim}): {}",
                    c.verdict.check,
                    crate::checkers::status_name(c.verdict.status),
                    c.verdict.summary
                )
            })
            .collect(),
    };
    RunChange {
        key: key.clone(),
        replay: replay_command(missed.file(), key.seed, key.variant, key.engine),
        why,
    }
}

/// Claims judged over the matched seeds on each side, as a sweep judges
/// them, and those whose outcome differs.
fn claim_changes(matched: &[(&RunKey, &RunLine, &RunLine)]) -> Vec<ClaimChange> {
    let judged = |lines: Vec<RunLine>| {
        let mut out: BTreeMap<(String, Variant, CheckId), (String, Option<String>)> =
            BTreeMap::new();
        for row in tabulate(&lines) {
            let Some(variant) = row.variant else { continue };
            let missed = row.missed_claims(false);
            for (check, (claim, _)) in &row.checks {
                let why = missed
                    .iter()
                    .find(|m| m.check == *check)
                    .map(|m| m.note.clone());
                out.insert(
                    (row.scenario.clone(), variant, *check),
                    (claim.to_string(), why),
                );
            }
        }
        out
    };
    let before = judged(matched.iter().map(|(_, b, _)| (*b).clone()).collect());
    let after = judged(matched.iter().map(|(_, _, a)| (*a).clone()).collect());
    let keys: BTreeSet<_> = before.keys().chain(after.keys()).cloned().collect();
    keys.into_iter()
        .filter_map(|key| {
            let (b, a) = (before.get(&key), after.get(&key));
            let claim = a.or(b)?.0.clone();
            let b = b.and_then(|(_, why)| why.clone());
            let a = a.and_then(|(_, why)| why.clone());
            let (scenario, variant, check) = key;
            (b != a).then_some(ClaimChange {
                scenario,
                variant,
                check,
                claim,
                before: b,
                after: a,
            })
        })
        .collect()
}

type Row = (String, Variant);

fn costs(
    matched: &[(&RunKey, &RunLine, &RunLine)],
    threshold_pct: f64,
) -> (Vec<CostChange>, Vec<(String, Variant, f64)>) {
    let mut sums: BTreeMap<Row, Vec<(f64, f64)>> = BTreeMap::new();
    let mut walls: BTreeMap<Row, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for (key, b, a) in matched {
        let (RunLine::Done(b), RunLine::Done(a)) = (b, a) else {
            continue;
        };
        let row = (key.scenario.clone(), key.variant);
        let s = sums
            .entry(row.clone())
            .or_insert_with(|| vec![(0.0, 0.0); COSTS.len()]);
        for (i, (_, cost)) in COSTS.iter().enumerate() {
            if let (Some(before), Some(after)) = (cost(b), cost(a)) {
                s[i].0 += before;
                s[i].1 += after;
            }
        }
        let w = walls.entry(row).or_default();
        w.0.push(b.counts.wall_ms);
        w.1.push(a.counts.wall_ms);
    }
    let mut moved = Vec::new();
    for ((scenario, variant), s) in sums {
        for (i, (before, after)) in s.into_iter().enumerate() {
            let c = CostChange {
                scenario: scenario.clone(),
                variant,
                figure: COSTS[i].0,
                before,
                after,
            };
            if (c.ratio() - 1.0).abs() * 100.0 > threshold_pct {
                moved.push(c);
            }
        }
    }
    let wall = (walls.into_iter())
        .map(|((scenario, variant), (b, a))| {
            let (mb, ma) = (median(b), median(a));
            let ratio = if mb > 0.0 { ma / mb } else { 1.0 };
            (scenario, variant, ratio)
        })
        .collect();
    (moved, wall)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}
