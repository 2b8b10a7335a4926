//! A scenario file rewritten to another group size, kind of group or load,
//! for `commsim report`: the same story told with a thousand members.
//!
//! The rewrite works on the file's text (through `toml_edit`, which keeps
//! every line it does not touch as written), and the result is loaded by
//! the ordinary loader. So a reshaped scenario is checked exactly like a
//! hand-written one, and can be saved and replayed with `commsim run`.
//!
//! What follows from the member count:
//! - Founders (`m0` up to `founders`) are stretched: with F founders
//!   becoming F', new founder `j` plays the part of old founder
//!   `floor(j·F/F')`. A host list (a partition's side, `explore.hosts`)
//!   holds every new member whose part it held; a single host (an op's
//!   `by` or `target`, a crash's `host`) becomes the first member of its
//!   block. Growing a group therefore keeps every role and every side's
//!   share of the group.
//! - Members added later (beyond `founders`) keep their number counted
//!   from the end, since the workload adds them one by one.
//! - Mailbox agents keep their share of members (rounded, at least
//!   `agents_per_member`), and are stretched the same way.
//! - Server agents, times and rates are unchanged: the total message rate
//!   (`messages_per_s` is over the whole group) stays what the file says.

use super::error::ScenarioError;
use super::limits::MAX_AGENTS;
use super::locate::Field;
use super::model::{GroupKind, Scenario};
use toml_edit::{Array, DocumentMut, Item, Value};

/// What to change; `None` keeps the file's own value.
#[derive(Clone, Debug, PartialEq)]
pub struct Reshape {
    /// The reshaped scenario's name, which results and replays use.
    pub name: String,
    pub members: Option<u32>,
    pub kind: Option<GroupKind>,
    pub load: Load,
}

/// Which part of the workload to keep: `commsim report` measures the cost
/// of one message or one commit as the difference between runs that keep
/// one part and a run that keeps neither. An idle run has nothing to
/// deliver, so its claims on delivery are dropped.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Load {
    AsWritten,
    /// No random messages and no scheduled ops: what the group costs at rest.
    Idle,
    /// Random messages only.
    Messages,
    /// Scheduled ops only.
    Ops,
}

/// Old and new counts of one kind of host, and how numbers map between them.
#[derive(Clone, Copy, Debug)]
struct Stretch {
    old: u32,
    new: u32,
}

impl Stretch {
    /// Whose part new host `j` plays.
    fn part_of(self, j: u32) -> u32 {
        (u64::from(j) * u64::from(self.old) / u64::from(self.new)) as u32
    }
    /// The first new host that plays old host `i`'s part.
    fn first_of(self, i: u32) -> u32 {
        let j = (u64::from(i) * u64::from(self.new)).div_ceil(u64::from(self.old));
        (j as u32).min(self.new - 1)
    }
}

/// How host numbers of one file map to the reshaped file.
struct Hosts {
    founders: Stretch,
    /// Members beyond the founders: (old first number, new first number).
    joiners: (u32, u32),
    agents: Stretch,
}

impl Hosts {
    fn single(&self, name: &str) -> Option<String> {
        let (prefix, n) = parse(name)?;
        Some(match prefix {
            'm' if n >= self.joiners.0 => format!("m{}", n - self.joiners.0 + self.joiners.1),
            'm' => format!("m{}", self.founders.first_of(n)),
            _ => format!("s{}", self.agents.first_of(n)),
        })
    }

    /// Every new host whose part one of `names` held, in number order;
    /// other words (`members`, a server agent) as they were.
    fn list(&self, names: &[String]) -> Vec<String> {
        let mut out: Vec<String> = names
            .iter()
            .filter(|n| parse(n).is_none())
            .cloned()
            .collect();
        let held = |prefix: char, n: u32| names.iter().any(|s| parse(s) == Some((prefix, n)));
        let f = self.founders;
        out.extend(
            (0..f.new)
                .filter(|&j| held('m', f.part_of(j)))
                .map(|j| format!("m{j}")),
        );
        let joined = names
            .iter()
            .filter_map(|s| parse(s))
            .filter(|&(p, n)| p == 'm' && n >= self.joiners.0);
        let mut late: Vec<u32> = joined
            .map(|(_, n)| n - self.joiners.0 + self.joiners.1)
            .collect();
        late.sort_unstable();
        out.extend(late.into_iter().map(|n| format!("m{n}")));
        let a = self.agents;
        out.extend(
            (0..a.new)
                .filter(|&k| held('s', a.part_of(k)))
                .map(|k| format!("s{k}")),
        );
        out
    }
}

/// A member or agent name: server agents and shorthands are not renamed.
fn parse(name: &str) -> Option<(char, u32)> {
    let prefix = name.chars().next().filter(|c| *c == 'm' || *c == 's')?;
    let digits = &name[1..];
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    canonical
        .then(|| digits.parse().ok().map(|n| (prefix, n)))
        .flatten()
}

/// Keys that name one host, and keys that list hosts.
const SINGLE: [&str; 5] = ["by", "target", "host", "member", "victim"];
const LISTS: [&str; 4] = ["a", "b", "from", "to"];

/// `text`, the file at `path` (already loaded as `scenario`), reshaped.
pub fn reshape(
    path: &str,
    text: &str,
    scenario: &Scenario,
    how: &Reshape,
) -> Result<String, ScenarioError> {
    let fail = |field: Field, message: String| super::cx::error_at(path, text, &field, &message);
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|_| fail(Field::root(), "the file is not valid TOML".into()))?;
    doc["name"] = toml_edit::value(how.name.as_str());
    let t = &scenario.topology;
    if let Some(n) = how.members {
        let joiners = t.members - t.founders;
        if n < joiners + 2 {
            let msg = format!(
                "cannot reshape to {n} members: the file adds {joiners} member(s) \
                 beyond its {} founders, and at least 2 founders must remain",
                t.founders
            );
            return Err(fail(Field::root().key("topology").key("members"), msg));
        }
        let scaled = (u64::from(t.agents) * u64::from(n)).div_ceil(u64::from(t.members));
        let agents =
            (scaled as u32).clamp(t.agents_per_member, MAX_AGENTS.max(t.agents_per_member));
        let hosts = Hosts {
            founders: Stretch {
                old: t.founders,
                new: n - joiners,
            },
            joiners: (t.founders, n - joiners),
            agents: Stretch {
                old: t.agents,
                new: agents,
            },
        };
        doc["topology"]["members"] = toml_edit::value(i64::from(n));
        doc["topology"]["agents"] = toml_edit::value(i64::from(agents));
        if doc["topology"].get("founders").is_some() {
            doc["topology"]["founders"] = toml_edit::value(i64::from(n - joiners));
        }
        rename_hosts(&mut doc, &hosts);
    }
    if let Some(kind) = how.kind {
        doc["group"]["kind"] = toml_edit::value(kind.name());
        if kind == GroupKind::Coordinated && t.servers == 0 {
            // Two candidates, so that a takeover has somewhere to go.
            doc["topology"]["servers"] = toml_edit::value(2);
        }
    }
    let workload = &mut doc["workload"];
    if matches!(how.load, Load::Idle | Load::Ops) {
        workload["messages_per_s"] = toml_edit::value(0.0);
    }
    if matches!(how.load, Load::Idle | Load::Messages)
        && let Some(w) = workload.as_table_like_mut()
    {
        w.remove("ops");
    }
    if how.load == Load::Idle {
        // Nothing is sent, so delivery cannot be judged: a claim on it
        // would be missed on every seed.
        if let Some(expect) = doc.get_mut("expect").and_then(Item::as_table_like_mut) {
            for (_, claims) in expect.iter_mut() {
                if let Some(claims) = claims.as_table_like_mut() {
                    claims.remove(crate::trace::CheckId::Delivery.name());
                }
            }
        }
    }
    Ok(doc.to_string())
}

fn rename_hosts(doc: &mut DocumentMut, hosts: &Hosts) {
    for (section, key) in [("faults", None), ("workload", Some("ops"))] {
        let item = match key {
            None => doc.get_mut(section),
            Some(k) => doc.get_mut(section).and_then(|s| s.get_mut(k)),
        };
        if let Some(tables) = item.and_then(Item::as_array_of_tables_mut) {
            for table in tables.iter_mut() {
                for (k, v) in table.iter_mut() {
                    rename_value(k.get(), v, hosts);
                }
            }
        }
    }
    if let Some(list) = doc.get_mut("explore").and_then(|e| e.get_mut("hosts")) {
        rename_value("hosts", list, hosts);
    }
}

fn rename_value(key: &str, item: &mut Item, hosts: &Hosts) {
    let Some(value) = item.as_value_mut() else {
        return;
    };
    if SINGLE.contains(&key) {
        if let Some(new) = value.as_str().and_then(|s| hosts.single(s)) {
            *value = Value::from(new);
        }
    } else if (LISTS.contains(&key) || key == "hosts")
        && let Some(array) = value.as_array()
    {
        let names: Vec<String> = array
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let mut renamed: Array = hosts.list(&names).into_iter().collect();
        renamed.decor_mut().clone_from(array.decor());
        *value = Value::Array(renamed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::{MemberId, Peer};
    use crate::faults::FaultKind;
    use crate::scenario::{Action, parse_str};

    const HEAL: &str = include_str!("../../scenarios/lightweight-partition-heal.toml");

    fn reshaped(text: &str, how: &Reshape) -> Result<Scenario, ScenarioError> {
        let original = parse_str("f.toml", text)?;
        parse_str("g.toml", &reshape("f.toml", text, &original, how)?)
    }

    fn how(members: Option<u32>, kind: Option<GroupKind>, load: Load) -> Reshape {
        Reshape {
            name: "g".into(),
            members,
            kind,
            load,
        }
    }

    fn names(hosts: &[Peer]) -> Vec<String> {
        hosts.iter().map(|h| h.to_string()).collect()
    }

    #[test]
    fn the_same_size_is_the_same_scenario() {
        let original = parse_str("f.toml", HEAL).unwrap();
        let mut same = reshaped(HEAL, &how(Some(5), None, Load::AsWritten)).unwrap();
        (same.name, same.source_sha256) = (original.name.clone(), original.source_sha256.clone());
        assert_eq!(same, original);
    }

    #[test]
    fn growing_stretches_every_role_and_side() {
        let s = reshaped(HEAL, &how(Some(20), None, Load::AsWritten)).unwrap();
        assert_eq!(
            (s.topology.members, s.topology.agents, s.name.as_str()),
            (20, 12, "g")
        );
        let FaultKind::Partition { a, b } = &s.faults[0].kind else {
            panic!()
        };
        // m0 and m3 of five become the first and fourth quarters of twenty.
        let a_members: Vec<_> = (0..4).chain(12..16).map(|j| format!("m{j}")).collect();
        let a_agents: Vec<_> = (0..4).map(|k| format!("s{k}")).collect();
        assert_eq!(names(a), [a_members, a_agents].concat());
        assert_eq!(b.len(), 12 + 8);
        assert!(a.iter().all(|h| !b.contains(h)));
        // m1 removes m3: the first of each one's quarter.
        let op = &s.workload.ops[0];
        assert_eq!(
            (op.by, op.action.clone()),
            (
                MemberId(4),
                Action::Membership(crate::core::event::OpKind::Remove, MemberId(12))
            )
        );
        let FaultKind::PartitionOneway { from, to } = &s.faults[1].kind else {
            panic!()
        };
        assert_eq!(
            (names(from).len(), names(to)),
            (
                4,
                vec!["m16".to_owned(), "m17".into(), "m18".into(), "m19".into()]
            )
        );
    }

    #[test]
    fn members_added_later_keep_their_place_from_the_end() {
        let text = HEAL
            .replace("members = 5", "members = 5\nfounders = 4")
            .replace("target = \"m3\"", "target = \"m3\"\n\n[[workload.ops]]\nat = \"12s\"\nby = \"m0\"\nop = \"add\"\ntarget = \"m4\"");
        let s = reshaped(&text, &how(Some(50), None, Load::AsWritten)).unwrap();
        assert_eq!(s.topology.founders, 49);
        let add = &s.workload.ops[1];
        assert_eq!(
            add.action,
            Action::Membership(crate::core::event::OpKind::Add, MemberId(49))
        );
        let e = reshaped(&text, &how(Some(2), None, Load::AsWritten)).unwrap_err();
        assert_eq!((e.field.as_str(), e.line), ("topology.members", 10));
        assert!(e.message.contains("at least 2 founders"), "{e}");
    }

    #[test]
    fn loads_keep_the_messages_the_ops_or_neither() {
        let idle = reshaped(HEAL, &how(None, None, Load::Idle)).unwrap();
        assert_eq!(
            (idle.workload.messages_per_s, idle.workload.ops.len()),
            (0.0, 0)
        );
        assert!(
            idle.expect
                .values()
                .all(|claims| !claims.contains_key(&crate::trace::CheckId::Delivery))
        );
        let msgs = reshaped(HEAL, &how(None, None, Load::Messages)).unwrap();
        assert_eq!(
            (msgs.workload.messages_per_s, msgs.workload.ops.len()),
            (3.0, 0)
        );
        let ops = reshaped(HEAL, &how(None, None, Load::Ops)).unwrap();
        assert_eq!(
            (ops.workload.messages_per_s, ops.workload.ops.len()),
            (0.0, 1)
        );
    }

    #[test]
    fn a_lightweight_file_becomes_coordinated_with_two_candidates() {
        let s = reshaped(
            HEAL,
            &how(None, Some(GroupKind::Coordinated), Load::AsWritten),
        )
        .unwrap();
        assert_eq!(
            (s.group_kind, s.topology.servers),
            (GroupKind::Coordinated, 2)
        );
    }

    /// Shrinking can merge roles (two members of a side become one); the
    /// result is either a valid scenario or a located error, never a panic.
    #[test]
    fn every_size_loads_or_says_why() {
        for text in [
            HEAL,
            include_str!("../../scenarios/coordinated-server-crash.toml"),
        ] {
            for n in 2..=64 {
                if let Err(e) = reshaped(text, &how(Some(n), None, Load::AsWritten)) {
                    assert!(e.line > 0 && !e.field.is_empty(), "{n}: {e}");
                }
            }
            assert!(reshaped(text, &how(Some(300), None, Load::AsWritten)).is_ok());
        }
    }
}
