//! The auditor's comparisons, on receipts a real sequencer signed.

use super::*;
use crate::core::event::OpKind;
use crate::core::ids::MessageId;
use crate::core::server::sequencer::{Kind, Receipt, Sequencer, hash};
use vodozemac::Ed25519Keypair;

const C0: ServerId = ServerId(0);
const STREAM: Stream = (C0, 1);

fn sequencer() -> Sequencer {
    Sequencer::new(1, 1, 0, (0..4).map(MemberId), Ed25519Keypair::new())
}

fn order(s: &mut Sequencer, from: u32, body: &[u8]) -> Receipt {
    s.submit(1, MemberId(from), Kind::Message, 0, body, None)
        .unwrap()
}

#[test]
fn two_receipts_for_one_slot_are_found_whoever_told_us() {
    let mut s = sequencer();
    let key = s.public_key();
    let honest = order(&mut s, 0, b"a");
    let lie = s.sign_slot(honest.seq, MemberId(1), 0, hash(b"b"));
    let mut a = Auditor::default();
    assert!(a.learn(STREAM, &key, &honest, None));
    assert!(a.found.is_empty());
    assert!(a.learn(STREAM, &key, &lie, Some(MemberId(2))));
    assert_eq!(
        a.found,
        [Finding::Proof {
            stream: STREAM,
            a: honest.clone(),
            b: lie,
            from: Some(MemberId(2)),
        }]
    );
    // The same receipt again (a resubmission, or a peer agreeing) is fine.
    a.found.clear();
    a.learn(STREAM, &key, &honest, Some(MemberId(3)));
    assert!(a.found.is_empty());
}

#[test]
fn one_message_in_two_slots_is_a_replay() {
    let mut s = sequencer();
    let key = s.public_key();
    let first = order(&mut s, 0, b"a");
    order(&mut s, 1, b"b");
    let again = s.sign(MemberId(0), 0, first.hash);
    let mut a = Auditor::default();
    a.learn(STREAM, &key, &first, None);
    a.learn(STREAM, &key, &again, None);
    assert!(
        matches!(&a.found[..], [Finding::Proof { a, b, .. }] if a.seq == 0 && b.seq == 2),
        "{:?}",
        a.found
    );
}

#[test]
fn receipts_the_server_never_signed_frame_nobody() {
    let mut s = sequencer();
    let key = s.public_key();
    let honest = order(&mut s, 0, b"a");
    let mut forged = honest.clone();
    forged.hash = hash(b"b");
    let other_server = Sequencer::new(1, 1, 0, [], Ed25519Keypair::new());
    let foreign = other_server.sign_slot(0, MemberId(1), 0, hash(b"b"));
    let mut a = Auditor::default();
    a.learn(STREAM, &key, &honest, None);
    assert!(!a.learn(STREAM, &key, &forged, Some(MemberId(1))));
    assert!(!a.learn(STREAM, &key, &foreign, Some(MemberId(1))));
    // A receipt of another generation does not belong to this order.
    assert!(!a.learn((C0, 2), &key, &honest, Some(MemberId(1))));
    assert!(a.found.is_empty());
}

#[test]
fn different_authenticators_at_one_epoch_are_a_fork() {
    let mut a = Auditor::default();
    a.epoch(STREAM, 3, vec![1; 32], None);
    a.epoch(STREAM, 3, vec![1; 32], Some(MemberId(1)));
    assert!(a.found.is_empty());
    a.epoch(STREAM, 3, vec![2; 32], Some(MemberId(2)));
    assert!(matches!(
        &a.found[..],
        [Finding::Fork {
            epoch: 3,
            other: Some(MemberId(2)),
            ..
        }]
    ));
    // Another generation's epoch 3 is another MLS group.
    a.found.clear();
    a.epoch((C0, 2), 3, vec![9; 32], Some(MemberId(2)));
    assert!(a.found.is_empty());
}

#[test]
fn digests_of_different_orders_differ_now_or_once_processed() {
    let mut s = sequencer();
    let key = s.public_key();
    let r: Vec<Receipt> = (0..3).map(|i| order(&mut s, i, &[i as u8])).collect();
    let mut ahead = Auditor::default();
    for x in &r {
        ahead.learn(STREAM, &key, x, None);
        ahead.processed(STREAM, x);
    }
    let honest = ahead.next_range(STREAM).unwrap();
    assert_eq!((honest.0, honest.1), (0, 2));
    // The same order agrees.
    let mut same = Auditor::default();
    for x in &r {
        same.processed(STREAM, x);
    }
    same.compare(MemberId(1), STREAM, honest);
    assert!(same.found.is_empty());
    // Slots 1 and 2 swapped: the digest differs, even when it arrives
    // before the slots were processed.
    let mut swapped = Auditor::default();
    swapped.processed(STREAM, &r[0]);
    swapped.compare(MemberId(1), STREAM, honest);
    assert!(swapped.found.is_empty(), "waits for slot 2");
    let mut lie1 = r[2].clone();
    lie1.seq = 1;
    let mut lie2 = r[1].clone();
    lie2.seq = 2;
    swapped.processed(STREAM, &lie1);
    swapped.processed(STREAM, &lie2);
    assert_eq!(
        swapped.found,
        [Finding::Differs {
            peer: MemberId(1),
            stream: STREAM,
            lo: 0,
            hi: 2
        }]
    );
    // Our answer: the signed receipts of those slots.
    assert_eq!(ahead.receipts(STREAM, 0, 2), r);
    // Nothing new since: no second range.
    assert_eq!(ahead.next_range(STREAM), None);
}

/// Two members on the two sides of a commit fork (`agent/fork.rs`): the
/// same slots but slot 3, commit x at one, commit y at the other, then
/// `filler` slots both get. Each reaches epoch 1 with its own
/// authenticator. Also the receipts of x and y, and the server's key.
fn forked(filler: u64) -> (Auditor, Auditor, [Receipt; 2], [u8; 32]) {
    let mut s = sequencer();
    let key = s.public_key();
    let shared: Vec<Receipt> = (0..3).map(|i| order(&mut s, i, &[i as u8])).collect();
    let x = s.sign_slot(3, MemberId(0), 0, hash(b"x"));
    let y = s.sign_slot(3, MemberId(3), 0, hash(b"y"));
    s.skip_to(4);
    let after: Vec<Receipt> = (0..filler)
        .map(|i| s.sign(MemberId(0), 1, hash(&i.to_be_bytes())))
        .collect();
    let side = |commit: &Receipt, auth: u8| {
        let mut a = Auditor::default();
        for r in shared.iter().chain([commit]).chain(&after) {
            a.learn(STREAM, &key, r, None);
            a.processed(STREAM, r);
        }
        a.commit_applied(STREAM, commit.seq);
        a.epoch(STREAM, 1, vec![auth; 32], None);
        a
    };
    (side(&x, 1), side(&y, 2), [x, y], key)
}

#[test]
fn receipts_show_a_fork_unless_its_slot_is_out_of_every_digest() {
    // Without filler, the digest over slot 3 differs, and our receipts
    // let the peer find the slot signed twice.
    let (mut a, mut b, ..) = forked(0);
    b.compare(MemberId(0), STREAM, a.next_range(STREAM).unwrap());
    assert!(matches!(
        &b.found[..],
        [Finding::Differs { lo: 0, hi: 3, .. }]
    ));
    // With as many filler slots as a digest covers, the next digest starts
    // after the forked slot and agrees: receipts alone see nothing.
    let (mut a, mut b, ..) = forked(MAX_ENTRIES as u64);
    let range = a.next_range(STREAM).unwrap();
    assert_eq!(range.0, 4, "slots up to the fork are never digested");
    b.compare(MemberId(0), STREAM, range);
    assert!(b.found.is_empty());
    // The epoch authenticators still differ.
    for (e, auth) in std::mem::take(&mut a.unsent_epochs)
        .into_iter()
        .map(|(_, e, auth)| (e, auth))
    {
        b.epoch(STREAM, e, auth, Some(MemberId(0)));
    }
    assert!(matches!(
        &b.found[..],
        [Finding::Fork {
            epoch: 1,
            other: Some(MemberId(0)),
            ..
        }]
    ));
}

#[test]
fn the_commit_receipts_sent_at_a_fork_prove_it_to_the_peer() {
    let (a, mut b, [x, y], key) = forked(MAX_ENTRIES as u64);
    let sent = a.commit_receipts(STREAM);
    assert_eq!(sent, std::slice::from_ref(&x));
    for r in &sent {
        b.learn(STREAM, &key, r, Some(MemberId(0)));
    }
    assert!(matches!(
        &b.found[..],
        [Finding::Proof { a, b, from: Some(MemberId(0)), .. }] if *a == y && *b == x
    ));
}

#[test]
fn an_own_message_not_served_back_is_withheld_once_the_mailboxes_were_read() {
    let mut s = sequencer();
    let mine = order(&mut s, 0, b"mine");
    let msg = MessageId {
        sender: MemberId(0),
        seq: 0,
    };
    let mut a = Auditor::default();
    a.own_message(1_000, STREAM, Owned::Message(msg), &mine);
    assert_eq!(
        withheld_after_the_timeout(&mut a),
        withheld_slot_0(Some(msg))
    );
    a.processed(STREAM, &mine);
    assert_eq!(a.withheld((STREAM, 0), ME, 5_000), None, "served back");
    // A receipt that arrives after its message came back (the first
    // receipt was lost, a retry got it again) is served back already.
    let late = order(&mut s, 0, b"late");
    let mut b = Auditor::default();
    b.processed(STREAM, &late);
    b.own_message(1_000, STREAM, Owned::Message(msg), &late);
    b.fetched(60_000);
    assert_eq!(b.withheld((STREAM, 0), ME, 5_000), None);
}

/// A receipted commit never served back is withheld as a message is
/// (issue 21 (1)), but a fallback has nothing of it to send again: its
/// changes are redone, not resent (issue 21 (2)). One that came back was
/// applied, and nothing of it is redone.
#[test]
fn an_own_commit_not_served_back_is_withheld_and_redone() {
    let mut s = sequencer();
    let removal = vec![(OpKind::Remove, MemberId(2))];
    let commit = order(&mut s, 0, b"commit");
    let mut a = Auditor::default();
    a.own_message(1_000, STREAM, Owned::Commit(removal.clone()), &commit);
    a.fetched(6_000);
    assert_eq!(a.withheld((STREAM, 0), ME, 5_000), withheld_slot_0(None));
    let redo = a.take_unconfirmed(6_000, 5_000);
    assert_eq!(redo.messages, vec![]);
    assert_eq!(redo.ops, removal);

    let applied = order(&mut s, 1, b"applied");
    let mut b = Auditor::default();
    b.own_message(1_000, STREAM, Owned::Commit(removal), &applied);
    b.processed(STREAM, &applied);
    assert_eq!(b.take_unconfirmed(1_500, 5_000), Unconfirmed::default());
}

const ME: MemberId = MemberId(0);

/// Noted at 1 s with a 5 s timeout: not due at a read of the mailboxes at
/// 5 s, due at one at 6 s.
fn withheld_after_the_timeout(a: &mut Auditor) -> Option<Finding> {
    a.fetched(5_000);
    assert_eq!(
        a.withheld((STREAM, 0), ME, 5_000),
        None,
        "not long enough yet"
    );
    a.fetched(6_000);
    a.withheld((STREAM, 0), ME, 5_000)
}

fn withheld_slot_0(msg: Option<MessageId>) -> Option<Finding> {
    Some(Finding::Withheld {
        stream: STREAM,
        seq: 0,
        msg,
        sender: ME,
    })
}

/// A slot a peer showed a receipt for, never served here, is withheld
/// too once the mailboxes were read `timeout` after: the only trace a
/// withheld submission leaves on the others in a silent group (issue 21
/// (8)). One before where this member started, or served since, is not.
#[test]
fn a_slot_a_peer_holds_a_receipt_for_is_withheld_if_never_served_here() {
    let mut s = sequencer();
    let key = s.public_key();
    let theirs = order(&mut s, 1, b"theirs");
    let mut a = Auditor::default();
    assert!(a.learn(STREAM, &key, &theirs, Some(MemberId(1))));
    a.told_of(1_000, STREAM, &theirs);
    let found = Some(Finding::Withheld {
        stream: STREAM,
        seq: 0,
        msg: None,
        sender: MemberId(1),
    });
    assert_eq!(withheld_after_the_timeout(&mut a), found);
    assert_eq!(a.withheld((STREAM, 1), ME, 5_000), None, "joined after it");
    a.processed(STREAM, &theirs);
    assert_eq!(a.withheld((STREAM, 0), ME, 5_000), None, "served since");
}

/// What a member hands its peers at a fallback: the receipts of its own
/// submissions never served back (each side of a fork across a partition
/// holds one for the slot where they parted), and none of those it saw
/// come back.
#[test]
fn the_receipts_of_own_submissions_never_served_back_go_out_at_a_fallback() {
    let mut s = sequencer();
    let key = s.public_key();
    let back = order(&mut s, 0, b"back");
    let lost = order(&mut s, 0, b"lost");
    let mut a = Auditor::default();
    for (r, n) in [(&back, 1), (&lost, 2)] {
        assert!(a.learn(STREAM, &key, r, None));
        let msg = MessageId {
            sender: MemberId(0),
            seq: n,
        };
        a.own_message(1_000, STREAM, Owned::Message(msg), r);
    }
    a.processed(STREAM, &back);
    assert_eq!(a.unserved_receipts(STREAM), vec![lost]);
    assert_eq!(a.unserved_receipts((STREAM.0, STREAM.1 + 1)), vec![]);
}
