//! Parsing and validation of scenario files (stub; being written).

use super::model::Scenario;
use std::path::Path;

/// A scenario file that cannot be used, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}:{line}:{column}: {field}: {message}")]
pub struct ScenarioError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    /// Dotted path of the offending field, e.g. `faults[2].rate`.
    pub field: String,
    pub message: String,
}

pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.display().to_string(),
        line: 0,
        column: 0,
        field: String::new(),
        message: e.to_string(),
    })?;
    parse_str(&path.display().to_string(), &text)
}

pub fn parse_str(path: &str, _text: &str) -> Result<Scenario, ScenarioError> {
    Err(ScenarioError {
        path: path.to_owned(),
        line: 0,
        column: 0,
        field: String::new(),
        message: "not yet implemented".into(),
    })
}
