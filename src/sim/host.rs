//! The thin tokio adapter that runs one state machine as a turmoil host:
//! a UDP socket, a timer, and the queue of delayed datagrams.

use super::world::World;
use crate::core::PORT;
use crate::core::ids::{Millis, Peer};
use crate::core::io::Input;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::Duration;
use turmoil::net::UdpSocket;

/// Largest datagram a host reads; fetch replies are paged to stay below.
const MAX_DATAGRAM: usize = 1 << 16;

fn now_ms() -> Millis {
    turmoil::elapsed().as_millis() as Millis
}

/// Datagrams waiting out their simulated latency, keyed by due time and a
/// counter so that equal due times keep send order.
#[derive(Default)]
struct Outgoing {
    queue: BTreeMap<(Millis, u64), (Peer, Vec<u8>)>,
    counter: u64,
}

impl Outgoing {
    fn push_all(&mut self, sends: Vec<(Millis, Peer, Vec<u8>)>) {
        for (due, to, bytes) in sends {
            self.counter += 1;
            self.queue.insert((due, self.counter), (to, bytes));
        }
    }

    fn next_due(&self) -> Option<Millis> {
        self.queue.keys().next().map(|(t, _)| *t)
    }

    async fn flush(&mut self, sock: &UdpSocket, now: Millis) {
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (to, bytes) = entry.remove();
            // A send to a host that is down or unknown is simply lost, as
            // on a real network.
            let _ = sock.send_to(&bytes, (to.to_string(), PORT)).await;
        }
    }
}

/// The host's software. turmoil calls this again on every restart; the
/// state machine itself lives in the world and survives unless the fault
/// replaced it.
pub async fn run_host(world: Rc<RefCell<World>>, me: Peer) -> turmoil::Result {
    let sock = UdpSocket::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT)).await?;
    let mut out = Outgoing::default();
    let start = world.borrow_mut().starts.remove(&me).unwrap_or_default();
    let now = now_ms();
    if start.restart {
        drop_missed_commands(&world, me, now);
    }
    world.borrow_mut().drop_injections_before(me, now);
    out.push_all(world.borrow_mut().step(
        now,
        me,
        Input::Start {
            restart: start.restart,
            volatile_lost: start.volatile_lost,
        },
    ));
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let now = now_ms();
        for input in due_inputs(&world, me, now) {
            let sends = world.borrow_mut().step(now, me, input);
            out.push_all(sends);
        }
        out.flush(&sock, now).await;
        let deadline = {
            let w = world.borrow();
            let wake = [w.wakes.get(&me).copied(), w.next_injection(me)]
                .into_iter()
                .flatten()
                .min();
            let cmd = match me {
                Peer::Member(m) => w.commands.get(&m).and_then(|q| q.front()).map(|c| c.at),
                Peer::Agent(_) | Peer::Server(_) => None,
            };
            [wake, cmd, out.next_due()].into_iter().flatten().min()
        };
        let sleep_for = deadline.map(|d| d.saturating_sub(now)).unwrap_or(60_000);
        tokio::select! {
            biased;
            received = sock.recv_from(&mut buf) => {
                let (n, addr) = received?;
                let from = turmoil::reverse_lookup(addr.ip()).and_then(|name| Peer::parse(&name));
                if let Some(from) = from {
                    let now = now_ms();
                    // Forgeries due by now arrived first: they were sent
                    // to overtake this very datagram.
                    let forged = world.borrow_mut().due_injections(me, now);
                    for input in forged {
                        let sends = world.borrow_mut().step(now, me, input);
                        out.push_all(sends);
                    }
                    let sends = world.borrow_mut().step(now, me, Input::Datagram { from, bytes: buf[..n].to_vec() });
                    out.push_all(sends);
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(sleep_for.max(1))) => {}
        }
    }
}

/// Commands and the wake-up that are due now, in that order.
fn due_inputs(world: &Rc<RefCell<World>>, me: Peer, now: Millis) -> Vec<Input> {
    let mut w = world.borrow_mut();
    let mut inputs = w.due_injections(me, now);
    if let Peer::Member(m) = me
        && let Some(q) = w.commands.get_mut(&m)
    {
        while q.front().is_some_and(|c| c.at <= now) {
            if let Some(c) = q.pop_front() {
                inputs.push(Input::Command(c.command));
            }
        }
    }
    if w.wakes.get(&me).is_some_and(|t| *t <= now) {
        w.wakes.remove(&me);
        inputs.push(Input::Wake);
    }
    inputs
}

/// The application was down: what its user would have done meanwhile did
/// not happen.
fn drop_missed_commands(world: &Rc<RefCell<World>>, me: Peer, now: Millis) {
    let Peer::Member(m) = me else { return };
    let mut w = world.borrow_mut();
    let mut missed = Vec::new();
    if let Some(q) = w.commands.get_mut(&m) {
        while q.front().is_some_and(|c| c.at < now) {
            if let Some(c) = q.pop_front() {
                missed.push(c);
            }
        }
    }
    for c in missed {
        w.record(
            now,
            &me.to_string(),
            crate::trace::Event::CommandSkipped {
                command: c.command.describe(),
                reason: "host was down".into(),
            },
        );
    }
}
