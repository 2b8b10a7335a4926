//! Drawing a `Timeline` as SVG with plotters, on a plain drawing area in
//! pixels: the layout (lanes, a time axis, a legend) is the picture's own.

use super::timeline::{MarkKind, Timeline};
use crate::core::ids::{Millis, Peer};
use crate::faults::{Cut, FaultType, Harm};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const WIDTH: u32 = 1400;
const LEFT: i32 = 70;
const RIGHT: i32 = 30;
const TOP: i32 = 70;
const LEGEND: i32 = 110;
/// Density columns across the run.
const BINS: usize = 280;

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// Pixel positions of one picture.
struct Layout {
    lane_h: i32,
    end: Millis,
}

impl Layout {
    fn x(&self, t: Millis) -> i32 {
        let span = (WIDTH as i32 - LEFT - RIGHT) as f64;
        LEFT + (span * t as f64 / self.end.max(1) as f64) as i32
    }
    fn top(&self, lane: usize) -> i32 {
        TOP + lane as i32 * self.lane_h
    }
    fn mid(&self, lane: usize) -> i32 {
        self.top(lane) + self.lane_h / 2
    }
}

/// The fault's colour, by the harm it does: cuts in warm colours, liars
/// in purple, network-wide weather in yellow.
fn fault_colour(fault: FaultType) -> RGBColor {
    match fault.harm() {
        Harm::Cut => RGBColor(255, 140, 0),
        Harm::OneWayCut => RGBColor(230, 80, 140),
        Harm::Crash => RGBColor(200, 30, 30),
        Harm::Offline => RGBColor(120, 120, 120),
        Harm::Lie => RGBColor(150, 40, 200),
        Harm::Refusal => RGBColor(140, 90, 40),
        Harm::Weather => RGBColor(220, 190, 0),
    }
}

fn mark_colour(kind: MarkKind) -> RGBColor {
    match kind {
        MarkKind::FellBack => RGBColor(210, 0, 0),
        MarkKind::Nominating => RGBColor(0, 90, 220),
        MarkKind::Joined => RGBColor(0, 150, 60),
        MarkKind::ForkDetected => RGBColor(0, 0, 0),
        MarkKind::EquivocationDetected => RGBColor(220, 0, 180),
    }
}

/// The picture as an SVG document.
pub fn svg(t: &Timeline) -> String {
    let dense = t.dense();
    let lanes = t.lanes.len().max(1);
    let lane_h = if dense {
        (900 / lanes as i32).clamp(2, 24)
    } else {
        24
    };
    let height = (TOP + lanes as i32 * lane_h + LEGEND) as u32;
    let layout = Layout { lane_h, end: t.end };
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        let _ = draw(&root, t, &layout, dense);
        let _ = root.present();
    }
    out
}

fn draw(
    root: &Area,
    t: &Timeline,
    l: &Layout,
    dense: bool,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let font = |size: i32| ("sans-serif", size).into_font();
    root.draw(&Text::new(t.title.clone(), (LEFT, 8), font(16)))?;
    lanes(root, t, l, dense)?;
    axis(root, t, l)?;
    windows(root, t, l)?;
    if dense {
        density(root, t, l)?;
        let note = format!(
            "{} hosts and {} deliveries are too many to draw one by one: each lane shows how many \
             events its host recorded, darker for more, per {} ms.",
            t.lanes.len(),
            t.arrows.len(),
            (t.end / BINS as u64).max(1)
        );
        root.draw(&Text::new(note, (LEFT, 28), font(12).color(&RED)))?;
    } else {
        arrows(root, t, l)?;
    }
    marks(root, t, l, !dense && t.marks.len() <= 80)?;
    legend(root, t, l, dense)
}

fn lanes(
    root: &Area,
    t: &Timeline,
    l: &Layout,
    dense: bool,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    // Label every lane when there is room, else enough to find one's way.
    let every = if l.lane_h >= 10 {
        1
    } else {
        (12 / l.lane_h).max(1) as usize * 2
    };
    for (i, host) in t.lanes.iter().enumerate() {
        if !dense || i % 2 == 0 {
            let shade = if matches!(host, Peer::Member(_)) {
                250
            } else {
                240
            };
            root.draw(&Rectangle::new(
                [(LEFT, l.top(i)), (WIDTH as i32 - RIGHT, l.top(i + 1))],
                RGBColor(shade, shade, shade).filled(),
            ))?;
        }
        if i % every == 0 {
            let style = TextStyle::from(("sans-serif", l.lane_h.clamp(8, 13)).into_font())
                .pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(host.to_string(), (LEFT - 6, l.mid(i)), style))?;
        }
    }
    Ok(())
}

fn axis(root: &Area, t: &Timeline, l: &Layout) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let steps = [
        100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000,
        600_000,
    ];
    let step = steps
        .into_iter()
        .find(|s| t.end / s <= 15)
        .unwrap_or(1_800_000);
    let bottom = l.top(t.lanes.len().max(1));
    let mut at = 0;
    while at <= t.end {
        let x = l.x(at);
        root.draw(&PathElement::new(
            vec![(x, TOP - 4), (x, bottom)],
            RGBColor(200, 200, 200),
        ))?;
        let label = if step >= 1_000 {
            format!("{} s", at / 1_000)
        } else {
            format!("{:.1} s", at as f64 / 1_000.0)
        };
        let style =
            TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(label, (x, bottom + 4), style))?;
        at += step;
    }
    let style = ("sans-serif", 11).into_font();
    root.draw(&Text::new(
        "simulated time".to_owned(),
        (WIDTH as i32 / 2 - 40, bottom + 20),
        style,
    ))?;
    Ok(())
}

fn windows(
    root: &Area,
    t: &Timeline,
    l: &Layout,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let mut strip = 0;
    for w in &t.windows {
        let c = fault_colour(w.fault.fault_type());
        let (x0, x1) = (l.x(w.from), l.x(w.until).max(l.x(w.from) + 1));
        let hosts = w.fault.hosts();
        if hosts.is_empty() {
            // Network-wide: a band above the lanes, one row per fault.
            let y = TOP - 22 + (strip % 3) * 6;
            strip += 1;
            root.draw(&Rectangle::new([(x0, y), (x1, y + 5)], c.mix(0.6).filled()))?;
            continue;
        }
        // A partition's sides in two tints, so that who was cut off from
        // whom can be read; any other fault in one.
        let tinted: Vec<(&Peer, f64)> = match w.fault.cut() {
            Cut::Sides(a, b) => (a.iter().map(|h| (h, 0.15)))
                .chain(b.iter().map(|h| (h, 0.45)))
                .collect(),
            Cut::None | Cut::Alone(_) => hosts.iter().map(|h| (h, 0.25)).collect(),
        };
        for (lane, tint) in tinted
            .into_iter()
            .filter_map(|(h, k)| Some((t.lane(*h)?, k)))
        {
            root.draw(&Rectangle::new(
                [(x0, l.top(lane)), (x1, l.top(lane + 1))],
                c.mix(tint).filled(),
            ))?;
        }
    }
    Ok(())
}

fn arrows(
    root: &Area,
    t: &Timeline,
    l: &Layout,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let line = RGBColor(40, 80, 160);
    for a in &t.arrows {
        let (Some(from), Some(to)) = (t.lane(a.from), t.lane(a.to)) else {
            continue;
        };
        let (x0, y0, x1, y1) = (l.x(a.sent), l.mid(from), l.x(a.delivered), l.mid(to));
        root.draw(&PathElement::new(vec![(x0, y0), (x1, y1)], line.mix(0.35)))?;
        root.draw(&arrowhead((x0, y0), (x1, y1), line.mix(0.7)))?;
    }
    Ok(())
}

/// A small triangle at `to`, pointing along the line from `from`.
fn arrowhead(from: (i32, i32), to: (i32, i32), colour: RGBAColor) -> Polygon<(i32, i32)> {
    let (dx, dy) = ((to.0 - from.0) as f64, (to.1 - from.1) as f64);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let (size, half) = (6.0, 2.5);
    let back = (to.0 as f64 - ux * size, to.1 as f64 - uy * size);
    let corner = |s: f64| {
        (
            (back.0 - uy * half * s) as i32,
            (back.1 + ux * half * s) as i32,
        )
    };
    Polygon::new(vec![to, corner(1.0), corner(-1.0)], colour.filled())
}

fn density(
    root: &Area,
    t: &Timeline,
    l: &Layout,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let bin = (t.end / BINS as u64).max(1);
    let counts: Vec<(usize, Vec<u32>)> = (t.lanes.iter().enumerate())
        .map(|(i, h)| {
            let mut c = vec![0u32; BINS + 1];
            for at in t.events.get(h).into_iter().flatten() {
                c[((at / bin) as usize).min(BINS)] += 1;
            }
            (i, c)
        })
        .collect();
    let max = counts
        .iter()
        .flat_map(|(_, c)| c.iter())
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    for (lane, c) in counts {
        for (b, n) in c.into_iter().enumerate().filter(|(_, n)| *n > 0) {
            let shade = 0.15 + 0.85 * f64::from(n) / f64::from(max);
            let (x0, x1) = (l.x(b as u64 * bin), l.x((b as u64 + 1) * bin));
            root.draw(&Rectangle::new(
                [(x0, l.top(lane)), (x1.max(x0 + 1), l.top(lane + 1))],
                RGBColor(30, 60, 140).mix(shade).filled(),
            ))?;
        }
    }
    Ok(())
}

fn marks(
    root: &Area,
    t: &Timeline,
    l: &Layout,
    labels: bool,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    // Where each lane's last label ends: a label that would overlap it is
    // left out (its symbol stays), so that none is drawn over another.
    let mut free_from: std::collections::BTreeMap<usize, i32> = Default::default();
    for m in &t.marks {
        let Some(lane) = t.lane(m.host) else { continue };
        let x = l.x(m.at);
        symbol(root, m.kind, (x, l.mid(lane)))?;
        let free = free_from.entry(lane).or_insert(i32::MIN);
        if labels && x + 6 >= *free {
            let style = ("sans-serif", 10).into_font().color(&mark_colour(m.kind));
            root.draw(&Text::new(m.label.clone(), (x + 6, l.top(lane) + 1), style))?;
            *free = x + 6 + 6 * m.label.len() as i32;
        }
    }
    Ok(())
}

fn symbol(
    root: &Area,
    kind: MarkKind,
    (x, y): (i32, i32),
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let c = mark_colour(kind);
    match kind {
        MarkKind::FellBack => root.draw(&Polygon::new(
            vec![(x, y - 5), (x - 5, y + 4), (x + 5, y + 4)],
            c.filled(),
        )),
        MarkKind::Nominating => root.draw(&Polygon::new(
            vec![(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)],
            c.filled(),
        )),
        MarkKind::Joined => root.draw(&Circle::new((x, y), 4, c.filled())),
        MarkKind::ForkDetected | MarkKind::EquivocationDetected => {
            let s = c.stroke_width(2);
            root.draw(&PathElement::new(vec![(x - 4, y - 4), (x + 4, y + 4)], s))?;
            root.draw(&PathElement::new(vec![(x - 4, y + 4), (x + 4, y - 4)], s))
        }
    }
}

fn legend(
    root: &Area,
    t: &Timeline,
    l: &Layout,
    dense: bool,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let y = l.top(t.lanes.len().max(1)) + 45;
    let font = ("sans-serif", 11).into_font();
    let mut x = LEFT;
    let item = |root: &Area, label: &str, x: &mut i32, y: i32| {
        let r = root.draw(&Text::new(label.to_owned(), (*x + 14, y - 6), font.clone()));
        *x += 30 + 7 * label.len() as i32;
        r
    };
    if !dense {
        root.draw(&PathElement::new(
            vec![(x - 4, y), (x + 8, y)],
            RGBColor(40, 80, 160),
        ))?;
        root.draw(&arrowhead(
            (x - 4, y),
            (x + 10, y),
            RGBColor(40, 80, 160).mix(0.7),
        ))?;
        item(root, "group message, sent to delivered", &mut x, y)?;
    }
    for kind in MarkKind::ALL {
        symbol(root, kind, (x + 4, y))?;
        item(root, kind.name(), &mut x, y)?;
    }
    let (mut x, y) = (LEFT, y + 22);
    // By name, as the legend has always listed them.
    let faults: std::collections::BTreeSet<(&str, FaultType)> = (t.windows.iter())
        .map(|w| (w.fault.fault_type().name(), w.fault.fault_type()))
        .collect();
    for (_, fault) in faults {
        root.draw(&Rectangle::new(
            [(x - 4, y - 5), (x + 10, y + 5)],
            fault_colour(fault).mix(0.4).filled(),
        ))?;
        item(root, fault.name(), &mut x, y)?;
    }
    let note = "Faults shade the lanes they touch (a partition's two sides in two tints); network-wide faults (loss, latency, ...) are the bands above the lanes.";
    root.draw(&Text::new(note.to_owned(), (LEFT, y + 16), font.clone()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{FaultKind, StateOnRestart};
    use crate::trace::testkit::{Tb, id};
    use crate::trace::{HostEvent, Phase};

    proptest::proptest! {
        /// Any trace a seal can hold is drawn without a panic: records in
        /// any order, at any time, on any host, faults that never end or
        /// end before they begin.
        #[test]
        fn any_trace_is_drawn(events in proptest::collection::vec((0u8..5, 0u64..200_000, 0u32..70, 0u32..70), 0..200)) {
            use crate::trace::{Event, Origin, Record, Trace};
            let mut trace = Trace::default();
            for (kind, t, a, b) in events {
                let host = Origin::from(Peer::Member(crate::core::ids::MemberId(a)));
                let event = match kind {
                    0 => Event::Host(HostEvent::MessageSent { msg: id(a, b), recipients: vec![], parents: vec![], control: false, submitted: false }),
                    1 => Event::Host(HostEvent::Delivered { msg: id(b, a) }),
                    2 | 3 => {
                        let m = Peer::Member(crate::core::ids::MemberId(b));
                        let fault = match b % 3 {
                            0 => FaultKind::Partition { a: vec![m], b: vec![] },
                            1 => FaultKind::Crash { host: m, state: StateOnRestart::Kept },
                            _ => FaultKind::Loss { rate: 0.1 },
                        };
                        let phase = if kind == 2 { Phase::Begin } else { Phase::End };
                        Event::Fault { phase, index: (b % 4) as usize, fault }
                    }
                    _ => Event::Host(HostEvent::FellBack {
                       cause: crate::core::event::FallbackCause::NoReceipt,
                       reason: "x".into(),
                       liar: None,
                   }),
                };
                trace.push(Record { t, host, event });
            }
            let svg = svg(&Timeline::of(&trace));
            proptest::prop_assert!(svg.starts_with("<svg"));
        }
    }

    /// Past the limits the picture shows density and says so, instead of
    /// a tangle of arrows.
    #[test]
    fn a_large_run_is_drawn_as_density_and_says_so() {
        let members: Vec<u32> = (0..60).collect();
        let mut tb = Tb::start(&members);
        let msg = id(0, 1);
        tb.send(100, msg, &members[1..], &[]);
        for m in 1..60 {
            tb.deliver(200 + u64::from(m), m, msg);
        }
        let t = Timeline::of(&tb.trace);
        assert!(t.dense());
        let svg = svg(&t);
        assert!(svg.contains("too many to draw one by one"), "{svg}");
        assert!(svg.contains("<rect"));
        let small = Timeline::of(&Tb::start(&[0, 1]).trace);
        assert!(!small.dense());
        assert!(!super::svg(&small).contains("too many"));
    }
}
