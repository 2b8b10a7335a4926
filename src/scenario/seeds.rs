//! Seed ranges: the seeds a scenario's claims are made over.

use super::limits::MAX_SEEDS;
use std::fmt;
use std::str::FromStr;

/// An inclusive range of seeds, written `A..=B` (or a single `N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    pub first: u64,
    pub last: u64,
}

impl SeedRange {
    /// The range a scenario claims over when it names none: wide enough
    /// that a claim true on one lucky seed is unlikely to survive, small
    /// enough that `cargo test` can sweep a small scenario over it.
    pub const DEFAULT: SeedRange = SeedRange { first: 1, last: 20 };

    pub fn iter(self) -> impl Iterator<Item = u64> {
        self.first..=self.last
    }

    pub fn len(self) -> u64 {
        self.last - self.first + 1
    }

    pub fn is_empty(self) -> bool {
        false
    }

    pub fn contains(self, seed: u64) -> bool {
        (self.first..=self.last).contains(&seed)
    }
}

impl FromStr for SeedRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected a seed range like \"1..=50\" or one seed, got \"{s}\"");
        let number = |t: &str| t.trim().parse::<u64>().map_err(|_| bad());
        let (first, last) = match s.split_once("..=") {
            Some((a, b)) => (number(a)?, number(b)?),
            None if s.contains("..") => {
                return Err(format!(
                    "write an inclusive range with `..=`, like \"1..=50\"; got \"{s}\""
                ));
            }
            None => {
                let n = number(s)?;
                (n, n)
            }
        };
        if last < first {
            return Err(format!(
                "the range \"{s}\" is empty: {last} is below {first}"
            ));
        }
        if last - first >= MAX_SEEDS {
            return Err(format!(
                "the range \"{s}\" has more than {MAX_SEEDS} seeds, the limit of a seed range"
            ));
        }
        Ok(SeedRange { first, last })
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.first, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_and_single_seeds() {
        let r: SeedRange = "3..=7".parse().unwrap();
        assert_eq!((r.first, r.last, r.len()), (3, 7, 5));
        assert_eq!(r.to_string(), "3..=7");
        let widest: SeedRange = "1..=1000000".parse().unwrap();
        assert_eq!(widest.len(), MAX_SEEDS);
        let one: SeedRange = "42".parse().unwrap();
        assert_eq!(one.iter().collect::<Vec<_>>(), vec![42]);
    }

    #[test]
    fn rejects_what_it_cannot_mean() {
        for bad in ["", "1..5", "a..=3", "9..=2", "-1..=3", "0..=1000000"] {
            assert!(bad.parse::<SeedRange>().is_err(), "{bad}");
        }
    }
}
