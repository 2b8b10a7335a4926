//! `commsim check`: the checkers on a saved trace.

use super::BadInput;
use super::summary::{Tally, print_rows};
use crate::checkers::{self, Verdict};
use crate::trace::CheckId;
use crate::trace::Status;
use crate::trace::{Event, Sealed, Trace};
use std::collections::BTreeSet;
use std::io::BufReader;
use std::path::Path;

pub fn check(path: &Path, json: bool) -> Result<bool, BadInput> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| BadInput(format!("{shown}: {e}")))?;
    let Sealed { trace, digest } =
        Trace::read(&shown, BufReader::new(file)).map_err(|e| BadInput(e.to_string()))?;
    // A sealed trace opens with its run_started (the seal checks it).
    let Some(Event::RunStarted {
        expect, variant, ..
    }) = trace.records.first().map(|r| &r.event)
    else {
        return Err(BadInput(format!("{shown}: no run_started")));
    };
    let verdicts = checkers::check_saved(&trace);
    let skipped = skipped(&verdicts);
    // Claims on skipped checkers are shown but not held to an answer.
    let judged = checkers::judge(verdicts, expect, |v| skipped.contains(&v.check));
    let mismatches = judged.mismatches();
    let tally = Tally::of(*variant, &judged.checks, !judged.met());
    if json {
        let out = serde_json::json!({
            "trace": shown,
            "digest": digest,
            "verdict": checkers::status_name(tally.status()),
            "checks": judged.checks.iter().map(|c| &c.verdict).collect::<Vec<_>>(),
            "skipped": tally.skipped,
            "mismatches": mismatches,
        });
        say!("{out}");
    } else {
        say!("{shown}: digest {digest} (sealed, verified)");
        print_rows(&judged.checks);
        say!("  verdict: {}", tally.line());
    }
    Ok(tally.status() == Status::Pass)
}

/// Checkers that need what only a live run holds (key material, the
/// datagrams): they are the ones `check_saved` adds to the trace checkers,
/// and on a trace they answer `unknown` for want of it, which says nothing
/// about the run.
fn skipped(verdicts: &[Verdict]) -> BTreeSet<CheckId> {
    let from_trace: BTreeSet<CheckId> = checkers::check_trace(&Trace::default())
        .into_iter()
        .map(|v| v.check)
        .collect();
    verdicts
        .iter()
        .filter(|v| v.status == Status::Unknown && !from_trace.contains(&v.check))
        .map(|v| v.check)
        .collect()
}
