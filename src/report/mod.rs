//! Reports over finished runs: what a person reads after a sweep. Today,
//! the comparison of two result sets (`commsim compare`), the step that
//! regression-tests a protocol change: the same scenarios and seeds, run
//! by the build before and the build after.

pub mod compare;
mod markdown;
pub mod trace_diff;
