//! Looking a contact's address up again at its agent.
//!
//! Contact cards are handed over once, out of band, and a member announces
//! new addresses only in what it sends to a group it is in. A member whose
//! agents lost their store registers again and holds new addresses that an
//! outsider's card (or a silent member's) does not name, so every delivery
//! to it was refused and abandoned: a Welcome to it never arrived and it
//! never joined (`coordinated-adversity` 76). A delivery refused at every
//! address the card names is now parked, and the sender asks the agent
//! that refused it for the member's newest long-term address, as it asks
//! an agent for a one-time key. A newer one goes into the card and the
//! parked deliveries go out to it; an agent that does not know the member
//! yet (it has not registered again) is asked again, with the request
//! back-off, until the attempts run out and the deliveries are abandoned.

use super::Member;
use super::outbound::{Purpose, Request};
use crate::core::event::Event;
use crate::core::ids::{AgentId, MemberId, Millis, Peer};
use crate::core::io::Effects;
use crate::core::wire::{Datagram, Grant};

/// `next_at` of a delivery parked until its recipient's address is known
/// again: never due, so the request machinery leaves it alone.
pub(super) const PARKED: Millis = Millis::MAX;

impl Member {
    /// Parks the refused delivery `r` (request `req`) and looks its
    /// recipient's address up at the agent that refused it, unless a
    /// lookup there is already under way.
    pub(super) fn park_for_lookup(
        &mut self,
        now: Millis,
        req: u64,
        mut r: Request,
        to: MemberId,
        fx: &mut Effects,
    ) {
        let agent = r.agent;
        r.next_at = PARKED;
        self.out.requests.insert(req, r);
        let looking = self
            .out
            .requests
            .values()
            .any(|l| l.agent == agent && l.purpose == Purpose::Lookup { peer: to });
        if !looking {
            self.send_request(
                now,
                agent,
                Purpose::Lookup { peer: to },
                |req| Datagram::LookupAddress { req, member: to },
                fx,
            );
        }
    }

    /// The agent's answer to a lookup: a newer address sends the parked
    /// deliveries again; anything else asks again later.
    pub(super) fn on_current_address(
        &mut self,
        now: Millis,
        req: u64,
        long_term: Option<Grant>,
        fx: &mut Effects,
    ) {
        let Some(mut r) = self.complete(req) else {
            return;
        };
        let Purpose::Lookup { peer } = r.purpose else {
            return;
        };
        let agent = r.agent;
        let renewed = long_term.filter(|g| {
            g.address.agent == agent
                && self
                    .contact(peer)
                    .and_then(|c| c.agents.iter().find(|a| a.agent == agent))
                    .is_some_and(|a| g.address.token > a.long_term.address.token)
        });
        let Some(grant) = renewed else {
            // Not registered again yet: ask again once the back-off is up,
            // and give up (abandoning what is parked) with the attempts.
            r.next_at = now + super::outbound::backoff(self.cfg.retry_ms, r.attempts);
            self.out.requests.insert(req, r);
            return;
        };
        if let Some(c) = self.particle.others.get_mut(&peer) {
            let c = std::sync::Arc::make_mut(c);
            if let Some(a) = c.agents.iter_mut().find(|a| a.agent == agent) {
                a.long_term = grant;
                a.ephemeral = None;
            }
        }
        fx.record(Event::AddressLookedUp {
            member: peer,
            agent,
        });
        let retry_ms = self.cfg.retry_ms;
        for (_, parked) in self.parked_for(peer, agent) {
            if let Datagram::Deliver { address, .. } = &mut parked.datagram {
                *address = grant.address;
            }
            parked.next_at = now + retry_ms;
            fx.send(Peer::Agent(agent), parked.datagram.encode());
        }
    }

    /// The lookup got no answer at all: abandon what waited on it.
    pub(super) fn lookup_failed(&mut self, peer: MemberId, agent: AgentId, fx: &mut Effects) {
        let parked: Vec<u64> = self.parked_for(peer, agent).map(|(req, _)| req).collect();
        for req in parked {
            if let Some(Purpose::Envelope { env, to }) =
                self.out.requests.remove(&req).map(|r| r.purpose)
            {
                fx.record(Event::DeliveryAbandoned { env, to, agent });
            }
        }
    }

    fn parked_for(
        &mut self,
        peer: MemberId,
        agent: AgentId,
    ) -> impl Iterator<Item = (u64, &mut Request)> {
        self.out.requests.iter_mut().filter_map(move |(req, r)| {
            let waiting = r.next_at == PARKED
                && r.agent == agent
                && matches!(r.purpose, Purpose::Envelope { to, .. } if to == peer);
            waiting.then_some((*req, r))
        })
    }
}
