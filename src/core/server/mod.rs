//! Server agents of coordinated groups (in progress: see
//! `docs/coordinated.md`). The sequencer is the ordering core; the host
//! role around it comes next.

pub mod sequencer;
