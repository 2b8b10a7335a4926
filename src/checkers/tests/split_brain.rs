use super::*;
use crate::checkers::testkit::*;

/// Generation 1 at c0 for m0..m2; c0 fails, everyone falls back, and m0
/// forms generation 2 at c1, which m1 joins. `m2` then says where m2 is.
fn run(m2: impl FnOnce(&mut Tb)) -> Tb {
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.accepted(0, 0, 1, 0);
    for n in 0..3 {
        tb.joined(0, n, 1, 0, 0);
        tb.fell_back(100, n);
    }
    tb.accepted(200, 1, 2, 0)
        .joined(210, 0, 2, 1, 0)
        .joined(220, 1, 2, 1, 0);
    m2(&mut tb);
    tb
}

fn ended(mut tb: Tb) -> History {
    tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
    History::from_trace(&tb.build())
}

#[test]
fn passes_when_every_live_member_is_in_one_generation() {
    let v = check(&ended(run(|tb| {
        tb.joined(220, 2, 2, 1, 0);
    })));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    let g2 = v
        .evidence
        .iter()
        .find(|e| e.note.starts_with("generation 2 at c1"));
    assert_eq!(g2.map(|e| e.members.len()), Some(3), "{v:#?}");
    assert_eq!(v.measured[Figure::GenerationsAccepted], 2);
    assert_eq!(v.measured[Figure::ContestedGenerations], 0);
}

#[test]
fn fails_on_one_generation_at_two_servers() {
    let v = check(&ended(run(|tb| {
        tb.accepted(200, 2, 2, 2).joined(210, 2, 2, 2, 2);
    })));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(v.summary.contains("more than once"), "{v:#?}");
    assert_eq!(v.evidence[0].members, [m(0), m(1)], "{v:#?}");
    assert_eq!(v.evidence[1].members, [m(2)], "{v:#?}");
    assert_eq!(v.measured[Figure::ContestedGenerations], 1);
}

#[test]
fn fails_on_two_generations_at_once() {
    // m2 never heard of generation 2 and formed generation 3 at c2.
    let v = check(&ended(run(|tb| {
        tb.accepted(300, 2, 3, 2).joined(310, 2, 3, 2, 2);
    })));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(v.summary.contains("different generations"), "{v:#?}");
    assert!(mentions_member(&v, m(2)), "{v:#?}");
}

#[test]
fn a_member_that_fell_back_is_not_a_sub_group() {
    let v = check(&ended(run(|tb| {
        tb.joined(210, 2, 2, 2, 2).fell_back(400, 2);
    })));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::LightweightMembers], 1);
}

#[test]
fn only_live_members_in_the_group_count() {
    let other = |tb: &mut Tb| {
        tb.joined(210, 2, 2, 2, 2);
    };
    // m2 is down at the end.
    let mut tb = run(other);
    tb.end(3_000, &[0, 1]);
    for n in 0..3 {
        tb.final_view(n, true, &[0, 1, 2], false);
    }
    assert_eq!(
        check(&History::from_trace(&tb.build())).status,
        Status::Pass
    );
    // m2 was removed.
    let mut tb = run(other);
    tb.end(3_000, &[0, 1, 2]);
    tb.final_view(0, true, &[0, 1], false)
        .final_view(1, true, &[0, 1], false)
        .final_view(2, false, &[], false);
    assert_eq!(
        check(&History::from_trace(&tb.build())).status,
        Status::Pass
    );
}

#[test]
fn lightweight_runs_and_odd_traces() {
    let v = check(&History::from_trace(&healthy()));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert!(v.summary.contains("no coordinated group"));
    assert_eq!(check(&History::default()).status, Status::Unknown);
    let unended = run(|_| {});
    let v = check(&History::from_trace(&unended.build()));
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
}

/// Generation 2 contested: m0 forms it at c1, m2 at c2 (both after c0
/// failed). The tie rule names c1 (the lower server).
fn contested(end: impl FnOnce(&mut Tb)) -> Verdict {
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.accepted(0, 0, 1, 0);
    for n in 0..3 {
        tb.joined(0, n, 1, 0, 0);
        tb.fell_back(100, n);
    }
    tb.accepted(200, 1, 2, 0).accepted(210, 2, 2, 2);
    end(&mut tb);
    check(&ended(tb))
}

/// m0..m2 join `generation` at `c{server}`, nominated by `nominator`.
fn all_join(tb: &mut Tb, t: u64, (generation, server, nominator): (u32, u32, u32)) {
    for n in 0..3 {
        tb.joined(t, n, generation, server, nominator);
    }
}

#[test]
fn a_contested_generation_settles_where_the_tie_rule_says() {
    let v = contested(|tb| all_join(tb, 300, (2, 1, 0)));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    // One group, but at the server the rule does not name, which its
    // nominator formed and left for the other.
    let v = contested(|tb| {
        tb.joined(220, 0, 2, 1, 0);
        all_join(tb, 300, (2, 2, 2));
    });
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(
        v.evidence[0].note.contains("the tie rule names c1"),
        "{v:#?}"
    );
}

/// The rule's choice holds while its server serves: c1 crashing after it
/// accepted frees the members to settle in c2's generation 2
/// (`coordinated-refused-choice-welcome-taken`).
#[test]
fn the_tie_rule_binds_only_while_its_choice_serves() {
    let v = contested(|tb| {
        let crash = crate::faults::FaultKind::Crash {
            host: crate::core::ids::Peer::named("c1"),
            state: crate::faults::StateOnRestart::Kept,
        };
        tb.fault(250, 0, crate::trace::Phase::Begin, crash);
        all_join(tb, 300, (2, 2, 2));
    });
    assert_eq!(v.status, Status::Pass, "{v:#?}");
}

/// The choice is dead once every member that joined it fell back from it
/// on its own evidence; moved off it by the other nomination's Welcome, as
/// a wrong tie rule does, it is not.
#[test]
fn the_tie_rule_binds_only_while_its_choice_has_members() {
    let v = contested(|tb| {
        tb.joined(220, 0, 2, 1, 0).fell_back(260, 0);
        all_join(tb, 300, (2, 2, 2));
    });
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    let v = contested(|tb| {
        tb.joined(220, 0, 2, 1, 0);
        tb.fell_back_for(260, 0, crate::core::event::FallbackCause::Superseded);
        all_join(tb, 300, (2, 2, 2));
    });
    assert_eq!(v.status, Status::Fail, "{v:#?}");
}

#[test]
fn a_further_takeover_of_a_working_generation_fails() {
    let v = contested(|tb| {
        all_join(tb, 300, (2, 1, 0));
        tb.accepted(400, 0, 3, 1);
        all_join(tb, 410, (3, 0, 1));
    });
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(
        v.evidence[0].note.contains("generation 3 was formed"),
        "{v:#?}"
    );
}

/// m3 alone nominates c1 and forms generation 2 there; c2 accepts m2's
/// nomination, which m0..m2 join, though the tie rule names c1. `leave`
/// says what then becomes of m3; `lost` whether it ends with its state.
fn lone_choice(leave: impl FnOnce(&mut Tb), lost: bool) -> Verdict {
    let mut tb = Tb::start(&[0, 1, 2, 3]);
    tb.accepted(0, 0, 1, 0);
    for n in 0..4 {
        tb.joined(0, n, 1, 0, 0);
        tb.fell_back(100, n);
    }
    tb.accepted(200, 1, 2, 3).accepted(210, 2, 2, 2);
    tb.joined(220, 3, 2, 1, 3);
    all_join(&mut tb, 300, (2, 2, 2));
    leave(&mut tb);
    tb.end(3_000, &[0, 1, 2, 3]);
    for n in 0..3 {
        tb.final_view(n, true, &[0, 1, 2], false);
    }
    tb.final_view(3, false, &[], lost);
    check(&History::from_trace(&tb.build()))
}

/// The choice is dead, too, when the only member in it was wiped there
/// and never came back (`coordinated-choice-nominator-wiped`); not while
/// that member is still up.
#[test]
fn the_tie_rule_binds_only_while_its_choice_keeps_its_state() {
    let v = |lost: bool| lone_choice(|_| {}, lost);
    assert_eq!(v(true).status, Status::Pass, "{:#?}", v(true));
    assert_eq!(v(false).status, Status::Fail, "{:#?}", v(false));
}

/// A choice that nobody joined, its nominator included, was never formed
/// (the acceptance was lost and the nominator went on to another server):
/// it binds nobody (`coordinated-accept-lost-choice-unformed`).
#[test]
fn the_tie_rule_binds_only_a_choice_that_was_formed() {
    // c1 accepted m0's nomination, which m0 never heard of.
    let v = contested(|tb| all_join(tb, 300, (2, 2, 2)));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
}

/// m3, removed while cut off, nominates c1 and forms generation 2 there
/// alone; the tie rule would name it over m2's at c2, which the others
/// join. Once m3 learns of its removal and falls back for it, its
/// generation was no group's, and binds nobody
/// (`coordinated-removed-nominator-choice`); left for another cause, it
/// still binds.
#[test]
fn the_tie_rule_binds_no_generation_its_removed_nominator_left() {
    use crate::core::event::FallbackCause;
    let v = |cause: FallbackCause| {
        lone_choice(
            |tb| {
                tb.fell_back_for(400, 3, cause);
            },
            false,
        )
    };
    let removed = v(FallbackCause::Removed);
    assert_eq!(removed.status, Status::Pass, "{removed:#?}");
    let moved = v(FallbackCause::Superseded);
    assert_eq!(moved.status, Status::Fail, "{moved:#?}");
}
