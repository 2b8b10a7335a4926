//! The recorded history of a run: one ordered log of events, its JSON Lines
//! form, the digest that identifies the run, and the seal that lets a saved
//! trace be trusted.

mod check_id;
mod claim;
mod event;
pub mod latency;
mod log;
mod record;
mod seal;
#[cfg(test)]
pub(crate) mod testkit;

pub use crate::core::event::Event as HostEvent;
pub use check_id::CheckId;
pub use claim::{Claim, Status};

/// What a scenario claims of each checker, for one variant.
pub type Expect = std::collections::BTreeMap<CheckId, Claim>;
pub use event::{Bounds, Event, OpKind, Phase, PlannedOp, ServerBounds, TRACE_FORMAT};
pub use log::{Trace, TraceError};
pub use record::{Origin, Record};
pub use seal::Sealed;
