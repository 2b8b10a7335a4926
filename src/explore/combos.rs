//! Faults combined to hit one protocol phase, when `[explore] combos =
//! true`. Drawn one by one, fault kinds almost never line up: a fork
//! almost never falls while its two sides are cut apart, a second server
//! failure almost never follows a takeover. Each combo here is one such
//! alignment, the way an adversary (or a hand-written test) would set it
//! up; the plan still draws its other faults as before.

use super::draw::{between, coin, hosts, members_of, pick, servers_of, split};
use crate::core::event::OpKind;
use crate::core::ids::{MemberId, Millis, Peer, ServerId};
use crate::core::server::dishonest::Mode;
use crate::faults::{Fault, FaultKind, FaultType, StateOnRestart};
use crate::scenario::{Action, GroupKind, RatePhase, Scenario, ScheduledOp};
use rand_chacha::ChaCha20Rng;
use strum::{EnumIter, IntoEnumIterator, IntoStaticStr};

/// The alignments the generator knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Combo {
    /// The server forks the group while the two sides cannot reach each
    /// other: what each side writes must cross after the heal.
    ForkAcrossPartition,
    /// A partition leaves the serving server with a few members; the
    /// majority falls back and must learn the minority's traffic after.
    ServerOnSmallSide,
    /// The server fails, members take over on another, and that one
    /// fails too.
    SecondServerFailure,
    /// The server withholds a member's submissions while the group is
    /// silent: nothing later exposes the gap but the member's own check.
    WithheldInSilence,
    /// The server fails and the member that moves the group on has its
    /// clock jump.
    ClockJumpOnNominee,
    /// An add lands just before the members take over from a failed
    /// server.
    AddBeforeTakeover,
}

impl Combo {
    /// Whether the scenario's bounds allow this combo at all.
    fn fits(self, s: &Scenario) -> bool {
        let e = &s.explore;
        let allows = |k: FaultType| e.faults.contains(&k);
        let servers = servers_of(&hosts(s)).len();
        let coordinated = s.group_kind == GroupKind::Coordinated && servers >= 1;
        let op = |name: &str| e.ops.iter().any(|o| o == name);
        match self {
            Combo::ForkAcrossPartition => {
                coordinated && allows(FaultType::Dishonest) && allows(FaultType::Partition)
            }
            Combo::ServerOnSmallSide => coordinated && allows(FaultType::Partition),
            Combo::SecondServerFailure => coordinated && servers >= 2 && allows(FaultType::Crash),
            Combo::WithheldInSilence => coordinated && allows(FaultType::Dishonest),
            Combo::ClockJumpOnNominee => {
                coordinated
                    && servers >= 2
                    && allows(FaultType::Crash)
                    && allows(FaultType::ClockSkew)
            }
            Combo::AddBeforeTakeover => coordinated && allows(FaultType::Crash) && op("add"),
        }
    }

    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// Adds one combo the bounds allow, if any; returns which.
pub fn add(rng: &mut ChaCha20Rng, s: &mut Scenario) -> Option<Combo> {
    let fitting: Vec<Combo> = Combo::iter().filter(|c| c.fits(s)).collect();
    // A draw can come out unusable (a fork's side empty): draw again.
    for _ in 0..4 {
        let combo = pick(rng, &fitting)?;
        if apply(rng, s, combo).is_some() {
            return Some(combo);
        }
    }
    None
}

fn fault(at_ms: Millis, until_ms: Option<Millis>, kind: FaultKind) -> Fault {
    Fault {
        at_ms,
        until_ms,
        kind,
    }
}

fn op(at_ms: Millis, by: MemberId, action: Action) -> ScheduledOp {
    ScheduledOp { at_ms, by, action }
}

fn apply(rng: &mut ChaCha20Rng, s: &mut Scenario, combo: Combo) -> Option<()> {
    let (lo, hi) = s.explore.window;
    let hosts = hosts(s);
    let members = members_of(&hosts);
    let servers = servers_of(&hosts);
    // The serving server: generation 1 is at the first candidate.
    let server = *servers.first()?;
    let (ack, takeover) = (s.protocol.ack_timeout_ms, s.protocol.takeover_after_ms);
    let at = between(rng, lo, hi.saturating_sub(5_000).max(lo));
    let until = (at + between(rng, 5_000, 40_000)).min(hi.max(at + 1_000));
    match combo {
        Combo::ForkAcrossPartition => {
            let (a, b) = split(rng, &members)?;
            // Each side keeps some of the mailboxes: a member of one side
            // cannot leave anything where the other side reads.
            let agents: Vec<Peer> = s.topology.agent_ids().map(Peer::Agent).collect();
            let (mut pa, mut pb): (Vec<Peer>, Vec<Peer>) = (
                a.iter().map(|m| Peer::Member(*m)).collect(),
                b.iter().map(|m| Peer::Member(*m)).collect(),
            );
            for agent in agents {
                if coin(rng) {
                    pa.push(agent)
                } else {
                    pb.push(agent)
                }
            }
            let lead = between(rng, 0, 2_000);
            let trail = between(rng, 0, 20_000);
            s.faults.push(fault(
                at.saturating_sub(lead),
                Some(until + trail),
                FaultKind::Partition { a: pa, b: pb },
            ));
            s.faults.push(fault(
                at,
                Some(until),
                FaultKind::Dishonest {
                    server,
                    mode: Mode::Fork,
                    victim: None,
                    sides: Some((a, b)),
                },
            ));
        }
        Combo::ServerOnSmallSide => {
            let few = 1 + between(rng, 0, (members.len() as u64 / 3).saturating_sub(1)) as usize;
            let mut shuffled = members.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, between(rng, 0, i as u64) as usize);
            }
            let mut small: Vec<Peer> = vec![Peer::Server(server)];
            small.extend(
                shuffled[..few.min(shuffled.len())]
                    .iter()
                    .map(|m| Peer::Member(*m)),
            );
            let rest: Vec<Peer> = (s.topology.member_ids().map(Peer::Member))
                .chain(s.topology.agent_ids().map(Peer::Agent))
                .chain(s.topology.server_ids().map(Peer::Server))
                .filter(|h| !small.contains(h))
                .collect();
            let long = (at + between(rng, 10_000, 60_000)).min(hi.max(at + 1_000));
            s.faults.push(fault(
                at,
                Some(long),
                FaultKind::Partition { a: small, b: rest },
            ));
        }
        Combo::SecondServerFailure => {
            let second = pick(rng, &servers[1..])?;
            s.faults.push(fault(at, Some(until), crash(server)));
            let later = at + ack + takeover + between(rng, 0, 3_000);
            s.faults.push(fault(
                later,
                Some(later + between(rng, 2_000, 20_000)),
                crash(second),
            ));
        }
        Combo::WithheldInSilence => {
            let victim = pick(rng, &members)?;
            s.faults.push(fault(
                at,
                Some(until),
                FaultKind::Dishonest {
                    server,
                    mode: Mode::Drop,
                    victim: Some(victim),
                    sides: None,
                },
            ));
            let quiet = RatePhase {
                at_ms: at,
                until_ms: until + between(rng, 0, 30_000),
                messages_per_s: 0.0,
            };
            s.workload
                .phases
                .retain(|p| p.until_ms <= quiet.at_ms || p.at_ms >= quiet.until_ms);
            let at_index = s.workload.phases.partition_point(|p| p.at_ms < quiet.at_ms);
            s.workload.phases.insert(at_index, quiet);
            let others: Vec<MemberId> = members.iter().copied().filter(|m| *m != victim).collect();
            let action = match (pick(rng, &others), coin(rng)) {
                (Some(t), true) if s.explore.ops.iter().any(|o| o == "remove") => {
                    Action::Membership(OpKind::Remove, t)
                }
                _ => Action::Update,
            };
            s.workload
                .ops
                .push(op(at + between(rng, 100, 2_000), victim, action));
        }
        Combo::ClockJumpOnNominee => {
            let nominee = pick(rng, &members)?;
            let next = pick(rng, &servers[1..])?;
            s.faults.push(fault(at, Some(until), crash(server)));
            let offset = between(rng, 30_000, 120_000) as i64;
            let offset_ms = if coin(rng) { offset } else { -offset };
            let jump = at + between(rng, 0, ack + takeover);
            s.faults.push(fault(
                jump,
                Some(jump + between(rng, 5_000, 30_000)),
                FaultKind::ClockSkew {
                    member: nominee,
                    offset_ms,
                },
            ));
            let when = at + ack + between(rng, 0, takeover);
            s.workload
                .ops
                .push(op(when, nominee, Action::Nominate(next)));
        }
        Combo::AddBeforeTakeover => {
            let founders = s.topology.founders;
            let contacts: Vec<MemberId> = members
                .iter()
                .copied()
                .filter(|m| m.0 >= founders)
                .collect();
            let target = pick(rng, &contacts).or_else(|| pick(rng, &members))?;
            let by = pick(
                rng,
                &members
                    .iter()
                    .copied()
                    .filter(|m| *m != target && m.0 < founders)
                    .collect::<Vec<_>>(),
            )?;
            s.faults.push(fault(at, Some(until), crash(server)));
            let edge = at + ack + takeover;
            let when = edge.saturating_sub(between(rng, 0, 2_000));
            s.workload
                .ops
                .push(op(when, by, Action::Membership(OpKind::Add, target)));
        }
    }
    Some(())
}

fn crash(server: ServerId) -> FaultKind {
    FaultKind::Crash {
        host: Peer::Server(server),
        state: StateOnRestart::Kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::emit::to_toml;
    use crate::scenario::parse_str;
    use rand_core::SeedableRng;

    const BASE: &str = r#"
variants = ["lww"]
[group]
kind = "coordinated"
[topology]
members = 6
founders = 5
agents = 3
servers = 3
[workload]
stop = "60s"
[healing]
period = "20s"
[expect.lww]
convergence = "pass"
[explore]
combos = true
"#;

    /// Every combo is drawn, every one loads back as a scenario file, and
    /// each sets up what it names.
    #[test]
    fn every_combo_is_drawn_and_loads() {
        let base = parse_str("b.toml", BASE).unwrap();
        let mut seen = std::collections::BTreeMap::new();
        for seed in 0..120 {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let mut s = base.clone();
            let Some(combo) = add(&mut rng, &mut s) else {
                panic!("seed {seed}: no combo fits")
            };
            *seen.entry(combo.name()).or_insert(0) += 1;
            let text = to_toml(&s, "");
            parse_str("p.toml", &text).unwrap_or_else(|e| panic!("{combo:?}: {e}\n{text}"));
            match combo {
                Combo::ForkAcrossPartition => {
                    let [
                        FaultKind::Partition { a, b },
                        FaultKind::Dishonest {
                            sides: Some((fa, fb)),
                            ..
                        },
                    ] = [&s.faults[0].kind, &s.faults[1].kind]
                    else {
                        panic!("{:?}", s.faults)
                    };
                    assert!(fa.iter().all(|m| a.contains(&Peer::Member(*m))));
                    assert!(fb.iter().all(|m| b.contains(&Peer::Member(*m))));
                    assert!(s.faults[0].at_ms <= s.faults[1].at_ms);
                    assert!(s.faults[0].until_ms >= s.faults[1].until_ms);
                }
                Combo::ServerOnSmallSide => {
                    let FaultKind::Partition { a, b } = &s.faults[0].kind else {
                        panic!("{:?}", s.faults)
                    };
                    assert!(a.contains(&Peer::Server(ServerId(0))));
                    assert!(members_of(a).len() < members_of(b).len(), "{a:?} {b:?}");
                }
                Combo::SecondServerFailure => {
                    let p = &s.protocol;
                    assert!(
                        s.faults[1].at_ms
                            >= s.faults[0].at_ms + p.ack_timeout_ms + p.takeover_after_ms
                    );
                    assert_ne!(s.faults[0].kind, s.faults[1].kind);
                }
                Combo::WithheldInSilence => {
                    let phase = s.workload.phases[0];
                    let op = &s.workload.ops[0];
                    assert_eq!(phase.messages_per_s, 0.0);
                    assert!((phase.at_ms..phase.until_ms).contains(&op.at_ms));
                }
                Combo::ClockJumpOnNominee => {
                    let FaultKind::ClockSkew { member, .. } = s.faults[1].kind else {
                        panic!("{:?}", s.faults)
                    };
                    assert_eq!(s.workload.ops[0].by, member);
                }
                Combo::AddBeforeTakeover => {
                    let op = &s.workload.ops[0];
                    assert!(
                        matches!(op.action, Action::Membership(OpKind::Add, t) if t == MemberId(5))
                    );
                    assert!(
                        op.at_ms
                            <= s.faults[0].at_ms
                                + s.protocol.ack_timeout_ms
                                + s.protocol.takeover_after_ms
                    );
                }
            }
        }
        assert_eq!(seen.len(), Combo::iter().count(), "{seen:?}");
    }

    #[test]
    fn combos_need_their_fault_kinds() {
        let text = BASE.replace("combos = true", "combos = true\nfaults = [\"loss\"]");
        let mut s = parse_str("b.toml", &text).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        assert_eq!(add(&mut rng, &mut s), None);
    }
}
