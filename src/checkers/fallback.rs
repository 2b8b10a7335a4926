//! Fallback: when a coordinated group's server agent fails, every member
//! that can still act switches the group to lightweight mode within the
//! bound (`fell_back`). That nothing is lost or delivered twice on the way
//! is the delivery checker's part.

use super::history::History;
use super::{Evidence, Status, Verdict, list, measured};

pub const NAME: &str = "fallback";

pub fn check(h: &History) -> Verdict {
    let (Some(bounds), Some(_)) = (h.bounds(), h.running.as_ref()) else {
        return Verdict::bare(
            NAME,
            Status::Unknown,
            "trace has no run_started or run_ended",
        );
    };
    let Some((failed_at, server)) = h.server_failures.first().cloned() else {
        return Verdict::new(
            NAME,
            Status::Pass,
            "no server agent failed".into(),
            vec![],
            measured([("server_failures", 0)]),
        );
    };
    let deadline = failed_at.saturating_add(bounds.detection_ms);
    let mut evidence = Vec::new();
    let (mut late, mut missing, mut worst) = (Vec::new(), Vec::new(), 0u64);
    for (member, fin) in &h.finals {
        if !h.reachable(*member) || !fin.in_group {
            continue;
        }
        match h
            .fallbacks
            .iter()
            .find(|f| f.host == *member && f.t >= failed_at)
        {
            Some(f) if f.t <= deadline => {
                worst = worst.max(f.t - failed_at);
                evidence.push(
                    Evidence::note(format!("{member} fell back at {} ms", f.t))
                        .members([*member])
                        .at(f.t),
                );
            }
            Some(f) => late.push((*member, f.t)),
            None => missing.push(*member),
        }
    }
    let mut failures: Vec<Evidence> = late
        .iter()
        .map(|(m, t)| {
            Evidence::note(format!(
                "{m} fell back only at {t} ms, after the deadline of {deadline} ms"
            ))
            .members([*m])
            .at(*t)
        })
        .collect();
    if !missing.is_empty() {
        failures.push(
            Evidence::note(format!(
                "{} never fell back after {server} failed at {failed_at} ms",
                list(&missing)
            ))
            .members(missing.iter().copied())
            .at(deadline),
        );
    }
    let m = measured([
        ("server_failures", h.server_failures.len() as u64),
        ("fell_back", evidence.len() as u64),
        ("late", late.len() as u64),
        ("missing", missing.len() as u64),
        ("fallback_latency_max_ms", worst),
    ]);
    if failures.is_empty() {
        let n = evidence.len();
        Verdict::new(
            NAME,
            Status::Pass,
            format!(
                "{server} failed at {failed_at} ms; all {n} members fell back within {worst} ms"
            ),
            evidence,
            m,
        )
    } else {
        let n = failures.len();
        failures.extend(evidence);
        Verdict::new(
            NAME,
            Status::Fail,
            format!("{n} members did not fall back in time after {server} failed"),
            failures,
            m,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testkit::*;
    use crate::trace::Event;

    fn history(fall_back: &[(u32, u64)]) -> History {
        let mut tb = Tb::start(&[0, 1, 2]);
        tb.at(
            1_000,
            "sim",
            Event::Fault {
                fault: "crash".into(),
                hosts: vec!["c0".into()],
                detail: "begin Kept".into(),
            },
        );
        for (m, t) in fall_back {
            tb.at(
                *t,
                &format!("m{m}"),
                Event::FellBack {
                    reason: "no receipt".into(),
                },
            );
        }
        tb.end_agreed(&[0, 1, 2], &[0, 1, 2]);
        History::from_trace(&tb.build())
    }

    #[test]
    fn passes_when_everyone_falls_back_in_time() {
        let v = check(&history(&[(0, 1_100), (1, 1_200), (2, 1_300)]));
        assert_eq!(v.status, Status::Pass, "{v:#?}");
        assert_eq!(v.measured["fallback_latency_max_ms"], 300);
    }

    #[test]
    fn fails_when_a_member_never_falls_back_or_does_so_late() {
        let v = check(&history(&[(0, 1_100), (1, 1_200)]));
        assert_eq!(v.status, Status::Fail, "{v:#?}");
        assert!(mentions_member(&v, m(2)), "{v:#?}");
        let late = check(&history(&[(0, 1_100), (1, 1_200), (2, 1_000_000)]));
        assert_eq!(late.status, Status::Fail, "{late:#?}");
    }

    #[test]
    fn nothing_to_judge_without_a_server_failure() {
        assert_eq!(check(&History::from_trace(&healthy())).status, Status::Pass);
        assert_eq!(check(&History::default()).status, Status::Unknown);
    }
}
