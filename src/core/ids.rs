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

/// A kind of host as scenario files and traces name it ("m3", "c0"):
/// what lets one serde module write any of them by name and read each
/// back as its own type, refusing a name of the wrong kind.
pub trait Host: fmt::Display + Sized {
    /// "member", "server agent": for the message when a name is of
    /// another kind.
    const WHAT: &'static str;
    fn from_peer(p: Peer) -> Option<Self>;
}

impl Host for Peer {
    const WHAT: &'static str = "host";
    fn from_peer(p: Peer) -> Option<Peer> {
        Some(p)
    }
}

impl Host for MemberId {
    const WHAT: &'static str = "member";
    fn from_peer(p: Peer) -> Option<MemberId> {
        match p {
            Peer::Member(m) => Some(m),
            _ => None,
        }
    }
}

impl Host for ServerId {
    const WHAT: &'static str = "server agent";
    fn from_peer(p: Peer) -> Option<ServerId> {
        match p {
            Peer::Server(c) => Some(c),
            _ => None,
        }
    }
}

fn host_by_name<H: Host, E: serde::de::Error>(name: &str) -> Result<H, E> {
    Peer::parse(name)
        .and_then(H::from_peer)
        .ok_or_else(|| E::custom(format!("{name:?} names no {}", H::WHAT)))
}

/// Serde for one host by name (`"c0"`), of any [`Host`] type.
pub mod host_name {
    use super::Host;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<H: Host, S: Serializer>(host: &H, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(host)
    }

    pub fn deserialize<'de, H: Host, D: Deserializer<'de>>(d: D) -> Result<H, D::Error> {
        super::host_by_name(&String::deserialize(d)?)
    }
}

/// Serde for a list of hosts by name (`["m3", "s0"]`), the way traces
/// and scenario files write them, read back typed.
pub mod host_names {
    use super::Host;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<H: Host, S: Serializer>(hosts: &[H], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(hosts.iter().map(H::to_string))
    }

    pub fn deserialize<'de, H: Host, D: Deserializer<'de>>(d: D) -> Result<Vec<H>, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        names.iter().map(|n| super::host_by_name(n)).collect()
    }
}

/// Serde for a host that may be absent (`victim`).
pub mod optional_host_name {
    use super::Host;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<H: Host, S: Serializer>(host: &Option<H>, s: S) -> Result<S::Ok, S::Error> {
        match host {
            Some(h) => s.collect_str(h),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, H: Host, D: Deserializer<'de>>(d: D) -> Result<Option<H>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(n) => super::host_by_name(&n).map(Some),
            None => Ok(None),
        }
    }
}

/// Serde for a time span as scenario files write it (`"250ms"`), so
/// that a fault in a trace reads like the fault in the file. Signed, for
/// clock offsets; a field of type `Millis` gets [`millis_text`].
pub mod signed_millis_text {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{ms}ms"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        (text.strip_suffix("ms"))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| D::Error::custom(format!("{text:?} is not a span such as \"250ms\"")))
    }
}

/// [`signed_millis_text`] for spans that cannot be negative.
pub mod millis_text {
    use super::Millis;
    use serde::de::Error;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{ms}ms"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        let ms = super::signed_millis_text::deserialize(d)?;
        Millis::try_from(ms).map_err(|_| D::Error::custom(format!("{ms}ms is negative")))
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
        // Each kind of host reads back only a name of its own kind.
        let member: Result<MemberId, serde_json::Error> =
            host_name::deserialize(serde_json::json!("c0"));
        assert_eq!(member.unwrap_err().to_string(), r#""c0" names no member"#);
        let server: ServerId = host_name::deserialize(serde_json::json!("c2")).unwrap();
        assert_eq!(server, ServerId(2));
        assert_eq!(Peer::parse("m"), None);
        assert_eq!(Peer::parse(""), None);
    }
}
