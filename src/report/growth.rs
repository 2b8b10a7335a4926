//! Explore's coverage growth as a picture: protocol states reached against
//! plans run. A curve still climbing at its right end says more seeds
//! would find more; a flat one says they have stopped paying.

use super::aggregate::Spread;
use super::plots::{Chart, Line, LineId, Plotted, svg};
use crate::core::member::membership::Variant;
use crate::scenario::GroupKind;
use crate::sim::Engine;

/// What the curve is of: the explored scenario and how plans were chosen.
pub struct Curve<'a> {
    pub scenario: &'a str,
    pub strategy: &'a str,
    pub kind: GroupKind,
    pub variant: Variant,
    pub engine: Engine,
    /// `(plans run, states seen)` at each plan that found a new state.
    pub growth: &'a [(u64, usize)],
    /// Plans run in all: the curve runs flat to here.
    pub plans: u64,
}

/// The SVG of one explore's coverage growth.
pub fn coverage_svg(c: &Curve) -> String {
    let exact = |v: f64| Spread {
        median: v,
        min: v,
        max: v,
        seeds: 1,
    };
    let mut points: Vec<(f64, Spread)> = vec![(0.0, exact(0.0))];
    points.extend(
        c.growth
            .iter()
            .map(|(runs, seen)| (*runs as f64, exact(*seen as f64))),
    );
    if let Some(last) = c.growth.last()
        && last.0 < c.plans
    {
        points.push((c.plans as f64, exact(last.1 as f64)));
    }
    let id = LineId {
        series: c.scenario.to_owned(),
        kind: c.kind,
        variant: c.variant,
        engine: c.engine,
        plotted: Plotted::Coverage,
        size: None,
    };
    let chart = Chart {
        name: format!("{}-coverage", c.scenario),
        title: format!("{}: protocol states reached", c.scenario),
        x_label: "plans run".to_owned(),
        y_label: "protocol states reached".to_owned(),
        log_x: false,
        log_y: false,
        lines: vec![Line::new(id, format!("{} explore", c.strategy), points)],
        legend_lower_right: true,
    };
    svg(&chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_runs_flat_to_the_last_plan() {
        let growth = [(1, 10), (5, 14), (40, 20)];
        let text = coverage_svg(&Curve {
            scenario: "s",
            strategy: "guided",
            kind: GroupKind::Coordinated,
            variant: Variant::Lww,
            engine: Engine::default(),
            growth: &growth,
            plans: 100,
        });
        assert!(
            text.starts_with("<svg") && text.contains("guided explore"),
            "{text}"
        );
        assert!(text.contains("protocol states reached"));
    }
}
