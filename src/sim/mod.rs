//! The simulator: setup and the workload, the world every
//! host's state machine lives in, the fault-plan executor, and two engines
//! that drive it: `events` (a discrete-event queue, the fast one) and
//! `turmoil` (every host a tokio task with a real UDP socket).

mod activation;
mod events;
mod fault_plan;
mod host;
mod run;
pub mod setup;
pub mod workload;
pub mod world;

/// The member and audit tests: members driven through a world on an
/// instant network, where the core's unit tests cannot reach.
#[cfg(test)]
pub(crate) mod testnet;
#[cfg(test)]
mod tests {
    mod audit;
    mod member;
}

pub use run::{RunOutput, run, run_on};

/// A run the simulator could not carry out (not a protocol failure: those
/// are verdicts).
#[derive(Debug, thiserror::Error)]
#[error("the simulation failed: {0}")]
pub struct RunError(String);

/// Which engine drives a run. Both run the same state machines, setup,
/// workload and fault plan; they differ in how time passes (turmoil rounds
/// it to ticks) and so in their digests, never in what a scenario claims.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// A priority queue of timed events; jumps from one to the next. The
    /// default: it is the fast one.
    #[default]
    Events,
    /// turmoil: polls every host every tick, through real tokio sockets.
    Turmoil,
}

impl Engine {
    pub const ALL: [Engine; 2] = [Engine::Events, Engine::Turmoil];

    pub fn name(self) -> &'static str {
        match self {
            Engine::Events => "events",
            Engine::Turmoil => "turmoil",
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Engine {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Engine::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| format!("unknown engine `{s}` (expected events or turmoil)"))
    }
}
