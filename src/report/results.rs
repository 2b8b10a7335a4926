//! The numbers of a report: each run's figures, and each point's (a
//! series, kind, variant, engine and size) over its seeds. `results.json`
//! is this, serialized; the plots and `report.md` read nothing else.

use super::plan::Place;
use super::spec::Measure;
use crate::explore::outcome::{RunLine, Summary};
use crate::explore::runner::{Job, failed, guarded, judge};
use crate::scenario::Load;
use crate::trace::latency::{Latency, delivery_histogram};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// One run of the report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResult {
    #[serde(flatten)]
    pub place: Place,
    pub seed: u64,
    /// `None` when the run did not finish (its `line` says why).
    pub figures: Option<Figures>,
    /// What `sweep --json` prints for the run, without the checkers'
    /// evidence (replay the run to see it): `compare` reads these.
    pub line: RunLine,
    /// Every delivery latency, merged over seeds into each point's
    /// distribution; not saved.
    #[serde(skip)]
    pub latency: Option<Histogram<u64>>,
}

/// What the report reads off one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Every claim of the scenario held on this seed.
    pub met: bool,
    pub messages: u64,
    /// Scheduled membership changes and updates: the commits.
    pub ops: u64,
    pub bytes: u64,
    pub datagrams: u64,
    pub olm_ops: u64,
    pub mls_ops: u64,
    /// From the last fault's heal or op to the last view change.
    pub convergence_ms: Option<u64>,
    /// From a server agent's failure to the last member's fallback.
    pub fallback_ms: Option<u64>,
    /// From a server agent's failure until every member it served joined
    /// the next generation.
    pub takeover_ms: Option<u64>,
    pub latency: Latency,
    pub simulated_ms: u64,
    pub wall_ms: f64,
    pub sim_to_wall: f64,
}

impl Figures {
    pub fn of(s: &Summary, ops: u64) -> Figures {
        let measured = |check: &str, key: &str| {
            (s.checks.iter())
                .find(|c| c.verdict.check == check)
                .and_then(|c| c.verdict.measured.get(key).copied())
        };
        let c = &s.counts;
        Figures {
            met: s.met(),
            messages: c.messages_sent,
            ops,
            bytes: c.bytes_on_wire,
            datagrams: c.datagrams_sent,
            olm_ops: c.crypto_ops_total,
            mls_ops: c.mls_ops.total(),
            convergence_ms: measured("convergence", "settled_after_ms"),
            fallback_ms: measured("fallback", "fallback_latency_max_ms"),
            takeover_ms: measured("fallback", "takeover_latency_max_ms"),
            latency: c.delivery_latency.clone(),
            simulated_ms: c.simulated_ms,
            wall_ms: c.wall_ms,
            sim_to_wall: c.sim_to_wall,
        }
    }
}

/// Runs one job of the report and keeps what the report needs.
pub fn measure(job: &Job, place: &Place) -> RunResult {
    let ran = guarded(|| judge(&job.file, &job.scenario, job.seed, job.variant, job.engine));
    let ops = job.scenario.workload.ops.len() as u64;
    match ran {
        Ok((mut summary, out)) => {
            for c in &mut summary.checks {
                c.verdict.evidence.clear();
            }
            RunResult {
                place: place.clone(),
                seed: job.seed,
                figures: Some(Figures::of(&summary, ops)),
                latency: delivery_histogram(&out.trace),
                line: RunLine::Done(Box::new(summary)),
            }
        }
        Err(failure) => RunResult {
            place: place.clone(),
            seed: job.seed,
            figures: None,
            latency: None,
            line: failed(job, failure),
        },
    }
}

/// The median and range of one figure over seeds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub seeds: usize,
}

impl Spread {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
            seeds: n,
        })
    }
}

/// One point of the run plots: a place over its seeds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Point {
    #[serde(flatten)]
    pub place: Place,
    pub runs: usize,
    /// Runs that finished with every claim held.
    pub met: usize,
    pub convergence_ms: Option<Spread>,
    pub fallback_ms: Option<Spread>,
    pub takeover_ms: Option<Spread>,
    /// Over every delivery of every seed.
    pub latency: Latency,
    /// (fraction of deliveries, at most this many ms), from 0 to 1.
    pub latency_cdf: Vec<(f64, u64)>,
    pub sim_to_wall: Option<Spread>,
    pub wall_ms: Option<Spread>,
}

/// What one application message, and one commit, cost at a point of a
/// cost series: (run with them − run at rest) / how many, per seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cost {
    #[serde(flatten)]
    pub place: Place,
    pub per_message: Option<Unit>,
    pub per_commit: Option<Unit>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Unit {
    pub bytes: Spread,
    pub datagrams: Spread,
    pub olm_ops: Spread,
    pub mls_ops: Spread,
    /// Olm and MLS operations together.
    pub crypto_ops: Spread,
}

/// Gathers runs into points and costs, in place order.
pub fn aggregate(runs: &[RunResult]) -> (Vec<Point>, Vec<Cost>) {
    let mut places: Vec<&Place> = runs.iter().map(|r| &r.place).collect();
    places.sort();
    places.dedup();
    let mut points = Vec::new();
    let mut costs = Vec::new();
    for place in places {
        let here: Vec<&RunResult> = runs.iter().filter(|r| &r.place == place).collect();
        match (place.measure, place.load) {
            (Measure::Run, _) => points.push(point(place, &here)),
            (Measure::Cost, Load::Idle) => costs.push(cost(place, runs)),
            (Measure::Cost, _) => {}
        }
    }
    (points, costs)
}

fn point(place: &Place, runs: &[&RunResult]) -> Point {
    let figures: Vec<&Figures> = runs.iter().filter_map(|r| r.figures.as_ref()).collect();
    let spread = |f: fn(&Figures) -> Option<f64>| Spread::of(figures.iter().filter_map(|x| f(x)));
    let mut merged: Option<Histogram<u64>> = None;
    for h in runs.iter().filter_map(|r| r.latency.as_ref()) {
        match merged.as_mut() {
            None => merged = Some(h.clone()),
            Some(m) => {
                let _ = m.add(h);
            }
        }
    }
    let (latency, latency_cdf) =
        merged.map_or_else(Default::default, |h| (Latency::of(&h), cdf(&h)));
    Point {
        place: place.clone(),
        runs: runs.len(),
        met: figures.iter().filter(|f| f.met).count(),
        convergence_ms: spread(|f| f.convergence_ms.map(|v| v as f64)),
        fallback_ms: spread(|f| f.fallback_ms.map(|v| v as f64)),
        takeover_ms: spread(|f| f.takeover_ms.map(|v| v as f64)),
        latency,
        latency_cdf,
        sim_to_wall: spread(|f| Some(f.sim_to_wall)),
        wall_ms: spread(|f| Some(f.wall_ms)),
    }
}

/// The distribution at every percentile, and at 99.9%.
fn cdf(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut qs: Vec<f64> = (0..=100).map(|p| f64::from(p) / 100.0).collect();
    qs.insert(100, 0.999);
    qs.into_iter()
        .map(|q| (q, h.value_at_quantile(q)))
        .collect()
}

fn cost(idle: &Place, runs: &[RunResult]) -> Cost {
    let at = |load: Load, seed: u64| {
        runs.iter()
            .find(|r| {
                r.seed == seed && r.place.load == load && super::plan::same_point(&r.place, idle)
            })
            .and_then(|r| r.figures.as_ref())
    };
    let seeds: Vec<u64> = (runs.iter())
        .filter(|r| &r.place == idle)
        .map(|r| r.seed)
        .collect();
    let unit = |load: Load, count: fn(&Figures, &Figures) -> f64| {
        let per: Vec<[f64; 5]> = (seeds.iter())
            .filter_map(|&s| Some((at(Load::Idle, s)?, at(load, s)?)))
            .filter(|(rest, busy)| count(rest, busy) > 0.0)
            .map(|(rest, busy)| {
                let n = count(rest, busy);
                let d = |f: fn(&Figures) -> u64| (f(busy) as f64 - f(rest) as f64) / n;
                let (olm, mls) = (d(|f| f.olm_ops), d(|f| f.mls_ops));
                [d(|f| f.bytes), d(|f| f.datagrams), olm, mls, olm + mls]
            })
            .collect();
        let s = |i: usize| Spread::of(per.iter().map(|p| p[i]));
        Some(Unit {
            bytes: s(0)?,
            datagrams: s(1)?,
            olm_ops: s(2)?,
            mls_ops: s(3)?,
            crypto_ops: s(4)?,
        })
    };
    Cost {
        place: Place {
            load: Load::AsWritten,
            ..idle.clone()
        },
        per_message: unit(Load::Messages, |rest, busy| {
            busy.messages.saturating_sub(rest.messages) as f64
        }),
        per_commit: unit(Load::Ops, |_, busy| busy.ops as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_is_the_median_and_range_of_finite_values() {
        let s = Spread::of([3.0, 1.0, f64::NAN, 10.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.seeds), (2.5, 1.0, 10.0, 4));
        assert_eq!(Spread::of([7.0]).unwrap().median, 7.0);
        assert!(Spread::of([]).is_none());
    }
}

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

/// A series as the report describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesInfo {
    pub name: String,
    pub measure: Measure,
    /// The scenario file, and what it says it is.
    pub scenario: String,
    pub description: String,
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
