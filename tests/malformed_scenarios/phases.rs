//! `[[workload.phases]]`: spans of traffic at another rate, in time order
//! and disjoint, each rate within the simulator's limit.

use super::{BASE, rejects};
use commsim::scenario::parse_str;

fn with_phases(phases: &str) -> String {
    BASE.to_owned() + phases
}

const QUIET_THEN_BURST: &str = r#"
[[workload.phases]]
at = "2s"
until = "5s"
messages_per_s = 0.0

[[workload.phases]]
at = "6s"
until = "7s"
messages_per_s = 40.0
"#;

#[test]
fn phases_load_in_order() {
    let s = parse_str("ok.toml", &with_phases(QUIET_THEN_BURST)).unwrap();
    let spans = s.workload.spans();
    assert_eq!(
        spans,
        vec![
            (1_000, 2_000, 2.0),
            (2_000, 5_000, 0.0),
            (5_000, 6_000, 2.0),
            (6_000, 7_000, 40.0),
            (7_000, 10_000, 2.0),
        ]
    );
}

#[test]
fn overlapping_phases_are_refused() {
    let text = with_phases(&QUIET_THEN_BURST.replace("at = \"6s\"", "at = \"4s\""));
    rejects(
        &text,
        "workload.phases[1].at",
        "\"4s\"",
        &["before phases[0] ends", "do not overlap"],
    );
}

#[test]
fn a_phase_ends_after_it_starts() {
    let text = with_phases(&QUIET_THEN_BURST.replace("until = \"7s\"", "until = \"6s\""));
    rejects(
        &text,
        "workload.phases[1].until",
        "until = @\"6s\"",
        &["must be after at"],
    );
}

#[test]
fn a_phase_rate_is_bounded() {
    let text = with_phases(&QUIET_THEN_BURST.replace("40.0", "-1.0"));
    rejects(
        &text,
        "workload.phases[1].messages_per_s",
        "-1.0",
        &["must be a number in [0, 1000]"],
    );
}
