//! The simulator: seeded entropy, the workload, and the turmoil driver that
//! runs the sans-IO core over a simulated network.

pub mod entropy;
