//! Verdicts held to the claims a scenario makes on them: the one place
//! that says whether an expectation was met, for a live run, a saved trace
//! and a sweep alike.

use super::{Verdict, status_name};
use crate::trace::{CheckId, Claim, Expect};
use serde::{Deserialize, Serialize};

/// One checker's verdict and the claim on it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Check {
    #[serde(flatten)]
    pub verdict: Verdict,
    pub expected: Option<Claim>,
    /// The claim holds, or there is none, or it was not judged.
    pub met: bool,
    /// The claim could not be judged here: a saved trace lacks what the
    /// checker needs. It is shown, but holds the run to nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
    /// The run reached what the claim is about (a fork for
    /// `fork_detection`; see `checkers/exercised.rs`).
    #[serde(default)]
    pub reached: bool,
}

/// Every verdict of one run, judged.
#[derive(Clone, Debug, Default)]
pub struct Judged {
    pub checks: Vec<Check>,
    /// Claims on checkers that did not run: never met.
    pub unran: Vec<(CheckId, Claim)>,
}

/// Holds each verdict to its claim in `expect`; `skip` names verdicts
/// whose claims cannot be judged here.
pub fn judge(verdicts: Vec<Verdict>, expect: &Expect, skip: impl Fn(&Verdict) -> bool) -> Judged {
    let unran = expect
        .iter()
        .filter(|(check, _)| !verdicts.iter().any(|v| &v.check == *check))
        .map(|(check, claim)| (*check, *claim))
        .collect();
    let checks = verdicts
        .into_iter()
        .map(|verdict| {
            let expected = expect.get(&verdict.check).copied();
            let skipped = expected.is_some() && skip(&verdict);
            Check {
                met: skipped || expected.is_none_or(|e| e.met_by(verdict.status)),
                expected,
                skipped,
                reached: super::precondition(verdict.check).reached(&verdict.measured),
                verdict,
            }
        })
        .collect();
    Judged { checks, unran }
}

/// How many of `checks` carry a claim that was held to an answer (not
/// skipped): a verdict with none has shown nothing.
pub fn claims_judged(checks: &[Check]) -> usize {
    (checks.iter())
        .filter(|c| c.expected.is_some() && !c.skipped)
        .count()
}

impl Judged {
    /// Every claim was met (and every claimed checker ran).
    pub fn met(&self) -> bool {
        self.unran.is_empty() && self.checks.iter().all(|c| c.met)
    }

    /// Claims held to an answer.
    pub fn judged(&self) -> usize {
        claims_judged(&self.checks)
    }

    /// One line per claim not met; empty when all were.
    pub fn mismatches(&self) -> Vec<String> {
        let missed = self.checks.iter().filter(|c| !c.met).filter_map(|c| {
            let want = c.expected?;
            Some(format!(
                "{}: expected {want}, got {}",
                c.verdict.check,
                status_name(c.verdict.status)
            ))
        });
        let unran = (self.unran.iter())
            .map(|(check, want)| format!("{check}: expected {want}, but no such check ran"));
        missed.chain(unran).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::check_trace;
    use crate::trace::Trace;

    fn expect() -> Expect {
        Expect::from([
            (CheckId::Delivery, Claim::Pass),
            (CheckId::Convergence, Claim::Unknown),
            (CheckId::ForkDetection, Claim::FailsSometimes),
            (CheckId::PostRemovalSecrecy, Claim::Fail),
        ])
    }

    #[test]
    fn each_claim_not_met_is_named() {
        let j = judge(check_trace(&Trace::default()), &expect(), |_| false);
        assert!(!j.met());
        assert_eq!(
            j.mismatches(),
            [
                "delivery: expected pass, got unknown",
                "post_removal_secrecy: expected fail, but no such check ran",
            ]
        );
        assert_eq!(j.judged(), 3);
    }

    #[test]
    fn a_skipped_claim_is_shown_but_holds_nothing() {
        let mut want = expect();
        want.remove(&CheckId::PostRemovalSecrecy);
        let j = judge(check_trace(&Trace::default()), &want, |v| {
            v.check == CheckId::Delivery
        });
        assert!(j.met(), "{:?}", j.mismatches());
        assert_eq!(j.judged(), 2);
        let delivery = j
            .checks
            .iter()
            .find(|c| c.verdict.check == CheckId::Delivery);
        assert!(delivery.is_some_and(|c| c.skipped && c.met));
    }
}
