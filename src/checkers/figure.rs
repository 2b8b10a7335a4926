//! What checkers measure besides their answer: named counts and times,
//! typed so that a report asks for `Figure::SettledAfterMs` of the
//! convergence checker and the compiler knows both exist.
//!
//! Figures are written by their snake_case names (`settled_after_ms`),
//! as before they were typed, and ordered by name so that a verdict's
//! figures print in the same order in every build.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use strum::{EnumIter, EnumString, IntoStaticStr};

/// One figure a checker may measure. Which checker measures which is
/// documented in `docs/checkers.md`; a figure a verdict lacks was not
/// measured on that run (a run with no fork has no detection latency),
/// which [`Figures::get`] says as `None`, never as 0.
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
pub enum Figure {
    Accepted,
    AcknowledgedPairs,
    AcknowledgedToRemoved,
    AcknowledgedToUnreachable,
    AcksChecked,
    AfterFallback,
    BeforeJoin,
    CausalViolations,
    ChangedMembers,
    CiphertextsNotOnWire,
    CiphertextsTried,
    ConcurrentAddRemove,
    Considered,
    ContestedGenerations,
    ControlMessages,
    CoordinatedSides,
    DatagramsScanned,
    DeadlineMs,
    DeliveredPairs,
    DeliveriesChecked,
    Detected,
    DetectionLatencyMaxMs,
    DistinctNames,
    DistinctViews,
    DroppedReceipts,
    Duplicates,
    EpochsCompared,
    Excused,
    FallbackLatencyMaxMs,
    FalseAccusations,
    FalseAlarms,
    FellBack,
    Fenced,
    Forged,
    ForkReports,
    Forks,
    GenerationsAccepted,
    IdleFailures,
    Islands,
    Judged,
    LastChangeMs,
    LastOpMs,
    Late,
    LateChanges,
    LiedTo,
    Lies,
    LightweightMembers,
    Lost,
    LostUnacknowledged,
    Members,
    Messages,
    Missing,
    MlsAddressed,
    MlsNotTried,
    MlsRemovals,
    MlsTried,
    Needless,
    NotOrderedForMember,
    NotServed,
    OddRecords,
    Ordered,
    OrderedRemovals,
    OutOfOrder,
    Owed,
    Pairs,
    PairsDetected,
    PairsUndetected,
    PairsUnjudged,
    ParentMissing,
    PlannedDropped,
    PlannedMade,
    PlannedRefused,
    Proved,
    Readable,
    RecordsNotEntered,
    RecoveredAfterMs,
    RecoveredDeliveries,
    RecoveredLate,
    Refusals,
    Removals,
    Renames,
    Reverted,
    ServerFailures,
    ServerForkReports,
    SettledAfterMs,
    ShownAfterRemoval,
    Sides,
    SidesDetected,
    SidesDetectedLate,
    SidesMissed,
    SidesMissedUnreachable,
    SplitEpochs,
    StaleMembers,
    Stalls,
    TakeoverLatencyMaxMs,
    TakeoversMissed,
    TakeoversOwed,
    UnacknowledgedNotAddressable,
    UnacknowledgedNotDue,
    UnacknowledgedOwed,
    UnacknowledgedPairs,
    UnacknowledgedSenderGone,
    UnacknowledgedToUnreachable,
    UndeterminedRemovals,
    UnknownParents,
    Violations,
    WithPlaintext,
}

named_enum!(Figure, ordered_by_name);

/// A verdict's figures. Reading results written by another build, a
/// figure this build does not know is skipped rather than refused, so
/// that `compare` can set an old sweep beside a new one; every figure
/// this build writes it also reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Figures(BTreeMap<Figure, u64>);

impl Figures {
    /// The figure, or `None` when the checker did not measure it.
    pub fn get(&self, f: Figure) -> Option<u64> {
        self.0.get(&f).copied()
    }

    pub fn insert(&mut self, f: Figure, value: u64) {
        self.0.insert(f, value);
    }

    pub fn iter(&self) -> impl Iterator<Item = (Figure, u64)> + '_ {
        self.0.iter().map(|(f, v)| (*f, *v))
    }
}

impl<const N: usize> From<[(Figure, u64); N]> for Figures {
    fn from(pairs: [(Figure, u64); N]) -> Figures {
        Figures(pairs.into_iter().collect())
    }
}

impl FromIterator<(Figure, u64)> for Figures {
    fn from_iter<I: IntoIterator<Item = (Figure, u64)>>(pairs: I) -> Figures {
        Figures(pairs.into_iter().collect())
    }
}

impl std::ops::Index<Figure> for Figures {
    type Output = u64;

    /// For tests: panics, naming the figure, when it was not measured.
    fn index(&self, f: Figure) -> &u64 {
        self.0
            .get(&f)
            .unwrap_or_else(|| panic!("figure `{f}` was not measured"))
    }
}

impl<'de> Deserialize<'de> for Figures {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Figures, D::Error> {
        let raw = BTreeMap::<String, u64>::deserialize(d)?;
        Ok(Figures(
            raw.into_iter()
                .filter_map(|(k, v)| Some((Figure::parse(&k)?, v)))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_alphabetically() {
        let all: Vec<Figure> = Figure::all().collect();
        for f in &all {
            assert_eq!(Figure::parse(f.name()), Some(*f));
            assert_eq!(serde_json::to_value(f).unwrap(), f.name());
        }
        let mut sorted = all.clone();
        sorted.sort();
        let names: Vec<&str> = sorted.iter().map(|f| f.name()).collect();
        let mut by_name = names.clone();
        by_name.sort_unstable();
        assert_eq!(names, by_name);
    }

    #[test]
    fn figures_an_older_build_wrote_are_skipped_not_refused() {
        let f: Figures = serde_json::from_str(r#"{"lost": 2, "members_g2_c1": 3}"#).unwrap();
        assert_eq!(f.get(Figure::Lost), Some(2));
        assert_eq!(f.get(Figure::Islands), None);
        assert_eq!(serde_json::to_string(&f).unwrap(), r#"{"lost":2}"#);
    }
}
