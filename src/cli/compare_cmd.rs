//! `commsim compare`: two result sets (or two traces), before and after a
//! change.

use super::BadInput;
use crate::explore::outcome::RunLine;
use crate::report::results::Report;
use crate::report::{compare, trace_diff};
use crate::trace::{Event, Record, Sealed, Trace};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Options {
    /// The build before the change: the output of `sweep --json` (or of
    /// `run --json`), a report's `results.json`, or a trace written by
    /// `run --trace`.
    pub before: PathBuf,
    /// The build after it, of the same kind.
    pub after: PathBuf,
    /// Report a cost (bytes, crypto operations, convergence time, ...)
    /// only when its sum over a scenario's runs moved by more than this
    /// many percent.
    #[arg(long, default_value_t = 1.0, value_name = "PERCENT")]
    pub threshold: f64,
}

/// What one input file holds.
enum Input {
    Results(Vec<RunLine>),
    Trace(Trace),
}

/// Prints the comparison as Markdown; false (exit 1) when a claim that
/// held before is missed after.
pub fn compare(o: Options) -> Result<bool, BadInput> {
    if !(o.threshold >= 0.0 && o.threshold.is_finite()) {
        return Err(BadInput(format!(
            "--threshold {}: a percentage of zero or more is needed",
            o.threshold
        )));
    }
    let labels = (shown(&o.before), shown(&o.after));
    match (read(&o.before)?, read(&o.after)?) {
        (Input::Results(b), Input::Results(a)) => {
            let c = compare::compare((&labels.0, &b), (&labels.1, &a), o.threshold);
            say!("{}", c.markdown());
            Ok(!c.regressed())
        }
        (Input::Trace(b), Input::Trace(a)) => {
            say!("{}", trace_diff::markdown((&labels.0, &labels.1), &b, &a));
            Ok(true)
        }
        _ => Err(BadInput(format!(
            "{} and {}: one is a trace and the other a result set; compare like with like",
            labels.0, labels.1
        ))),
    }
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

/// A trace (its first line a `run_started` record) or JSON Lines of run
/// results; a line that is neither is named with its number.
fn read(path: &Path) -> Result<Input, BadInput> {
    let name = shown(path);
    let open = || {
        std::fs::File::open(path)
            .map(BufReader::new)
            .map_err(|e| BadInput(format!("{name}: {e}")))
    };
    let first = open()?
        .lines()
        .map_while(Result::ok)
        .find(|l| !l.trim().is_empty());
    let is_trace = first
        .as_deref()
        .and_then(|l| serde_json::from_str::<Record>(l).ok())
        .is_some_and(|r| matches!(r.event, Event::RunStarted { .. }));
    // A report's `results.json` is one object over many lines.
    if first.as_deref().is_some_and(|l| l.trim() == "{") {
        let report: Report = serde_json::from_reader(open()?).map_err(|e| {
            let at = format!("{name}:{}:{}", e.line(), e.column());
            BadInput(format!("{at}: not a report's results.json: {e}"))
        })?;
        let lines: Vec<RunLine> = report.runs.into_iter().map(|r| r.line).collect();
        tracing::info!(
            "{name}: {} run results of report {}",
            lines.len(),
            report.spec.name
        );
        return Ok(Input::Results(lines));
    }
    if is_trace {
        let Sealed { trace, .. } =
            Trace::read(&name, open()?).map_err(|e| BadInput(e.to_string()))?;
        return Ok(Input::Trace(trace));
    }
    let mut lines = Vec::new();
    for (i, line) in open()?.lines().enumerate() {
        let line = line.map_err(|e| BadInput(format!("{name}: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let run = serde_json::from_str::<RunLine>(&line).map_err(|e| {
            BadInput(format!(
                "{name}:{}: not a run result (a line of `sweep --json`): {e}",
                i + 1
            ))
        })?;
        lines.push(run);
    }
    if lines.is_empty() {
        return Err(BadInput(format!("{name}: no run results in it")));
    }
    tracing::info!("{name}: {} run results", lines.len());
    Ok(Input::Results(lines))
}
