//! What `commsim run` reports: one summary per run, as text or JSON.

use crate::checkers::Verdict;
use crate::core::member::membership::Variant;
use crate::core::member::sessions::CryptoOps;
use crate::core::mls::MlsOps;
use crate::sim::RunOutput;
use crate::trace::event::Status;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
pub struct Check {
    #[serde(flatten)]
    pub verdict: Verdict,
    pub expected: Option<Status>,
    pub met: bool,
}

#[derive(Serialize)]
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
}

#[derive(Serialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    pub variant: Variant,
    pub digest: String,
    pub wire_digest: String,
    pub verdict: Status,
    #[serde(skip)]
    pub met: bool,
    pub checks: Vec<Check>,
    pub counts: Counts,
}

impl Summary {
    pub fn new(
        scenario: &str,
        seed: u64,
        variant: Variant,
        out: &RunOutput,
        verdicts: Vec<Verdict>,
        expect: &BTreeMap<String, Status>,
        wall_ms: f64,
    ) -> Summary {
        let checks: Vec<Check> = verdicts
            .into_iter()
            .map(|v| {
                let expected = expect.get(&v.check).copied();
                Check {
                    met: expected.is_none_or(|e| e == v.status),
                    expected,
                    verdict: v,
                }
            })
            .collect();
        // An expectation for a checker that did not run is not met.
        let all_ran = expect
            .keys()
            .all(|k| checks.iter().any(|c| &c.verdict.check == k));
        let met = all_ran && checks.iter().all(|c| c.met);
        Summary {
            scenario: scenario.to_owned(),
            seed,
            variant,
            digest: out.digest.clone(),
            wire_digest: out.wire_digest.clone(),
            verdict: if met { Status::Pass } else { Status::Fail },
            met,
            checks,
            counts: Counts {
                members: out.world.members.len(),
                messages_sent: out.messages_sent,
                deliveries: out.deliveries,
                datagrams_sent: out.counters.datagrams_sent,
                bytes_on_wire: out.counters.bytes_sent,
                datagrams_lost: out.counters.datagrams_lost,
                datagrams_duplicated: out.counters.datagrams_duplicated,
                audit_reports: out
                    .world
                    .members
                    .values()
                    .map(|m| m.stats.audits_sent)
                    .sum(),
                audit_bytes: out
                    .world
                    .members
                    .values()
                    .map(|m| m.stats.audit_bytes)
                    .sum(),
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
            },
        }
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Unknown => "unknown",
    }
}

/// One line per checker, then its evidence, indented.
pub fn print_verdicts(verdicts: &[Verdict], expect: &BTreeMap<String, Status>) {
    for v in verdicts {
        let expected = expect.get(&v.check).copied();
        let mark = match expected {
            Some(e) if e == v.status => "ok ",
            Some(_) => "!! ",
            None => "   ",
        };
        let exp = expected
            .map(|e| format!("(expected {})", status_word(e)))
            .unwrap_or_else(|| "(no expectation)".into());
        say!(
            "  {mark}{:<22} {:<8}{:<20} {}",
            v.check,
            status_word(v.status),
            exp,
            v.summary
        );
        for e in v.evidence.iter().take(5) {
            say!("        - {}", e.note);
        }
        if v.evidence.len() > 5 {
            say!("        ... {} more in --json", v.evidence.len() - 5);
        }
    }
}

pub fn print_text(s: &Summary) {
    say!("{}  variant {}  seed {}", s.scenario, s.variant, s.seed);
    say!("  trace digest {}", s.digest);
    let expect: BTreeMap<String, Status> = s
        .checks
        .iter()
        .filter_map(|c| Some((c.verdict.check.clone(), c.expected?)))
        .collect();
    let verdicts: Vec<Verdict> = s.checks.iter().map(|c| c.verdict.clone()).collect();
    print_verdicts(&verdicts, &expect);
    let c = &s.counts;
    say!(
        "  {} members, {} messages, {} deliveries; {} datagrams ({} bytes), {} lost, {} duplicated; {} audit reports ({} bytes); {} Olm ops, {} MLS encryptions, {} MLS decryptions",
        c.members,
        c.messages_sent,
        c.deliveries,
        c.datagrams_sent,
        c.bytes_on_wire,
        c.datagrams_lost,
        c.datagrams_duplicated,
        c.audit_reports,
        c.audit_bytes,
        c.crypto_ops_total,
        c.mls_ops.encryptions,
        c.mls_ops.decryptions
    );
    say!(
        "  {:.1} s simulated in {:.2} s wall ({:.0}x)",
        c.simulated_ms as f64 / 1000.0,
        c.wall_ms / 1000.0,
        c.sim_to_wall
    );
    say!(
        "  verdict: {}",
        if s.met {
            "PASS (every checker met its expectation)"
        } else {
            "FAIL (see the !! lines)"
        }
    );
}
