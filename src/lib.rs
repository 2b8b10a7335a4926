//! commsim: a deterministic protocol simulator and test harness for the
//! Communicator group-messaging architecture.
//!
//! The crate is laid out the way a run flows:
//! - [`core`]: the sans-IO protocol state machines (members, receiving
//!   service agents). No sockets, clocks or global randomness.
//! - [`scenario`]: scenario files, parsed and validated.
//! - [`sim`]: the turmoil driver that runs the core over a simulated network,
//!   the workload generator and the seeded entropy.
//! - [`faults`]: the fault schedule and the per-datagram fault layer.
//! - [`trace`]: the recorded history and its digest.
//! - [`checkers`]: pure functions from a trace to verdicts with evidence.
//! - [`coverage`]: the abstract protocol states a run reached, which
//!   guided exploration steers by.
//! - [`explore`]: claims over seed ranges: sweeps, generated fault plans,
//!   shrinking.
//! - [`cli`]: the `commsim` command.

// Without these flags a build still succeeds, and runs quietly stop being
// reproducible: tokio schedules from the OS's randomness and vodozemac's
// keys come from the OS. Cargo sets them from .cargo/config.toml only when
// it runs inside this folder, so a build from elsewhere must fail, loudly.
#[cfg(not(all(tokio_unstable, getrandom_backend = "custom")))]
compile_error!(
    "commsim must be built with `--cfg tokio_unstable --cfg getrandom_backend=\"custom\"`, \
     or its runs are not deterministic. Its .cargo/config.toml sets both, but cargo reads that \
     file only when run from inside the commsim folder (or by `cargo install --path <commsim \
     folder>`), and a RUSTFLAGS variable replaces it. Build from the commsim folder, or set \
     RUSTFLAGS='--cfg tokio_unstable --cfg getrandom_backend=\"custom\"' (plus any flags of \
     your own). See README.md, \"Building and installing\"."
);

/// Names for an enum whose names strum derives (`EnumIter`, `EnumString`,
/// `IntoStaticStr`): `name`, `parse`, `all`, and a `Display` that pads,
/// so that tables can align it. With `ordered_by_name`, it also sorts by
/// name, so that a map keyed by it serialises as the map keyed by the
/// name did before it was typed.
macro_rules! named_enum {
    ($t:ty) => {
        impl $t {
            pub fn name(self) -> &'static str {
                self.into()
            }

            pub fn parse(name: &str) -> Option<Self> {
                name.parse().ok()
            }

            pub fn all() -> impl Iterator<Item = Self> {
                <Self as strum::IntoEnumIterator>::iter()
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.name())
            }
        }
    };
    ($t:ty, ordered_by_name) => {
        named_enum!($t);

        impl Ord for $t {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.name().cmp(other.name())
            }
        }

        impl PartialOrd for $t {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
    };
}

pub mod checkers;
pub mod cli;
pub mod core;
pub mod coverage;
pub mod entropy;
pub mod explore;
pub mod faults;
pub mod observations;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod trace;
