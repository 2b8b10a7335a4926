//! Handing what was observed to a removed member's kept key state, to see
//! what it could have read: the secrecy checker's questions, answered.

use super::{Observations, Stream};
use crate::core::ids::{EnvelopeId, MemberId, MessageId};
use crate::core::mls::Processed;
use std::collections::BTreeSet;

impl Observations {
    /// Hands `member`'s Olm state, as it was when `removal` was made, the
    /// envelopes `envs` in that order and says which it opened, and how
    /// many it was handed (envelopes never seen on the wire are left out).
    /// `None` when no state was kept for that removal.
    pub fn olm_readable(
        &self,
        member: MemberId,
        removal: MessageId,
        envs: &[EnvelopeId],
    ) -> Option<(BTreeSet<EnvelopeId>, usize)> {
        let (_, snapshot) = self
            .removal_snapshots
            .get(&removal)
            .filter(|(m, _)| *m == member)?;
        let mut state = snapshot.snapshot();
        let mut opened = BTreeSet::new();
        let mut handed = 0;
        for env in envs {
            let Some((envelope, sender_key)) = self.envelopes.get(env) else {
                continue;
            };
            handed += 1;
            if state.try_open(
                env.sender,
                *sender_key,
                envelope.message_type,
                &envelope.ciphertext,
            ) {
                opened.insert(*env);
            }
        }
        Some((opened, handed))
    }

    /// The same for a coordinated group: `member`'s MLS state from just
    /// before it applied the commit built on `epoch` in `stream` is handed
    /// the messages ordered at `seqs`, in order. `None` when the member
    /// kept no such state.
    pub fn mls_readable(
        &self,
        member: MemberId,
        (generation, server): Stream,
        epoch: u64,
        seqs: &[u64],
    ) -> Option<(BTreeSet<u64>, usize)> {
        let key = (member, generation, server, epoch);
        let (mut copy, behind) = match self.mls_removal_copies.get(&key) {
            Some(kept) => (kept.copy().ok()?, false),
            None => (self.mls_behind_copies.get(&key)?.copy().ok()?, true),
        };
        if behind {
            // Catch up as the member could have: everything ordered up to
            // and including the commit that removed it.
            let first = seqs.first().copied().unwrap_or(u64::MAX);
            for (_, payload) in self
                .ordered
                .range((generation, server, 0)..(generation, server, first))
            {
                let _ = copy.process(payload);
            }
        }
        let mut opened = BTreeSet::new();
        let mut handed = 0;
        for seq in seqs {
            let Some(payload) = self.ordered.get(&(generation, server, *seq)) else {
                continue;
            };
            handed += 1;
            // Its own messages it could not read anyway; anything else that
            // processes (a message, or a commit it could follow) is a leak.
            if matches!(
                copy.process(payload),
                Ok(Processed::Application(_) | Processed::Commit { .. } | Processed::Proposal)
            ) {
                opened.insert(*seq);
            }
        }
        Some((opened, handed))
    }
}
