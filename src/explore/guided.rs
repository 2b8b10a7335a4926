//! Guided exploration: keep the plans that reached a protocol state no
//! earlier plan reached, and spend most seeds on small changes to them,
//! the rare ones most (as AFL, Zest and Antithesis prefer inputs that
//! reach new coverage; Mallory steers fault choices the same way).
//!
//! It stays a function of the seed range alone: seeds go in fixed
//! batches of [`BATCH`], every plan of a batch is drawn from the corpus
//! as it stood before the batch, and the batch's runs are learnt in seed
//! order. How many runs are in flight (`--jobs`) changes nothing.

use super::draw::{below, unit};
use super::generate::plan as drawn;
use super::mutate::{Mutation, mutate};
use crate::checkers::Figure;
use crate::coverage::{Feature, Tally};
use crate::scenario::{Scenario, SeedRange, parse_str};
use crate::trace::CheckId;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Seeds planned from one state of the corpus.
pub const BATCH: usize = 32;

/// The stream a seed's guided choices come from: apart from the plan
/// generator's, so that a seed drawn fresh gives the plan swarm gives.
const STREAM_GUIDE: u64 = 0x6775_6964_6564_0000;

/// How plans are chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// Three seeds in four mutate a plan of the corpus; the fourth draws
    /// a fresh one.
    #[default]
    Guided,
    /// Every seed draws a fresh plan (swarm testing, no feedback).
    Swarm,
}

/// Where a plan came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    Drawn,
    /// Changed from the plan of exploring seed `parent`.
    Mutated {
        parent: u64,
        mutations: Vec<Mutation>,
    },
}

impl Origin {
    /// A line for the plan file's header.
    pub fn describe(&self, seed: u64) -> String {
        match self {
            Origin::Drawn => format!("drawn from exploring seed {seed}"),
            Origin::Mutated { parent, mutations } => {
                let how: Vec<&str> = mutations.iter().map(|m| <&str>::from(*m)).collect();
                format!(
                    "exploring seed {seed}: the plan of seed {parent}, changed by {}",
                    how.join(", ")
                )
            }
        }
    }
}

struct Entry {
    seed: u64,
    plan: Arc<Scenario>,
    features: BTreeSet<Feature>,
    marks: BTreeSet<Mark>,
}

/// How far a run pushed one checker's figure: its magnitude in half
/// powers of two. A plan that pushed a latency, a count of late or missing
/// things, or any other figure further than every plan before it is a
/// near miss worth looking near, as AFL's value profile and FuzzFactory's
/// waypoints keep inputs that move a comparison closer to failing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark {
    check: CheckId,
    figure: Figure,
    level: u8,
}

impl Mark {
    pub fn of(check: CheckId, figure: Figure, value: u64) -> Option<Mark> {
        (value > 0).then(|| Mark {
            check,
            figure,
            // floor(2 log2 v) + 1, from the bit length and the bit below it.
            level: {
                let top = 63 - value.leading_zeros();
                let half = top > 0 && value & (1 << (top - 1)) != 0;
                (2 * top + u32::from(half) + 1) as u8
            },
        })
    }
}

/// The corpus and the coverage so far.
pub struct Guide<'a> {
    base: &'a Scenario,
    strategy: Strategy,
    corpus: Vec<Entry>,
    pub tally: Tally,
    /// Per (check, figure), the highest level any run reached, and how
    /// many runs reached it.
    best: BTreeMap<(CheckId, Figure), (u8, u64)>,
}

impl<'a> Guide<'a> {
    pub fn new(base: &'a Scenario, strategy: Strategy) -> Guide<'a> {
        Guide {
            base,
            strategy,
            corpus: Vec::new(),
            tally: Tally::default(),
            best: BTreeMap::new(),
        }
    }

    /// Plans the corpus holds.
    pub fn corpus_len(&self) -> usize {
        self.corpus.len()
    }

    /// The plan for exploring seed `seed`, given the corpus as it is.
    pub fn plan(&self, seed: u64) -> (Scenario, Origin) {
        let fresh = || (drawn(self.base, seed), Origin::Drawn);
        if self.strategy == Strategy::Swarm || self.corpus.is_empty() {
            return fresh();
        }
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        rng.set_stream(STREAM_GUIDE);
        if below(&mut rng, 4) == 0 {
            return fresh();
        }
        let parent = self.choose(&mut rng);
        let other = &self.corpus[below(&mut rng, self.corpus.len() as u64) as usize];
        match mutate(&mut rng, &parent.plan, &other.plan) {
            // The child keeps its parent's run seed, so the workload and
            // the network draw as they did: the change is the mutation.
            Some((child, mutations)) if loads(&child) => (
                child,
                Origin::Mutated {
                    parent: parent.seed,
                    mutations,
                },
            ),
            _ => fresh(),
        }
    }

    /// A parent, each plan weighted by how rare what it reached is: a
    /// plan that alone reached a state, or that alone pushed a figure as
    /// far as any run has, is worth looking near.
    fn choose(&self, rng: &mut ChaCha20Rng) -> &Entry {
        let weight = |e: &Entry| -> f64 {
            let states: f64 = e.features.iter().map(|f| self.tally.rarity(f)).sum();
            let marks: f64 = (e.marks.iter())
                .filter_map(|m| match self.best.get(&(m.check, m.figure)) {
                    Some((level, runs)) if *level == m.level => Some(1.0 / *runs as f64),
                    _ => None,
                })
                .sum();
            states + marks
        };
        let total: f64 = self.corpus.iter().map(weight).sum();
        let mut at = unit(rng) * total;
        for e in &self.corpus {
            at -= weight(e);
            if at <= 0.0 {
                return e;
            }
        }
        &self.corpus[self.corpus.len() - 1]
    }

    /// What one plan's runs reached (every variant's, together): the
    /// states, and the figures the checkers measured. The plan joins the
    /// corpus if it reached a state never reached before, or pushed a
    /// figure further than any run before it. Returns how many new states
    /// it reached.
    pub fn learn(
        &mut self,
        seed: u64,
        plan: Arc<Scenario>,
        features: BTreeSet<Feature>,
        marks: BTreeSet<Mark>,
    ) -> usize {
        let new = self.tally.add(&features).len();
        let mut further = false;
        for m in &marks {
            let best = self.best.entry((m.check, m.figure)).or_insert((0, 0));
            if m.level > best.0 {
                *best = (m.level, 1);
                further = true;
            } else if m.level == best.0 {
                best.1 += 1;
            }
        }
        if new > 0 || further {
            self.corpus.push(Entry {
                seed,
                plan,
                features,
                marks,
            });
        }
        new
    }
}

/// Whether the loader takes the plan as a file: a mutation can make one
/// it would refuse (two lies overlapping on one server).
fn loads(s: &Scenario) -> bool {
    parse_str("plan.toml", &super::emit::to_toml(s, "")).is_ok()
}

/// The seed range cut into the batches the loop plans at once.
pub fn batches(seeds: SeedRange) -> Vec<Vec<u64>> {
    let all: Vec<u64> = seeds.iter().collect();
    all.chunks(BATCH).map(<[u64]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::Feature;

    use crate::explore::mutate::tests::BASE;

    /// With an empty corpus, and always under swarm, a seed's plan is the
    /// generator's; once the corpus holds plans, most seeds mutate them,
    /// and the same corpus gives the same plans.
    #[test]
    fn the_loop_mutates_what_reached_something_new() {
        let base = parse_str("b.toml", BASE).unwrap();
        let mut g = Guide::new(&base, Strategy::Guided);
        assert_eq!(g.plan(7).0, drawn(&base, 7));
        let first = Arc::new(drawn(&base, 1));
        assert_eq!(
            g.learn(1, first.clone(), [Feature::Fenced].into(), [].into()),
            1
        );
        assert_eq!(g.learn(2, first, [Feature::Fenced].into(), [].into()), 0);
        assert_eq!(g.corpus_len(), 1);
        let mutated = (100..140)
            .filter(|s| matches!(g.plan(*s).1, Origin::Mutated { parent: 1, .. }))
            .count();
        assert!(mutated >= 20, "{mutated} of 40 seeds mutated the corpus");
        assert_eq!(g.plan(123), g.plan(123));
        let swarm = Guide::new(&base, Strategy::Swarm);
        assert_eq!(swarm.plan(123).0, drawn(&base, 123));
    }

    #[test]
    fn a_mark_is_a_figure_in_half_powers_of_two() {
        let level = |v| Mark::of(CheckId::Fallback, Figure::Late, v).map(|m| m.level);
        assert_eq!(level(0), None);
        assert_eq!(
            [1, 2, 3, 4, 6, 7, 8].map(level),
            [1, 3, 4, 5, 6, 6, 7].map(Some)
        );
        assert_eq!(level(u64::MAX), Some(128));
    }

    /// A plan that reached no new state but pushed a figure further than
    /// any before it is kept, and one that only matched it is not.
    #[test]
    fn a_near_miss_joins_the_corpus() {
        let base = parse_str("b.toml", BASE).unwrap();
        let mut g = Guide::new(&base, Strategy::Guided);
        let plan = Arc::new(drawn(&base, 1));
        let late = |v| -> BTreeSet<Mark> {
            Mark::of(CheckId::Delivery, Figure::Late, v)
                .into_iter()
                .collect()
        };
        g.learn(1, plan.clone(), [Feature::Fenced].into(), late(2));
        g.learn(2, plan.clone(), [Feature::Fenced].into(), late(3));
        assert_eq!(g.corpus_len(), 2);
        g.learn(3, plan.clone(), [Feature::Fenced].into(), late(3));
        g.learn(4, plan, [Feature::Fenced].into(), late(1));
        assert_eq!(g.corpus_len(), 2);
    }

    #[test]
    fn batches_are_fixed_by_the_range() {
        let b = batches("1..=70".parse().unwrap());
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [32, 32, 6]);
        assert_eq!(b[2][0], 65);
    }
}
