//! Running many simulations at once: one OS thread per run in flight, so
//! that each run is exactly what `commsim run` would do with the same
//! scenario, seed and variant (same digest), and parallelism lives only
//! across runs.

use super::outcome::{Panicked, Provenance, RunLine, Summary};
use crate::checkers;
use crate::core::member::membership::Variant;
use crate::scenario::Scenario;
use crate::sim::{self, Engine, RunOutput};
use crate::trace::Status;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One simulation to run.
#[derive(Clone, Debug)]
pub struct Job {
    /// The scenario file as the user named it, for replay commands.
    pub file: String,
    pub scenario: Arc<Scenario>,
    pub variant: Variant,
    pub seed: u64,
    pub engine: Engine,
    /// An explored plan: its run reports the protocol states it reached
    /// and carries what planned it.
    pub explored: Option<Explored>,
}

/// What `explore` planned a job from.
#[derive(Clone, Debug)]
pub struct Explored {
    /// The exploring seed (a guided plan may run on another seed, its
    /// parent's).
    pub seed: u64,
    /// The plan as a scenario file, written once for all its variants.
    pub plan: Arc<str>,
}

impl Job {
    /// The command that reproduces this run on its own.
    pub fn replay(&self) -> String {
        replay_command(&self.file, self.seed, self.variant, self.engine)
    }
}

pub fn replay_command(file: &str, seed: u64, variant: Variant, engine: Engine) -> String {
    let on = if engine == Engine::default() {
        String::new()
    } else {
        format!(" --engine {engine}")
    };
    format!("commsim run {file} --seed {seed} --variant {variant}{on}")
}

/// Runs one scenario, seed and variant, and judges it. Wall time is
/// measured here, outside the simulation, and never reaches the trace.
pub fn judge(
    file: &str,
    scenario: &Scenario,
    seed: u64,
    variant: Variant,
    engine: Engine,
) -> Result<(Summary, RunOutput), sim::RunError> {
    let started = std::time::Instant::now();
    let out = sim::run_on(scenario, seed, variant, engine)?;
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    let verdicts = checkers::check_run(&out.trace, &out.observations);
    let summary = Summary::new(file, scenario, seed, variant, &out, verdicts, wall_ms);
    Ok((summary, out))
}

/// Runs a job, turning a panic or a simulator error into a failed run
/// rather than the end of the sweep.
pub fn run_job(job: &Job) -> RunLine {
    match guarded(|| judge(&job.file, &job.scenario, job.seed, job.variant, job.engine)) {
        Ok((mut summary, out)) => {
            if let Some(e) = &job.explored {
                summary.exploring_seed = Some(e.seed);
                summary.features = Some(crate::coverage::features(&out.trace));
                summary.plan = Some(e.plan.to_string());
            }
            RunLine::Done(Box::new(summary))
        }
        Err(failure) => failed(job, failure),
    }
}

/// The line of a job that did not finish, with what went wrong.
pub fn failed(job: &Job, failure: String) -> RunLine {
    RunLine::Panicked(Panicked {
        scenario: job.scenario.name.clone(),
        file: job.file.clone(),
        seed: job.seed,
        variant: job.variant,
        verdict: Status::Fail,
        panic: failure,
        provenance: Provenance::of(&job.scenario, job.engine),
    })
}

/// `f`'s result, or what went wrong: its error, or its panic's message.
pub fn guarded<T, E: std::fmt::Display>(f: impl FnOnce() -> Result<T, E>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(e.to_string()),
        Err(payload) => Err(panic_message(payload.as_ref())),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// Runs every job on `threads` worker threads, calling `done` as each
/// finishes (in completion order, for progress), and returns the results
/// in job order, whatever order they finished in.
///
/// Workers pull from a shared counter rather than a rayon pool: each
/// simulation already runs on a one-thread rayon pool of its own (see
/// `sim::entropy`), and a rayon worker waiting on another pool steals
/// more work meanwhile, which would run more simulations at once than
/// asked and nest them on one stack.
pub fn run_all(jobs: &[Job], threads: usize, done: impl Fn(&Job, &RunLine) + Sync) -> Vec<RunLine> {
    run_each(jobs, threads, run_job, done)
}

/// [`run_all`] for any kind of work item: `commsim report` keeps more of
/// each run than its summary. `run` should catch its own failures
/// ([`guarded`]); a panic that escapes it is not reported twice.
pub fn run_each<J: Sync, T: Send>(
    jobs: &[J],
    threads: usize,
    run: impl Fn(&J) -> T + Sync,
    done: impl Fn(&J, &T) + Sync,
) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    let quiet = QuietPanics::install();
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let line = run(job);
                    done(job, &line);
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(line);
                    }
                }
            });
        }
    });
    drop(quiet);
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.into_iter().flatten().collect()
}

/// While many runs share a terminal, a panicking run is reported once, as
/// a failed run with its replay command, instead of through the default
/// hook's message in the middle of a progress bar.
type Hook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send>;

struct QuietPanics(Option<Hook>);

impl QuietPanics {
    fn install() -> QuietPanics {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        QuietPanics(Some(previous))
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            std::panic::set_hook(previous);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_failure_with_its_message() {
        let quiet = QuietPanics::install();
        let r: Result<(), String> =
            guarded(|| -> Result<(), String> { panic!("slot {} twice", 7) });
        let s: Result<(), String> =
            guarded(|| -> Result<(), String> { std::panic::panic_any(3u8) });
        drop(quiet);
        assert_eq!(r, Err("slot 7 twice".to_owned()));
        assert_eq!(s, Err("a panic without a message".to_owned()));
        assert_eq!(guarded(|| Err::<(), _>("bad")), Err("bad".to_owned()));
    }
}
