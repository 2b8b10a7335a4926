//! `commsim shrink` and `commsim explore`: failures reduced to scenario
//! files that load, reproduce, and are smaller than what they came from.

mod common;

use common::commsim;
use commsim::scenario::load_file;

const TINY: &str = "tests/fixtures/sweep/tiny.toml";

#[test]
fn shrink_writes_a_smaller_scenario_that_fails_the_same_check() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("shrunk.toml");
    let out = out_path.to_str().unwrap();
    // recipient-list fails convergence on seed 2, where pass is claimed.
    let s = commsim(&[
        "shrink",
        TINY,
        "--seed",
        "2",
        "--variant",
        "recipient-list",
        "-o",
        out,
    ]);
    let err = String::from_utf8_lossy(&s.stderr);
    assert_eq!(s.status.code(), Some(0), "{err}");
    assert!(
        err.contains("convergence fails") && err.contains("before:"),
        "{err}"
    );
    let text = std::fs::read_to_string(&out_path).unwrap();
    assert!(text.starts_with("# Shrunk by `commsim shrink"), "{text}");
    assert!(text.contains("# convergence fails: "), "{text}");
    let shrunk = load_file(&out_path).unwrap();
    let original = load_file(std::path::Path::new(TINY)).unwrap();
    assert!(shrunk.topology.members <= original.topology.members);
    assert!(
        shrunk.faults.len() + shrunk.workload.ops.len() < 3,
        "{text}"
    );
    // It reproduces: the run misses its pass claim on convergence.
    let run = commsim(&["run", out]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("!! convergence"), "{stdout}");
}

#[test]
fn shrink_says_when_there_is_nothing_to_shrink() {
    let s = commsim(&["shrink", TINY, "--seed", "1", "--variant", "lww"]);
    let err = String::from_utf8_lossy(&s.stderr);
    assert_eq!(s.status.code(), Some(2), "{err}");
    assert!(err.contains("nothing to shrink"), "{err}");
    let s = commsim(&["shrink", TINY, "--seed", "1", "--check", "delivery"]);
    assert_eq!(s.status.code(), Some(2));
}

#[test]
fn explore_finds_and_shrinks_the_weak_variant() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let e = commsim(&[
        "explore",
        TINY,
        "--seeds",
        "1..=4",
        "--variant",
        "recipient-list",
        "--out",
        out,
    ]);
    let err = String::from_utf8_lossy(&e.stderr);
    assert_eq!(e.status.code(), Some(1), "{err}");
    assert!(err.contains("replay: commsim explore"), "{err}");
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    assert!(!files.is_empty(), "{err}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.contains("on exploring seed"), "{text}");
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let s = load_file(&f).unwrap();
        assert!(name.starts_with("tiny-"), "{name}");
        assert_eq!(s.seeds.len(), 1, "a fixed seed");
        assert_eq!(
            commsim(&["run", f.to_str().unwrap()]).status.code(),
            Some(1),
            "{name}"
        );
    }
}

#[test]
fn explore_holds_lww_to_pass_and_plans_are_replayable() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let args = [
        "explore",
        TINY,
        "--seeds",
        "1..=3",
        "--variant",
        "lww",
        "--no-shrink",
        "--out",
        out,
    ];
    let a = commsim(&args);
    let b = commsim(&args);
    assert_eq!(a.stderr, b.stderr, "the same seeds draw the same plans");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "--no-shrink writes nothing"
    );
    let json = commsim(&[
        "explore",
        TINY,
        "--seeds",
        "1..=2",
        "--no-shrink",
        "--json",
        "--out",
        out,
    ]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "two seeds, two variants");
    assert!(
        lines
            .iter()
            .all(|l| l["checks"].as_array().unwrap().len() == 14)
    );
    let bad = commsim(&["explore", TINY, "--variant", "lww-wallclock"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// Guided explore is a function of the seed range: the same plans, the
/// same runs and the same coverage whatever `--jobs` is. Its `--json`
/// lines carry each run's exploring seed, the states it reached and the
/// plan, and a plan written out runs again as the run it was.
#[test]
fn guided_explore_is_jobs_independent_and_carries_its_plans() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let run = |jobs: &str| {
        let args = [
            "explore",
            TINY,
            "--seeds",
            "1..=40",
            "--variant",
            "lww",
            "--no-shrink",
            "--json",
            "--jobs",
            jobs,
            "--out",
            out,
        ];
        let o = commsim(&args);
        let mut lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        lines.sort_by_key(|l| l["exploring_seed"].as_u64());
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let coverage = err
            .lines()
            .find(|l| l.starts_with("coverage:"))
            .map(str::to_owned);
        (lines, coverage, err)
    };
    let (one, cov1, err) = run("1");
    let (two, cov2, _) = run("2");
    assert_eq!(one.len(), 40, "{err}");
    let digests = |ls: &[serde_json::Value]| -> Vec<String> {
        ls.iter()
            .map(|l| l["digest"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(digests(&one), digests(&two));
    assert_eq!(cov1, cov2);
    assert!(
        cov1.is_some_and(|c| c.contains("plans kept in the corpus")),
        "{err}"
    );
    // Seeds past the first batch of 32 mutate the corpus: some run on
    // another plan's seed.
    assert!(
        one.iter().any(|l| l["seed"] != l["exploring_seed"]),
        "no mutated plan in 40 seeds"
    );
    assert!(
        one.iter()
            .all(|l| !l["features"].as_array().unwrap().is_empty())
    );
    // A mutated plan, written out, runs again as the run it was.
    let l = (one.iter())
        .find(|l| l["seed"] != l["exploring_seed"])
        .unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(&plan, l["plan"].as_str().unwrap()).unwrap();
    let again = commsim(&["run", plan.to_str().unwrap(), "--variant", "lww", "--json"]);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        again["digest"], l["digest"],
        "plan of seed {}",
        l["exploring_seed"]
    );
}
