//! What the end-to-end tests share: running the built `commsim` binary.

use std::process::{Command, Output};

/// Runs `commsim` with `args` from the project root.
pub fn commsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_commsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("commsim runs")
}
