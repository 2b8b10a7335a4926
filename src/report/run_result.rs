//! One run of a report: its place, its seed and the figures the report
//! reads off it.

use super::plan::Place;
use crate::checkers::Figure;
use crate::explore::outcome::{RunLine, Summary};
use crate::explore::runner::{Job, failed, guarded, judge};
use crate::trace::CheckId;
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
    /// From the last fault's end, first-hand fallback or fork detection
    /// to the last acknowledged delivery it held up (delivery's
    /// `recovered_after_ms`; results written before it was measured lack
    /// it).
    #[serde(default)]
    pub recovered_ms: Option<u64>,
    /// Acknowledged deliveries that never arrived.
    #[serde(default)]
    pub lost: Option<u64>,
    pub latency: Latency,
    pub simulated_ms: u64,
    pub wall_ms: f64,
    pub sim_to_wall: f64,
}

impl Figures {
    pub fn of(s: &Summary, ops: u64) -> Figures {
        let c = &s.counts;
        Figures {
            met: s.met(),
            messages: c.messages_sent,
            ops,
            bytes: c.bytes_on_wire,
            datagrams: c.datagrams_sent,
            olm_ops: c.crypto_ops_total,
            mls_ops: c.mls_ops.total(),
            convergence_ms: s.figure(CheckId::Convergence, Figure::SettledAfterMs),
            fallback_ms: s.figure(CheckId::Fallback, Figure::FallbackLatencyMaxMs),
            takeover_ms: s.figure(CheckId::Fallback, Figure::TakeoverLatencyMaxMs),
            recovered_ms: s.figure(CheckId::Delivery, Figure::RecoveredAfterMs),
            lost: s.figure(CheckId::Delivery, Figure::Lost),
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
