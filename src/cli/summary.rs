//! How a run's outcome reads on a terminal.

use crate::checkers::Check;
use crate::core::member::membership::Variant;
use crate::explore::outcome::Summary;
use crate::trace::Status;

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Unknown => "unknown",
    }
}

/// One line per checker, then its evidence, indented.
pub fn print_rows(rows: &[Check]) {
    // "(expected fails-sometimes)" is wider than the others; keep the
    // summaries in one column whatever the claims are.
    let width = rows
        .iter()
        .filter_map(|r| r.expected)
        .map(|c| c.name().len() + 12)
        .max()
        .unwrap_or(0)
        .max(20);
    for r in rows {
        let v = &r.verdict;
        let (mark, status) = match r.expected {
            _ if r.skipped => ("-- ", "skipped"),
            Some(_) if r.met => ("ok ", status_word(v.status)),
            Some(_) => ("!! ", status_word(v.status)),
            None => ("   ", status_word(v.status)),
        };
        let exp = r
            .expected
            .map(|e| format!("(expected {e})"))
            .unwrap_or_else(|| "(no expectation)".into());
        say!(
            "  {mark}{:<22} {status:<8}{exp:<width$} {}",
            v.check,
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

/// What the claims of one run (or one saved trace) add up to.
pub struct Tally<'a> {
    pub variant: Variant,
    /// A claim was not met (or named a checker that did not run).
    pub missed: bool,
    /// Claims held to an answer.
    pub judged: usize,
    /// Checkers with no claim on them.
    pub unclaimed: usize,
    /// Claimed checkers a saved trace cannot judge.
    pub skipped: Vec<&'a str>,
}

impl Tally<'_> {
    pub fn of<'a>(variant: Variant, rows: &'a [Check], missed: bool) -> Tally<'a> {
        let claimed = |r: &&Check| r.expected.is_some();
        Tally {
            variant,
            missed,
            judged: crate::checkers::claims_judged(rows),
            unclaimed: rows.iter().filter(|r| r.expected.is_none()).count(),
            skipped: rows
                .iter()
                .filter(claimed)
                .filter(|r| r.skipped)
                .map(|r| r.verdict.check.name())
                .collect(),
        }
    }

    /// A pass needs a judged claim: a run that claims nothing has shown
    /// nothing, and must not read as a pass to CI (the rule a seed range
    /// follows in `Claim::met_over`). Nothing claimed is `unknown`.
    pub fn status(&self) -> Status {
        match (self.missed, self.judged) {
            (true, _) => Status::Fail,
            (false, 0) => Status::Unknown,
            (false, _) => Status::Pass,
        }
    }

    pub fn line(&self) -> String {
        let skipped = self.skipped.join(", ");
        match self.status() {
            Status::Fail => "FAIL (see the !! lines)".into(),
            Status::Unknown if self.skipped.is_empty() => format!(
                "NOTHING CLAIMED (no expectation for variant {}: no answer above was judged, so this is not a pass)",
                self.variant
            ),
            Status::Unknown => format!(
                "NOTHING JUDGED (every claim needs the live run: {skipped}; re-run the scenario)"
            ),
            Status::Pass if self.unclaimed == 0 && self.skipped.is_empty() => {
                "PASS (every checker met its expectation)".into()
            }
            Status::Pass => {
                let mut line = format!("PASS ({} claims met", self.judged);
                if self.unclaimed > 0 {
                    line += &format!("; {} checkers had no expectation", self.unclaimed);
                }
                if !self.skipped.is_empty() {
                    line += &format!("; not judged, a trace cannot: {skipped}");
                }
                line + ")"
            }
        }
    }
}

pub fn print_text(s: &Summary) {
    say!("{}  variant {}  seed {}", s.scenario, s.variant, s.seed);
    say!("  trace digest {}", s.digest);
    print_rows(&s.checks);
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
    let l = &c.delivery_latency;
    say!(
        "  delivery latency over {} deliveries: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        l.deliveries,
        l.p50_ms,
        l.p90_ms,
        l.p99_ms,
        l.max_ms
    );
    say!(
        "  {:.1} s simulated in {:.2} s wall ({:.0}x)",
        c.simulated_ms as f64 / 1000.0,
        c.wall_ms / 1000.0,
        c.sim_to_wall
    );
    let missed = s.verdict == Status::Fail;
    say!(
        "  verdict: {}",
        Tally::of(s.variant, &s.checks, missed).line()
    );
}

/// The variants of one scenario and seed side by side: one row per
/// checker, one column per variant, each cell its answer and whether the
/// claim on it held (`ok`, `!!`, or blank for no claim).
pub fn print_side_by_side(runs: &[Summary]) {
    let width = runs
        .iter()
        .map(|s| s.variant.name().len())
        .max()
        .unwrap_or(0)
        .max(12);
    let mut head = format!("  {:<22}", "all variants");
    for s in runs {
        head += &format!(" {:<width$}", s.variant.name());
    }
    say!("\n{}", head.trim_end());
    let checks = runs.first().map(|s| s.checks.as_slice()).unwrap_or(&[]);
    for (i, c) in checks.iter().enumerate() {
        let mut row = format!("  {:<22}", c.verdict.check);
        for s in runs {
            let cell = s
                .checks
                .get(i)
                .filter(|o| o.verdict.check == c.verdict.check)
                .map_or("-".to_owned(), |o| {
                    let mark = match o.expected {
                        Some(_) if o.met => "ok ",
                        Some(_) => "!! ",
                        None => "   ",
                    };
                    format!("{mark}{}", status_word(o.verdict.status))
                });
            row += &format!(" {cell:<width$}");
        }
        say!("{}", row.trim_end());
    }
    let mut verdicts = format!("  {:<22}", "verdict");
    for s in runs {
        verdicts += &format!(" {:<width$}", status_word(s.verdict).to_uppercase());
    }
    say!("{}", verdicts.trim_end());
}

/// A run that claims nothing passes nothing: its verdict becomes
/// `unknown` (exit 1), as [`Tally::status`] has it.
pub fn settle(s: &mut Summary) {
    if s.met() && s.checks.iter().all(|c| c.expected.is_none()) {
        s.verdict = Status::Unknown;
    }
}
