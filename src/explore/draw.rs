//! Seeded draws the plan generator and the guided loop's mutations share:
//! numbers in a range, an item of a list, the hosts of a scenario a fault
//! may name.

use crate::core::ids::{Host, MemberId, Millis, Peer, ServerId};
use crate::scenario::{Scenario, Topology};
use rand_chacha::ChaCha20Rng;
use rand_core::Rng;

pub fn below(rng: &mut ChaCha20Rng, n: u64) -> u64 {
    if n == 0 { 0 } else { rng.next_u64() % n }
}

/// A uniform draw in [lo, hi] (just `lo` when `hi < lo`).
pub fn between(rng: &mut ChaCha20Rng, lo: Millis, hi: Millis) -> Millis {
    lo + below(rng, hi.saturating_sub(lo) + 1)
}

pub fn unit(rng: &mut ChaCha20Rng) -> f64 {
    crate::faults::unit(rng)
}

/// A fair coin.
pub fn coin(rng: &mut ChaCha20Rng) -> bool {
    rng.next_u32() & 1 == 1
}

pub fn pick<T: Clone>(rng: &mut ChaCha20Rng, items: &[T]) -> Option<T> {
    (!items.is_empty()).then(|| items[below(rng, items.len() as u64) as usize].clone())
}

/// Whether the topology has this host.
pub fn exists(t: &Topology, h: Peer) -> bool {
    match h {
        Peer::Member(m) => m.0 < t.members,
        Peer::Agent(a) => a.0 < t.agents,
        Peer::Server(c) => c.0 < t.servers,
    }
}

/// Hosts faults may name: `[explore] hosts` if given (those the drawn
/// topology still has), else every host.
pub fn hosts(s: &Scenario) -> Vec<Peer> {
    let t = &s.topology;
    if let Some(h) = &s.explore.hosts {
        return h.iter().copied().filter(|h| exists(t, *h)).collect();
    }
    (t.member_ids().map(Peer::Member))
        .chain(t.agent_ids().map(Peer::Agent))
        .chain(t.server_ids().map(Peer::Server))
        .collect()
}

pub fn members_of(hosts: &[Peer]) -> Vec<MemberId> {
    hosts
        .iter()
        .copied()
        .filter_map(MemberId::from_peer)
        .collect()
}

pub fn servers_of(hosts: &[Peer]) -> Vec<ServerId> {
    hosts
        .iter()
        .copied()
        .filter_map(ServerId::from_peer)
        .collect()
}

/// `items` split in two at random; `None` when a side came out empty.
pub fn split<T: Copy>(rng: &mut ChaCha20Rng, items: &[T]) -> Option<(Vec<T>, Vec<T>)> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for h in items {
        if coin(rng) { a.push(*h) } else { b.push(*h) }
    }
    (!a.is_empty() && !b.is_empty()).then_some((a, b))
}
