//! MLS (RFC 9420) for coordinated groups, through openmls, on a provider
//! whose randomness comes from the simulation.

mod client;
mod provider;

pub use client::{CIPHERSUITE, MlsClient, MlsError, MlsOps, Prepared, Processed};
pub use provider::{SeededRand, SimProvider, signature_keys};

#[cfg(test)]
mod tests;
