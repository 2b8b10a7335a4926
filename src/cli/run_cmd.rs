//! `commsim run`.

use super::BadInput;
use super::summary::print_text;
use crate::core::member::membership::Variant;
use crate::explore::runner::judge;
use crate::scenario::load_file;
use std::path::{Path, PathBuf};

pub fn run(
    file: &Path,
    seed: Option<u64>,
    variant: Option<&str>,
    trace: Option<&Path>,
    json: bool,
) -> Result<bool, BadInput> {
    let scenario = load_file(file).map_err(|e| BadInput(e.to_string()))?;
    let variants: Vec<Variant> = match variant {
        Some(v) => vec![
            v.parse()
                .map_err(|e: String| BadInput(format!("--variant: {e}")))?,
        ],
        None => scenario.variants.clone(),
    };
    let seed = seed.unwrap_or(scenario.seed);
    let mut all_met = true;
    let shown = file.display().to_string();
    for v in &variants {
        let (summary, out) =
            judge(&shown, &scenario, seed, *v).map_err(|e| BadInput(e.to_string()))?;
        all_met &= summary.met();
        if let Some(path) = trace {
            let path = trace_path(path, *v, variants.len() > 1);
            std::fs::write(&path, out.trace.to_jsonl())
                .map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
        }
        if json {
            say!("{}", serde_json::to_string(&summary).unwrap_or_default());
        } else {
            print_text(&summary);
        }
    }
    Ok(all_met)
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
