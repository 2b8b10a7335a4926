//! The command line: exit codes, error messages, `check` on a saved trace.

// Links the crate, and with it the getrandom backend tempfile needs.
use commsim as _;
mod common;

use common::commsim;
use std::path::{Path, PathBuf};
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
        if a["check"] == "server_blindness" {
            assert_eq!(b["status"], "unknown", "a trace holds no datagrams");
        } else if a["check"] == "post_removal_secrecy" {
            // No key material in a trace: it can only fail on what the
            // removed member was shown, and never pass.
            let from_trace = b["status"].as_str().unwrap();
            assert!(
                from_trace == "unknown" || from_trace == a["status"],
                "{from_trace} on the trace, {} on the run",
                a["status"]
            );
        } else {
            assert_eq!(a["status"], b["status"], "{}", a["check"]);
        }
    }
}

/// lightweight-islands, claiming that lww (its second variant) fails to
/// converge, which it does not: a run whose verdict is FAIL.
fn wrong_claim(dir: &Path) -> PathBuf {
    let path = dir.join("s.toml");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/lightweight-islands.toml"
    ))
    .unwrap();
    let text = text.replace(
        "[expect.lww]\nconvergence = \"pass\"",
        "[expect.lww]\nconvergence = \"fail\"",
    );
    assert!(text.contains("convergence = \"fail\""));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn an_unmet_expectation_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = wrong_claim(dir.path());
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

/// `commsim run … | head -1` on a failing run: the reader leaves after the
/// first variant's first line, the second variant's output meets a closed
/// pipe, and the exit code must still be the verdict's.
#[test]
fn a_reader_that_leaves_early_does_not_hide_a_fail() {
    use std::io::BufRead as _;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let path = wrong_claim(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_commsim"))
        .args(["run", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("commsim runs");
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut first)
        .expect("some output");
    assert!(first.contains("variant recipient-list"), "{first}");
    let out = child.wait_with_output().expect("commsim ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
}

fn run_traced(scenario: &str, variant: &str, trace: &Path) -> std::process::Output {
    commsim(&[
        "run",
        scenario,
        "--variant",
        variant,
        "--trace",
        trace.to_str().unwrap(),
    ])
}

#[test]
fn check_skips_what_a_trace_cannot_judge_and_gives_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let run = run_traced("scenarios/lightweight-partition-heal.toml", "lww", &trace);
    assert_eq!(run.status.code(), Some(0));
    let out = commsim(&["check", trace.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("-- server_blindness       skipped"), "{text}");
    assert!(
        text.contains("verdict: PASS (10 claims met; 2 checkers had no expectation; not judged, a trace cannot: post_removal_secrecy, server_blindness)"),
        "{text}"
    );

    // A trace whose claims are missed fails.
    let missed = dir.path().join("missed.jsonl");
    let scenario = wrong_claim(dir.path());
    assert_eq!(
        run_traced(scenario.to_str().unwrap(), "lww", &missed)
            .status
            .code(),
        Some(1)
    );
    let out = commsim(&["check", missed.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("!! convergence") && text.contains("verdict: FAIL"));
}

#[test]
fn a_variant_with_nothing_claimed_is_not_a_pass() {
    let args = [
        "run",
        "scenarios/lightweight-islands.toml",
        "--variant",
        "lww-wallclock",
    ];
    let out = commsim(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("verdict: NOTHING CLAIMED"), "{text}");
    assert!(!text.contains("PASS"), "{text}");
    let out = commsim(&[&args[..], &["--json"]].concat());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "unknown");
}

#[test]
fn the_trace_never_overwrites_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = wrong_claim(dir.path());
    let before = std::fs::read(&scenario).unwrap();
    // The same file, spelt another way.
    let other = dir.path().join(".").join("s.toml");
    let out = run_traced(scenario.to_str().unwrap(), "lww", &other);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("that is the scenario file"), "{err}");
    assert_eq!(std::fs::read(&scenario).unwrap(), before);
}

#[test]
fn an_unwritable_trace_path_fails_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("no such folder").join("t.jsonl");
    let out = run_traced("scenarios/lightweight-islands.toml", "lww", &trace);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot write there"), "{err}");
    assert!(out.stdout.is_empty(), "the run should not have started");
}

/// A trace of lightweight-islands under lww, saved in `dir`: its path and
/// text.
fn islands_trace(dir: &Path) -> (PathBuf, String) {
    let path = dir.join("t.jsonl");
    let run = run_traced("scenarios/lightweight-islands.toml", "lww", &path);
    assert_eq!(run.status.code(), Some(0));
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

/// Every way of tampering with a saved trace that `check` used to accept.
#[test]
fn a_tampered_trace_is_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = islands_trace(dir.path());
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len();
    let first = lines[0];
    let emptied = format!(
        "{}\"expect\":{{}}}}",
        &first[..first.find("\"expect\":{").unwrap()]
    );
    let cases = [
        (
            "joined",
            format!("{text}{text}"),
            format!(":{}: text after the seal", n + 1),
        ),
        (
            "acks deleted",
            lines
                .iter()
                .filter(|l| !l.contains(r#""kind":"delivery_acked""#))
                .map(|l| format!("{l}\n"))
                .collect(),
            "the seal counts".into(),
        ),
        (
            "expectations emptied",
            text.replacen(first, &emptied, 1),
            format!(":{n}: the {} lines before the seal do not give", n - 1),
        ),
        (
            "cut short",
            text[..text.len() - lines[n - 1].len() - 1].to_owned(),
            format!(":{}: the trace ends without its seal", n - 1),
        ),
    ];
    for (what, tampered, message) in cases {
        let path = dir.path().join("tampered.jsonl");
        std::fs::write(&path, tampered).unwrap();
        let out = commsim(&["check", path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains(&message), "{what}: {err}");
    }
}

/// Resealing does not launder a join, and a trace that claims nothing is
/// not a pass.
#[test]
fn a_resealed_trace_still_holds_one_run_and_its_claims() {
    use commsim::trace::{Event, Trace};
    let dir = tempfile::tempdir().unwrap();
    let (path, text) = islands_trace(dir.path());
    let mut trace = Trace::read("t", text.as_bytes()).unwrap().trace;
    let check = |t: &Trace| {
        std::fs::write(&path, t.to_sealed_jsonl()).unwrap();
        commsim(&["check", path.to_str().unwrap()])
    };

    let mut joined = trace.clone();
    joined.records.extend(trace.records.clone());
    let out = check(&joined);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a second `run_started`"));

    if let Event::RunStarted { expect, .. } = &mut trace.records[0].event {
        expect.clear();
    }
    let out = check(&trace);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("verdict: NOTHING CLAIMED"), "{text}");
}

/// `--trace -` puts the sealed trace on stdout, and the summary a person
/// reads on stderr; a trace per variant would not be one trace.
#[test]
fn trace_to_stdout_moves_the_summary_to_stderr() {
    let out = commsim(&[
        "run",
        "scenarios/lightweight-islands.toml",
        "--variant",
        "lww",
        "--trace",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("t.jsonl");
    std::fs::write(&saved, &out.stdout).unwrap();
    let check = commsim(&["check", saved.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{check:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("verdict: PASS"));
    let both = commsim(&["run", "scenarios/lightweight-islands.toml", "--trace", "-"]);
    assert_eq!(both.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&both.stderr).contains("name a --variant"));
}

/// -v logs what the command does to stderr; stdout is unchanged.
#[test]
fn verbose_logs_to_stderr_only() {
    let args = [
        "run",
        "scenarios/lightweight-islands.toml",
        "--variant",
        "lww",
        "--json",
    ];
    let quiet = commsim(&args);
    let mut loud_args = vec!["-vv"];
    loud_args.extend(args);
    let loud = commsim(&loud_args);
    assert_eq!(loud.status.code(), Some(0));
    let digest = |o: &std::process::Output| {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["digest"].clone()
    };
    assert_eq!(digest(&quiet), digest(&loud));
    let err = String::from_utf8_lossy(&loud.stderr);
    assert!(
        err.contains("running scenarios/lightweight-islands.toml"),
        "{err}"
    );
    assert!(err.contains("fault"), "{err}");
    assert!(String::from_utf8_lossy(&quiet.stderr).is_empty());
}

/// Several variants of one run end in one table: a row per checker, a
/// column per variant, so that they compare at a glance.
#[test]
fn variants_are_set_side_by_side() {
    let out = commsim(&["run", "scenarios/lightweight-islands.toml"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("all variants"))
        .collect();
    let checkers = commsim::trace::CheckId::all().count();
    assert_eq!(table.len(), 1 + checkers + 1, "{text}");
    assert!(table[0].contains("recipient-list") && table[0].contains("lww"));
    let intent = table
        .iter()
        .find(|l| l.contains("membership_intent"))
        .unwrap();
    let cells: Vec<&str> = intent.split_whitespace().collect();
    assert_eq!(cells, ["membership_intent", "ok", "fail", "ok", "pass"]);
    let one = commsim(&[
        "run",
        "scenarios/lightweight-islands.toml",
        "--variant",
        "lww",
    ]);
    assert!(!String::from_utf8_lossy(&one.stdout).contains("all variants"));
}

/// A scenario error opens with `path:line:col: field: message` for
/// editors, then shows the line with a caret under the value, and
/// suggests the name a misspelt one was meant to be.
#[test]
fn a_scenario_error_shows_the_line_and_suggests_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[topology]\nmembrs = 5\nagents = 3\n",
            "bad.toml:2:1: topology.membrs: unknown field `membrs`",
            "help: did you mean `members`?",
            "^^^^^^",
        ),
        (
            "[topology]\nmembers = 5\nagents = 3\n[workload]\nstop = \"30s\"\n[healing]\nperiod = \"5s\"\n[[faults]]\nkind = \"crash\"\nat = \"1s\"\nhost = \"M01\"\n",
            "bad.toml:11:8: faults[0].host: unknown host `M01`",
            "did you mean `m1`?",
            "^^^^^",
        ),
    ];
    for (text, first, help, caret) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = commsim(&["run", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        let line1 = err.lines().next().unwrap();
        assert!(line1.contains(first), "{err}");
        assert!(err.contains(help), "{err}");
        assert!(
            err.lines()
                .any(|l| l.trim_start().starts_with('|') && l.contains(caret)),
            "{err}"
        );
    }
}
