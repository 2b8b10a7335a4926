//! `commsim check`: the checkers on a saved trace.

use super::BadInput;
use super::summary::print_verdicts;
use crate::checkers;
use crate::trace::{Event, Trace};
use std::io::BufReader;
use std::path::Path;

pub fn check(path: &Path, json: bool) -> Result<bool, BadInput> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| BadInput(format!("{shown}: {e}")))?;
    let trace = Trace::read(&shown, BufReader::new(file)).map_err(|e| BadInput(e.to_string()))?;
    let Some(expect) = trace.records.iter().find_map(|r| match &r.event {
        Event::RunStarted { expect, .. } => Some(expect.clone()),
        _ => None,
    }) else {
        return Err(BadInput(format!(
            "{shown}: no run_started event; is this a commsim trace?"
        )));
    };
    let verdicts = checkers::check_saved(&trace);
    let mismatches = checkers::compare(&verdicts, &expect);
    if json {
        let out = serde_json::json!({
            "trace": shown,
            "digest": trace.digest(),
            "verdict": if mismatches.is_empty() { "pass" } else { "fail" },
            "checks": verdicts,
            "mismatches": mismatches,
        });
        say!("{out}");
    } else {
        say!("{shown}: digest {}", trace.digest());
        print_verdicts(&verdicts, &expect);
    }
    Ok(mismatches.is_empty())
}
