//! The `fork` mode of a `dishonest` fault: two sides of members, each
//! named once, neither empty; `victim` is not a fork's, and `a`/`b` are
//! nobody else's.

use super::{dishonest, rejects};
use commsim::core::ids::{MemberId, ServerId};
use commsim::core::server::dishonest::Mode;
use commsim::faults::FaultKind;
use commsim::scenario::parse_str;

const FORK: &str = "host = \"c0\"\nmode = \"fork\"\n";

#[test]
fn a_fork_loads_into_the_model_with_its_sides() {
    let text = dishonest(&format!("{FORK}a = [\"m0\"]\nb = [\"m2\", \"m1\"]\n"));
    let s = parse_str("ok.toml", &text).unwrap();
    assert_eq!(
        s.faults[0].kind,
        FaultKind::Dishonest {
            server: ServerId(0),
            mode: Mode::Fork,
            victim: None,
            sides: Some((vec![MemberId(0)], vec![MemberId(2), MemberId(1)])),
        }
    );
}

#[test]
fn a_fork_needs_both_sides() {
    let text = dishonest(&format!("{FORK}a = [\"m0\"]\n"));
    rejects(
        &text,
        "faults[0].b",
        "[[faults]]",
        &["mode `fork` needs `b`", "one side's history"],
    );
    let text = dishonest(&format!("{FORK}a = []\nb = [\"m1\"]\n"));
    rejects(
        &text,
        "faults[0].a",
        "[]",
        &["side `a` of the fork is empty", "at least one member"],
    );
}

#[test]
fn fork_sides_are_members_each_on_one_side() {
    let text = dishonest(&format!("{FORK}a = [\"m0\", \"s1\"]\nb = [\"m1\"]\n"));
    rejects(&text, "faults[0].a[1]", "\"s1\"", &["`s1` is an agent"]);
    let text = dishonest(&format!("{FORK}a = [\"m0\"]\nb = [\"m7\"]\n"));
    rejects(
        &text,
        "faults[0].b[0]",
        "\"m7\"",
        &["unknown member `m7`", "m0..m2"],
    );
    let text = dishonest(&format!(
        "{FORK}a = [\"m0\", \"m1\"]\nb = [\"m2\", @\"m1\"]\n"
    ));
    let text = text.replace('@', "");
    rejects(
        &text,
        "faults[0].b[1]",
        "\"m2\", @\"m1\"",
        &["`m1` is in both `a` and `b`"],
    );
    let text = dishonest(&format!("{FORK}a = [\"m0\", @\"m0\"]\nb = [\"m2\"]\n"));
    let text = text.replace('@', "");
    rejects(
        &text,
        "faults[0].a[1]",
        "\"m0\", @\"m0\"",
        &["`m0` is listed twice in `a`"],
    );
}

#[test]
fn victims_and_sides_are_for_their_own_modes() {
    let text = dishonest(&format!(
        "{FORK}a = [\"m0\"]\nb = [\"m1\"]\nvictim = \"m2\"\n"
    ));
    rejects(
        &text,
        "faults[0].victim",
        "\"m2\"",
        &[
            "only to equivocate and drop",
            "names its sides in `a` and `b`",
        ],
    );
    let text = dishonest("host = \"c0\"\nmode = \"equivocate\"\nvictim = \"m2\"\nb = [\"m1\"]\n");
    rejects(
        &text,
        "faults[0].b",
        "[\"m1\"]",
        &["applies only to mode `fork`", "not `equivocate`"],
    );
    let text = dishonest("host = \"c0\"\nmode = \"replay\"\na = [\"m1\"]\n");
    rejects(&text, "faults[0].a", "[\"m1\"]", &["not `replay`"]);
}
