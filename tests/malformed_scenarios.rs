//! Scenario files that must be rejected, each with the exact field and
//! position of the error; a complete valid file and its model; a property
//! test that no input makes the loader panic; and, in `bounds.rs`, the
//! absurd numbers fuzzing found.

use commsim::core::event::OpKind;
use commsim::core::ids::{AgentId, MemberId, Peer};
use commsim::core::member::membership::Variant;
use commsim::faults::{FaultKind, StateOnRestart};
use commsim::scenario::{Action, ScenarioError, load_file, parse_str};
use commsim::trace::CheckId;
use commsim::trace::Claim;
use proptest::prelude::*;
use std::path::Path;

#[path = "malformed_scenarios/bounds.rs"]
mod bounds;
mod common;
#[path = "malformed_scenarios/explore.rs"]
mod explore;
#[path = "malformed_scenarios/fork.rs"]
mod fork;
#[path = "malformed_scenarios/phases.rs"]
mod phases;

/// A small valid scenario that the tests below break in one place each.
const BASE: &str = r#"variants = ["lww"]

[topology]
members = 3
agents = 2

[workload]
stop = "10s"

[healing]
period = "5s"

[expect.lww]
convergence = "pass"
"#;

/// `BASE` with each `(from, to)` replaced once and `append` added at the end.
fn edit(edits: &[(&str, &str)], append: &str) -> String {
    let mut text = BASE.to_owned();
    for (from, to) in edits {
        assert!(text.contains(from), "BASE lacks {from:?}");
        text = text.replacen(from, to, 1);
    }
    text + append
}

/// 1-based line and column of the only occurrence of `needle`, or of the
/// `@` in it if it has one (`"x = @1"` points at the `1`).
fn position(text: &str, needle: &str) -> (usize, usize) {
    let (head, tail) = needle.split_once('@').unwrap_or(("", needle));
    let whole = format!("{head}{tail}");
    assert_eq!(text.matches(&whole).count(), 1, "{whole:?} is not unique");
    let offset = text.find(&whole).unwrap() + head.len();
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

fn assert_readable(e: &ScenarioError) {
    let shown = e.to_string();
    assert!(!e.message.is_empty() && !shown.contains('\n'), "{shown:?}");
    assert!(!shown.contains("Raw"), "internal type name leaks: {shown}");
    let prefix = format!("{}:{}:{}: {}: ", e.path, e.line, e.column, e.field);
    assert!(shown.starts_with(&prefix), "{shown}");
}

/// Parses `text`, expects an error on `field` located where `position`
/// says for `needle`, and a message containing each of `words`.
#[track_caller]
fn rejects(text: &str, field: &str, needle: &str, words: &[&str]) -> ScenarioError {
    let e = parse_str("bad.toml", text).expect_err("should be rejected");
    assert_readable(&e);
    assert_eq!(e.field, field, "{e}");
    assert_eq!((e.line, e.column), position(text, needle), "{e}\n{text}");
    for w in words {
        assert!(e.message.contains(w), "{e:?} lacks {w:?}");
    }
    e
}

#[test]
fn base_is_valid() {
    parse_str("base.toml", BASE).unwrap();
}

#[test]
fn syntax_error() {
    let text = edit(&[("members = 3", "members = 3 3")], "");
    let e = parse_str("bad.toml", &text).unwrap_err();
    assert_readable(&e);
    assert_eq!(
        (e.field.as_str(), e.line, e.column),
        ("(syntax)", 4, 11),
        "{e}"
    );
}

#[test]
fn wrong_type() {
    let text = edit(&[("members = 3", "members = \"three\"")], "");
    rejects(
        &text,
        "topology.members",
        "\"three\"",
        &["invalid type", "string"],
    );
}

#[test]
fn table_of_wrong_type() {
    let text = "topology = 3\n".to_owned() + &BASE.replace("[topology]\n", "[x]\n");
    rejects(&text, "topology", "topology = @3", &["[topology] table"]);
}

#[test]
fn unknown_field() {
    let text = edit(&[("agents = 2\n", "agents = 2\nbandwidth = 10\n")], "");
    rejects(
        &text,
        "topology.bandwidth",
        "bandwidth",
        &["unknown field `bandwidth`"],
    );
}

#[test]
fn unknown_fault_kind() {
    let text = edit(&[], "\n[[faults]]\nkind = \"meteor\"\nat = \"1s\"\n");
    rejects(
        &text,
        "faults[0].kind",
        "\"meteor\"",
        &["unknown fault kind `meteor`", "partition"],
    );
}

#[test]
fn field_of_another_fault_kind() {
    let text = edit(
        &[],
        "\n[[faults]]\nkind = \"loss\"\nat = 0\nrate = 0.1\nhost = \"s0\"\n",
    );
    rejects(
        &text,
        "faults[0].host",
        "\"s0\"",
        &["`host` does not apply to a `loss` fault"],
    );
}

#[test]
fn unknown_host() {
    let text = edit(
        &[],
        "\n[[faults]]\nkind = \"partition\"\nat = 0\na = [\"m0\", \"m9\"]\nb = [\"agents\"]\n",
    );
    rejects(
        &text,
        "faults[0].a[1]",
        "\"m9\"",
        &["unknown host `m9`", "m0..m2", "s0..s1"],
    );
}

#[test]
fn agent_where_a_member_is_needed() {
    let ops = "\n[[workload.ops]]\nat = \"2s\"\nby = \"s1\"\nop = \"add\"\ntarget = \"m2\"\n";
    let text = edit(&[("[healing]", &format!("{}\n[healing]", ops.trim()))], "");
    rejects(&text, "workload.ops[0].by", "\"s1\"", &["`s1` is an agent"]);
}

#[test]
fn op_on_itself() {
    let ops = "[[workload.ops]]\nat = \"2s\"\nby = \"m1\"\nop = \"remove\"\ntarget = \"m1\"\n";
    let text = edit(&[("[healing]", &format!("{ops}\n[healing]"))], "");
    rejects(
        &text,
        "workload.ops[0].target",
        "target = @\"m1\"",
        &["cannot remove itself"],
    );
}

/// Ops for servers need a scenario with server agents.
fn with_ops(ops: &str) -> String {
    edit(
        &[
            ("[healing]", &format!("{ops}\n[healing]")),
            ("members = 3", "members = 3\nservers = 2"),
        ],
        "",
    )
}

#[test]
fn nominate_without_a_server() {
    let text = with_ops("[[workload.ops]]\nat = \"2s\"\nby = \"m1\"\nop = \"nominate\"\n");
    let e = parse_str("bad.toml", &text).expect_err("should be rejected");
    assert_readable(&e);
    assert_eq!(e.field, "workload.ops[0]", "{e}");
    assert!(e.message.contains("`nominate` needs a server"), "{e}");
}

#[test]
fn nominate_a_member() {
    let text = with_ops(
        "[[workload.ops]]\nat = \"2s\"\nby = \"m1\"\nop = \"nominate\"\nserver = \"m2\"\n",
    );
    rejects(
        &text,
        "workload.ops[0].server",
        "server = @\"m2\"",
        &["`m2` is not a server agent", "c0..c1"],
    );
}

#[test]
fn update_takes_no_target() {
    let text =
        with_ops("[[workload.ops]]\nat = \"2s\"\nby = \"m1\"\nop = \"update\"\ntarget = \"m2\"\n");
    rejects(
        &text,
        "workload.ops[0].target",
        "target = @\"m2\"",
        &["`update` takes no target"],
    );
}

#[test]
fn update_and_nominate_load() {
    let text = with_ops(
        "[[workload.ops]]\nat = \"2s\"\nby = \"m1\"\nop = \"update\"\n\n[[workload.ops]]\nat = \"3s\"\nby = \"m0\"\nop = \"nominate\"\nserver = \"c1\"\n",
    );
    let s = parse_str("ok.toml", &text).unwrap();
    let actions: Vec<Action> = s.workload.ops.iter().map(|o| o.action.clone()).collect();
    assert_eq!(
        actions,
        vec![
            Action::Update,
            Action::Nominate(commsim::core::ids::ServerId(1))
        ]
    );
}

#[test]
fn rename_loads_with_and_without_a_picture() {
    let text = with_ops(
        "[[workload.ops]]\nat = \"2s\"\nby = \"m1\"\nop = \"rename\"\nname = \"north\"\n\n[[workload.ops]]\nat = \"3s\"\nby = \"m0\"\nop = \"rename\"\nname = \"south\"\npicture = \"mxc://p/1\"\n",
    );
    let s = parse_str("ok.toml", &text).unwrap();
    let actions: Vec<Action> = s.workload.ops.iter().map(|o| o.action.clone()).collect();
    assert_eq!(
        actions,
        vec![
            Action::Rename {
                name: "north".into(),
                picture: None
            },
            Action::Rename {
                name: "south".into(),
                picture: Some("mxc://p/1".into())
            }
        ]
    );
}

#[test]
fn rename_needs_a_name() {
    let text = with_ops("[[workload.ops]]\nat = \"2s\"\nby = \"m1\"\nop = \"rename\"\n");
    let e = parse_str("bad.toml", &text).expect_err("should be rejected");
    assert_readable(&e);
    assert_eq!(e.field, "workload.ops[0]", "{e}");
    assert!(e.message.contains("`rename` needs a name"), "{e}");
}

#[test]
fn rename_takes_no_target_and_an_empty_name_is_refused() {
    let text = with_ops(
        "[[workload.ops]]\nat = \"2s\"\nby = \"m1\"\nop = \"rename\"\nname = \"x\"\ntarget = \"m2\"\n",
    );
    rejects(
        &text,
        "workload.ops[0].target",
        "target = @\"m2\"",
        &["`rename` takes no target"],
    );
    let text =
        with_ops("[[workload.ops]]\nat = \"2s\"\nby = \"m1\"\nop = \"rename\"\nname = \"\"\n");
    rejects(
        &text,
        "workload.ops[0].name",
        "name = @\"\"",
        &["1 to 256 bytes"],
    );
}

#[test]
fn a_picture_belongs_to_a_rename() {
    let text =
        with_ops("[[workload.ops]]\nat = \"2s\"\nby = \"m1\"\nop = \"update\"\npicture = \"p\"\n");
    rejects(
        &text,
        "workload.ops[0].picture",
        "picture = @\"p\"",
        &["`update` takes no picture"],
    );
}

#[test]
fn rate_out_of_range() {
    let text = edit(
        &[],
        "\n[[faults]]\nkind = \"loss\"\nat = \"1s\"\nrate = 1.0\n",
    );
    rejects(&text, "faults[0].rate", "1.0", &["[0, 1)"]);
}

#[test]
fn rate_out_of_range_in_inline_table() {
    let text = "faults = [\n  { kind = \"duplicate\", at = 0, rate = 0.5 },\n  \
                { kind = \"duplicate\", at = 0, rate = 1.5 },\n]\n"
        .to_owned()
        + BASE;
    rejects(&text, "faults[1].rate", "1.5", &["[0, 1]", "1.5"]);
}

#[test]
fn until_before_at() {
    let text = edit(
        &[],
        "\n[[faults]]\nkind = \"loss\"\nat = \"8s\"\nuntil = \"3s\"\nrate = 0.2\n",
    );
    rejects(&text, "faults[0].until", "\"3s\"", &["must be after at"]);
}

#[test]
fn offline_needs_until() {
    // No `until` to point at, so the error points at the fault's header.
    let text = edit(
        &[],
        "\n[[faults]]\nkind = \"offline\"\nat = \"8s\"\nmember = \"m1\"\n",
    );
    rejects(&text, "faults[0].until", "[[faults]]", &["needs `until`"]);
}

#[test]
fn missing_fault_field() {
    let faults =
        "\n[[faults]]\nkind = \"loss\"\nat = 0\nrate = 0\n\n[[faults]]\nkind = \"crash\"\nat = 1\n";
    let text = edit(&[], faults);
    let e = parse_str("bad.toml", &text).unwrap_err();
    assert_eq!((e.field.as_str(), e.line), ("faults[1].host", 21), "{e}");
    assert!(e.message.contains("a `crash` fault needs `host`"), "{e}");
}

#[test]
fn agents_per_member_below_two() {
    let text = edit(&[("agents = 2", "agents = 2\nagents_per_member = 1")], "");
    rejects(
        &text,
        "topology.agents_per_member",
        "agents_per_member = @1",
        &["at least 2"],
    );
}

#[test]
fn agents_per_member_above_agents() {
    let text = edit(&[("agents = 2", "agents = 2\nagents_per_member = 3")], "");
    rejects(
        &text,
        "topology.agents_per_member",
        "agents_per_member = @3",
        &["at most 2"],
    );
}

#[test]
fn unknown_checker() {
    let text = edit(&[], "liveness = \"pass\"\n");
    rejects(
        &text,
        "expect.lww.liveness",
        "liveness = @\"pass\"",
        &["unknown checker `liveness`", "fork_detection"],
    );
}

/// A misspelt checker gets the name it was meant to be.
#[test]
fn misspelt_checker_is_suggested() {
    let text = edit(&[], "convergance = \"pass\"\n");
    let e = rejects(
        &text,
        "expect.lww.convergance",
        "convergance = @\"pass\"",
        &["unknown checker `convergance`"],
    );
    assert_eq!(
        e.help.as_deref(),
        Some("did you mean `convergence`?"),
        "{e:?}"
    );
}

#[test]
fn unknown_status() {
    let text = edit(&[("\"pass\"", "\"passes\"")], "");
    rejects(
        &text,
        "expect.lww.convergence",
        "\"passes\"",
        &["unknown value `passes`", "`unknown`", "`fails-sometimes`"],
    );
}

#[test]
fn seed_range_that_means_nothing() {
    for (range, words) in [
        ("\"1..5\"", &["..="][..]),
        ("\"9..=2\"", &["empty"][..]),
        ("\"many\"", &["seed range"][..]),
    ] {
        let text = format!("seeds = {range}\n{BASE}");
        rejects(&text, "seeds", range, words);
    }
}

#[test]
fn seed_outside_its_range() {
    let text = format!("seed = 60\nseeds = \"1..=50\"\n{BASE}");
    rejects(&text, "seed", "60", &["outside", "1..=50"]);
}

#[test]
fn seed_range_and_its_default() {
    let s = parse_str("a.toml", &format!("seeds = \"5..=9\"\n{BASE}")).unwrap();
    assert_eq!((s.seed, s.seeds.to_string()), (5, "5..=9".to_owned()));
    let s = parse_str("a.toml", BASE).unwrap();
    assert_eq!((s.seed, s.seeds.to_string()), (1, "1..=20".to_owned()));
    let claim = BASE.replace("\"pass\"", "\"fails-sometimes\"");
    let s = parse_str("a.toml", &claim).unwrap();
    assert_eq!(
        s.expect[&Variant::Lww][&CheckId::Convergence],
        Claim::FailsSometimes
    );
}

#[test]
fn unknown_variant() {
    let text = edit(&[("[\"lww\"]", "[\"lww\", \"crdt\"]")], "");
    rejects(
        &text,
        "variants[1]",
        "\"crdt\"",
        &["unknown variant `crdt`"],
    );
}

#[test]
fn bad_duration_unit() {
    let text = edit(&[("\"10s\"", "\"10x\"")], "");
    rejects(&text, "workload.stop", "\"10x\"", &["unknown unit `x`"]);
}

#[test]
fn fractional_duration() {
    let text = edit(&[("\"5s\"", "\"1.5s\"")], "");
    rejects(&text, "healing.period", "\"1.5s\"", &["fractional"]);
}

#[test]
fn negative_duration_where_not_allowed() {
    let text = edit(&[], "\n[network]\nlatency = -5\n");
    rejects(&text, "network.latency", "-5", &["negative"]);
    let text = edit(
        &[],
        "\n[[faults]]\nkind = \"loss\"\nat = \"-1s\"\nrate = 0\n",
    );
    rejects(&text, "faults[0].at", "\"-1s\"", &["negative"]);
}

#[test]
fn negative_clock_offset_is_allowed() {
    let text = edit(
        &[],
        "\n[[faults]]\nkind = \"clock_skew\"\nat = 0\nmember = \"m2\"\noffset = \"-30s\"\n",
    );
    let s = parse_str("ok.toml", &text).unwrap();
    let want = FaultKind::ClockSkew {
        member: MemberId(2),
        offset_ms: -30_000,
    };
    assert_eq!(s.faults[0].kind, want);
}

#[test]
fn expect_for_unlisted_variant() {
    let text = edit(&[], "\n[expect.recipient-list]\nconvergence = \"fail\"\n");
    rejects(
        &text,
        "expect.recipient-list",
        "[expect.recipient-list]",
        &["not in `variants`"],
    );
}

#[test]
fn listed_variant_without_expectations() {
    let text = edit(&[("[\"lww\"]", "[\"lww\", \"recipient-list\"]")], "");
    let e = parse_str("bad.toml", &text).unwrap_err();
    assert_eq!(e.field, "expect.recipient-list", "{e}");
    // No such table: located at the nearest parent, `expect`.
    assert_eq!((e.line, e.column), (13, 2), "{e}");
    assert!(
        e.message.contains("add an [expect.recipient-list] table"),
        "{e}"
    );
}

#[test]
fn missing_required_field() {
    let text = edit(&[("stop = \"10s\"\n", "")], "");
    rejects(
        &text,
        "workload.stop",
        "[workload]",
        &["missing field `stop`"],
    );
}

#[test]
fn missing_required_table() {
    let text = edit(&[("[healing]\nperiod = \"5s\"\n", "")], "");
    rejects(&text, "healing", "variants", &["missing field `healing`"]);
}

#[test]
fn wiped_state_on_a_member_is_a_new_device() {
    let text = edit(
        &[],
        "\n[[faults]]\nkind = \"crash\"\nat = 0\nuntil = 5\nhost = \"m1\"\nstate = \"wiped\"\n",
    );
    let s = parse_str("s.toml", &text).unwrap();
    assert!(matches!(
        &s.faults[0].kind,
        FaultKind::Crash { host, state: StateOnRestart::Wiped } if *host == Peer::Member(MemberId(1))
    ));
}

#[test]
fn volatile_lost_on_an_agent() {
    let text = edit(
        &[],
        "\n[[faults]]\nkind = \"crash\"\nat = 0\nhost = \"s1\"\nstate = \"volatile-lost\"\n",
    );
    rejects(
        &text,
        "faults[0].state",
        "\"volatile-lost\"",
        &["only to members"],
    );
}

#[test]
fn overlapping_partition() {
    let text = edit(
        &[],
        "\n[[faults]]\nkind = \"partition\"\nat = 0\na = [\"m1\"]\nb = [\"members\"]\n",
    );
    rejects(&text, "faults[0].b", "[\"members\"]", &["`m1` is in both"]);
}

#[test]
fn rotation_slower_than_expiry() {
    let text = edit(
        &[],
        "\n[protocol]\nephemeral_ttl = \"10s\"\nrotate_every = \"15s\"\n",
    );
    rejects(
        &text,
        "protocol.rotate_every",
        "\"15s\"",
        &["shorter than ephemeral_ttl"],
    );
}

#[test]
fn tick_too_long() {
    let text = edit(&[], "\n[sim]\ntick = \"1s\"\n");
    rejects(&text, "sim.tick", "\"1s\"", &["at most 100ms"]);
}

#[test]
fn too_few_members() {
    let text = edit(&[("members = 3", "members = 1")], "");
    rejects(&text, "topology.members", "members = @1", &["at least 2"]);
}

#[test]
fn fixture_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad");
    let cases = [
        ("syntax_error.toml", "(syntax)", 7),
        ("volatile_agent.toml", "faults[0].state", 16),
        ("missing_stop.toml", "workload.stop", 8),
        ("expect_unlisted_variant.toml", "expect.recipient-list", 17),
    ];
    for (file, field, line) in cases {
        let path = dir.join(file);
        let e = load_file(&path).expect_err(file);
        assert_readable(&e);
        assert_eq!((e.field.as_str(), e.line), (field, line), "{e}");
        assert!(
            e.to_string().starts_with(&path.display().to_string()),
            "{e}"
        );
    }
    let e = load_file(&dir.join("no-such-file.toml")).unwrap_err();
    assert_eq!(e.field, "(file)");
}

const FULL: &str = r#"
name = "lightweight-partition-heal"
description = "The group splits in two, one side removes a member, then it heals."
seed = 7
variants = ["recipient-list", "lww"]

[sim]
tick = "5ms"

[topology]
members = 5
agents = 3
agents_per_member = 2
founders = 4

[network]
latency = "20ms"
jitter = 10

[protocol]
fetch_interval = "500ms"
retry = "1s"
max_attempts = 30
ephemeral_ttl = "30s"
rotate_every = "20s"
long_term_ttl = "1h"
parent_timeout = "10s"
deliver_to = "first"

[workload]
start = "1s"
stop = "30s"
messages_per_s = 2.0
reply_probability = 0.5

[[workload.ops]]
at = "5s"
by = "m0"
op = "add"
target = "m4"

[[workload.ops]]
at = "12s"
by = "m0"
op = "remove"
target = "m1"

[[faults]]
kind = "partition"
at = "10s"
until = "20s"
a = ["m1", "m0"]
b = ["m2", "m3", "m4", "agents"]

[[faults]]
kind = "loss"
at = "2s"
until = "25s"
rate = 0.1

[[faults]]
kind = "crash"
at = "15s"
until = "18s"
host = "s1"
state = "wiped"

[[faults]]
kind = "clock_skew"
at = 0
member = "m3"
offset = "-2m"

[healing]
period = "20s"

[bounds]
convergence = "10s"
detection = "15s"

[expect.lww]
convergence = "pass"
fork_detection = "pass"
delivery = "pass"
post_removal_secrecy = "pass"

[expect.recipient-list]
convergence = "fail"
fork_detection = "unknown"
"#;

#[test]
fn complete_example() {
    let s = parse_str("scenarios/x.toml", FULL).unwrap();
    assert_eq!(s.name, "lightweight-partition-heal");
    assert_eq!(s.seed, 7);
    assert_eq!(s.variants, vec![Variant::RecipientList, Variant::Lww]);
    assert_eq!(s.sim.tick_ms, 5);
    assert_eq!(
        (
            s.topology.members,
            s.topology.agents,
            s.topology.agents_per_member,
            s.topology.founders
        ),
        (5, 3, 2, 4)
    );
    assert_eq!((s.network.latency_ms, s.network.jitter_ms), (20, 10));
    let p = &s.protocol;
    assert_eq!(
        (
            p.fetch_interval_ms,
            p.retry_ms,
            p.max_attempts,
            p.ephemeral_ttl_ms,
            p.rotate_every_ms
        ),
        (500, 1000, 30, 30_000, 20_000)
    );
    assert_eq!(
        (p.long_term_ttl_ms, p.parent_timeout_ms, p.deliver_to_all),
        (3_600_000, 10_000, false)
    );
    let w = &s.workload;
    assert_eq!(
        (w.start_ms, w.stop_ms, w.messages_per_s, w.reply_probability),
        (1000, 30_000, 2.0, 0.5)
    );
    assert_eq!(w.ops.len(), 2);
    assert_eq!(
        (w.ops[1].at_ms, w.ops[1].by, w.ops[1].action.clone()),
        (
            12_000,
            MemberId(0),
            Action::Membership(OpKind::Remove, MemberId(1))
        )
    );
    assert_eq!(s.faults.len(), 4);
    let names = |v: &[&str]| {
        v.iter()
            .map(|s| Peer::parse(s).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        s.faults[0].kind,
        FaultKind::Partition {
            a: names(&["m0", "m1"]),
            b: names(&["m2", "m3", "m4", "s0", "s1", "s2"])
        }
    );
    assert_eq!(
        (s.faults[0].at_ms, s.faults[0].until_ms),
        (10_000, Some(20_000))
    );
    assert_eq!(s.faults[1].kind, FaultKind::Loss { rate: 0.1 });
    assert_eq!(
        s.faults[2].kind,
        FaultKind::Crash {
            host: Peer::Agent(AgentId(1)),
            state: StateOnRestart::Wiped
        }
    );
    assert_eq!(
        s.faults[3].kind,
        FaultKind::ClockSkew {
            member: MemberId(3),
            offset_ms: -120_000
        }
    );
    assert_eq!(s.faults[3].until_ms, None);
    assert_eq!(s.healing_ms, 20_000);
    assert_eq!(
        (s.bounds.convergence_ms, s.bounds.detection_ms),
        (10_000, 15_000)
    );
    assert_eq!(s.expect[&Variant::Lww].len(), 4);
    assert_eq!(
        s.expect[&Variant::RecipientList][&CheckId::Convergence],
        Claim::Fail
    );
    assert_eq!(
        s.expect[&Variant::RecipientList][&CheckId::ForkDetection],
        Claim::Unknown
    );
    assert_eq!(s.heal_at(), 25_000);
    assert_eq!(s.end_at(), 50_000);
}

#[test]
fn defaults() {
    let text = BASE.replace("variants = [\"lww\"]\n", "")
        + "[expect.recipient-list]\ndelivery = \"pass\"\n";
    let s = parse_str("dir/my-scenario.toml", &text).unwrap();
    assert_eq!(s.name, "my-scenario");
    assert_eq!((s.description.as_str(), s.seed), ("", 1));
    assert_eq!(s.variants, Variant::DEFAULT.to_vec());
    assert_eq!(s.sim.tick_ms, 5);
    assert_eq!((s.topology.agents_per_member, s.topology.founders), (2, 3));
    assert_eq!((s.network.latency_ms, s.network.jitter_ms), (20, 10));
    let p = &s.protocol;
    assert_eq!(
        (
            p.fetch_interval_ms,
            p.retry_ms,
            p.max_attempts,
            p.ephemeral_ttl_ms,
            p.rotate_every_ms
        ),
        (500, 1000, 30, 30_000, 20_000)
    );
    assert_eq!(
        (p.long_term_ttl_ms, p.parent_timeout_ms, p.deliver_to_all),
        (3_600_000, 10_000, true)
    );
    let w = &s.workload;
    assert_eq!(
        (w.start_ms, w.stop_ms, w.messages_per_s, w.reply_probability),
        (1000, 10_000, 2.0, 0.5)
    );
    assert!(w.ops.is_empty() && s.faults.is_empty());
    assert_eq!(
        (s.healing_ms, s.bounds.convergence_ms, s.bounds.detection_ms),
        (5000, 10_000, 10_000)
    );
}

/// Tokens that, dropped into a valid file, hit many different checks.
const TOKENS: &[&str] = &[
    "",
    "0",
    "-1",
    "1.5",
    "nan",
    "inf",
    "\"\"",
    "\"1.5s\"",
    "\"-3s\"",
    "\"m99\"",
    "\"members\"",
    "\"agents\"",
    "[]",
    "{}",
    "[[faults]]",
    "[expect.x]",
    "=",
    "\"",
    "'",
    "\n",
    "#",
    "[",
    "]",
    "kind = \"crash\"",
    "until = 1",
    "\u{e9}",
    "9999999999999999999",
    "\"99999999999999h\"",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_str("fuzz.toml", &text);
    }

    #[test]
    fn tomlish_text_never_panics(text in "[a-z_\\[\\]=\"'.,{} 0-9\\n-]{0,300}") {
        let _ = parse_str("fuzz.toml", &text);
    }

    #[test]
    fn mutated_example_never_panics(
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, any::<prop::sample::Index>()), 1..6)
    ) {
        let mut text = FULL.to_owned();
        for (at, op, token) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            let token = token.get(TOKENS);
            match op {
                0 => text.insert_str(i, token),
                1 => {
                    // Replace the rest of the line.
                    let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                    text.replace_range(i..end, token);
                }
                _ => {
                    // Delete a few characters.
                    let mut end = (i + token.len().max(1)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.replace_range(i..end, "");
                }
            }
        }
        if let Err(e) = parse_str("fuzz.toml", &text) {
            prop_assert!(!e.to_string().contains('\n'));
            prop_assert!(e.line >= 1 && e.column >= 1);
            prop_assert!(e.line <= text.lines().count().max(1) + 1);
        }
    }
}

#[test]
fn refuse_names_a_server_agent() {
    let text = edit(
        &[],
        "\n[[faults]]\nkind = \"refuse\"\nat = 0\nhost = \"s1\"\n",
    );
    rejects(&text, "faults[0].host", "\"s1\"", &["not a server agent"]);
}

/// `BASE` with two server agents and one `dishonest` fault made of `keys`.
fn dishonest(keys: &str) -> String {
    edit(
        &[("agents = 2\n", "agents = 2\nservers = 2\n")],
        &format!("\n[[faults]]\nkind = \"dishonest\"\nat = \"1s\"\n{keys}"),
    )
}

#[test]
fn dishonest_needs_a_known_mode() {
    let text = dishonest("host = \"c0\"\nmode = \"lie\"\nvictim = \"m1\"\n");
    rejects(
        &text,
        "faults[0].mode",
        "\"lie\"",
        &["unknown mode `lie`", "equivocate, drop, replay or fork"],
    );
    let text = dishonest("host = \"c0\"\nvictim = \"m1\"\n");
    rejects(&text, "faults[0].mode", "[[faults]]", &["needs `mode`"]);
}

#[test]
fn dishonest_names_a_server_agent() {
    let text = dishonest("host = \"m2\"\nmode = \"replay\"\n");
    rejects(&text, "faults[0].host", "\"m2\"", &["not a server agent"]);
    let text = dishonest("host = \"c2\"\nmode = \"replay\"\n");
    rejects(&text, "faults[0].host", "\"c2\"", &["unknown host `c2`"]);
}

#[test]
fn dishonest_victims_are_members_and_only_where_they_apply() {
    let text = dishonest("host = \"c0\"\nmode = \"equivocate\"\n");
    rejects(
        &text,
        "faults[0].victim",
        "[[faults]]",
        &["mode `equivocate` needs `victim`"],
    );
    let text = dishonest("host = \"c0\"\nmode = \"drop\"\nvictim = \"s1\"\n");
    rejects(&text, "faults[0].victim", "\"s1\"", &["`s1` is an agent"]);
    let text = dishonest("host = \"c0\"\nmode = \"replay\"\nvictim = \"m1\"\n");
    rejects(
        &text,
        "faults[0].victim",
        "\"m1\"",
        &["every member", "only to equivocate and drop"],
    );
    let text = edit(
        &[("agents = 2\n", "agents = 2\nservers = 1\n")],
        "\n[[faults]]\nkind = \"refuse\"\nat = 0\nhost = \"c0\"\nvictim = \"m1\"\n",
    );
    rejects(
        &text,
        "faults[0].victim",
        "victim = @\"m1\"",
        &["does not apply to a `refuse` fault"],
    );
}

#[test]
fn dishonest_faults_load_into_the_model() {
    use commsim::core::server::dishonest::Mode;
    let text = dishonest("until = \"9s\"\nhost = \"c1\"\nmode = \"equivocate\"\nvictim = \"m2\"\n");
    let s = parse_str("ok.toml", &text).unwrap();
    assert_eq!(
        s.faults[0].kind,
        FaultKind::Dishonest {
            server: commsim::core::ids::ServerId(1),
            mode: Mode::Equivocate,
            victim: Some(MemberId(2)),
            sides: None,
        }
    );
    assert_eq!(
        (s.faults[0].at_ms, s.faults[0].until_ms),
        (1_000, Some(9_000))
    );
    let text = dishonest("host = \"c0\"\nmode = \"replay\"\n");
    let s = parse_str("ok.toml", &text).unwrap();
    assert!(matches!(
        s.faults[0].kind,
        FaultKind::Dishonest {
            mode: Mode::Replay,
            victim: None,
            ..
        }
    ));
}

#[test]
fn attack_with_an_unknown_mode() {
    let text = edit(
        &[],
        "\n[[faults]]\nkind = \"attack\"\nat = \"1s\"\nmode = \"phish\"\nvictim = \"m1\"\n",
    );
    rejects(
        &text,
        "faults[0].mode",
        "mode = @\"phish\"",
        &["unknown mode `phish`", "receipt, outsider, replay, corrupt"],
    );
}

#[test]
fn attack_without_a_victim_or_on_a_server() {
    let text = edit(
        &[],
        "\n[[faults]]\nkind = \"attack\"\nat = \"1s\"\nmode = \"corrupt\"\n",
    );
    let e = parse_str("bad.toml", &text).expect_err("should be rejected");
    assert_readable(&e);
    assert!(e.message.contains("needs `victim`"), "{e}");
    let text = edit(
        &[],
        "\n[[faults]]\nkind = \"attack\"\nat = \"1s\"\nmode = \"replay\"\nvictim = \"s0\"\nhost = \"s0\"\n",
    );
    let e = parse_str("bad.toml", &text).expect_err("should be rejected");
    assert!(
        e.message.contains("does not apply to an `attack` fault"),
        "{e}"
    );
}
