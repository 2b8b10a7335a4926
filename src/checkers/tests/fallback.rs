use super::*;
use crate::checkers::testkit::*;
use crate::core::ids::MemberId;
use crate::core::ids::Peer;
use crate::core::server::dishonest::Mode;
use crate::faults::{FaultKind, StateOnRestart};
use crate::trace::HostEvent;
use crate::trace::{Event, Phase};

fn crash_of(server: &str) -> FaultKind {
    FaultKind::Crash {
        host: Peer::named(server),
        state: StateOnRestart::Kept,
    }
}

fn crash(tb: &mut Tb, t: Millis, server: &str) {
    tb.fault(t, 0, Phase::Begin, crash_of(server));
}

/// Members 0..=2 joined generation 1 at c0, which crashes at 1 s.
fn served(fall_back: &[(u32, u64)]) -> Tb {
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.accepted(100, 0, 1, 0);
    for n in 0..3 {
        tb.joined(200, n, 1, 0, 0);
    }
    crash(&mut tb, 1_000, "c0");
    for (n, t) in fall_back {
        tb.fell_back(*t, *n);
    }
    tb
}

fn history(fall_back: &[(u32, u64)]) -> History {
    let mut tb = served(fall_back);
    tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
    History::from_trace(&tb.build())
}

#[test]
fn passes_when_everyone_falls_back_in_time() {
    let v = check(&history(&[(0, 1_100), (1, 1_200), (2, 1_300)]));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::FallbackLatencyMaxMs], 300);
    assert_eq!(v.measured.get(Figure::TakeoverLatencyMaxMs), None);
}

#[test]
fn the_takeover_is_timed_only_when_everyone_joined_the_next_generation() {
    for (everyone, takeover) in [(false, None), (true, Some(2_400))] {
        let mut tb = served(&[(0, 1_100), (1, 1_200), (2, 1_300)]);
        tb.joined(2_500, 0, 2, 1, 0).joined(3_400, 1, 2, 1, 0);
        if everyone {
            tb.joined(2_900, 2, 2, 1, 0);
        }
        tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
        let v = check(&History::from_trace(&tb.build()));
        assert_eq!(
            v.measured.get(Figure::TakeoverLatencyMaxMs),
            takeover,
            "{v:#?}"
        );
    }
}

#[test]
fn fails_when_a_member_never_falls_back_or_does_so_late() {
    let v = check(&history(&[(0, 1_100), (1, 1_200)]));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(mentions_member(&v, m(2)), "{v:#?}");
    assert!(v.summary.starts_with("1 of 3 fallbacks"), "{}", v.summary);
    let late = check(&history(&[(0, 1_100), (1, 1_200), (2, 1_000_000)]));
    assert_eq!(late.status, Status::Fail, "{late:#?}");
}

/// A member down when the server failed owes its fallback from when
/// it is back: m2 crashes just after c0 and falls back right after it
/// restarts, long past the deadline counted from c0's crash
/// (`coordinated-server-crash`, explored seed 31, was called late).
/// Down or not, one that never falls back once back is still missed.
#[test]
fn a_member_down_when_the_server_failed_owes_from_when_it_is_back() {
    let back = 1_000 + 3 * crate::trace::testkit::DETECTION;
    let run = |fell_back_at: Option<Millis>| {
        let mut tb = served(&[(0, 1_100), (1, 1_200)]);
        let m2 = FaultKind::Crash {
            host: Peer::named("m2"),
            state: StateOnRestart::Kept,
        };
        tb.fault(1_050, 1, Phase::Begin, m2.clone());
        tb.fault(back, 1, Phase::End, m2);
        if let Some(t) = fell_back_at {
            tb.fell_back(t, 2);
        }
        tb.end(back + 2 * crate::trace::testkit::DETECTION, &[0, 1, 2]);
        tb.final_view(0, true, &[0, 1, 2], false)
            .final_view(1, true, &[0, 1, 2], false)
            .final_view(2, true, &[0, 1, 2], false);
        check(&History::from_trace(&tb.build()))
    };
    let v = run(Some(back + 46));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    let v = run(None);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(mentions_member(&v, m(2)), "{v:#?}");
}

/// c0 crashes at 1 s with its state kept and is back at 1.3 s. The old
/// checker demanded a fallback of every member although nothing was
/// sent meanwhile: nobody could tell the crash from a quiet network.
/// A message handed to c0 during the outage that it never ordered is a failure
/// to notice again.
#[test]
fn a_crash_nobody_could_notice_owes_nothing() {
    enum Meanwhile {
        Nothing,
        Sealed,
        Submitted,
    }
    let history = |meanwhile: Meanwhile| {
        let mut tb = served(&[]);
        match meanwhile {
            Meanwhile::Nothing => {}
            Meanwhile::Sealed => {
                tb.send(1_100, id(0, 0), &[0, 1, 2], &[]);
            }
            Meanwhile::Submitted => {
                tb.submitted(1_100, id(0, 0), &[0, 1, 2]);
            }
        }
        tb.fault(1_300, 0, Phase::End, crash_of("c0"));
        tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
        History::from_trace(&tb.build())
    };
    let v = check(&history(Meanwhile::Nothing));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::IdleFailures], 1);
    let v = check(&history(Meanwhile::Submitted));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    // Sealed pairwise (forming a generation, `coordinated-adversity`
    // 310): the server never saw it, so it showed nobody the crash.
    let v = check(&history(Meanwhile::Sealed));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
}

/// Two overlapping crashes of one server are one outage: the end of the
/// first is no return (`coordinated-overlapping-crashes-one-outage`). The
/// old checker gave up at the second and owed every member a fallback.
#[test]
fn overlapping_crashes_are_one_outage() {
    let history = |submitted_at: Option<Millis>| {
        let mut tb = served(&[]);
        tb.fault(1_200, 1, Phase::Begin, crash_of("c0"));
        tb.fault(1_300, 0, Phase::End, crash_of("c0"));
        if let Some(t) = submitted_at {
            tb.submitted(t, id(0, 0), &[0, 1, 2]);
        }
        tb.fault(1_600, 1, Phase::End, crash_of("c0"));
        tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
        History::from_trace(&tb.build())
    };
    let v = check(&history(None));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    // A submission while the second crash still held it down went
    // unanswered: its sender owes a fallback.
    let v = check(&history(Some(1_400)));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(mentions_member(&v, m(0)), "{v:#?}");
}

/// A crash that runs into a refusal nobody met ends with the refusal: the
/// server is back then, though the refusal left no recovery of its own.
#[test]
fn a_crash_ending_in_an_unmet_refusal_ends_with_it() {
    let refuse = FaultKind::Refuse {
        server: crate::core::ids::ServerId(0),
    };
    let mut tb = served(&[]);
    tb.fault(1_200, 1, Phase::Begin, refuse.clone());
    tb.fault(1_300, 0, Phase::End, crash_of("c0"));
    tb.fault(1_500, 1, Phase::End, refuse);
    tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
    let v = check(&History::from_trace(&tb.build()));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
}

/// The old checker started the clock at any server's crash: a standby
/// candidate's crash made every member "late".
#[test]
fn a_standby_candidate_crashing_owes_nothing() {
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.accepted(100, 0, 1, 0);
    for n in 0..3 {
        tb.joined(200, n, 1, 0, 0);
    }
    crash(&mut tb, 500, "c1");
    tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
    let v = check(&History::from_trace(&tb.build()));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::IdleFailures], 1);
}

/// The old checker demanded a fallback from a member that joined the
/// group (in lightweight mode) after the server had already failed.
#[test]
fn a_member_added_after_the_failure_owes_nothing() {
    let mut tb = Tb::start(&[0, 1, 2, 3]);
    tb.accepted(100, 0, 1, 0);
    for n in 0..3 {
        tb.joined(200, n, 1, 0, 0);
    }
    crash(&mut tb, 1_000, "c0");
    for n in 0..3 {
        tb.fell_back(1_200, n);
    }
    tb.end_agreed(&[0, 1, 2, 3], &[0, 1, 2, 3]);
    let v = check(&History::from_trace(&tb.build()));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::Owed], 3);
}

/// The old checker demanded a fallback from a lightweight group whose
/// members never joined a generation.
#[test]
fn a_never_coordinated_group_owes_nothing() {
    let mut tb = Tb::start(&[0, 1, 2]);
    crash(&mut tb, 1_000, "c0");
    tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
    let v = check(&History::from_trace(&tb.build()));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
}

#[test]
fn a_second_serving_server_failing_is_judged_too() {
    let mut tb = served(&[(0, 1_100), (1, 1_100), (2, 1_100)]);
    tb.accepted(2_000, 1, 2, 0);
    for n in 0..3 {
        tb.joined(2_100, n, 2, 1, 0);
    }
    crash(&mut tb, 3_000, "c1");
    tb.fell_back(3_100, 0);
    tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
    let v = check(&History::from_trace(&tb.build()));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(
        mentions_member(&v, m(1)) && mentions_member(&v, m(2)),
        "{v:#?}"
    );
}

/// The old checker started the clock at a `refuse` fault's begin, so a
/// refusal window that no request met made every member "late".
#[test]
fn a_refusal_counts_from_the_first_request_it_turns_away() {
    let refuse = |tb: &mut Tb, t: Millis, phase: Phase| {
        let server = crate::core::ids::ServerId(0);
        tb.fault(t, 0, phase, FaultKind::Refuse { server });
    };
    let start = || {
        let mut tb = Tb::start(&[0, 1]);
        tb.accepted(100, 0, 1, 0);
        tb.joined(200, 0, 1, 0, 0).joined(200, 1, 1, 0, 0);
        tb
    };
    let mut tb = start();
    refuse(&mut tb, 1_000, Phase::Begin);
    refuse(&mut tb, 1_200, Phase::End);
    tb.end_agreed(&[0, 1], &[0, 1]);
    let v = check(&History::from_trace(&tb.build()));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    // Met by a request, the refusal is a failure from then on: while it
    // lasts, every member it served owes a fallback.
    let turned_away = |fell: bool, ends: bool, lost: bool| {
        let mut tb = start();
        refuse(&mut tb, 1_000, Phase::Begin);
        tb.at(
            1_100,
            "c0",
            Event::Host(HostEvent::SubmitRejected {
                sender: m(0),
                reason: crate::core::server::sequencer::Rejection::Refused,
            }),
        );
        if lost {
            let to = Peer::Member(m(0));
            tb.at(1_100, "c0", Event::DatagramLost { to, bytes: 3 });
        }
        if fell {
            tb.fell_back(1_150, 0);
        }
        if ends {
            refuse(&mut tb, 1_200, Phase::End);
        }
        tb.end_agreed(&[0, 1], &[0, 1]);
        check(&History::from_trace(&tb.build()))
    };
    let v = turned_away(true, false, false);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(mentions_member(&v, m(1)), "{v:#?}");
    // Once it ended, only the members it turned away owed one: m1 was
    // served again by the time anyone could tell it
    // (`coordinated-brief-refusal-one-member`).
    let v = turned_away(true, true, false);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    let v = turned_away(false, true, false);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(mentions_member(&v, m(0)), "{v:#?}");
    // Unless the network lost the refusal: it told m0 nothing
    // (`coordinated-refusal-answer-lost`).
    let v = turned_away(false, true, true);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
}

#[test]
fn nothing_to_judge_without_a_server_failure() {
    assert_eq!(check(&History::from_trace(&healthy())).status, Status::Pass);
    assert_eq!(check(&History::default()).status, Status::Unknown);
}

/// m0 and m1 in generation 1 at c0; m0 submits at 100 ms and c0 never
/// answers (a partition between them, say), with no server failure.
fn unanswered(fell_back_at: Option<Millis>) -> Verdict {
    let mut tb = Tb::start(&[0, 1]);
    tb.accepted(10, 0, 1, 0);
    tb.joined(20, 0, 1, 0, 0).joined(20, 1, 1, 0, 0);
    tb.submitted(100, id(0, 0), &[0, 1]);
    if let Some(t) = fell_back_at {
        tb.fell_back(t, 0);
    }
    tb.end_agreed(&[0, 1], &[0, 1]);
    check(&History::from_trace(&tb.build()))
}

#[test]
fn a_member_whose_submission_goes_unanswered_owes_a_fallback() {
    let v = unanswered(Some(400));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::Stalls], 1);
    assert_eq!(v.measured[Figure::Owed], 1);
    for late in [None, Some(100 + DETECTION + 1)] {
        let v = unanswered(late);
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        assert!(mentions_member(&v, m(0)), "{v:#?}");
        assert!(v.summary.contains("went unanswered"), "{}", v.summary);
    }
}

/// `served`, with two candidate servers and a takeover bound whose
/// deadline falls at 1300 + 100 × 4 + 2 × 200 = 2100 ms.
fn handed_over(join_at: Option<Millis>) -> Verdict {
    let mut tb = served(&[(0, 1_100), (1, 1_200), (2, 1_300)]);
    tb.with_servers();
    if let Some(t) = join_at {
        tb.accepted(t - 10, 1, 2, 0).joined(t, 0, 2, 1, 0);
    }
    tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
    check(&History::from_trace(&tb.build()))
}

#[test]
fn a_group_that_fell_back_owes_a_takeover_when_one_could_happen() {
    let v = handed_over(Some(1_800));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::TakeoversOwed], 1);
    for late in [None, Some(2_500)] {
        let v = handed_over(late);
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        assert_eq!(v.measured[Figure::TakeoversMissed], 1, "{v:#?}");
        assert!(v.summary.contains("takeovers owed"), "{}", v.summary);
    }
}

/// Members 0..=2 in generation 1 at c0, whose `lies` come at 1 s while
/// `cut` lasts from 500 ms to `heal`. Everyone falls back at `fall_back`.
fn lied_while_cut(
    tb: &mut Tb,
    cut: FaultKind,
    lies: Vec<(Mode, Vec<MemberId>)>,
    heal: Millis,
    fall_back: Millis,
) -> Verdict {
    tb.accepted(100, 0, 1, 0);
    for n in 0..3 {
        tb.joined(200, n, 1, 0, 0);
    }
    tb.fault(500, 0, Phase::Begin, cut.clone());
    tb.fault(heal, 0, Phase::End, cut);
    for (mode, to) in lies {
        let lie = HostEvent::Lied {
            mode,
            to,
            generation: 1,
            seq: 0,
        };
        tb.at(1_000, "c0", Event::Host(lie));
    }
    for n in 0..3 {
        tb.fell_back(fall_back, n);
    }
    tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
    check(&History::from_trace(&tb.build()))
}

/// c0 forks (m0 on one side, m1 and m2 on the other) while a partition
/// cuts m0 off from m1 and m2.
fn forked_across(heal: Millis, fall_back: Millis) -> Verdict {
    let cut = FaultKind::Partition {
        a: vec![Peer::Member(m(0))],
        b: vec![Peer::Member(m(1)), Peer::Member(m(2))],
    };
    let lies = vec![(Mode::Fork, vec![m(0)]), (Mode::Fork, vec![m(1), m(2)])];
    lied_while_cut(&mut Tb::start(&[0, 1, 2]), cut, lies, heal, fall_back)
}

/// A fork shows nothing wrong to a member on its own: its victims owe the
/// fallback from their first chance to compare notes, here the heal.
/// Counted from the lie, every member of a
/// fork made across a partition was called late
/// (`coordinated-fork-across-partition-recovered`).
#[test]
fn a_fork_is_owed_from_the_first_chance_to_compare() {
    // Healed at 2 s, all fell back at 2.4 s: within 500 ms of the heal,
    // 1.4 s after the lie.
    let v = forked_across(2_000, 2_400);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::Owed], 3);
    // Still owed, and late, when they wait too long after the heal.
    let v = forked_across(2_000, 2_600);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.measured[Figure::Late], 3);
    // Healed too late to compare before the run ends at 3 s: nothing owed.
    let v = forked_across(2_800, 2_900);
    assert_eq!(v.measured[Figure::Owed], 0, "{v:#?}");
}

/// c0 withholds m0's message (`drop`) while a partition keeps m0 from
/// its only mailbox (s0); m1 and m2 have theirs at s1.
fn dropped_while_cut_from_mailbox(heal: Millis, fall_back: Millis) -> Verdict {
    let mut tb = Tb::start(&[0, 1, 2]);
    tb.mailboxes(&[&[0], &[1], &[1]]);
    let cut = FaultKind::Partition {
        a: vec![Peer::Member(m(0))],
        b: vec![Peer::named("s0")],
    };
    lied_while_cut(
        &mut tb,
        cut,
        vec![(Mode::Drop, vec![m(0)])],
        heal,
        fall_back,
    )
}

/// Only the victim of a drop can see it, and only through its mailbox:
/// the fallback is owed from when it can fetch and tell the others
/// (`coordinated-drop-victim-cut-from-mailboxes`).
#[test]
fn a_drop_is_owed_from_when_its_victim_can_see_it() {
    // The detection bound is 500 ms: 1.5 s after the lie, but 400 ms
    // after the heal.
    let v = dropped_while_cut_from_mailbox(2_000, 2_400);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    assert_eq!(v.measured[Figure::Owed], 3);
    let v = dropped_while_cut_from_mailbox(2_000, 2_600);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert_eq!(v.measured[Figure::Late], 3);
}

/// A member that submitted during a short crash of its server, then went
/// down before its receipt was due and came back without its volatile
/// state, forgot the submission: its server was back and serving, and it
/// owes nothing. Back with its state kept, it still owes the fallback.
#[test]
fn a_submission_forgotten_in_a_memory_loss_owes_nothing() {
    let history = |volatile_lost: bool| {
        let mut tb = served(&[]);
        tb.with_servers();
        tb.submitted(1_100, id(0, 0), &[0, 1, 2]);
        let state = if volatile_lost {
            StateOnRestart::VolatileLost
        } else {
            StateOnRestart::Kept
        };
        let down = FaultKind::Crash {
            host: Peer::named("m0"),
            state,
        };
        tb.fault(1_150, 1, Phase::Begin, down.clone());
        tb.fault(1_500, 0, Phase::End, crash_of("c0"));
        tb.fault(2_000, 1, Phase::End, down);
        tb.restarted(2_000, 0, volatile_lost);
        tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
        History::from_trace(&tb.build())
    };
    let v = check(&history(true));
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    let v = check(&history(false));
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(mentions_member(&v, m(0)), "{v:#?}");
}

/// A drop victim cut off from the others and wiped before the heal can
/// show nobody the lie: the others owe no fallback for it. Wiped only
/// after its chance, it could have, and they owe it.
#[test]
fn a_victim_wiped_before_it_could_tell_gives_nobody_a_chance() {
    let verdict = |wiped_at: Millis| {
        let mut tb = Tb::start(&[0, 1, 2]);
        tb.accepted(100, 0, 1, 0);
        for n in 0..3 {
            tb.joined(200, n, 1, 0, 0);
        }
        let cut = FaultKind::Partition {
            a: vec![Peer::Member(m(0))],
            b: vec![Peer::Member(m(1)), Peer::Member(m(2))],
        };
        tb.fault(500, 0, Phase::Begin, cut.clone());
        let lie = HostEvent::Lied {
            mode: Mode::Drop,
            to: vec![m(0)],
            generation: 1,
            seq: 0,
        };
        tb.at(1_000, "c0", Event::Host(lie));
        let wipe = FaultKind::Crash {
            host: Peer::named("m0"),
            state: StateOnRestart::Wiped,
        };
        tb.fault(wiped_at, 1, Phase::Begin, wipe.clone());
        tb.fault(wiped_at + 100, 1, Phase::End, wipe);
        tb.fault(2_000, 0, Phase::End, cut);
        tb.end(3_000, &[0, 1, 2])
            .final_view(0, false, &[], true)
            .final_view(1, true, &[0, 1, 2], false)
            .final_view(2, true, &[0, 1, 2], false);
        check(&History::from_trace(&tb.build()))
    };
    let v = verdict(1_500);
    assert_eq!(v.status, Status::Pass, "{v:#?}");
    let v = verdict(2_600);
    assert_eq!(v.status, Status::Fail, "{v:#?}");
    assert!(mentions_member(&v, m(1)), "{v:#?}");
}
