//! The `commsim` command line.
//!
//! Exit codes: 0 when every claim judged was met (and at least one was
//! judged), 1 when one was not or when nothing was claimed, 2 for bad input
//! (an unusable scenario, trace or option, or a trace that does not verify).

/// Prints a line to standard output; a reader that leaves early (`| head`)
/// stops the output but not the command, whose exit code stays the verdict's.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::out::line(format_args!($($arg)*))
    };
}

mod check_cmd;
mod compare_cmd;
mod explore_cmd;
mod out;
mod report_cmd;
mod run_cmd;
mod shrink_cmd;
mod summary;
mod sweep_cmd;
mod timeline_cmd;

use crate::core::member::membership::Variant;
use crate::sim::Engine;
use crate::trace::CheckId;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "commsim",
    version,
    about = "Deterministic simulator and test harness for Communicator groups"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// Log more to stderr: -v what each command does, -vv the runs and
    /// faults, -vvv everything. RUST_LOG, when set, overrides it (for
    /// example RUST_LOG=commsim::sim=debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Log errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
}

/// Logs go to stderr, so that stdout holds only results.
fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .try_init();
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a scenario and check the recorded history.
    ///
    /// Without --variant, every variant the scenario lists is run on the
    /// same seed, one after another, so that they can be compared.
    Run {
        /// The scenario file (TOML).
        file: PathBuf,
        /// Seed for every random choice; defaults to the scenario's.
        #[arg(long)]
        seed: Option<u64>,
        /// Protocol variant to run; defaults to every variant the scenario
        /// lists. Another variant runs with nothing claimed for it.
        #[arg(long, value_parser = variant_arg())]
        variant: Option<Variant>,
        /// Write the trace (JSON Lines, sealed) here. With several variants
        /// the variant name goes before the extension. Never the scenario
        /// file itself.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Write a run folder here, like Maelstrom's store: `trace.jsonl`
        /// (sealed), `results.json` (the `--json` summary) and
        /// `timeline.svg` (`commsim timeline`). With several variants, one
        /// folder per variant inside it.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print one JSON summary object per run instead of text.
        #[arg(long)]
        json: bool,
        /// The engine that drives the run: `turmoil` (every host a tokio
        /// task with a UDP socket, polled every tick) or `events` (a queue
        /// of timed events, far faster for large groups).
        #[arg(long, default_value_t = Engine::default(), value_parser = engine_arg())]
        engine: Engine,
    },
    /// Run scenarios over their seed ranges, on every core, and judge each
    /// expectation as a claim over the seeds.
    ///
    /// Each run is exactly `commsim run FILE --seed N --variant V` (same
    /// digest). The summary table goes to stderr; with --json, stdout holds
    /// one `run --json` object per run and nothing else.
    Sweep(sweep_cmd::Options),
    /// Draw fault plans and membership ops from each seed, hold every
    /// checker to what a correct protocol must give, and shrink each
    /// distinct failure to a scenario file.
    ///
    /// The scenario's `[explore]` table bounds the plans: fault kinds, how
    /// many, rates, the time window, hosts, extra ops, and the run's shape
    /// (group size, traffic, races, fault combinations). Each seed uses a
    /// random subset of the fault kinds (swarm testing). By default the
    /// search is guided: plans that reached a protocol state no earlier
    /// plan did, or pushed a checker's figure further (a near miss), are
    /// kept and mutated. The summary says what the plans
    /// reached, and what each check had to judge.
    Explore(explore_cmd::Options),
    /// Reduce a failing run to a small scenario that fails the same check.
    ///
    /// Tries, greedily until none helps: dropping half, a quarter, ... of
    /// the faults and ops at once (ddmin), then a fault or an op,
    /// removing a member, agent or server agent (renaming the rest),
    /// halving the workload, its rate, or a fault's window, and other seeds
    /// when a smaller scenario needs another timing. Writes an ordinary
    /// scenario file that `commsim run` reproduces.
    Shrink(shrink_cmd::Options),
    /// Compare two builds on the same scenarios and seeds.
    ///
    /// Give it the `sweep --json` output of the build before a change and
    /// of the build after. It prints Markdown: the claims that changed
    /// over the matched seeds (held before, missed after, is a regression),
    /// the runs that newly miss or meet their claims with a command to
    /// replay each, the runs whose trace digest changed (the protocol
    /// behaved differently), and the costs that moved. Given two traces
    /// (`run --trace`) instead, it shows the first record where they part.
    /// Exits 1 when a claim regressed.
    Compare(compare_cmd::Options),
    /// Draw a saved run as an SVG picture.
    ///
    /// Hosts are lanes (members, mailbox agents, server agents); each group
    /// message is an arrow from its send to each delivery; fault windows
    /// are shaded; fallbacks, nominations, generations joined and fork and
    /// equivocation detections are marked. A run with more than 40 hosts or
    /// 4,000 deliveries is drawn as event density per lane, and says so.
    Timeline(timeline_cmd::Options),
    /// Measure a protocol across group sizes and write a report.
    ///
    /// A report spec names scenarios, the group sizes to reshape them to,
    /// kinds of group, variants, engines and seeds. The runs go on every
    /// core; the folder gets `report.md` (setup, tables, plots and a
    /// reading of them), one SVG per plot, `results.json` (every number
    /// behind them; `compare` reads it) and the reshaped scenario files,
    /// each replayable with `commsim run`.
    Report(report_cmd::Options),
    /// Re-run the checkers on a saved trace.
    ///
    /// The trace must verify against its seal (its last line); checkers
    /// that need the live run (key material, datagrams) are skipped.
    Check {
        /// A trace written by `commsim run --trace`.
        trace: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

/// `--variant`'s values, taken from the one list of variants so that
/// `--help` names them all and clap refuses any other.
pub(crate) fn variant_arg() -> impl TypedValueParser<Value = Variant> {
    PossibleValuesParser::new(Variant::ALL.map(Variant::name)).try_map(|s| s.parse::<Variant>())
}

/// `--check`'s values, from the one list of checkers.
pub(crate) fn check_arg() -> impl TypedValueParser<Value = CheckId> {
    PossibleValuesParser::new(CheckId::all().map(CheckId::name))
        .try_map(|s| CheckId::parse(&s).ok_or("no such checker"))
}

/// `--engine`'s values, from the one list of engines.
pub(crate) fn engine_arg() -> impl TypedValueParser<Value = Engine> {
    PossibleValuesParser::new(Engine::ALL.map(Engine::name)).try_map(|s| s.parse::<Engine>())
}

/// Bad input: reported on stderr, exit code 2.
pub struct BadInput(pub String);

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(cli.verbose, cli.quiet);
    let result = match cli.command {
        Cmd::Run {
            file,
            seed,
            variant,
            trace,
            out,
            json,
            engine,
        } => run_cmd::run(
            &file,
            seed,
            variant,
            run_cmd::Outputs {
                trace: trace.as_deref(),
                folder: out.as_deref(),
            },
            json,
            engine,
        ),
        Cmd::Check { trace, json } => check_cmd::check(&trace, json),
        Cmd::Sweep(options) => sweep_cmd::sweep(options),
        Cmd::Compare(options) => compare_cmd::compare(options),
        Cmd::Timeline(options) => timeline_cmd::run(options),
        Cmd::Report(options) => report_cmd::run(options),
        Cmd::Explore(options) => explore_cmd::run(options),
        Cmd::Shrink(options) => shrink_cmd::run(options),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(BadInput(message)) => {
            eprintln!("commsim: {message}");
            ExitCode::from(2)
        }
    }
}
