//! What the trace says about a coordinated group's generations: who joined
//! which, the epochs members entered and the authenticators they hold,
//! which server accepted which generation, and members' reports of forks.
//!
//! Kept apart from `history.rs` because only the coordinated-group
//! checkers read it, and a lightweight trace leaves it empty.

use super::at::At;
use crate::core::ids::{MemberId, Millis, Peer, ServerId};
use crate::trace::HostEvent;
use crate::trace::{Event, Record};

/// Member reports that show a fork or an equivocating server was noticed.
/// Matched by kind name, so that a report kind added to `Event` later
/// (`equivocation_detected`) counts here without a change.
pub const DETECTIONS: [&str; 2] = ["fork_detected", "equivocation_detected"];

/// One `epoch_entered`: the key is (generation, server, epoch).
#[derive(Clone, Debug, PartialEq)]
pub struct EpochEntry {
    pub generation: u32,
    pub server: ServerId,
    pub epoch: u64,
    pub authenticator: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Join {
    pub generation: u32,
    pub server: ServerId,
    pub nominator: MemberId,
}

/// A server's `generation_accepted`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Accepted {
    pub t: Millis,
    pub server: ServerId,
    pub generation: u32,
    pub nominator: MemberId,
}

/// A member's coordinated state changing: joined a generation, or fell
/// back to lightweight mode (`None`).
pub type Switch = Option<Join>;

#[derive(Clone, Debug, Default)]
pub struct Coordination {
    pub epochs: Vec<At<EpochEntry>>,
    /// Per member host, in trace order.
    pub switches: Vec<At<Switch>>,
    /// Detection reports by kind name.
    pub detections: Vec<At<String>>,
    pub accepted: Vec<Accepted>,
    /// Servers that learnt their generation was superseded.
    pub fenced: Vec<(Millis, ServerId, u32)>,
}

impl Coordination {
    /// Notes one record, whatever its kind; returns false when a member
    /// event it needs came from a host that is not a member.
    pub(super) fn note(&mut self, idx: usize, r: &Record) -> bool {
        let peer = r.host.peer();
        let member = match peer {
            Some(Peer::Member(m)) => Some(m),
            _ => None,
        };
        let t = r.t;
        let on = |what| At::on(member, t, idx, what);
        match &r.event {
            Event::Host(HostEvent::Joined {
                generation,
                server,
                nominator,
                ..
            }) => {
                let join = Join {
                    generation: *generation,
                    server: *server,
                    nominator: *nominator,
                };
                return on(Some(join)).map(|a| self.switches.push(a)).is_some();
            }
            Event::Host(HostEvent::FellBack { .. }) => {
                return on(None).map(|a| self.switches.push(a)).is_some();
            }
            Event::Host(HostEvent::EpochEntered {
                generation,
                server,
                epoch,
                authenticator,
            }) => {
                let e = EpochEntry {
                    generation: *generation,
                    server: *server,
                    epoch: *epoch,
                    authenticator: authenticator.clone(),
                };
                return At::on(member, t, idx, e)
                    .map(|a| self.epochs.push(a))
                    .is_some();
            }
            Event::Host(HostEvent::GenerationAccepted {
                generation,
                nominator,
                ..
            }) => {
                if let Some(Peer::Server(server)) = peer {
                    self.accepted.push(Accepted {
                        t,
                        server,
                        generation: *generation,
                        nominator: *nominator,
                    });
                }
            }
            Event::Host(HostEvent::Fenced { generation, .. }) => {
                if let Some(Peer::Server(server)) = peer {
                    self.fenced.push((t, server, *generation));
                }
            }
            // The frequent kinds, which are never detections: skipped
            // without naming them.
            Event::Host(HostEvent::Delivered { .. })
            | Event::Host(HostEvent::MessageSent { .. })
            | Event::Host(HostEvent::EnvelopeSent { .. })
            | Event::Host(HostEvent::DeliveryAcked { .. })
            | Event::Host(HostEvent::SubmitAcked { .. })
            | Event::Host(HostEvent::SessionCreated { .. })
            | Event::DatagramLost { .. }
            | Event::DatagramDuplicated { .. }
            | Event::Host(HostEvent::Ordered { .. }) => {}
            other if member.is_some() => {
                let kind = other.kind();
                if DETECTIONS.contains(&kind.as_str()) {
                    self.detections.extend(At::on(member, t, idx, kind));
                }
            }
            _ => {}
        }
        true
    }

    /// Whether `member` reported a fork or equivocation at or after `since`.
    pub fn detected(&self, member: MemberId, since: Millis) -> bool {
        self.detections
            .iter()
            .any(|d| d.host == member && d.t >= since)
    }
}
