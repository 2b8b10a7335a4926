//! Whole-scenario and protocol-operation benchmarks.
//!
//! `partition_heal/N`: `scenarios/lightweight-partition-heal.toml` with N
//! members (the fault schedule unchanged; members beyond m4 keep their
//! links). `engines/E/N`: the same on each engine, side by side. `idle/N`: the same run with no traffic, which isolates turmoil's
//! per-tick cost. `olm`: one pairwise encryption and decryption, the unit
//! of a lightweight group's crypto cost. `coordinated/*`: the shipped
//! coordinated scenarios as they are (`steady` is fifty members with adds,
//! removes and updates). `mls/*/N`: one member of an N-member MLS group
//! processing another's self-update commit, or one application message:
//! the unit of a coordinated group's per-member cost, which whole runs
//! cannot separate from the simulated network's.

use commsim::core::ids::MemberId;
use commsim::core::member::membership::Variant;
use commsim::core::member::sessions::Sessions;
use commsim::scenario::{Scenario, load_file};
use commsim::sim;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn scaled(members: u32, traffic: bool) -> Scenario {
    let mut s = load_file(std::path::Path::new(
        "scenarios/lightweight-partition-heal.toml",
    ))
    .expect("scenario loads");
    s.topology.members = members;
    s.topology.founders = members;
    if !traffic {
        s.workload.messages_per_s = 0.0;
        s.workload.ops.clear();
    }
    s
}

fn whole_runs(c: &mut Criterion) {
    let mut g = c.benchmark_group("partition_heal");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    for n in [5, 20, 50] {
        let s = scaled(n, true);
        g.bench_with_input(BenchmarkId::from_parameter(n), &s, |b, s| {
            b.iter(|| sim::run(s, 7, Variant::Lww).expect("runs"))
        });
    }
    g.finish();
    // The same scenario and seed on each engine, side by side.
    let mut g = c.benchmark_group("engines");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    for n in [10, 50, 100] {
        let s = scaled(n, true);
        for engine in sim::Engine::ALL {
            let id = BenchmarkId::new(engine.name(), n);
            g.bench_with_input(id, &s, |b, s| {
                b.iter(|| sim::run_on(s, 7, Variant::Lww, engine).expect("runs"))
            });
        }
    }
    g.finish();
    let mut g = c.benchmark_group("idle");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    for n in [5, 20, 50, 100] {
        let s = scaled(n, false);
        g.bench_with_input(BenchmarkId::from_parameter(n), &s, |b, s| {
            b.iter(|| sim::run(s, 7, Variant::Lww).expect("runs"))
        });
    }
    g.finish();
}

fn olm(c: &mut Criterion) {
    let (mut a, mut b) = (Sessions::new(), Sessions::new());
    let (otks, _) = b.new_prekeys(1);
    a.start_outbound(MemberId(1), b.curve25519(), otks[0])
        .expect("session");
    // Settle on normal (not pre-key) messages, as in a running group.
    let (t, m) = a.encrypt(MemberId(1), b"hello").expect("encrypts");
    b.decrypt(MemberId(0), a.curve25519(), t, &m)
        .expect("decrypts");
    let (t, m) = b.encrypt(MemberId(0), b"hi").expect("encrypts");
    a.decrypt(MemberId(1), b.curve25519(), t, &m)
        .expect("decrypts");
    let body = vec![7u8; 300];
    c.bench_function("olm/encrypt_decrypt_300B", |bench| {
        bench.iter(|| {
            let (t, m) = a.encrypt(MemberId(1), black_box(&body)).expect("encrypts");
            b.decrypt(MemberId(0), a.curve25519(), t, &m)
                .expect("decrypts")
        })
    });
    c.bench_function("olm/session_setup", |bench| {
        bench.iter(|| {
            let (mut x, mut y) = (Sessions::new(), Sessions::new());
            let (otks, _) = y.new_prekeys(1);
            x.start_outbound(MemberId(1), y.curve25519(), otks[0])
                .expect("session");
            let (t, m) = x.encrypt(MemberId(1), b"first").expect("encrypts");
            y.decrypt(MemberId(0), x.curve25519(), t, &m)
                .expect("decrypts")
        })
    });
}

fn coordinated(c: &mut Criterion) {
    let mut g = c.benchmark_group("coordinated");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(60))
        .warm_up_time(Duration::from_secs(1));
    for name in ["steady-small", "server-crash", "steady"] {
        let s = load_file(std::path::Path::new(&format!(
            "scenarios/coordinated-{name}.toml"
        )))
        .expect("scenario loads");
        g.bench_with_input(BenchmarkId::from_parameter(name), &s, |b, s| {
            b.iter(|| sim::run(s, s.seed, Variant::Lww).expect("runs"))
        });
    }
    g.finish();
}

/// An N-member MLS group formed by one add commit, as setup and takeover
/// form them: members 1 and 2 are the committer and the receiver.
fn mls_group(n: usize) -> Vec<commsim::core::mls::MlsClient> {
    use commsim::core::mls::MlsClient;
    let mut clients: Vec<MlsClient> = (0..n)
        .map(|i| MlsClient::new(format!("m{i}").as_bytes(), [i as u8; 32]).expect("client"))
        .collect();
    let kps: Vec<Vec<u8>> = clients[1..]
        .iter_mut()
        .map(|c| c.key_package().expect("key package"))
        .collect();
    clients[0].create_group(b"bench").expect("group");
    let prepared = clients[0].add(&kps).expect("add");
    clients[0].confirm_pending().expect("merge");
    let welcome = prepared.welcome.expect("welcome");
    for c in &mut clients[1..] {
        c.join(&welcome).expect("join");
    }
    clients
}

fn mls(c: &mut Criterion) {
    use criterion::BatchSize;
    let mut g = c.benchmark_group("mls");
    g.sample_size(20);
    for n in [10, 50, 100] {
        let mut clients = mls_group(n);
        let commit = clients[1].self_update().expect("update").commit;
        let message = clients[1].encrypt(&[7u8; 300]).expect("encrypts");
        let receiver = &clients[2];
        g.bench_with_input(
            BenchmarkId::new("update_commit_processed", n),
            &commit,
            |b, commit| {
                b.iter_batched(
                    || receiver.copy().expect("copy"),
                    |mut r| r.process(commit).expect("processes"),
                    BatchSize::PerIteration,
                )
            },
        );
        g.bench_with_input(
            BenchmarkId::new("message_decrypted", n),
            &message,
            |b, message| {
                b.iter_batched(
                    || receiver.copy().expect("copy"),
                    |mut r| r.process(message).expect("processes"),
                    BatchSize::PerIteration,
                )
            },
        );
    }
    g.finish();
}

criterion_group!(benches, olm, mls, whole_runs, coordinated);
criterion_main!(benches);
