//! No split brain: once the network has healed, the live members of a
//! coordinated group are ordered by one server agent, in one generation.
//!
//! While members cannot talk, two of them may nominate different
//! candidates for the same generation, and both candidates may accept.
//! That is allowed; what must not last is two coordinated sub-groups, each
//! ordered by its own server and each believing it is the group, because
//! then nothing one side says reaches the other and neither notices.
//!
//! One group is not enough, either: the tie rule every member applies (a
//! later generation wins; within one, the lower server, then the lower
//! nominator) names the generation that settles a contest, and a build
//! whose rule picked the other one ended as one group all the same, or
//! went on to a needless third generation (issue 21). So for each
//! contested generation, members that end in that generation must end in
//! the nomination the rule names, and no later generation may be formed
//! while the rule's server is up and honest and no fault is in effect.

use super::Figure;
use super::coordination::Coordination;
use super::coordination::Join;
use super::history::{Faults, History, Run, Servers};
use super::{Evidence, Status, Verdict, list, measured};
use crate::core::event::FallbackCause;
use crate::core::ids::{MemberId, ServerId};
use crate::trace::CheckId;
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: CheckId = CheckId::NoSplitBrain;

/// One coordinated sub-group: a generation at a server, formed by one
/// nominator (a server accepts one nomination per generation, so two
/// nominators at one server would be two MLS groups).
type Side = (u32, ServerId, MemberId);

fn side(j: &Join) -> Side {
    (j.generation, j.server, j.nominator)
}

/// Each member's state at the end: its last `joined`, unless a
/// `fell_back` came after it.
fn last_state(h: &Parts<'_>) -> BTreeMap<MemberId, Option<Join>> {
    let mut out = BTreeMap::new();
    for s in &h.coord.switches {
        out.insert(s.host, s.what);
    }
    out
}

/// The parts of the history this checker reads, and no others.
struct Parts<'a> {
    run: &'a Run,
    coord: &'a Coordination,
    faults: &'a Faults,
    servers: &'a Servers,
}

pub fn check(h: &History) -> Verdict {
    judge(&Parts {
        run: &h.run,
        coord: &h.coord,
        faults: &h.faults,
        servers: &h.servers,
    })
}

/// What the tie rule says of each contested generation: members that end
/// in it end in the nomination it names, and no later generation is
/// formed while that one is working. One note per breach.
fn tie_breaches(h: &Parts<'_>, sides: &BTreeMap<Side, Vec<MemberId>>) -> Vec<Evidence> {
    let mut noms: BTreeMap<u32, BTreeSet<(ServerId, MemberId)>> = BTreeMap::new();
    for a in &h.coord.accepted {
        noms.entry(a.generation)
            .or_default()
            .insert((a.server, a.nominator));
    }
    let mut out = Vec::new();
    for (&g, n) in noms.iter().filter(|(_, n)| n.len() > 1) {
        let Some(&(server, nominator)) = n.first() else {
            continue;
        };
        let won = (h.coord.accepted.iter())
            .find(|a| (a.generation, a.server, a.nominator) == (g, server, nominator));
        // The choice holds while its server serves: once it refused or
        // crashed, its members rightly take the other nomination's
        // Welcome (`coordinated-refused-choice-welcome-taken`). So once
        // every member that joined it fell back from it on its own
        // evidence (not moved by a Welcome, which is what a wrong tie
        // rule does): the generation is dead, and the other is the group
        // (`coordinated-adversity` explore 542).
        //
        // Nor does a choice nobody ever joined, its nominator included:
        // the server's acceptance never reached the nominator, which went
        // on to another candidate (`coordinated-accept-lost-choice-unformed`).
        let formed = (h.coord.switches.iter()).any(|s| {
            s.what
                .is_some_and(|j| (j.generation, j.server, j.nominator) == (g, server, nominator))
        });
        let choice_failed = !formed
            || won.is_some_and(|won| {
                (h.faults.server_failures.iter()).any(|(at, s)| *s == server && *at >= won.t)
            })
            || abandoned(h, (g, server, nominator));
        for ((sg, ss, sn), members) in sides {
            if *sg == g && (*ss, *sn) != (server, nominator) && !choice_failed {
                out.push(
                    Evidence::note(format!(
                        "generation {g} was contested and the tie rule names {server} \
                         (nominated by {nominator}), but {} ended at {ss} (nominated by {sn})",
                        list(members)
                    ))
                    .members(members.iter().copied()),
                );
            }
        }
        // A choice never formed is no working generation to tear down.
        let Some(won) = won.filter(|_| formed) else {
            continue;
        };
        let failed = |t| {
            (h.faults.server_failures.iter())
                .any(|(at, s)| *s == server && *at >= won.t && *at <= t)
        };
        let quiet = |t| !h.faults.spans.iter().any(|s| s.overlaps(won.t, t));
        if let Some(later) = (h.coord.accepted.iter())
            .find(|a| a.generation > g && a.t > won.t && !failed(a.t) && quiet(a.t))
        {
            out.push(Evidence::note(format!(
                "generation {} was formed at {} at {} ms, though generation {g} at {server}, \
                 the tie rule's choice, was working and no fault was in effect",
                later.generation, later.server, later.t
            )));
        }
    }
    out
}

/// Whether every member that joined this nomination left it by falling
/// back on evidence of its own (a lost receipt, a refusal, a lie...) or
/// on its removal from the group, or was wiped in it for good, and at
/// least one had joined.
fn abandoned(h: &Parts<'_>, (g, server, nominator): (u32, ServerId, MemberId)) -> bool {
    let this = |j: &Join| (j.generation, j.server, j.nominator) == (g, server, nominator);
    let mut joined = 0;
    for (i, s) in h.coord.switches.iter().enumerate() {
        if !s.what.is_some_and(|j| this(&j)) {
            continue;
        }
        joined += 1;
        let next = (h.coord.switches[i + 1..].iter()).find(|n| n.host == s.host);
        // A member wiped in it, never back in any generation, took its
        // share of the generation's state with it: the generation lost it
        // as surely as by a fallback (`coordinated-choice-nominator-wiped`).
        let wiped = || next.is_none() && h.run.finals.get(&s.host).is_some_and(|f| f.state_lost);
        // Nor is a member removed from the group still in it: a member
        // removed while cut off, that nominated and formed a generation
        // alone, formed none of the group's
        // (`coordinated-removed-nominator-choice`).
        let left = next.is_some_and(|n| {
            n.what.is_none()
                && (h.servers.fallbacks.iter()).any(|f| {
                    f.idx == n.idx && (f.what.first_hand() || f.what == FallbackCause::Removed)
                })
        }) || wiped();
        if !left {
            return false;
        }
    }
    joined > 0
}

fn judge(h: &Parts<'_>) -> Verdict {
    if h.run.start.is_none() {
        return Verdict::bare(NAME, Status::Unknown, "trace has no run_started");
    }
    let mut accepted: BTreeMap<u32, BTreeSet<ServerId>> = BTreeMap::new();
    for a in &h.coord.accepted {
        accepted.entry(a.generation).or_default().insert(a.server);
    }
    if h.coord.switches.is_empty() && accepted.is_empty() {
        return Verdict::new(
            NAME,
            Status::Pass,
            "no coordinated group (no generation was accepted or joined)".into(),
            vec![],
            measured([(Figure::GenerationsAccepted, 0)]),
        );
    }
    if h.run.running.is_none() {
        return Verdict::bare(
            NAME,
            Status::Unknown,
            "trace has no run_ended: who is live at the end is not known",
        );
    }
    let state = last_state(h);
    let mut sides: BTreeMap<Side, Vec<MemberId>> = BTreeMap::new();
    let mut lightweight = Vec::new();
    for m in h.run.considered().into_keys() {
        match state.get(&m).copied().flatten() {
            Some(j) => sides.entry(side(&j)).or_default().push(m),
            None => lightweight.push(m),
        }
    }
    let contested: Vec<(u32, &BTreeSet<ServerId>)> = accepted
        .iter()
        .filter(|(_, servers)| servers.len() > 1)
        .map(|(g, s)| (*g, s))
        .collect();
    let m = measured([
        (Figure::GenerationsAccepted, h.coord.accepted.len() as u64),
        (Figure::ContestedGenerations, contested.len() as u64),
        (Figure::CoordinatedSides, sides.len() as u64),
        (Figure::LightweightMembers, lightweight.len() as u64),
        (Figure::Fenced, h.coord.fenced.len() as u64),
    ]);
    let mut evidence: Vec<Evidence> = sides
        .iter()
        .map(|((g, s, n), members)| {
            Evidence::note(format!(
                "generation {g} at {s} (nominated by {n}): {}",
                list(members)
            ))
            .members(members.iter().copied())
        })
        .collect();
    if !lightweight.is_empty() {
        evidence.push(
            Evidence::note(format!("in lightweight mode: {}", list(&lightweight)))
                .members(lightweight.iter().copied()),
        );
    }
    for (g, servers) in &contested {
        evidence.push(Evidence::note(format!(
            "generation {g} was accepted by {}",
            list(servers.iter())
        )));
    }
    let breaches = tie_breaches(h, &sides);
    let (status, summary) = match sides.len() {
        n if n < 2 && !breaches.is_empty() => {
            let summary = format!(
                "the tie rule was not kept ({} breaches; {} contested generations)",
                breaches.len(),
                contested.len()
            );
            evidence.splice(0..0, breaches);
            (Status::Fail, summary)
        }
        0 => (
            Status::Pass,
            format!(
                "no live member is coordinated at the end ({} in lightweight mode)",
                lightweight.len()
            ),
        ),
        1 => {
            let ((g, s, _), members) = sides.iter().next().expect("one side");
            (
                Status::Pass,
                format!(
                    "all {} live coordinated members are in generation {g} at {s} ({} contested generations)",
                    members.len(),
                    contested.len()
                ),
            )
        }
        n => {
            let generations: BTreeSet<u32> = sides.keys().map(|(g, _, _)| *g).collect();
            let why = if generations.len() < n {
                "one generation formed more than once"
            } else {
                "different generations"
            };
            evidence.extend(breaches);
            (
                Status::Fail,
                format!("split brain: live members are coordinated in {n} sub-groups ({why})"),
            )
        }
    };
    Verdict::new(NAME, status, summary, evidence, m)
}

#[cfg(test)]
#[path = "tests/split_brain.rs"]
mod tests;
