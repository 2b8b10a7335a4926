//! Standard output that outlives its reader.
//!
//! `commsim run … | head -1` closes the pipe early. Rust ignores SIGPIPE,
//! so the next write fails with EPIPE; ending the process there would turn
//! a FAIL into exit 0 and hide it from CI. Instead output stops and the
//! command finishes, so its exit code is still the verdict's.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static READER_GONE: AtomicBool = AtomicBool::new(false);

/// Writes one line to stdout, unless the reader has left.
pub fn line(args: std::fmt::Arguments) {
    if READER_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{args}")
        && e.kind() == ErrorKind::BrokenPipe
    {
        READER_GONE.store(true, Ordering::Relaxed);
    }
}
