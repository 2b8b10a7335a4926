//! A report's runs gathered per point over seeds: medians and ranges,
//! latency distributions merged across seeds, and the cost of one
//! message and one commit as the difference between loads.

use super::plan::Place;
use super::run_result::{Figures, RunResult};
use super::spec::Measure;
use crate::scenario::Load;
use crate::trace::latency::Latency;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

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
    #[serde(default)]
    pub recovered_ms: Option<Spread>,
    #[serde(default)]
    pub lost: Option<Spread>,
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
        recovered_ms: spread(|f| f.recovered_ms.map(|v| v as f64)),
        lost: spread(|f| f.lost.map(|v| v as f64)),
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
            .find(|r| r.seed == seed && r.place.load == load && r.place.same_point(idle))
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

    fn place(series: &str, measure: Measure, load: Load) -> Place {
        Place {
            series: series.into(),
            measure,
            kind: crate::scenario::GroupKind::Coordinated,
            size: 10,
            load,
            variant: crate::core::member::membership::Variant::Lww,
            engine: crate::sim::Engine::Events,
        }
    }

    /// A finished run with these counts (the line is never read here).
    fn run(place: Place, seed: u64, f: Figures) -> RunResult {
        let line = crate::explore::outcome::RunLine::Panicked(crate::explore::outcome::Panicked {
            scenario: "s".into(),
            file: "s.toml".into(),
            seed,
            variant: place.variant,
            verdict: crate::trace::Status::Pass,
            panic: String::new(),
            provenance: crate::explore::outcome::Provenance {
                commsim_version: String::new(),
                git_commit: None,
                scenario_sha256: String::new(),
                engine: place.engine,
            },
        });
        let mut h = Histogram::<u64>::new(3).unwrap();
        for ms in [f.latency.p50_ms, f.latency.max_ms] {
            h.record(ms).unwrap();
        }
        RunResult {
            place,
            seed,
            figures: Some(f),
            line,
            latency: Some(h),
        }
    }

    fn figures(messages: u64, ops: u64, bytes: u64, olm: u64, mls: u64) -> Figures {
        Figures {
            met: true,
            messages,
            ops,
            bytes,
            datagrams: bytes / 100,
            olm_ops: olm,
            mls_ops: mls,
            convergence_ms: Some(bytes / 10),
            fallback_ms: None,
            takeover_ms: None,
            recovered_ms: None,
            lost: None,
            latency: Latency {
                deliveries: 2,
                p50_ms: messages,
                p90_ms: 0,
                p99_ms: 0,
                max_ms: 1_000,
            },
            simulated_ms: 1_000,
            wall_ms: 10.0,
            sim_to_wall: 100.0,
        }
    }

    #[test]
    fn a_message_and_a_commit_cost_the_difference_from_the_run_at_rest() {
        let c = |load| place("cost", Measure::Cost, load);
        let runs = vec![
            // seed 1: 10 messages add 5,000 bytes; 2 ops add 3,000 bytes.
            run(c(Load::Idle), 1, figures(0, 0, 1_000, 10, 0)),
            run(c(Load::Messages), 1, figures(10, 0, 6_000, 30, 50)),
            run(c(Load::Ops), 1, figures(0, 2, 4_000, 14, 6)),
            // seed 2: 20 messages add 12,000 bytes; 2 ops add 5,000 bytes.
            run(c(Load::Idle), 2, figures(0, 0, 2_000, 10, 0)),
            run(c(Load::Messages), 2, figures(20, 0, 14_000, 50, 100)),
            run(c(Load::Ops), 2, figures(0, 2, 7_000, 18, 10)),
        ];
        let (points, costs) = aggregate(&runs);
        assert!(points.is_empty());
        assert_eq!(costs.len(), 1);
        assert_eq!(costs[0].place.load, Load::AsWritten);
        let m = costs[0].per_message.as_ref().unwrap();
        assert_eq!(
            (m.bytes.min, m.bytes.max, m.bytes.median),
            (500.0, 600.0, 550.0)
        );
        assert_eq!(
            (m.olm_ops.median, m.mls_ops.median, m.crypto_ops.median),
            (2.0, 5.0, 7.0)
        );
        let k = costs[0].per_commit.as_ref().unwrap();
        assert_eq!((k.bytes.min, k.bytes.max), (1_500.0, 2_500.0));
        assert_eq!(k.crypto_ops.median, (5.0 + 9.0) / 2.0);
    }

    #[test]
    fn a_point_spreads_each_figure_and_merges_latencies_over_seeds() {
        let p = place("steady", Measure::Run, Load::AsWritten);
        let mut failed = run(p.clone(), 3, figures(1, 0, 1, 0, 0));
        failed.figures = None;
        failed.latency = None;
        let runs = vec![
            run(p.clone(), 1, figures(100, 0, 3_000, 0, 0)),
            run(p.clone(), 2, figures(300, 0, 5_000, 0, 0)),
            failed,
        ];
        let (points, costs) = aggregate(&runs);
        assert!(costs.is_empty());
        let pt = &points[0];
        assert_eq!((pt.runs, pt.met), (3, 2));
        let conv = pt.convergence_ms.unwrap();
        assert_eq!(
            (conv.median, conv.min, conv.max, conv.seeds),
            (400.0, 300.0, 500.0, 2)
        );
        // Four latencies of two seeds: 100, 300 and 1,000 twice.
        assert_eq!((pt.latency.deliveries, pt.latency.max_ms), (4, 1_000));
        let q = |at: f64| {
            pt.latency_cdf
                .iter()
                .find(|(f, _)| *f >= at)
                .map(|(_, ms)| *ms)
        };
        assert_eq!(
            (q(0.0), q(0.25), q(0.5), q(1.0)),
            (Some(100), Some(100), Some(300), Some(1_000))
        );
    }
}
