//! The stamps a commit carries, as MLS authenticated data: what orders
//! the changes it makes in every member's lightweight set (its ledger, and
//! the set it founds when it falls back).
//!
//! A commit is processed when the server's order reaches each member, which
//! may be long after it was made, or, drained from a generation left, after
//! a member has made changes of its own in lightweight mode. Stamped by
//! each member's clock as it processed the commit, a removal beat a re-add
//! made after it (`coordinated-drained-own-removal-undoes-readd`). A change
//! the committer makes because its ledger or its view holds it (a removal
//! or an add it enforces, the adds that form a generation) is not a new
//! change: it keeps the stamp of the change it carries out, or it beat a
//! concurrent change its committer had not seen
//! (`coordinated-removed-member-misses-later-removal`). MLS signs the
//! authenticated data with the commit, so every member reads the stamps
//! the committer wrote.

use crate::core::clock::Hlc;
use crate::core::ids::MemberId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(in crate::core::member) struct CommitStamps {
    /// The committer's clock when it made the commit: the stamp of a
    /// change the application asked for.
    pub made: Hlc,
    /// The changes carried out for the ledger or the view, each with the
    /// stamp of the change it carries out.
    pub kept: BTreeMap<MemberId, Hlc>,
}

impl CommitStamps {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// None for authenticated data that is not a commit's stamps.
    pub fn decode(aad: &[u8]) -> Option<Self> {
        postcard::from_bytes(aad).ok()
    }

    /// The stamp that orders the change this commit makes to `m`.
    pub fn of(&self, m: MemberId) -> Hlc {
        self.kept.get(&m).copied().unwrap_or(self.made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hlc(wall: u64, node: u32) -> Hlc {
        Hlc {
            wall,
            logical: 0,
            node: MemberId(node),
        }
    }

    #[test]
    fn a_kept_change_keeps_its_stamp_and_the_rest_take_the_commits() {
        let stamps = CommitStamps {
            made: hlc(900, 1),
            kept: [(MemberId(4), hlc(100, 2))].into(),
        };
        let back = CommitStamps::decode(&stamps.encode()).expect("decodes");
        assert_eq!(back, stamps);
        assert_eq!(back.of(MemberId(4)), hlc(100, 2));
        assert_eq!(back.of(MemberId(3)), hlc(900, 1));
    }

    #[test]
    fn other_authenticated_data_is_no_stamp() {
        assert_eq!(CommitStamps::decode(b""), None);
        assert_eq!(CommitStamps::decode(&[0xff; 3]), None);
    }
}
