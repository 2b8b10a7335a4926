//! `commsim sweep`: scenarios x variants x seeds on every core, claims
//! judged over the seeds.

use super::BadInput;
use crate::core::member::membership::Variant;
use crate::explore::outcome::RunLine;
use crate::explore::runner::{Job, run_all};
use crate::explore::sweep::{Row, SweepSpec, plan, tabulate};
use crate::scenario::SeedRange;
use crate::sim::Engine;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(clap::Args, Debug)]
pub struct Options {
    /// Scenario files, or folders of them (searched recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub select: Selection,
    /// Run only shard I of N (1-based), for CI matrices: the shards are
    /// disjoint and together cover the sweep.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Print each run's `run --json` object on stdout, one per line, and
    /// nothing else there.
    #[arg(long)]
    pub json: bool,
    /// Read the --json output of earlier sweeps (the shards of one
    /// sweep, say) from the given files and judge them as one sweep.
    #[arg(long, conflicts_with_all = ["seeds", "variant", "jobs", "shard", "json"])]
    pub merge: bool,
}

/// Which runs, and how many at once: shared by `sweep` and `explore`.
#[derive(clap::Args, Debug)]
pub struct Selection {
    /// Seeds to run, like 1..=50; defaults to each scenario's `seeds`.
    #[arg(long)]
    pub seeds: Option<String>,
    /// Only this variant, in the scenarios that list it.
    #[arg(long, value_parser = super::variant_arg())]
    pub variant: Option<Variant>,
    /// Runs at once; defaults to the number of cores.
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// The engine that drives each run.
    #[arg(long, default_value_t = Engine::default(), value_parser = super::engine_arg())]
    pub engine: Engine,
}

pub fn sweep(o: Options) -> Result<bool, BadInput> {
    if o.merge {
        return merge(&o.paths);
    }
    let spec = SweepSpec {
        paths: o.paths,
        seeds: o
            .select
            .seeds
            .as_deref()
            .map(|s| s.parse().map_err(|e| BadInput(format!("--seeds: {e}"))))
            .transpose()?,
        variant: o.select.variant,
        engine: o.select.engine,
        shard: o.shard.as_deref().map(parse_shard).transpose()?,
    };
    let jobs = plan(&spec).map_err(|e| BadInput(e.to_string()))?;
    let threads = threads(o.select.jobs);
    tracing::info!("{} runs planned, {threads} at once", jobs.len());
    let lines = run_with_progress(&jobs, threads, o.json, "missed");
    let rows = tabulate(&lines);
    let partial = Partial {
        shard: spec.shard.is_some_and(|(_, n)| n > 1),
        narrowed: narrowed(&jobs, spec.seeds),
    };
    Ok(report(&rows, &partial, threads))
}

/// What part of each file's claims a sweep ran: a `fails-sometimes` claim
/// is left open, not missed, where only part of its range ran.
#[derive(Default)]
struct Partial {
    /// One shard of several.
    shard: bool,
    /// Files whose range `--seeds` cut short.
    narrowed: BTreeSet<String>,
}

impl Partial {
    fn of(&self, row: &Row) -> bool {
        self.shard || self.narrowed.contains(&row.file)
    }
}

/// The files whose own seed range `seeds` does not cover: over fewer seeds
/// a `fails-sometimes` claim cannot be decided (`sweep scenarios/ --seeds
/// 1..=3` exited 1 for that alone).
fn narrowed(jobs: &[Job], seeds: Option<SeedRange>) -> BTreeSet<String> {
    let Some(s) = seeds else {
        return BTreeSet::new();
    };
    (jobs.iter())
        .filter(|j| s.first > j.scenario.seeds.first || s.last < j.scenario.seeds.last)
        .map(|j| j.file.clone())
        .collect()
}

/// Runs the jobs behind a progress bar that counts the runs missing a
/// claim (`label` says what to call them); with `json`, each run's object
/// is printed on stdout as it ends, so a long sweep streams. Lines come in
/// completion order; each names its run.
pub fn run_with_progress(jobs: &[Job], threads: usize, json: bool, label: &str) -> Vec<RunLine> {
    let bar = progress(jobs.len() as u64);
    let misses = AtomicUsize::new(0);
    let lines = run_on_bar(jobs, threads, json, label, &bar, &misses);
    bar.finish_and_clear();
    lines
}

/// [`run_with_progress`] on a bar that outlives the call: guided explore
/// runs its batches one after another behind one bar.
pub fn run_on_bar(
    jobs: &[Job],
    threads: usize,
    json: bool,
    label: &str,
    bar: &ProgressBar,
    misses: &AtomicUsize,
) -> Vec<RunLine> {
    run_all(jobs, threads, |_, line| {
        if json {
            bar.suspend(|| say!("{}", serde_json::to_string(line).unwrap_or_default()));
        }
        if !line_met(line) {
            misses.fetch_add(1, Ordering::Relaxed);
        }
        bar.set_message(format!("{} {label}", misses.load(Ordering::Relaxed)));
        bar.inc(1);
    })
}

/// `--jobs`, else every core.
pub fn threads(jobs: Option<usize>) -> usize {
    jobs.filter(|j| *j > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn parse_shard(s: &str) -> Result<(u64, u64), BadInput> {
    let bad = || BadInput(format!("--shard: expected I/N with 1 <= I <= N, got `{s}`"));
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// A progress bar on stderr; indicatif draws nothing when stderr is not a
/// terminal, so logs and CI output stay clean.
pub fn progress(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:30} {pos}/{len} runs  {msg}  {elapsed} elapsed, ~{eta} left",
    ) {
        bar.set_style(style);
    }
    bar
}

fn line_met(line: &RunLine) -> bool {
    matches!(line, RunLine::Done(s) if s.met())
}

/// `sweep --merge`: the `--json` lines of several shards, judged as one
/// sweep.
fn merge(files: &[PathBuf]) -> Result<bool, BadInput> {
    let mut lines = Vec::new();
    for file in files {
        let shown = file.display().to_string();
        let f = std::fs::File::open(file).map_err(|e| BadInput(format!("{shown}: {e}")))?;
        for (n, text) in std::io::BufReader::new(f).lines().enumerate() {
            let text = text.map_err(|e| BadInput(format!("{shown}: {e}")))?;
            if text.trim().is_empty() {
                continue;
            }
            let line: RunLine = serde_json::from_str(&text).map_err(|e| {
                BadInput(format!("{shown}:{}: not a sweep --json line: {e}", n + 1))
            })?;
            lines.push(line);
        }
    }
    if lines.is_empty() {
        return Err(BadInput("--merge: no run lines in the given files".into()));
    }
    Ok(report(&tabulate(&lines), &Partial::default(), 0))
}

/// The summary table and replay commands, on stderr so that `--json`
/// output stays clean. Returns whether every claim held.
/// The claims that held without being exercised: a `pass` from a check
/// whose situation (a fork, a lie, a server failure...) no run reached.
/// They are not misses, but a reader should know what a sweep did not
/// test.
fn vacuous(rows: &[Row]) {
    let lines: Vec<String> = (rows.iter())
        .filter_map(|r| {
            let v = r.vacuous();
            (!v.is_empty()).then(|| {
                let names: Vec<&str> = v.iter().map(|c| c.name()).collect();
                format!(
                    "  {} [{}]: {}",
                    r.scenario,
                    r.variant.map(|v| v.name()).unwrap_or("-"),
                    names.join(", ")
                )
            })
        })
        .collect();
    if !lines.is_empty() {
        eprintln!("claims that held with nothing to judge (no run reached what they are about):");
        for l in lines {
            eprintln!("{l}");
        }
    }
}

fn report(rows: &[Row], partial: &Partial, threads: usize) -> bool {
    let mut ok = true;
    let width = rows
        .iter()
        .map(|r| r.scenario.len())
        .max()
        .unwrap_or(8)
        .max(8);
    eprintln!(
        "{:<width$}  {:<14} {:>5} {:>5} {:>6} {:>6} {:>9} {:>9}",
        "scenario", "variant", "runs", "met", "missed", "panics", "median", "slowest"
    );
    let mut missed_lines = Vec::new();
    for r in rows {
        let missed = r.missed_claims(partial.of(r));
        ok &= missed.is_empty() && r.panics == 0 && r.missed_runs.is_empty();
        eprintln!(
            "{:<width$}  {:<14} {:>5} {:>5} {:>6} {:>6} {:>7.2}s {:>7.2}s",
            r.scenario,
            r.variant.map(|v| v.name()).unwrap_or("-"),
            r.runs,
            r.claims().saturating_sub(missed.len()),
            missed.len(),
            r.panics,
            r.median_wall_ms() / 1000.0,
            r.slowest_wall_ms() / 1000.0,
        );
        for m in &missed {
            missed_lines.push(format!(
                "  {} [{}] {}: {}",
                r.file,
                r.variant.map(|v| v.name()).unwrap_or("-"),
                m.check,
                m.note
            ));
        }
        // Every missed run gets its replay command; the reasons of the
        // first few per row are enough to read the pattern.
        for (k, run) in r.missed_runs.iter().enumerate() {
            missed_lines.push(format!("  {}", run.replay));
            if k < MAX_REASONS {
                for why in run.why.iter().take(3) {
                    missed_lines.push(format!("      {}", clip(why, 160)));
                }
            }
        }
    }
    vacuous(rows);
    let runs: usize = rows.iter().map(|r| r.runs).sum();
    if missed_lines.is_empty() {
        eprintln!("{runs} runs: every claim held{}", threads_note(threads));
    } else {
        eprintln!(
            "{runs} runs{}; missed claims, and a command to replay each missed run:",
            threads_note(threads)
        );
        for l in missed_lines {
            eprintln!("{l}");
        }
    }
    if partial.shard {
        eprintln!(
            "(one shard: fails-sometimes claims are judged when the shards are merged with `commsim sweep --merge`)"
        );
    } else if !partial.narrowed.is_empty() {
        eprintln!(
            "(--seeds ran part of {} file(s)' ranges: their fails-sometimes claims are left open)",
            partial.narrowed.len()
        );
    }
    ok
}

/// Missed runs per row whose reasons are printed under their replay
/// command; `--json` has them all.
const MAX_REASONS: usize = 10;

fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

fn threads_note(threads: usize) -> String {
    if threads == 0 {
        String::new()
    } else {
        format!(" on {threads} threads")
    }
}
