//! Equivocation detected: when a server agent lies (the dishonest-server
//! fault), every member it lied to detects the lie within the detection
//! bound of its first chance to compare notes: a window of that length in
//! which it could reach a live member that was not told the same lie.
//! A partition delays that chance only if it cuts the member off from
//! every such member; a victim that can still reach its half-mates is
//! judged from the lie.
//!
//! Ground truth is the server's own `lied` records (simulator
//! instrumentation: who was lied to, when, about which slot). A member
//! detects by recording `equivocation_detected` naming that server, or by
//! falling back because of it (`fell_back` naming the `liar`).
//! A member accusing a server that never lied is a false accusation, and a
//! failure: the proofs members exchange must not frame an honest server.

use super::Figure;
use super::history::{Faults, History, Lie, Membership, Run};
use super::{Evidence, Status, Verdict, list};
use crate::core::ids::{MemberId, Millis, ServerId};
use crate::core::server::dishonest::Mode;
use crate::trace::CheckId;
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: CheckId = CheckId::EquivocationDetected;

fn verdict(
    status: Status,
    summary: String,
    evidence: Vec<Evidence>,
    m: &[(Figure, u64)],
) -> Verdict {
    let measured = m.iter().copied().collect();
    Verdict::new(NAME, status, summary, evidence, measured)
}

/// The parts of the history this checker reads, and no others.
struct Parts<'a> {
    run: &'a Run,
    faults: &'a Faults,
    membership: &'a Membership,
}

pub fn check(h: &History) -> Verdict {
    judge(&Parts {
        run: &h.run,
        faults: &h.faults,
        membership: &h.membership,
    })
}

/// When `m`, lied to at `from`, learnt it was out of the group for good:
/// its first change to "not in the group" after the lie, when it ends
/// out of the group. A member removed by one of its peers has no view of
/// the group left to protect, and the others stop comparing notes with
/// it, so it owes no detection from then on.
fn removed_at(h: &Parts<'_>, m: MemberId, from: Millis) -> Option<Millis> {
    if h.run.finals.get(&m).is_none_or(|f| f.in_group) {
        return None;
    }
    h.membership
        .changes
        .iter()
        .find(|c| c.host == m && !c.what.in_group && c.t >= from)
        .map(|c| c.t)
}

/// The live members that could show `m` the lie: told the same other
/// story, a fellow victim of an equivocation (or a member on the same side
/// of a fork) shows nothing; a replay or a drop any other member can show.
pub(super) fn witnesses(run: &Run, m: MemberId, lie: &Lie) -> BTreeSet<MemberId> {
    run.finals
        .keys()
        .filter(|o| **o != m && run.reachable(**o))
        .filter(|o| !matches!(lie.mode, Mode::Equivocate | Mode::Fork) || !lie.to.contains(o))
        .copied()
        .collect()
}

/// When `m` could first compare notes with one of `with` for `detection`
/// on end. A chance that comes too late to finish before the run ended is
/// none: the run cannot show whether it would have been taken.
pub(super) fn first_chance(
    run: &Run,
    faults: &Faults,
    m: MemberId,
    with: &BTreeSet<MemberId>,
    lie: &Lie,
    detection: Millis,
) -> Option<Millis> {
    faults
        .reach
        .first_window(m, with, lie.t, detection)
        .filter(|from| {
            run.ended_at
                .is_none_or(|end| from.saturating_add(detection) <= end)
        })
}

fn judge(h: &Parts<'_>) -> Verdict {
    let (Some(bounds), Some(_)) = (h.run.bounds(), h.run.running.as_ref()) else {
        return Verdict::bare(
            NAME,
            Status::Unknown,
            "trace has no run_started or run_ended",
        );
    };
    let mut evidence = Vec::new();
    let lied = |s: ServerId| h.faults.lies.iter().any(|l| l.server == s);
    for a in h.faults.accusations.iter().filter(|a| !lied(a.what.0)) {
        evidence.push(
            Evidence::note(format!(
                "{} accused {} at {} ms ({}), which never lied",
                a.host,
                a.what.0,
                a.t,
                if a.what.1 {
                    "equivocation_detected"
                } else {
                    "fell_back"
                }
            ))
            .members([a.host])
            .at(a.t),
        );
    }
    let false_accusations = evidence.len() as u64;
    if h.faults.dishonest_faults.is_empty() {
        let (status, summary) = if evidence.is_empty() {
            (Status::Pass, "no server agent was dishonest".to_owned())
        } else {
            (
                Status::Fail,
                format!("{false_accusations} false accusations"),
            )
        };
        let m = [
            (Figure::Lies, 0),
            (Figure::FalseAccusations, false_accusations),
        ];
        return verdict(status, summary, evidence, &m);
    }
    if h.faults.lies.is_empty() && evidence.is_empty() {
        let (t, server) = h.faults.dishonest_faults[0];
        let summary =
            format!("{server} was dishonest from {t} ms but never lied: nothing to detect");
        return verdict(Status::Unknown, summary, vec![], &[(Figure::Lies, 0)]);
    }
    // The first lie to each member, per server.
    let mut first: BTreeMap<(MemberId, ServerId), &Lie> = BTreeMap::new();
    for l in &h.faults.lies {
        for m in &l.to {
            first.entry((*m, l.server)).or_insert(l);
        }
    }
    let (mut detected, mut excused, mut worst, mut proved) = (Vec::new(), Vec::new(), 0, 0);
    let mut failures = evidence;
    for (&(m, server), lie) in &first {
        let with = witnesses(h.run, m, lie);
        let chance = first_chance(h.run, h.faults, m, &with, lie, bounds.detection_ms);
        let why = if !h.run.reachable(m) {
            Some("not live at the end")
        } else if with.is_empty() {
            Some("no other live member that could show the lie")
        } else if chance.is_none() {
            Some("faults cut it off from every member it could compare with")
        } else {
            None
        };
        let (Some(from), None) = (chance, why) else {
            let why = why.unwrap_or_default();
            excused.push(Evidence::note(format!("{m}: {why}")).members([m]));
            continue;
        };
        let deadline = from.saturating_add(bounds.detection_ms);
        // The victim of a drop may notice without proof: it falls back on
        // its own receipted submission never served back. That is
        // detection too (it leaves the liar), though it accuses nobody;
        // in a silent group nothing else could ever show the drop
        // (`coordinated-withheld-commit-noticed`).
        let noticed = (lie.mode == Mode::Drop)
            .then(|| {
                (h.faults.withheld.iter())
                    .find(|w| w.host == m && w.t >= lie.t)
                    .map(|w| w.t)
            })
            .flatten();
        let accused = h
            .faults
            .accusations
            .iter()
            .find(|a| a.host == m && a.what.0 == server && a.t >= lie.t)
            .map(|a| a.t);
        proved += u64::from(accused.is_some());
        let found = accused.into_iter().chain(noticed).min();
        let contact = if from > lie.t {
            format!(", first able to compare at {from} ms")
        } else {
            String::new()
        };
        let what = format!(
            "{server} lied to {m} ({}, slot {} of generation {}) at {} ms{contact}",
            lie.mode, lie.seq, lie.generation, lie.t
        );
        if let Some(t) = removed_at(h, m, lie.t).filter(|t| *t <= deadline)
            && found.is_none_or(|f| f > t)
        {
            excused.push(
                Evidence::note(format!(
                    "{what}; removed from the group at {t} ms, before it detected the lie"
                ))
                .members([m])
                .at(t),
            );
            continue;
        }
        match found {
            Some(t) if t <= deadline => {
                worst = worst.max(t - lie.t);
                detected.push(
                    Evidence::note(format!("{what}; detected at {t} ms"))
                        .members([m])
                        .at(t),
                );
            }
            Some(t) => failures.push(
                Evidence::note(format!(
                    "{what}; detected only at {t} ms, after the deadline of {deadline} ms"
                ))
                .members([m])
                .at(t),
            ),
            None => failures.push(
                Evidence::note(format!("{what}; never detected (deadline {deadline} ms)"))
                    .members([m])
                    .at(deadline),
            ),
        }
    }
    let m = [
        (Figure::Lies, h.faults.lies.len() as u64),
        (Figure::LiedTo, first.len() as u64),
        (Figure::Detected, detected.len() as u64),
        (Figure::Proved, proved),
        (Figure::Excused, excused.len() as u64),
        (Figure::FalseAccusations, false_accusations),
        (Figure::DetectionLatencyMaxMs, worst),
    ];
    let missed = failures.len() as u64 - false_accusations;
    let judged = detected.len();
    if !failures.is_empty() {
        let summary = format!(
            "{missed} lied-to members did not detect the lie in time; {false_accusations} false accusations"
        );
        failures.extend(detected);
        failures.extend(excused);
        return verdict(Status::Fail, summary, failures, &m);
    }
    if judged == 0 {
        let who = list(first.keys().map(|(m, _)| *m));
        let summary = format!("the server lied to {who}, but none of them could be judged");
        return verdict(Status::Unknown, summary, excused, &m);
    }
    let summary = format!("all {judged} lied-to members detected the lie within {worst} ms");
    detected.extend(excused);
    verdict(Status::Pass, summary, detected, &m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testkit::*;
    use crate::core::ids::Peer;
    use crate::faults::FaultKind;
    use crate::trace::HostEvent;
    use crate::trace::{Event, Phase};

    /// c0 dishonest from 100 ms, lying in `mode`.
    fn dishonest_from_100(tb: &mut Tb, mode: Mode) {
        let fault = FaultKind::Dishonest {
            server: crate::core::ids::ServerId(0),
            mode,
            victim: None,
            sides: None,
        };
        tb.fault(100, 0, Phase::Begin, fault);
    }

    fn partition(hosts: &[Vec<Peer>; 2]) -> FaultKind {
        FaultKind::Partition {
            a: hosts[0].clone(),
            b: hosts[1].clone(),
        }
    }

    /// c0, dishonest from 100 ms, equivocates to m2 at 200 ms (slot 4).
    fn lied_to_m2() -> Tb {
        let mut tb = Tb::start(&[0, 1, 2]);
        dishonest_from_100(&mut tb, Mode::Equivocate);
        tb.at(
            200,
            "c0",
            Event::Host(HostEvent::Lied {
                mode: Mode::Equivocate,
                to: vec![m(2)],
                generation: 1,
                seq: 4,
            }),
        );
        tb
    }

    fn history(detect: &[(u32, u64)], fall_back: &[(u32, u64)]) -> History {
        let mut tb = lied_to_m2();
        for (who, t) in detect {
            tb.at(
                *t,
                &format!("m{who}"),
                Event::Host(HostEvent::EquivocationDetected {
                    server: ServerId(0),
                    generation: 1,
                    seq: 4,
                    evidence: "two receipts".into(),
                }),
            );
        }
        for (who, t) in fall_back {
            tb.at(
                *t,
                &format!("m{who}"),
                Event::Host(HostEvent::FellBack {
                    cause: crate::core::event::FallbackCause::Lie,
                    reason: "c0 lied: slot 4 signed twice".into(),
                    liar: Some(ServerId(0)),
                }),
            );
        }
        tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
        History::from_trace(&tb.build())
    }

    /// m2, lied to at 200 ms, learns at `removed` ms that m0 removed it,
    /// and ends out of the group (`out`) or back in it.
    fn removed(removed: u64, out: bool) -> History {
        let mut tb = lied_to_m2();
        tb.changed(removed, 2, &[0, 1], false);
        tb.end(3_000, &[0, 1, 2]);
        tb.final_view(0, true, &[0, 1], false);
        tb.final_view(1, true, &[0, 1], false);
        tb.final_view(2, !out, &[0, 1], false);
        History::from_trace(&tb.build())
    }

    /// `coordinated-fork-branch-not-a-leak`: a victim removed by its peers
    /// has no view of the group left to protect, and nobody compares notes
    /// with it any more; but only if the removal came in time and held.
    #[test]
    fn a_victim_removed_before_its_deadline_owes_no_detection() {
        let v = check(&removed(400, true));
        assert_eq!(v.status, Status::Unknown, "{v:#?}");
        assert!(
            v.evidence[0].note.contains("removed from the group"),
            "{v:#?}"
        );
        assert_eq!(check(&removed(400, false)).status, Status::Fail);
        // The trace kit's detection bound is 500 ms: the deadline is 700.
        assert_eq!(check(&removed(1_500, true)).status, Status::Fail);
    }

    #[test]
    fn fails_when_a_lied_to_member_never_detects() {
        let v = check(&history(&[(0, 300)], &[]));
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        assert!(mentions_member(&v, m(2)), "{v:#?}");
        assert!(v.evidence[0].note.contains("never detected"), "{v:#?}");
    }

    #[test]
    fn fails_when_the_detection_is_late() {
        let v = check(&history(&[(2, 200 + DETECTION + 1)], &[]));
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        assert!(v.evidence[0].note.contains("after the deadline"), "{v:#?}");
    }

    #[test]
    fn passes_when_the_victim_detects_in_time_or_falls_back_for_it() {
        let v = check(&history(&[(2, 600)], &[]));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::DetectionLatencyMaxMs], 400);
        let v = check(&history(&[], &[(2, 650)]));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
    }

    /// c0 lies to m2 in `mode` at 200 ms; m2 falls back at 600 ms on its
    /// own receipted submission never served back, naming nobody.
    fn noticed_withheld(mode: Mode) -> Verdict {
        let mut tb = Tb::start(&[0, 1, 2]);
        dishonest_from_100(&mut tb, mode);
        let lie = HostEvent::Lied {
            mode,
            to: vec![m(2)],
            generation: 1,
            seq: 4,
        };
        tb.at(200, "c0", Event::Host(lie));
        let fell = HostEvent::FellBack {
            cause: crate::core::event::FallbackCause::Withheld,
            reason: "c0 receipted this member's commit for slot 4 but has not served it".into(),
            liar: None,
        };
        tb.at(600, "m2", Event::Host(fell));
        tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
        check(&History::from_trace(&tb.build()))
    }

    /// A drop that nothing later exposes (a withheld commit in a silent
    /// group) is detected when its victim falls back on it; an
    /// equivocation is not, since falling back on a slow server proves
    /// nothing about two stories.
    #[test]
    fn a_drop_is_detected_by_its_victim_falling_back_on_the_withholding() {
        let v = noticed_withheld(Mode::Drop);
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured[Figure::FalseAccusations], 0);
        let v = noticed_withheld(Mode::Equivocate);
        assert_eq!(v.status, Status::Fail, "{v:#?}");
    }

    #[test]
    fn an_unreachable_victim_cannot_be_judged() {
        let mut h = history(&[], &[]);
        h.run.running.as_mut().unwrap().remove(&m(2));
        assert_eq!(check(&h).status, Status::Unknown);
        // Offline past the end of the run (which ends at 3 s).
        let mut h = history(&[], &[]);
        let offline = FaultKind::Offline { member: m(2) };
        h.faults.reach.note(150, 0, &offline, Phase::Begin);
        assert_eq!(check(&h).status, Status::Unknown);
    }

    /// `h` with a partition between `sides` from 150 ms to 2 s passes,
    /// each lied-to member judged from the heal.
    #[track_caller]
    fn passes_from_the_heal(mut h: History, sides: &[Vec<Peer>; 2]) {
        h.faults.reach.note(150, 0, &partition(sides), Phase::Begin);
        h.faults.reach.note(2_000, 0, &partition(sides), Phase::End);
        let v = check(&h);
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert!(
            v.evidence[0]
                .note
                .contains("first able to compare at 2000 ms"),
            "{v:#?}"
        );
    }

    /// The old checker excused any victim a partition named. One that can
    /// still reach a member not lied to is judged from the lie.
    #[test]
    fn a_partition_excuses_only_a_victim_cut_off_from_every_witness() {
        // m2 keeps m1 on its side: no excuse, and it never detected.
        let mut h = history(&[], &[]);
        let sides = [
            vec![Peer::named("m0")],
            vec![Peer::named("m1"), Peer::named("m2")],
        ];
        h.faults
            .reach
            .note(150, 0, &partition(&sides), Phase::Begin);
        let v = check(&h);
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        // m2 alone on its side until 2 s: judged from the heal, detected
        // within the bound of it.
        let sides = [
            vec![Peer::named("m0"), Peer::named("m1")],
            vec![Peer::named("m2")],
        ];
        passes_from_the_heal(history(&[(2, 2_300)], &[]), &sides);
        // The same, but never detected: a failure, not an excuse.
        let mut h = history(&[], &[]);
        h.faults
            .reach
            .note(150, 0, &partition(&sides), Phase::Begin);
        h.faults
            .reach
            .note(2_000, 0, &partition(&sides), Phase::End);
        assert_eq!(check(&h).status, Status::Fail);
    }

    /// A fork by commits: c0 told m0, m1 one history and m2, m3 another.
    fn fork(detect: &[(u32, u64)]) -> History {
        let mut tb = Tb::start(&[0, 1, 2, 3]);
        dishonest_from_100(&mut tb, Mode::Fork);
        for to in [[0, 1], [2, 3]] {
            tb.at(
                200,
                "c0",
                Event::Host(HostEvent::Lied {
                    mode: Mode::Fork,
                    to: to.into_iter().map(m).collect(),
                    generation: 1,
                    seq: 7,
                }),
            );
        }
        for (who, t) in detect {
            tb.at(
                *t,
                &format!("m{who}"),
                Event::Host(HostEvent::FellBack {
                    cause: crate::core::event::FallbackCause::Lie,
                    reason: "c0 lied: epoch 2 of generation 1 at c0: authenticator ...".into(),
                    liar: Some(ServerId(0)),
                }),
            );
        }
        tb.end_agreed(&[0, 1, 2, 3], &[0, 1, 2, 3]);
        History::from_trace(&tb.build())
    }

    /// Both sides of a fork were lied to, and each must detect: one side
    /// falling back alone is not enough.
    #[test]
    fn a_fork_must_be_detected_on_both_sides() {
        let v = check(&fork(&[(0, 600), (1, 600)]));
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        assert!(
            mentions_member(&v, m(2)) && mentions_member(&v, m(3)),
            "{v:#?}"
        );
        assert_eq!(v.measured[Figure::LiedTo], 4);
        let late = 200 + DETECTION + 1;
        let v = check(&fork(&[(0, 600), (1, 600), (2, 600), (3, late)]));
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        assert!(v.evidence[0].note.contains("after the deadline"), "{v:#?}");
        let v = check(&fork(&[(0, 600), (1, 600), (2, 650), (3, 650)]));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
    }

    /// A member's own side was told its story: only the other side can
    /// show it the fork, so a partition that leaves it with its own side
    /// alone is an excuse until it heals.
    #[test]
    fn a_fork_side_cut_off_from_the_other_is_judged_from_the_heal() {
        let sides = [
            vec![Peer::named("m0"), Peer::named("m1")],
            vec![Peer::named("m2"), Peer::named("m3")],
        ];
        let h = fork(&[(0, 2_300), (1, 2_300), (2, 2_300), (3, 2_300)]);
        passes_from_the_heal(h, &sides);
    }

    #[test]
    fn accusing_an_honest_server_fails() {
        let mut tb = Tb::start(&[0, 1]);
        tb.at(
            50,
            "m1",
            Event::Host(HostEvent::EquivocationDetected {
                server: ServerId(0),
                generation: 1,
                seq: 0,
                evidence: "?".into(),
            }),
        );
        tb.end_agreed(&[0, 1], &[0, 1]);
        let v = check(&History::from_trace(&tb.build()));
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        assert!(mentions_member(&v, m(1)));
    }

    #[test]
    fn nothing_to_judge_without_a_dishonest_server() {
        assert_eq!(check(&History::from_trace(&healthy())).status, Status::Pass);
        assert_eq!(check(&History::default()).status, Status::Unknown);
    }
}
