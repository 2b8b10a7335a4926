//! `commsim report`: a report spec's runs, on every core, written up as
//! `report.md`, SVG plots and `results.json`.

use super::BadInput;
use super::sweep_cmd::{progress, threads};
use crate::explore::runner::{Job, run_each};
use crate::report::plan::{Place, plan};
use crate::report::results::{Report, Setup};
use crate::report::run_result::measure;
use crate::report::spec::ReportSpec;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(clap::Args, Debug)]
pub struct Options {
    /// A report spec (TOML), such as `reports/specs/quick.toml`.
    pub spec: PathBuf,
    /// The folder to write; defaults to `reports/<spec name>/`.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Runs at once; defaults to the number of cores.
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Run nothing: draw the plots and write `report.md` again from the
    /// folder's `results.json` (after a change to how reports look).
    #[arg(long, conflicts_with = "jobs")]
    pub redraw: bool,
}

pub fn run(o: Options) -> Result<bool, BadInput> {
    // A report's folder is named after its spec's file, so that --redraw
    // needs nothing but the folder.
    let stem = o
        .spec
        .file_stem()
        .map_or("report".into(), |s| s.to_string_lossy());
    let out = o.out.unwrap_or_else(|| Path::new("reports").join(&*stem));
    if o.redraw {
        return redraw(&out);
    }
    let spec = ReportSpec::load(&o.spec).map_err(|e| BadInput(e.to_string()))?;
    let plan = plan(&spec, &out).map_err(|e| BadInput(e.to_string()))?;
    let cannot =
        |path: &Path, e: std::io::Error| BadInput(format!("{}: cannot write: {e}", path.display()));
    let scenarios = out.join("scenarios");
    // Files of an earlier report that this spec no longer makes would be
    // read as part of it; but only a report's own folder is cleared, never
    // a `scenarios/` that `--out` happens to hold (`--out .` in the
    // project would otherwise delete the shipped scenarios).
    if scenarios.is_dir() {
        let ours = out.join("results.json").is_file();
        let empty = std::fs::read_dir(&scenarios).is_ok_and(|mut d| d.next().is_none());
        if !ours && !empty {
            return Err(BadInput(format!(
                "{}: holds files but no report (no results.json beside it); \
                 give --out a new folder or a report's",
                scenarios.display()
            )));
        }
        std::fs::remove_dir_all(&scenarios).map_err(|e| cannot(&scenarios, e))?;
    }
    std::fs::create_dir_all(&scenarios).map_err(|e| cannot(&scenarios, e))?;
    for (path, text) in &plan.files {
        std::fs::write(path, text).map_err(|e| cannot(path, e))?;
    }
    let threads = threads(o.jobs);
    tracing::info!("{} runs planned, {threads} at once", plan.runs.len());
    let bar = progress(plan.runs.len() as u64);
    let misses = AtomicUsize::new(0);
    // Largest groups first, so that the longest runs do not start last
    // and leave the other cores idle at the end.
    let mut work: Vec<&(Job, Place)> = plan.runs.iter().collect();
    work.sort_by_key(|(_, place)| std::cmp::Reverse(place.size));
    let runs = run_each(
        &work,
        threads,
        |(job, place): &&(Job, Place)| measure(job, place),
        |_, r| {
            if !r.figures.as_ref().is_some_and(|f| f.met) {
                misses.fetch_add(1, Ordering::Relaxed);
            }
            bar.set_message(format!("{} missed", misses.load(Ordering::Relaxed)));
            bar.inc(1);
        },
    );
    bar.finish_and_clear();
    let report = Report::new(&spec, plan.series.clone(), Setup::here(threads), runs);
    crate::report::write(&report, &out).map_err(|(path, e)| cannot(&path, e))?;
    let (met, all) = report.met();
    say!(
        "{}: {met} of {all} runs met every claim",
        out.join("report.md").display()
    );
    Ok(met == all)
}

fn redraw(out: &Path) -> Result<bool, BadInput> {
    let path = out.join("results.json");
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|e| BadInput(format!("{shown}: {e}")))?;
    let report: Report = serde_json::from_str(&text).map_err(|e| {
        BadInput(format!(
            "{shown}:{}:{}: not a report's results.json: {e}",
            e.line(),
            e.column()
        ))
    })?;
    crate::report::write(&report, out)
        .map_err(|(path, e)| BadInput(format!("{}: cannot write: {e}", path.display())))?;
    let (met, all) = report.met();
    say!(
        "{}: {met} of {all} runs met every claim (redrawn)",
        out.join("report.md").display()
    );
    Ok(met == all)
}
