//! The sans-IO protocol core.
//!
//! Every host is a state machine: `handle(now, input) -> effects`. Drivers
//! (the events engine and turmoil, in `sim`) own the sockets, the clock and
//! the timers, and carry out the effects. Nothing in this module imports
//! tokio or turmoil or reads a clock, so the same code runs under any driver
//! and under proptest; and nothing here imports a module above it (the
//! events hosts report are defined here, in `event`).

pub mod clock;
pub mod event;
pub mod ids;
pub mod io;
pub mod mailbox;
pub mod member;
pub mod mls;
pub mod server;
pub mod wire;

/// The UDP port every host listens on.
pub const PORT: u16 = 7000;
