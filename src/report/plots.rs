//! The report's plots as SVG, drawn with plotters: figures against group
//! size as medians with min–max bands over seeds, and latency
//! distributions. A `Chart` is the plot as data, so that what is drawn
//! can be tested without reading SVG.

use super::aggregate::Spread;
use crate::core::member::membership::Variant;
use crate::scenario::GroupKind;
use crate::sim::Engine;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

const SIZE: (u32, u32) = (900, 520);

/// What a line gathers: the runs of one kind of group, variant and engine
/// in one series, and which of their figures it plots.
#[derive(Clone, Debug, PartialEq)]
pub struct LineId {
    pub series: String,
    pub kind: GroupKind,
    pub variant: Variant,
    pub engine: Engine,
    pub plotted: Plotted,
    /// A latency distribution is of one group size; lines against group
    /// size have none.
    pub size: Option<u32>,
}

/// A figure a line plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plotted {
    Convergence,
    Fallback,
    Takeover,
    /// The last acknowledged delivery a fault or a detection held up.
    Recovered,
    /// The distribution of delivery latency at one size.
    Latency,
    /// Simulated seconds per wall second.
    Speed,
    BytesPer(Per),
    CryptoPer(Per),
    /// Protocol states reached, against plans run (explore's coverage).
    Coverage,
}

/// What a cost is counted per.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Per {
    Message,
    Commit,
}

impl Plotted {
    /// The unit a reading of the figure speaks in.
    pub fn unit(self) -> &'static str {
        match self {
            Plotted::Convergence
            | Plotted::Fallback
            | Plotted::Takeover
            | Plotted::Recovered
            | Plotted::Latency => "ms",
            Plotted::Speed => "simulated s per wall s",
            Plotted::BytesPer(_) => "bytes",
            Plotted::CryptoPer(_) => "operations",
            Plotted::Coverage => "protocol states",
        }
    }
}

impl LineId {
    /// Two lines worth setting against each other: the same figure of the
    /// same series, variant and size, on another kind of group or another
    /// engine (not both).
    pub fn compares_with(&self, other: &LineId) -> bool {
        let same = self.series == other.series
            && self.plotted == other.plotted
            && self.variant == other.variant
            && self.size == other.size;
        same && ((self.kind != other.kind) != (self.engine != other.engine))
    }
}

/// One plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// The file's stem: `<name>.svg`.
    pub name: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub lines: Vec<Line>,
    /// Where no line goes: the legend's corner. Otherwise the legend sits
    /// at the top left, above the data, with the y axis raised to make room.
    pub legend_lower_right: bool,
}

/// One line of a plot: a median with its min–max band, or (with every
/// spread a single value) a plain curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// What the line is, as data: which lines compare, and the unit its
    /// reading speaks in, come from here, never from the label.
    pub id: LineId,
    /// For the legend only.
    pub label: String,
    pub points: Vec<(f64, Spread)>,
    pub dashed: bool,
}

impl Line {
    pub fn new(id: LineId, label: impl Into<String>, points: Vec<(f64, Spread)>) -> Line {
        Line {
            id,
            label: label.into(),
            points,
            dashed: false,
        }
    }
}

impl Chart {
    /// The smallest and largest x and y over every line, bands included,
    /// or `None` for a chart with nothing to draw.
    fn bounds(&self) -> Option<((f64, f64), (f64, f64))> {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for l in &self.lines {
            for (x, s) in &l.points {
                xs.push(*x);
                ys.extend([s.min, s.max]);
            }
        }
        let keep = |v: &f64, log: bool| v.is_finite() && (!log || *v > 0.0);
        xs.retain(|x| keep(x, self.log_x));
        ys.retain(|y| keep(y, self.log_y));
        let range = |v: &[f64]| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (lo <= hi).then_some((lo, hi))
        };
        Some((range(&xs)?, range(&ys)?))
    }
}

/// Distinct colours, in line order.
fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(255, 127, 14),
        RGBColor(23, 190, 207),
        RGBColor(140, 86, 75),
        RGBColor(127, 127, 127),
    ];
    PALETTE[i % PALETTE.len()]
}

/// The chart as an SVG document.
pub fn svg(chart: &Chart) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        let _ = root.fill(&WHITE);
        match chart.bounds() {
            None => {
                let style = ("sans-serif", 16).into_font();
                let _ = root.draw(&Text::new(
                    format!("{}: nothing measured", chart.title),
                    (40, 40),
                    style,
                ));
            }
            Some(((x0, x1), (y0, y1))) => {
                // Room around the data, so that bands and markers are not cut.
                // A log axis over less than a decade shows no ticks.
                let log_x = chart.log_x && x1 >= 10.0 * x0;
                let (x0, x1) = if log_x {
                    (x0 / 1.2, x1 * 1.2)
                } else {
                    pad(x0, x1, false)
                };
                let log_y = chart.log_y && y1 >= 10.0 * y0;
                let (y0, y1) = if log_y {
                    (y0 / 1.5, y1 * 1.5)
                } else {
                    pad(y0, y1, true)
                };
                // The legend's share of the plot's height, kept free above the data.
                let share = if chart.legend_lower_right {
                    0.0
                } else {
                    ((chart.lines.len() as f64 * 18.0 + 24.0) / 400.0).min(0.6)
                };
                let raise = share / (1.0 - share);
                let y1 = if log_y {
                    y1 * (y1 / y0).powf(raise)
                } else {
                    y1 + (y1 - y0) * raise
                };
                let _ = match (log_x, log_y) {
                    (true, true) => draw(&root, chart, (x0..x1).log_scale(), (y0..y1).log_scale()),
                    (true, false) => draw(&root, chart, (x0..x1).log_scale(), y0..y1),
                    (false, true) => draw(&root, chart, x0..x1, (y0..y1).log_scale()),
                    (false, false) => draw(&root, chart, x0..x1, y0..y1),
                };
            }
        }
        let _ = root.present();
    }
    out
}

/// An axis label: short, with k and M for thousands and millions.
pub fn number(v: f64) -> String {
    let a = v.abs();
    let (v, suffix) = if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let digits = if v.abs() >= 100.0 || v == v.trunc() {
        0
    } else if v.abs() >= 1.0 {
        1
    } else {
        2
    };
    let shown = format!("{v:.digits$}");
    // 0.80 is 0.8; 12.0k is 12k.
    let shown = if shown.contains('.') {
        shown.trim_end_matches('0').trim_end_matches('.')
    } else {
        &shown
    };
    format!("{shown}{suffix}")
}

/// A linear axis from zero (for `from_zero`) or a little below the data,
/// to a little above it.
fn pad(lo: f64, hi: f64, from_zero: bool) -> (f64, f64) {
    let span = (hi - lo).max(hi.abs() * 0.1).max(1.0);
    let lo = if from_zero && lo >= 0.0 {
        0.0
    } else {
        lo - span * 0.05
    };
    (lo, hi + span * 0.08)
}

type Root<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type Failed<'a> = DrawingAreaErrorKind<<SVGBackend<'a> as DrawingBackend>::ErrorType>;

fn draw<'a, X, Y>(root: &Root<'a>, chart: &Chart, x: X, y: Y) -> Result<(), Failed<'a>>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut c = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(x, y)?;
    c.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_labels(7)
        .y_labels(8)
        .x_label_formatter(&|v| number(*v))
        .y_label_formatter(&|v| number(*v))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()?;
    for (i, line) in chart.lines.iter().enumerate() {
        let col = colour(i);
        let banded = line.points.iter().any(|(_, s)| s.max > s.min);
        if banded {
            let upper = line.points.iter().map(|(x, s)| (*x, s.max));
            let lower = line.points.iter().rev().map(|(x, s)| (*x, s.min));
            c.draw_series(std::iter::once(Polygon::new(
                upper.chain(lower).collect::<Vec<_>>(),
                col.mix(0.15).filled(),
            )))?;
        }
        let medians: Vec<(f64, f64)> = line.points.iter().map(|(x, s)| (*x, s.median)).collect();
        let stroke = col.stroke_width(2);
        let drawn = if line.dashed {
            c.draw_series(DashedLineSeries::new(medians.clone(), 6, 4, stroke))?
        } else {
            c.draw_series(LineSeries::new(medians.clone(), stroke))?
        };
        drawn
            .label(&line.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
        if medians.len() <= 40 {
            c.draw_series(medians.iter().map(|p| Circle::new(*p, 3, col.filled())))?;
        }
    }
    c.configure_series_labels()
        .position(if chart.legend_lower_right {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperLeft
        })
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(median: f64, min: f64, max: f64) -> Spread {
        Spread {
            median,
            min,
            max,
            seeds: 3,
        }
    }

    fn id(kind: GroupKind) -> LineId {
        LineId {
            series: "s".into(),
            kind,
            variant: Variant::Lww,
            engine: Engine::Events,
            plotted: Plotted::Convergence,
            size: None,
        }
    }

    fn chart(log: bool) -> Chart {
        Chart {
            name: "c".into(),
            title: "convergence".into(),
            x_label: "group size (members)".into(),
            y_label: "time (ms)".into(),
            log_x: log,
            log_y: log,
            legend_lower_right: false,
            lines: vec![
                Line::new(
                    id(GroupKind::Lightweight),
                    "lightweight lww",
                    vec![
                        (5.0, spread(500.0, 400.0, 600.0)),
                        (50.0, spread(900.0, 800.0, 1_000.0)),
                    ],
                ),
                Line::new(
                    id(GroupKind::Coordinated),
                    "coordinated lww",
                    vec![
                        (5.0, spread(20.0, 20.0, 20.0)),
                        (50.0, spread(30.0, 25.0, 45.0)),
                    ],
                ),
            ],
        }
    }

    #[test]
    fn a_chart_is_well_formed_svg_with_its_labels_and_legend() {
        for log in [false, true] {
            let svg = svg(&chart(log));
            let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
            let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
            for label in [
                "convergence",
                "group size (members)",
                "time (ms)",
                "lightweight lww",
                "coordinated lww",
            ] {
                assert!(
                    texts.iter().any(|t| t.contains(label)),
                    "{label} missing: {texts:?}"
                );
            }
            // Two bands: the coordinated line's first point has no
            // spread but its second has, so both lines are banded.
            assert_eq!(
                doc.descendants()
                    .filter(|n| n.has_tag_name("polygon"))
                    .count(),
                2
            );
        }
    }

    #[test]
    fn axis_numbers_are_short() {
        let shown: Vec<String> = [0.0, 0.25, 0.8, 2.5, 40.0, 512.4, 12_000.0, 3_400_000.0]
            .map(number)
            .into();
        assert_eq!(
            shown,
            ["0", "0.25", "0.8", "2.5", "40", "512", "12k", "3.4M"]
        );
    }

    #[test]
    fn an_empty_chart_says_so() {
        let mut c = chart(true);
        c.lines.clear();
        assert!(svg(&c).contains("nothing measured"));
        // A log axis cannot show zero: a line of zeros is nothing to draw.
        c.lines.push(Line::new(
            id(GroupKind::Lightweight),
            "zero",
            vec![(5.0, spread(0.0, 0.0, 0.0))],
        ));
        assert!(svg(&c).contains("nothing measured"));
    }

    #[test]
    fn lines_compare_across_one_of_kind_or_engine() {
        let a = id(GroupKind::Lightweight);
        let kind = id(GroupKind::Coordinated);
        let engine = LineId {
            engine: Engine::Turmoil,
            ..a.clone()
        };
        let both = LineId {
            engine: Engine::Turmoil,
            ..kind.clone()
        };
        let other = LineId {
            plotted: Plotted::Speed,
            ..kind.clone()
        };
        assert!(a.compares_with(&kind) && a.compares_with(&engine));
        assert!(!a.compares_with(&both) && !a.compares_with(&other) && !a.compares_with(&a));
    }
}
