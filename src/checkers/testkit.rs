//! Test helpers for checkers: the trace builder, and what a verdict
//! mentions.

pub use crate::trace::testkit::*;

use super::Verdict;
use crate::core::ids::{MemberId, MessageId};

pub fn mentions_member(v: &Verdict, who: MemberId) -> bool {
    v.evidence.iter().any(|e| e.members.contains(&who))
}

pub fn mentions_message(v: &Verdict, msg: MessageId) -> bool {
    v.evidence.iter().any(|e| e.messages.contains(&msg))
}
