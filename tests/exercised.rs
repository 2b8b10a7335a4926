//! The shipped scenarios exercise every checker: for each, some scenario's
//! run reaches what its claims are about (a fork, a lie, a forgery, a
//! server failure, a takeover, a removal...). A checker no shipped run
//! exercises would pass every sweep without having judged anything.

use commsim::explore::outcome::RunLine;
use commsim::explore::runner::{Job, run_job};
use commsim::scenario::load_file;
use commsim::trace::CheckId;
use std::collections::BTreeSet;
use std::sync::Arc;

#[test]
fn the_shipped_scenarios_exercise_every_checker() {
    let files = [
        "scenarios/lightweight-islands.toml",
        "scenarios/lightweight-partition-heal.toml",
        "scenarios/coordinated-server-crash.toml",
        "scenarios/coordinated-equivocating-server.toml",
        "scenarios/coordinated-attacker.toml",
        "scenarios/lightweight-concurrent-rename.toml",
    ];
    let mut reached: BTreeSet<CheckId> = BTreeSet::new();
    for file in files {
        let scenario = Arc::new(load_file(std::path::Path::new(file)).unwrap());
        let job = Job {
            file: file.to_owned(),
            scenario: scenario.clone(),
            variant: "lww".parse().unwrap(),
            seed: scenario.seed,
            engine: commsim::sim::Engine::default(),
            explored: None,
        };
        let RunLine::Done(s) = run_job(&job) else {
            panic!("{file} did not run")
        };
        reached.extend(
            s.checks
                .iter()
                .filter(|c| c.reached)
                .map(|c| c.verdict.check),
        );
    }
    let missing: Vec<CheckId> = CheckId::all().filter(|c| !reached.contains(c)).collect();
    assert!(missing.is_empty(), "no shipped run exercises {missing:?}");
}
