//! The numbers of a report: each run's figures (`run_result.rs`) and
//! (gathered in `aggregate.rs`) each point's over its seeds.
//! `results.json` is [`Report`], serialized; the plots and `report.md`
//! read nothing else.

use super::aggregate::{Cost, Point, aggregate};
use super::plan::SeriesInfo;
use super::run_result::RunResult;
use serde::{Deserialize, Serialize};

/// Everything `commsim report` measured: `results.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub spec: SpecInfo,
    pub setup: Setup,
    pub points: Vec<Point>,
    pub costs: Vec<Cost>,
    pub runs: Vec<RunResult>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpecInfo {
    pub name: String,
    pub path: String,
    pub description: String,
    pub series: Vec<SeriesInfo>,
}

/// What the numbers were measured on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Setup {
    pub commsim_version: String,
    pub git_commit: Option<String>,
    /// Cores of the machine, and runs at once.
    pub cores: usize,
    pub jobs: usize,
}

impl Setup {
    pub fn here(jobs: usize) -> Setup {
        Setup {
            commsim_version: env!("CARGO_PKG_VERSION").to_owned(),
            git_commit: option_env!("COMMSIM_GIT_COMMIT").map(str::to_owned),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            jobs,
        }
    }
}

impl Report {
    pub fn new(
        spec: &super::spec::ReportSpec,
        series: Vec<SeriesInfo>,
        setup: Setup,
        runs: Vec<RunResult>,
    ) -> Report {
        let (points, costs) = aggregate(&runs);
        Report {
            spec: SpecInfo {
                name: spec.name.clone(),
                path: spec.path.display().to_string(),
                description: spec.description.clone(),
                series,
            },
            setup,
            points,
            costs,
            runs,
        }
    }

    /// Runs that finished with every claim held, and all runs.
    pub fn met(&self) -> (usize, usize) {
        let met = (self.runs.iter())
            .filter(|r| r.figures.as_ref().is_some_and(|f| f.met))
            .count();
        (met, self.runs.len())
    }
}
