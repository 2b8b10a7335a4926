//! What each checker's claim is about, and whether a run reached it: a
//! `pass` from `fork_detection` on a run without a fork says nothing, and
//! a sweep whose every seed passes so tells nothing about forks. The
//! figure each checker already counts says whether it had something to
//! judge, so a summary can read "fork_detection: pass on 500 plans, 37
//! with a fork", and a claim no run exercised is shown as vacuous.

use super::figure::{Figure, Figures};
use crate::trace::CheckId;

/// The situation a checker judges, and the figure of its own that counts
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Precondition {
    /// "with a fork": how a summary names the runs that reached it.
    pub with: &'static str,
    pub figure: Figure,
    /// The least value that counts as reached.
    pub at_least: u64,
}

impl Precondition {
    /// Whether the checker's figures show the situation arose.
    pub fn reached(&self, measured: &Figures) -> bool {
        measured
            .get(self.figure)
            .is_some_and(|v| v >= self.at_least)
    }
}

/// Each checker's precondition: one exhaustive match, so a new checker
/// must say what its claims are about.
pub fn precondition(check: CheckId) -> Precondition {
    let (with, figure, at_least) = match check {
        CheckId::Convergence => ("with members to compare", Figure::Considered, 2),
        CheckId::MembershipIntent => ("with a membership op", Figure::Judged, 1),
        CheckId::GroupMetadata => ("with a rename", Figure::Renames, 1),
        CheckId::ForkDetection => ("with a fork", Figure::Forks, 1),
        CheckId::Delivery => (
            "with an acknowledged delivery",
            Figure::AcknowledgedPairs,
            1,
        ),
        CheckId::TotalOrder => ("with an ordered message", Figure::Ordered, 1),
        CheckId::Fallback => ("with a fallback owed", Figure::Owed, 1),
        CheckId::EpochAgreement => ("with an epoch to compare", Figure::EpochsCompared, 1),
        CheckId::NoSplitBrain => ("with a takeover", Figure::GenerationsAccepted, 2),
        CheckId::EquivocationDetected => ("with a lie", Figure::Lies, 1),
        CheckId::ForgeriesRejected => ("with a forgery", Figure::Forged, 1),
        CheckId::PostRemovalSecrecy => (
            "with a ciphertext after a removal",
            Figure::CiphertextsTried,
            1,
        ),
        CheckId::ServerBlindness => ("with datagrams to agents", Figure::DatagramsScanned, 1),
        CheckId::NeedlessFallback => ("with a fallback on a peer's notice", Figure::Judged, 1),
    };
    Precondition {
        with,
        figure,
        at_least,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A healthy lightweight run exercises convergence and delivery, and
    /// nothing that needs a fork, a server or an attacker.
    #[test]
    fn a_healthy_run_exercises_what_it_has() {
        let trace = crate::trace::testkit::healthy();
        let seen = crate::observations::Observations::default();
        for v in super::super::check_run(&trace, &seen) {
            let reached = precondition(v.check).reached(&v.measured);
            let expected = matches!(v.check, CheckId::Convergence | CheckId::Delivery);
            assert_eq!(reached, expected, "{}: {:?}", v.check, v.measured);
        }
    }

    #[test]
    fn reached_needs_the_figure_at_its_least() {
        let p = precondition(CheckId::NoSplitBrain);
        let mut f = Figures::default();
        assert!(!p.reached(&f), "unmeasured is not reached");
        f.insert(Figure::GenerationsAccepted, 1);
        assert!(!p.reached(&f));
        f.insert(Figure::GenerationsAccepted, 2);
        assert!(p.reached(&f));
    }
}
