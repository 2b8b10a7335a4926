//! A saved trace ends with a seal: the number of lines before it and the
//! trace digest over them. `commsim check` judges a file on its own, so
//! without the seal a trace with lines deleted (every `delivery_acked`, say),
//! its expectations edited away, or a second run appended would be judged
//! as if `commsim run` had written it.
//!
//! The seal's digest is the trace digest `run` prints (SHA-256 of the JSON
//! Lines before the seal), so one value names the history everywhere. It is
//! a checksum, not a signature: it catches edits, cuts and joins, not
//! someone who recomputes it.

use super::log::{Trace, TraceError};
use super::record::Record;
use crate::trace::{Event, TRACE_FORMAT};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::BufRead;

/// The seal line's `kind`; record lines start with `{"t":`, never this.
const SEAL_START: &str = r#"{"kind":"trace_sealed","#;

#[derive(Serialize, Deserialize)]
struct Seal {
    kind: String,
    lines: usize,
    digest: String,
}

/// A trace read back whole and as written: `digest` is the one `run`
/// printed for it.
#[derive(Debug)]
pub struct Sealed {
    pub trace: Trace,
    pub digest: String,
}

impl Trace {
    /// The JSON Lines form followed by the seal.
    pub fn to_sealed_jsonl(&self) -> String {
        let mut text = self.to_jsonl();
        let seal = Seal {
            kind: "trace_sealed".into(),
            lines: self.records.len(),
            digest: hex::encode(Sha256::digest(text.as_bytes())),
        };
        // Serialising our own plain type cannot fail.
        text.push_str(&serde_json::to_string(&seal).unwrap_or_default());
        text.push('\n');
        text
    }

    /// Reads a sealed trace, refusing one that is not exactly what a run
    /// wrote: the error names the first line that shows it.
    pub fn read(path: &str, reader: impl BufRead) -> Result<Sealed, TraceError> {
        let bad = |line: usize, message: String| TraceError::Parse {
            path: path.to_owned(),
            line,
            message,
        };
        let mut trace = Trace::default();
        let mut hash = Sha256::new();
        let mut sealed: Option<(usize, String)> = None;
        let mut n = 0;
        for (i, line) in reader.lines().enumerate() {
            n = i + 1;
            let line = line.map_err(|source| TraceError::Io {
                path: path.to_owned(),
                source,
            })?;
            if let Some((at, _)) = &sealed {
                let why = format!(
                    "text after the seal on line {at}: two traces joined, or lines appended"
                );
                return Err(bad(n, why));
            }
            if line.starts_with(SEAL_START) {
                let seal: Seal = serde_json::from_str(&line).map_err(|e| bad(n, e.to_string()))?;
                let digest = hex::encode(hash.clone().finalize());
                verify(&seal, i, &digest).map_err(|why| bad(n, why))?;
                sealed = Some((n, digest));
                continue;
            }
            hash.update(line.as_bytes());
            hash.update(b"\n");
            if i == 0 {
                format(&line).map_err(|why| bad(n, why))?;
            }
            let record: Record = serde_json::from_str(&line).map_err(|e| bad(n, e.to_string()))?;
            header(&trace, &record).map_err(|why| bad(n, why))?;
            trace.push(record);
        }
        match sealed {
            Some((_, digest)) => Ok(Sealed { trace, digest }),
            None if n == 0 => Err(bad(1, "empty: not a commsim trace".into())),
            None => Err(bad(
                n,
                "the trace ends without its seal (a `trace_sealed` line): cut short, or not written by `commsim run --trace`".into(),
            )),
        }
    }
}

fn verify(seal: &Seal, lines: usize, digest: &str) -> Result<(), String> {
    if lines == 0 {
        return Err("a seal with no trace before it".into());
    }
    if seal.lines != lines {
        return Err(format!(
            "the seal counts {} lines before it but there are {lines}: lines were deleted or added",
            seal.lines
        ));
    }
    if seal.digest != digest {
        return Err(format!(
            "the {lines} lines before the seal do not give its digest: the trace was edited after `commsim run` wrote it"
        ));
    }
    Ok(())
}

/// The first line says which format the trace is in; one of another
/// format is refused by name, before its records are misread.
fn format(first: &str) -> Result<(), String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(first) else {
        return Ok(()); // not JSON: the record parser says why
    };
    if v.get("kind").and_then(|k| k.as_str()) != Some("run_started") {
        return Ok(()); // not a run's start: `header` says so
    }
    let found = v.get("format").and_then(|f| f.as_u64()).unwrap_or(1);
    if found == u64::from(TRACE_FORMAT) {
        return Ok(());
    }
    Err(format!(
        "trace format {found}, but this build reads format {TRACE_FORMAT}{}; run the scenario \
         again with this build to write its trace anew",
        if found < u64::from(TRACE_FORMAT) {
            " (format 1 described faults in words, format 2 wrote their fields its own way; \
             format 3 writes them as the scenario file does)"
        } else {
            " (the trace was written by a newer commsim)"
        }
    ))
}

/// One run per trace, announced on its first line: a second `run_started`
/// means two traces were joined, and judging them as one history would
/// mix two runs' events.
fn header(trace: &Trace, record: &Record) -> Result<(), String> {
    let is_start = matches!(record.event, Event::RunStarted { .. });
    match (trace.records.is_empty(), is_start) {
        (true, true) | (false, false) => Ok(()),
        (true, false) => Err(format!(
            "the first line is `{}`, not `run_started`: not a commsim trace",
            record.event.kind()
        )),
        (false, true) => Err(
            "a second `run_started` (the first is on line 1): two traces joined into one file"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::log::tests::sample;

    fn read(text: &str) -> Result<Sealed, String> {
        Trace::read("t.jsonl", text.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_sealed_trace_reads_back_with_the_run_digest() {
        let t = sample();
        let back = read(&t.to_sealed_jsonl()).unwrap();
        assert_eq!(back.trace.records, t.records);
        assert_eq!(back.digest, t.digest());
    }

    #[test]
    fn an_unsealed_or_cut_trace_is_refused() {
        let t = sample();
        let err = read(&t.to_jsonl()).unwrap_err();
        assert!(
            err.starts_with("t.jsonl:2: the trace ends without its seal"),
            "{err}"
        );
        assert!(read("").unwrap_err().contains("empty"));
    }

    #[test]
    fn a_deleted_line_is_caught_by_the_count() {
        let text = sample().to_sealed_jsonl();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(1);
        let err = read(&(lines.join("\n") + "\n")).unwrap_err();
        assert!(
            err.starts_with("t.jsonl:2: the seal counts 2 lines"),
            "{err}"
        );
    }

    #[test]
    fn an_edited_line_is_caught_by_the_digest() {
        let text = sample()
            .to_sealed_jsonl()
            .replace(r#""host":"m1""#, r#""host":"m2""#);
        let err = read(&text).unwrap_err();
        assert!(
            err.starts_with("t.jsonl:3: the 2 lines before the seal"),
            "{err}"
        );
    }

    #[test]
    fn joined_traces_are_refused_at_the_join() {
        let one = sample().to_sealed_jsonl();
        let err = read(&format!("{one}{one}")).unwrap_err();
        assert!(
            err.starts_with("t.jsonl:4: text after the seal on line 3"),
            "{err}"
        );
        // Without the first seal, the second header gives it away, even
        // when the whole is sealed again.
        let mut t = sample();
        t.records.extend(sample().records);
        let err = read(&t.to_sealed_jsonl()).unwrap_err();
        assert!(
            err.starts_with("t.jsonl:3: a second `run_started`"),
            "{err}"
        );
    }

    #[test]
    fn a_trace_must_start_with_its_header() {
        let mut t = sample();
        t.records.remove(0);
        let err = read(&t.to_sealed_jsonl()).unwrap_err();
        assert!(err.contains("not `run_started`"), "{err}");
    }

    #[test]
    fn a_trace_of_another_format_is_refused_by_name() {
        let this = format!(",\"format\":{TRACE_FORMAT}");
        let with = |format: &str| sample().to_sealed_jsonl().replace(&this, format);
        let read =
            |name: &str, text: String| Trace::read(name, text.as_bytes()).unwrap_err().to_string();
        let err = read("old.jsonl", with(""));
        assert!(
            err.contains("old.jsonl:1") && err.contains("trace format 1"),
            "{err}"
        );
        let err = read("two.jsonl", with(",\"format\":2"));
        assert!(
            err.contains("trace format 2") && err.contains("format 3 writes them"),
            "{err}"
        );
        let err = read("new.jsonl", with(",\"format\":9"));
        assert!(
            err.contains("trace format 9") && err.contains("newer"),
            "{err}"
        );
    }
}
