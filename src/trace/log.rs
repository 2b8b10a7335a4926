use super::record::Record;
use sha2::{Digest, Sha256};

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
        let mut out = Vec::new();
        self.write_jsonl(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Writes the JSON Lines form line by line, so that the digest of a
    /// thousand-member run's trace never holds it whole.
    fn write_jsonl(&self, mut out: impl std::io::Write) {
        for r in &self.records {
            // Serialising our own plain types into a hasher or a vector
            // cannot fail.
            let _ = serde_json::to_writer(&mut out, r);
            let _ = out.write_all(b"\n");
        }
    }

    /// SHA-256 of the JSON Lines form: equal digests mean equal histories.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        self.write_jsonl(Hashing(&mut hasher));
        hex::encode(hasher.finalize())
    }
}

/// Feeds what is written to a hasher (sha2 0.11 has no `io::Write`).
struct Hashing<'a>(&'a mut Sha256);

impl std::io::Write for Hashing<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::ids::{MemberId, MessageId};
    use crate::core::member::membership::Variant;
    use crate::trace::Bounds;
    use crate::trace::Event;
    use crate::trace::HostEvent;

    /// A run's header and one delivery.
    pub(crate) fn sample() -> Trace {
        let mut t = Trace::default();
        t.push(Record {
            t: 0,
            host: crate::trace::Origin::Sim,
            event: Event::RunStarted {
                scenario: "sample".into(),
                seed: 1,
                variant: Variant::Lww,
                members: vec![MemberId(0), MemberId(1)],
                agents: vec![],
                founders: vec![MemberId(0), MemberId(1)],
                mailboxes: Vec::new(),
                format: crate::trace::TRACE_FORMAT,
                bounds: Bounds {
                    heal_at: 0,
                    convergence_ms: 1,
                    detection_ms: 1,
                    recovery_ms: None,
                    servers: None,
                },
                expect: Default::default(),
                ops: Vec::new(),
            },
        });
        t.push(Record {
            t: 5,
            host: MemberId(1).into(),
            event: Event::Host(HostEvent::Delivered {
                msg: MessageId {
                    sender: MemberId(0),
                    seq: 3,
                },
            }),
        });
        t
    }

    #[test]
    fn jsonl_is_one_fixed_line_per_record() {
        let t = sample();
        let text = t.to_jsonl();
        let second = text.lines().nth(1).unwrap();
        assert!(second.starts_with(r#"{"t":5,"host":"m1","kind":"delivered""#));
        let back = Trace::read("x", t.to_sealed_jsonl().as_bytes()).unwrap();
        assert_eq!(back.trace.records, t.records);
        assert_eq!(back.trace.digest(), t.digest());
    }

    #[test]
    fn a_bad_line_names_the_line() {
        let text = sample().to_sealed_jsonl().replacen("\n", "\nnot json\n", 1);
        let err = Trace::read("saved.jsonl", text.as_bytes()).unwrap_err();
        assert!(err.to_string().starts_with("saved.jsonl:2:"), "{err}");
    }
}
