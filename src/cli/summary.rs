//! How a run's outcome reads on a terminal.

use crate::checkers::Verdict;
use crate::explore::outcome::Summary;
use crate::trace::Claim;
use crate::trace::event::Status;
use std::collections::BTreeMap;

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Unknown => "unknown",
    }
}

/// One line per checker, then its evidence, indented.
pub fn print_verdicts(verdicts: &[Verdict], expect: &BTreeMap<String, Claim>) {
    // "(expected fails-sometimes)" is wider than the others; keep the
    // summaries in one column whatever the claims are.
    let width = expect
        .values()
        .map(|c| c.name().len() + 12)
        .max()
        .unwrap_or(0)
        .max(20);
    for v in verdicts {
        let expected = expect.get(&v.check).copied();
        let mark = match expected {
            Some(e) if e.met_by(v.status) => "ok ",
            Some(_) => "!! ",
            None => "   ",
        };
        let exp = expected
            .map(|e| format!("(expected {e})"))
            .unwrap_or_else(|| "(no expectation)".into());
        say!(
            "  {mark}{:<22} {:<8}{:<width$} {}",
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
    let expect: BTreeMap<String, Claim> = s
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
        if s.met() {
            "PASS (every checker met its expectation)"
        } else {
            "FAIL (see the !! lines)"
        }
    );
}
