//! What a scenario claims a checker answers: over one seed, or over every
//! seed of the scenario's range.
//!
//! A claim lives in the trace (so `commsim check` can judge a saved trace
//! on its own) and in the scenario model, which is why it sits in the
//! trace's vocabulary rather than beside the loader or the checkers.

use serde::{Deserialize, Serialize};

/// What a checker is expected to answer, as written in the scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Claim {
    /// Every seed passes.
    Pass,
    /// Every seed fails: a weakness of the variant that shows on any seed.
    Fail,
    /// Every seed answers unknown.
    Unknown,
    /// At least one seed of the range fails. A known weakness that needs
    /// the right timing (a removal lost only when a message crosses it) is
    /// stated this way, rather than as `fail` on the one seed that shows it.
    FailsSometimes,
    /// No seed fails: each passes, or cannot be judged (a dishonest server
    /// that never got to lie). What `commsim explore` holds a generated
    /// plan to, since a drawn plan may leave a checker nothing to judge.
    NeverFails,
}

impl Claim {
    pub fn name(self) -> &'static str {
        match self {
            Claim::Pass => "pass",
            Claim::Fail => "fail",
            Claim::Unknown => "unknown",
            Claim::FailsSometimes => "fails-sometimes",
            Claim::NeverFails => "never-fails",
        }
    }

    /// Whether one seed's answer is consistent with the claim. A
    /// `fails-sometimes` claim is about the range, so no single seed
    /// misses it: a pass on this seed says nothing about the others.
    pub fn met_by(self, answer: Status) -> bool {
        match self {
            Claim::Pass => answer == Status::Pass,
            Claim::Fail => answer == Status::Fail,
            Claim::Unknown => answer == Status::Unknown,
            Claim::FailsSometimes => true,
            Claim::NeverFails => answer != Status::Fail,
        }
    }

    /// Whether the answers of every seed of a range meet the claim. An
    /// empty range meets nothing: a claim nobody tested is not met.
    pub fn met_over(self, answers: &[Status]) -> bool {
        if answers.is_empty() {
            return false;
        }
        match self {
            Claim::FailsSometimes => answers.contains(&Status::Fail),
            _ => answers.iter().all(|a| self.met_by(*a)),
        }
    }
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn one_seed_misses_only_an_always_claim() {
        assert!(Claim::Pass.met_by(Pass));
        assert!(!Claim::Pass.met_by(Unknown));
        assert!(!Claim::Fail.met_by(Pass));
        assert!(Claim::Unknown.met_by(Unknown));
        for a in [Pass, Fail, Unknown] {
            assert!(Claim::FailsSometimes.met_by(a));
        }
        assert!(Claim::NeverFails.met_by(Pass) && Claim::NeverFails.met_by(Unknown));
        assert!(!Claim::NeverFails.met_by(Fail));
    }

    #[test]
    fn a_range_meets_fails_sometimes_only_with_a_failing_seed() {
        assert!(Claim::FailsSometimes.met_over(&[Pass, Fail, Pass]));
        assert!(!Claim::FailsSometimes.met_over(&[Pass, Pass, Unknown]));
        assert!(Claim::Pass.met_over(&[Pass, Pass]));
        assert!(!Claim::Pass.met_over(&[Pass, Fail]));
        assert!(!Claim::Fail.met_over(&[]));
    }

    #[test]
    fn old_traces_still_read() {
        let c: Claim = serde_json::from_str("\"unknown\"").unwrap();
        assert_eq!(c, Claim::Unknown);
        let c: Claim = serde_json::from_str("\"fails-sometimes\"").unwrap();
        assert_eq!(c, Claim::FailsSometimes);
    }
}
