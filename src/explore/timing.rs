//! Where a drawn op lands when `[explore] races = true`. Placed uniformly,
//! two ops almost never fall within the milliseconds a race needs (two
//! commits on one epoch, the race a fork exploits), and an add almost
//! never lands just before a takeover. So a third of the ops race another
//! op, a third land at an edge (a fault's start or end, or a timer
//! running out after a server failure), and a third stay where drawn.

use super::draw::{below, between, pick};
use crate::core::ids::{MemberId, Millis};
use crate::scenario::{Action, Scenario, ScheduledOp};
use rand_chacha::ChaCha20Rng;

/// How far from another op a racing op lands.
pub const RACE_MS: Millis = 50;

/// How far either side of an edge an op lands.
const EDGE_MS: Millis = 300;

/// Moves `op` to a race or an edge (or leaves it), inside the window.
pub fn aim(rng: &mut ChaCha20Rng, op: &mut ScheduledOp, s: &Scenario) {
    let (lo, hi) = s.explore.window;
    match below(rng, 3) {
        0 => {}
        1 => {
            let Some(other) = pick(rng, &s.workload.ops) else {
                return;
            };
            op.at_ms = other.at_ms + between(rng, 0, RACE_MS);
            // A race is between two members: the other op's member cannot
            // be this one's, and neither can this one's target.
            let target = match op.action {
                Action::Membership(_, t) => Some(t),
                _ => None,
            };
            let racers: Vec<MemberId> = (s.topology.member_ids())
                .filter(|m| *m != other.by && Some(*m) != target)
                .collect();
            if let Some(by) = pick(rng, &racers) {
                op.by = by;
            }
        }
        _ => {
            let Some(edge) = pick(rng, &edges(s)) else {
                return;
            };
            op.at_ms = (edge + between(rng, 0, 2 * EDGE_MS)).saturating_sub(EDGE_MS);
        }
    }
    op.at_ms = op.at_ms.clamp(lo, hi);
}

/// The instants something changes: every fault's start and end, and after
/// a server agent fails, when members stop waiting for it
/// (`ack_timeout`), when they take over (`takeover_after`), and both.
pub fn edges(s: &Scenario) -> Vec<Millis> {
    let p = &s.protocol;
    let mut out = Vec::new();
    for f in &s.faults {
        out.push(f.at_ms);
        out.extend(f.until_ms);
        if f.kind.server_failure().is_some() {
            out.push(f.at_ms + p.ack_timeout_ms);
            out.push(f.at_ms + p.takeover_after_ms);
            out.push(f.at_ms + p.ack_timeout_ms + p.takeover_after_ms);
        }
    }
    out
}
