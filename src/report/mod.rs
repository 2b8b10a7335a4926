//! Reports over finished runs: what a person reads after a sweep or a run.
//! The comparison of two result sets (`commsim compare`), the step that
//! regression-tests a protocol change: the same scenarios and seeds, run
//! by the build before and the build after; and a picture of one run
//! (`commsim timeline`).

pub mod compare;
mod markdown;
pub mod render;
pub mod timeline;
pub mod trace_diff;
