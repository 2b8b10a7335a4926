//! commsim: a deterministic protocol simulator and test harness for the
//! Communicator group-messaging architecture.
//!
//! The crate is laid out the way a run flows:
//! - [`core`]: the sans-IO protocol state machines (members, receiving
//!   service agents). No sockets, clocks or global randomness.
//! - [`scenario`]: scenario files, parsed and validated.
//! - [`sim`]: the turmoil driver that runs the core over a simulated network,
//!   the workload generator and the seeded entropy.
//! - [`faults`]: the fault schedule and the per-datagram fault layer.
//! - [`trace`]: the recorded history and its digest.
//! - [`checkers`]: pure functions from a trace to verdicts with evidence.
//! - [`explore`]: claims over seed ranges: sweeps, generated fault plans,
//!   shrinking.
//! - [`cli`]: the `commsim` command.

pub mod checkers;
pub mod cli;
pub mod core;
pub mod explore;
pub mod faults;
pub mod scenario;
pub mod sim;
pub mod trace;
