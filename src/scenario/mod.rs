//! Scenario files: the format, its parser and validator, and the checked
//! model the simulator runs.

mod load;
pub mod model;

pub use load::{ScenarioError, load_file, parse_str};
pub use model::*;
