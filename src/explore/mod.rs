//! Exploration: verdicts as claims over many seeds. `sweep` runs scenarios
//! over their seed ranges in parallel and judges the claims; the outcome
//! of each run is the same object `run --json` prints.

mod combos;
mod draw;
pub mod emit;
pub mod generate;
pub mod guided;
mod mutate;
pub mod outcome;
pub mod reduce;
pub mod runner;
mod shape;
pub mod shrink;
pub mod sweep;
mod timing;
