//! Seeded entropy for everything that asks the OS for randomness.
//!
//! vodozemac draws its keys through `rand::rng()`, which seeds itself from
//! getrandom. With `--cfg getrandom_backend="custom"` (set in
//! `.cargo/config.toml`) every getrandom 0.3/0.4 call in the process lands
//! in [`__getrandom_v03_custom`] below. On a thread running a simulation we
//! answer from a ChaCha20 stream derived from the run's seed; elsewhere
//! (proptest, tempfile) from the OS, as before.
//!
//! `rand::rng()` keeps a generator per thread once seeded, so a simulation
//! must run on a fresh thread: see [`run_seeded`].

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use std::cell::{Cell, RefCell};
use std::io::Read;

thread_local! {
    static STREAM: RefCell<Option<ChaCha20Rng>> = const { RefCell::new(None) };
    static UNSEEDED_DRAWS: Cell<u64> = const { Cell::new(0) };
}

/// Runs `f` on a new thread whose every getrandom draw comes from `seed`.
///
/// A new thread matters: `rand::rng()` caches a generator per thread, and
/// one seeded by an earlier run would leak that run's state into this one.
/// The thread is the single worker of a fresh rayon pool, so that openmls's
/// parallel iterators run on it, in order, drawing from the same stream.
pub fn run_seeded<T: Send + 'static>(seed: [u8; 32], f: impl FnOnce() -> T + Send + 'static) -> T {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|_| "commsim-sim".into())
        // openmls and turmoil nest deeply; the default 2 MiB is tight.
        .stack_size(64 << 20)
        .build();
    match pool {
        Ok(pool) => pool.install(move || {
            STREAM.with(|s| *s.borrow_mut() = Some(ChaCha20Rng::from_seed(seed)));
            let out = f();
            STREAM.with(|s| *s.borrow_mut() = None);
            out
        }),
        Err(e) => panic!("cannot start a simulation thread: {e}"),
    }
}

/// Draws on this thread that had to fall back to the OS. Inside a
/// simulation this must stay zero; the determinism tests check it.
pub fn unseeded_draws() -> u64 {
    UNSEEDED_DRAWS.with(Cell::get)
}

fn fill_from_os(dest: &mut [u8]) -> std::io::Result<()> {
    std::fs::File::open("/dev/urandom")?.read_exact(dest)
}

/// The getrandom custom backend (one symbol serves getrandom 0.3 and 0.4).
///
/// # Safety
/// getrandom calls this with a valid, writable buffer of `len` bytes.
#[unsafe(no_mangle)]
unsafe extern "Rust" fn __getrandom_v03_custom(
    dest: *mut u8,
    len: usize,
) -> Result<(), getrandom::Error> {
    // SAFETY: getrandom guarantees `dest` points to `len` writable bytes.
    let buf = unsafe { std::slice::from_raw_parts_mut(dest, len) };
    let seeded = STREAM.with(|s| match s.borrow_mut().as_mut() {
        Some(rng) => {
            rng.fill_bytes(buf);
            true
        }
        None => false,
    });
    if seeded {
        return Ok(());
    }
    UNSEEDED_DRAWS.with(|c| c.set(c.get() + 1));
    fill_from_os(buf).map_err(|_| getrandom::Error::UNEXPECTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_after_seed(seed: u8) -> String {
        run_seeded([seed; 32], || {
            let account = vodozemac::olm::Account::new();
            assert_eq!(unseeded_draws(), 0);
            account.curve25519_key().to_base64()
        })
    }

    #[test]
    fn vodozemac_keys_follow_the_seed() {
        assert_eq!(key_after_seed(1), key_after_seed(1));
        assert_ne!(key_after_seed(1), key_after_seed(2));
    }
}
