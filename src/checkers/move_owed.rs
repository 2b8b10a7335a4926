//! A move one member owes by a deadline: a fallback, or a join of a later
//! generation. Unanswered submissions and refusals each owe one; the
//! fallback checker judges them alike.

use super::history::History;
use crate::core::ids::{MemberId, Millis};

#[derive(Clone, Debug, PartialEq)]
pub struct MoveOwed {
    pub member: MemberId,
    /// What started the clock.
    pub at: Millis,
    pub deadline: Millis,
    /// When the member did move, if it ever did.
    pub moved: Option<Millis>,
    /// Why it owed the move, for the evidence ("c0 turned it away at ...").
    pub why: String,
}

impl MoveOwed {
    pub fn met(&self) -> bool {
        self.moved.is_some_and(|t| t <= self.deadline)
    }
}

/// The member's first fallback or join at or after `from`.
pub fn first_move(h: &History, member: MemberId, from: Millis) -> Option<Millis> {
    (h.servers.fallbacks.iter().map(|f| (f.host, f.t)))
        .chain(h.servers.joins.iter().map(|j| (j.host, j.t)))
        .filter(|(m, t)| *m == member && *t >= from)
        .map(|(_, t)| t)
        .min()
}
