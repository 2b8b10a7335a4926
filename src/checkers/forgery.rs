//! Forgeries rejected: no member accepted what it should have refused.
//!
//! The attacker fault forges receipts, writes as a stranger, replays and
//! corrupts (see `faults/attack.rs`). Losing nothing genuine to it is the
//! delivery checker's part; this one asks whether a forgery got through:
//!
//! - every acknowledgement a member took for its own submission names a
//!   slot its server agent recorded ordering that member's message in, or
//!   lying about. An acknowledgement anywhere else rests on a receipt the
//!   server never signed. This holds with or without an attack, so it is
//!   judged on every coordinated run.
//! - no member delivered a message the attacker made up.

use super::Figure;
use super::history::History;
use super::{Evidence, Status, Verdict, list, measured};
use crate::trace::CheckId;
use std::collections::BTreeSet;

pub const NAME: CheckId = CheckId::ForgeriesRejected;

pub fn check(h: &History) -> Verdict {
    if h.run.start.is_none() {
        return Verdict::bare(NAME, Status::Unknown, "trace has no run_started");
    }
    let lied: BTreeSet<_> = h
        .faults
        .lies
        .iter()
        .map(|l| (l.server, l.generation, l.seq))
        .collect();
    let mut evidence = Vec::new();
    for a in &h.servers.submit_acks {
        let (msg, slot) = a.what;
        let ordered = h
            .servers
            .ordered_senders
            .get(&slot)
            .is_some_and(|s| s.contains(&a.host));
        if ordered || lied.contains(&(slot.server, slot.generation, slot.seq)) {
            continue;
        }
        evidence.push(
            Evidence::note(format!(
                "{} took slot {} of generation {} at {} for its message, which that \
                 server never gave it: the receipt was not the server's",
                a.host, slot.seq, slot.generation, slot.server
            ))
            .members([a.host])
            .messages([msg])
            .at(a.t),
        );
    }
    let bad_acks = evidence.len();
    let made_up: BTreeSet<_> = h.faults.forged.iter().filter_map(|f| f.msg).collect();
    for (member, delivered) in &h.delivery.deliveries {
        for d in delivered.iter().filter(|d| made_up.contains(&d.what)) {
            evidence.push(
                Evidence::note(format!(
                    "{member} delivered {}, which the attacker made up",
                    d.what
                ))
                .members([*member])
                .messages([d.what])
                .at(d.t),
            );
        }
    }
    let accepted = evidence.len() as u64;
    let victims: BTreeSet<_> = h.faults.forged.iter().map(|f| f.victim).collect();
    let numbers = measured([
        (Figure::Forged, h.faults.forged.len() as u64),
        (Figure::AcksChecked, h.servers.submit_acks.len() as u64),
        (Figure::Accepted, accepted),
    ]);
    if accepted > 0 {
        let summary = format!(
            "{accepted} forgeries accepted: {bad_acks} acknowledgement(s) on receipts \
             the server never signed, {} made-up message(s) delivered",
            accepted as usize - bad_acks
        );
        return Verdict::new(NAME, Status::Fail, summary, evidence, numbers);
    }
    let forged = match h.faults.forged.len() {
        0 => "nothing was forged".to_owned(),
        n => format!("{n} forgeries aimed at {}, none accepted", list(victims)),
    };
    let summary = format!(
        "{forged}; {} acknowledgement(s) each name a slot their server gave",
        h.servers.submit_acks.len()
    );
    Verdict::new(NAME, Status::Pass, summary, Vec::new(), numbers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testkit::*;
    use crate::core::ids::ServerId;
    use crate::trace::Event;
    use crate::trace::HostEvent;

    fn acked(tb: &mut Tb, t: u64, host: u32, msg: crate::core::ids::MessageId, seq: u64) {
        let e = Event::Host(HostEvent::SubmitAcked {
            msg,
            server: ServerId(0),
            generation: 1,
            seq,
        });
        tb.at(t, &format!("m{host}"), e);
    }

    fn judge(tb: &Tb) -> Verdict {
        check(&History::from_trace(&tb.build()))
    }

    #[test]
    fn an_acknowledgement_for_a_slot_the_server_gave_passes() {
        let mut tb = Tb::start(&[0, 1]);
        tb.ordered(100, 0, 1, 4, 0, 1, false, &[0, 1]);
        acked(&mut tb, 120, 1, id(1, 0), 4);
        let v = judge(&tb);
        assert_eq!(v.status, Status::Pass, "{v:?}");
        assert_eq!(v.measured[Figure::AcksChecked], 1);
    }

    /// The history of a member that believed a forged receipt: it took a
    /// slot the server gave someone else (or nobody).
    #[test]
    fn an_acknowledgement_the_server_never_gave_fails() {
        let mut tb = Tb::start(&[0, 1]);
        tb.ordered(100, 0, 1, 4, 0, 0, false, &[0, 1]);
        acked(&mut tb, 120, 1, id(1, 0), 4);
        acked(&mut tb, 130, 1, id(1, 1), 9);
        let v = judge(&tb);
        assert_eq!(v.status, Status::Fail, "{v:?}");
        assert_eq!(v.measured[Figure::Accepted], 2);
        assert!(mentions_message(&v, id(1, 1)));
    }

    /// A dropping server gives its victim a receipt for a slot it then
    /// fills with someone else's message: a lie, not a forgery.
    #[test]
    fn a_slot_the_server_lied_about_is_the_servers_own_receipt() {
        let mut tb = Tb::start(&[0, 1]);
        tb.at(
            90,
            "c0",
            Event::Host(HostEvent::Lied {
                mode: crate::core::server::dishonest::Mode::Drop,
                to: vec![m(1)],
                generation: 1,
                seq: 4,
            }),
        );
        tb.ordered(100, 0, 1, 4, 0, 0, false, &[0, 1]);
        acked(&mut tb, 120, 1, id(1, 0), 4);
        assert_eq!(judge(&tb).status, Status::Pass);
    }

    #[test]
    fn delivering_a_made_up_message_fails() {
        let mut tb = Tb::start(&[0, 1, 2]);
        let fake = id(0, 0x4000_0001);
        tb.at(
            50,
            "sim",
            Event::Forged {
                attack: crate::faults::Forgery::Outsider,
                victim: m(2),
                detail: String::new(),
                msg: Some(fake),
            },
        );
        let clean = judge(&tb);
        assert_eq!(clean.status, Status::Pass, "{clean:?}");
        assert_eq!(clean.measured[Figure::Forged], 1);
        tb.deliver(80, 2, fake);
        let v = judge(&tb);
        assert_eq!(v.status, Status::Fail, "{v:?}");
        assert!(mentions_member(&v, m(2)));
    }

    #[test]
    fn a_trace_without_its_start_is_unknown() {
        assert_eq!(judge(&Tb::headless()).status, Status::Unknown);
    }
}
