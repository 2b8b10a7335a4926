//! Fallback: when a coordinated group's server agent fails, every member
//! it was serving that can still act switches the group to lightweight
//! mode within the bound (`fell_back`). That nothing is lost or delivered
//! twice on the way is the delivery checker's part.
//!
//! Only members the failed server was serving at that moment owe a
//! fallback: a standby candidate's crash, a member added later, or a group
//! that was never coordinated owe nothing, and demanding it would call a
//! correct run broken.

use super::Figure;
use super::coordination::Switch;
use super::history::{At, History, Lie};
use super::{Evidence, Status, Verdict, list, measured};
use crate::core::ids::{MemberId, Millis, Peer, ServerId};
use crate::core::server::dishonest::Mode;
use crate::faults::FaultType;
use crate::trace::CheckId;
use std::collections::BTreeSet;

pub const NAME: CheckId = CheckId::Fallback;

/// Members whose coordinated state just before `t` was a generation that
/// `server` orders: those that must notice its failure at `t`.
fn served_by(h: &History, server: ServerId, t: Millis) -> BTreeSet<MemberId> {
    let mut last: std::collections::BTreeMap<MemberId, &At<Switch>> = Default::default();
    for s in h.coord.switches.iter().filter(|s| s.t < t) {
        last.insert(s.host, s);
    }
    last.into_iter()
        .filter(|(_, s)| s.what.is_some_and(|j| j.server == server))
        .map(|(m, _)| m)
        .collect()
}

/// One failure of a server that was serving someone, and who owed a
/// fallback for it.
struct Failure {
    at: Millis,
    server: ServerId,
    owed: BTreeSet<MemberId>,
}

/// The members that could notice a crash the server came back from with
/// its state kept: those left without a receipt, some message they sent
/// from the crash until it was back never being ordered by it. For the
/// others nothing was lost or stalled, and nobody could tell it from a
/// slow network; a protocol that fell back on it would abandon a working
/// server. (A crash of 280 ms with no traffic, `coordinated-adversity`
/// seeds 261 and 310, was held against every member.) Only a message
/// handed to the server counts: one that a member forming a generation
/// sealed pairwise never went near it (`coordinated-adversity` 310 again).
/// A member told by one that noticed asks the server before it follows,
/// and the server, back, answers it: it owes nothing either
/// (`coordinated-crash-while-forming-unnoticed`, once notices were
/// checked). A refusal that ended is judged the same way, counting the
/// members it turned away: one member refused in a window of half a
/// second, the others told only after it ended, were held to a fallback
/// their server, serving them, gave them no cause for
/// (`coordinated-adversity` explore 281). `None` when the server did not
/// come back.
fn noticed_by(
    h: &History,
    at: Millis,
    server: ServerId,
    owed: &BTreeSet<MemberId>,
) -> Option<BTreeSet<MemberId>> {
    // Back once no crash or refusal of it is in effect: two crashes that
    // overlap are one outage, and the end of the first is no return
    // (`coordinated-adversity` explore 514: a nominator forming at c1 was
    // let off at the first crash's end, though c1 was down 2 s more, and
    // then held to a fallback for the whole outage).
    let down_at = |t: Millis| {
        (h.faults.spans.iter()).any(|s| {
            matches!(s.kind, FaultType::Crash | FaultType::Refuse)
                && s.hosts == [Peer::Server(server)]
                && s.from <= t
                && s.until.is_none_or(|u| u > t)
        })
    };
    // The end of a refusal that turned nobody away is a return too: it
    // leaves no recovery of its own (`coordinated-adversity` explore 542
    // on 5e43c37: a crash of a forming nominator's server ran into such a
    // refusal, and the server was never found back).
    let refusal_ends = (h.faults.spans.iter())
        .filter(|s| s.kind == FaultType::Refuse && s.hosts == [Peer::Server(server)])
        .filter_map(|s| s.until);
    let mut candidates: Vec<Millis> = (h.faults.server_recoveries.iter())
        .filter(|(_, s)| *s == server)
        .map(|(t, _)| *t)
        .chain(refusal_ends)
        .filter(|t| *t >= at)
        .collect();
    candidates.sort_unstable();
    let back = candidates.into_iter().find(|t| !down_at(*t))?;
    // A lie meanwhile is a failure of its own, with evidence to notice.
    if (h.faults.lies.iter()).any(|l| l.server == server && l.t > at && l.t < back) {
        return None;
    }
    // A refusal whose answer the network lost told the member nothing:
    // its retry, once the refusal ended, was served (`coordinated-
    // adversity` explore 582 on f0d1634: `coordinated-refusal-answer-lost`).
    let told = |t: Millis, m: MemberId| !h.faults.lost_answers.contains(&(t, server, m));
    let turned_away = |m: &MemberId| {
        (h.faults.turned_away.iter())
            .any(|(t, s, who)| *s == server && who == m && *t >= at && *t <= back && told(*t, *m))
    };
    // A member that went down before its receipt was due and came back
    // without its volatile state forgot the submission with its timer:
    // back up, it found its server serving, and nothing to notice
    // (`coordinated-adversity` explore 1617: m2 submitted during a 1.5 s
    // crash of c0, crashed itself half a second later, and was held to a
    // fallback from a server that had served it all along since).
    let ack = h
        .run
        .bounds()
        .and_then(|b| b.servers)
        .map_or(0, |s| s.ack_timeout_ms);
    let forgot = |m: MemberId, sent: Millis| {
        (h.faults.spans.iter()).any(|s| {
            s.kind == FaultType::Crash
                && s.hosts == [Peer::Member(m)]
                && s.from >= sent
                && s.from < sent.saturating_add(ack)
                && s.until
                    .is_some_and(|u| (h.run.volatile_lost.iter()).any(|v| v.host == m && v.t == u))
        })
    };
    let unanswered = |m: &MemberId| {
        turned_away(m)
            || h.delivery.sent.iter().any(|(msg, s)| {
                msg.sender == *m
                    && !s.what.control
                    && s.what.submitted
                    && s.t >= at
                    && s.t <= back
                    && !forgot(*m, s.t)
                    && h.servers
                        .slots
                        .get(msg)
                        .is_none_or(|slot| slot.server != server)
            })
    };
    Some(owed.iter().copied().filter(unanswered).collect())
}

/// From when a member could notice a failure.
enum Notice {
    /// From the failure (or from its restart, if it was down).
    Failure,
    /// From a chance to compare notes.
    From(Millis),
    /// Never before the run ended: it owes nothing.
    Never,
}

/// A server that forks or equivocates shows nothing wrong to a member on
/// its own: a victim learns of the lie by comparing notes with a member
/// told another story, and the others learn from a victim. So a member
/// owes its fallback from the first chance to compare (its own if it was
/// lied to, else the first any victim had), as `equivocation_detected`
/// judges it. Counted from the lie, a fork across a partition owed the
/// fallback before the heal, when nobody could know of it
/// (`coordinated-fork-across-partition-recovered`). A drop is the same:
/// only its victim can see that its receipted message never came back,
/// and only while it can fetch from its mailboxes; the others learn from
/// it (`coordinated-drop-victim-cut-from-mailboxes`).
fn notice(h: &History, f: &Failure, member: MemberId, detection: Millis) -> Notice {
    let lies: Vec<_> = (h.faults.lies.iter())
        .filter(|l| l.server == f.server && l.t >= f.at)
        .collect();
    let hidden = |l: &Lie| matches!(l.mode, Mode::Fork | Mode::Equivocate | Mode::Drop);
    if lies.first().is_none_or(|l| !hidden(l)) {
        return Notice::Failure;
    }
    let victim = lies.iter().any(|l| hidden(l) && l.to.contains(&member));
    let chances = (lies.iter().filter(|l| hidden(l)))
        .flat_map(|l| l.to.iter().map(move |v| (*v, *l)))
        .filter(|(v, _)| !victim || *v == member)
        .filter_map(|(v, l)| {
            let with = super::equivocation::witnesses(&h.run, v, l);
            super::equivocation::first_chance(&h.run, &h.faults, v, &with, l, detection)
                .filter(|from| !wiped_before(h, v, l.t, *from))
        });
    chances.min().map_or(Notice::Never, Notice::From)
}

/// Whether `victim` lost its device's memory after the lie at `lied`
/// and before its first chance to tell anyone, at `chance`: what it saw
/// went with it, and it can show nobody anything (`coordinated-adversity`
/// explore 1258 of 1001..=2000, shrunk: a drop victim cut off from the
/// other member, wiped before the heal).
fn wiped_before(h: &History, victim: MemberId, lied: Millis, chance: Millis) -> bool {
    (h.faults.member_wipes.iter()).any(|(w, m)| *m == victim && *w >= lied && *w <= chance)
}

fn failures(h: &History) -> (Vec<Failure>, u64) {
    let mut idle = 0;
    let mut out = Vec::new();
    for &(at, server) in &h.faults.server_failures {
        let owed: BTreeSet<MemberId> = served_by(h, server, at)
            .into_iter()
            .filter(|m| h.run.reachable(*m) && h.run.finals.get(m).is_some_and(|f| f.in_group))
            .collect();
        let owed = noticed_by(h, at, server, &owed).unwrap_or(owed);
        if owed.is_empty() {
            idle += 1;
        } else {
            out.push(Failure { at, server, owed });
        }
    }
    (out, idle)
}

pub fn check(h: &History) -> Verdict {
    let (Some(bounds), Some(_)) = (h.run.bounds(), h.run.running.as_ref()) else {
        return Verdict::bare(
            NAME,
            Status::Unknown,
            "trace has no run_started or run_ended",
        );
    };
    let (failed, idle) = failures(h);
    let stalls = super::unanswered::stalls(h);
    let refusals = super::refused::refusals(h);
    if failed.is_empty() && stalls.is_empty() && refusals.is_empty() {
        let summary = if h.faults.server_failures.is_empty() {
            "no server agent failed".to_owned()
        } else {
            format!(
                "{} server failure(s), none while serving a member that stayed in the group",
                h.faults.server_failures.len()
            )
        };
        return Verdict::new(
            NAME,
            Status::Pass,
            summary,
            vec![],
            measured([
                (
                    Figure::ServerFailures,
                    h.faults.server_failures.len() as u64,
                ),
                (Figure::IdleFailures, idle),
                (Figure::Owed, 0),
                (Figure::Stalls, 0),
                (Figure::Refusals, 0),
            ]),
        );
    }
    let mut evidence = Vec::new();
    let mut failures = Vec::new();
    let (mut late_n, mut missing_n, mut worst, mut owed_n) = (0u64, 0u64, 0u64, 0u64);
    // From the failure until the last member that owed a fallback joined a
    // later generation: the takeover, when every one of them did.
    let mut takeover = Some(0u64);
    for f in &failed {
        for member in &f.owed {
            let joined = h
                .servers
                .joins
                .iter()
                .find(|j| j.host == *member && j.t >= f.at);
            takeover = takeover.zip(joined).map(|(w, j)| w.max(j.t - f.at));
        }
        let mut missing = Vec::new();
        let mut latest = f.at;
        for member in &f.owed {
            // A member that was down when the server failed owes its
            // fallback from when it was back (coordinated-server-crash,
            // explored seed 31: m2 crashed just after c0 and fell back 46
            // ms after its restart, and was called late).
            let back = (h.faults.reach)
                .first_up(*member, f.at, bounds.detection_ms)
                .unwrap_or(f.at);
            let back = match notice(h, f, *member, bounds.detection_ms) {
                Notice::Failure => back,
                Notice::From(t) => back.max(t),
                Notice::Never => continue,
            };
            let deadline = back.saturating_add(bounds.detection_ms);
            // One back too late to notice before the run ended owes
            // nothing.
            if back > f.at && h.run.ended_at.is_some_and(|end| deadline > end) {
                continue;
            }
            owed_n += 1;
            latest = latest.max(deadline);
            match h
                .servers
                .fallbacks
                .iter()
                .find(|fb| fb.host == *member && fb.t >= f.at)
            {
                Some(fb) if fb.t <= deadline => {
                    worst = worst.max(fb.t - f.at);
                    evidence.push(
                        Evidence::note(format!(
                            "{member} fell back at {} ms after {} failed",
                            fb.t, f.server
                        ))
                        .members([*member])
                        .at(fb.t),
                    );
                }
                Some(fb) => {
                    late_n += 1;
                    failures.push(
                        Evidence::note(format!(
                            "{member} fell back only at {} ms, after the deadline of \
                             {deadline} ms ({} failed at {} ms)",
                            fb.t, f.server, f.at
                        ))
                        .members([*member])
                        .at(fb.t),
                    );
                }
                None => missing.push(*member),
            }
        }
        if !missing.is_empty() {
            missing_n += missing.len() as u64;
            failures.push(
                Evidence::note(format!(
                    "{} never fell back after {} failed at {} ms",
                    list(&missing),
                    f.server,
                    f.at
                ))
                .members(missing.iter().copied())
                .at(latest),
            );
        }
    }
    // Stalls and refusals: each owes one member a move by a deadline.
    for o in stalls.iter().chain(&refusals) {
        let (member, at, deadline, moved, why) = (o.member, o.at, o.deadline, o.moved, &o.why);
        owed_n += 1;
        match moved {
            Some(t) if o.met() => {
                worst = worst.max(t - at);
                evidence.push(
                    Evidence::note(format!("{member} moved on at {t} ms: {why}"))
                        .members([member])
                        .at(t),
                );
            }
            moved => {
                let how = match moved {
                    Some(t) => {
                        late_n += 1;
                        format!("fell back only at {t} ms")
                    }
                    None => {
                        missing_n += 1;
                        "never fell back".to_owned()
                    }
                };
                failures.push(
                    Evidence::note(format!(
                        "{member} {how}, though {why} (deadline {deadline} ms)"
                    ))
                    .members([member])
                    .at(moved.unwrap_or(deadline)),
                );
            }
        }
    }
    let takeovers = super::takeover::owed(h, failed.iter().map(|f| (f.at, f.server, &f.owed)));
    let mut missed_takeovers = 0u64;
    for t in takeovers.iter().filter(|t| !t.met()) {
        missed_takeovers += 1;
        let when = t.joined.map_or("nobody ever took over".to_owned(), |j| {
            format!("the first join of a later generation came only at {j} ms")
        });
        failures.push(
            Evidence::note(format!(
                "{} failed at {} ms with a later candidate and a quiet network, and {when} \
                 (deadline {} ms)",
                t.server, t.failed_at, t.deadline
            ))
            .at(t.joined.unwrap_or(t.deadline)),
        );
    }
    let mut m = measured([
        (
            Figure::ServerFailures,
            h.faults.server_failures.len() as u64,
        ),
        (Figure::IdleFailures, idle),
        (Figure::Owed, owed_n),
        (Figure::Stalls, stalls.len() as u64),
        (Figure::Refusals, refusals.len() as u64),
        (Figure::FellBack, evidence.len() as u64),
        (Figure::Late, late_n),
        (Figure::Missing, missing_n),
        (Figure::FallbackLatencyMaxMs, worst),
        (Figure::TakeoversOwed, takeovers.len() as u64),
        (Figure::TakeoversMissed, missed_takeovers),
    ]);
    if let Some(t) = takeover {
        m.insert(Figure::TakeoverLatencyMaxMs, t);
    }
    let mut causes: Vec<String> = failed
        .iter()
        .map(|f| format!("{} failed at {} ms", f.server, f.at))
        .collect();
    if !stalls.is_empty() {
        causes.push(format!("{} submission(s) went unanswered", stalls.len()));
    }
    if !refusals.is_empty() {
        causes.push(format!("{} refusal(s)", refusals.len()));
    }
    let causes = causes.join(", ");
    if failures.is_empty() {
        Verdict::new(
            NAME,
            Status::Pass,
            format!("{causes}; all {owed_n} fallbacks owed came within {worst} ms"),
            evidence,
            m,
        )
    } else {
        failures.extend(evidence);
        Verdict::new(
            NAME,
            Status::Fail,
            if late_n + missing_n > 0 {
                format!(
                    "{} of {owed_n} fallbacks owed did not come in time ({causes})",
                    late_n + missing_n,
                )
            } else {
                format!(
                    "{missed_takeovers} of {} takeovers owed did not come in time ({causes})",
                    takeovers.len()
                )
            },
            failures,
            m,
        )
    }
}

#[cfg(test)]
#[path = "tests/fallback.rs"]
mod tests;
