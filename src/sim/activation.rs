//! What one host does when it runs, whichever engine runs it: start, take
//! its due inputs, and hold its sends until their simulated latency is
//! over. The turmoil driver (`host.rs`) and the events engine
//! (`events.rs`) both call these, so that the two differ only in how time
//! passes and datagrams travel.

use super::world::World;
use crate::core::ids::{Millis, Peer};
use crate::core::io::Input;
use crate::trace::Event;
use crate::trace::HostEvent;
use std::collections::BTreeMap;

/// Datagrams waiting out their simulated latency, keyed by due time and a
/// counter so that equal due times keep send order. They live in the
/// host's process: a crash loses them.
#[derive(Default)]
pub struct Outgoing {
    queue: BTreeMap<(Millis, u64), (Peer, Vec<u8>)>,
    counter: u64,
}

impl Outgoing {
    pub fn push_all(&mut self, sends: Vec<(Millis, Peer, Vec<u8>)>) {
        for (due, to, bytes) in sends {
            self.counter += 1;
            self.queue.insert((due, self.counter), (to, bytes));
        }
    }

    pub fn next_due(&self) -> Option<Millis> {
        self.queue.keys().next().map(|(t, _)| *t)
    }

    /// The datagrams due by `now`, in order.
    pub fn take_due(&mut self, now: Millis) -> Vec<(Peer, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            out.push(entry.remove());
        }
        out
    }
}

impl World {
    /// The host's software starts (again): commands its user would have
    /// given while it was down did not happen, forgeries aimed at the dead
    /// host are gone, and the state machine is told how it comes up.
    pub fn start_host(&mut self, me: Peer, now: Millis) -> Vec<(Millis, Peer, Vec<u8>)> {
        let start = self.starts.remove(&me).unwrap_or_default();
        if start.restart() {
            self.drop_missed_commands(me, now);
        }
        self.drop_injections_before(me, now);
        self.step(now, me, Input::Start(start))
    }

    /// Steps the host through everything due by `now`: forgeries, then
    /// commands, then its wake-up.
    pub fn run_due(&mut self, me: Peer, now: Millis) -> Vec<(Millis, Peer, Vec<u8>)> {
        let mut sends = Vec::new();
        for input in self.due_inputs(me, now) {
            sends.extend(self.step(now, me, input));
        }
        sends
    }

    /// A datagram arrives: forgeries due by now first (they were sent to
    /// overtake this very datagram), then it.
    pub fn receive(
        &mut self,
        me: Peer,
        now: Millis,
        from: Peer,
        bytes: Vec<u8>,
    ) -> Vec<(Millis, Peer, Vec<u8>)> {
        let mut sends = Vec::new();
        for input in self.due_injections(me, now) {
            sends.extend(self.step(now, me, input));
        }
        sends.extend(self.step(now, me, Input::Datagram { from, bytes }));
        sends
    }

    /// When the host next has something to do of its own: a wake-up, a
    /// forgery or a command (its held sends are the driver's).
    pub fn next_due(&self, me: Peer) -> Option<Millis> {
        let cmd = match me {
            Peer::Member(m) => self.commands.get(&m).and_then(|q| q.front()).map(|c| c.at),
            Peer::Agent(_) | Peer::Server(_) => None,
        };
        [self.wakes.get(&me).copied(), self.next_injection(me), cmd]
            .into_iter()
            .flatten()
            .min()
    }

    /// Commands and the wake-up that are due now, in that order.
    fn due_inputs(&mut self, me: Peer, now: Millis) -> Vec<Input> {
        let mut inputs = self.due_injections(me, now);
        if let Peer::Member(m) = me
            && let Some(q) = self.commands.get_mut(&m)
        {
            while q.front().is_some_and(|c| c.at <= now) {
                if let Some(c) = q.pop_front() {
                    inputs.push(Input::Command(c.command));
                }
            }
        }
        if self.wakes.get(&me).is_some_and(|t| *t <= now) {
            self.wakes.remove(&me);
            inputs.push(Input::Wake);
        }
        inputs
    }

    /// The application was down: what its user would have done meanwhile
    /// did not happen.
    fn drop_missed_commands(&mut self, me: Peer, now: Millis) {
        let Peer::Member(m) = me else { return };
        let mut missed = Vec::new();
        if let Some(q) = self.commands.get_mut(&m) {
            while q.front().is_some_and(|c| c.at < now) {
                if let Some(c) = q.pop_front() {
                    missed.push(c);
                }
            }
        }
        for c in missed {
            self.record(
                now,
                me,
                Event::Host(HostEvent::CommandSkipped {
                    command: c.command.describe(),
                    reason: "host was down".into(),
                }),
            );
        }
    }
}
