//! The `[workload]` table: random traffic between `start` and `stop`, and
//! the explicit membership ops.

use super::cx::{Cx, Res};
use super::duration::Dur;
use super::limits::{MAX_GROUP_NAME, MAX_MESSAGES_PER_S, MAX_OPS};
use super::locate::Field;
use super::model::*;
use crate::core::event::OpKind;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [workload] table")]
pub(super) struct RawWorkload {
    start: Option<Dur>,
    stop: Dur,
    messages_per_s: Option<f64>,
    reply_probability: Option<f64>,
    #[serde(default)]
    phases: Vec<RawPhase>,
    #[serde(default)]
    ops: Vec<RawOp>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table with at, until and messages_per_s"
)]
struct RawPhase {
    at: Dur,
    until: Dur,
    messages_per_s: f64,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table with at, by, op and target, server or name"
)]
struct RawOp {
    at: Dur,
    by: String,
    op: RawOpKind,
    target: Option<String>,
    server: Option<String>,
    name: Option<String>,
    picture: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawOpKind {
    Add,
    Remove,
    Update,
    Nominate,
    Rename,
}

impl Cx<'_> {
    pub(super) fn workload(&self, raw: &RawWorkload, topo: &Topology) -> Res<Workload> {
        let w = Field::root().key("workload");
        let start_ms = raw.start.map_or(1_000, |d| d.0);
        let stop_ms = raw.stop.0;
        if stop_ms <= start_ms {
            let msg = format!("stop ({stop_ms}ms) must be after start ({start_ms}ms)");
            return Err(self.err(&w.key("stop"), msg));
        }
        let rate = self.messages_per_s(raw.messages_per_s.unwrap_or(2.0), &w)?;
        let phases = self.phases(&raw.phases, &w)?;
        let reply = raw.reply_probability.unwrap_or(0.5);
        let reply_probability = self.rate(reply, &w.key("reply_probability"), false)?;
        if raw.ops.len() > MAX_OPS {
            let msg = format!(
                "at most {MAX_OPS} ops (the simulator's limit), got {}",
                raw.ops.len()
            );
            return Err(self.err(&w.key("ops").index(MAX_OPS), msg));
        }
        let mut ops = Vec::new();
        for (i, op) in raw.ops.iter().enumerate() {
            let f = w.key("ops").index(i);
            let by = self.member(&op.by, topo, &f.key("by"))?;
            let (needs, kind) = match op.op {
                RawOpKind::Add => ("target", Some(OpKind::Add)),
                RawOpKind::Remove => ("target", Some(OpKind::Remove)),
                RawOpKind::Update => ("", None),
                RawOpKind::Nominate => ("server", None),
                RawOpKind::Rename => ("name", None),
            };
            let keys = [
                ("target", &op.target),
                ("server", &op.server),
                ("name", &op.name),
                ("picture", &op.picture),
            ];
            for (key, given) in keys {
                let wanted = key == needs || (key, needs) == ("picture", "name");
                if given.is_some() && !wanted {
                    let msg = format!("`{}` takes no {key}", verb(op.op));
                    return Err(self.err(&f.key(key), msg));
                }
            }
            let missing = |cx: &Self| {
                let msg = format!("`{}` needs a {needs}", verb(op.op));
                cx.err(&f, msg)
            };
            let action = match (kind, op.op) {
                (Some(kind), _) => {
                    let name = op.target.as_deref().ok_or_else(|| missing(self))?;
                    let target = self.member(name, topo, &f.key("target"))?;
                    if target == by {
                        let msg = format!(
                            "`{}` cannot {} itself; target must differ from by",
                            op.by,
                            verb(op.op)
                        );
                        return Err(self.err(&f.key("target"), msg));
                    }
                    Action::Membership(kind, target)
                }
                (None, RawOpKind::Nominate) => {
                    let name = op.server.as_deref().ok_or_else(|| missing(self))?;
                    Action::Nominate(self.server(name, topo, &f.key("server"))?)
                }
                (None, RawOpKind::Rename) => {
                    let name = op.name.clone().ok_or_else(|| missing(self))?;
                    if name.is_empty() || name.len() > MAX_GROUP_NAME {
                        let msg = format!(
                            "a group name is 1 to {MAX_GROUP_NAME} bytes, got {}",
                            name.len()
                        );
                        return Err(self.err(&f.key("name"), msg));
                    }
                    if op
                        .picture
                        .as_ref()
                        .is_some_and(|p| p.len() > MAX_GROUP_NAME)
                    {
                        let msg = format!("a picture reference is at most {MAX_GROUP_NAME} bytes");
                        return Err(self.err(&f.key("picture"), msg));
                    }
                    Action::Rename {
                        name,
                        picture: op.picture.clone(),
                    }
                }
                (None, _) => Action::Update,
            };
            ops.push(ScheduledOp {
                at_ms: op.at.0,
                by,
                action,
            });
        }
        Ok(Workload {
            start_ms,
            stop_ms,
            messages_per_s: rate,
            reply_probability,
            phases,
            ops,
        })
    }

    /// A rate of traffic, under the table `at`.
    fn messages_per_s(&self, rate: f64, at: &Field) -> Res<f64> {
        if !(rate.is_finite() && (0.0..=MAX_MESSAGES_PER_S).contains(&rate)) {
            // `{:e}` keeps 1e300 one word long.
            let shown = if rate.abs() < 1e16 {
                rate.to_string()
            } else {
                format!("{rate:e}")
            };
            let msg = format!(
                "must be a number in [0, {MAX_MESSAGES_PER_S}] (the simulator's limit), got {shown}"
            );
            return Err(self.err(&at.key("messages_per_s"), msg));
        }
        Ok(rate)
    }

    /// `[[workload.phases]]`: spans at another rate, in time order and
    /// disjoint, so that a reader sees at a glance what rate holds when.
    fn phases(&self, raw: &[RawPhase], w: &Field) -> Res<Vec<RatePhase>> {
        if raw.len() > MAX_OPS {
            let msg = format!(
                "at most {MAX_OPS} phases (the simulator's limit), got {}",
                raw.len()
            );
            return Err(self.err(&w.key("phases").index(MAX_OPS), msg));
        }
        let mut out: Vec<RatePhase> = Vec::new();
        for (i, p) in raw.iter().enumerate() {
            let f = w.key("phases").index(i);
            let (at_ms, until_ms) = (p.at.0, p.until.0);
            if until_ms <= at_ms {
                let msg = format!("until ({until_ms}ms) must be after at ({at_ms}ms)");
                return Err(self.err(&f.key("until"), msg));
            }
            if let Some(last) = out.last()
                && at_ms < last.until_ms
            {
                let msg = format!(
                    "this phase starts at {at_ms}ms, before phases[{}] ends ({}ms); phases \
                     go in time order and do not overlap",
                    i - 1,
                    last.until_ms
                );
                return Err(self.err(&f.key("at"), msg));
            }
            out.push(RatePhase {
                at_ms,
                until_ms,
                messages_per_s: self.messages_per_s(p.messages_per_s, &f)?,
            });
        }
        Ok(out)
    }
}

fn verb(op: RawOpKind) -> &'static str {
    match op {
        RawOpKind::Add => "add",
        RawOpKind::Remove => "remove",
        RawOpKind::Update => "update",
        RawOpKind::Nominate => "nominate",
        RawOpKind::Rename => "rename",
    }
}
