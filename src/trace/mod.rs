//! The recorded history of a run: one ordered log of events, its JSON Lines
//! form, the digest that identifies the run, and the seal that lets a saved
//! trace be trusted.

pub mod claim;
pub mod event;
mod log;
mod seal;

pub use claim::Claim;
pub use event::{Event, Record};
pub use log::{Trace, TraceError};
pub use seal::Sealed;
