//! Telling the server agent of new mailbox addresses.
//!
//! The server fans each ordered message out to the long-term addresses it
//! was given when the member joined, and abandons a fan-out its mailbox
//! agent refuses. A mailbox agent that lost its store refuses every old
//! address, so a member whose agents were wiped received nothing ordered
//! again, and, with no gap it could see, never asked: it stayed at the
//! epoch before the wipe for good (`coordinated-adversity` 76). A member
//! whose long-term address changes (a wiped agent's new incarnation, or a
//! renewal) now gives its server the new ones, with the first slot it
//! lacks; the server sends again what it ordered from there. Unanswered,
//! it is retried like a submission, and falls back like one.

use crate::core::ids::{Millis, Peer};
use crate::core::io::Effects;
use crate::core::member::Member;
use crate::core::wire::Datagram;

/// A `Readdress` waiting for the server's answer (volatile).
pub(in crate::core::member) struct Readdressing {
    pub(super) req: u64,
    attempts: u32,
    pub(super) next_at: Millis,
    /// When it was first sent, for the fallback timeout.
    pub(super) since: Millis,
}

impl Member {
    /// The long-term addresses the server fans out to.
    pub(in crate::core::member) fn mailboxes(&self) -> Vec<crate::core::wire::Address> {
        self.own.iter().map(|a| a.long_term.address).collect()
    }

    /// This member's long-term addresses changed: tell the server.
    pub(in crate::core::member) fn readdress(&mut self, now: Millis, fx: &mut Effects) {
        let req = self.next_req();
        if let Some(c) = self.coord.as_mut().filter(|c| c.mls.is_active()) {
            c.readdress = Some(Readdressing {
                req,
                attempts: 0,
                next_at: now,
                since: now,
            });
        }
        self.retry_readdress(now, fx);
    }

    /// Sends the `Readdress` if it is due, with the addresses and the
    /// first slot lacking as they are now (both may have moved since the
    /// last try).
    pub(super) fn retry_readdress(&mut self, now: Millis, fx: &mut Effects) {
        let mailboxes = self.mailboxes();
        let (group, retry_ms) = (self.cfg.group, self.cfg.retry_ms);
        let Some(c) = self.coord.as_mut() else { return };
        let Some(r) = c.readdress.as_mut().filter(|r| r.next_at <= now) else {
            return;
        };
        r.attempts = r.attempts.saturating_add(1);
        r.next_at = now + retry_ms * u64::from(r.attempts.min(8));
        let datagram = Datagram::Readdress {
            req: r.req,
            group,
            generation: c.generation,
            next_seq: c.next_seq,
            mailboxes,
        };
        fx.send(Peer::Server(c.server), datagram.encode());
    }
}
