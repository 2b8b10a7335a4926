//! Reports over finished runs: what a person reads after a sweep or a run.
//! Performance reports across group sizes (`commsim report`: spec, plan,
//! results, charts, plots, reading, document); the comparison of two
//! result sets (`commsim compare`), the step that regression-tests a
//! protocol change: the same scenarios and seeds, run by the build before
//! and the build after; and a picture of one run (`commsim timeline`).

pub mod aggregate;
pub mod charts;
pub mod compare;
pub mod document;
pub mod growth;
mod markdown;
pub mod plan;
pub mod plots;
pub mod reading;
pub mod render;
pub mod results;
pub mod run_result;
pub mod spec;
pub mod timeline;
pub mod trace_diff;

/// Writes a report's folder: `results.json`, the plots and `report.md`.
pub fn write(
    report: &results::Report,
    out: &std::path::Path,
) -> Result<(), (std::path::PathBuf, std::io::Error)> {
    let put = |name: &str, text: &str| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| (path, e))
    };
    for chart in charts::all(report) {
        put(&format!("{}.svg", chart.name), &plots::svg(&chart))?;
    }
    let json = serde_json::to_string_pretty(report).unwrap_or_default();
    put("results.json", &json)?;
    put("report.md", &document::markdown(report))
}
