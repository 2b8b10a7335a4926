//! `[explore]`'s ranges for a plan's shape: each inside what `[topology]`
//! and `[workload]` take, low before high.

use super::{BASE, rejects};
use commsim::scenario::{PlanShape, parse_str};

fn with_explore(keys: &str) -> String {
    format!("{BASE}\n[explore]\n{keys}")
}

#[test]
fn shape_ranges_load() {
    let text = with_explore(
        "members = [3, 24]\nagents = [2, 4]\nmessages_per_s = [0.0, 8.0]\nmax_phases = 2\nraces = true\ncombos = true\n",
    );
    let s = parse_str("ok.toml", &text).unwrap();
    assert_eq!(
        s.explore.shape,
        PlanShape {
            members: Some((3, 24)),
            agents: Some((2, 4)),
            servers: None,
            messages_per_s: Some((0.0, 8.0)),
            max_phases: 2,
        }
    );
    assert!(s.explore.races && s.explore.combos);
}

#[test]
fn a_range_runs_low_to_high() {
    let text = with_explore("members = [24, 3]\n");
    rejects(
        &text,
        "explore.members[1]",
        "members = [24, @3]",
        &["ends (3) below its start (24)"],
    );
}

#[test]
fn a_range_stays_inside_what_the_topology_takes() {
    let text = with_explore("members = [1, 3]\n");
    rejects(
        &text,
        "explore.members[0]",
        "members = [@1, 3]",
        &["at least 2"],
    );
    let text = with_explore("agents = [1, 3]\n");
    rejects(
        &text,
        "explore.agents[0]",
        "agents = [@1, 3]",
        &["at least 2"],
    );
}

#[test]
fn a_rate_range_needs_traffic() {
    let text = with_explore("messages_per_s = [0.0, 0.0]\n");
    rejects(
        &text,
        "explore.messages_per_s",
        "[0.0, 0.0]",
        &["high above 0"],
    );
}
