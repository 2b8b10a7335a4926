//! `commsim explore`: fault plans and membership ops drawn from each seed,
//! every checker held to what a correct protocol must give, and each
//! distinct failure shrunk to a scenario file.

use super::BadInput;
use super::sweep_cmd::{Selection, progress, run_on_bar, threads};
use crate::core::member::membership::Variant;
use crate::coverage::Feature;
use crate::explore::guided::{Guide, Mark, Origin, Strategy, batches};
use crate::explore::outcome::RunLine;
use crate::explore::runner::{Explored, Job};
use crate::explore::shrink::{ShrinkSpec, shrink};
use crate::explore::sweep::abbreviate;
use crate::scenario::{Scenario, SeedRange, load_file};
use crate::trace::CheckId;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

#[derive(clap::Args, Debug)]
pub struct Options {
    /// The scenario: topology, group kind, timers and workload; its
    /// `[explore]` table bounds the plans.
    pub file: PathBuf,
    #[command(flatten)]
    pub select: Selection,
    /// Folder for the shrunk scenarios.
    #[arg(long, default_value = "explored")]
    pub out: PathBuf,
    /// Print each run's `run --json` object on stdout, one per line (every
    /// check's answer, not only the first failing one), and nothing else.
    #[arg(long)]
    pub json: bool,
    /// Shrink every failing run, not only the first of each (variant,
    /// failing check).
    #[arg(long, conflicts_with = "no_shrink")]
    pub shrink_every: bool,
    /// Report failures without shrinking them.
    #[arg(long)]
    pub no_shrink: bool,
    /// Simulations each shrink may use.
    #[arg(long, default_value_t = 1000)]
    pub shrink_runs: usize,
    /// How plans are chosen: `guided` keeps the plans that reached a
    /// protocol state no earlier one did, or pushed a checker's figure
    /// further, and mostly mutates them; `swarm` draws every plan afresh
    /// from its seed.
    #[arg(long, value_enum, default_value_t = Strategy::Guided)]
    pub strategy: Strategy,
    /// Draw the coverage growth (protocol states reached against plans
    /// run) into this SVG file.
    #[arg(long, value_name = "FILE")]
    pub coverage_plot: Option<PathBuf>,
}

pub fn run(o: Options) -> Result<bool, BadInput> {
    let file = o.file.display().to_string();
    let base = load_file(&o.file).map_err(|e| BadInput(e.report()))?;
    let seeds: SeedRange = match &o.select.seeds {
        Some(s) => s.parse().map_err(|e| BadInput(format!("--seeds: {e}")))?,
        None => base.seeds,
    };
    let only = o.select.variant;
    if let Some(v) = only
        && !base.variants.contains(&v)
    {
        return Err(BadInput(format!("--variant: {file} does not list `{v}`")));
    }
    let threads = threads(o.select.jobs);
    let variants: Vec<_> = (base.variants.iter())
        .filter(|v| only.is_none_or(|o| o == **v))
        .copied()
        .collect();
    let mut guide = Guide::new(&base, o.strategy);
    let bar = progress(seeds.len() * variants.len() as u64);
    let misses = AtomicUsize::new(0);
    let (mut jobs, mut lines, mut origins) = (Vec::new(), Vec::new(), Vec::new());
    for batch in batches(seeds) {
        let plans: Vec<(u64, Arc<Scenario>, Origin)> = (batch.iter())
            .map(|&seed| {
                let (plan, origin) = guide.plan(seed);
                (seed, Arc::new(plan), origin)
            })
            .collect();
        let batch_jobs: Vec<Job> = (plans.iter())
            .flat_map(|(seed, plan, _)| {
                let explored = Explored {
                    seed: *seed,
                    plan: crate::explore::emit::to_toml(plan, "").into(),
                };
                let file = &file;
                variants.iter().map(move |&variant| Job {
                    file: file.clone(),
                    scenario: plan.clone(),
                    variant,
                    seed: plan.seed,
                    engine: o.select.engine,
                    explored: Some(explored.clone()),
                })
            })
            .collect();
        let batch_lines = run_on_bar(&batch_jobs, threads, o.json, "failing", &bar, &misses);
        for (k, (seed, plan, origin)) in plans.into_iter().enumerate() {
            let runs = &batch_lines[k * variants.len()..(k + 1) * variants.len()];
            let reached: BTreeSet<Feature> = (runs.iter())
                .filter_map(|l| match l {
                    RunLine::Done(s) => s.features.clone(),
                    RunLine::Panicked(_) => None,
                })
                .flatten()
                .collect();
            let marks: BTreeSet<Mark> = (runs.iter())
                .filter_map(|l| match l {
                    RunLine::Done(s) => Some(s.checks.iter()),
                    RunLine::Panicked(_) => None,
                })
                .flatten()
                .flat_map(|c| {
                    let check = c.verdict.check;
                    (c.verdict.measured.iter()).filter_map(move |(f, v)| Mark::of(check, f, v))
                })
                .collect();
            guide.learn(seed, plan, reached, marks);
            origins.extend(variants.iter().map(|_| (seed, origin.clone())));
        }
        jobs.extend(batch_jobs);
        lines.extend(batch_lines);
    }
    bar.finish_and_clear();

    // Failures by (variant, first failing check): the first seed of each
    // is shrunk, the others listed.
    let mut groups: BTreeMap<(String, Failed), Vec<usize>> = BTreeMap::new();
    let mut per_variant: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let v = jobs[i].variant.name().to_owned();
        let entry = per_variant.entry(v.clone()).or_default();
        entry.0 += 1;
        let check = match line {
            RunLine::Done(s) if s.met() => continue,
            RunLine::Done(s) => (s.checks.iter())
                .find(|c| !c.met)
                .map_or(Failed::Missing, |c| Failed::Check(c.verdict.check)),
            RunLine::Panicked(_) => Failed::Panic,
        };
        entry.1 += 1;
        groups.entry((v, check)).or_default().push(i);
    }
    eprintln!("{:<16} {:>6} {:>8}", "variant", "seeds", "failing");
    for (v, (runs, failing)) in &per_variant {
        eprintln!("{v:<16} {runs:>6} {failing:>8}");
    }
    coverage(&guide, o.strategy);
    exercised(&lines);
    if let Some(path) = &o.coverage_plot {
        let curve = crate::report::growth::Curve {
            scenario: &base.name,
            strategy: match o.strategy {
                Strategy::Guided => "guided",
                Strategy::Swarm => "swarm",
            },
            kind: base.group_kind,
            variant: variants.first().copied().unwrap_or(Variant::Lww),
            engine: o.select.engine,
            growth: &guide.tally.growth,
            plans: guide.tally.runs,
        };
        std::fs::write(path, crate::report::growth::coverage_svg(&curve))
            .map_err(|e| BadInput(format!("--coverage-plot {}: {e}", path.display())))?;
        eprintln!("wrote {}", path.display());
    }
    if groups.is_empty() {
        eprintln!(
            "{} seeds ({seeds}): every check met its claim on every plan",
            seeds.len()
        );
        return Ok(true);
    }
    let _ = std::fs::create_dir_all(&o.out);
    eprintln!("\nfailures, by variant and first failing check:");
    for ((variant, check), idx) in &groups {
        let job = &jobs[idx[0]];
        let (first, origin) = &origins[idx[0]];
        let seeds_list: Vec<String> = idx.iter().map(|&i| origins[i].0.to_string()).collect();
        eprintln!(
            "  [{variant}] {check}: {} seeds ({})",
            idx.len(),
            abbreviate(&seeds_list, 12)
        );
        match origin {
            Origin::Drawn => eprintln!(
                "    replay: commsim explore {file} --seeds {first}..={first} --variant {variant} \
                 --no-shrink --strategy swarm"
            ),
            // A mutated plan depends on the corpus before it: its file is
            // the way to run it again.
            Origin::Mutated { .. } => {
                let _ = std::fs::create_dir_all(&o.out);
                let path = o.out.join(format!("{}-plan-seed{first}.toml", base.name));
                let header = format!(
                    "Found by `commsim explore {file}` ({}), [{variant}].",
                    origin.describe(*first)
                );
                std::fs::write(&path, crate::explore::emit::to_toml(&job.scenario, &header))
                    .map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
                eprintln!(
                    "    replay: commsim run {} --variant {variant}",
                    path.display()
                );
            }
        }
        let Failed::Check(check) = check else {
            continue;
        };
        if o.no_shrink {
            continue;
        }
        let chosen = if o.shrink_every { &idx[..] } else { &idx[..1] };
        for &i in chosen {
            let job = &jobs[i];
            let spec = ShrinkSpec {
                file: file.clone(),
                scenario: (*job.scenario).clone(),
                seed: job.seed,
                variant: job.variant,
                engine: job.engine,
                check: Some(*check),
                threads,
                other_seeds: 3,
                max_runs: o.shrink_runs,
            };
            let bar = progress(o.shrink_runs as u64);
            let result = shrink(&spec, |runs, size| {
                bar.set_position(runs as u64);
                bar.set_message(size.to_string());
            });
            bar.finish_and_clear();
            match result {
                Ok(mut shrunk) => {
                    // Named by the exploring seed, which tells the files
                    // of one check apart; the seed inside may differ.
                    let name = format!("{}-{check}-seed{first}.toml", base.name);
                    shrunk.scenario.name = name.trim_end_matches(".toml").to_owned();
                    let path = o.out.join(&name);
                    let origin = format!(
                        "Found by `commsim explore {file}` on exploring seed {first} [{variant}]."
                    );
                    std::fs::write(&path, shrunk.to_toml(&origin))
                        .map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
                    eprintln!("    shrunk: {} -> {}", shrunk.before, shrunk.after);
                    eprintln!(
                        "    wrote {} ({} runs); replay: commsim run {}",
                        path.display(),
                        shrunk.runs,
                        path.display()
                    );
                }
                Err(e) => eprintln!("    not shrunk: {e}"),
            }
        }
    }
    let failing: usize = groups.values().map(Vec::len).sum();
    eprintln!("\n{failing} failing runs of {}", lines.len());
    Ok(false)
}

/// What the plans reached: the protocol states seen, how many more the
/// Chao1 estimator expects, and when the last new one turned up, so a
/// user can tell whether more seeds would pay.
fn coverage(guide: &Guide, strategy: Strategy) {
    let t = &guide.tally;
    let last = t.growth.last().map_or(0, |g| g.0);
    let [q1, q2, q3, q4] = t.quarters();
    eprintln!(
        "coverage: {} protocol states reached over {} plans ({q1}, {q2}, {q3}, {q4} after each \
         quarter), the last new one at plan {last}; Chao1 estimates {:.0} in all (about {:.0} \
         unseen); {}",
        t.observed(),
        t.runs,
        t.chao1(),
        t.unseen(),
        match strategy {
            Strategy::Guided => format!("{} plans kept in the corpus", guide.corpus_len()),
            Strategy::Swarm => "swarm keeps no corpus".to_owned(),
        }
    );
}

/// Per check, over every run: how many met their claim and how many
/// reached what the check is about, so a clean explore says what it
/// tested ("fork_detection: 500 met, 37 with a fork"), and a check that
/// nothing exercised stands out.
fn exercised(lines: &[RunLine]) {
    let mut per: BTreeMap<CheckId, (usize, usize)> = BTreeMap::new();
    for line in lines {
        let RunLine::Done(s) = line else { continue };
        for c in &s.checks {
            let e = per.entry(c.verdict.check).or_default();
            e.0 += usize::from(c.met);
            e.1 += usize::from(c.reached);
        }
    }
    eprintln!(
        "checks over {} runs (met their claim; reached what they judge):",
        lines.len()
    );
    for (check, (met, reached)) in per {
        let with = crate::checkers::precondition(check).with;
        let note = if reached == 0 { "  (vacuous)" } else { "" };
        eprintln!("  {check:<22} {met:>6} met {reached:>6} {with}{note}");
    }
}

/// How a run failed, for grouping: the first checker that missed its
/// claim, a claimed checker that did not run, or a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Failed {
    Check(CheckId),
    Missing,
    Panic,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Check(c) => c.fmt(f),
            Failed::Missing => f.write_str("(expected check missing)"),
            Failed::Panic => f.write_str("(panic)"),
        }
    }
}
