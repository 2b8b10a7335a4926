//! Scenario files: the format, its parser and validator, and the checked
//! model the simulator runs.

mod cost;
mod cx;
mod duration;
mod error;
mod explore;
mod faults;
mod hosts;
pub mod limits;
mod load;
mod locate;
pub mod model;
mod params;
mod reshape;
mod seeds;
mod workload;

pub use cost::Cost;
pub use error::ScenarioError;
pub use explore::OP_KINDS;
pub use load::{load_file, parse_str};
pub use model::*;
pub use reshape::{Load, Reshape, reshape};
pub use seeds::SeedRange;
