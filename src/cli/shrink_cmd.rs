//! `commsim shrink`: a failing run reduced to a small scenario file that
//! fails the same check.

use super::BadInput;
use super::sweep_cmd::{progress, threads};
use crate::core::member::membership::Variant;
use crate::explore::shrink::{ShrinkError, ShrinkSpec, shrink};
use crate::scenario::load_file;
use crate::trace::CheckId;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Options {
    /// The scenario file of the failing run.
    pub file: PathBuf,
    /// The failing run's seed.
    #[arg(long)]
    pub seed: u64,
    /// The failing run's variant; defaults to the first listed variant
    /// that fails on this seed.
    #[arg(long, value_parser = super::variant_arg())]
    pub variant: Option<Variant>,
    /// The check that must keep failing; defaults to the first that fails
    /// where the scenario claims `pass`.
    #[arg(long, value_parser = super::check_arg())]
    pub check: Option<CheckId>,
    /// Where to write the shrunk scenario; defaults to
    /// `<scenario>-<check>-seed<N>.toml` in the current folder.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Runs at once; defaults to the number of cores.
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// The engine that drives each run.
    #[arg(long, default_value_t = crate::sim::Engine::default(), value_parser = super::engine_arg())]
    pub engine: crate::sim::Engine,
    /// Other seeds to try a smaller scenario on, when it does not fail on
    /// the current one (failures that need a particular timing).
    #[arg(long, default_value_t = 3)]
    pub other_seeds: u64,
    /// Give up shrinking after this many simulations.
    #[arg(long, default_value_t = 2000)]
    pub max_runs: usize,
}

pub fn run(o: Options) -> Result<bool, BadInput> {
    let file = o.file.display().to_string();
    let scenario = load_file(&o.file).map_err(|e| BadInput(e.report()))?;
    let variants = match o.variant {
        Some(v) => vec![v],
        None => scenario.variants.clone(),
    };
    let mut last_error = None;
    for variant in variants {
        let spec = ShrinkSpec {
            file: file.clone(),
            scenario: scenario.clone(),
            seed: o.seed,
            variant,
            engine: o.engine,
            check: o.check,
            threads: threads(o.jobs),
            other_seeds: o.other_seeds,
            max_runs: o.max_runs,
        };
        let bar = progress(o.max_runs as u64);
        let result = shrink(&spec, |runs, size| {
            bar.set_position(runs as u64);
            bar.set_message(size.to_string());
        });
        bar.finish_and_clear();
        let mut shrunk = match result {
            Ok(s) => s,
            Err(e @ (ShrinkError::NoFailure { .. } | ShrinkError::NotFailing { .. })) => {
                last_error = Some(e.to_string());
                continue;
            }
            Err(e) => return Err(BadInput(e.to_string())),
        };
        let name = shrunk.file_name(&scenario.name);
        shrunk.scenario.name = name.trim_end_matches(".toml").to_owned();
        shrunk.scenario.description =
            format!("shrunk from {}: {}", scenario.name, scenario.description);
        let out = o.out.clone().unwrap_or_else(|| PathBuf::from(&name));
        let origin = format!(
            "Shrunk by `commsim shrink {file} --seed {} --variant {variant}`.",
            o.seed
        );
        std::fs::write(&out, shrunk.to_toml(&origin))
            .map_err(|e| BadInput(format!("{}: {e}", out.display())))?;
        eprintln!(
            "{} [{variant}] seed {}: {} fails",
            file, o.seed, shrunk.check
        );
        eprintln!("  before: {}", shrunk.before);
        eprintln!("  after:  {} (seed {})", shrunk.after, shrunk.seed);
        eprintln!("  {} steps, {} runs", shrunk.steps, shrunk.runs);
        eprintln!(
            "  wrote {}; replay: commsim run {}",
            out.display(),
            out.display()
        );
        return Ok(true);
    }
    Err(BadInput(
        last_error.unwrap_or_else(|| "nothing to shrink".into()),
    ))
}
