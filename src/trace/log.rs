use super::event::Record;
use sha2::{Digest, Sha256};
use std::io::BufRead;

/// The run's event log, in the order the simulation produced it.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    pub records: Vec<Record>,
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{path}:{line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl Trace {
    pub fn push(&mut self, record: Record) {
        self.records.push(record);
    }

    /// One JSON object per line. Field order is fixed by the types, so the
    /// same run always gives the same bytes.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for r in &self.records {
            // Serialising our own plain types cannot fail.
            out.push_str(&serde_json::to_string(r).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// SHA-256 of the JSON Lines form: equal digests mean equal histories.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.to_jsonl().as_bytes()))
    }

    pub fn read(path: &str, reader: impl BufRead) -> Result<Trace, TraceError> {
        let mut trace = Trace::default();
        for (i, line) in reader.lines().enumerate() {
            let line = line.map_err(|source| TraceError::Io {
                path: path.to_owned(),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let record = serde_json::from_str(&line).map_err(|e| TraceError::Parse {
                path: path.to_owned(),
                line: i + 1,
                message: e.to_string(),
            })?;
            trace.push(record);
        }
        Ok(trace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::{MemberId, MessageId};
    use crate::trace::Event;

    fn sample() -> Trace {
        let mut t = Trace::default();
        t.push(Record {
            t: 5,
            host: "m1".into(),
            event: Event::Delivered {
                msg: MessageId {
                    sender: MemberId(0),
                    seq: 3,
                },
            },
        });
        t
    }

    #[test]
    fn jsonl_round_trips_and_keeps_the_digest() {
        let t = sample();
        let text = t.to_jsonl();
        assert!(text.starts_with(r#"{"t":5,"host":"m1","kind":"delivered""#));
        let back = Trace::read("x", text.as_bytes()).unwrap();
        assert_eq!(back.records, t.records);
        assert_eq!(back.digest(), t.digest());
    }

    #[test]
    fn a_bad_line_names_the_line() {
        let text = format!("{}not json\n", sample().to_jsonl());
        let err = Trace::read("saved.jsonl", text.as_bytes()).unwrap_err();
        assert!(err.to_string().starts_with("saved.jsonl:2:"), "{err}");
    }
}
