//! The smaller scenarios a shrinker tries: one change each, biggest first.
//! Removing a host renames the hosts above it, so that a shrunk scenario
//! reads like one written by hand (m0..m3, not m0, m2, m5, m7).

use crate::core::ids::{AgentId, MemberId, Peer, ServerId};
use crate::faults::Fault;
use crate::scenario::{Action, Scenario};

/// Every one-step reduction of `s`, in the order worth trying: the ones
/// that remove the most first.
pub fn candidates(s: &Scenario) -> Vec<Scenario> {
    let mut out = chunks_dropped(s);
    for i in (0..s.faults.len()).rev() {
        let mut c = s.clone();
        c.faults.remove(i);
        out.push(c);
    }
    for i in (0..s.workload.ops.len()).rev() {
        let mut c = s.clone();
        c.workload.ops.remove(i);
        out.push(c);
    }
    for i in (0..s.workload.phases.len()).rev() {
        let mut c = s.clone();
        c.workload.phases.remove(i);
        out.push(c);
    }
    for k in (0..s.topology.members).rev() {
        out.extend(without_host(s, 'm', k));
    }
    for k in (0..s.topology.servers).rev() {
        out.extend(without_host(s, 'c', k));
    }
    for k in (0..s.topology.agents).rev() {
        out.extend(without_host(s, 's', k));
    }
    let w = &s.workload;
    let half = (w.stop_ms - w.start_ms) / 2;
    if half >= 500 {
        let mut c = s.clone();
        c.workload.stop_ms = w.start_ms + half;
        out.push(c);
    }
    if w.messages_per_s > 0.25 {
        let mut c = s.clone();
        c.workload.messages_per_s = (w.messages_per_s / 2.0 * 100.0).round() / 100.0;
        out.push(c);
    } else if w.messages_per_s > 0.0 {
        let mut c = s.clone();
        c.workload.messages_per_s = 0.0;
        out.push(c);
    }
    for i in 0..s.faults.len() {
        out.extend(narrower(s, i));
    }
    out
}

/// Delta debugging's coarse steps (Zeller's ddmin): the faults and ops
/// cut into halves, then quarters, then eighths, and each chunk dropped
/// at once, so that a plan of many faults loses most of them in a few
/// runs instead of one run per fault. The single removals come after.
fn chunks_dropped(s: &Scenario) -> Vec<Scenario> {
    // Faults and ops as one list: the failure may need one of each.
    let items = s.faults.len() + s.workload.ops.len();
    let mut out = Vec::new();
    let mut parts = 2;
    while parts <= items / 2 {
        let size = items.div_ceil(parts);
        for start in (0..items).step_by(size) {
            let drop = start..(start + size).min(items);
            let mut c = s.clone();
            let nf = s.faults.len();
            c.faults = (s.faults.iter().enumerate())
                .filter(|(i, _)| !drop.contains(i))
                .map(|(_, f)| f.clone())
                .collect();
            c.workload.ops = (s.workload.ops.iter().enumerate())
                .filter(|(i, _)| !drop.contains(&(nf + i)))
                .map(|(_, o)| o.clone())
                .collect();
            out.push(c);
        }
        parts *= 2;
    }
    out
}

/// The fault's window halved, from either end: shorter, or later.
fn narrower(s: &Scenario, i: usize) -> Vec<Scenario> {
    let f = &s.faults[i];
    let Some(until) = f.until_ms else {
        return Vec::new();
    };
    let half = (until - f.at_ms) / 2;
    if half < 250 {
        return Vec::new();
    }
    let mut shorter = s.clone();
    shorter.faults[i].until_ms = Some(f.at_ms + half);
    let mut later = s.clone();
    later.faults[i].at_ms = f.at_ms + half;
    vec![shorter, later]
}

/// `s` without host `k` of a kind (`m` members, `s` agents, `c` server
/// agents), the hosts above it renumbered down, and every op or fault that
/// needed it dropped. `None` when the topology cannot lose one.
pub fn without_host(s: &Scenario, kind: char, k: u32) -> Option<Scenario> {
    let mut c = s.clone();
    let t = &mut c.topology;
    match kind {
        'm' => {
            let founders = if k < t.founders {
                t.founders - 1
            } else {
                t.founders
            };
            if t.members <= 2 || founders < 2 {
                return None;
            }
            t.members -= 1;
            t.founders = founders;
        }
        's' => {
            if t.agents <= 2 || t.agents <= t.agents_per_member {
                return None;
            }
            t.agents -= 1;
        }
        'c' => {
            let coordinated = s.group_kind == crate::scenario::GroupKind::Coordinated;
            if t.servers == 0 || (coordinated && t.servers <= 1) {
                return None;
            }
            t.servers -= 1;
        }
        _ => return None,
    }
    let member = |m: MemberId| -> Option<MemberId> {
        match kind {
            'm' if m.0 == k => None,
            'm' if m.0 > k => Some(MemberId(m.0 - 1)),
            _ => Some(m),
        }
    };
    let server = |c: ServerId| -> Option<ServerId> {
        match kind {
            'c' if c.0 == k => None,
            'c' if c.0 > k => Some(ServerId(c.0 - 1)),
            _ => Some(c),
        }
    };
    let host = |p: Peer| -> Option<Peer> {
        match p {
            Peer::Member(m) => member(m).map(Peer::Member),
            Peer::Server(c) => server(c).map(Peer::Server),
            Peer::Agent(a) => match kind {
                's' if a.0 == k => None,
                's' if a.0 > k => Some(Peer::Agent(AgentId(a.0 - 1))),
                _ => Some(p),
            },
        }
    };
    c.workload.ops = (s.workload.ops.iter())
        .filter_map(|op| {
            let mut op = op.clone();
            op.by = member(op.by)?;
            op.action = match op.action {
                Action::Membership(kind, t) => Action::Membership(kind, member(t)?),
                Action::Nominate(c) => Action::Nominate(server(c)?),
                other => other,
            };
            Some(op)
        })
        .collect();
    c.faults = (s.faults.iter())
        .filter_map(|f| renamed(f, &host))
        .collect();
    Some(c)
}

fn renamed(f: &Fault, host: &impl Fn(Peer) -> Option<Peer>) -> Option<Fault> {
    let kind = f.kind.renamed(host)?;
    Some(Fault { kind, ..f.clone() })
}

/// How big a scenario is, for the shrinker's report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Size {
    pub faults: usize,
    pub ops: usize,
    pub members: u32,
    pub agents: u32,
    pub servers: u32,
    pub simulated_ms: u64,
}

impl Size {
    pub fn of(s: &Scenario) -> Size {
        Size {
            faults: s.faults.len(),
            ops: s.workload.ops.len(),
            members: s.topology.members,
            agents: s.topology.agents,
            servers: s.topology.servers,
            simulated_ms: s.end_at(),
        }
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} faults, {} ops, {} members, {} agents, {} servers, {:.1} s simulated",
            self.faults,
            self.ops,
            self.members,
            self.agents,
            self.servers,
            self.simulated_ms as f64 / 1000.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::OpKind;
    use crate::faults::FaultKind;
    use crate::scenario::parse_str;

    const S: &str = r#"
variants = ["lww"]
[topology]
members = 5
agents = 3
[workload]
stop = "10s"
[[workload.ops]]
at = "2s"
by = "m4"
op = "remove"
target = "m1"
[[workload.ops]]
at = "3s"
by = "m3"
op = "remove"
target = "m2"
[[faults]]
kind = "partition"
at = "1s"
until = "5s"
a = ["m0", "m2", "s0"]
b = ["m3", "m4", "s1", "s2"]
[[faults]]
kind = "offline"
at = "1s"
until = "3s"
member = "m2"
[healing]
period = "5s"
[expect.lww]
convergence = "pass"
"#;

    #[test]
    fn removing_a_member_renames_the_ones_above_it_and_drops_what_named_it() {
        let s = parse_str("s.toml", S).unwrap();
        let c = without_host(&s, 'm', 2).unwrap();
        assert_eq!((c.topology.members, c.topology.founders), (4, 4));
        // m4 removes m1 survives as m3 removes m1; m3 removes m2 is gone.
        assert_eq!(c.workload.ops.len(), 1);
        assert_eq!(c.workload.ops[0].by, MemberId(3));
        assert_eq!(
            c.workload.ops[0].action,
            Action::Membership(OpKind::Remove, MemberId(1))
        );
        // The offline fault named m2; the partition loses m2 and renames.
        assert_eq!(c.faults.len(), 1);
        let FaultKind::Partition { a, b } = &c.faults[0].kind else {
            panic!("{:?}", c.faults[0]);
        };
        assert_eq!(a, &["m0", "s0"].map(Peer::named));
        assert_eq!(b, &["m2", "m3", "s1", "s2"].map(Peer::named));
    }

    #[test]
    fn a_fork_keeps_its_renamed_sides_and_goes_when_one_is_empty() {
        let text = r#"
variants = ["lww"]
[group]
kind = "coordinated"
[topology]
members = 4
agents = 2
servers = 2
[workload]
stop = "10s"
[[faults]]
kind = "dishonest"
at = "1s"
host = "c1"
mode = "fork"
a = ["m0", "m2"]
b = ["m1", "m3"]
[healing]
period = "5s"
[expect.lww]
convergence = "pass"
"#;
        let s = parse_str("s.toml", text).unwrap();
        let c = without_host(&s, 'm', 2).unwrap();
        let sides = |c: &Scenario| match &c.faults[..] {
            [f] => match &f.kind {
                FaultKind::Dishonest { sides, server, .. } => (*server, sides.clone()),
                other => panic!("{other:?}"),
            },
            none => panic!("{none:?}"),
        };
        let (a, b) = sides(&c).1.unwrap();
        assert_eq!((a, b), (vec![MemberId(0)], vec![MemberId(1), MemberId(2)]));
        let c = without_host(&c, 'm', 0).unwrap();
        assert!(c.faults.is_empty(), "side a is gone, and the fork with it");
        let c = without_host(&s, 'c', 0).unwrap();
        let (server, kept) = sides(&c);
        assert_eq!(server, ServerId(0), "c1 is c0 now");
        assert!(kept.is_some(), "and still forks");
    }

    #[test]
    fn a_topology_at_its_minimum_is_not_reduced() {
        let s = parse_str("s.toml", S).unwrap();
        let small = without_host(&s, 's', 0).unwrap();
        assert!(without_host(&small, 's', 0).is_none(), "two agents left");
        assert!(without_host(&s, 'c', 0).is_none(), "no servers");
    }

    #[test]
    fn every_candidate_is_a_valid_scenario_file() {
        let s = parse_str("s.toml", S).unwrap();
        let all = candidates(&s);
        assert!(all.len() >= 10, "{}", all.len());
        for c in all {
            let text = crate::explore::emit::to_toml(&c, "");
            parse_str("c.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        }
    }

    /// A burst or silence is one more thing a shrunk file need not keep.
    #[test]
    fn each_phase_can_go() {
        let mut s = parse_str("s.toml", S).unwrap();
        s.workload.phases = vec![crate::scenario::RatePhase {
            at_ms: 2_000,
            until_ms: 4_000,
            messages_per_s: 0.0,
        }];
        let fewer = candidates(&s)
            .into_iter()
            .filter(|c| c.workload.phases.is_empty())
            .count();
        assert_eq!(fewer, 1);
    }

    /// Eight faults and ops lose half of them in one candidate, then a
    /// quarter, before any single one goes.
    #[test]
    fn chunks_go_before_single_items() {
        let mut s = parse_str("s.toml", S).unwrap();
        let f = s.faults[0].clone();
        s.faults = (0..6)
            .map(|k| Fault {
                at_ms: 1_000 + k,
                ..f.clone()
            })
            .collect();
        s.workload.ops.truncate(2);
        let total = s.faults.len() + s.workload.ops.len();
        assert_eq!(total, 8, "{:?}", s.workload.ops);
        let sizes: Vec<usize> = candidates(&s)
            .iter()
            .map(|c| c.faults.len() + c.workload.ops.len())
            .take(7)
            .collect();
        // Halves, then quarters, then single removals.
        assert_eq!(sizes, [4, 4, 6, 6, 6, 6, 7]);
    }
}
