use super::*;
use crate::checkers::history::History;
use crate::checkers::testkit::*;
use crate::trace::Trace;

fn run(t: &Trace) -> Verdict {
    check(&History::from_trace(t))
}

#[test]
fn agreed_view_passes() {
    let v = run(&healthy());
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert!(v.summary.contains("hold {m0, m1, m2}"), "{}", v.summary);
    assert_eq!(v.measured[Figure::Considered], 3);
    assert_eq!(v.measured[Figure::DistinctViews], 1);
    // Nothing changed after the heal: no settling time, rather than zero.
    assert_eq!(v.measured.get(Figure::SettledAfterMs), None);
}

#[test]
fn disjoint_islands_pass_but_say_forked() {
    let t = Tb::start(&[0, 1, 2, 3])
        .end(3_000, &[0, 1, 2, 3])
        .final_view(0, true, &[0, 1], false)
        .final_view(1, true, &[0, 1], false)
        .final_view(2, true, &[2, 3], false)
        .final_view(3, true, &[2, 3], false)
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert!(v.summary.contains("forked into 2 islands"), "{}", v.summary);
    assert_eq!(v.measured[Figure::Islands], 2);
}

#[test]
fn overlapping_views_fail_rule_a() {
    let t = Tb::start(&[0, 1, 2])
        .end(3_000, &[0, 1, 2])
        .final_view(0, true, &[0, 1, 2], false)
        .final_view(1, true, &[0, 1, 2], false)
        .final_view(2, true, &[1, 2], false)
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(
        v.summary.contains("2 different overlapping views"),
        "{}",
        v.summary
    );
    assert!(
        v.evidence
            .iter()
            .any(|e| e.members == [m(2)] && e.note.contains("{m1, m2}"))
    );
}

#[test]
fn a_change_after_the_deadline_fails_rule_b() {
    let deadline = HEAL + CONVERGENCE;
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.changed(deadline, 0, &[0, 1, 2], true)
        .changed(deadline + 1, 1, &[0, 1, 2], true);
    let v = run(&tb.end_agreed(&[0, 1, 2], &[0, 1, 2]).build());
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.measured[Figure::LateChanges], 1);
    // Settling is timed from the heal to the last change.
    assert_eq!(v.measured[Figure::SettledAfterMs], CONVERGENCE + 1);
    let e = &v.evidence[0];
    assert_eq!(
        (e.members.as_slice(), e.at_ms),
        (&[m(1)][..], Some(deadline + 1))
    );
}

#[test]
fn late_changes_of_members_not_considered_do_not_count() {
    let t = Tb::start(&[0, 1, 2])
        .changed(2_000, 2, &[0, 1, 2], true)
        .end(3_000, &[0, 1])
        .final_view(0, true, &[0, 1, 2], false)
        .final_view(1, true, &[0, 1, 2], false)
        .final_view(2, true, &[0, 1, 2], false)
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
}

#[test]
fn a_stale_member_fails_rule_c() {
    let t = Tb::start(&[0, 1, 2])
        .end(3_000, &[0, 1, 2])
        .final_view(0, true, &[0, 1, 2], false)
        .final_view(1, true, &[0, 1, 2], false)
        .final_view(2, false, &[], false)
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.measured[Figure::StaleMembers], 1);
    assert!(v.summary.contains("stale"), "{}", v.summary);
    assert_eq!(v.evidence[0].members[0], m(2));
}

#[test]
fn an_out_of_group_member_that_is_unreachable_is_not_stale() {
    let t = Tb::start(&[0, 1, 2])
        .end(3_000, &[0, 1, 2])
        .final_view(0, true, &[0, 1, 2], false)
        .final_view(1, true, &[0, 1, 2], false)
        .final_view(2, false, &[], true)
        .build();
    assert_eq!(run(&t).status, Status::Pass);
}

#[test]
fn unknown_without_start_end_or_anyone_in_the_group() {
    let mut headless = Tb::headless();
    headless.end(10, &[0]).final_view(0, true, &[0], false);
    let v = run(&headless.build());
    assert_eq!(v.status, Status::Unknown);
    assert!(v.summary.contains("no run_started"), "{}", v.summary);

    let v = run(&Tb::start(&[0]).changed(5, 0, &[0], true).build());
    assert_eq!(v.status, Status::Unknown);
    assert!(v.summary.contains("no run_ended"), "{}", v.summary);

    let t = Tb::start(&[0, 1])
        .end(3_000, &[0])
        .final_view(0, false, &[], false)
        .final_view(1, true, &[0, 1], false)
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert!(v.summary.contains("no reachable member"), "{}", v.summary);
}

/// The old deadline ignored membership ops: a removal made after the last
/// fault had healed was reported as a late change.
#[test]
fn the_deadline_counts_from_the_last_membership_op() {
    let op_at = HEAL + 2 * CONVERGENCE;
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.remove(op_at, 0, 2, id(0, 1))
        .changed(op_at + CONVERGENCE / 2, 1, &[0, 1], true)
        .changed(op_at + CONVERGENCE / 2, 2, &[0, 1], false);
    let v = run(&tb.end_agreed(&[0, 1], &[0, 1]).build());
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::DeadlineMs], op_at + CONVERGENCE);
    // A change that comes too long after the op still fails.
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.remove(op_at, 0, 2, id(0, 1))
        .changed(op_at + CONVERGENCE + 1, 1, &[0, 1], true);
    let v = run(&tb.end_agreed(&[0, 1], &[0, 1]).build());
    assert_eq!(v.status, Status::Fail, "{v:#?}");
}
