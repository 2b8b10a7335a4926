//! A picture of one run, read off its trace: hosts as lanes, each group
//! message as an arrow from its send to each delivery, fault windows
//! shaded, and fallbacks, nominations, generations and detections marked.
//!
//! `Timeline` is the typed model (tested on its own); `render.rs` draws it
//! with plotters. A run too large to draw arrow by arrow is drawn as event
//! density per lane instead, and the picture says so.

use crate::core::ids::{MemberId, MessageId, Millis, Peer};
use crate::faults::FaultKind;
use crate::trace::{Event, HostEvent, Phase, Trace};
use std::collections::{BTreeMap, BTreeSet};

/// Beyond these a picture of arrows is unreadable: it shows density.
pub const MAX_ARROW_LANES: usize = 40;
pub const MAX_ARROWS: usize = 4_000;

/// A group message from its send to one delivery.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrow {
    pub from: Peer,
    pub sent: Millis,
    pub to: Peer,
    pub delivered: Millis,
}

/// A fault while it lasted, on the lanes it touched (none: the whole
/// network, such as loss or latency).
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub fault: FaultKind,
    pub from: Millis,
    pub until: Millis,
}

/// Something worth a label at one point of one lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkKind {
    FellBack,
    Nominating,
    Joined,
    ForkDetected,
    EquivocationDetected,
}

impl MarkKind {
    pub const ALL: [MarkKind; 5] = [
        MarkKind::FellBack,
        MarkKind::Nominating,
        MarkKind::Joined,
        MarkKind::ForkDetected,
        MarkKind::EquivocationDetected,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MarkKind::FellBack => "fell back",
            MarkKind::Nominating => "nominates a server",
            MarkKind::Joined => "joined a generation",
            MarkKind::ForkDetected => "fork detected",
            MarkKind::EquivocationDetected => "equivocation detected",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub kind: MarkKind,
    pub host: Peer,
    pub at: Millis,
    pub label: String,
}

#[derive(Clone, Debug, Default)]
pub struct Timeline {
    pub title: String,
    /// Members, then mailbox agents, then server agents.
    pub lanes: Vec<Peer>,
    pub end: Millis,
    pub arrows: Vec<Arrow>,
    /// Every event each lane recorded, by time: what the density view
    /// draws.
    pub events: BTreeMap<Peer, Vec<Millis>>,
    pub windows: Vec<Window>,
    pub marks: Vec<Mark>,
}

impl Timeline {
    pub fn of(trace: &Trace) -> Timeline {
        let mut t = Timeline::default();
        let mut lanes: BTreeSet<Peer> = BTreeSet::new();
        let mut sent: BTreeMap<MessageId, Millis> = BTreeMap::new();
        // Open faults by their place in the plan, which their end names.
        let mut open: BTreeMap<usize, (Millis, &FaultKind)> = BTreeMap::new();
        for r in &trace.records {
            t.end = t.end.max(r.t);
            let host = r.host.peer();
            if let Some(h) = host {
                lanes.insert(h);
                t.events.entry(h).or_default().push(r.t);
            }
            match (&r.event, host) {
                (
                    Event::RunStarted {
                        scenario,
                        seed,
                        variant,
                        members,
                        agents,
                        ..
                    },
                    _,
                ) => {
                    t.title = format!("{scenario}, seed {seed}, variant {variant}");
                    lanes.extend(members.iter().map(|m| Peer::Member(*m)));
                    lanes.extend(agents.iter().map(|a| Peer::Agent(*a)));
                }
                (Event::Host(HostEvent::MessageSent { msg, .. }), _) => {
                    sent.entry(*msg).or_insert(r.t);
                }
                (Event::Host(HostEvent::Delivered { msg }), Some(to)) => {
                    if let Some(at) = sent.get(msg) {
                        t.arrows.push(Arrow {
                            from: Peer::Member(msg.sender),
                            sent: *at,
                            to,
                            delivered: r.t,
                        });
                    }
                }
                (
                    Event::Fault {
                        phase,
                        index,
                        fault,
                    },
                    _,
                ) => {
                    lanes.extend(fault.hosts());
                    match phase {
                        Phase::Begin => {
                            open.insert(*index, (r.t, fault));
                        }
                        Phase::End => {
                            if let Some(begun) = open.remove(index) {
                                t.windows.push(window(begun, r.t));
                            }
                        }
                    }
                }
                (Event::Host(HostEvent::FellBack { liar, .. }), Some(h)) => {
                    let label = match liar {
                        Some(s) => format!("fell back ({s} lied)"),
                        None => "fell back".into(),
                    };
                    t.mark(MarkKind::FellBack, h, r.t, label);
                }
                (Event::Host(HostEvent::Nominating { generation, server }), Some(h)) => {
                    let label = format!("nominates {server} for g{generation}");
                    t.mark(MarkKind::Nominating, h, r.t, label);
                }
                (
                    Event::Host(HostEvent::Joined {
                        generation, server, ..
                    }),
                    Some(h),
                ) => {
                    let label = format!("g{generation} at {server}");
                    t.mark(MarkKind::Joined, h, r.t, label);
                }
                (Event::Host(HostEvent::ForkDetected { other_side, .. }), Some(h)) => {
                    let label = format!("fork with {}", names(other_side));
                    t.mark(MarkKind::ForkDetected, h, r.t, label);
                }
                (Event::Host(HostEvent::EquivocationDetected { server, seq, .. }), Some(h)) => {
                    let label = format!("{server} lied at slot {seq}");
                    t.mark(MarkKind::EquivocationDetected, h, r.t, label);
                }
                _ => {}
            }
        }
        // Faults still open at the end last to the end.
        for begun in open.into_values() {
            let end = t.end;
            t.windows.push(window(begun, end));
        }
        t.lanes = lanes.into_iter().collect();
        t
    }

    fn mark(&mut self, kind: MarkKind, host: Peer, at: Millis, label: String) {
        self.marks.push(Mark {
            kind,
            host,
            at,
            label,
        });
    }

    /// Whether the picture draws density per lane rather than arrows.
    pub fn dense(&self) -> bool {
        self.lanes.len() > MAX_ARROW_LANES || self.arrows.len() > MAX_ARROWS
    }

    /// The lane a host is drawn on.
    pub fn lane(&self, host: Peer) -> Option<usize> {
        self.lanes.binary_search(&host).ok()
    }
}

fn window((from, fault): (Millis, &FaultKind), until: Millis) -> Window {
    Window {
        fault: fault.clone(),
        from,
        until,
    }
}

fn names(members: &[MemberId]) -> String {
    let v: Vec<String> = members.iter().map(MemberId::to_string).collect();
    v.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::testkit::{Tb, id};

    #[test]
    fn deliveries_become_arrows_and_faults_windows() {
        let mut tb = Tb::start(&[0, 1, 2]);
        let msg = id(0, 1);
        tb.send(100, msg, &[1, 2], &[]);
        tb.deliver(150, 1, msg).deliver(900, 2, msg);
        tb.partition(200, &[0, 1], &[2], Some(800));
        tb.fell_back(300, 1);
        let t = Timeline::of(&tb.trace);
        assert_eq!(t.arrows.len(), 2);
        assert_eq!(t.arrows[1].from, Peer::Member(MemberId(0)));
        assert_eq!((t.arrows[1].sent, t.arrows[1].delivered), (100, 900));
        assert_eq!(t.windows.len(), 1);
        assert_eq!((t.windows[0].from, t.windows[0].until), (200, 800));
        let crate::faults::Cut::Sides(_, b) = t.windows[0].fault.cut() else {
            panic!("{:?}", t.windows[0].fault)
        };
        assert_eq!(b, [Peer::Member(MemberId(2))]);
        assert_eq!(t.marks.len(), 1);
        assert_eq!(t.marks[0].kind, MarkKind::FellBack);
        assert!(
            t.lanes
                .starts_with(&[0, 1, 2].map(|m| Peer::Member(MemberId(m))))
        );
        assert!(!t.dense());
    }
}
