//! Which plots a report has, built from its results: per run series,
//! convergence, recovery (fallback and takeover), latency and speed; per
//! cost series, bytes and crypto operations per message and per commit.

use super::aggregate::{Cost, Point, Spread, Unit};
use super::plan::Place;
use super::plots::{Chart, Line, LineId, Per, Plotted};
use super::reading::show;
use super::results::Report;
use super::spec::Measure;
use crate::sim::Engine;

/// What tells the lines of one series apart.
pub fn line_label(p: &Place, with_engine: bool) -> String {
    let mut s = format!("{} {}", p.kind.name(), p.variant);
    if with_engine || p.engine != Engine::default() {
        s += &format!(" on {}", p.engine);
    }
    s
}

fn exact(v: f64) -> Spread {
    Spread {
        median: v,
        min: v,
        max: v,
        seeds: 1,
    }
}

/// The line a place belongs to, plotting `plotted`.
fn line_id(p: &Place, plotted: Plotted) -> LineId {
    LineId {
        series: p.series.clone(),
        kind: p.kind,
        variant: p.variant,
        engine: p.engine,
        plotted,
        size: None,
    }
}

/// Whether two places are on one line: same series, kind, variant, engine.
fn same_line(a: &Place, b: &Place) -> bool {
    a.series == b.series && a.kind == b.kind && a.variant == b.variant && a.engine == b.engine
}

/// Points of one series, grouped into lines (in order of first size),
/// each with its label.
pub fn lines_of<'a>(
    points: &'a [Point],
    series: &str,
    with_engine: bool,
) -> Vec<(String, Vec<&'a Point>)> {
    let mut lines: Vec<(String, Vec<&Point>)> = Vec::new();
    for p in points.iter().filter(|p| p.place.series == series) {
        match lines
            .iter_mut()
            .find(|(_, ps)| same_line(&ps[0].place, &p.place))
        {
            Some((_, ps)) => ps.push(p),
            None => lines.push((line_label(&p.place, with_engine), vec![p])),
        }
    }
    for (_, ps) in &mut lines {
        ps.sort_by_key(|p| p.place.size);
    }
    lines
}

fn figure_line(
    label: &str,
    ps: &[&Point],
    plotted: Plotted,
    f: fn(&Point) -> Option<Spread>,
) -> Option<Line> {
    let points: Vec<(f64, Spread)> = ps
        .iter()
        .filter_map(|p| Some((f64::from(p.place.size), f(p)?)))
        .collect();
    let id = line_id(&ps.first()?.place, plotted);
    (!points.is_empty()).then(|| Line::new(id, label, points))
}

/// Adds a plot of `lines` against group size, unless there are none.
fn add(out: &mut Vec<Chart>, name: String, title: String, y: (&str, bool), lines: Vec<Line>) {
    if lines.is_empty() {
        return;
    }
    out.push(Chart {
        name,
        title,
        x_label: "group size (members)".into(),
        y_label: y.0.into(),
        log_x: true,
        log_y: y.1,
        lines,
        legend_lower_right: false,
    });
}

/// The plots of a run series; a figure nobody measured has no plot.
pub fn run_charts(report: &Report, series: &str) -> Vec<Chart> {
    // Every line names its engine when the series runs more than one.
    let here = || report.points.iter().filter(|p| p.place.series == series);
    let several = here().any(|p| p.place.engine != Engine::default());
    let lines = lines_of(&report.points, series, several);
    let mut out = Vec::new();
    // All zero: the group settled before the last fault healed, at every
    // size. The table says so; a flat line at zero says nothing more.
    let conv: Vec<Line> = (lines.iter())
        .filter_map(|(l, ps)| figure_line(l, ps, Plotted::Convergence, |p| p.convergence_ms))
        .filter(|l| l.points.iter().any(|(_, s)| s.max > 0.0))
        .collect();
    let title = format!("{series}: time to converge after the last change asked for");
    add(
        &mut out,
        format!("{series}-convergence"),
        title,
        ("time (ms)", false),
        conv,
    );
    let mut recovery = Vec::new();
    for (label, ps) in &lines {
        let fallback = format!("fallback, {label}");
        recovery.extend(figure_line(&fallback, ps, Plotted::Fallback, |p| {
            p.fallback_ms
        }));
        let takeover = format!("takeover, {label}");
        if let Some(mut l) = figure_line(&takeover, ps, Plotted::Takeover, |p| p.takeover_ms) {
            l.dashed = true;
            recovery.push(l);
        }
        let recovered = format!("recovered, {label}");
        recovery.extend(figure_line(&recovered, ps, Plotted::Recovered, |p| {
            p.recovered_ms
        }));
    }
    let title = format!(
        "{series}: from the server agent's failure to fallback and takeover, and to the last delivery recovered"
    );
    add(
        &mut out,
        format!("{series}-recovery"),
        title,
        ("time (ms)", false),
        recovery,
    );
    let mut latency = Vec::new();
    for (label, ps) in &lines {
        let (Some(first), Some(last)) = (ps.first(), ps.last()) else {
            continue;
        };
        for (p, dashed) in [(last, false), (first, true)] {
            if p.latency_cdf.is_empty() || (dashed && p.place.size == last.place.size) {
                continue;
            }
            let points = p
                .latency_cdf
                .iter()
                .map(|(q, ms)| ((*ms).max(1) as f64, exact(*q)))
                .collect();
            let id = LineId {
                size: Some(p.place.size),
                ..line_id(&p.place, Plotted::Latency)
            };
            let mut l = Line::new(
                id,
                format!("{label}, {} members", show(f64::from(p.place.size))),
                points,
            );
            l.dashed = dashed;
            latency.push(l);
        }
    }
    let title = format!("{series}: delivery latency, send to application, all seeds");
    let y = ("fraction of deliveries", false);
    add(&mut out, format!("{series}-latency"), title, y, latency);
    if let Some(c) = out.last_mut().filter(|c| c.name.ends_with("-latency")) {
        c.x_label = "latency (ms)".into();
        c.legend_lower_right = true;
    }
    let speed: Vec<Line> = lines_of(&report.points, series, several)
        .iter()
        .filter_map(|(l, ps)| figure_line(l, ps, Plotted::Speed, |p| p.sim_to_wall))
        .collect();
    let title = format!("{series}: simulated seconds per wall second");
    add(
        &mut out,
        format!("{series}-speed"),
        title,
        ("simulated s / wall s", true),
        speed,
    );
    out
}

/// The plots of a cost series.
pub fn cost_charts(report: &Report, series: &str) -> Vec<Chart> {
    let costs: Vec<&Cost> = report
        .costs
        .iter()
        .filter(|c| c.place.series == series)
        .collect();
    let mut bytes = Vec::new();
    let mut crypto = Vec::new();
    let mut keys: Vec<&Place> = Vec::new();
    for c in &costs {
        if !keys.iter().any(|k| same_line(k, &c.place)) {
            keys.push(&c.place);
        }
    }
    for key in &keys {
        let here: Vec<&&Cost> = (costs.iter())
            .filter(|c| same_line(&c.place, key))
            .collect();
        let label = line_label(key, false);
        for (per, what, dashed) in [
            (Per::Message, "message", false),
            (Per::Commit, "commit", true),
        ] {
            let unit = |c: &Cost| match per {
                Per::Message => c.per_message.clone(),
                Per::Commit => c.per_commit.clone(),
            };
            let line = |plotted: Plotted, f: fn(&Unit) -> Spread| Line {
                id: line_id(key, plotted),
                label: format!("{label}, per {what}"),
                points: (here.iter())
                    .filter_map(|c| Some((f64::from(c.place.size), f(&unit(c)?))))
                    .collect(),
                dashed,
            };
            for (list, line) in [
                (&mut bytes, line(Plotted::BytesPer(per), |u| u.bytes)),
                (&mut crypto, line(Plotted::CryptoPer(per), |u| u.crypto_ops)),
            ] {
                if !line.points.is_empty() {
                    list.push(line);
                }
            }
        }
    }
    let mut out = Vec::new();
    let title = format!("{series}: bytes on the wire per application message and per commit");
    add(
        &mut out,
        format!("{series}-bytes"),
        title,
        ("bytes", true),
        bytes,
    );
    let title = format!("{series}: Olm and MLS operations per message and per commit");
    add(
        &mut out,
        format!("{series}-crypto"),
        title,
        ("crypto operations", true),
        crypto,
    );
    out
}

/// Every plot of the report, in series order.
pub fn all(report: &Report) -> Vec<Chart> {
    (report.spec.series.iter())
        .flat_map(|s| of_series(report, &s.name, s.measure))
        .collect()
}

pub fn of_series(report: &Report, name: &str, measure: Measure) -> Vec<Chart> {
    match measure {
        Measure::Run => run_charts(report, name),
        Measure::Cost => cost_charts(report, name),
    }
}
