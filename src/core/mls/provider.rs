//! An OpenMLS provider whose every random draw comes from the simulation.
//!
//! openmls takes randomness from three places, and each needs care:
//! - `provider.rand()`: here a ChaCha20 stream seeded by the driver, one per
//!   member, so that one member's draws never shift another's;
//! - HPKE inside `provider.crypto()` (hpke-rs) draws from getrandom 0.4,
//!   which `sim::entropy` answers from the run's seed;
//! - `openmls_rust_crypto::RustCrypto` keeps a private generator seeded from
//!   the OS, used only by `signature_key_gen` and its own `OpenMlsRand`
//!   impl. We call neither: signature keys are made from the member's seed
//!   (see [`signature_keys`]) and `rand()` is ours.
//!
//! openmls also runs some work on rayon; the simulator installs a
//! one-thread pool per run (`sim::entropy::run_seeded`), so that work runs
//! on the simulation's own thread, in order.

use openmls_basic_credential::SignatureKeyPair;
use openmls_memory_storage::MemoryStorage;
use openmls_rust_crypto::RustCrypto;
use openmls_traits::OpenMlsProvider;
use openmls_traits::random::OpenMlsRand;
use openmls_traits::types::SignatureScheme;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use std::sync::{Mutex, RwLock};

/// A seeded `OpenMlsRand`. A mutex rather than a `RefCell` because openmls
/// may hand `&self` across its rayon calls; it is never contended.
pub struct SeededRand(Mutex<ChaCha20Rng>);

#[derive(Debug, thiserror::Error)]
#[error("the random generator's lock was poisoned")]
pub struct RandError;

impl SeededRand {
    pub fn new(seed: [u8; 32]) -> Self {
        SeededRand(Mutex::new(ChaCha20Rng::from_seed(seed)))
    }

    fn fill(&self, out: &mut [u8]) -> Result<(), RandError> {
        self.0.lock().map_err(|_| RandError)?.fill_bytes(out);
        Ok(())
    }
}

impl OpenMlsRand for SeededRand {
    type Error = RandError;

    fn random_array<const N: usize>(&self) -> Result<[u8; N], Self::Error> {
        let mut out = [0u8; N];
        self.fill(&mut out)?;
        Ok(out)
    }

    fn random_vec(&self, len: usize) -> Result<Vec<u8>, Self::Error> {
        let mut out = vec![0u8; len];
        self.fill(&mut out)?;
        Ok(out)
    }
}

/// The provider one member's MLS state runs on.
pub struct SimProvider {
    crypto: RustCrypto,
    rand: SeededRand,
    storage: MemoryStorage,
}

impl SimProvider {
    pub fn new(seed: [u8; 32]) -> Self {
        SimProvider {
            crypto: RustCrypto::default(),
            rand: SeededRand::new(seed),
            storage: MemoryStorage::default(),
        }
    }

    /// An independent copy: the same stored group state and the same
    /// position in the random stream. openmls keeps a group's whole state
    /// in storage, so a copy of the storage is a copy of the member, which
    /// is how a removed member can be shown to hold nothing useful.
    pub fn fork(&self) -> Result<SimProvider, RandError> {
        let values = self.storage.values.read().map_err(|_| RandError)?.clone();
        let rng = self.rand.0.lock().map_err(|_| RandError)?.clone();
        Ok(SimProvider {
            crypto: RustCrypto::default(),
            rand: SeededRand(Mutex::new(rng)),
            storage: MemoryStorage {
                values: RwLock::new(values),
            },
        })
    }
}

impl OpenMlsProvider for SimProvider {
    type CryptoProvider = RustCrypto;
    type RandProvider = SeededRand;
    type StorageProvider = MemoryStorage;

    fn storage(&self) -> &Self::StorageProvider {
        &self.storage
    }
    fn crypto(&self) -> &Self::CryptoProvider {
        &self.crypto
    }
    fn rand(&self) -> &Self::RandProvider {
        &self.rand
    }
}

/// An Ed25519 signature key pair from the provider's seeded stream
/// (`SignatureKeyPair::new` would read the OS generator).
pub fn signature_keys(provider: &SimProvider) -> Result<SignatureKeyPair, RandError> {
    let secret: [u8; 32] = provider.rand.random_array()?;
    let public = vodozemac::Ed25519SecretKey::from_slice(&secret).public_key();
    Ok(SignatureKeyPair::from_raw(
        SignatureScheme::ED25519,
        secret.to_vec(),
        public.as_bytes().to_vec(),
    ))
}
