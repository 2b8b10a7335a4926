//! What particular scenarios show, beyond their claims (which
//! `tests/corpus.rs` checks for every file).

use commsim::checkers::check_run;
use commsim::core::event::FallbackCause;
use commsim::core::ids::ServerId;
use commsim::scenario::load_file;
use commsim::sim;
use commsim::trace::Status;
use commsim::trace::{Event, HostEvent};
use std::path::Path;

/// Loads `scenarios/<name>.toml` and runs it with the lww variant.
fn run_lww(name: &str, seed: Option<u64>) -> sim::RunOutput {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    let s = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    sim::run(&s, seed.unwrap_or(s.seed), "lww".parse().unwrap()).unwrap()
}

/// Asserts that one checker passes on a live run.
fn passes(out: &sim::RunOutput, check: &str) {
    let v = verdict(out, check);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
}

/// The verdict of one checker on a live run.
fn verdict(out: &sim::RunOutput, check: &str) -> commsim::checkers::Verdict {
    check_run(&out.trace, &out.observations)
        .into_iter()
        .find(|v| v.check.name() == check)
        .unwrap_or_else(|| panic!("no {check} verdict"))
}

/// The shipped scenarios, in `scenarios/`.
fn scenario_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
            .expect("scenarios/ exists")
            .map(|e| e.expect("readable").path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
    files.sort();
    files
}

/// The checkers must tell the variants apart on every shipped scenario.
#[test]
fn recipient_list_and_lww_differ_on_every_scenario() {
    for file in scenario_files() {
        let s = load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        if s.group_kind != commsim::scenario::GroupKind::Lightweight || s.variants.len() < 2 {
            continue;
        }
        let lww = &s.expect[&"lww".parse().unwrap()];
        let literal = &s.expect[&"recipient-list".parse().unwrap()];
        assert_ne!(lww, literal, "{}", file.display());
    }
}

/// Traces name messages by id and give sizes; no plaintext may reach them.
/// Every generated message body starts with a marker, so its absence from
/// the trace (and its absence from every datagram on the wire) is checked,
/// not assumed.
#[test]
fn no_plaintext_in_the_trace_or_on_the_wire() {
    let out = run_lww("lightweight-partition-heal", Some(3));
    let marker = String::from_utf8_lossy(commsim::core::member::message::MARKER).into_owned();
    assert!(out.messages_sent > 10);
    assert!(!out.trace.to_jsonl().contains(&marker));
    for (envelope, _) in out.observations.envelopes.values() {
        assert!(
            !envelope
                .ciphertext
                .windows(marker.len())
                .any(|w| w == marker.as_bytes()),
            "{}",
            envelope.id
        );
    }
}

/// Seed 12 of `lightweight-member-restart` crashes m4 (losing its in-memory
/// queue) right after it sent m4#9, before any mailbox acknowledged it.
/// m4's later messages name m4#9 as a parent, so without recovery every
/// member waits for it forever and loses everything m4 sends afterwards.
/// Back, m4 sends its latest own message again (`resend_latest`); before
/// that, receivers asked m4 for it once a later message named it. Either
/// way it must arrive, once.
#[test]
fn a_message_lost_in_a_crash_still_arrives() {
    let out = run_lww("lightweight-member-restart", Some(12));
    let lost = commsim::core::ids::MessageId {
        sender: commsim::core::ids::MemberId(4),
        seq: 9,
    };
    let restarted = out
        .trace
        .records
        .iter()
        .find(|r| {
            r.host.to_string() == "m4"
                && matches!(
                    &r.event,
                    Event::Host(HostEvent::MemberStarted {
                        restart: true,
                        volatile_lost: true
                    })
                )
        })
        .map(|r| r.t);
    let sent_before = out.trace.records.iter().any(|r| {
        r.host.to_string() == "m4"
            && restarted.is_some_and(|t| r.t < t)
            && matches!(&r.event, Event::Host(HostEvent::MessageSent { msg, .. }) if *msg == lost)
    });
    assert!(
        sent_before,
        "the scenario no longer loses m4#9 in m4's crash; pick another seed"
    );
    let delivered_late = out
        .trace
        .records
        .iter()
        .filter(|r| {
            r.host.to_string() == "m0"
                && matches!(&r.event, Event::Host(HostEvent::Delivered { msg }) if *msg == lost)
        })
        .count();
    assert_eq!(delivered_late, 1);
    passes(&out, "delivery");
}

/// A coordinated group's server agent orders MLS ciphertext and public
/// handshake messages only: marker plaintexts never reach what it stores,
/// and so never what it fans out.
#[test]
fn the_server_agent_never_holds_plaintext() {
    let out = run_lww("coordinated-steady-small", Some(5));
    let marker = commsim::core::member::message::MARKER;
    let stored: Vec<&Vec<u8>> = out.observations.ordered.values().collect();
    assert!(stored.len() > 10, "{}", stored.len());
    assert!(
        stored
            .iter()
            .all(|p| !p.windows(marker.len()).any(|w| w == marker))
    );
    assert_eq!(out.deliveries, out.messages_sent * 9);
}

/// In `coordinated-concurrent-commits` the server must actually reject one
/// of the two commits for their epoch, and the loser must rebase: both
/// removals end up applied everywhere.
#[test]
fn the_losing_commit_is_rejected_then_rebased() {
    let out = run_lww("coordinated-concurrent-commits", None);
    let stale = out.trace.records.iter().filter(|r| matches!(&r.event, Event::Host(HostEvent::SubmitRejected { reason, .. }) if matches!(reason, commsim::core::server::sequencer::Rejection::StaleEpoch { .. }))).count();
    assert!(stale >= 1, "no commit lost its epoch");
    let commits = out
        .trace
        .records
        .iter()
        .filter(|r| {
            matches!(
                &r.event,
                Event::Host(HostEvent::Ordered { commit: true, .. })
            )
        })
        .count();
    assert_eq!(commits, 2, "exactly the two removals were ordered");
    for r in &out.trace.records {
        if let Event::FinalView {
            member,
            in_group: true,
            view,
            ..
        } = &r.event
        {
            assert_eq!(view.len(), 4, "{member}");
        }
    }
}

/// In `coordinated-commit-fork` c0 forks the group by two updates on one
/// epoch and buries the forked slot under filler: the receipts' digests
/// never differ, so the first to notice compares epoch authenticators
/// (`fork_detected`); the receipts it then sends prove the forked slot to
/// a peer, and everyone records the proof. c1 takes over.
#[test]
fn a_commit_fork_is_first_seen_in_the_epoch_authenticators() {
    use commsim::trace::Event;
    let out = run_lww("coordinated-commit-fork", None);
    let events: Vec<&Event> = out.trace.records.iter().map(|r| &r.event).collect();
    let slots: Vec<u64> = (events.iter())
        .filter_map(|e| match e {
            Event::Host(HostEvent::Lied { mode, seq, .. })
                if *mode == commsim::core::server::dishonest::Mode::Fork =>
            {
                Some(*seq)
            }
            _ => None,
        })
        .collect();
    assert!(matches!(slots[..], [a, b] if a == b), "{slots:?}");
    let first = (events.iter()).find(|e| {
        matches!(
            e,
            Event::Host(HostEvent::ForkDetected { .. })
                | Event::Host(HostEvent::EquivocationDetected { .. })
        )
    });
    assert!(
        matches!(first, Some(Event::Host(HostEvent::ForkDetected { evidence, .. })) if evidence.contains("authenticator")),
        "{first:?}"
    );
    let proofs: Vec<u64> = (events.iter())
        .filter_map(|e| match e {
            Event::Host(HostEvent::EquivocationDetected { seq, .. }) => Some(*seq),
            _ => None,
        })
        .collect();
    assert!(
        proofs.len() >= 4 && proofs.iter().all(|s| *s == slots[0]),
        "{proofs:?}"
    );
    passes(&out, "equivocation_detected");
    passes(&out, "epoch_agreement");
    taken_over_by_c1(&out);
}

/// In `coordinated-server-crash` the server dies mid-run: every member falls
/// back to the lightweight group, traffic carries on over Olm, and the next
/// candidate takes over as generation 2.
#[test]
fn members_fall_back_when_the_server_crashes_then_c1_takes_over() {
    let out = run_lww("coordinated-server-crash", None);
    let fell_back = out
        .trace
        .records
        .iter()
        .filter(|r| matches!(r.event, Event::Host(HostEvent::FellBack { .. })))
        .count();
    assert_eq!(fell_back, 8);
    taken_over_by_c1(&out);
    let after: Vec<_> = out
        .trace
        .records
        .iter()
        .filter(|r| r.t > 15_000 && matches!(r.event, Event::Host(HostEvent::Delivered { .. })))
        .collect();
    assert!(after.len() > 50, "{}", after.len());
}

/// Seeds 4 and 8 of `coordinated-steady-small` lose a receipt: the retried
/// submission used to be ordered after the member's next message, which
/// was then shown before its parent. One submission in flight per member
/// keeps each member's messages in the order it sent them.
#[test]
fn a_lost_receipt_does_not_reorder_a_members_messages() {
    for seed in [4, 8] {
        let out = run_lww("coordinated-steady-small", Some(seed));
        passes(&out, "delivery");
    }
}

/// Seed 12 of `coordinated-server-refuses` (found by a seed sweep): `m0` is
/// refused and falls back before the messages `c0` had already ordered
/// reach its mailbox. Dropping them left one lost and, once others' later
/// messages named them, delivered out of the server's order. The old
/// generation now drains in order after the fallback. (`total_order` no
/// longer judges what a member delivers after it fell back, so the
/// delivery check is the one that guards the drain here.)
#[test]
fn what_a_refusing_server_had_ordered_is_still_delivered_in_its_order() {
    let out = run_lww("coordinated-server-refuses", Some(12));
    for check in ["delivery", "total_order"] {
        let v = verdict(&out, check);
        assert_eq!(v.status, Status::Pass, "{v:#?}");
    }
}

/// Seed 2 of `coordinated-steady` (found by a seed sweep): a message
/// encrypted just before a commit was rejected for its stale epoch and then
/// resent unchanged until the member fell back, taking the whole group of
/// fifty with it. It is now encrypted again once the member has caught up.
/// (A member the workload removes leaves coordinated mode when its removal
/// reaches it over Olm: that is no fallback of the group.)
#[test]
fn a_message_that_lost_its_epoch_is_encrypted_again() {
    let out = run_lww("coordinated-steady", Some(2));
    let fell_back = out
        .trace
        .records
        .iter()
        .filter(|r| {
            matches!(&r.event, Event::Host(HostEvent::FellBack { cause, .. })
                if !matches!(cause, FallbackCause::Removed))
        })
        .count();
    assert_eq!(fell_back, 0);
    passes(&out, "delivery");
}

/// The MLS half of post-removal secrecy must not pass vacuously: the
/// copies kept for m4 and m5 are their real state from just before the
/// removing commit, so each still processes that very commit, and then
/// nothing ordered after it.
#[test]
fn removed_members_mls_copies_are_live_but_read_nothing_later() {
    use commsim::core::ids::MemberId;
    let out = run_lww("coordinated-concurrent-commits", None);
    let kept: Vec<_> = out.observations.mls_removal_copies.iter().collect();
    let removed: Vec<MemberId> = kept.iter().map(|((m, ..), _)| *m).collect();
    assert_eq!(removed, [MemberId(4), MemberId(5)]);
    for ((member, generation, server, epoch), copy) in kept {
        let commit = out.trace.records.iter().find_map(|r| match &r.event {
            Event::Host(HostEvent::Ordered {
                generation: g,
                seq,
                epoch: e,
                commit: true,
                ..
            }) if g == generation && e == epoch && r.host.to_string() == server.to_string() => {
                Some(*seq)
            }
            _ => None,
        });
        let commit = commit.expect("the removing commit was ordered");
        let payload = &out.observations.ordered[&(*generation, *server, commit)];
        let mut live = copy.copy().unwrap();
        assert!(
            live.process(payload).is_ok(),
            "{member}: the copy cannot process its own removal"
        );
        assert!(!live.is_active(), "{member}");
    }
    let secrecy = verdict(&out, "post_removal_secrecy");
    assert_eq!(secrecy.status, Status::Pass, "{secrecy:#?}");
    assert!(
        secrecy.measured[commsim::checkers::Figure::MlsTried] > 20,
        "{secrecy:#?}"
    );
}

/// Every `equivocation_detected` in a run, as (host, seq, evidence).
fn detections(out: &sim::RunOutput) -> Vec<(String, u64, String)> {
    out.trace
        .records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Host(HostEvent::EquivocationDetected {
                server,
                seq,
                evidence,
                ..
            }) => {
                assert_eq!(*server, ServerId(0), "only c0 lies");
                Some((r.host.to_string(), *seq, evidence.clone()))
            }
            _ => None,
        })
        .collect()
}

/// The slots c0 lied about, with whom it lied to.
fn lies(out: &sim::RunOutput) -> Vec<(Vec<u32>, u64)> {
    out.trace
        .records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Host(HostEvent::Lied { to, seq, .. }) => {
                Some((to.iter().map(|m| m.0).collect(), *seq))
            }
            _ => None,
        })
        .collect()
}

/// Every member ends in generation 2 at c1: the last generation it joined,
/// with no fallback after it.
fn taken_over_by_c1(out: &sim::RunOutput) {
    use commsim::trace::{Event, Origin};
    let mut last: std::collections::BTreeMap<Origin, Option<(u32, ServerId)>> =
        std::collections::BTreeMap::new();
    for r in &out.trace.records {
        match &r.event {
            Event::Host(HostEvent::Joined {
                generation, server, ..
            }) => {
                last.insert(r.host, Some((*generation, *server)));
            }
            Event::Host(HostEvent::FellBack { .. }) => {
                last.insert(r.host, None);
            }
            _ => {}
        }
    }
    let members = out.trace.records.iter().filter_map(|r| match &r.event {
        Event::FinalView { member, .. } => Some(*member),
        _ => None,
    });
    for m in members {
        let at = last.get(&Origin::from(m)).copied().flatten();
        assert_eq!(at, Some((2, ServerId(1))), "{m}");
    }
}

/// `coordinated-equivocating-server`: c0 shows m3 two messages in swapped
/// slots. m3 delivers them in the false order (the total order checker
/// says so, and names m3 alone), but the members' audits turn up two
/// receipts c0 signed for one slot; m3 records them as evidence within
/// the bound, everyone falls back, and c1 takes over.
#[test]
fn an_equivocating_server_is_caught_and_the_group_moves_to_c1() {
    let out = run_lww("coordinated-equivocating-server", None);
    let lies = lies(&out);
    assert!(
        !lies.is_empty() && lies.iter().all(|(to, _)| to == &[3]),
        "{lies:?}"
    );
    let found = detections(&out);
    let (_, seq, evidence) = found
        .iter()
        .find(|(host, ..)| host == "m3")
        .expect("m3 detects the lie");
    assert!(lies.iter().any(|(_, s)| s == seq), "{seq} {lies:?}");
    assert!(
        evidence.starts_with(&format!("slot {seq} signed for ")),
        "{evidence}"
    );
    assert_eq!(found.len(), 8, "the proof reaches everyone: {found:?}");
    let order = verdict(&out, "total_order");
    assert!(
        order
            .evidence
            .iter()
            .all(|e| e.members == [commsim::core::ids::MemberId(3)]),
        "{order:#?}"
    );
    passes(&out, "equivocation_detected");
    taken_over_by_c1(&out);
}

/// `coordinated-dropping-server`: m5's message gets a receipt for a slot
/// c0 then gives another message. m5 holds both receipts once it
/// processes that slot: proof, without any audit. What c0 never served
/// reaches everyone over Olm after the fallback.
#[test]
fn a_server_dropping_a_members_messages_is_caught_by_that_member() {
    let out = run_lww("coordinated-dropping-server", None);
    let lies = lies(&out);
    assert!(lies.iter().all(|(to, _)| to == &[5]), "{lies:?}");
    let found = detections(&out);
    assert_eq!(found[0].0, "m5", "{found:?}");
    assert!(found[0].2.contains("m5's message"), "{found:?}");
    passes(&out, "delivery");
    taken_over_by_c1(&out);
}

/// `coordinated-replaying-server`: every member sees one message hash in
/// two slots and says so before MLS ever sees the replayed ciphertext.
#[test]
fn a_replaying_server_is_caught_by_every_member() {
    let out = run_lww("coordinated-replaying-server", None);
    let lies = lies(&out);
    assert!(!lies.is_empty() && lies[0].0.len() == 6, "{lies:?}");
    let found = detections(&out);
    assert_eq!(found.len(), 6, "{found:?}");
    assert!(
        found.iter().all(|(_, _, e)| e.starts_with("replay: ")),
        "{found:?}"
    );
    let failed = out
        .trace
        .records
        .iter()
        .filter(|r| matches!(r.event, Event::Host(HostEvent::DecryptFailed { .. })))
        .count();
    assert_eq!(failed, 0);
    taken_over_by_c1(&out);
}
