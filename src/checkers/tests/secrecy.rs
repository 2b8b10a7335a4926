use super::*;
use crate::checkers::testkit::*;

/// Stands in for real key state: a member opens exactly the envelopes
/// addressed to it, which is what pairwise Olm gives.
struct AddressedTo(BTreeMap<EnvelopeId, MemberId>);

impl AddressedTo {
    fn from(h: &History) -> Self {
        AddressedTo(
            h.delivery
                .envelopes
                .iter()
                .map(|(e, (_, to))| (*e, *to))
                .collect(),
        )
    }
}

impl Oracle for AddressedTo {
    fn readable(
        &self,
        member: MemberId,
        _removal: MessageId,
        envs: &[EnvelopeId],
    ) -> Option<(BTreeSet<EnvelopeId>, usize)> {
        Some((
            envs.iter()
                .filter(|e| self.0.get(e) == Some(&member))
                .copied()
                .collect(),
            envs.len(),
        ))
    }

    fn mls_readable(
        &self,
        _: MemberId,
        _: (u32, ServerId),
        _: u64,
        _: &[u64],
    ) -> Option<(BTreeSet<u64>, usize)> {
        None
    }
}

/// m0 removes m2 (telling m2, as LWW does), then m1, having seen the
/// removal, sends to `later_to`.
fn history(later_to: &[u32], readd: bool) -> History {
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.exchange(10, id(0, 0), &[0, 1, 2], &[]);
    tb.remove(20, 0, 2, id(0, 1))
        .exchange(20, id(0, 1), &[0, 1, 2], &[id(0, 0)]);
    let mut parent = id(0, 1);
    if readd {
        tb.add(30, 0, 2, id(0, 2));
        tb.exchange(30, id(0, 2), &[0, 1, 2], &[id(0, 1)]);
        parent = id(0, 2);
    }
    tb.exchange(40, id(1, 0), later_to, &[parent]);
    History::from_trace(&tb.build())
}

#[test]
fn passes_when_later_messages_skip_the_removed_member() {
    let h = history(&[0, 1], false);
    let v = check(&h, Some(&AddressedTo::from(&h)));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::CiphertextsTried], 1);
}

#[test]
fn fails_when_the_removed_member_can_read_a_later_message() {
    let h = history(&[0, 1, 2], false);
    let v = check(&h, Some(&AddressedTo::from(&h)));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(
        mentions_member(&v, m(2)) && mentions_message(&v, id(1, 0)),
        "{v:#?}"
    );
}

/// m1, having seen m0's removal of m2, announces the removal again (it
/// brings it into a generation that missed it) and addresses m2, as every
/// removal announcement does. The old checker counted that second
/// announcement as a later message the removed member could read.
#[test]
fn a_second_announcement_of_the_removal_is_not_a_leak() {
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.exchange(10, id(0, 0), &[0, 1, 2], &[]);
    tb.remove(20, 0, 2, id(0, 1))
        .exchange(20, id(0, 1), &[0, 1, 2], &[id(0, 0)]);
    tb.remove(30, 1, 2, id(1, 0))
        .exchange(30, id(1, 0), &[0, 1, 2], &[id(0, 1)]);
    tb.exchange(40, id(1, 1), &[0, 1], &[id(1, 0)]);
    let h = History::from_trace(&tb.build());
    let v = check(&h, Some(&AddressedTo::from(&h)));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    // A message of its own after the second announcement is a leak.
    tb.exchange(50, id(1, 2), &[0, 1, 2], &[id(1, 1)]);
    let h = History::from_trace(&tb.build());
    let v = check(&h, Some(&AddressedTo::from(&h)));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
}

#[test]
fn a_re_added_member_may_read_again() {
    let h = history(&[0, 1, 2], true);
    let v = check(&h, Some(&AddressedTo::from(&h)));
    // Everything it can read follows its re-add: nothing is a leak (and
    // nothing was left to try, which is not a pass either).
    assert_ne!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.measured[Figure::Readable], 0);
}

#[test]
fn the_removal_notice_itself_is_not_a_leak() {
    let h = history(&[0, 1], false);
    // m2 can open the notice addressed to it; it precedes nothing secret.
    let v = check(&h, Some(&AddressedTo::from(&h)));
    assert!(!mentions_message(&v, id(0, 1)), "{v:#?}");
}

#[test]
fn a_saved_trace_cannot_say_what_keys_open() {
    let h = history(&[0, 1], false);
    assert_eq!(check(&h, None).status, Status::Unknown);
}

/// The old checker answered `unknown` on a saved trace, and never looked
/// at what the removed member was shown: a member put back by a fallback
/// or an upgrade read later messages unnoticed.
#[test]
fn a_later_message_shown_to_the_removed_member_fails_even_on_a_trace() {
    let h = history(&[0, 1, 2], false);
    let v = check(&h, None);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(
        mentions_member(&v, m(2)) && mentions_message(&v, id(1, 0)),
        "{v:#?}"
    );
    assert_eq!(v.measured[Figure::ShownAfterRemoval], 1);
}

/// An add concurrent with the removal may win under LWW: what follows
/// both is not a secret from the member.
#[test]
fn a_concurrent_re_add_lets_the_member_read() {
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.exchange(10, id(0, 0), &[0, 1, 2], &[]);
    tb.remove(20, 0, 2, id(0, 1))
        .exchange(20, id(0, 1), &[0, 1, 2], &[id(0, 0)]);
    tb.add(20, 1, 2, id(1, 0))
        .exchange(20, id(1, 0), &[0, 1, 2], &[id(0, 0)]);
    tb.exchange(40, id(1, 1), &[0, 1, 2], &[id(0, 1), id(1, 0)]);
    let h = History::from_trace(&tb.build());
    let v = check(&h, None);
    assert_ne!(v.status, Status::Fail, "{v:#?}");
}

/// m0 removes m2; m0 then adds m2 back by a commit, which m1 processes
/// (its view regains m2) before the add's announcement reaches it; m1
/// writes to m2 as its view says. Nothing causal shows m1 knew of the
/// re-add, but its view does: not a leak. The same message from an
/// author whose view took m2 back with no re-add made is one.
fn regained_view(readd: bool) -> History {
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.exchange(10, id(0, 0), &[0, 1, 2], &[]);
    tb.remove(20, 0, 2, id(0, 1))
        .exchange(20, id(0, 1), &[0, 1, 2], &[id(0, 0)]);
    tb.changed(21, 1, &[0, 1], true);
    // The commit is processed before its author records the add.
    tb.changed(29, 1, &[0, 1, 2], true);
    if readd {
        tb.add(30, 0, 2, id(0, 2));
    }
    tb.exchange(40, id(1, 0), &[0, 1, 2], &[id(0, 1)]);
    History::from_trace(&tb.build())
}

#[test]
fn an_author_whose_view_regained_the_member_after_a_re_add_may_write_to_it() {
    let h = regained_view(true);
    let v = check(&h, Some(&AddressedTo::from(&h)));
    assert_ne!(v.status, Status::Fail, "{v:#?}");
}

#[test]
fn an_author_whose_view_regained_the_member_with_no_re_add_leaks() {
    let h = regained_view(false);
    let v = check(&h, Some(&AddressedTo::from(&h)));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(mentions_message(&v, id(1, 0)), "{v:#?}");
}

#[test]
fn no_removal_passes_trivially() {
    let h = History::from_trace(&healthy());
    assert_eq!(check(&h, None).status, Status::Pass);
}

/// Sees nothing on the wire (as for MLS ciphertexts, which the Olm oracle
/// cannot try): a removal with nothing tried is not a pass.
struct Blind;

impl Oracle for Blind {
    fn readable(
        &self,
        _: MemberId,
        _: MessageId,
        _: &[EnvelopeId],
    ) -> Option<(BTreeSet<EnvelopeId>, usize)> {
        Some((BTreeSet::new(), 0))
    }

    fn mls_readable(
        &self,
        _: MemberId,
        _: (u32, ServerId),
        _: u64,
        _: &[u64],
    ) -> Option<(BTreeSet<u64>, usize)> {
        Some((BTreeSet::new(), 0))
    }
}

#[test]
fn nothing_tried_after_a_removal_is_unknown_not_pass() {
    let h = history(&[0, 1], false);
    assert_eq!(check(&h, Some(&Blind)).status, Status::Unknown);
}

/// Stands in for the removed member's MLS state: it holds state only for
/// m2 removed at epoch 1 of generation 1 at c0, and opens everything when
/// `leaky` (a broken group key schedule) or nothing (MLS as designed).
struct Mls {
    leaky: bool,
}

impl Oracle for Mls {
    fn readable(
        &self,
        _: MemberId,
        _: MessageId,
        _: &[EnvelopeId],
    ) -> Option<(BTreeSet<EnvelopeId>, usize)> {
        None
    }

    fn mls_readable(
        &self,
        member: MemberId,
        stream: (u32, ServerId),
        epoch: u64,
        seqs: &[u64],
    ) -> Option<(BTreeSet<u64>, usize)> {
        if (member, stream, epoch) != (m(2), (1, ServerId(0)), 1) {
            return None;
        }
        let opened = if self.leaky {
            seqs.iter().copied().collect()
        } else {
            BTreeSet::new()
        };
        Some((opened, seqs.len()))
    }
}

/// c0 orders, for generation 1: a message of m0 at epoch 1, m0's commit
/// removing m2 (built on epoch 1), then two messages at epoch 2 that m2
/// is no longer counted for, the first of them m1's `id(1, 0)`.
fn coordinated() -> History {
    coordinated_with(&[0, 1], None)
}

/// [`coordinated`], with m1 addressing `id(1, 0)` to `to`, and m0 holding
/// `view` from 35 ms, before the server orders its seq 3 (otherwise the
/// view it took on applying its removal of m2).
fn coordinated_with(to: &[u32], view: Option<&[u32]>) -> History {
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.changed(21, 0, &[0, 1], true);
    if let Some(view) = view {
        tb.changed(35, 0, view, true);
    }
    tb.send(10, id(0, 0), &[0, 1, 2], &[]);
    tb.ordered(11, 0, 1, 0, 1, 0, false, &[0, 1, 2]);
    tb.ordered(20, 0, 1, 1, 1, 0, true, &[0, 1, 2]);
    tb.send(30, id(1, 0), to, &[]);
    tb.at(
        31,
        "m1",
        crate::trace::Event::Host(crate::trace::HostEvent::SubmitAcked {
            msg: id(1, 0),
            server: ServerId(0),
            generation: 1,
            seq: 2,
        }),
    );
    tb.ordered(31, 0, 1, 2, 2, 1, false, &[0, 1]);
    tb.ordered(40, 0, 1, 3, 2, 0, false, &[0, 1]);
    History::from_trace(&tb.build())
}

#[test]
fn mls_removals_are_read_off_the_servers_order() {
    let h = coordinated();
    let r = mls_removals(&Parts::of(&h));
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].member, r[0].commit.seq, r[0].epoch), (m(2), 1, 1));
}

#[test]
fn passes_when_the_removed_members_mls_state_opens_nothing_later() {
    let v = check(&coordinated(), Some(&Mls { leaky: false }));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(
        (
            v.measured[Figure::MlsRemovals],
            v.measured[Figure::MlsTried]
        ),
        (1, 2)
    );
}

#[test]
fn fails_when_the_removed_members_mls_state_opens_a_later_message() {
    let v = check(&coordinated(), Some(&Mls { leaky: true }));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.measured[Figure::Readable], 2);
    assert!(
        mentions_member(&v, m(2)) && mentions_message(&v, id(1, 0)),
        "{v:#?}"
    );
}

/// m1 wrote `id(1, 0)` for m2, not having applied m2's removal (the
/// server showed m1 a fork where m2 was never removed): m2's keys opening
/// it is m1's view, not a leak. The commit after it still is one.
#[test]
fn a_message_its_author_addressed_to_the_removed_member_is_no_leak() {
    let v = check(
        &coordinated_with(&[0, 1, 2], None),
        Some(&Mls { leaky: true }),
    );
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(
        (
            v.measured[Figure::Readable],
            v.measured[Figure::MlsAddressed]
        ),
        (1, 1)
    );
    assert!(!mentions_message(&v, id(1, 0)), "{v:#?}");
}

/// The same for what m0 ordered at seq 3 while its view still held m2
/// (a commit on the branch of a fork that never removed m2); with m2 out
/// of m0's view it is a leak.
#[test]
fn what_its_author_ordered_still_holding_the_removed_member_is_no_leak() {
    let open = |view: &[u32]| {
        check(
            &coordinated_with(&[0, 1, 2], Some(view)),
            Some(&Mls { leaky: true }),
        )
    };
    let v = open(&[0, 1, 2]);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::MlsAddressed], 2);
    assert_eq!(open(&[0, 1]).status, Status::Fail);
}

#[test]
fn an_mls_removal_with_no_state_kept_is_unknown() {
    // Nothing on the wire, or no state kept: nothing was tried.
    let v = check(&coordinated(), Some(&Blind));
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert_eq!(v.measured[Figure::MlsNotTried], 2);
    assert_eq!(check(&coordinated(), None).status, Status::Unknown);
}

/// m2, removed by the commit at seq 1, is shown m1#0 (seq 2), which the
/// server ordered for m0 and m1 only.
#[test]
fn an_ordered_message_shown_after_the_removing_commit_fails() {
    let mut h = coordinated();
    h.delivery
        .deliveries
        .entry(m(2))
        .or_default()
        .push(crate::checkers::history::At {
            t: 50,
            idx: 999,
            host: m(2),
            what: id(1, 0),
        });
    let v = check(&h, Some(&Blind));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(mentions_message(&v, id(1, 0)), "{v:#?}");
    assert_eq!(check(&h, None).status, Status::Fail);
}
