//! The same scenario and seed give the same trace digest, and the same hash
//! of every datagram on the wire, in separate processes, on either engine.

// Links the crate, and with it the getrandom backend tempfile needs.
use commsim as _;
use std::process::Command;

fn digests(scenario: &str, variant: &str, seed: &str) -> (String, String) {
    digests_on(scenario, variant, seed, "turmoil")
}

fn digests_on(scenario: &str, variant: &str, seed: &str, engine: &str) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_commsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            scenario,
            "--variant",
            variant,
            "--seed",
            seed,
            "--engine",
            engine,
            "--json",
        ])
        .output()
        .expect("commsim runs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["counts"]["unseeded_draws"], 0);
    (
        v["digest"].as_str().unwrap().to_owned(),
        v["wire_digest"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn same_seed_same_history_in_two_processes() {
    for (scenario, variant) in [
        ("scenarios/lightweight-partition-heal.toml", "lww"),
        ("scenarios/lightweight-lossy.toml", "recipient-list"),
        ("scenarios/coordinated-dual-nomination.toml", "lww"),
        ("scenarios/coordinated-equivocating-server.toml", "lww"),
    ] {
        for engine in ["turmoil", "events"] {
            let a = digests_on(scenario, variant, "42", engine);
            let b = digests_on(scenario, variant, "42", engine);
            assert_eq!(a, b, "{scenario} {variant} {engine}");
        }
    }
}

#[test]
fn another_seed_gives_another_history_on_the_events_engine() {
    let a = digests_on("scenarios/lightweight-lossy.toml", "lww", "1", "events");
    let b = digests_on("scenarios/lightweight-lossy.toml", "lww", "2", "events");
    assert_ne!(a.0, b.0);
    assert_ne!(a.1, b.1);
}

#[test]
fn another_seed_gives_another_history() {
    let a = digests("scenarios/lightweight-lossy.toml", "lww", "1");
    let b = digests("scenarios/lightweight-lossy.toml", "lww", "2");
    assert_ne!(a.0, b.0);
    assert_ne!(a.1, b.1);
}
