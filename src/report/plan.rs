//! From a report spec to the runs it needs: each series' scenario reshaped
//! to every size and kind (and, for costs, every load), saved under the
//! report's `scenarios/` folder so that each run can be replayed on its
//! own, then crossed with variants, engines and seeds.

use super::spec::{Measure, ReportSpec, SpecError};
use crate::core::member::membership::Variant;
use crate::explore::runner::Job;
use crate::scenario::{GroupKind, Load, Reshape, parse_str, reshape};
use crate::sim::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a run's figures go in the report: everything that tells its
/// point apart but the seed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Place {
    pub series: String,
    pub measure: Measure,
    pub kind: GroupKind,
    pub size: u32,
    pub load: Load,
    pub variant: Variant,
    pub engine: Engine,
}

impl Load {
    fn name(self) -> &'static str {
        match self {
            Load::AsWritten => "",
            Load::Idle => "-idle",
            Load::Messages => "-messages",
            Load::Ops => "-ops",
        }
    }
}

/// The runs of a report, and the reshaped scenario files they read.
#[derive(Debug, Default)]
pub struct Plan {
    /// Each run, and where its figures go.
    pub runs: Vec<(Job, Place)>,
    /// Files to write before the runs: (path, text).
    pub files: Vec<(PathBuf, String)>,
    pub series: Vec<SeriesInfo>,
}

pub fn plan(spec: &ReportSpec, out: &Path) -> Result<Plan, SpecError> {
    let mut p = Plan::default();
    let mut seen = BTreeSet::new();
    let mut written = BTreeSet::new();
    for series in &spec.series {
        let shown = series.scenario.display().to_string();
        let (text, original) = (&series.text, &series.original);
        let info = SeriesInfo {
            name: series.name.clone(),
            measure: series.measure,
            scenario: shown.clone(),
            description: original.description.clone(),
        };
        if !p.series.iter().any(|s| s.name == info.name) {
            p.series.push(info);
        }
        let stem = series
            .scenario
            .file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy());
        let kinds = if series.kinds.is_empty() {
            vec![original.group_kind]
        } else {
            series.kinds.clone()
        };
        let loads: &[Load] = match series.measure {
            Measure::Run => &[Load::AsWritten],
            Measure::Cost => &[Load::Idle, Load::Messages, Load::Ops],
        };
        for &kind in &kinds {
            for &size in &series.sizes {
                for &load in loads {
                    let name = format!("{stem}-{}-{size}{}", kind.name(), load.name());
                    let how = Reshape {
                        name: name.clone(),
                        members: Some(size),
                        kind: Some(kind),
                        load,
                    };
                    let text = reshape(&shown, text, original, &how).map_err(Box::new)?;
                    let file = out.join("scenarios").join(format!("{name}.toml"));
                    let scenario =
                        Arc::new(parse_str(&file.display().to_string(), &text).map_err(Box::new)?);
                    let variants = if series.variants.is_empty() {
                        scenario.variants.clone()
                    } else {
                        series.variants.clone()
                    };
                    if written.insert(file.clone()) {
                        p.files.push((file.clone(), text));
                    }
                    for &variant in &variants {
                        for &engine in &series.engines {
                            for seed in series.seeds.iter() {
                                if !seen.insert((name.clone(), variant, engine, seed)) {
                                    continue;
                                }
                                let job = Job {
                                    file: file.display().to_string(),
                                    scenario: scenario.clone(),
                                    variant,
                                    seed,
                                    engine,
                                    explored: None,
                                };
                                let place = Place {
                                    series: series.name.clone(),
                                    measure: series.measure,
                                    kind,
                                    size,
                                    load,
                                    variant,
                                    engine,
                                };
                                p.runs.push((job, place));
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(p)
}

impl Place {
    /// Whether two places are one point of a plot but for the load.
    pub fn same_point(&self, b: &Place) -> bool {
        (
            &self.series,
            self.kind,
            self.size,
            self.variant,
            self.engine,
        ) == (&b.series, b.kind, b.size, b.variant, b.engine)
    }
}

/// A series as the report describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesInfo {
    pub name: String,
    pub measure: Measure,
    /// The scenario file, and what it says it is.
    pub scenario: String,
    pub description: String,
}
