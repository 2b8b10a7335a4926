//! The recorded history of a run: one ordered log of events, its JSON Lines
//! form, and the digest that identifies the run.

pub mod event;
mod log;

pub use event::{Event, Record};
pub use log::{Trace, TraceError};
