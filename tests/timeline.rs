//! A picture of every run: `run --out DIR` and `commsim timeline`.

// Links the crate, and with it the getrandom backend tempfile needs.
use commsim as _;
mod common;

use common::commsim;
use std::path::Path;

/// The lane labels of a timeline: text nodes that name a host and nothing
/// else.
fn lane_labels(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .filter(|t| commsim::core::ids::Peer::parse(t).is_some())
        .map(str::to_owned)
        .collect()
}

fn count(svg: &str, tag: &str) -> usize {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants().filter(|n| n.has_tag_name(tag)).count()
}

/// `run --out` writes the trace (which `check` verifies), the summary and
/// a picture with one lane per host, arrows and a legend.
#[test]
fn run_out_writes_a_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = commsim(&[
        "run",
        "scenarios/coordinated-server-crash.toml",
        "--variant",
        "lww",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let check = commsim(&["check", dir.path().join("trace.jsonl").to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{check:?}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    assert_eq!(results["verdict"], "pass");
    let svg = std::fs::read_to_string(dir.path().join("timeline.svg")).unwrap();
    // 8 members, 3 mailbox agents, 2 server agents.
    let mut lanes = lane_labels(&svg);
    lanes.sort();
    let mut want: Vec<String> = (0..8).map(|m| format!("m{m}")).collect();
    want.extend((0..3).map(|s| format!("s{s}")));
    want.extend(["c0".to_owned(), "c1".to_owned()]);
    want.sort();
    assert_eq!(lanes, want);
    assert!(count(&svg, "polygon") > 100, "arrowheads and marks");
    assert!(
        svg.contains("fell back") && svg.contains("crash"),
        "marks and legend"
    );
}

#[test]
fn timeline_draws_a_saved_trace_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let run = commsim(&[
        "run",
        "scenarios/lightweight-partition-heal.toml",
        "--variant",
        "lww",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let svg_path = dir.path().join("picture.svg");
    let out = commsim(&[
        "timeline",
        trace.to_str().unwrap(),
        "-o",
        svg_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert_eq!(lane_labels(&svg).len(), 5 + 3);
    assert!(svg.contains("partition"), "the partition is in the legend");
    // A trace cut short does not verify: exit 2, nothing drawn.
    let text = std::fs::read_to_string(&trace).unwrap();
    let cut: Vec<&str> = text.lines().take(10).collect();
    let bad = dir.path().join("cut.jsonl");
    std::fs::write(&bad, cut.join("\n")).unwrap();
    let out = commsim(&["timeline", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(!Path::new(&bad.with_extension("svg")).exists());
}
