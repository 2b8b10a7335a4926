use super::*;
use crate::checkers::history::History;
use crate::checkers::testkit::*;
use crate::trace::Trace;

fn run(t: &Trace) -> Verdict {
    check(&History::from_trace(t))
}

/// m0 removes m1 (m0#1) and m1 removes m0 (m1#0); both follow m0#0 only,
/// so they are concurrent. Fork time 210; deadline max(210, heal) + 500.
fn quarrel(at: Millis) -> Tb {
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.exchange(100, id(0, 0), &[0, 1, 2], &[])
        .send(at, id(0, 1), &[0, 2], &[id(0, 0)])
        .remove(at, 0, 1, id(0, 1))
        .send(at + 10, id(1, 0), &[1, 2], &[id(0, 0)])
        .remove(at + 10, 1, 0, id(1, 0));
    tb
}

/// Everyone up; m0 and m2 agree on {m0, m2}; m1 is alone.
fn end_split(tb: &mut Tb) -> Trace {
    tb.end(3_000, &[0, 1, 2])
        .final_view(0, true, &[0, 2], false)
        .final_view(1, true, &[1], false)
        .final_view(2, true, &[0, 2], false)
        .build()
}

#[test]
fn no_fork_passes() {
    let v = run(&healthy());
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.summary, "no fork occurred");
    assert_eq!(v.measured[Figure::Forks], 0);
}

#[test]
fn a_mutual_removal_detected_by_both_sides_passes() {
    let deadline = HEAL + DETECTION;
    let mut tb = quarrel(200);
    tb.fork(1_200, 0, &[1]).fork(deadline, 1, &[0]);
    let v = run(&end_split(&mut tb));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    // The mutual removal, and the islands it left behind.
    assert_eq!(v.measured[Figure::Forks], 2);
    assert_eq!(v.measured[Figure::SidesDetected], 4);
    assert_eq!(v.measured[Figure::FalseAlarms], 0);
    assert_eq!(v.measured[Figure::DetectionLatencyMaxMs], deadline - 210);
}

#[test]
fn an_undetected_side_fails_rule_a() {
    let mut tb = quarrel(200);
    tb.fork(1_200, 0, &[1]);
    let v = run(&end_split(&mut tb));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    let e = &v.evidence[0];
    assert_eq!(e.members[0], m(1), "{e:?}");
    assert!(e.messages.contains(&id(1, 0)) && e.messages.contains(&id(0, 1)));
    assert!(e.note.contains("not detected by m1"), "{}", e.note);
}

#[test]
fn a_late_detection_fails_rule_a() {
    let deadline = HEAL + DETECTION;
    let mut tb = quarrel(200);
    tb.fork(1_200, 0, &[1]).fork(deadline + 1, 1, &[0]);
    let v = run(&end_split(&mut tb));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(
        v.measured[Figure::SidesDetectedLate],
        2,
        "pair side and island side"
    );
    assert!(
        v.evidence[0].note.contains("only at 1501 ms"),
        "{:?}",
        v.evidence[0]
    );
    assert_eq!(v.evidence[0].at_ms, Some(deadline + 1));
}

#[test]
fn a_fork_after_heal_is_timed_from_the_fork() {
    let mut tb = quarrel(2_000);
    tb.fork(2_500, 0, &[1]).fork(2_510, 1, &[0]);
    tb.end(3_000, &[0, 1, 2])
        .final_view(0, true, &[0, 1, 2], false)
        .final_view(1, true, &[0, 1, 2], false)
        .final_view(2, true, &[0, 1, 2], false);
    let v = run(&tb.build());
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::Forks], 1);
    assert_eq!(v.measured[Figure::DetectionLatencyMaxMs], 500);
}

#[test]
fn an_undetected_side_of_an_unreachable_member_is_unknown() {
    let mut tb = quarrel(200);
    tb.fork(1_200, 0, &[1])
        .end(3_000, &[0, 2])
        .final_view(0, true, &[0, 2], false)
        .final_view(1, true, &[1], false)
        .final_view(2, true, &[0, 2], false);
    let v = run(&tb.build());
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert_eq!(v.measured[Figure::SidesMissedUnreachable], 1);
    assert!(
        v.evidence[0].note.contains("unreachable"),
        "{:?}",
        v.evidence[0]
    );
}

#[test]
fn causally_ordered_removals_are_no_fork_and_a_report_is_a_false_alarm() {
    // m1 removes m0 after seeing m0's removal of m1 (m0#1 is its parent).
    let t = Tb::start(&[0, 1, 2])
        .exchange(100, id(0, 0), &[0, 1, 2], &[])
        .send(200, id(0, 1), &[0, 1, 2], &[id(0, 0)])
        .remove(200, 0, 1, id(0, 1))
        .send(300, id(1, 0), &[1, 2], &[id(0, 1)])
        .remove(300, 1, 0, id(1, 0))
        .fork(400, 0, &[1])
        .end_agreed(&[0, 2], &[0, 2])
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.summary, "no fork occurred; 1 false alarm(s)");
    assert_eq!(v.measured[Figure::OrderedRemovals], 1);
    assert_eq!(v.measured[Figure::FalseAlarms], 1);
    assert!(
        v.evidence
            .iter()
            .any(|e| e.note.starts_with("false alarm: m0"))
    );
}

#[test]
fn a_removal_after_ones_own_earlier_message_is_ordered_too() {
    // m1 saw m0#1 in m1#0, then removes m0 in m1#1 with no parents listed.
    let t = Tb::start(&[0, 1])
        .send(200, id(0, 1), &[0, 1], &[])
        .remove(200, 0, 1, id(0, 1))
        .send(250, id(1, 0), &[0, 1], &[id(0, 1)])
        .send(300, id(1, 1), &[1], &[])
        .remove(300, 1, 0, id(1, 1))
        .end_agreed(&[0], &[0])
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::OrderedRemovals], 1);
}

#[test]
fn islands_without_detection_fail_rule_b() {
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.fork(1_100, 0, &[2]);
    let v = run(&end_split_islands(&mut tb));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.measured[Figure::SidesDetected], 1);
    assert_eq!(v.evidence[0].members[0], m(2), "{:?}", v.evidence[0]);
    assert!(
        v.evidence[0].note.contains("island {m2}"),
        "{}",
        v.evidence[0].note
    );
}

#[test]
fn islands_detected_on_every_side_pass() {
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.fork(1_100, 0, &[2]).fork(1_200, 2, &[1]);
    let v = run(&end_split_islands(&mut tb));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::Forks], 1);
    assert_eq!(v.measured[Figure::DetectionLatencyMaxMs], 200);
}

fn end_split_islands(tb: &mut Tb) -> Trace {
    tb.end(3_000, &[0, 1, 2])
        .final_view(0, true, &[0, 1], false)
        .final_view(1, true, &[0, 1], false)
        .final_view(2, true, &[2], false)
        .build()
}

#[test]
fn unknown_without_bounds_end_or_message_order() {
    let v = run(&Tb::headless().fork(5, 0, &[1]).build());
    assert_eq!(v.status, Status::Unknown);
    assert!(v.summary.contains("no run_started"), "{}", v.summary);

    let mut tb = quarrel(200);
    tb.fork(1_200, 0, &[1]).fork(1_200, 1, &[0]);
    let v = run(&tb.build());
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert!(v.summary.contains("no run_ended"), "{}", v.summary);

    // The removals' messages were never recorded as sent.
    let t = Tb::start(&[0, 1])
        .remove(200, 0, 1, id(0, 1))
        .remove(210, 1, 0, id(1, 0))
        .end_agreed(&[0, 1], &[0, 1])
        .build();
    let v = run(&t);
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert_eq!(v.measured[Figure::UndeterminedRemovals], 1);
}

/// A member that compares epoch authenticators with another the forking
/// server lied to reports a fork the server made: counted apart, not as a
/// false alarm. The same report with no `fork` lie behind it is one.
#[test]
fn a_report_of_a_servers_fork_is_no_false_alarm() {
    use crate::core::server::dishonest::Mode;
    let report = |lie: bool| {
        let mut tb = Tb::start(&[0, 1, 2]);
        tb.exchange(100, id(0, 0), &[0, 1, 2], &[]);
        if lie {
            tb.lied(150, 0, Mode::Fork, &[0], (1, 3))
                .lied(150, 0, Mode::Fork, &[1, 2], (1, 3));
        }
        tb.fork(400, 0, &[2]).end_agreed(&[0, 1, 2], &[0, 1, 2]);
        run(&tb.build())
    };
    let v = report(true);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::FalseAlarms], 0, "{v:#?}");
    assert_eq!(v.measured[Figure::ServerForkReports], 1, "{v:#?}");
    let v = report(false);
    assert_eq!(v.measured[Figure::FalseAlarms], 1, "{v:#?}");
}
