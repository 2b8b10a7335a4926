//! Small identifiers shared by every part of the simulator.
//!
//! They are plain integers so that they are `Copy` and order the same way in
//! every process; their `Display` forms are what appears in traces.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Simulated time in milliseconds since the start of the run.
///
/// Milliseconds are fine-grained enough for network latencies of a few ms
/// and coarse enough that a day of simulated time fits easily in a `u64`.
pub type Millis = u64;

/// A group member (one device of one person).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MemberId(pub u32);

/// A receiving service agent (mailbox server).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgentId(pub u32);

/// A server agent of coordinated groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServerId(pub u32);

/// A group message: its sender and the sender's own counter.
///
/// Ids are assigned by the sender, so two members can never collide and no
/// coordination is needed, which is the point of a lightweight group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MessageId {
    pub sender: MemberId,
    pub seq: u32,
}

/// One pairwise ciphertext on the wire: sender plus the sender's envelope
/// counter. Receivers deduplicate on it before they try to decrypt, since an
/// Olm message key can be used only once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EnvelopeId {
    pub sender: MemberId,
    pub seq: u64,
}

/// Where a datagram goes or comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Peer {
    Member(MemberId),
    Agent(AgentId),
    Server(ServerId),
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m{}", self.0)
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.sender, self.seq)
    }
}

impl fmt::Display for EnvelopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}~{}", self.sender, self.seq)
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Member(m) => m.fmt(f),
            Peer::Agent(a) => a.fmt(f),
            Peer::Server(c) => c.fmt(f),
        }
    }
}

impl Peer {
    /// A host by name, for tests that write hosts as a trace does.
    #[cfg(test)]
    pub fn named(name: &str) -> Peer {
        Peer::parse(name).unwrap_or_else(|| panic!("{name:?} names no host"))
    }

    /// Parses a host name as printed by `Display` ("m3", "s1", "c0").
    pub fn parse(name: &str) -> Option<Peer> {
        let (kind, num) = name.split_at_checked(1)?;
        let n: u32 = num.parse().ok()?;
        match kind {
            "m" => Some(Peer::Member(MemberId(n))),
            "s" => Some(Peer::Agent(AgentId(n))),
            "c" => Some(Peer::Server(ServerId(n))),
            _ => None,
        }
    }
}

/// Serde for a list of hosts by name (`["m3", "s0"]`), the way traces
/// and scenario files write them, read back typed.
pub mod host_names {
    use super::Peer;
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(hosts: &[Peer], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(hosts.iter().map(Peer::to_string))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Peer>, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        names.iter().map(|n| parse(n)).collect()
    }

    pub(super) fn parse<E: Error>(name: &str) -> Result<Peer, E> {
        Peer::parse(name).ok_or_else(|| E::custom(format!("{name:?} names no host")))
    }
}

/// Serde for one host by name (`"c0"`).
pub mod host_name {
    use super::Peer;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(host: &Peer, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(host)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Peer, D::Error> {
        super::host_names::parse(&String::deserialize(d)?)
    }
}

/// The same for lists of host lists (a partition's sides).
pub mod host_name_lists {
    use super::Peer;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(lists: &[Vec<Peer>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            lists
                .iter()
                .map(|l| l.iter().map(Peer::to_string).collect::<Vec<_>>()),
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<Peer>>, D::Error> {
        let lists = Vec::<Vec<String>>::deserialize(d)?;
        (lists.iter())
            .map(|l| l.iter().map(|n| super::host_names::parse(n)).collect())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_round_trip() {
        for p in [
            Peer::Member(MemberId(0)),
            Peer::Agent(AgentId(17)),
            Peer::Server(ServerId(2)),
        ] {
            assert_eq!(Peer::parse(&p.to_string()), Some(p));
        }
        assert_eq!(Peer::parse("x1"), None);
        assert_eq!(Peer::parse("m"), None);
        assert_eq!(Peer::parse(""), None);
    }
}
