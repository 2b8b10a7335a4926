//! The simulator: seeded entropy, the workload, and the turmoil driver that
//! runs the sans-IO core over a simulated network.

pub mod entropy;
mod host;
mod run;
pub mod setup;
pub mod workload;
pub mod world;

pub use run::{RunError, RunOutput, run};
