//! How long recovery took: the part of `delivery` that times the deliveries
//! a fault or a failure held up, from the moment the system could start
//! to recover them.
//!
//! A delivery is *recovered* when something happened between its send and
//! its arrival that lets recovery begin: a fault was lifted (a partition
//! healed, a crashed host came back, a loss window closed), or a member
//! detected a failure first-hand (fell back on its own evidence, proved a
//! lie, reported a fork). Its recovery time runs from the latest such
//! moment before it arrived, so a partition's length is not counted
//! against the protocol, only what it took after the heal, and a second
//! fault restarts the clock. Members told of a fallback by a peer do not
//! restart it: in a large group they fall back one after another, and
//! each would make the slowest recovery look prompt.
//!
//! The figure is always measured; with `recovery` in `[bounds]`, a
//! recovered delivery later than the bound is a failure, as a lost one is.

use super::Evidence;
use super::history::History;
use crate::core::ids::{MemberId, MessageId, Millis};
use std::collections::BTreeMap;

/// The moments recovery could begin, in time order.
pub(super) struct Points(Vec<Millis>);

impl Points {
    pub fn new(h: &History) -> Points {
        let f = &h.faults;
        let mut points: Vec<Millis> = (f.spans.iter().filter_map(|s| s.until))
            .chain(f.first_hand.iter().copied())
            .chain(f.accusations.iter().map(|a| a.t))
            .chain(h.membership.fork_reports.iter().map(|a| a.t))
            .collect();
        points.sort_unstable();
        points.dedup();
        Points(points)
    }

    /// The latest moment in (`sent`, `arrived`], if any.
    pub fn before(&self, sent: Millis, arrived: Millis) -> Option<Millis> {
        let i = self.0.partition_point(|p| *p <= arrived);
        self.0[..i].last().copied().filter(|p| *p > sent)
    }
}

/// What the recovered deliveries came to.
#[derive(Default)]
pub(super) struct Recovered {
    pub deliveries: u64,
    /// The longest time from a recovery point to a delivery it released.
    pub after_ms: Option<Millis>,
    /// Deliveries later than the `recovery` bound.
    pub late: Vec<Evidence>,
}

impl Recovered {
    /// Times every first delivery to a recipient other than the sender of
    /// the messages in `sent` (time sent, by message).
    pub fn judge(
        h: &History,
        sent: &BTreeMap<MessageId, Millis>,
        first: &BTreeMap<(MemberId, MessageId), (usize, Millis)>,
    ) -> Recovered {
        let points = Points::new(h);
        let bound = h.run.bounds().and_then(|b| b.recovery_ms);
        let mut out = Recovered::default();
        for (&(r, msg), &(_, t)) in first {
            let Some(&s) = sent.get(&msg).filter(|_| r != msg.sender) else {
                continue;
            };
            let Some(p) = points.before(s, t) else {
                continue;
            };
            out.deliveries += 1;
            let took = t - p;
            out.after_ms = Some(out.after_ms.unwrap_or(0).max(took));
            if let Some(b) = bound.filter(|b| took > *b) {
                out.late.push(
                    Evidence::note(format!(
                        "{msg} (sent at {s} ms) reached {r} at {t} ms, {took} ms after \
                         recovery could begin at {p} ms (bound {b} ms)"
                    ))
                    .members([r, msg.sender])
                    .messages([msg])
                    .at(t),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_point_after_the_send_counts() {
        let p = Points(vec![100, 500, 900]);
        assert_eq!(p.before(50, 600), Some(500));
        assert_eq!(p.before(50, 500), Some(500));
        assert_eq!(p.before(500, 800), None, "a point at the send is before it");
        assert_eq!(p.before(950, 2000), None);
        assert_eq!(p.before(0, 50), None);
    }
}
