//! Standard output that outlives its reader.
//!
//! `commsim run … | head -1` closes the pipe early. Rust ignores SIGPIPE,
//! so the next write fails with EPIPE; ending the process there would turn
//! a FAIL into exit 0 and hide it from CI. Instead output stops and the
//! command finishes, so its exit code is still the verdict's.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static READER_GONE: AtomicBool = AtomicBool::new(false);
/// Set when stdout carries data (a trace, `--trace -`): lines meant for a
/// person then go to stderr.
static LINES_TO_STDERR: AtomicBool = AtomicBool::new(false);

/// Writes one line to stdout (or stderr, once stdout carries data),
/// unless the reader has left.
pub fn line(args: std::fmt::Arguments) {
    if LINES_TO_STDERR.load(Ordering::Relaxed) {
        eprintln!("{args}");
        return;
    }
    data(format!("{args}\n").as_bytes());
}

/// From now on stdout carries data only.
pub fn lines_to_stderr() {
    LINES_TO_STDERR.store(true, Ordering::Relaxed);
}

/// Writes bytes to stdout as they are, unless the reader has left.
pub fn data(bytes: &[u8]) {
    if READER_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush())
        && e.kind() == ErrorKind::BrokenPipe
    {
        READER_GONE.store(true, Ordering::Relaxed);
    }
}
