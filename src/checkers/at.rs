//! Where in a run something happened: the time, the place in the trace
//! and the member host, which every part of a history keeps.

use crate::core::ids::{MemberId, Millis};

/// A member-host event with its place in the trace.
#[derive(Clone, Debug)]
pub struct At<T> {
    pub t: Millis,
    pub idx: usize,
    pub host: MemberId,
    pub what: T,
}

impl<T> At<T> {
    pub(super) fn on(host: Option<MemberId>, t: Millis, idx: usize, what: T) -> Option<At<T>> {
        host.map(|host| At { t, idx, host, what })
    }
}
