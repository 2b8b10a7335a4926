//! Every deadline a member keeps, by kind, in one place. A driver is told
//! only the earliest (`WakeAt`), so a member needs one timer of the
//! driver's, as quinn-proto's connection does: the kinds are an enum, the
//! next deadline of each is computed by one exhaustive match, and a wake-up
//! goes through the kinds in one fixed order.
//!
//! The periodic deadlines (fetch, rotation, renewal) are the table's own;
//! the others belong to the sub-machine whose work they time (a request's
//! retry, a buffered message's parent timeout, a submission, a nomination,
//! an audit round), which keeps them beside that work, and the table reads
//! them from there.

use super::Member;
use crate::core::ids::{AgentId, Millis};
use crate::core::io::Effects;
use std::collections::BTreeMap;

/// A kind of deadline, in the order a wake-up serves them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::EnumIter)]
pub(super) enum Timer {
    /// Requests to agents waiting for an answer, to send again.
    Requests,
    /// Submissions to the server agent waiting for a receipt.
    Submits,
    /// Nominations, and the takeover after a fallback.
    Generations,
    /// Polling the own mailboxes.
    Fetch,
    /// Asking for fresh ephemeral addresses.
    Rotate,
    /// Renewing the long-term address at each own agent.
    Renew,
    /// Messages waiting too long for a parent, to ask for it.
    Parents,
    /// Comparing receipts with peers.
    Audit,
}

/// The member's own periodic deadlines.
#[derive(Clone, Debug, Default)]
pub(super) struct TimerTable {
    pub(super) fetch: Millis,
    pub(super) rotate: Millis,
    /// When to renew the long-term address at each own agent (persisted,
    /// like the addresses themselves).
    pub(super) renew: BTreeMap<AgentId, Millis>,
    /// How far the member's clock has been set back in all, and its last
    /// reading. Deadlines run on the clock's reading plus `set_back`, a
    /// time that never goes back, as a device's monotonic clock does: a
    /// member whose clock went back two minutes otherwise waited those two
    /// minutes to retry, or to notice an unanswered submission
    /// (`coordinated-clock-set-back-stalls`). Stamps read the clock itself
    /// ([`Member::wall`]).
    pub(super) set_back: Millis,
    pub(super) last_read: Millis,
}

impl Member {
    /// The time deadlines run on, for a reading `local` of the member's
    /// clock (see [`TimerTable::set_back`]).
    pub(super) fn timer_time(&mut self, local: Millis) -> Millis {
        if local < self.due.last_read {
            self.due.set_back += self.due.last_read - local;
        }
        self.due.last_read = local;
        local + self.due.set_back
    }

    /// What the member's clock reads at timer time `now`: for stamps, and
    /// for validity times other hosts issued.
    pub(super) fn wall(&self, now: Millis) -> Millis {
        now.saturating_sub(self.due.set_back)
    }

    /// When `timer` next needs the member; `None` when nothing of its kind
    /// is waiting.
    pub(super) fn deadline(&self, timer: Timer) -> Option<Millis> {
        match timer {
            Timer::Requests => self.out.requests.values().map(|r| r.next_at).min(),
            Timer::Submits => self.coord.as_ref().and_then(|c| c.next_wake()),
            Timer::Generations => self.generations_wake(),
            Timer::Fetch => Some(self.due.fetch),
            Timer::Rotate => Some(self.due.rotate),
            Timer::Renew => self.renewals_wake().min(),
            Timer::Parents => (self.causal.buffer.values())
                .map(|b| b.asked_at.unwrap_or(b.since) + self.cfg.parent_timeout_ms)
                .min(),
            Timer::Audit => self.audit_wake(),
        }
    }

    /// The earliest deadline of every kind: what the member asks to be
    /// woken at.
    pub(super) fn next_wake(&self) -> Millis {
        <Timer as strum::IntoEnumIterator>::iter()
            .filter_map(|t| self.deadline(t))
            .min()
            .unwrap_or(self.due.fetch)
    }

    /// Serves every kind of deadline, in the enum's order. Each handler
    /// acts only on what is due; fetching and rotation are due when their
    /// deadline has passed, and set the next one a period on.
    pub(super) fn wake(&mut self, now: Millis, fx: &mut Effects) {
        for timer in <Timer as strum::IntoEnumIterator>::iter() {
            match timer {
                Timer::Requests => self.retry_requests(now, fx),
                Timer::Submits => self.retry_submits(now, fx),
                Timer::Generations => self.drive_generations(now, fx),
                Timer::Fetch => {
                    if now >= self.due.fetch {
                        self.fetch_all(fx);
                        self.due.fetch = now + self.cfg.fetch_interval_ms;
                    }
                }
                Timer::Rotate => {
                    if now >= self.due.rotate {
                        self.rotate_addresses(now, fx);
                        self.due.rotate = now + self.cfg.rotate_every_ms;
                    }
                }
                Timer::Renew => self.renew_long_term(now, fx),
                Timer::Parents => self.report_missing_parents(now, fx),
                Timer::Audit => self.audit_tick(now, fx),
            }
        }
    }
}
