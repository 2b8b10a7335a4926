//! The recorded history of a run: one ordered log of events, its JSON Lines
//! form, and the digest that identifies the run.

pub mod claim;
pub mod event;
mod log;

pub use claim::Claim;
pub use event::{Event, Record};
pub use log::{Trace, TraceError};
