//! The recorded history of a run: one ordered log of events, its JSON Lines
//! form, the digest that identifies the run, and the seal that lets a saved
//! trace be trusted.

pub mod latency;
mod log;
mod record;
mod seal;

pub use crate::core::event::{Claim, Event};
pub use log::{Trace, TraceError};
pub use record::{Origin, Record};
pub use seal::Sealed;
