//! The bound of every number a scenario file may give, and of the cost of
//! the run it describes; docs/scenario-format.md lists them all.
//!
//! They live in one place so that raising one is one edit (issue 9 raises
//! the member count). Bounds are what a run can afford, not what the
//! protocol needs, and generous beyond every shipped scenario.
//!
//! They also keep arithmetic sound: with every time and duration at most
//! [`MAX_TIME_MS`] (a day), the simulated clock, a skewed member's clock
//! and every timer the protocol sets stay below a few days in
//! milliseconds, and the largest product of scenario values (the takeover
//! stagger times a member's rank) below 10^11: nowhere near `u64::MAX`.

use crate::core::ids::Millis;

const HOUR_MS: Millis = 3_600_000;

/// Members per scenario. The events engine's cost grows with the messages
/// and their recipients, which `MAX_EVENTS` bounds; the turmoil driver
/// scans every link on every tick and refuses a run above
/// `MAX_HOST_PAIR_TICKS` before setup.
pub const MAX_MEMBERS: u32 = 5_000;

/// Receiving service agents (mailbox servers) per scenario.
pub const MAX_AGENTS: u32 = 1_000;

/// Candidate server agents of a coordinated group.
pub const MAX_SERVERS: u32 = 16;

/// Every time a scenario names (`at`, `until`, `start`, `stop`, an
/// exploration window) and every duration (periods, timers, bounds, the
/// magnitude of a clock offset): one day.
pub const MAX_TIME_MS: Millis = 24 * HOUR_MS;

/// The simulator's tick: coarser would make every timer fire late.
pub const MAX_TICK_MS: Millis = 100;

/// Network delays (`latency`, `jitter`, a fault's `extra` and `jitter`):
/// a minute is beyond any network a group runs over.
pub const MAX_DELAY_MS: Millis = 60_000;

/// Delivery attempts per mailbox.
pub const MAX_ATTEMPTS: u32 = 10_000;

/// Group messages per simulated second.
pub const MAX_MESSAGES_PER_S: f64 = 1_000.0;

/// `[[workload.ops]]` entries.
pub const MAX_OPS: usize = 10_000;

/// `[[faults]]` entries.
pub const MAX_FAULTS: usize = 1_000;

/// Seeds in a scenario's seed range.
pub const MAX_SEEDS: u64 = 1_000_000;

/// `[explore]`'s `max_faults` and `max_ops`.
pub const MAX_EXPLORE: u32 = 64;

/// The cost of one run, estimated before setup (see `cost.rs`): work done
/// per recipient of a message or per link a fault cuts.
pub const MAX_EVENTS: u64 = 5_000_000;

/// The cost of one run: pairs of hosts times simulated ticks, since the
/// turmoil driver scans every link on every tick (docs/performance.md
/// measures about 0.3 µs a pair and tick, so the limit is under an hour of
/// scanning). Checked when a run starts on turmoil, not at load: the
/// events engine has no per-tick cost.
pub const MAX_HOST_PAIR_TICKS: u64 = 10_000_000_000;

/// The cost of one run: simulated time, from 0 to the end of healing.
pub const MAX_SIMULATED_MS: Millis = MAX_TIME_MS;

/// A bound as messages write it: `24h (86400000 ms)`, or `100ms`, in the
/// units a scenario file would use.
pub fn show(ms: Millis) -> String {
    let unit = [(HOUR_MS, "h"), (60_000, "m"), (1_000, "s")]
        .into_iter()
        .find(|(n, _)| ms >= *n && ms.is_multiple_of(*n));
    match unit {
        Some((n, u)) => format!("{}{u} ({ms} ms)", ms / n),
        None => format!("{ms}ms"),
    }
}

/// Bytes of a group name or picture reference a `rename` op gives: a
/// name, not a payload; it travels in every group message after it.
pub const MAX_GROUP_NAME: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_read_as_durations() {
        assert_eq!(show(MAX_TIME_MS), "24h (86400000 ms)");
        assert_eq!(show(MAX_DELAY_MS), "1m (60000 ms)");
        assert_eq!(show(MAX_TICK_MS), "100ms");
        assert_eq!(show(1_500), "1500ms");
    }
}
