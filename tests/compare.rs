//! `commsim compare`: two builds' results on the same scenarios and seeds.
//! The "after" side is made by editing real `sweep --json` output the way
//! a changed build would change it, so no second build is needed.

// Links the crate, and with it the getrandom backend tempfile needs.
use commsim as _;
mod common;

use common::commsim;
use serde_json::Value;
use std::path::Path;

/// `sweep --json` of a small scenario over three seeds, one line per run.
fn sweep(dir: &Path) -> (std::path::PathBuf, Vec<Value>) {
    let out = commsim(&[
        "sweep",
        "scenarios/lightweight-islands.toml",
        "--seeds",
        "1..=3",
        "--variant",
        "lww",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let path = dir.join("before.jsonl");
    std::fs::write(&path, &out.stdout).unwrap();
    let lines = String::from_utf8(out.stdout).unwrap();
    let runs = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (path, runs)
}

fn write(path: &Path, runs: &[Value]) {
    let text: Vec<String> = runs.iter().map(Value::to_string).collect();
    std::fs::write(path, text.join("\n") + "\n").unwrap();
}

fn compare(before: &Path, after: &Path) -> (Option<i32>, String, String) {
    let out = commsim(&["compare", before.to_str().unwrap(), after.to_str().unwrap()]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_same_results_compare_clean() {
    let dir = tempfile::tempdir().unwrap();
    let (before, _) = sweep(dir.path());
    let (code, md, _) = compare(&before, &before);
    assert_eq!(code, Some(0), "{md}");
    assert!(md.contains("matched: 3 runs"), "{md}");
    assert!(md.contains("No claim regressed."), "{md}");
    assert!(md.contains("No claim changed"), "{md}");
    assert!(md.contains("same wire digest"), "{md}");
    assert!(md.contains("No cost moved"), "{md}");
}

/// Seed 2 stops delivering (a claim it held is now missed), seeds 2 and 3
/// behave differently (seed 1 only records differently), and seed 3 sends
/// half as many bytes again: the comparison names all of it, and exits 1
/// for the claim.
#[test]
fn a_changed_build_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let (before, mut runs) = sweep(dir.path());
    for run in &mut runs {
        run["digest"] = Value::from(format!("changed-{}", run["seed"]));
        if run["seed"] != 1 {
            run["wire_digest"] = Value::from(format!("changed-{}", run["seed"]));
        }
        if run["seed"] == 2 {
            run["verdict"] = "fail".into();
            let checks = run["checks"].as_array_mut().unwrap();
            let delivery = checks
                .iter_mut()
                .find(|c| c["check"] == "delivery")
                .unwrap();
            assert_eq!(delivery["expected"], "pass", "pick a claimed checker");
            delivery["status"] = "fail".into();
            delivery["met"] = false.into();
            delivery["summary"] = "1 lost".into();
        }
        if run["seed"] == 3 {
            let bytes = run["counts"]["bytes_on_wire"].as_u64().unwrap();
            run["counts"]["bytes_on_wire"] = (bytes * 3 / 2).into();
        }
    }
    let after = dir.path().join("after.jsonl");
    write(&after, &runs);
    let (code, md, _) = compare(&before, &after);
    assert_eq!(code, Some(1), "{md}");
    assert!(md.contains("**REGRESSED**"), "{md}");
    assert!(
        md.contains("| lightweight-islands | lww | delivery | pass | held | claims pass, missed on 1 of 3 seeds: 2 (fail) **regressed** |"),
        "{md}"
    );
    assert!(md.contains("lightweight-islands [lww] seed 2 (events): `commsim run scenarios/lightweight-islands.toml --seed 2 --variant lww`"), "{md}");
    // Seed 1's trace changed and its wire did not: recorded differently.
    assert!(
        md.contains("1 of 3 matched runs changed their trace digest but not their wire digest"),
        "{md}"
    );
    assert!(
        md.contains("2 of 3 matched runs changed their wire digest"),
        "{md}"
    );
    assert!(
        md.contains("| lightweight-islands | lww | bytes on the wire |"),
        "{md}"
    );
    // The other way round, the claim is met again: no regression.
    let (code, md, _) = compare(&after, &before);
    assert_eq!(code, Some(0), "{md}");
    assert!(md.contains("Runs that newly meet their claims"), "{md}");
}

#[test]
fn unmatched_runs_are_listed_not_judged() {
    let dir = tempfile::tempdir().unwrap();
    let (before, runs) = sweep(dir.path());
    let after = dir.path().join("after.jsonl");
    // By seed, not by position: sweep lines come in completion order.
    let kept: Vec<Value> = runs.into_iter().filter(|r| r["seed"] != 3).collect();
    write(&after, &kept);
    let (code, md, _) = compare(&before, &after);
    assert_eq!(code, Some(0), "{md}");
    assert!(md.contains("matched: 2 runs"), "{md}");
    assert!(md.contains("## Only before"), "{md}");
    assert!(md.contains("lightweight-islands [lww] seed 3"), "{md}");
}

#[test]
fn bad_input_names_file_and_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (before, _) = sweep(dir.path());
    let bad = dir.path().join("bad.jsonl");
    let mut text = std::fs::read_to_string(&before).unwrap();
    text.push_str("{\"not\": \"a run\"}\n");
    std::fs::write(&bad, text).unwrap();
    let (code, _, err) = compare(&before, &bad);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad.jsonl:4: not a run result"), "{err}");
    let (code, _, err) = compare(&before, &dir.path().join("missing.jsonl"));
    assert_eq!(code, Some(2), "{err}");
}

/// Two traces: the first record where they part, with the records
/// before it.
#[test]
fn two_traces_show_where_they_part() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |seed: &str| {
        let path = dir.path().join(format!("t{seed}.jsonl"));
        let out = commsim(&[
            "run",
            "scenarios/lightweight-islands.toml",
            "--variant",
            "lww",
            "--seed",
            seed,
            "--trace",
            path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        path
    };
    let (a, b) = (trace("1"), trace("2"));
    let (code, md, _) = compare(&a, &a);
    assert_eq!(code, Some(0));
    assert!(md.contains("The traces are identical."), "{md}");
    let (code, md, _) = compare(&a, &b);
    assert_eq!(code, Some(0), "a changed trace is no claim");
    assert!(md.contains("They part at record 0 (line 1)"), "{md}");
    let (before, _) = sweep(dir.path());
    let (code, _, err) = compare(&a, &before);
    assert_eq!(code, Some(2));
    assert!(err.contains("compare like with like"), "{err}");
}
