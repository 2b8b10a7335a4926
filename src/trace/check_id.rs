//! The one list of checkers. Scenario files name them in `[expect]`,
//! traces carry claims on them, verdicts and reports are keyed by them:
//! all by this enum, so a checker added here is a compiler error wherever
//! one must be handled, and a name misspelt anywhere is caught where it is
//! read.

use serde::{Deserialize, Serialize};
use strum::{EnumIter, EnumString, IntoStaticStr};

/// A checker, in the order runs print them: the trace-only checkers
/// first, then the two that need what only a live run observed.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    EnumIter,
    EnumString,
    IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CheckId {
    Convergence,
    MembershipIntent,
    GroupMetadata,
    ForkDetection,
    Delivery,
    TotalOrder,
    Fallback,
    NeedlessFallback,
    EpochAgreement,
    NoSplitBrain,
    EquivocationDetected,
    ForgeriesRejected,
    PostRemovalSecrecy,
    ServerBlindness,
}

named_enum!(CheckId, ordered_by_name);

impl CheckId {
    /// "convergence, membership_intent, ...": for messages that list them.
    pub fn names() -> String {
        CheckId::all()
            .map(CheckId::name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_parse() {
        for c in CheckId::all() {
            assert_eq!(CheckId::parse(c.name()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
        assert_eq!(CheckId::parse("convergance"), None);
        // Tables pad names to a column.
        assert_eq!(format!("{:<10}|", CheckId::Delivery), "delivery  |");
    }
}
