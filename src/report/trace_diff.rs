//! Where two traces of one scenario and seed part: the first record that
//! differs, with what led up to it, so that a changed digest can be read
//! as a changed event rather than a changed hash.

use crate::trace::{Record, Trace};
use std::fmt::Write;

/// Records shown before the first difference.
const CONTEXT: usize = 3;

/// The first index at which the traces differ, or `None` when they are
/// equal (a trace that is a prefix of the other differs where it ends).
pub fn first_difference(before: &Trace, after: &Trace) -> Option<usize> {
    let (b, a) = (&before.records, &after.records);
    (0..b.len().max(a.len())).find(|i| b.get(*i) != a.get(*i))
}

/// The comparison of two traces, as Markdown.
pub fn markdown(labels: (&str, &str), before: &Trace, after: &Trace) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "# commsim compare: two traces\n");
    let _ = writeln!(
        t,
        "- before: `{}`, {} records, digest {}",
        labels.0,
        before.records.len(),
        before.digest()
    );
    let _ = writeln!(
        t,
        "- after: `{}`, {} records, digest {}\n",
        labels.1,
        after.records.len(),
        after.digest()
    );
    let Some(i) = first_difference(before, after) else {
        let _ = writeln!(t, "The traces are identical.");
        return t;
    };
    let _ = writeln!(t, "They part at record {} (line {}).\n", i, i + 1);
    let line = |r: Option<&Record>| {
        r.map_or("(the trace has ended)".to_owned(), |r| {
            serde_json::to_string(r).unwrap_or_default()
        })
    };
    let _ = writeln!(t, "Shared before it:\n\n```");
    for r in &before.records[i.saturating_sub(CONTEXT)..i] {
        let _ = writeln!(t, "{}", line(Some(r)));
    }
    let _ = writeln!(
        t,
        "```\n\nbefore:\n\n```\n{}\n```\n",
        line(before.records.get(i))
    );
    let _ = writeln!(t, "after:\n\n```\n{}\n```", line(after.records.get(i)));
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::{MemberId, MessageId};
    use crate::trace::HostEvent;
    use crate::trace::{Event, Origin};

    fn trace(seqs: &[u32]) -> Trace {
        let mut t = Trace::default();
        for (i, seq) in seqs.iter().enumerate() {
            t.push(Record {
                t: i as u64,
                host: Origin::from(MemberId(0)),
                event: Event::Host(HostEvent::Delivered {
                    msg: MessageId {
                        sender: MemberId(1),
                        seq: *seq,
                    },
                }),
            });
        }
        t
    }

    #[test]
    fn the_first_differing_record_is_found_and_shown() {
        let (b, a) = (trace(&[1, 2, 3, 4]), trace(&[1, 2, 9, 4]));
        assert_eq!(first_difference(&b, &a), Some(2));
        let md = markdown(("b", "a"), &b, &a);
        assert!(md.contains("record 2 (line 3)"), "{md}");
        assert!(md.contains("\"seq\":9"), "{md}");
        assert_eq!(first_difference(&b, &b), None);
        assert!(markdown(("b", "b"), &b, &b).contains("identical"));
    }

    #[test]
    fn a_trace_that_stops_early_differs_where_it_ends() {
        let (b, a) = (trace(&[1, 2, 3]), trace(&[1, 2]));
        assert_eq!(first_difference(&b, &a), Some(2));
        assert!(markdown(("b", "a"), &b, &a).contains("(the trace has ended)"));
    }
}
