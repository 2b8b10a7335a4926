//! Group metadata: after the heal, the members agree on the group's name
//! and picture, and the rename they agree on is the one the rule names.
//!
//! Renames are a last-writer-wins register ordered by the renamer's stamp
//! (`core/member/particle.rs`), in both kinds of group, so two questions
//! decide it:
//! - **agreement**: reachable in-group members that hold the same view of
//!   the membership hold the same name and picture (the sides of a fork,
//!   or of a membership that never converged, are judged each on its own:
//!   that disagreement is convergence's to report);
//! - **no rename undone**: no member ends holding a rename older than one
//!   it delivered or made. Agreement alone would pass a build whose rule
//!   picks the *earlier* of two concurrent renames everywhere; this does
//!   not, since some member delivered the later one.
//!
//! And, as for membership, the last change after the heal settles within
//! the convergence bound.

use super::Figure;
use super::history::{Agreement, Delivery, History, Membership, Run};
use super::{Evidence, Status, Verdict, list, measured};
use crate::core::ids::{MemberId, MessageId};
use crate::core::member::particle::GroupMeta;
use crate::trace::CheckId;
use std::collections::BTreeMap;

pub const NAME: CheckId = CheckId::GroupMetadata;

/// The parts of the history this checker reads, and no others.
struct Parts<'a> {
    run: &'a Run,
    membership: &'a Membership,
    delivery: &'a Delivery,
}

pub fn check(h: &History) -> Verdict {
    judge(&Parts {
        run: &h.run,
        membership: &h.membership,
        delivery: &h.delivery,
    })
}

/// When some member last brought each member into its view: the last
/// `membership_changed` whose view holds it where that member's previous
/// view (at first, the founders) did not.
fn counted_in(m: &Membership, founders: &[MemberId]) -> BTreeMap<MemberId, u64> {
    let founded: std::collections::BTreeSet<MemberId> = founders.iter().copied().collect();
    let mut prev: BTreeMap<MemberId, &std::collections::BTreeSet<MemberId>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for c in &m.changes {
        let before = prev.get(&c.host).copied().unwrap_or(&founded);
        for x in c.what.view.iter().filter(|x| !before.contains(x)) {
            out.insert(*x, c.t);
        }
        prev.insert(c.host, &c.what.view);
    }
    out
}

/// How a register is shown in evidence.
fn shown(meta: Option<&GroupMeta>) -> String {
    match meta {
        None => "the founding name".to_owned(),
        Some(m) => match &m.picture {
            Some(p) => format!("{:?} (picture {p:?}) by {}", m.name, m.stamp.node),
            None => format!("{:?} by {}", m.name, m.stamp.node),
        },
    }
}

fn judge(h: &Parts<'_>) -> Verdict {
    let renames = &h.membership.renames;
    let Some(bounds) = h.run.bounds() else {
        let why = "trace has no run_started: cannot judge final names";
        return Verdict::new(
            NAME,
            Status::Unknown,
            why.into(),
            vec![],
            Default::default(),
        );
    };
    if renames.is_empty() {
        return Verdict::new(
            NAME,
            Status::Pass,
            "no rename was made".into(),
            vec![],
            measured([(Figure::Renames, 0)]),
        );
    }
    if h.run.running.is_none() {
        let why = "trace has no run_ended: cannot judge final names";
        let figures = measured([(Figure::Renames, renames.len() as u64)]);
        return Verdict::new(NAME, Status::Unknown, why.into(), vec![], figures);
    }
    let considered = h.run.considered();
    let mut evidence = Vec::new();

    // Agreement, among the members holding one view: members that
    // disagree on who is in the group (convergence's failure) may well
    // not have written to each other since.
    let groups: Vec<Vec<MemberId>> = match h.run.agreement() {
        Agreement::Nobody => vec![],
        Agreement::Agreed(g) => vec![g.holders],
        Agreement::Islands(gs) | Agreement::Diverged(gs) => {
            gs.into_iter().map(|g| g.holders).collect()
        }
    };
    let mut distinct_max = 0;
    for holders in &groups {
        let mut by_meta: BTreeMap<Option<&GroupMeta>, Vec<MemberId>> = BTreeMap::new();
        for m in holders {
            let meta = considered.get(m).and_then(|f| f.meta.as_ref());
            by_meta.entry(meta).or_default().push(*m);
        }
        distinct_max = distinct_max.max(by_meta.len());
        if by_meta.len() > 1 {
            for who in by_meta.values() {
                let meta = considered.get(&who[0]).and_then(|f| f.meta.as_ref());
                evidence.push(
                    Evidence::note(format!("{} end holding {}", list(who), shown(meta)))
                        .members(who.iter().copied()),
                );
            }
        }
    }

    // No rename undone: what each member delivered or made, against what
    // it ends with.
    let by_msg: BTreeMap<MessageId, &GroupMeta> =
        renames.iter().map(|r| (r.what.msg, &r.what.meta)).collect();
    let mut reverted = 0u64;
    for (m, f) in &considered {
        let seen = (h.delivery.deliveries.get(m).into_iter().flatten())
            .filter_map(|d| by_msg.get(&d.what).map(|meta| (d.what, *meta)))
            .chain(
                renames
                    .iter()
                    .filter(|r| r.host == *m)
                    .map(|r| (r.what.msg, &r.what.meta)),
            )
            .max_by_key(|(_, meta)| meta.stamp);
        let Some((msg, newest)) = seen else { continue };
        if f.meta.as_ref().is_none_or(|held| held.stamp < newest.stamp) {
            reverted += 1;
            evidence.push(
                Evidence::note(format!(
                    "{m} delivered {} in {msg} but ends holding {}",
                    shown(Some(newest)),
                    shown(f.meta.as_ref())
                ))
                .members([*m])
                .messages([msg]),
            );
        }
    }

    // Settling: the last take-up after the later of the heal and the last
    // rename, against the convergence bound.
    let last_rename = renames.iter().map(|r| r.t).max().unwrap_or(0);
    let settle_from = bounds.heal_at.max(last_rename);
    let deadline = settle_from.saturating_add(bounds.convergence_ms);
    let applied = &h.membership.renames_applied;
    let founders = h.run.start.as_ref().map(|s| s.founders.as_slice());
    let counted = counted_in(h.membership, founders.unwrap_or_default());
    // Nobody can hand a member the name before someone counts it in: a
    // member the membership brought back late (under a recipient list,
    // only its own next message does) has the convergence bound from then
    // (`lightweight-rename-before-view-grew`).
    let due = |m: MemberId| {
        let from = counted.get(&m).copied().unwrap_or(0).max(settle_from);
        deadline.max(from.saturating_add(bounds.convergence_ms))
    };
    let late: Vec<_> = (applied.iter())
        .filter(|a| a.t > due(a.host) && considered.contains_key(&a.host))
        .collect();
    for a in late.iter().take(3) {
        evidence.push(
            Evidence::note(format!(
                "{} took up a rename at {} ms, after the deadline {} ms",
                a.host,
                a.t,
                due(a.host)
            ))
            .members([a.host])
            .at(a.t),
        );
    }
    let last_change = (applied.iter().map(|a| a.t))
        .chain(renames.iter().map(|r| r.t))
        .max()
        .unwrap_or(0);

    let failed = distinct_max > 1 || reverted > 0 || !late.is_empty();
    let summary = if failed {
        let mut parts = Vec::new();
        if distinct_max > 1 {
            parts.push(format!(
                "members hold {distinct_max} different names of one group"
            ));
        }
        if reverted > 0 {
            parts.push(format!(
                "{reverted} member(s) end with a rename older than one they delivered"
            ));
        }
        if !late.is_empty() {
            parts.push(format!("{} take-up(s) after the deadline", late.len()));
        }
        parts.join("; ")
    } else {
        let held = (groups.first())
            .and_then(|g| g.first())
            .and_then(|m| considered.get(m))
            .and_then(|f| f.meta.as_ref());
        format!(
            "all {} reachable in-group members hold {} after {} rename(s)",
            considered.len(),
            shown(held),
            renames.len()
        )
    };
    let figures = measured([
        (Figure::Renames, renames.len() as u64),
        (Figure::Considered, considered.len() as u64),
        (Figure::DistinctNames, distinct_max as u64),
        (Figure::Reverted, reverted),
        (Figure::LateChanges, late.len() as u64),
        (Figure::DeadlineMs, deadline),
        (
            Figure::SettledAfterMs,
            last_change.saturating_sub(settle_from),
        ),
    ]);
    let status = if failed { Status::Fail } else { Status::Pass };
    Verdict::new(NAME, status, summary, evidence, figures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::clock::Hlc;
    use crate::trace::testkit::*;

    fn meta(name: &str, wall: u64, node: u32) -> GroupMeta {
        GroupMeta {
            name: name.into(),
            picture: None,
            stamp: Hlc {
                wall,
                logical: 0,
                node: MemberId(node),
            },
        }
    }

    /// Two members rename concurrently; both deliver both renames.
    fn two_renames(finals: [Option<GroupMeta>; 2]) -> crate::trace::Trace {
        let mut tb = Tb::start(&[0, 1]);
        tb.send(1_000, id(0, 0), &[0, 1], &[]);
        tb.renamed(1_000, id(0, 0), meta("a", 1_000, 0));
        tb.send(1_001, id(1, 0), &[0, 1], &[]);
        tb.renamed(1_001, id(1, 0), meta("b", 1_001, 1));
        tb.deliver(1_050, 1, id(0, 0));
        tb.deliver(1_060, 0, id(1, 0));
        tb.end(3_000, &[0, 1]);
        for (n, f) in finals.into_iter().enumerate() {
            tb.final_meta(n as u32, &[0, 1], f);
        }
        tb.build()
    }

    fn verdict(t: &crate::trace::Trace) -> Verdict {
        check(&History::from_trace(t))
    }

    #[test]
    fn the_later_rename_held_everywhere_passes() {
        let b = meta("b", 1_001, 1);
        let v = verdict(&two_renames([Some(b.clone()), Some(b)]));
        assert_eq!(v.status, Status::Pass, "{v:?}");
        assert_eq!(v.measured.get(Figure::Renames), Some(2));
    }

    #[test]
    fn members_holding_different_names_fail() {
        let v = verdict(&two_renames([
            Some(meta("b", 1_001, 1)),
            Some(meta("a", 1_000, 0)),
        ]));
        assert_eq!(v.status, Status::Fail, "{v:?}");
        assert_eq!(v.measured.get(Figure::DistinctNames), Some(2));
    }

    /// A rule that keeps the first rename agrees everywhere, and is wrong.
    #[test]
    fn agreeing_on_the_earlier_rename_fails() {
        let a = meta("a", 1_000, 0);
        let v = verdict(&two_renames([Some(a.clone()), Some(a)]));
        assert_eq!(v.status, Status::Fail, "{v:?}");
        assert_eq!(v.measured.get(Figure::Reverted), Some(2));
    }

    /// m1 took up m0's rename late, against the bound from the rename; but
    /// nobody counted m1 in from 1,100 ms until `back`, and nobody could
    /// hand it the name before: it has the bound from then
    /// (`lightweight-rename-before-view-grew`).
    #[test]
    fn a_member_counted_in_late_takes_up_a_rename_in_time_from_then() {
        let late = |back: u64| {
            let mut tb = Tb::start(&[0, 1]);
            let a = meta("a", 1_000, 0);
            tb.send(1_000, id(0, 0), &[0], &[]);
            tb.renamed(1_000, id(0, 0), a.clone());
            tb.changed(1_100, 0, &[0], true)
                .changed(back, 0, &[0, 1], true);
            let applied = crate::trace::Event::Host(crate::trace::HostEvent::RenameApplied {
                stamp: a.stamp,
                via: Some(id(0, 0)),
            });
            tb.at(back + 100, "m1", applied);
            tb.end(5_000, &[0, 1]);
            for n in 0..2 {
                tb.final_meta(n, &[0, 1], Some(a.clone()));
            }
            verdict(&tb.build())
        };
        let v = late(1_600);
        assert_eq!(v.status, Status::Pass, "{v:?}");
        // Counted in all along, the same take-up is late.
        let v = {
            let mut tb = Tb::start(&[0, 1]);
            let a = meta("a", 1_000, 0);
            tb.send(1_000, id(0, 0), &[0, 1], &[]);
            tb.renamed(1_000, id(0, 0), a.clone());
            let applied = crate::trace::Event::Host(crate::trace::HostEvent::RenameApplied {
                stamp: a.stamp,
                via: Some(id(0, 0)),
            });
            tb.at(1_700, "m1", applied);
            tb.end(5_000, &[0, 1]);
            for n in 0..2 {
                tb.final_meta(n, &[0, 1], Some(a.clone()));
            }
            verdict(&tb.build())
        };
        assert_eq!(v.status, Status::Fail, "{v:?}");
    }

    #[test]
    fn a_run_without_renames_passes_unexercised() {
        let t = healthy();
        let v = verdict(&t);
        assert_eq!(v.status, Status::Pass, "{v:?}");
        assert_eq!(v.measured.get(Figure::Renames), Some(0));
    }
}
