use super::*;
use crate::checkers::testkit::*;

const G2: (u32, u32) = (2, 1);

/// m0 forms generation 2 at c1 and m1, m2 join; all enter epochs 0 and 1.
/// At epoch 2, m2 holds `other` instead of the others' authenticator.
fn split(other: &str) -> Tb {
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.accepted(10, 1, 2, 0);
    for n in 0..3 {
        tb.joined(20, n, 2, 1, 0);
        tb.epoch(20, n, G2, 0, "aaaa");
        tb.epoch(30, n, G2, 1, "bbbb");
    }
    tb.epoch(40, 0, G2, 2, "cccc")
        .epoch(40, 1, G2, 2, "cccc")
        .epoch(41, 2, G2, 2, other);
    tb
}

fn end(tb: &mut Tb) -> History {
    tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
    History::from_trace(&tb.build())
}

#[test]
fn passes_when_every_member_holds_the_same_authenticator() {
    let v = check(&end(&mut split("cccc")));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::EpochsCompared], 3);
    assert_eq!(v.measured[Figure::Members], 3);
}

#[test]
fn fails_when_a_member_holds_another_authenticator_unreported() {
    let v = check(&end(&mut split("dddd")));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(
        mentions_member(&v, m(2)) && mentions_member(&v, m(0)),
        "{v:#?}"
    );
    assert!(v.evidence[0].note.contains("epoch 2"), "{v:#?}");
    assert_eq!(v.measured[Figure::PairsUndetected], 2);
}

#[test]
fn a_reported_fork_passes() {
    let mut tb = split("dddd");
    tb.fork(50, 2, &[0, 1]);
    let h = end(&mut tb);
    // Indexed by its kind name, as any later report kind would be.
    assert_eq!(h.coord.detections[0].what, "fork_detected");
    let v = check(&h);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::PairsDetected], 2);
}

#[test]
fn a_report_from_before_the_split_does_not_count() {
    let mut tb = split("dddd");
    tb.fork(5, 2, &[0, 1]);
    assert_eq!(check(&end(&mut tb)).status, Status::Fail);
}

#[test]
fn an_equivocation_report_counts_by_its_kind_name() {
    let mut h = end(&mut split("dddd"));
    // No such event exists yet: a report of that kind, as History would
    // index it.
    h.coord.detections.push(At {
        t: 50,
        idx: 0,
        host: m(0),
        what: "equivocation_detected".into(),
    });
    h.coord.detections.push(At {
        t: 50,
        idx: 0,
        host: m(1),
        what: "equivocation_detected".into(),
    });
    assert_eq!(check(&h).status, Status::Pass);
}

#[test]
fn the_same_generation_at_two_servers_is_two_groups() {
    let mut tb = split("cccc");
    tb.joined(60, 2, 2, 0, 2).epoch(60, 2, (2, 0), 2, "dddd");
    let v = check(&end(&mut tb));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::EpochsCompared], 4);
}

#[test]
fn a_removed_members_unchanged_authenticator_is_not_an_entry() {
    // m2 was removed by the commit into epoch 2: its epoch number moved on,
    // its key schedule did not.
    let v = check(&end(&mut split("bbbb")));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::RecordsNotEntered], 1);
}

#[test]
fn undetected_splits_between_unreachable_members_are_unknown() {
    let mut tb = split("dddd");
    tb.end(3_000, &[]);
    for n in 0..3 {
        tb.final_view(n, true, &[0, 1, 2], false);
    }
    let v = check(&History::from_trace(&tb.build()));
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
}

#[test]
fn no_epochs_is_no_coordinated_group() {
    let v = check(&History::from_trace(&healthy()));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert!(v.summary.contains("no coordinated group"));
    assert_eq!(check(&History::default()).status, Status::Unknown);
}

/// m2, alone on its side of the split, is wiped: within the detection
/// bound of the split nobody could have compared with it, so the pair is
/// unjudged; wiped only later, it was there to compare with, and the
/// split unreported fails.
#[test]
fn a_side_wiped_within_the_detection_bound_is_unjudged() {
    use crate::core::ids::Peer;
    use crate::faults::{FaultKind, StateOnRestart};
    use crate::trace::Phase;
    let wiped_at = |at: Millis| {
        let mut tb = split("dddd");
        let crash = FaultKind::Crash {
            host: Peer::Member(m(2)),
            state: StateOnRestart::Wiped,
        };
        tb.fault(at, 0, Phase::Begin, crash.clone())
            .fault(at + 10, 0, Phase::End, crash)
            .end(2_000, &[0, 1, 2])
            .final_view(0, true, &[0, 1, 2], false)
            .final_view(1, true, &[0, 1, 2], false)
            .final_view(2, true, &[2], true);
        check(&History::from_trace(&tb.build()))
    };
    let v = wiped_at(100);
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert_eq!(v.measured[Figure::PairsUnjudged], 2, "{v:#?}");
    let v = wiped_at(41 + DETECTION);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
}
