//! Small changes to a plan that reached something new, the guided loop's
//! way to look near it (as AFL and Zest mutate inputs that found new
//! coverage): move a fault or an op in time, move a fault to other hosts,
//! add or drop one, or splice in the faults of another plan.

use super::draw::{below, between, coin, exists, pick};
use super::generate::{claimed, fault, race, scheduled_op};
use crate::core::ids::{Millis, Peer};
use crate::faults::Fault;
use crate::scenario::Scenario;
use rand_chacha::ChaCha20Rng;
use strum::{EnumIter, IntoEnumIterator, IntoStaticStr};

/// One kind of change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Mutation {
    /// A fault starts and ends earlier or later.
    ShiftFault,
    /// An op moves in time: a little, or onto a race or an edge.
    ShiftOp,
    /// A fault names another host in place of one of its own.
    MoveFault,
    AddFault,
    DropFault,
    AddOp,
    DropOp,
    /// Some of another plan's faults join this one's.
    Splice,
}

/// `parent` changed by one to three mutations; `other` is the plan a
/// splice takes from. `None` when nothing applied (a plan with no fault
/// cannot shift one).
pub fn mutate(
    rng: &mut ChaCha20Rng,
    parent: &Scenario,
    other: &Scenario,
) -> Option<(Scenario, Vec<Mutation>)> {
    let mut s = parent.clone();
    let mut done = Vec::new();
    let all: Vec<Mutation> = Mutation::iter().collect();
    for _ in 0..1 + below(rng, 3) {
        let m = pick(rng, &all)?;
        if apply(rng, &mut s, other, m).is_some() {
            done.push(m);
        }
    }
    (!done.is_empty() && s != *parent).then(|| (claimed(s), done))
}

fn clamp(s: &Scenario, t: Millis) -> Millis {
    let (lo, hi) = s.explore.window;
    t.clamp(lo, hi)
}

/// A shift of up to `max` either way.
fn shift(rng: &mut ChaCha20Rng, t: Millis, max: Millis) -> Millis {
    let d = between(rng, 0, max);
    if coin(rng) {
        t + d
    } else {
        t.saturating_sub(d)
    }
}

fn apply(rng: &mut ChaCha20Rng, s: &mut Scenario, other: &Scenario, m: Mutation) -> Option<()> {
    match m {
        Mutation::ShiftFault => {
            let i = below(rng, s.faults.len() as u64) as usize;
            let f = s.faults.get(i)?.clone();
            let at = clamp(s, shift(rng, f.at_ms, 5_000));
            let len = f.until_ms.map(|u| u - f.at_ms);
            let until = len.map(|l| shift(rng, at + l, 2_000).max(at + 250));
            s.faults[i] = Fault {
                at_ms: at,
                until_ms: until,
                ..f
            };
        }
        Mutation::ShiftOp => {
            let i = below(rng, s.workload.ops.len() as u64) as usize;
            let mut op = s.workload.ops.get(i)?.clone();
            if coin(rng) {
                op.at_ms = clamp(s, shift(rng, op.at_ms, 3_000));
            } else {
                super::timing::aim(rng, &mut op, s);
            }
            s.workload.ops[i] = op;
            s.workload.ops.sort_by_key(|o| o.at_ms);
        }
        Mutation::MoveFault => {
            let i = below(rng, s.faults.len() as u64) as usize;
            let f = s.faults.get(i)?.clone();
            let from = pick(rng, &f.kind.hosts())?;
            let same_kind: Vec<Peer> = super::draw::hosts(s)
                .into_iter()
                .filter(|h| std::mem::discriminant(h) == std::mem::discriminant(&from))
                .collect();
            let to = pick(rng, &same_kind)?;
            // A swap keeps a partition's sides disjoint.
            let kind = f.kind.renamed(&|h| {
                Some(if h == from {
                    to
                } else if h == to {
                    from
                } else {
                    h
                })
            })?;
            s.faults[i] = Fault { kind, ..f };
        }
        Mutation::AddFault => {
            let kind = pick(rng, &s.explore.faults)?;
            let f = fault(rng, s, kind)?;
            let raced = race(rng, &f);
            s.faults.push(f);
            s.workload.ops.extend(raced.into_iter().flatten());
            s.workload.ops.sort_by_key(|o| o.at_ms);
        }
        Mutation::DropFault => {
            let i = below(rng, s.faults.len() as u64) as usize;
            s.faults.get(i)?;
            s.faults.remove(i);
        }
        Mutation::AddOp => {
            let name = pick(rng, &s.explore.ops)?;
            let mut op = scheduled_op(rng, s, &name)?;
            if s.explore.races {
                super::timing::aim(rng, &mut op, s);
            }
            s.workload.ops.push(op);
            s.workload.ops.sort_by_key(|o| o.at_ms);
        }
        Mutation::DropOp => {
            let i = below(rng, s.workload.ops.len() as u64) as usize;
            s.workload.ops.get(i)?;
            s.workload.ops.remove(i);
        }
        Mutation::Splice => {
            // The other plan may have another topology: only its faults
            // on hosts this one has come over.
            let theirs: Vec<Fault> = (other.faults.iter())
                .filter(|f| f.kind.hosts().iter().all(|h| exists(&s.topology, *h)))
                .filter(|_| coin(rng))
                .cloned()
                .collect();
            if theirs.is_empty() {
                return None;
            }
            s.faults.extend(theirs);
        }
    }
    Some(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::scenario::parse_str;
    use rand_core::SeedableRng;

    /// A small coordinated group whose plans every explore test can run.
    pub(in crate::explore) const BASE: &str = r#"
variants = ["lww"]
[group]
kind = "coordinated"
[topology]
members = 5
agents = 3
servers = 2
[workload]
stop = "30s"
[healing]
period = "10s"
[expect.lww]
convergence = "pass"
[explore]
max_faults = 4
max_ops = 3
races = true
"#;

    /// Every mutation is drawn, and what comes out differs from the parent
    /// and is deterministic in the seed.
    #[test]
    fn mutations_change_the_plan_deterministically() {
        let base = parse_str("b.toml", BASE).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for seed in 1..=80 {
            let parent = super::super::generate::plan(&base, seed);
            let other = super::super::generate::plan(&base, seed + 1_000);
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let Some((child, how)) = mutate(&mut rng, &parent, &other) else {
                continue;
            };
            let mut again = ChaCha20Rng::seed_from_u64(seed);
            assert_eq!(
                Some((child.clone(), how.clone())),
                mutate(&mut again, &parent, &other)
            );
            assert_ne!(child, parent, "{how:?}");
            seen.extend(how.into_iter().map(<&str>::from));
        }
        assert_eq!(seen.len(), Mutation::iter().count(), "{seen:?}");
    }

    /// A child's claims follow its own faults, not its parent's: one that
    /// gained an equivocating server may see its victim deliver the lie.
    #[test]
    fn a_child_that_gains_an_equivocating_server_relaxes_total_order() {
        use crate::core::server::dishonest::Mode;
        use crate::faults::FaultKind;
        use crate::trace::CheckId;
        use crate::trace::Claim;
        let lies = |s: &Scenario| {
            (s.faults.iter()).any(|f| {
                matches!(
                    f.kind,
                    FaultKind::Dishonest {
                        mode: Mode::Equivocate | Mode::Fork,
                        ..
                    }
                )
            })
        };
        let base = parse_str("b.toml", BASE).unwrap();
        let mut gained = 0;
        for seed in 1..=300 {
            let parent = super::super::generate::plan(&base, seed);
            let other = super::super::generate::plan(&base, seed + 1_000);
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let Some((child, _)) = mutate(&mut rng, &parent, &other) else {
                continue;
            };
            let claim = child.expect.values().next().unwrap()[&CheckId::TotalOrder];
            let want = if lies(&child) {
                Claim::FailsSometimes
            } else {
                Claim::NeverFails
            };
            assert_eq!(claim, want, "seed {seed}");
            gained += usize::from(lies(&child) && !lies(&parent));
        }
        assert!(gained > 0, "no child gained an equivocating server");
    }
}
