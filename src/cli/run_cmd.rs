//! `commsim run`.

use super::BadInput;
use super::summary::{print_side_by_side, print_text, settle};
use crate::core::member::membership::Variant;
use crate::explore::outcome::Summary;
use crate::explore::runner::judge;
use crate::scenario::load_file;
use crate::sim::Engine;
use crate::trace::Trace;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where a run's results go besides the terminal.
pub struct Outputs<'a> {
    pub trace: Option<&'a Path>,
    pub folder: Option<&'a Path>,
}

pub fn run(
    file: &Path,
    seed: Option<u64>,
    variant: Option<Variant>,
    outputs: Outputs,
    json: bool,
    engine: Engine,
) -> Result<bool, BadInput> {
    let scenario = load_file(file).map_err(|e| BadInput(e.report()))?;
    let variants: Vec<Variant> = match variant {
        Some(v) => vec![v],
        None => scenario.variants.clone(),
    };
    let mut sinks = match outputs.trace {
        Some(path) => open_traces(file, path, &variants)?,
        None => Vec::new(),
    };
    let folders = match outputs.folder {
        Some(dir) => run_folders(dir, &variants)?,
        None => Vec::new(),
    };
    let seed = seed.unwrap_or(scenario.seed);
    let mut all_met = true;
    let shown = file.display().to_string();
    let mut summaries = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        tracing::info!("running {shown} with seed {seed}, variant {v}, on the {engine} engine");
        let (mut summary, out) =
            judge(&shown, &scenario, seed, *v, engine).map_err(|e| BadInput(e.to_string()))?;
        settle(&mut summary);
        all_met &= summary.met();
        if let Some(sink) = sinks.get_mut(i) {
            sink.write(&out.trace)?;
        }
        if let Some(dir) = folders.get(i) {
            write_folder(dir, &summary, &out.trace)?;
        }
        if json {
            say!("{}", serde_json::to_string(&summary).unwrap_or_default());
        } else {
            print_text(&summary);
        }
        summaries.push(summary);
    }
    if !json && summaries.len() > 1 {
        print_side_by_side(&summaries);
    }
    Ok(all_met)
}

/// One folder per variant (the folder itself for one), made before the
/// first run so that a path that cannot be written fails at once.
fn run_folders(dir: &Path, variants: &[Variant]) -> Result<Vec<PathBuf>, BadInput> {
    variants
        .iter()
        .map(|v| {
            let d = if variants.len() > 1 {
                dir.join(v.name())
            } else {
                dir.to_owned()
            };
            std::fs::create_dir_all(&d)
                .map_err(|e| BadInput(format!("--out {}: cannot write there: {e}", d.display())))?;
            Ok(d)
        })
        .collect()
}

/// A run folder: the sealed trace, the summary, the picture.
fn write_folder(dir: &Path, summary: &Summary, trace: &Trace) -> Result<(), BadInput> {
    let fail =
        |name: &str, e: std::io::Error| BadInput(format!("{}: {e}", dir.join(name).display()));
    tracing::info!("writing the run folder {}", dir.display());
    std::fs::write(dir.join("trace.jsonl"), trace.to_sealed_jsonl())
        .map_err(|e| fail("trace.jsonl", e))?;
    let results = serde_json::to_string_pretty(summary).unwrap_or_default();
    std::fs::write(dir.join("results.json"), results + "\n")
        .map_err(|e| fail("results.json", e))?;
    super::timeline_cmd::write(trace, &dir.join("timeline.svg"))
}

/// Where a trace goes: a file opened before the run, or stdout.
enum Sink {
    File { path: PathBuf, file: File },
    Stdout,
}

impl Sink {
    fn write(&mut self, trace: &Trace) -> Result<(), BadInput> {
        let (path, file) = match self {
            Sink::Stdout => {
                super::out::data(trace.to_sealed_jsonl().as_bytes());
                return Ok(());
            }
            Sink::File { path, file } => (path, file),
        };
        let fail = |e: std::io::Error| BadInput(format!("{}: {e}", path.display()));
        file.set_len(0).map_err(fail)?;
        file.write_all(trace.to_sealed_jsonl().as_bytes())
            .map_err(fail)
    }
}

/// Opens every trace file before the first run, so that a path that cannot
/// be written fails at once rather than after a long run, and refuses the
/// scenario file itself, which writing the trace would destroy. An existing
/// trace keeps its contents until the new one is written.
fn open_traces(scenario: &Path, path: &Path, variants: &[Variant]) -> Result<Vec<Sink>, BadInput> {
    if path == Path::new("-") {
        // stdout carries the trace; the summary goes to stderr.
        if variants.len() > 1 {
            return Err(BadInput(
                "--trace -: stdout takes one trace; name a --variant".into(),
            ));
        }
        super::out::lines_to_stderr();
        return Ok(vec![Sink::Stdout]);
    }
    let input = scenario.canonicalize().ok();
    variants
        .iter()
        .map(|v| {
            let path = trace_path(path, *v, variants.len() > 1);
            if input.is_some() && canonical(&path) == input {
                return Err(BadInput(format!(
                    "--trace {}: that is the scenario file; writing the trace would overwrite it",
                    path.display()
                )));
            }
            let file = File::options()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| {
                    BadInput(format!(
                        "--trace {}: cannot write there: {e}",
                        path.display()
                    ))
                })?;
            Ok(Sink::File { path, file })
        })
        .collect()
}

/// The path with every link and `..` resolved, also for a file that does
/// not exist yet (through its folder).
fn canonical(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(parent.canonicalize().ok()?.join(path.file_name()?))
}

fn trace_path(path: &Path, v: Variant, several: bool) -> PathBuf {
    if !several {
        return path.to_owned();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.{v}{ext}"))
}
