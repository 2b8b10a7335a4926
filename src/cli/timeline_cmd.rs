//! `commsim timeline`: a picture of a saved run.

use super::BadInput;
use crate::report::{render, timeline::Timeline};
use crate::trace::{Sealed, Trace};
use std::io::BufReader;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Options {
    /// A trace written by `commsim run --trace` (or `run --out`).
    pub trace: PathBuf,
    /// Where to write the SVG; defaults to the trace's path with `.svg`.
    #[arg(short = 'o', long)]
    pub out: Option<PathBuf>,
}

pub fn run(o: Options) -> Result<bool, BadInput> {
    let shown = o.trace.display().to_string();
    let file = std::fs::File::open(&o.trace).map_err(|e| BadInput(format!("{shown}: {e}")))?;
    let Sealed { trace, .. } =
        Trace::read(&shown, BufReader::new(file)).map_err(|e| BadInput(e.to_string()))?;
    let out = o.out.unwrap_or_else(|| o.trace.with_extension("svg"));
    write(&trace, &out)?;
    say!("{}", out.display());
    Ok(true)
}

/// Draws the run and writes the picture to `out`.
pub fn write(trace: &Trace, out: &Path) -> Result<(), BadInput> {
    let timeline = Timeline::of(trace);
    tracing::info!(
        lanes = timeline.lanes.len(),
        arrows = timeline.arrows.len(),
        dense = timeline.dense(),
        "drawing {}",
        out.display()
    );
    let svg = render::svg(&timeline);
    std::fs::write(out, svg).map_err(|e| BadInput(format!("{}: cannot write: {e}", out.display())))
}
