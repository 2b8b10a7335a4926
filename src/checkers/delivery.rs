//! Delivery: once a mailbox has acknowledged a message for a recipient, the
//! recipient must show it, exactly once, and never before what it follows.
//!
//! The acknowledgement is the line: before it the sender may still lose the
//! message to faults and nobody promised anything; after it the system has
//! taken responsibility. Recipients that crashed with their state or are down
//! at the end cannot be held to it, so their gaps are counted, not failed.

use super::history::History;
use super::{Evidence, Status, Verdict, measured};
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: &str = "delivery";

pub fn check(h: &History) -> Verdict {
    let messages: Vec<_> = h.sent.iter().filter(|(_, s)| !s.what.control).collect();
    if messages.is_empty() {
        return Verdict::new(
            NAME,
            Status::Unknown,
            format!(
                "no group message was sent ({} control messages): nothing to deliver",
                h.sent.len()
            ),
            vec![],
            measured([("messages", 0)]),
        );
    }
    let acked = h.acked_pairs();
    let first = h.first_deliveries();

    let (mut lost, mut duplicates, mut causal, mut info) = (vec![], vec![], vec![], vec![]);
    let (mut pairs, mut acked_pairs, mut delivered_pairs, mut acked_unreachable) = (0, 0, 0, 0);
    for &(&msg, s) in &messages {
        for &r in s.what.recipients.iter().filter(|r| **r != msg.sender) {
            pairs += 1;
            let delivered = first.contains_key(&(r, msg));
            delivered_pairs += u64::from(delivered);
            let Some(&t) = acked.get(&(msg, r)) else {
                continue;
            };
            acked_pairs += 1;
            if delivered {
                continue;
            }
            let e = Evidence::note("")
                .members([r, msg.sender])
                .messages([msg])
                .at(t);
            if h.reachable(r) {
                lost.push(Evidence {
                    note: format!(
                        "{msg} was acknowledged for {r} at {t} ms but never delivered there"
                    ),
                    ..e
                });
            } else {
                acked_unreachable += 1;
                info.push(Evidence {
                    note: format!(
                        "{msg} was acknowledged for {r} at {t} ms and not delivered, \
                         but {r} is unreachable at the end"
                    ),
                    ..e
                });
            }
        }
    }

    let mut unknown_parents = 0u64;
    for (&host, ds) in &h.deliveries {
        let mut seen = BTreeSet::new();
        for d in ds {
            let msg = d.what;
            if !seen.insert(msg) {
                duplicates.push(
                    Evidence::note(format!("{host} delivered {msg} again at {} ms", d.t))
                        .members([host])
                        .messages([msg])
                        .at(d.t),
                );
                continue;
            }
            let Some(s) = h.sent.get(&msg) else { continue };
            for &p in s.what.parents.iter().filter(|p| **p != msg) {
                let before = |i: &(usize, u64)| i.0 < d.idx;
                let got = first.get(&(host, p));
                let ok = match h.sent.get(&p) {
                    // A member's own messages are delivered to it when sent.
                    Some(ps) if p.sender == host => ps.idx < d.idx || got.is_some_and(before),
                    None if p.sender == host && got.is_some_and(before) => true,
                    None => {
                        unknown_parents += 1;
                        continue;
                    }
                    Some(ps) if !ps.what.recipients.contains(&host) => continue,
                    // Control messages may never be shown to the application,
                    // so only one shown too late counts against the order.
                    Some(ps) if ps.what.control && got.is_none() => continue,
                    Some(_) => got.is_some_and(before),
                };
                if !ok {
                    let when = got.map_or("never".to_owned(), |g| format!("at {} ms", g.1));
                    causal.push(
                        Evidence::note(format!(
                            "{host} delivered {msg} at {} ms before its parent {p} \
                             (delivered {when})",
                            d.t
                        ))
                        .members([host, msg.sender])
                        .messages([msg, p])
                        .at(d.t),
                    );
                }
            }
        }
    }

    for pm in &h.parent_missing {
        let (msg, missing) = &pm.what;
        info.push(
            Evidence::note(format!(
                "{} held back {msg} at {} ms waiting for {} parent(s)",
                pm.host,
                pm.t,
                missing.len()
            ))
            .members([pm.host])
            .messages(std::iter::once(*msg).chain(missing.iter().copied()))
            .at(pm.t),
        );
    }

    let counts: BTreeMap<&str, u64> = BTreeMap::from([
        ("lost", lost.len() as u64),
        ("duplicates", duplicates.len() as u64),
        ("causal_violations", causal.len() as u64),
    ]);
    let measured = measured([
        ("messages", messages.len() as u64),
        ("control_messages", (h.sent.len() - messages.len()) as u64),
        ("pairs", pairs),
        ("acknowledged_pairs", acked_pairs),
        ("unacknowledged_pairs", pairs - acked_pairs),
        ("delivered_pairs", delivered_pairs),
        ("lost", counts["lost"]),
        ("acknowledged_to_unreachable", acked_unreachable),
        ("duplicates", counts["duplicates"]),
        ("causal_violations", counts["causal_violations"]),
        ("parent_missing", h.parent_missing.len() as u64),
        ("unknown_parents", unknown_parents),
    ]);
    let problems: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {}", k.replace('_', " ")))
        .collect();
    let (status, summary) = if !problems.is_empty() {
        (Status::Fail, problems.join(", "))
    } else if h.running.is_none() {
        let s = "trace has no run_ended: cannot tell whether acknowledged messages were lost";
        (Status::Unknown, s.to_owned())
    } else {
        let s = format!(
            "all {} acknowledged deliveries to reachable members arrived once, \
             in causal order ({} messages, {acked_unreachable} acknowledged to unreachable \
             members)",
            acked_pairs - acked_unreachable,
            messages.len()
        );
        (Status::Pass, s)
    };
    let evidence = [lost, duplicates, causal, info].concat();
    Verdict::new(NAME, status, summary, evidence, measured)
}

#[cfg(test)]
#[path = "tests/delivery.rs"]
mod tests;
