//! The outcome of one run, judged against its scenario: what `run --json`
//! prints and what `sweep` collects, one object per (scenario, variant,
//! seed). Results from two builds are told apart by the version, commit
//! and scenario hash each one carries.

pub use crate::checkers::Check;
use crate::checkers::{Figure, Verdict, judge};
use crate::core::member::membership::Variant;
use crate::core::member::sessions::CryptoOps;
use crate::core::mls::MlsOps;
use crate::scenario::Scenario;
use crate::sim::{Engine, RunOutput};
use crate::trace::{CheckId, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Counts {
    pub members: usize,
    pub messages_sent: u64,
    pub deliveries: u64,
    pub datagrams_sent: u64,
    pub bytes_on_wire: u64,
    pub datagrams_lost: u64,
    pub datagrams_duplicated: u64,
    /// Coordinated groups: audit reports members sent each other (part of
    /// the datagrams above), and their plaintext bytes.
    pub audit_reports: u64,
    pub audit_bytes: u64,
    pub crypto_ops_total: u64,
    pub crypto_ops: CryptoOps,
    /// Coordinated groups only.
    pub mls_ops: MlsOps,
    pub trace_events: usize,
    pub simulated_ms: u64,
    pub wall_ms: f64,
    /// Simulated time per unit of wall time.
    pub sim_to_wall: f64,
    pub unseeded_draws: u64,
    /// From send to application delivery (absent from older results).
    #[serde(default)]
    pub delivery_latency: crate::trace::latency::Latency,
}

/// Which build produced a result, and from which scenario text.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    pub commsim_version: String,
    /// The commit the binary was built from, when it was built in a git
    /// checkout.
    pub git_commit: Option<String>,
    /// SHA-256 of the scenario file as loaded.
    pub scenario_sha256: String,
    /// The engine that drove the run (digests differ between engines).
    #[serde(default)]
    pub engine: Engine,
}

impl Provenance {
    pub fn of(scenario: &Scenario, engine: Engine) -> Provenance {
        Provenance {
            engine,
            commsim_version: env!("CARGO_PKG_VERSION").to_owned(),
            git_commit: option_env!("COMMSIM_GIT_COMMIT").map(str::to_owned),
            scenario_sha256: scenario.source_sha256.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub scenario: String,
    /// The scenario file as given on the command line, for replay commands.
    pub file: String,
    pub seed: u64,
    pub variant: Variant,
    pub digest: String,
    pub wire_digest: String,
    /// `pass` when every claim this one seed can decide was met.
    pub verdict: Status,
    pub checks: Vec<Check>,
    pub counts: Counts,
    #[serde(flatten)]
    pub provenance: Provenance,
    /// The exploring seed that planned this run (explore only): a guided
    /// plan runs on its parent's seed, so `seed` alone does not name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploring_seed: Option<u64>,
    /// The protocol states the run reached (explore only; see
    /// `coverage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<std::collections::BTreeSet<crate::coverage::Feature>>,
    /// The plan that ran, as a scenario file `commsim run` replays
    /// (explore only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
}

impl Summary {
    pub fn met(&self) -> bool {
        self.verdict == Status::Pass
    }

    /// A figure a checker measured on this run; `None` when that checker
    /// did not run or did not measure it (no fork, no detection time).
    pub fn figure(&self, check: CheckId, figure: Figure) -> Option<u64> {
        (self.checks.iter())
            .find(|c| c.verdict.check == check)
            .and_then(|c| c.verdict.measured.get(figure))
    }

    pub fn new(
        file: &str,
        scenario: &Scenario,
        seed: u64,
        variant: Variant,
        out: &RunOutput,
        verdicts: Vec<Verdict>,
        wall_ms: f64,
    ) -> Summary {
        let empty = BTreeMap::new();
        let judged = judge(
            verdicts,
            scenario.expect.get(&variant).unwrap_or(&empty),
            |_| false,
        );
        let met = judged.met();
        let checks = judged.checks;
        Summary {
            scenario: scenario.name.clone(),
            file: file.to_owned(),
            provenance: Provenance::of(scenario, out.engine),
            seed,
            variant,
            digest: out.digest.clone(),
            wire_digest: out.wire_digest.clone(),
            verdict: if met { Status::Pass } else { Status::Fail },
            checks,
            exploring_seed: None,
            features: None,
            plan: None,
            counts: Counts {
                members: out.members,
                messages_sent: out.messages_sent,
                deliveries: out.deliveries,
                datagrams_sent: out.counters.datagrams_sent,
                bytes_on_wire: out.counters.bytes_sent,
                datagrams_lost: out.counters.datagrams_lost,
                datagrams_duplicated: out.counters.datagrams_duplicated,
                audit_reports: out.audits.0,
                audit_bytes: out.audits.1,
                crypto_ops_total: out.crypto.total(),
                crypto_ops: out.crypto,
                mls_ops: out.mls,
                trace_events: out.trace.records.len(),
                simulated_ms: out.simulated_ms,
                wall_ms,
                sim_to_wall: if wall_ms > 0.0 {
                    out.simulated_ms as f64 / wall_ms
                } else {
                    0.0
                },
                unseeded_draws: out.unseeded_draws,
                delivery_latency: crate::trace::latency::delivery_latency(&out.trace),
            },
        }
    }
}

/// A run that panicked: what `sweep --json` prints in place of a summary,
/// so that the run is counted, replayable, and never silently missing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Panicked {
    pub scenario: String,
    pub file: String,
    pub seed: u64,
    pub variant: Variant,
    pub verdict: Status,
    pub panic: String,
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// One line of `sweep --json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RunLine {
    Done(Box<Summary>),
    Panicked(Panicked),
}

impl RunLine {
    pub fn file(&self) -> &str {
        match self {
            RunLine::Done(s) => &s.file,
            RunLine::Panicked(p) => &p.file,
        }
    }
    pub fn scenario(&self) -> &str {
        match self {
            RunLine::Done(s) => &s.scenario,
            RunLine::Panicked(p) => &p.scenario,
        }
    }
    pub fn variant(&self) -> Variant {
        match self {
            RunLine::Done(s) => s.variant,
            RunLine::Panicked(p) => p.variant,
        }
    }
    pub fn seed(&self) -> u64 {
        match self {
            RunLine::Done(s) => s.seed,
            RunLine::Panicked(p) => p.seed,
        }
    }
    pub fn engine(&self) -> Engine {
        match self {
            RunLine::Done(s) => s.provenance.engine,
            RunLine::Panicked(p) => p.provenance.engine,
        }
    }
}
