//! Delivery latency read off a trace: from a message's send to its
//! delivery to each recipient's application, the figure a person asks of
//! a group first.

use super::{Event, Trace};
use crate::core::ids::{MessageId, Millis, Peer};
use crate::trace::HostEvent;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Quantiles of one run's delivery latencies, in simulated milliseconds.
/// A sender's delivery of its own message is not counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    pub deliveries: u64,
    pub p50_ms: u64,
    pub p90_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
}

pub fn delivery_latency(trace: &Trace) -> Latency {
    delivery_histogram(trace).map_or_else(Latency::default, |h| Latency::of(&h))
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            deliveries: h.len(),
            p50_ms: h.value_at_quantile(0.50),
            p90_ms: h.value_at_quantile(0.90),
            p99_ms: h.value_at_quantile(0.99),
            max_ms: h.max(),
        }
    }
}

/// Every delivery latency of the run, for distributions merged over
/// seeds (`commsim report`); `None` only if the histogram cannot be made.
pub fn delivery_histogram(trace: &Trace) -> Option<Histogram<u64>> {
    let mut sent: BTreeMap<MessageId, Millis> = BTreeMap::new();
    // Three significant figures: exact to the millisecond below a second.
    let mut h = Histogram::<u64>::new(3).ok()?;
    for r in &trace.records {
        match (&r.event, r.host.peer()) {
            (Event::Host(HostEvent::MessageSent { msg, .. }), _) => {
                sent.entry(*msg).or_insert(r.t);
            }
            (Event::Host(HostEvent::Delivered { msg }), Some(Peer::Member(to)))
                if to != msg.sender =>
            {
                if let Some(at) = sent.get(msg) {
                    let _ = h.record(r.t.saturating_sub(*at));
                }
            }
            _ => {}
        }
    }
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::testkit::{Tb, id};

    #[test]
    fn latency_runs_from_send_to_each_delivery_but_the_senders_own() {
        let mut tb = Tb::start(&[0, 1, 2]);
        let msg = id(0, 1);
        tb.send(100, msg, &[1, 2], &[]);
        tb.deliver(100, 0, msg)
            .deliver(150, 1, msg)
            .deliver(1_100, 2, msg);
        let l = delivery_latency(&tb.trace);
        assert_eq!(l.deliveries, 2);
        assert_eq!((l.p50_ms, l.max_ms), (50, 1_000));
        assert_eq!(delivery_latency(&Tb::start(&[0]).trace), Latency::default());
    }
}
