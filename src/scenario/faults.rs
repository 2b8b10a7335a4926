//! Faults in scenario files: checking each `[[faults]]` table against the
//! fields its kind allows.

use super::cx::{Cx, Res};
use super::duration::{Dur, SignedDur};
use super::limits::MAX_FAULTS;
use super::locate::Field;
use super::model::*;
use crate::core::ids::{MemberId, Millis, Peer};
use crate::core::server::dishonest::Mode;
use crate::faults::{Fault, FaultKind, FaultType, Forgery, StateOnRestart};
use serde::Deserialize;

/// Every fault's fields in one struct, so that a field of the wrong kind
/// gets a message naming it rather than serde's generic one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a fault table with kind and at")]
pub(super) struct RawFault {
    kind: String,
    at: Dur,
    until: Option<Dur>,
    a: Option<Vec<String>>,
    b: Option<Vec<String>>,
    from: Option<Vec<String>>,
    to: Option<Vec<String>>,
    rate: Option<f64>,
    extra: Option<Dur>,
    jitter: Option<Dur>,
    host: Option<String>,
    state: Option<RawState>,
    member: Option<String>,
    offset: Option<SignedDur>,
    mode: Option<String>,
    victim: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum RawState {
    Kept,
    VolatileLost,
    Wiped,
}

/// Fields of `[[faults]]` entries beyond `kind`, `at` and `until`.
const FAULT_FIELDS: [&str; 13] = [
    "a", "b", "from", "to", "rate", "extra", "jitter", "host", "state", "member", "offset", "mode",
    "victim",
];

fn fault_fields(kind: FaultType) -> &'static [&'static str] {
    match kind {
        FaultType::Partition => &["a", "b"],
        FaultType::PartitionOneway => &["from", "to"],
        FaultType::Loss | FaultType::Duplicate => &["rate"],
        FaultType::Reorder => &["rate", "extra"],
        FaultType::Latency => &["extra", "jitter"],
        FaultType::Crash => &["host", "state"],
        FaultType::Refuse => &["host"],
        FaultType::Dishonest => &["host", "mode", "victim", "a", "b"],
        FaultType::Attack => &["mode", "victim"],
        FaultType::Offline | FaultType::ExpireAddresses => &["member"],
        FaultType::ClockSkew => &["member", "offset"],
    }
}

/// "a, b or c": every fault kind's name, for the unknown-kind message.
fn kind_names() -> String {
    let names: Vec<&str> = FaultType::all().map(FaultType::name).collect();
    let (last, rest) = names.split_last().expect("fault kinds");
    format!("{} or {last}", rest.join(", "))
}

/// "a `loss`", "an `attack`": the kind with its article.
fn a_kind(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} `{kind}`")
}

impl Cx<'_> {
    /// Every `[[faults]]` entry, at most [`MAX_FAULTS`] of them.
    pub(super) fn faults(&self, raw: &[RawFault], topo: &Topology) -> Res<Vec<Fault>> {
        let field = Field::root().key("faults");
        if raw.len() > MAX_FAULTS {
            let msg = format!(
                "at most {MAX_FAULTS} faults (the simulator's limit), got {}",
                raw.len()
            );
            return Err(self.err(&field.index(MAX_FAULTS), msg));
        }
        let faults = (raw.iter().enumerate())
            .map(|(i, f)| self.fault(f, &field.index(i), topo))
            .collect::<Res<Vec<_>>>()?;
        self.one_lie_at_a_time(&faults)?;
        Ok(faults)
    }

    /// A server agent lies in one way at a time: a second `dishonest`
    /// fault would replace the first, and the first's end would then end
    /// the second too, so a file that overlaps them cannot mean what it
    /// says. Back to back is fine: ends come before begins.
    fn one_lie_at_a_time(&self, faults: &[Fault]) -> Res<()> {
        let lie = |f: &Fault| match f.kind {
            FaultKind::Dishonest { server, .. } => Some(server),
            _ => None,
        };
        let end = |f: &Fault| f.until_ms.unwrap_or(Millis::MAX);
        for (j, later) in faults.iter().enumerate() {
            let Some(server) = lie(later) else { continue };
            let earlier = faults[..j].iter().enumerate().find(|(_, f)| {
                lie(f) == Some(server) && f.at_ms < end(later) && later.at_ms < end(f)
            });
            if let Some((i, f)) = earlier {
                let until = f.until_ms.map_or("the end".into(), |u| format!("{u}ms"));
                let msg = format!(
                    "this `dishonest` fault on {server} overlaps faults[{i}] (also on {server}, \
                     {}ms to {until}); a server agent lies one way at a time, so end one \
                     before the other begins",
                    f.at_ms
                );
                return Err(self.err(&Field::root().key("faults").index(j).key("at"), msg));
            }
        }
        Ok(())
    }

    fn need<'v, T>(&self, v: &'v Option<T>, f: &Field, key: &str, kind: &str) -> Res<&'v T> {
        v.as_ref()
            .ok_or_else(|| self.err(&f.key(key), format!("{} fault needs `{key}`", a_kind(kind))))
    }

    /// Two disjoint host lists, e.g. the sides of a partition.
    fn sides(
        &self,
        (x, xk): (&Option<Vec<String>>, &str),
        (y, yk): (&Option<Vec<String>>, &str),
        kind: &str,
        f: &Field,
        topo: &Topology,
    ) -> Res<(Vec<Peer>, Vec<Peer>)> {
        let x = self.hosts(self.need(x, f, xk, kind)?, topo, &f.key(xk))?;
        let y = self.hosts(self.need(y, f, yk, kind)?, topo, &f.key(yk))?;
        if let Some(h) = x.iter().find(|h| y.contains(h)) {
            let msg = format!("host `{h}` is in both `{xk}` and `{yk}`; they must be disjoint");
            return Err(self.err(&f.key(yk), msg));
        }
        Ok((x, y))
    }

    fn fault(&self, raw: &RawFault, f: &Field, topo: &Topology) -> Res<Fault> {
        let kind = raw.kind.as_str();
        let Some(ty) = FaultType::parse(kind) else {
            let msg = format!("unknown fault kind `{kind}` (expected {})", kind_names());
            return Err(self.err(&f.key("kind"), msg));
        };
        let allowed = fault_fields(ty);
        let present = [
            raw.a.is_some(),
            raw.b.is_some(),
            raw.from.is_some(),
            raw.to.is_some(),
            raw.rate.is_some(),
            raw.extra.is_some(),
            raw.jitter.is_some(),
            raw.host.is_some(),
            raw.state.is_some(),
            raw.member.is_some(),
            raw.offset.is_some(),
            raw.mode.is_some(),
            raw.victim.is_some(),
        ];
        let stray = FAULT_FIELDS
            .iter()
            .zip(present)
            .find(|(k, p)| *p && !allowed.contains(k));
        if let Some((key, _)) = stray {
            let msg = format!(
                "`{key}` does not apply to {} fault (it takes {})",
                a_kind(kind),
                allowed.join(", ")
            );
            return Err(self.err(&f.key(key), msg));
        }
        let at_ms = raw.at.0;
        let until_ms = raw.until.map(|d| d.0);
        match (ty, until_ms) {
            (FaultType::Offline, None) => {
                let msg = "an `offline` fault needs `until` (when the member comes back)";
                return Err(self.err(&f.key("until"), msg));
            }
            (FaultType::ExpireAddresses, Some(_)) => {
                let msg = "an `expire_addresses` fault happens at one instant; remove `until`";
                return Err(self.err(&f.key("until"), msg));
            }
            (_, Some(u)) if u <= at_ms => {
                let msg = format!("until ({u}ms) must be after at ({at_ms}ms)");
                return Err(self.err(&f.key("until"), msg));
            }
            _ => {}
        }
        let member = |cx: &Self| -> Res<MemberId> {
            cx.member(
                cx.need(&raw.member, f, "member", kind)?,
                topo,
                &f.key("member"),
            )
        };
        let rate = |cx: &Self, below_one| -> Res<f64> {
            cx.rate(
                *cx.need(&raw.rate, f, "rate", kind)?,
                &f.key("rate"),
                below_one,
            )
        };
        let extra = |cx: &Self| {
            let given = cx.need(&raw.extra, f, "extra", kind)?;
            cx.delay(Some(*given), 0, &f.key("extra"))
        };
        let kind = match ty {
            FaultType::Refuse => {
                let host = self.need(&raw.host, f, "host", kind)?;
                FaultKind::Refuse {
                    server: self.server(host, topo, &f.key("host"))?,
                }
            }
            FaultType::Dishonest => self.dishonest(raw, f, topo)?,
            FaultType::Attack => self.attack(raw, f, topo)?,
            FaultType::Partition => {
                let (a, b) = self.sides((&raw.a, "a"), (&raw.b, "b"), kind, f, topo)?;
                FaultKind::Partition { a, b }
            }
            FaultType::PartitionOneway => {
                let (from, to) = self.sides((&raw.from, "from"), (&raw.to, "to"), kind, f, topo)?;
                FaultKind::PartitionOneway { from, to }
            }
            FaultType::Loss => FaultKind::Loss {
                rate: rate(self, true)?,
            },
            FaultType::Duplicate => FaultKind::Duplicate {
                rate: rate(self, false)?,
            },
            FaultType::Reorder => FaultKind::Reorder {
                rate: rate(self, false)?,
                extra_ms: extra(self)?,
            },
            FaultType::Latency => FaultKind::Latency {
                extra_ms: extra(self)?,
                jitter_ms: self.delay(raw.jitter, 0, &f.key("jitter"))?,
            },
            FaultType::Crash => self.crash(raw, f, topo)?,
            FaultType::Offline => FaultKind::Offline {
                member: member(self)?,
            },
            FaultType::ExpireAddresses => FaultKind::ExpireAddresses {
                member: member(self)?,
            },
            FaultType::ClockSkew => FaultKind::ClockSkew {
                member: member(self)?,
                offset_ms: self.need(&raw.offset, f, "offset", kind)?.0,
            },
        };
        Ok(Fault {
            at_ms,
            until_ms,
            kind,
        })
    }

    /// A lying server: `mode` says how, `victim` to whom (equivocate and
    /// drop need one; a replay goes to every member), and `a`/`b` the two
    /// sides a fork shows different histories (members only, disjoint,
    /// neither empty: a fork with one side is no fork).
    fn dishonest(&self, raw: &RawFault, f: &Field, topo: &Topology) -> Res<FaultKind> {
        let host = self.need(&raw.host, f, "host", "dishonest")?;
        let server = self.server(host, topo, &f.key("host"))?;
        let mode = match self.need(&raw.mode, f, "mode", "dishonest")?.as_str() {
            "equivocate" => Mode::Equivocate,
            "drop" => Mode::Drop,
            "replay" => Mode::Replay,
            "fork" => Mode::Fork,
            other => {
                let msg =
                    format!("unknown mode `{other}` (expected equivocate, drop, replay or fork)");
                return Err(self.err(&f.key("mode"), msg));
            }
        };
        let victim = match (mode, &raw.victim) {
            (Mode::Replay | Mode::Fork, Some(_)) => {
                let msg = format!(
                    "a {} goes to every member; `victim` applies only to equivocate and drop{}",
                    if mode == Mode::Fork { "fork" } else { "replay" },
                    if mode == Mode::Fork {
                        " (a fork names its sides in `a` and `b`)"
                    } else {
                        ""
                    }
                );
                return Err(self.err(&f.key("victim"), msg));
            }
            (Mode::Replay | Mode::Fork, None) => None,
            (_, None) => {
                let msg = format!("a `dishonest` fault with mode `{mode}` needs `victim`");
                return Err(self.err(&f.key("victim"), msg));
            }
            (_, Some(v)) => Some(self.member(v, topo, &f.key("victim"))?),
        };
        let sides = match mode {
            Mode::Fork => Some(self.fork_sides(raw, f, topo)?),
            _ => {
                if let Some(key) = [("a", &raw.a), ("b", &raw.b)]
                    .into_iter()
                    .find_map(|(k, v)| v.as_ref().map(|_| k))
                {
                    let msg = format!(
                        "`{key}` names a side of a fork; it applies only to mode `fork`, \
                         not `{mode}`"
                    );
                    return Err(self.err(&f.key(key), msg));
                }
                None
            }
        };
        Ok(FaultKind::Dishonest {
            server,
            mode,
            victim,
            sides,
        })
    }

    /// An attacker on the network: `mode` says what it forges, `victim`
    /// whom it aims at. A forged receipt answers a submission to a server
    /// agent, which only a coordinated group makes; the loader cannot see
    /// the group kind here, so the run records the attack and the receipt
    /// forgery simply finds nothing to answer in a lightweight group.
    fn attack(&self, raw: &RawFault, f: &Field, topo: &Topology) -> Res<FaultKind> {
        let mode = self.need(&raw.mode, f, "mode", "attack")?;
        let Some(forgery) = Forgery::parse(mode) else {
            let names: Vec<&str> = Forgery::all().map(Forgery::name).collect();
            let msg = format!("unknown mode `{mode}` (expected {})", names.join(", "));
            return Err(self.err(&f.key("mode"), msg));
        };
        let victim = self.need(&raw.victim, f, "victim", "attack")?;
        Ok(FaultKind::Attack {
            forgery,
            victim: self.member(victim, topo, &f.key("victim"))?,
        })
    }

    /// The two sides of a `fork`: lists of members, each named once.
    fn fork_sides(
        &self,
        raw: &RawFault,
        f: &Field,
        topo: &Topology,
    ) -> Res<(Vec<MemberId>, Vec<MemberId>)> {
        let mut seen: Vec<(MemberId, &str)> = Vec::new();
        let mut sides = [Vec::new(), Vec::new()];
        for (side, (key, names)) in [("a", &raw.a), ("b", &raw.b)].into_iter().enumerate() {
            let Some(names) = names else {
                let msg = format!(
                    "a `dishonest` fault with mode `fork` needs `{key}`: the members shown \
                     one side's history"
                );
                return Err(self.err(&f.key(key), msg));
            };
            if names.is_empty() {
                let msg = format!(
                    "side `{key}` of the fork is empty; each side needs at least one member"
                );
                return Err(self.err(&f.key(key), msg));
            }
            for (i, name) in names.iter().enumerate() {
                let at = f.key(key).index(i);
                let m = self.member(name, topo, &at)?;
                if let Some((_, other)) = seen.iter().find(|(s, _)| *s == m) {
                    let msg = if *other == key {
                        format!("`{m}` is listed twice in `{key}`")
                    } else {
                        format!(
                            "`{m}` is in both `a` and `b`; a member is shown one side's history"
                        )
                    };
                    return Err(self.err(&at, msg));
                }
                seen.push((m, key));
                sides[side].push(m);
            }
        }
        let [a, b] = sides;
        Ok((a, b))
    }

    fn crash(&self, raw: &RawFault, f: &Field, topo: &Topology) -> Res<FaultKind> {
        let host = self.need(&raw.host, f, "host", "crash")?;
        if host == "members" || host == "agents" {
            let msg = format!("`{host}` names a group; a crash takes one host, e.g. \"s0\"");
            return Err(self.err(&f.key("host"), msg));
        }
        let peer = self.host(host, topo, &f.key("host"))?;
        let state = match (raw.state.unwrap_or(RawState::Kept), peer) {
            (RawState::Kept, _) => StateOnRestart::Kept,
            (RawState::VolatileLost, Peer::Member(_)) => StateOnRestart::VolatileLost,
            (RawState::Wiped, Peer::Member(_) | Peer::Agent(_)) => StateOnRestart::Wiped,
            (RawState::VolatileLost, _) => {
                let msg = format!(
                    "\"volatile-lost\" applies only to members, and `{host}` is not one \
                     (use \"kept\" or \"wiped\")"
                );
                return Err(self.err(&f.key("state"), msg));
            }
            (RawState::Wiped, _) => {
                let msg = format!(
                    "a server agent (`{host}`) restarts with its state \"kept\" (wiping one is not simulated yet)"
                );
                return Err(self.err(&f.key("state"), msg));
            }
        };
        Ok(FaultKind::Crash { host: peer, state })
    }
}
