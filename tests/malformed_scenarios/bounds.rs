//! Absurd numbers, as fuzzing the shipped scenarios found them: each is
//! refused by the loader, naming the field and the bound, and by the
//! command line with exit code 2; what should run (a clock set back by
//! minutes) runs and passes.

use super::{BASE, edit, rejects};
use commsim::scenario::limits::{MAX_EVENTS, MAX_HOST_PAIR_TICKS, MAX_MEMBERS};
use commsim::scenario::parse_str;

/// Refused by the loader as `rejects` checks, and by `commsim run` with
/// exit code 2 and the same `path:line:column: field:` on stderr.
#[track_caller]
fn refused(text: &str, field: &str, needle: &str, words: &[&str]) {
    let e = rejects(text, field, needle, words);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absurd.toml");
    std::fs::write(&path, text).unwrap();
    let out = super::common::commsim(&["run", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let located = format!("{}:{}:{}: {field}: ", path.display(), e.line, e.column);
    assert!(stderr.contains(&located), "{stderr} lacks {located}");
}

/// `BASE` with `from` replaced by `to`, refused at the `@` in `to`.
#[track_caller]
fn refused_edit(from: &str, to: &str, field: &str, words: &[&str]) {
    refused(&edit(&[(from, &to.replace('@', ""))], ""), field, to, words);
}

/// Every time and duration's bound, as messages name it.
const DAY: &[&str] = &["beyond the limit of 24h (86400000 ms)"];

/// `BASE` with `table` before the expectations that end it, refused at
/// the `@` in `table`.
#[track_caller]
fn refused_table(table: &str, field: &str, words: &[&str]) {
    let to = format!("{table}\n\n[expect.lww]");
    refused_edit("[expect.lww]", &to, field, words);
}

const STOP: &str = "stop = \"10s\"";

/// `messages_per_s = rate` refused, the message showing it as `shown`.
#[track_caller]
fn refused_rate(rate: &str, shown: &str) {
    let to = format!("{STOP}\nmessages_per_s = @{rate}");
    let got = format!("got {shown}");
    refused_edit(STOP, &to, "workload.messages_per_s", &["[0, 1000]", &got]);
}

#[test]
fn a_message_rate_of_two_to_the_31() {
    refused_rate("2147483648", "2147483648");
}

#[test]
fn a_message_rate_of_a_billion() {
    refused_rate("1e9", "1000000000");
}

#[test]
fn a_message_rate_of_1e300() {
    refused_rate("1e300", "1e300");
}

#[test]
fn two_to_the_31_agents() {
    let to = "agents = @2147483648";
    refused_edit(
        "agents = 2",
        to,
        "topology.agents",
        &["at most 1000", "limit"],
    );
}

#[test]
fn a_hundred_thousand_agents() {
    let to = "agents = @100000";
    refused_edit("agents = 2", to, "topology.agents", &["at most 1000"]);
}

#[test]
fn members_beyond_their_cap() {
    let to = format!("members = @{}", MAX_MEMBERS + 1);
    let words = [format!("at most {MAX_MEMBERS}")];
    refused_edit("members = 3", &to, "topology.members", &[&words[0]]);
}

#[test]
fn a_fault_ending_at_the_largest_integer() {
    let table = "[[faults]]\nkind = \"loss\"\nat = 0\nuntil = @9223372036854775807\nrate = 0.1";
    refused_table(table, "faults[0].until", DAY);
}

#[test]
fn a_workload_stopping_at_the_largest_integer() {
    refused_edit(STOP, "stop = @9223372036854775807", "workload.stop", DAY);
}

#[test]
fn a_duration_of_ten_to_the_eleven_hours() {
    refused_edit(STOP, "stop = @\"100000000000h\"", "workload.stop", DAY);
}

#[test]
fn a_healing_period_of_a_thousand_hours() {
    refused_edit(
        "period = \"5s\"",
        "period = @\"1000h\"",
        "healing.period",
        DAY,
    );
}

#[test]
fn a_takeover_stagger_near_the_largest_integer() {
    let table = "[protocol]\ntakeover_after = @9223372036854775000";
    refused_table(table, "protocol.takeover_after", DAY);
}

#[test]
fn a_clock_set_back_by_more_than_a_day() {
    let table = "[[faults]]\nkind = \"clock_skew\"\nat = 0\nmember = \"m1\"\noffset = @\"-25h\"";
    refused_table(table, "faults[0].offset", DAY);
}

#[test]
fn a_latency_of_an_hour() {
    let table = "[network]\nlatency = @\"1h\"";
    refused_table(table, "network.latency", &["at most 1m (60000 ms)"]);
}

#[test]
fn attempts_beyond_the_limit() {
    let table = "[protocol]\nmax_attempts = @4294967295";
    refused_table(table, "protocol.max_attempts", &["at most 10000"]);
}

#[test]
fn a_seed_range_of_every_u64() {
    let range = "\"0..=18446744073709551615\"";
    let text = format!("seeds = {range}\n{BASE}");
    refused(&text, "seeds", range, &["more than 1000000 seeds"]);
}

#[test]
fn a_run_longer_than_a_day() {
    let text = edit(&[("\"10s\"", "\"24h\""), ("\"5s\"", "\"1h\"")], "");
    let words = ["would end at 90000000 ms", "limit of 24h"];
    refused(&text, "healing.period", "\"1h\"", &words);
}

/// Only turmoil scans every link on every tick: the scenario loads, the
/// events engine would take it, and turmoil refuses it before setup.
#[test]
fn too_many_host_pair_ticks_for_turmoil() {
    use commsim::sim::{Engine, run_on};
    let edits = [
        ("members = 3", "members = 500"),
        ("agents = 2", "agents = 1000"),
        ("\"5s\"", "\"3h\""),
    ];
    let s = parse_str("big.toml", &edit(&edits, "")).expect("loads");
    let Err(e) = run_on(&s, s.seed, "lww".parse().unwrap(), Engine::Turmoil) else {
        panic!(
            "turmoil took {} host-pair ticks",
            s.cost().host_pair_ticks()
        );
    };
    let limit = format!("limit of {MAX_HOST_PAIR_TICKS}");
    for w in ["1500 hosts", &limit, "--engine events"] {
        assert!(e.to_string().contains(w), "{e} lacks {w}");
    }
}

#[test]
fn too_many_events() {
    let edits = [
        ("members = 3", "members = 100"),
        (STOP, "stop = \"1h\"\nmessages_per_s = 1000"),
    ];
    let text = edit(&edits, "\n[sim]\ntick = \"100ms\"\n");
    let limit = format!("limit of {MAX_EVENTS}");
    let words = ["to 99 recipients", &limit];
    refused(&text, "workload.messages_per_s", "= @1000", &words);
}

#[test]
fn a_thousand_and_one_faults() {
    let fault = "\n[[faults]]\nkind = \"loss\"\nat = 0\nrate = 0.1\n";
    let text = edit(&[], &fault.repeat(1_001));
    let e = parse_str("bad.toml", &text).expect_err("should be rejected");
    assert_eq!(e.field, "faults[1000]", "{e}");
    assert!(e.message.contains("at most 1000 faults"), "{e}");
}

/// `BASE` with two server agents and `dishonest` faults made of `keys`.
fn lies(keys: &[&str]) -> String {
    let faults: String = keys
        .iter()
        .map(|k| format!("\n[[faults]]\nkind = \"dishonest\"\n{k}"))
        .collect();
    edit(&[("agents = 2\n", "agents = 2\nservers = 2\n")], &faults)
}

#[test]
fn overlapping_lies_of_one_server() {
    let text = lies(&[
        "at = \"1s\"\nuntil = \"5s\"\nhost = \"c0\"\nmode = \"replay\"\n",
        "at = \"4s\"\nuntil = \"9s\"\nhost = \"c0\"\nmode = \"drop\"\nvictim = \"m1\"\n",
    ]);
    refused(
        &text,
        "faults[1].at",
        "at = @\"4s\"",
        &["overlaps faults[0]", "one way at a time"],
    );
    // One without `until` lasts to the end, so it overlaps what follows.
    let text = lies(&[
        "at = \"1s\"\nhost = \"c1\"\nmode = \"replay\"\n",
        "at = \"8s\"\nuntil = \"9s\"\nhost = \"c1\"\nmode = \"replay\"\n",
    ]);
    refused(
        &text,
        "faults[1].at",
        "at = @\"8s\"",
        &["overlaps faults[0]"],
    );
}

#[test]
fn lies_back_to_back_or_on_two_servers_load() {
    let text = lies(&[
        "at = \"1s\"\nuntil = \"5s\"\nhost = \"c0\"\nmode = \"replay\"\n",
        "at = \"5s\"\nuntil = \"9s\"\nhost = \"c0\"\nmode = \"drop\"\nvictim = \"m1\"\n",
        "at = \"2s\"\nhost = \"c1\"\nmode = \"replay\"\n",
    ]);
    parse_str("ok.toml", &text).unwrap();
}

/// The docs' own example, a member set back two minutes from the start,
/// used to freeze that member's clock at zero: it never polled its
/// mailboxes and the run failed. Its clock now runs two minutes behind.
#[test]
fn a_clock_set_back_two_minutes_runs_and_passes() {
    use commsim::checkers::{Status, check_run};
    let text = edit(
        &[("[expect.lww]\nconvergence = \"pass\"", "")],
        "\n[[faults]]\nkind = \"clock_skew\"\nat = 0\nmember = \"m1\"\noffset = \"-2m\"\n\n\
         [expect.lww]\nconvergence = \"pass\"\ndelivery = \"pass\"\n",
    )
    .replace("\"10s\"", "\"4s\"")
    .replace("\"5s\"", "\"3s\"");
    let s = parse_str("skew.toml", &text).unwrap();
    assert_eq!(s.clock_epoch(), 120_000);
    let out = commsim::sim::run(&s, s.seed, "lww".parse().unwrap()).unwrap();
    assert!(out.messages_sent > 0);
    for v in check_run(&out.trace, &out.observations) {
        assert_eq!(v.status, Status::Pass, "{v:#?}");
    }
}
