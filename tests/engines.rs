//! Both engines meet every shipped scenario's claims. The corpus test runs
//! every scenario on the default engine (events); this one runs the
//! top-level scenarios on turmoil at each file's own seed.
//! `commsim sweep scenarios/ --engine turmoil` judges the whole ranges.

use commsim::explore::outcome::RunLine;
use commsim::explore::runner::{Job, run_job};
use commsim::scenario::load_file;
use commsim::sim::Engine;
use std::path::Path;
use std::sync::Arc;

/// The large scenarios belong in sweeps, not in `cargo test`, on turmoil.
const HEAVY: [&str; 4] = [
    "coordinated-large.toml",
    "coordinated-steady.toml",
    "lightweight-large-group.toml",
    "lightweight-large.toml",
];

#[test]
fn every_top_level_scenario_meets_its_claims_on_turmoil() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .expect("scenarios/ is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| !HEAVY.iter().any(|h| p.ends_with(h)))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "{files:?}");
    let mut missed = Vec::new();
    for path in files {
        let scenario = Arc::new(load_file(&path).expect("loads"));
        for &variant in &scenario.variants {
            let job = Job {
                file: path.display().to_string(),
                scenario: scenario.clone(),
                variant,
                seed: scenario.seed,
                engine: Engine::Turmoil,
                explored: None,
            };
            match run_job(&job) {
                RunLine::Done(s) if s.met() => {}
                RunLine::Done(s) => {
                    let why: Vec<_> = s
                        .checks
                        .iter()
                        .filter(|c| !c.met)
                        .map(|c| format!("{} {:?}", c.verdict.check, c.verdict.status))
                        .collect();
                    missed.push(format!("{}: {why:?}", job.replay()));
                }
                RunLine::Panicked(p) => missed.push(format!("{}: {}", job.replay(), p.panic)),
            }
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
}
