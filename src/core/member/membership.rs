//! Membership rules of a lightweight group: the protocol variants.
//!
//! `recipient-list` is the seed's literal rule. `lww` is a last-write-wins
//! element set (the chatmail rule) stamped with hybrid logical clocks instead
//! of wall clocks. See `docs/membership.md` for why.

use crate::core::clock::Hlc;
use crate::core::ids::MemberId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// A named membership algorithm, chosen per scenario run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// Membership is the recipient set of the latest message received.
    RecipientList,
    /// Last-write-wins add/remove set with HLC stamps, carried in every message.
    Lww,
    /// The same set stamped with each member's own wall clock, as chatmail
    /// does. Kept as a baseline: it shows what clock skew does to LWW.
    LwwWallclock,
}

impl Variant {
    /// What a scenario runs when it names no variants: the seed's rule and
    /// the convergent one.
    pub const DEFAULT: [Variant; 2] = [Variant::RecipientList, Variant::Lww];
    pub const ALL: [Variant; 3] = [Variant::RecipientList, Variant::Lww, Variant::LwwWallclock];

    pub fn name(self) -> &'static str {
        match self {
            Variant::RecipientList => "recipient-list",
            Variant::Lww => "lww",
            Variant::LwwWallclock => "lww-wallclock",
        }
    }

    /// Whether membership stamps come from the member's wall clock alone
    /// rather than its hybrid logical clock.
    pub fn wallclock_stamps(self) -> bool {
        self == Variant::LwwWallclock
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| {
                format!("unknown variant `{s}` (expected recipient-list, lww or lww-wallclock)")
            })
    }
}

/// Add and remove stamps of one member. A member is present when its add
/// stamp is newer than its remove stamp; the remover is the remove stamp's
/// node, which is what fork detection needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub added: Option<Hlc>,
    pub removed: Option<Hlc>,
}

impl Entry {
    pub fn present(&self) -> bool {
        self.added > self.removed
    }
}

/// A state-based CRDT: merge takes the newest stamp of each kind per member,
/// so it is commutative, associative and idempotent (proptests below), and
/// any two members that have seen the same updates hold the same set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LwwSet {
    entries: BTreeMap<MemberId, Entry>,
}

impl LwwSet {
    pub fn add(&mut self, member: MemberId, stamp: Hlc) {
        let e = self.entries.entry(member).or_default();
        e.added = e.added.max(Some(stamp));
    }

    pub fn remove(&mut self, member: MemberId, stamp: Hlc) {
        let e = self.entries.entry(member).or_default();
        e.removed = e.removed.max(Some(stamp));
    }

    /// Merges `other` in; returns whether anything changed.
    pub fn merge(&mut self, other: &LwwSet) -> bool {
        let mut changed = false;
        for (m, theirs) in &other.entries {
            let mine = self.entries.entry(*m).or_default();
            let merged = Entry {
                added: mine.added.max(theirs.added),
                removed: mine.removed.max(theirs.removed),
            };
            if merged != *mine {
                *mine = merged;
                changed = true;
            }
        }
        changed
    }

    pub fn contains(&self, m: MemberId) -> bool {
        self.entries.get(&m).is_some_and(Entry::present)
    }

    /// The stamp of the latest add of `m`, whether or not a removal came
    /// after it.
    pub fn added(&self, m: MemberId) -> Option<Hlc> {
        self.entries.get(&m).and_then(|e| e.added)
    }

    /// The stamp of `m`'s removal, if no later add brought it back.
    pub fn removal(&self, m: MemberId) -> Option<Hlc> {
        (self.entries.get(&m)).and_then(|e| e.removed.filter(|_| !e.present()))
    }

    /// Whether `m` was removed and no later add brought it back (a member
    /// never heard of is not removed).
    pub fn removed(&self, m: MemberId) -> bool {
        self.entries
            .get(&m)
            .is_some_and(|e| e.removed.is_some() && !e.present())
    }

    /// Every member this set has a stamp for, in or out.
    pub fn members_known(&self) -> Vec<MemberId> {
        self.entries.keys().copied().collect()
    }

    pub fn members(&self) -> BTreeSet<MemberId> {
        self.entries
            .iter()
            .filter(|(_, e)| e.present())
            .map(|(m, _)| *m)
            .collect()
    }

    /// Pairs of members each currently removed by the other.
    ///
    /// A member that has applied its own removal is out of the group and can
    /// no longer remove anyone, so two such removals can only have been made
    /// concurrently, while apart: that is the fork the LWW rule cannot merge
    /// into anything either side asked for. Honouring both removals (both
    /// leave) keeps the set convergent; the members must still be told.
    pub fn mutual_removals(&self) -> Vec<(MemberId, MemberId)> {
        let mut out = Vec::new();
        for (x, ex) in &self.entries {
            let Some(by) = ex.removed.filter(|_| !ex.present()).map(|s| s.node) else {
                continue;
            };
            if by <= *x {
                continue;
            }
            let back = self
                .entries
                .get(&by)
                .and_then(|e| e.removed.filter(|_| !e.present()).map(|s| s.node));
            if back == Some(*x) {
                out.push((*x, by));
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What a member currently believes about its group's membership.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Membership {
    RecipientList { view: BTreeSet<MemberId> },
    Lww { set: LwwSet },
}

impl Membership {
    /// The founding membership; under LWW every founder is added with the
    /// founding stamp so that later changes by anyone win over it.
    pub fn found(variant: Variant, members: &BTreeSet<MemberId>, stamp: Hlc) -> Self {
        match variant {
            Variant::RecipientList => Membership::RecipientList {
                view: members.clone(),
            },
            Variant::Lww | Variant::LwwWallclock => {
                let mut set = LwwSet::default();
                for m in members {
                    set.add(*m, stamp);
                }
                Membership::Lww { set }
            }
        }
    }

    pub fn view(&self) -> BTreeSet<MemberId> {
        match self {
            Membership::RecipientList { view } => view.clone(),
            Membership::Lww { set } => set.members(),
        }
    }

    pub fn contains(&self, m: MemberId) -> bool {
        match self {
            Membership::RecipientList { view } => view.contains(&m),
            Membership::Lww { set } => set.contains(m),
        }
    }

    pub fn add(&mut self, m: MemberId, stamp: Hlc) {
        match self {
            Membership::RecipientList { view } => {
                view.insert(m);
            }
            Membership::Lww { set } => set.add(m, stamp),
        }
    }

    pub fn remove(&mut self, m: MemberId, stamp: Hlc) {
        match self {
            Membership::RecipientList { view } => {
                view.remove(&m);
            }
            Membership::Lww { set } => set.remove(m, stamp),
        }
    }

    /// Merges an LWW set into this one (nothing under the literal rule,
    /// which has no stamps to merge by); returns whether the view changed.
    pub fn merge_set(&mut self, other: &LwwSet) -> bool {
        let before = self.view();
        if let Membership::Lww { set } = self {
            set.merge(other);
        }
        self.view() != before
    }

    /// The state a message carries: the whole LWW set, or nothing (under
    /// the literal rule the recipient list *is* the state).
    pub fn carried(&self) -> Option<LwwSet> {
        match self {
            Membership::RecipientList { .. } => None,
            Membership::Lww { set } => Some(set.clone()),
        }
    }

    /// Applies what a received message says; returns whether the view changed.
    pub fn on_message(
        &mut self,
        recipients: &BTreeSet<MemberId>,
        carried: Option<&LwwSet>,
    ) -> bool {
        let before = self.view();
        match self {
            Membership::RecipientList { view } => *view = recipients.clone(),
            Membership::Lww { set } => {
                if let Some(c) = carried {
                    set.merge(c);
                }
            }
        }
        self.view() != before
    }

    pub fn mutual_removals(&self) -> Vec<(MemberId, MemberId)> {
        match self {
            Membership::RecipientList { .. } => Vec::new(),
            Membership::Lww { set } => set.mutual_removals(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stamp(wall: u64, node: u32) -> Hlc {
        Hlc {
            wall,
            logical: 0,
            node: MemberId(node),
        }
    }

    fn arb_set() -> impl Strategy<Value = LwwSet> {
        prop::collection::vec((0u32..6, any::<bool>(), 0u64..20, 0u32..6), 0..12).prop_map(|ops| {
            let mut s = LwwSet::default();
            for (m, add, wall, node) in ops {
                if add {
                    s.add(MemberId(m), stamp(wall, node));
                } else {
                    s.remove(MemberId(m), stamp(wall, node));
                }
            }
            s
        })
    }

    fn merged(a: &LwwSet, b: &LwwSet) -> LwwSet {
        let mut x = a.clone();
        x.merge(b);
        x
    }

    proptest! {
        #[test]
        fn merge_is_commutative(a in arb_set(), b in arb_set()) {
            prop_assert_eq!(merged(&a, &b), merged(&b, &a));
        }

        #[test]
        fn merge_is_associative(a in arb_set(), b in arb_set(), c in arb_set()) {
            prop_assert_eq!(merged(&merged(&a, &b), &c), merged(&a, &merged(&b, &c)));
        }

        #[test]
        fn merge_is_idempotent(a in arb_set(), b in arb_set()) {
            let ab = merged(&a, &b);
            prop_assert_eq!(merged(&ab, &b), ab.clone());
            prop_assert_eq!(merged(&a, &a), a);
        }
    }

    #[test]
    fn a_later_remove_beats_an_earlier_add_and_vice_versa() {
        let mut s = LwwSet::default();
        s.add(MemberId(3), stamp(1, 0));
        s.remove(MemberId(3), stamp(2, 1));
        assert!(!s.contains(MemberId(3)));
        s.add(MemberId(3), stamp(3, 2));
        assert!(s.contains(MemberId(3)));
    }

    #[test]
    fn mutual_removal_is_reported_once_per_pair() {
        let mut s = LwwSet::default();
        for m in 0..3 {
            s.add(MemberId(m), stamp(0, 0));
        }
        s.remove(MemberId(1), stamp(5, 2));
        assert!(s.mutual_removals().is_empty());
        s.remove(MemberId(2), stamp(6, 1));
        assert_eq!(s.mutual_removals(), vec![(MemberId(1), MemberId(2))]);
        // Re-adding one side ends the conflict.
        s.add(MemberId(2), stamp(9, 0));
        assert!(s.mutual_removals().is_empty());
    }

    #[test]
    fn recipient_list_adopts_the_latest_recipients() {
        let mut m = Membership::found(
            Variant::RecipientList,
            &[MemberId(0), MemberId(1)].into(),
            stamp(0, 0),
        );
        let changed = m.on_message(&[MemberId(1), MemberId(2)].into(), None);
        assert!(changed);
        assert_eq!(m.view(), [MemberId(1), MemberId(2)].into());
    }

    #[test]
    fn variant_names_parse() {
        for v in Variant::ALL {
            assert_eq!(v.name().parse::<Variant>(), Ok(v));
        }
        assert!("paxos".parse::<Variant>().is_err());
    }
}
