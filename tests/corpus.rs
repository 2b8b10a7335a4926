//! Every scenario under `scenarios/`, the regression corpus in
//! `scenarios/regressions/` included, as its own test named by its file,
//! so that a failure names the scenario and the files run on every core.
//!
//! A scenario's claims are over its seed range; `commsim sweep scenarios/`
//! judges them on every seed. `cargo test` samples the range so that it
//! stays quick: the file's `seed` and the first and last seeds of the
//! range. A `fails-sometimes` claim that no sampled seed shows is searched
//! for through the rest of the range, and the test fails if no seed shows
//! it. `COMMSIM_TEST_SEEDS=all` runs every seed of every range instead.
//!
//! Scenarios of more than [`SWEEP_ONLY_MEMBERS`] members (the 1,000-member
//! coordinated group) take minutes and gigabytes a run: they are listed
//! as ignored, judged by `commsim sweep`, and run here with `--ignored`.

use commsim::explore::outcome::RunLine;
use commsim::explore::runner::{Job, run_job};
use commsim::explore::sweep::{scenario_files, tabulate};
use commsim::scenario::{Scenario, load_file};
use commsim::trace::Claim;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::Path;
use std::sync::Arc;

/// Above this many members a scenario belongs in sweeps and benches.
const SWEEP_ONLY_MEMBERS: u32 = 500;

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = scenario_files(&root.join("scenarios")).expect("scenarios/ is readable");
    assert!(files.len() >= 6, "{files:?}");
    let every_seed = std::env::var("COMMSIM_TEST_SEEDS").is_ok_and(|v| v == "all");
    let trials = files
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            let heavy = load_file(&path).is_ok_and(|s| s.topology.members > SWEEP_ONLY_MEMBERS);
            Trial::test(name.clone(), move || check_file(&name, &path, every_seed))
                .with_ignored_flag(heavy)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn check_file(name: &str, path: &Path, every_seed: bool) -> Result<(), Failed> {
    let scenario = Arc::new(load_file(path).map_err(|e| e.to_string())?);
    let mut failures = Vec::new();
    for &variant in &scenario.variants {
        let job = |seed| Job {
            engine: commsim::sim::Engine::default(),
            file: name.to_owned(),
            scenario: scenario.clone(),
            variant,
            seed,
            explored: None,
        };
        let seeds = sampled_seeds(&scenario, every_seed);
        let mut lines: Vec<RunLine> = seeds.iter().map(|&s| run_job(&job(s))).collect();
        if !every_seed && wants_a_failure(&scenario, variant, &lines) {
            for seed in scenario.seeds.iter().filter(|s| !seeds.contains(s)) {
                lines.push(run_job(&job(seed)));
                if !wants_a_failure(&scenario, variant, &lines) {
                    break;
                }
            }
        }
        for line in &lines {
            if let RunLine::Done(s) = line
                && s.counts.unseeded_draws != 0
            {
                failures.push(format!("seed {}: randomness not from the seed", s.seed));
            }
        }
        for row in tabulate(&lines) {
            for m in row.missed_claims(false) {
                failures.push(format!("[{variant}] {}: {}", m.check, m.note));
            }
            for run in row.missed_runs {
                failures.push(format!(
                    "[{variant}] {}: {}",
                    run.replay,
                    run.why.join("; ")
                ));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n").into())
    }
}

fn sampled_seeds(s: &Scenario, every_seed: bool) -> Vec<u64> {
    if every_seed {
        return s.seeds.iter().collect();
    }
    let mut seeds = vec![s.seed, s.seeds.first, s.seeds.last];
    seeds.sort();
    seeds.dedup();
    seeds
}

/// Whether some `fails-sometimes` claim has not yet seen its failure.
fn wants_a_failure(
    s: &Scenario,
    variant: commsim::core::member::membership::Variant,
    lines: &[RunLine],
) -> bool {
    let Some(expect) = s.expect.get(&variant) else {
        return false;
    };
    expect
        .iter()
        .filter(|(_, claim)| **claim == Claim::FailsSometimes)
        .any(|(check, _)| {
            !lines.iter().any(|l| match l {
                RunLine::Done(s) => s.checks.iter().any(|c| {
                    &c.verdict.check == check && c.verdict.status == commsim::trace::Status::Fail
                }),
                RunLine::Panicked(_) => false,
            })
        })
}
