//! Server blindness: no mailbox or server agent ever receives plaintext.
//!
//! Every generated message body starts with a marker; every datagram sent
//! to a receiving service agent or a server agent is searched for it. Only
//! a live run has the datagrams: on a saved trace the answer is Unknown.

use super::Figure;
use super::{Evidence, Status, Verdict, measured};
use crate::core::ids::{Millis, Peer};
use crate::trace::CheckId;

pub const NAME: CheckId = CheckId::ServerBlindness;

/// `scanned` datagrams reached agents; `hits` are those that carried a
/// plaintext marker, with when, from and to.
pub fn check(scanned: Option<u64>, hits: &[(Millis, Peer, Peer)]) -> Verdict {
    let Some(scanned) = scanned else {
        return Verdict::bare(
            NAME,
            Status::Unknown,
            "needs the run's datagrams, which a trace does not hold: re-run the scenario",
        );
    };
    let m = measured([
        (Figure::DatagramsScanned, scanned),
        (Figure::WithPlaintext, hits.len() as u64),
    ]);
    if hits.is_empty() {
        return Verdict::new(
            NAME,
            Status::Pass,
            format!("none of the {scanned} datagrams sent to agents carried plaintext"),
            vec![],
            m,
        );
    }
    let evidence = hits
        .iter()
        .map(|(t, from, to)| {
            Evidence::note(format!("{from} sent plaintext to {to} at {t} ms")).at(*t)
        })
        .collect();
    Verdict::new(
        NAME,
        Status::Fail,
        format!("{} datagrams sent to agents carried plaintext", hits.len()),
        evidence,
        m,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::{AgentId, MemberId};

    #[test]
    fn passes_on_ciphertext_fails_on_a_marker_and_cannot_judge_a_trace() {
        assert_eq!(check(Some(10), &[]).status, Status::Pass);
        let hit = [(5, Peer::Member(MemberId(1)), Peer::Agent(AgentId(0)))];
        let v = check(Some(10), &hit);
        assert_eq!(v.status, Status::Fail);
        assert!(
            v.evidence[0].note.contains("m1 sent plaintext to s0"),
            "{v:#?}"
        );
        assert_eq!(check(None, &[]).status, Status::Unknown);
    }
}
