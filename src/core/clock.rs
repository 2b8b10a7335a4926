//! Hybrid logical clock (Kulkarni et al., 2014).
//!
//! Membership decisions compare timestamps. Wall clocks alone let a member
//! whose clock runs ahead win every conflict, even against changes made
//! *after* it causally; clock skew is one of the faults we inject. An HLC
//! stays close to physical time but never goes backwards and always moves
//! past any timestamp it has seen, so a change that causally follows another
//! always carries the larger stamp, whatever the clocks say.

use super::ids::{MemberId, Millis};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A totally ordered timestamp: physical part, logical counter, then the
/// issuing member as the final tie-break so that two members never produce
/// equal stamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Hlc {
    pub wall: Millis,
    pub logical: u32,
    pub node: MemberId,
}

impl Hlc {
    /// The stamp a coordinated group's roster at `epoch` stands for when
    /// it becomes a lightweight set: the same at every member that leaves
    /// the same epoch, so that their sets merge as one, and below every
    /// stamp a member's clock gives once it has ticked.
    pub fn founding(epoch: u64) -> Hlc {
        Hlc {
            wall: 0,
            logical: u32::try_from(epoch).unwrap_or(u32::MAX),
            node: MemberId(0),
        }
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}@{}", self.wall, self.logical, self.node)
    }
}

/// The clock of one member. `local` readings come from the driver and may be
/// skewed; that is the point.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HlcClock {
    last: Hlc,
}

impl HlcClock {
    pub fn new(node: MemberId) -> Self {
        HlcClock {
            last: Hlc {
                wall: 0,
                logical: 0,
                node,
            },
        }
    }

    /// A fresh stamp for a local event.
    pub fn tick(&mut self, local: Millis) -> Hlc {
        if local > self.last.wall {
            self.last.wall = local;
            self.last.logical = 0;
        } else {
            self.last.logical = self.last.logical.saturating_add(1);
        }
        self.last
    }

    /// Moves the clock past a stamp received from another member.
    pub fn observe(&mut self, local: Millis, remote: Hlc) {
        let wall = local.max(self.last.wall).max(remote.wall);
        let logical = if wall == self.last.wall && wall == remote.wall {
            self.last.logical.max(remote.logical).saturating_add(1)
        } else if wall == self.last.wall {
            self.last.logical.saturating_add(1)
        } else if wall == remote.wall {
            remote.logical.saturating_add(1)
        } else {
            0
        };
        self.last.wall = wall;
        self.last.logical = logical;
    }

    pub fn last(&self) -> Hlc {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ticks_are_strictly_increasing_even_if_the_local_clock_goes_back() {
        let mut c = HlcClock::new(MemberId(1));
        let a = c.tick(100);
        let b = c.tick(50);
        let d = c.tick(100);
        assert!(a < b && b < d);
    }

    #[test]
    fn founding_stamps_order_by_epoch_and_precede_any_tick() {
        assert!(Hlc::founding(1) < Hlc::founding(2));
        let mut c = HlcClock::new(MemberId(0));
        assert!(Hlc::founding(u64::MAX) < c.tick(1));
    }

    proptest! {
        /// The property membership relies on: whatever the two clocks read,
        /// an event after receiving a stamp is ordered after that stamp.
        #[test]
        fn causally_later_stamps_are_larger(
            skew_a in 0u64..100_000, skew_b in 0u64..100_000, t in 0u64..1_000_000,
        ) {
            let mut a = HlcClock::new(MemberId(1));
            let mut b = HlcClock::new(MemberId(2));
            let sent = a.tick(t + skew_a);
            b.observe(t + skew_b, sent);
            let reply = b.tick(t + skew_b);
            prop_assert!(reply > sent);
        }
    }
}
