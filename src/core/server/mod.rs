//! Server agents of coordinated groups (in progress: see
//! `docs/coordinated.md`): the sequencer is the ordering core, `agent` the
//! host role around it. Members do not use them yet.

mod agent;
pub mod dishonest;
pub mod sequencer;

pub use agent::{ServerAgent, ServerConfig, ServerStats};

#[cfg(test)]
mod tests;
