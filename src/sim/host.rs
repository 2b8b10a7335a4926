//! The thin tokio adapter that runs one state machine as a turmoil host:
//! a UDP socket, a timer, and the queue of delayed datagrams. What the
//! host does when it runs is engine-neutral (`activation.rs`).

use super::activation::Outgoing;
use super::world::World;
use crate::core::PORT;
use crate::core::ids::{Millis, Peer};
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::Duration;
use turmoil::net::UdpSocket;

/// Largest datagram a host reads; fetch replies are paged to stay below.
const MAX_DATAGRAM: usize = 1 << 16;

fn now_ms() -> Millis {
    turmoil::elapsed().as_millis() as Millis
}

async fn flush(out: &mut Outgoing, sock: &UdpSocket, now: Millis) {
    for (to, bytes) in out.take_due(now) {
        // A send to a host that is down or unknown is simply lost, as on
        // a real network.
        let _ = sock.send_to(&bytes, (to.to_string(), PORT)).await;
    }
}

/// The host's software. turmoil calls this again on every restart; the
/// state machine itself lives in the world and survives unless the fault
/// replaced it.
pub async fn run_host(world: Rc<RefCell<World>>, me: Peer) -> turmoil::Result {
    let sock = UdpSocket::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT)).await?;
    let mut out = Outgoing::default();
    out.push_all(world.borrow_mut().start_host(me, now_ms()));
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let now = now_ms();
        out.push_all(world.borrow_mut().run_due(me, now));
        flush(&mut out, &sock, now).await;
        let deadline = [world.borrow().next_due(me), out.next_due()]
            .into_iter()
            .flatten()
            .min();
        let sleep_for = deadline.map(|d| d.saturating_sub(now)).unwrap_or(60_000);
        tokio::select! {
            biased;
            received = sock.recv_from(&mut buf) => {
                let (n, addr) = received?;
                let from = turmoil::reverse_lookup(addr.ip()).and_then(|name| Peer::parse(&name));
                if let Some(from) = from {
                    let sends = world.borrow_mut().receive(me, now_ms(), from, buf[..n].to_vec());
                    out.push_all(sends);
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(sleep_for.max(1))) => {}
        }
    }
}
