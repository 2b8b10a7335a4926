//! The command line: exit codes, error messages, `check` on a saved trace.

// Links the crate, and with it the getrandom backend tempfile needs.
use commsim as _;
mod common;

use common::commsim;
use std::process::Command;

#[test]
fn a_bad_scenario_names_file_line_and_field_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[topology]\nmembers = 5\nagents = 3\n\n[workload]\nstop = \"30s\"\nmessages_per_s = \"lots\"\n\n[healing]\nperiod = \"5s\"\n").unwrap();
    let out = commsim(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:7:") && err.contains("workload.messages_per_s"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn missing_file_unknown_variant_and_bad_flags_exit_2() {
    assert_eq!(
        commsim(&["run", "scenarios/nope.toml"]).status.code(),
        Some(2)
    );
    let out = commsim(&[
        "run",
        "scenarios/lightweight-islands.toml",
        "--variant",
        "paxos",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("paxos"));
    assert_eq!(
        commsim(&["run", "--seed", "x", "scenarios/lightweight-islands.toml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(commsim(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn run_then_check_the_saved_trace_gives_the_same_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let run = commsim(&[
        "run",
        "scenarios/lightweight-islands.toml",
        "--variant",
        "recipient-list",
        "--trace",
        trace.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let run: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let check = commsim(&["check", trace.to_str().unwrap(), "--json"]);
    let check: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(run["digest"], check["digest"]);
    for (a, b) in run["checks"]
        .as_array()
        .unwrap()
        .iter()
        .zip(check["checks"].as_array().unwrap())
    {
        if a["check"] == "post_removal_secrecy" || a["check"] == "server_blindness" {
            assert_eq!(
                b["status"], "unknown",
                "a trace holds no key material or datagrams"
            );
        } else {
            assert_eq!(a["status"], b["status"], "{}", a["check"]);
        }
    }
}

#[test]
fn an_unmet_expectation_exits_1() {
    // Islands expects recipient-list to miss the fork; asking lww to be judged
    // against the literal rule's expectations is a mismatch.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/lightweight-islands.toml"
    ))
    .unwrap();
    let text = text.replace(
        "[expect.lww]\nconvergence = \"pass\"",
        "[expect.lww]\nconvergence = \"fail\"",
    );
    std::fs::write(&path, text).unwrap();
    let out = commsim(&["run", path.to_str().unwrap(), "--variant", "lww"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("!! convergence"));
}

#[test]
fn a_garbled_trace_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    std::fs::write(&trace, "{\"t\":0,\"host\":\"sim\",\"kind\":\"nonsense\"}\n").unwrap();
    let out = commsim(&["check", trace.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("t.jsonl:1"));
}

/// `commsim run … | head -c 1`: the reader leaves early; commsim must stop
/// quietly, not panic on the closed pipe.
#[test]
fn a_reader_that_leaves_early_is_not_a_panic() {
    use std::io::Read as _;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_commsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "scenarios/lightweight-lossy.toml", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("commsim runs");
    let mut first = [0u8; 1];
    child
        .stdout
        .take()
        .expect("piped")
        .read_exact(&mut first)
        .expect("some output");
    let out = child.wait_with_output().expect("commsim ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}
