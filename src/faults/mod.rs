//! Faults: the schedule from the scenario turned into a timeline of
//! actions, and the per-datagram layer (loss, duplication, reordering,
//! latency) that turmoil does not model per message.

pub mod attack;
mod kind;
mod timeline;

pub use kind::{Cut, Fault, FaultKind, FaultType, Forgery, Harm, ServerFailure, StateOnRestart};

pub use timeline::{Action, Timeline};

use crate::core::ids::Millis;
use rand_chacha::ChaCha20Rng;
use rand_core::Rng;

/// A uniform draw in [0, 1).
pub fn unit(rng: &mut ChaCha20Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform draw in [0, max].
pub fn upto(rng: &mut ChaCha20Rng, max: Millis) -> Millis {
    if max == 0 {
        0
    } else {
        rng.next_u64() % (max + 1)
    }
}

/// The per-datagram faults in force right now. Several faults of one kind
/// may overlap; the layer applies the strongest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetFaults {
    pub loss: Vec<f64>,
    pub duplicate: Vec<f64>,
    pub reorder: Vec<(f64, Millis)>,
    pub latency: Vec<(Millis, Millis)>,
}

/// What happens to one datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fate {
    /// Delays of each copy sent; empty when the datagram is lost.
    pub copies: Vec<Millis>,
}

impl NetFaults {
    /// Draws the fate of one datagram. The number of draws is the same
    /// whatever the outcome, so one datagram's fate never shifts the
    /// random stream of the next by a different amount.
    pub fn fate(&self, rng: &mut ChaCha20Rng, base_latency: Millis, base_jitter: Millis) -> Fate {
        let lost = unit(rng) < self.loss.iter().copied().fold(0.0, f64::max);
        let dup = unit(rng) < self.duplicate.iter().copied().fold(0.0, f64::max);
        let (rate, extra) = self
            .reorder
            .iter()
            .copied()
            .fold((0.0_f64, 0), |a, b| (a.0.max(b.0), a.1.max(b.1)));
        let (lat, jit) = self
            .latency
            .iter()
            .fold((base_latency, base_jitter), |a, b| (a.0 + b.0, a.1 + b.1));
        let mut delay = || {
            let held = unit(rng) < rate;
            let hold = upto(rng, extra);
            lat + upto(rng, jit) + if held { hold } else { 0 }
        };
        let first = delay();
        let second = delay();
        let copies = match (lost, dup) {
            (true, _) => Vec::new(),
            (false, false) => vec![first],
            (false, true) => vec![first, second],
        };
        Fate { copies }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn loss_rate_is_roughly_honoured_and_seeded() {
        let faults = NetFaults {
            loss: vec![0.1],
            ..Default::default()
        };
        let count = |seed| {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            (0..10_000)
                .filter(|_| faults.fate(&mut rng, 10, 5).copies.is_empty())
                .count()
        };
        let lost = count(1);
        assert!((800..1200).contains(&lost), "{lost}");
        assert_eq!(lost, count(1));
    }

    #[test]
    fn duplicates_and_delays_stay_in_range() {
        let faults = NetFaults {
            duplicate: vec![1.0],
            reorder: vec![(1.0, 100)],
            ..Default::default()
        };
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for _ in 0..100 {
            let f = faults.fate(&mut rng, 10, 5);
            assert_eq!(f.copies.len(), 2);
            assert!(f.copies.iter().all(|d| (10..=115).contains(d)));
        }
    }
}
