//! The `[explore]` table: the bounds within which `commsim explore` draws
//! fault plans and membership ops from each seed.

use super::cx::{Cx, Res};
use super::duration::Dur;
use super::limits::MAX_EXPLORE;
use super::limits::{MAX_AGENTS, MAX_MEMBERS, MAX_MESSAGES_PER_S, MAX_SERVERS};
use super::locate::Field;
use super::model::{ExploreBounds, GroupKind, PlanShape, Topology, Workload};
use crate::core::member::membership::Variant;
use crate::faults::FaultType;
use crate::trace::Claim;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Ops a plan may add.
pub const OP_KINDS: [&str; 5] = ["add", "remove", "update", "nominate", "rename"];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "an [explore] table")]
pub(super) struct RawExplore {
    faults: Option<Vec<String>>,
    max_faults: Option<i64>,
    window: Option<[Dur; 2]>,
    max_rate: Option<f64>,
    hosts: Option<Vec<String>>,
    ops: Option<Vec<String>>,
    max_ops: Option<i64>,
    members: Option<[i64; 2]>,
    agents: Option<[i64; 2]>,
    servers: Option<[i64; 2]>,
    messages_per_s: Option<[f64; 2]>,
    max_phases: Option<i64>,
    races: Option<bool>,
    combos: Option<bool>,
    #[serde(default)]
    expect: BTreeMap<String, BTreeMap<String, Claim>>,
}

impl Cx<'_> {
    pub(super) fn explore(
        &self,
        raw: Option<&RawExplore>,
        kind: GroupKind,
        workload: &Workload,
        variants: &[Variant],
        topo: &Topology,
    ) -> Res<ExploreBounds> {
        let e = Field::root().key("explore");
        let default = RawExplore::default();
        let raw = raw.unwrap_or(&default);
        let coordinated = kind == GroupKind::Coordinated;
        let needs_server = FaultType::needs_server;
        let faults: Vec<FaultType> = match &raw.faults {
            Some(list) => self.fault_types(list, &e.key("faults"))?,
            None => FaultType::all()
                .filter(|k| coordinated || !needs_server(*k))
                .collect(),
        };
        if !coordinated && let Some(k) = faults.iter().position(|k| needs_server(*k)) {
            let msg = format!("`{}` needs a coordinated group", faults[k]);
            return Err(self.err(&e.key("faults").index(k), msg));
        }
        let ops = match &raw.ops {
            Some(list) => self.names(list, &OP_KINDS, &e.key("ops"))?,
            None if coordinated => OP_KINDS.iter().map(|k| k.to_string()).collect(),
            None => vec!["add".into(), "remove".into(), "rename".into()],
        };
        let window = match raw.window {
            Some([a, b]) if b.0 <= a.0 => {
                let msg = format!("the window ends ({}ms) before it starts ({}ms)", b.0, a.0);
                return Err(self.err(&e.key("window"), msg));
            }
            Some([a, b]) => (a.0, b.0),
            None => (workload.start_ms, workload.stop_ms),
        };
        let max_rate = self.rate(raw.max_rate.unwrap_or(0.2), &e.key("max_rate"), true)?;
        // In the order given: the generator draws from this list.
        let hosts = match &raw.hosts {
            Some(list) => Some(
                (list.iter().enumerate())
                    .map(|(i, h)| self.host(h, topo, &e.key("hosts").index(i)))
                    .collect::<Res<Vec<_>>>()?,
            ),
            None => None,
        };
        let max_faults = self.small(raw.max_faults.unwrap_or(4), &e.key("max_faults"))?;
        let max_ops = self.small(raw.max_ops.unwrap_or(2), &e.key("max_ops"))?;
        let shape = self.shape(raw, kind, topo, &e)?;
        let mut expect = BTreeMap::new();
        for (name, checks) in &raw.expect {
            let f = e.key("expect").key(name);
            let v: Variant = name.parse().map_err(|m: String| self.err(&f, m))?;
            if !variants.contains(&v) {
                return Err(self.err(&f, format!("`{v}` is not in `variants`")));
            }
            expect.insert(v, self.checks(checks, &f)?);
        }
        Ok(ExploreBounds {
            faults,
            max_faults,
            window,
            max_rate,
            hosts,
            ops,
            max_ops,
            shape,
            races: raw.races.unwrap_or(false),
            combos: raw.combos.unwrap_or(false),
            expect,
        })
    }

    /// The ranges a plan's shape is drawn from, each inside what
    /// `[topology]` and `[workload]` would take.
    fn shape(
        &self,
        raw: &RawExplore,
        kind: GroupKind,
        topo: &Topology,
        e: &Field,
    ) -> Res<PlanShape> {
        let least_servers = if kind == GroupKind::Coordinated { 1 } else { 0 };
        let members = self.range(raw.members, 2, MAX_MEMBERS, &e.key("members"))?;
        let agents = self.range(
            raw.agents,
            topo.agents_per_member,
            MAX_AGENTS,
            &e.key("agents"),
        )?;
        let servers = self.range(raw.servers, least_servers, MAX_SERVERS, &e.key("servers"))?;
        let messages_per_s = match raw.messages_per_s {
            Some([lo, hi]) => {
                let f = e.key("messages_per_s");
                let ok = |v: f64| v.is_finite() && (0.0..=MAX_MESSAGES_PER_S).contains(&v);
                if !ok(lo) || !ok(hi) || hi < lo || hi == 0.0 {
                    let msg = format!(
                        "must be [low, high] with 0 <= low <= high <= {MAX_MESSAGES_PER_S} and \
                         high above 0, got [{lo}, {hi}]"
                    );
                    return Err(self.err(&f, msg));
                }
                Some((lo, hi))
            }
            None => None,
        };
        let max_phases = self.small(raw.max_phases.unwrap_or(0), &e.key("max_phases"))?;
        Ok(PlanShape {
            members,
            agents,
            servers,
            messages_per_s,
            max_phases,
        })
    }

    /// `[low, high]` of host counts, both within `[min, max]`.
    fn range(
        &self,
        raw: Option<[i64; 2]>,
        min: u32,
        max: u32,
        f: &Field,
    ) -> Res<Option<(u32, u32)>> {
        let Some([lo, hi]) = raw else { return Ok(None) };
        let lo = self.count(lo, &f.index(0), min, max, "the simulator's limit")?;
        let hi = self.count(hi, &f.index(1), min, max, "the simulator's limit")?;
        if hi < lo {
            return Err(self.err(
                &f.index(1),
                format!("the range ends ({hi}) below its start ({lo})"),
            ));
        }
        Ok(Some((lo, hi)))
    }

    fn fault_types(&self, list: &[String], field: &Field) -> Res<Vec<FaultType>> {
        let names: Vec<&str> = FaultType::all().map(FaultType::name).collect();
        self.names(list, &names, field)?;
        Ok(list.iter().filter_map(|k| FaultType::parse(k)).collect())
    }

    fn names(&self, list: &[String], known: &[&str], field: &Field) -> Res<Vec<String>> {
        for (i, k) in list.iter().enumerate() {
            if !known.contains(&k.as_str()) {
                let msg = format!("unknown `{k}` (known: {})", known.join(", "));
                return Err(self.err(&field.index(i), msg));
            }
        }
        Ok(list.to_vec())
    }

    fn small(&self, v: i64, field: &Field) -> Res<u32> {
        self.count(v, field, 0, MAX_EXPLORE, "the limit of a plan")
    }
}
