//! The report's reading of its plots, generated from the numbers: how
//! each line grows with the group, and where two lines that differ only
//! in the kind of group or the engine stand against each other, and
//! cross.

use super::plots::{Chart, Line};

/// Sentences about one chart, each a Markdown bullet's text.
pub fn read(chart: &Chart, unit: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in &chart.lines {
        out.extend(growth(line, unit));
    }
    for (i, a) in chart.lines.iter().enumerate() {
        for b in &chart.lines[i + 1..] {
            if a.id.compares_with(&b.id) {
                out.extend(against(a, b));
            }
        }
    }
    out
}

/// Sentences about a distribution: each line's median and 99th
/// percentile (x is the latency, y the fraction delivered by then).
pub fn read_distribution(chart: &Chart) -> Vec<String> {
    let at = |line: &Line, q: f64| {
        (line.points.iter())
            .find(|(_, s)| s.median >= q)
            .map(|(x, _)| show(*x))
    };
    (chart.lines.iter())
        .filter_map(|l| {
            Some(format!(
                "{}: half of all deliveries within {} ms, 99% within {} ms.",
                l.label,
                at(l, 0.5)?,
                at(l, 0.99)?
            ))
        })
        .collect()
}

/// A figure with a thousands separator and no more digits than it needs.
pub fn show(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        use num_format::{Locale, ToFormattedString};
        (v.round() as i64).to_formatted_string(&Locale::en)
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}x")
    } else {
        format!("{r:.1}x")
    }
}

/// From the smallest size to the largest.
fn growth(line: &Line, unit: &str) -> Option<String> {
    let (first, last) = (line.points.first()?, line.points.last()?);
    if line.points.len() < 2 {
        return None;
    }
    let (x0, v0) = (first.0, first.1.median);
    let (x1, v1) = (last.0, last.1.median);
    let how = if v0 > 0.0 && v1 > 0.0 {
        let r = v1 / v0;
        if (0.9..=1.1).contains(&r) {
            "about the same".to_owned()
        } else if r > 1.0 {
            format!("grows {}", ratio(r))
        } else {
            format!("falls {}", ratio(1.0 / r))
        }
    } else {
        "from or to zero".to_owned()
    };
    Some(format!(
        "{}: {} {unit} at {} members, {} {unit} at {} members ({how}; {} sizes{}).",
        line.label,
        show(v0),
        show(x0),
        show(v1),
        show(x1),
        line.points.len(),
        seeds_note(line)
    ))
}

fn seeds_note(line: &Line) -> String {
    let seeds: Vec<usize> = line.points.iter().map(|(_, s)| s.seeds).collect();
    match (seeds.iter().min(), seeds.iter().max()) {
        (Some(1), Some(1)) | (None, _) => String::new(),
        (Some(lo), Some(hi)) if lo == hi => format!(", median of {lo} seeds"),
        (Some(lo), Some(hi)) => format!(", median of {lo} to {hi} seeds"),
        _ => String::new(),
    }
}

/// Which of two lines is lower at the sizes both have, and where that
/// changes.
fn against(a: &Line, b: &Line) -> Option<String> {
    let common: Vec<(f64, f64, f64)> = (a.points.iter())
        .filter_map(|(x, sa)| {
            let (_, sb) = b.points.iter().find(|(y, _)| y == x)?;
            Some((*x, sa.median, sb.median))
        })
        .collect();
    let (first, last) = (common.first()?, common.last()?);
    // Within 2% is level: a crossing of two equal lines is noise.
    let lower = |(_, va, vb): &(f64, f64, f64)| -> Option<bool> {
        ((va - vb).abs() > 0.02 * va.abs().max(vb.abs())).then_some(va < vb)
    };
    let at = |(x, va, vb): &(f64, f64, f64)| {
        if *vb > 0.0 {
            format!("{} at {} members", ratio(va / vb), show(*x))
        } else {
            format!("{} against 0 at {} members", show(*va), show(*x))
        }
    };
    // Where the lower line changes, skipping points where they are level.
    let mut crossings = Vec::new();
    let mut seen: Option<(f64, bool)> = None;
    for p in &common {
        if let Some(now) = lower(p) {
            if let Some((x, before)) = seen
                && before != now
            {
                crossings.push(format!("between {} and {} members", show(x), show(p.0)));
            }
            seen = Some((p.0, now));
        }
    }
    let span = if common.len() == 1 {
        format!("at {} members", show(first.0))
    } else {
        format!("from {} to {} members", show(first.0), show(last.0))
    };
    let ends = if common.len() == 1 {
        at(first)
    } else {
        format!("{}, {}", at(first), at(last))
    };
    Some(if crossings.is_empty() {
        let decided: Vec<bool> = common.iter().filter_map(lower).collect();
        let word = match (decided.first(), decided.len() == common.len()) {
            (None, _) => "level with",
            (Some(true), true) => "below",
            (Some(false), true) => "above",
            (Some(true), false) => "level with or below",
            (Some(false), false) => "level with or above",
        };
        format!("{} stays {word} {} {span}: {ends}.", a.label, b.label)
    } else {
        format!(
            "{} and {} cross {}: {} against {}, {ends}.",
            a.label,
            b.label,
            crossings.join(" and "),
            a.label,
            b.label
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::member::membership::Variant;
    use crate::report::aggregate::Spread;
    use crate::report::plots::{LineId, Per, Plotted};
    use crate::scenario::GroupKind;
    use crate::sim::Engine;

    fn line(id: (GroupKind, Plotted), label: &str, values: &[(f64, f64)]) -> Line {
        let points = values
            .iter()
            .map(|&(x, v)| {
                (
                    x,
                    Spread {
                        median: v,
                        min: v,
                        max: v,
                        seeds: 3,
                    },
                )
            })
            .collect();
        let id = LineId {
            series: "s".into(),
            kind: id.0,
            variant: Variant::Lww,
            engine: Engine::Events,
            plotted: id.1,
            size: None,
        };
        Line::new(id, label, points)
    }

    const LW: (GroupKind, Plotted) = (GroupKind::Lightweight, Plotted::Convergence);
    const CO: (GroupKind, Plotted) = (GroupKind::Coordinated, Plotted::Convergence);

    fn chart(lines: Vec<Line>) -> Chart {
        Chart {
            name: "c".into(),
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_x: true,
            log_y: false,
            lines,
            legend_lower_right: false,
        }
    }

    #[test]
    fn growth_and_crossings_are_read_off_the_numbers() {
        let light = line(
            LW,
            "lightweight lww",
            &[(5.0, 100.0), (50.0, 400.0), (500.0, 4_000.0)],
        );
        let coord = line(
            CO,
            "coordinated lww",
            &[(5.0, 300.0), (50.0, 350.0), (500.0, 500.0)],
        );
        let s = read(&chart(vec![light, coord]), "ms");
        assert_eq!(
            s[0],
            "lightweight lww: 100 ms at 5 members, 4,000 ms at 500 members (grows 40x; 3 sizes, median of 3 seeds)."
        );
        assert!(
            s[2].starts_with("lightweight lww and coordinated lww cross between 5 and 50 members"),
            "{}",
            s[2]
        );
        assert!(
            s[2].ends_with("0.3x at 5 members, 8.0x at 500 members."),
            "{}",
            s[2]
        );
    }

    #[test]
    fn lines_within_two_percent_are_level_not_crossing() {
        let a = line(
            LW,
            "lightweight lww",
            &[(5.0, 524.0), (50.0, 527.0), (100.0, 529.0)],
        );
        let b = line(
            CO,
            "coordinated lww",
            &[(5.0, 525.0), (50.0, 526.0), (100.0, 528.0)],
        );
        let s = read(&chart(vec![a, b]), "ms");
        assert!(
            s[2].starts_with(
                "lightweight lww stays level with coordinated lww from 5 to 100 members"
            ),
            "{}",
            s[2]
        );
        let c = line(
            LW,
            "lightweight lww",
            &[(5.0, 100.0), (50.0, 101.0), (100.0, 200.0)],
        );
        let d = line(
            CO,
            "coordinated lww",
            &[(5.0, 100.0), (50.0, 100.0), (100.0, 100.0)],
        );
        let s = read(&chart(vec![c, d]), "ms");
        assert!(
            s[2].starts_with("lightweight lww stays level with or above coordinated lww"),
            "{}",
            s[2]
        );
    }

    #[test]
    fn lines_that_do_not_cross_stay_on_one_side() {
        let a = line(
            (GroupKind::Lightweight, Plotted::BytesPer(Per::Message)),
            "lightweight lww, per message",
            &[(5.0, 10.0), (10.0, 20.0)],
        );
        let b = line(
            (GroupKind::Coordinated, Plotted::BytesPer(Per::Message)),
            "coordinated lww, per message",
            &[(5.0, 20.0), (10.0, 80.0)],
        );
        let c = line(
            (GroupKind::Coordinated, Plotted::BytesPer(Per::Commit)),
            "coordinated lww, per commit",
            &[(5.0, 20.0)],
        );
        let s = read(&chart(vec![a, b, c]), "bytes");
        assert!(s.iter().any(|l| l.starts_with("lightweight lww, per message stays below coordinated lww, per message from 5 to 10 members: 0.5x")), "{s:?}");
        // Per message against per commit, or two words apart: not compared.
        assert!(
            !s.iter()
                .any(|l| l.contains("per message") && l.contains("per commit")),
            "{s:?}"
        );
    }

    #[test]
    fn figures_read_like_a_person_writes_them() {
        assert_eq!(
            [0.25, 2.5, 40.0, 1234.4, 1_000_000.0].map(show),
            ["0.25", "2.5", "40", "1,234", "1,000,000"]
        );
    }
}
