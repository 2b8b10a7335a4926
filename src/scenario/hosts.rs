//! Host names in scenario files: resolving `m3`, `s1` and `c0`, and the
//! `members`/`agents`/`servers` shorthands of host lists.

use super::cx::{Cx, Res};
use super::locate::Field;
use super::model::*;
use crate::core::ids::{AgentId, MemberId, Peer, ServerId};
use std::collections::BTreeSet;

impl Cx<'_> {
    pub(super) fn member(&self, name: &str, topo: &Topology, field: &Field) -> Res<MemberId> {
        match index_of(name, 'm') {
            Some(n) if n < topo.members => Ok(MemberId(n)),
            _ => {
                let what = match index_of(name, 's') {
                    Some(n) if n < topo.agents => format!("`{name}` is an agent"),
                    _ => format!("unknown member `{name}`"),
                };
                let last = topo.members - 1;
                Err(self.err(
                    field,
                    format!("{what}; a member (m0..m{last}) is needed here"),
                ))
            }
        }
    }

    pub(super) fn server(&self, name: &str, topo: &Topology, field: &Field) -> Res<ServerId> {
        match self.host(name, topo, field)? {
            Peer::Server(c) => Ok(c),
            _ => Err(self.err(
                field,
                format!("`{name}` is not a server agent ({})", known_hosts(topo)),
            )),
        }
    }

    /// One of the topology's hosts; they sort members first, then agents,
    /// then server agents, each by number.
    pub(super) fn host(&self, name: &str, topo: &Topology, field: &Field) -> Res<Peer> {
        match (
            index_of(name, 'm'),
            index_of(name, 's'),
            index_of(name, 'c'),
        ) {
            (Some(n), _, _) if n < topo.members => Ok(Peer::Member(MemberId(n))),
            (_, Some(n), _) if n < topo.agents => Ok(Peer::Agent(AgentId(n))),
            (_, _, Some(n)) if n < topo.servers => Ok(Peer::Server(ServerId(n))),
            _ => {
                let mut msg = format!("unknown host `{name}` ({})", known_hosts(topo));
                if let Some(meant) = respelt(name).filter(|n| self.host(n, topo, field).is_ok()) {
                    msg += &format!("; did you mean `{meant}`?");
                }
                Err(self.err(field, msg))
            }
        }
    }

    /// A non-empty host list with "members"/"agents"/"servers" expanded,
    /// sorted and deduplicated.
    pub(super) fn hosts(&self, names: &[String], topo: &Topology, field: &Field) -> Res<Vec<Peer>> {
        let mut set = BTreeSet::new();
        for (i, name) in names.iter().enumerate() {
            match name.as_str() {
                "members" => set.extend(topo.member_ids().map(Peer::Member)),
                "agents" => set.extend(topo.agent_ids().map(Peer::Agent)),
                "servers" => set.extend((0..topo.servers).map(|n| Peer::Server(ServerId(n)))),
                _ => {
                    set.insert(self.host(name, topo, &field.index(i))?);
                }
            }
        }
        if set.is_empty() {
            return Err(self.err(field, "must name at least one host"));
        }
        Ok(set.into_iter().collect())
    }
}

/// A host name as it was probably meant: lower case, no spaces, no
/// leading zeros (`M01` is `m1`).
fn respelt(name: &str) -> Option<String> {
    let squeezed: String = name
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    let (kind, digits) = squeezed.split_at_checked(1)?;
    let n: u32 = digits.parse().ok()?;
    let meant = format!("{kind}{n}");
    (meant != name).then_some(meant)
}

/// `m<n>` / `s<n>` / `c<n>` in canonical form (no sign, no leading zeros).
fn index_of(name: &str, prefix: char) -> Option<u32> {
    let digits = name.strip_prefix(prefix)?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    canonical.then(|| digits.parse().ok()).flatten()
}

fn known_hosts(topo: &Topology) -> String {
    let servers = match topo.servers {
        0 => String::new(),
        n => format!(", server agents c0..c{}", n - 1),
    };
    format!(
        "members are m0..m{}, agents s0..s{}{servers}",
        topo.members - 1,
        topo.agents - 1
    )
}
