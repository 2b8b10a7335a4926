//! One line of the trace, and who wrote it.

use crate::core::ids::{MemberId, Millis, Peer};
use crate::trace::Event;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One line of the trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Simulated milliseconds since the start of the run.
    pub t: Millis,
    /// The host it happened on, or the simulator.
    pub host: Origin,
    #[serde(flatten)]
    pub event: Event,
}

/// Who recorded an event: a host, or the simulator itself (the run's
/// start and end, faults it carried out). Written as the host's name
/// ("m3", "s0", "c1") or "sim", and read back typed, so that a checker
/// never parses a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Origin {
    Sim,
    Host(Peer),
}

impl Origin {
    pub fn peer(self) -> Option<Peer> {
        match self {
            Origin::Sim => None,
            Origin::Host(p) => Some(p),
        }
    }
}

impl From<Peer> for Origin {
    fn from(p: Peer) -> Origin {
        Origin::Host(p)
    }
}

impl From<MemberId> for Origin {
    fn from(m: MemberId) -> Origin {
        Origin::Host(Peer::Member(m))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Sim => f.write_str("sim"),
            Origin::Host(p) => p.fmt(f),
        }
    }
}

impl From<Origin> for String {
    fn from(o: Origin) -> String {
        o.to_string()
    }
}

impl TryFrom<String> for Origin {
    type Error = String;

    fn try_from(name: String) -> Result<Origin, String> {
        name.parse()
    }
}

impl std::str::FromStr for Origin {
    type Err = String;

    fn from_str(name: &str) -> Result<Origin, String> {
        match name {
            "sim" => Ok(Origin::Sim),
            _ => Peer::parse(name)
                .map(Origin::Host)
                .ok_or_else(|| format!("host: {name:?} names no host (m3, s0, c1 or sim)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::AgentId;

    #[test]
    fn an_origin_is_written_as_the_host_name_and_read_back_typed() {
        for (o, name) in [
            (Origin::Sim, "\"sim\""),
            (Origin::from(MemberId(3)), "\"m3\""),
            (Origin::from(Peer::Agent(AgentId(0))), "\"s0\""),
        ] {
            assert_eq!(serde_json::to_string(&o).unwrap(), name);
            assert_eq!(serde_json::from_str::<Origin>(name).unwrap(), o);
        }
        let err = serde_json::from_str::<Origin>("\"x9\"").unwrap_err();
        assert!(err.to_string().contains("names no host"), "{err}");
    }
}
