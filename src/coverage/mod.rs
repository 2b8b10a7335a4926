//! Protocol-state coverage: which abstract states and events a run
//! reached ([`features`]), and over many runs, how many were seen, how
//! the count grew, and how many more are likely out there ([`Tally`]).
//! Guided exploration keeps the plans that reached something new; a user
//! reads the tally to tell when more seeds stop paying.

mod features;

pub use features::{Feature, Gen, GroupMode, Pending, Refusal, Span, features};

use std::collections::{BTreeMap, BTreeSet};

/// Features over many runs. (Not serialisable as it stands: a feature is
/// a struct, and JSON map keys are strings.)
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub runs: u64,
    /// In how many runs each feature was reached.
    pub seen: BTreeMap<Feature, u64>,
    /// `(runs, features seen)` after each run that found something new.
    pub growth: Vec<(u64, usize)>,
}

impl Tally {
    /// Counts one run's features; returns those never seen before.
    pub fn add(&mut self, features: &BTreeSet<Feature>) -> Vec<Feature> {
        self.runs += 1;
        let mut new = Vec::new();
        for f in features {
            let n = self.seen.entry(*f).or_default();
            if *n == 0 {
                new.push(*f);
            }
            *n += 1;
        }
        if !new.is_empty() {
            self.growth.push((self.runs, self.seen.len()));
        }
        new
    }

    pub fn observed(&self) -> usize {
        self.seen.len()
    }

    /// How many features there are in all, seen or not, by the Chao1
    /// estimator in its bias-corrected form for incidence data: features
    /// seen in exactly one run (`q1`) and exactly two (`q2`) say how many
    /// were missed. While rare features keep turning up, many remain;
    /// once every feature has been seen twice, more runs stop paying.
    pub fn chao1(&self) -> f64 {
        let m = self.runs as f64;
        if m == 0.0 {
            return 0.0;
        }
        let q = |k| self.seen.values().filter(|n| **n == k).count() as f64;
        let (q1, q2) = (q(1), q(2));
        self.observed() as f64 + (m - 1.0) / m * q1 * (q1 - 1.0).max(0.0) / (2.0 * (q2 + 1.0))
    }

    /// States seen after each quarter of the runs: a count that stops
    /// rising between the last quarters says more seeds stopped paying.
    pub fn quarters(&self) -> [usize; 4] {
        let after = |runs: u64| {
            (self.growth.iter())
                .take_while(|(r, _)| *r <= runs)
                .last()
                .map_or(0, |(_, seen)| *seen)
        };
        [1, 2, 3, 4].map(|q| after((self.runs * q).div_ceil(4)))
    }

    /// Features probably there but not reached yet.
    pub fn unseen(&self) -> f64 {
        self.chao1() - self.observed() as f64
    }

    /// How rare a feature is, 1 / the runs that reached it: the guided
    /// loop picks as parents the plans whose features are rarest.
    pub fn rarity(&self, f: &Feature) -> f64 {
        1.0 / self.seen.get(f).copied().unwrap_or(1).max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(fs: &[Feature]) -> BTreeSet<Feature> {
        fs.iter().copied().collect()
    }

    #[test]
    fn chao1_counts_what_rare_features_imply() {
        let (a, b, c) = (
            Feature::ForkDetected,
            Feature::Fenced,
            Feature::MailboxWiped,
        );
        let mut t = Tally::default();
        assert_eq!(t.add(&set(&[a, b])), vec![a, b]);
        assert_eq!(t.add(&set(&[a])), Vec::<Feature>::new());
        assert_eq!(t.add(&set(&[a, c])), vec![c]);
        // a in 3 runs, b and c in one each: q1 = 2, q2 = 0.
        assert_eq!(t.observed(), 3);
        let expected = 3.0 + (2.0 / 3.0) * 2.0 * 1.0 / 2.0;
        assert!((t.chao1() - expected).abs() < 1e-9, "{}", t.chao1());
        assert_eq!(t.growth, vec![(1, 2), (3, 3)]);
        // 3 runs: quarters end at runs 1, 2, 3 and 3.
        assert_eq!(t.quarters(), [2, 2, 3, 3]);
        // Once everything is seen often, nothing more is expected.
        for _ in 0..5 {
            t.add(&set(&[a, b, c]));
        }
        assert_eq!(t.unseen(), 0.0);
    }
}
