//! Sweeps: every (scenario, variant, seed) of a set of scenario files, and
//! the claims judged over the seeds that ran.

use super::outcome::RunLine;
use super::runner::{Job, replay_command};
use crate::core::member::membership::Variant;
use crate::scenario::{ScenarioError, SeedRange, load_file};
use crate::trace::Status;
use crate::trace::{CheckId, Claim};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What to sweep.
#[derive(Clone, Debug, Default)]
pub struct SweepSpec {
    pub paths: Vec<PathBuf>,
    /// Overrides every scenario's own range.
    pub seeds: Option<SeedRange>,
    /// Only this variant, in the scenarios that list it.
    pub variant: Option<Variant>,
    /// `(i, n)`: keep the i-th of n shards (1-based).
    pub shard: Option<(u64, u64)>,
    pub engine: crate::sim::Engine,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    #[error("{path}: {message}")]
    Path { path: String, message: String },
    #[error("{0}")]
    Empty(String),
}

/// Scenario files under `path`: the file itself, or every `.toml` below a
/// folder (regression corpus included), in path order.
pub fn scenario_files(path: &Path) -> Result<Vec<PathBuf>, PlanError> {
    let unreadable = |e: std::io::Error| PlanError::Path {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(unreadable)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(scenario_files(&p)?);
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
    Ok(out)
}

/// Every job of the sweep, in a fixed order (file, variant, seed), then
/// this shard's share of them: job k belongs to shard `k mod n`, so the
/// shards are disjoint, cover the sweep, and are each spread over every
/// scenario rather than holding the slow ones together.
pub fn plan(spec: &SweepSpec) -> Result<Vec<Job>, PlanError> {
    let mut jobs = Vec::new();
    for path in &spec.paths {
        for file in scenario_files(path)? {
            let scenario = Arc::new(load_file(&file)?);
            let seeds = spec.seeds.unwrap_or(scenario.seeds);
            for &variant in &scenario.variants {
                if spec.variant.is_some_and(|v| v != variant) {
                    continue;
                }
                for seed in seeds.iter() {
                    jobs.push(Job {
                        file: file.display().to_string(),
                        scenario: scenario.clone(),
                        variant,
                        seed,
                        engine: spec.engine,
                        explored: None,
                    });
                }
            }
        }
    }
    if jobs.is_empty() {
        let what = match spec.variant {
            Some(v) => format!("no scenario under the given paths lists the variant `{v}`"),
            None => "no scenario files under the given paths".to_owned(),
        };
        return Err(PlanError::Empty(what));
    }
    if let Some((i, n)) = spec.shard {
        let mut k = 0u64;
        jobs.retain(|_| {
            k += 1;
            (k - 1) % n == i - 1
        });
    }
    Ok(jobs)
}

/// One row of the summary: a scenario file under one variant.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub scenario: String,
    pub file: String,
    pub variant: Option<Variant>,
    pub runs: usize,
    pub panics: usize,
    /// Per check: its claim and each seed's answer.
    pub checks: BTreeMap<CheckId, (Claim, Vec<(u64, Status)>)>,
    /// Per claimed check: the runs that reached what it is about.
    pub reached: BTreeMap<CheckId, usize>,
    pub wall_ms: Vec<f64>,
    /// Runs that missed a claim one seed can decide, or panicked.
    pub missed_runs: Vec<MissedRun>,
}

#[derive(Clone, Debug)]
pub struct MissedRun {
    pub replay: String,
    /// What went wrong, one short line per missed claim (or the panic).
    pub why: Vec<String>,
}

/// A claim that did not hold over the seeds that ran.
#[derive(Clone, Debug, PartialEq)]
pub struct MissedClaim {
    pub check: CheckId,
    pub claim: Claim,
    pub note: String,
}

impl Row {
    /// Claims judged over every seed that ran. A `fails-sometimes` claim
    /// cannot be decided by part of a range, so with `partial` (one shard
    /// of a sweep) one whose seeds all passed is left open, not missed.
    pub fn missed_claims(&self, partial: bool) -> Vec<MissedClaim> {
        let mut out = Vec::new();
        for (check, (claim, answers)) in &self.checks {
            let statuses: Vec<Status> = answers.iter().map(|(_, s)| *s).collect();
            if claim.met_over(&statuses) || (partial && *claim == Claim::FailsSometimes) {
                continue;
            }
            let note = match claim {
                Claim::FailsSometimes => format!(
                    "claims fails-sometimes, but none of {} seeds failed",
                    statuses.len()
                ),
                _ => {
                    let off: Vec<String> = answers
                        .iter()
                        .filter(|(_, s)| !claim.met_by(*s))
                        .map(|(seed, s)| format!("{seed} ({})", crate::checkers::status_name(*s)))
                        .collect();
                    format!(
                        "claims {claim}, missed on {} of {} seeds: {}",
                        off.len(),
                        statuses.len(),
                        abbreviate(&off, 8)
                    )
                }
            };
            out.push(MissedClaim {
                check: *check,
                claim: *claim,
                note,
            });
        }
        out
    }

    pub fn claims(&self) -> usize {
        self.checks.len()
    }

    /// Claims of `pass` (or `never-fails`) that held on runs none of which
    /// reached what the claim is about: true, and telling nothing.
    pub fn vacuous(&self) -> Vec<CheckId> {
        (self.checks.iter())
            .filter(|(_, (claim, _))| matches!(claim, Claim::Pass | Claim::NeverFails))
            .filter(|(check, _)| self.reached.get(check).copied().unwrap_or(0) == 0)
            .map(|(check, _)| *check)
            .collect()
    }

    pub fn median_wall_ms(&self) -> f64 {
        let mut w = self.wall_ms.clone();
        w.sort_by(f64::total_cmp);
        w.get(w.len() / 2).copied().unwrap_or(0.0)
    }

    pub fn slowest_wall_ms(&self) -> f64 {
        self.wall_ms.iter().copied().fold(0.0, f64::max)
    }
}

/// The first `max` items, and how many more.
pub fn abbreviate(items: &[String], max: usize) -> String {
    if items.len() <= max {
        items.join(", ")
    } else {
        format!(
            "{}, ... {} more",
            items[..max].join(", "),
            items.len() - max
        )
    }
}

/// Groups run lines into rows, one per (file, variant), in first-seen
/// order. Works the same on live results and on JSON read back from the
/// shards of a sweep.
pub fn tabulate(lines: &[RunLine]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let mut index: BTreeMap<(String, Variant), usize> = BTreeMap::new();
    for line in lines {
        let key = (line.file().to_owned(), line.variant());
        let i = *index.entry(key).or_insert_with(|| {
            rows.push(Row {
                scenario: line.scenario().to_owned(),
                file: line.file().to_owned(),
                variant: Some(line.variant()),
                ..Row::default()
            });
            rows.len() - 1
        });
        let row = &mut rows[i];
        row.runs += 1;
        let replay = replay_command(line.file(), line.seed(), line.variant(), line.engine());
        match line {
            RunLine::Panicked(p) => {
                row.panics += 1;
                row.missed_runs.push(MissedRun {
                    replay,
                    why: vec![format!("panicked: {}", p.panic)],
                });
            }
            RunLine::Done(s) => {
                row.wall_ms.push(s.counts.wall_ms);
                let mut why = Vec::new();
                for c in &s.checks {
                    let Some(claim) = c.expected else { continue };
                    let answers = &mut row
                        .checks
                        .entry(c.verdict.check)
                        .or_insert((claim, Vec::new()))
                        .1;
                    answers.push((s.seed, c.verdict.status));
                    *row.reached.entry(c.verdict.check).or_default() += usize::from(c.reached);
                    if !c.met {
                        why.push(format!(
                            "{} {} (claimed {claim}): {}",
                            c.verdict.check,
                            crate::checkers::status_name(c.verdict.status),
                            c.verdict.summary
                        ));
                    }
                }
                if !s.met() {
                    if why.is_empty() {
                        why.push("an expected check did not run".to_owned());
                    }
                    row.missed_runs.push(MissedRun { replay, why });
                }
            }
        }
    }
    rows
}
