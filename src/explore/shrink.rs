//! Shrinking: a failing run reduced, greedily, to a smaller scenario that
//! fails the same check. The same checker must answer `fail` where `pass`
//! is claimed; a candidate that fails some other way, or panics, does not
//! count, so the result is a reproduction of the original failure and not
//! of something the shrinking broke.

use super::emit::to_toml;
use super::outcome::{RunLine, Summary};
use super::reduce::{Size, candidates};
use super::runner::{Job, run_all, run_job};
use crate::core::member::membership::Variant;
use crate::scenario::Scenario;
use crate::trace::Status;
use crate::trace::{CheckId, Claim};
use std::sync::Arc;

pub struct ShrinkSpec {
    /// The scenario file, as named on the command line.
    pub file: String,
    pub scenario: Scenario,
    pub seed: u64,
    pub variant: Variant,
    pub engine: crate::sim::Engine,
    /// The check to keep failing; by default the first one that fails
    /// where `pass` is claimed.
    pub check: Option<CheckId>,
    /// Runs at once.
    pub threads: usize,
    /// When no smaller scenario fails on the current seed, try each on
    /// this many other seeds: the failure may need a timing that another
    /// seed gives.
    pub other_seeds: u64,
    /// Stop after this many simulations.
    pub max_runs: usize,
}

pub struct Shrunk {
    /// The smallest scenario found, with its seed fixed.
    pub scenario: Scenario,
    pub seed: u64,
    pub check: CheckId,
    /// What the check answers: `fail`, or `unknown` where pass is claimed.
    pub answer: Status,
    /// The check's summary and first line of evidence on the shrunk run.
    pub evidence: String,
    pub before: Size,
    pub after: Size,
    pub runs: usize,
    pub steps: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error(
        "seed {seed} [{variant}] misses no check claimed to pass (none fails, none answers unknown where pass is claimed); nothing to shrink"
    )]
    NoFailure { seed: u64, variant: Variant },
    #[error("`{check}` does not miss its claim on seed {seed} [{variant}] (it answers {status})")]
    NotFailing {
        check: CheckId,
        seed: u64,
        variant: Variant,
        status: String,
    },
    #[error("the original run did not complete: {0}")]
    Broken(String),
}

/// Shrinks; `progress` is called after each batch of candidates with the
/// runs so far and the current size.
pub fn shrink(spec: &ShrinkSpec, progress: impl Fn(usize, Size)) -> Result<Shrunk, ShrinkError> {
    let first = run_job(&job(spec, &spec.scenario, spec.seed));
    let summary = match &first {
        RunLine::Done(s) => s,
        RunLine::Panicked(p) => return Err(ShrinkError::Broken(p.panic.clone())),
    };
    let (check, answer) = target_check(spec, summary)?;
    let mut current = spec.scenario.clone();
    let mut seed = spec.seed;
    let mut last = first;
    let (mut runs, mut steps) = (1, 0);
    'outer: while runs < spec.max_runs {
        let cands = candidates(&current);
        // Current seed first, then other seeds for the same candidates.
        let seeds: Vec<u64> = std::iter::once(seed)
            .chain((1..=spec.other_seeds).map(|k| seed.wrapping_add(k)))
            .collect();
        for &try_seed in &seeds {
            let batch = spec.threads.max(1) * 2;
            for chunk in cands.chunks(batch) {
                if runs >= spec.max_runs {
                    break 'outer;
                }
                let jobs: Vec<Job> = chunk.iter().map(|c| job(spec, c, try_seed)).collect();
                let lines = run_all(&jobs, spec.threads, |_, _| {});
                runs += jobs.len();
                // The first in candidate order, whatever finished first,
                // so the result does not depend on the number of threads.
                if let Some(i) = lines.iter().position(|l| answers(l, check, answer)) {
                    current = chunk[i].clone();
                    seed = try_seed;
                    last = lines[i].clone();
                    steps += 1;
                    progress(runs, Size::of(&current));
                    continue 'outer;
                }
                progress(runs, Size::of(&current));
            }
        }
        break;
    }
    let evidence = match &last {
        RunLine::Done(s) => evidence_line(s, check),
        RunLine::Panicked(p) => p.panic.clone(),
    };
    current.seed = seed;
    current.seeds = crate::scenario::SeedRange {
        first: seed,
        last: seed,
    };
    current.variants = vec![spec.variant];
    current.expect.retain(|v, _| *v == spec.variant);
    Ok(Shrunk {
        before: Size::of(&spec.scenario),
        after: Size::of(&current),
        scenario: current,
        seed,
        check,
        answer,
        evidence,
        runs,
        steps,
    })
}

fn job(spec: &ShrinkSpec, s: &Scenario, seed: u64) -> Job {
    Job {
        file: spec.file.clone(),
        scenario: Arc::new(s.clone()),
        variant: spec.variant,
        seed,
        engine: spec.engine,
        explored: None,
    }
}

/// The check to keep missing, and its answer: `fail`, or `unknown` where
/// `pass` is claimed (a checker that can no longer tell is a miss too).
fn target_check(spec: &ShrinkSpec, s: &Summary) -> Result<(CheckId, Status), ShrinkError> {
    // A checker claimed never to fail: `pass`, or explore's `never-fails`.
    let claimed_pass = |c: &super::outcome::Check| {
        c.expected
            .is_none_or(|e| matches!(e, Claim::Pass | Claim::NeverFails))
    };
    let missed = |c: &super::outcome::Check| {
        c.verdict.status == Status::Fail
            || (c.verdict.status == Status::Unknown && c.expected == Some(Claim::Pass))
    };
    match spec.check {
        Some(name) => {
            let found = s.checks.iter().find(|c| c.verdict.check == name);
            let status = found.map_or(Status::Unknown, |c| c.verdict.status);
            if found.is_some_and(missed) {
                Ok((name, status))
            } else {
                Err(ShrinkError::NotFailing {
                    check: name,
                    seed: spec.seed,
                    variant: spec.variant,
                    status: crate::checkers::status_name(status).to_owned(),
                })
            }
        }
        None => s
            .checks
            .iter()
            .find(|c| missed(c) && claimed_pass(c))
            .map(|c| (c.verdict.check, c.verdict.status))
            .ok_or(ShrinkError::NoFailure {
                seed: spec.seed,
                variant: spec.variant,
            }),
    }
}

fn answers(line: &RunLine, check: CheckId, answer: Status) -> bool {
    matches!(line, RunLine::Done(s) if s.checks.iter().any(|c| c.verdict.check == check && c.verdict.status == answer))
}

fn evidence_line(s: &Summary, check: CheckId) -> String {
    let Some(c) = s.checks.iter().find(|c| c.verdict.check == check) else {
        return String::new();
    };
    match c.verdict.evidence.first() {
        Some(e) => format!("{}; {}", c.verdict.summary, e.note),
        None => c.verdict.summary.clone(),
    }
}

impl Shrunk {
    /// The scenario file to write: an ordinary scenario whose header says
    /// what failed, with a line of evidence, and where it came from.
    pub fn to_toml(&self, origin: &str) -> String {
        let header = format!(
            "{origin}\n\n{} {}: {}\n\nshrunk in {} steps ({} runs)\nbefore: {}\nafter:  {}\n\n\
             Replay: commsim run <this file>. Once the protocol is fixed, it passes;\n\
             move it to scenarios/regressions/ to keep it fixed.",
            self.check,
            self.what(),
            self.evidence,
            self.steps,
            self.runs,
            self.before,
            self.after
        );
        to_toml(&self.scenario, &header)
    }

    /// "fails", or "answers unknown" where pass is claimed.
    pub fn what(&self) -> &'static str {
        match self.answer {
            Status::Unknown => "answers unknown (pass claimed)",
            _ => "fails",
        }
    }

    /// `<scenario>-<check>-seed<N>.toml`
    pub fn file_name(&self, scenario: &str) -> String {
        format!("{scenario}-{}-seed{}.toml", self.check, self.seed)
    }
}
