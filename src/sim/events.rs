//! The events engine: a discrete-event simulation of the same world.
//!
//! turmoil polls every host and scans every link on every tick, so its
//! cost grows as hosts × links × ticks whether or not anything happens.
//! Here a priority queue holds what will happen (a host starting, a host
//! with something due, a datagram arriving), ordered by time and, at equal
//! times, by when it was queued; the clock jumps from one to the next.
//! Hosts run exactly the code they run under turmoil (`activation.rs`),
//! and the fault plan is the same executor (`fault_plan.rs`) behind the
//! [`Driver`] verbs. Two differences in timing remain, so digests differ
//! between engines (never within one): time is not rounded to ticks, and
//! a datagram arrives at its due time rather than at the next tick.

use super::RunError;
use super::activation::Outgoing;
use super::fault_plan::{Driver, FaultState};
use super::setup::hosts;
use super::world::World;
use crate::core::ids::{Millis, Peer};
use crate::faults::Timeline;
use crate::scenario::Scenario;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

enum Ev {
    /// The host's software starts (at time 0, or after a crash).
    Start(Peer),
    /// The host has something due: a wake-up, a command, a forgery or a
    /// held send. Stale unless it is the host's armed time.
    Run(Peer),
    Arrive {
        to: Peer,
        from: Peer,
        bytes: Vec<u8>,
    },
}

struct Engine {
    queue: BTreeMap<(Millis, u64), Ev>,
    queued: u64,
    now: Millis,
    up: BTreeSet<Peer>,
    blocked: BTreeSet<(Peer, Peer)>,
    out: BTreeMap<Peer, Outgoing>,
    /// Each host's one live `Run` event.
    armed: BTreeMap<Peer, Millis>,
}

impl Engine {
    fn push(&mut self, at: Millis, ev: Ev) {
        self.queued += 1;
        self.queue.insert((at, self.queued), ev);
    }

    /// Runs what is due at the host and sends what its latency let go.
    fn activate(&mut self, w: &mut World, me: Peer) {
        let now = self.now;
        let sends = w.run_due(me, now);
        let out = self.out.entry(me).or_default();
        out.push_all(sends);
        for (to, bytes) in out.take_due(now) {
            // Cut links lose what is sent on them; a host that is down
            // when it arrives loses it then.
            if !self.blocked.contains(&(me, to)) {
                self.push(
                    now,
                    Ev::Arrive {
                        to,
                        from: me,
                        bytes,
                    },
                );
            }
        }
        self.rearm(w, me);
    }

    /// Queues the host's next `Run`. Something already due that this
    /// activation did not take (a wake-up set for now) waits a
    /// millisecond, as turmoil's shortest sleep does.
    fn rearm(&mut self, w: &World, me: Peer) {
        let held = self.out.get(&me).and_then(Outgoing::next_due);
        let Some(at) = [w.next_due(me), held].into_iter().flatten().min() else {
            self.armed.remove(&me);
            return;
        };
        let at = at.max(self.now + 1);
        if self.armed.insert(me, at) != Some(at) {
            self.push(at, Ev::Run(me));
        }
    }
}

impl Driver for Engine {
    fn partition_oneway(&mut self, from: Peer, to: Peer) {
        self.blocked.insert((from, to));
    }

    fn repair_oneway(&mut self, from: Peer, to: Peer) {
        self.blocked.remove(&(from, to));
    }

    fn crash(&mut self, host: Peer) {
        self.up.remove(&host);
        self.out.remove(&host);
        self.armed.remove(&host);
    }

    fn bounce(&mut self, host: Peer) {
        self.up.insert(host);
        self.push(self.now, Ev::Start(host));
    }
}

/// Runs the world until `end`; returns the time it stopped and the hosts
/// still running.
pub fn drive(
    world: &Rc<RefCell<World>>,
    s: &Scenario,
    end: Millis,
) -> Result<(Millis, Vec<Peer>), RunError> {
    let all = hosts(s);
    let mut e = Engine {
        queue: BTreeMap::new(),
        queued: 0,
        now: 0,
        up: all.iter().copied().collect(),
        blocked: BTreeSet::new(),
        out: BTreeMap::new(),
        armed: BTreeMap::new(),
    };
    for h in &all {
        e.push(0, Ev::Start(*h));
    }
    let mut timeline = Timeline::new(s.faults.clone());
    let mut faults = FaultState::default();
    loop {
        let next_event = e.queue.keys().next().map(|(t, _)| *t);
        let next_fault = timeline.next_at();
        // Faults first at equal times, as the turmoil driver applies them
        // before it steps the hosts.
        let fault_first = match (next_fault, next_event) {
            (Some(f), Some(ev)) => f <= ev,
            (Some(_), None) => true,
            _ => false,
        };
        let Some(t) = (if fault_first { next_fault } else { next_event }) else {
            break;
        };
        if t > end {
            break;
        }
        e.now = t;
        if fault_first {
            for (action, fault) in timeline.due(t) {
                faults.apply(&mut e, world, s, t, action, &fault);
            }
            continue;
        }
        let Some((_, ev)) = e.queue.pop_first() else {
            break;
        };
        let mut w = world.borrow_mut();
        match ev {
            Ev::Start(h) if e.up.contains(&h) => {
                let sends = w.start_host(h, t);
                e.out.entry(h).or_default().push_all(sends);
                e.activate(&mut w, h);
            }
            Ev::Run(h) if e.armed.get(&h) == Some(&t) && e.up.contains(&h) => {
                e.armed.remove(&h);
                e.activate(&mut w, h);
            }
            Ev::Arrive { to, from, bytes } if e.up.contains(&to) => {
                let sends = w.receive(to, t, from, bytes);
                e.out.entry(to).or_default().push_all(sends);
                e.activate(&mut w, to);
            }
            _ => {}
        }
    }
    let running = all.iter().filter(|h| e.up.contains(h)).copied().collect();
    Ok((end, running))
}
