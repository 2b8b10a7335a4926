//! A member's notes on the orders server agents showed it, and the
//! comparisons that turn two of them into proof (see `audit.rs`). Pure
//! bookkeeping: no I/O, so that every comparison is tested on its own.

use crate::core::event::OpKind;
use crate::core::ids::{MemberId, MessageId, Millis, ServerId};
use crate::core::server::sequencer::Receipt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What one member tells another about one server's order, over Olm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    pub group: u64,
    pub generation: u32,
    pub server: ServerId,
    /// Slots `lo..=hi` the sender processed, as one digest of their
    /// message hashes (see [`digest`]).
    pub range: Option<(u64, u64, [u8; 32])>,
    /// Signed receipts: the answer to a digest that differed, or the
    /// evidence of a lie.
    pub receipts: Vec<Receipt>,
    /// (epoch, epoch authenticator) pairs the sender reached.
    pub epochs: Vec<(u64, Vec<u8>)>,
}

/// The digest of the message hashes in consecutive slots.
pub fn digest<'a>(lo: u64, hashes: impl IntoIterator<Item = &'a [u8; 32]>) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut d = Sha256::new();
    d.update(b"commsim-audit/v1");
    for (i, h) in hashes.into_iter().enumerate() {
        d.update((lo + i as u64).to_be_bytes());
        d.update(h);
    }
    d.finalize().into()
}

/// Peers audited per round.
pub(super) const FANOUT: usize = 2;
/// Slots per digest and receipts per report; a report is dropped whole
/// if it carries more.
pub const MAX_ENTRIES: usize = 64;
/// Digests kept until this member has processed the slots they cover.
pub(super) const WAITING: usize = 256;
/// Slots and epochs remembered; the oldest are forgotten first.
pub(super) const KEEP: usize = 8192;

/// One server's order of one generation.
pub type Stream = (ServerId, u32);

/// What a comparison found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Two valid receipts `a`, `b`: one slot over two messages, or (a
    /// replay) one message in two slots. `from` told us of `b`.
    Proof {
        stream: Stream,
        a: Receipt,
        b: Receipt,
        from: Option<MemberId>,
    },
    /// Two authenticators for one epoch; `other` holds the second.
    Fork {
        stream: Stream,
        epoch: u64,
        ours: Vec<u8>,
        theirs: Vec<u8>,
        other: Option<MemberId>,
    },
    /// `peer` processed slots `lo..=hi` differently: it gets our receipts.
    Differs {
        peer: MemberId,
        stream: Stream,
        lo: u64,
        hi: u64,
    },
    /// An own message receipted but never served back, or a slot a peer
    /// showed a receipt for that was never served here. `msg` is `None`
    /// for a commit, or for a peer's submission; `sender` submitted it.
    Withheld {
        stream: Stream,
        seq: u64,
        msg: Option<MessageId>,
        sender: MemberId,
    },
}

/// What an own receipted submission was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owned {
    Message(MessageId),
    /// A commit, with the membership changes it made: a withheld commit
    /// shows a lying server as surely as a withheld message, but it is
    /// redone, not resent (issue 21 (2): a receipt is not an order, and a
    /// removal receipted then dropped was lost at the fallback).
    Commit(Vec<(OpKind, MemberId)>),
}

impl Owned {
    fn msg(&self) -> Option<MessageId> {
        match self {
            Owned::Message(m) => Some(*m),
            Owned::Commit(_) => None,
        }
    }
}

/// What to do again at a fallback: messages to resend (receivers
/// deduplicate by id) and membership changes to redo.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Unconfirmed {
    /// With the order that receipted each, and the slot it gave.
    pub messages: Vec<(MessageId, Stream, u64)>,
    pub ops: Vec<(OpKind, MemberId)>,
}

/// An own submission with its receipt, until the fallback it would be
/// re-sent or redone at.
#[derive(Clone, Debug)]
pub(super) struct Own {
    item: Owned,
    stream: Stream,
    seq: u64,
    hash: [u8; 32],
    at: Millis,
    back: bool,
}

/// A member's notes on the orders it was shown (kept across fallbacks:
/// evidence can still arrive after the member left the generation).
#[derive(Default)]
pub struct Auditor {
    pub(super) slots: BTreeMap<(Stream, u64), Receipt>,
    pub(super) by_hash: BTreeMap<(Stream, [u8; 32]), u64>,
    /// Epoch authenticators, with who told us (`None`: reached here).
    pub(super) epochs: BTreeMap<(Stream, u64), (Vec<u8>, Option<MemberId>)>,
    /// The message hash of every slot processed here, in order.
    pub(super) order: BTreeMap<(Stream, u64), [u8; 32]>,
    /// The last slot reported per order, and epochs reached since.
    pub(super) sent_upto: BTreeMap<Stream, u64>,
    pub(super) unsent_epochs: Vec<(Stream, u64, Vec<u8>)>,
    /// Peers' digests of slots not processed here yet.
    pub(super) waiting: Vec<(MemberId, Stream, u64, u64, [u8; 32])>,
    pub(super) own: Vec<Own>,
    pub(super) next_at: Option<Millis>,
    pub(super) cursor: usize,
    pub(super) last_fetch: Millis,
    /// Streams whose lie was reported (and its evidence forwarded).
    pub(super) reported: BTreeSet<Stream>,
    /// Streams with a proof recorded and forwarded: a fork reported first
    /// (authenticators prove nothing to a third party) is proved too once
    /// the receipts arrive, and the proof still goes to every peer.
    pub(super) proved: BTreeSet<Stream>,
    /// Slots of the commits applied here, to show a peer that holds
    /// another authenticator where the orders parted.
    pub(super) commits: BTreeSet<(Stream, u64)>,
    /// Slots a peer showed a signed receipt for, not processed here yet,
    /// with when this member learnt of them (see `withheld`).
    pub(super) told: BTreeMap<(Stream, u64), (MemberId, Millis)>,
    pub found: Vec<Finding>,
}

impl Auditor {
    /// Takes a receipt into the notes if `key` signed it for `stream`, and
    /// compares it with every other receipt held for its slot and its
    /// message. Returns whether it was valid.
    pub fn learn(
        &mut self,
        stream: Stream,
        key: &[u8; 32],
        r: &Receipt,
        from: Option<MemberId>,
    ) -> bool {
        if r.generation != stream.1 || !r.verify(key) {
            return false;
        }
        let slot = (stream, r.seq);
        if let Some(a) = self.slots.get(&slot) {
            if a.hash != r.hash {
                self.found.push(Finding::Proof {
                    stream,
                    a: a.clone(),
                    b: r.clone(),
                    from,
                });
            }
            return true;
        }
        if let Some(a) = self
            .by_hash
            .get(&(stream, r.hash))
            .and_then(|seq| self.slots.get(&(stream, *seq)))
        {
            self.found.push(Finding::Proof {
                stream,
                a: a.clone(),
                b: r.clone(),
                from,
            });
            return true;
        }
        self.slots.insert(slot, r.clone());
        self.by_hash.insert((stream, r.hash), r.seq);
        while self.slots.len() > KEEP {
            if let Some((_, old)) = self.slots.pop_first() {
                self.by_hash.remove(&(stream, old.hash));
            }
        }
        true
    }

    /// An epoch authenticator, reached here (`from` None) or told by a
    /// peer; a different one already held for that epoch is a fork.
    pub fn epoch(&mut self, stream: Stream, epoch: u64, auth: Vec<u8>, from: Option<MemberId>) {
        match self.epochs.get(&(stream, epoch)) {
            Some((held, _)) if *held == auth => {}
            Some((held, by)) => {
                let (ours, theirs, other) = match (by, from) {
                    (None, _) => (held.clone(), auth, from),
                    (Some(_), None) => (auth, held.clone(), *by),
                    (Some(_), Some(_)) => (held.clone(), auth, from),
                };
                self.found.push(Finding::Fork {
                    stream,
                    epoch,
                    ours,
                    theirs,
                    other,
                });
            }
            None => {
                if from.is_none() {
                    self.unsent_epochs.push((stream, epoch, auth.clone()));
                }
                self.epochs.insert((stream, epoch), (auth, from));
                while self.epochs.len() > KEEP {
                    self.epochs.pop_first();
                }
            }
        }
    }

    /// A slot processed here: noted for the next audit, and an own
    /// message counts as served back.
    pub(super) fn processed(&mut self, stream: Stream, r: &Receipt) {
        self.order.insert((stream, r.seq), r.hash);
        while self.order.len() > KEEP {
            self.order.pop_first();
        }
        self.told.remove(&(stream, r.seq));
        for o in self.own.iter_mut().filter(|o| o.hash == r.hash) {
            o.back = true;
        }
        let (due, rest) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| w.1 == stream && w.3 == r.seq);
        self.waiting = rest;
        for (peer, stream, lo, hi, theirs) in due {
            self.compare(peer, stream, (lo, hi, theirs));
        }
    }

    /// Whether a slot of `stream` was ever processed here.
    pub(super) fn followed(&self, stream: Stream) -> bool {
        (self.order.range((stream, 0)..=(stream, u64::MAX)))
            .next()
            .is_some()
    }

    /// A commit applied here, from slot `seq`.
    pub fn commit_applied(&mut self, stream: Stream, seq: u64) {
        self.commits.insert((stream, seq));
        while self.commits.len() > KEEP {
            self.commits.pop_first();
        }
    }

    /// Our signed receipts of the last commits applied in `stream`: the
    /// answer to a peer whose authenticator differs. Its own receipt of
    /// the slot where the orders parted then makes a proof.
    pub(super) fn commit_receipts(&self, stream: Stream) -> Vec<Receipt> {
        let mut out: Vec<Receipt> = (self.commits.range((stream, 0)..=(stream, u64::MAX)))
            .rev()
            .filter_map(|(_, seq)| self.slots.get(&(stream, *seq)).cloned())
            .take(MAX_ENTRIES)
            .collect();
        out.reverse();
        out
    }

    /// This member's digest of slots `lo..=hi`, if it processed them all.
    pub(super) fn digest(&self, stream: Stream, lo: u64, hi: u64) -> Option<[u8; 32]> {
        if lo > hi || hi - lo >= MAX_ENTRIES as u64 {
            return None;
        }
        let hashes: Vec<&[u8; 32]> = self
            .order
            .range((stream, lo)..=(stream, hi))
            .map(|(_, h)| h)
            .collect();
        (hashes.len() as u64 == hi - lo + 1).then(|| digest(lo, hashes))
    }

    /// Compares a peer's digest with ours, now or once we have processed
    /// its slots; a difference is a finding.
    pub fn compare(
        &mut self,
        peer: MemberId,
        stream: Stream,
        (lo, hi, theirs): (u64, u64, [u8; 32]),
    ) {
        if let Some(ours) = self.digest(stream, lo, hi) {
            if ours != theirs {
                self.found.push(Finding::Differs {
                    peer,
                    stream,
                    lo,
                    hi,
                });
            }
            return;
        }
        let behind = self
            .order
            .range((stream, 0)..=(stream, u64::MAX))
            .next_back()
            .is_none_or(|((_, seq), _)| *seq < hi);
        if behind && self.waiting.len() < WAITING {
            self.waiting.push((peer, stream, lo, hi, theirs));
        }
    }

    /// The next report's digest: the slots processed since the last one.
    pub(super) fn next_range(&mut self, stream: Stream) -> Option<(u64, u64, [u8; 32])> {
        let all = (stream, 0)..=(stream, u64::MAX);
        let hi = self.order.range(all).next_back().map(|((_, s), _)| *s)?;
        let from = self.sent_upto.get(&stream).map_or(0, |s| s + 1);
        let lo = from.max(hi.saturating_sub(MAX_ENTRIES as u64 - 1));
        let lo = (lo..=hi).find(|s| self.order.contains_key(&(stream, *s)))?;
        self.sent_upto.insert(stream, hi);
        Some((lo, hi, self.digest(stream, lo, hi)?))
    }

    /// Our signed receipts for slots `lo..=hi`.
    pub(super) fn receipts(&self, stream: Stream, lo: u64, hi: u64) -> Vec<Receipt> {
        if lo > hi {
            return Vec::new();
        }
        self.slots
            .range((stream, lo)..=(stream, hi))
            .map(|(_, r)| r.clone())
            .take(MAX_ENTRIES)
            .collect()
    }

    /// The receipt of an own message (which may come after the message
    /// itself was served back, when the first receipt was lost).
    pub fn own_message(&mut self, now: Millis, stream: Stream, item: Owned, r: &Receipt) {
        let back = self.order.get(&(stream, r.seq)) == Some(&r.hash);
        self.own.push(Own {
            item,
            stream,
            seq: r.seq,
            hash: r.hash,
            at: now,
            back,
        });
    }

    /// When a mailbox last answered a fetch.
    pub(in crate::core::member) fn last_fetch(&self) -> Millis {
        self.last_fetch
    }

    /// The member fetched from a mailbox: what the server fanned out
    /// before `now` minus its retries should be there.
    pub fn fetched(&mut self, now: Millis) {
        self.last_fetch = now;
    }

    /// Forgets own messages served back longer than `window` ago.
    pub(super) fn prune_own(&mut self, now: Millis, window: Millis) {
        self.own.retain(|o| !o.back || o.at + window >= now);
    }

    /// Own messages to send again at a fallback: never served back, or
    /// served back within `window` (see `resend_unconfirmed`); and the
    /// changes of own commits never served back, which no epoch applied.
    pub(super) fn take_unconfirmed(&mut self, now: Millis, window: Millis) -> Unconfirmed {
        let mut out = Unconfirmed::default();
        for o in std::mem::take(&mut self.own) {
            match o.item {
                Owned::Message(m) if !o.back || o.at + window >= now => {
                    out.messages.push((m, o.stream, o.seq))
                }
                Owned::Commit(ops) if !o.back => out.ops.extend(ops),
                _ => {}
            }
        }
        out
    }

    /// The receipts of own submissions to `stream` never served back here.
    pub(super) fn unserved_receipts(&self, stream: Stream) -> Vec<Receipt> {
        (self.own.iter())
            .filter(|o| o.stream == stream && !o.back)
            .filter_map(|o| self.slots.get(&(stream, o.seq)).cloned())
            .take(MAX_ENTRIES)
            .collect()
    }

    /// The highest slot of `stream` this member held a signed receipt for
    /// at `t` without having been served it: an own submission, or one a
    /// peer showed. A server that answers a later question with a next
    /// slot at or below it says it never filled a slot it receipted.
    pub(in crate::core::member) fn receipted_before(
        &self,
        stream: Stream,
        t: Millis,
    ) -> Option<(u64, MemberId)> {
        let own = (self.own.iter())
            .filter(|o| o.stream == stream && !o.back && o.at <= t)
            .filter_map(|o| Some((o.seq, self.slots.get(&(stream, o.seq))?.sender)));
        let told = (self.told.range((stream, 0)..=(stream, u64::MAX)))
            .filter(|(_, (_, at))| *at <= t)
            .map(|(&(_, seq), &(sender, _))| (seq, sender));
        own.chain(told).max()
    }

    /// A peer showed a signed receipt for a slot of `stream` not processed
    /// here: noted with `now`, to be served here within the timeout.
    pub(super) fn told_of(&mut self, now: Millis, stream: Stream, r: &Receipt) {
        if !self.order.contains_key(&(stream, r.seq)) {
            self.told.entry((stream, r.seq)).or_insert((r.sender, now));
            while self.told.len() > KEEP {
                self.told.pop_first();
            }
        }
    }

    /// An own message of `stream` that should long be back, if any; or a
    /// slot from `next` on that a peer showed a receipt for `timeout` ago
    /// and still was not served here, though this member fetched since.
    /// The second is the only trace a withheld submission leaves on the
    /// members it was not the victim of, when no later message fills its
    /// slot: without it a peer's fallback notice was all they had to go
    /// on, and a notice alone is no longer followed (issue 21 (7), (8);
    /// `coordinated-withheld-commit-noticed`).
    pub(super) fn withheld(
        &self,
        (stream, next): (Stream, u64),
        me: MemberId,
        timeout: Millis,
    ) -> Option<Finding> {
        let due = |at: Millis| at + timeout <= self.last_fetch;
        if let Some(o) = (self.own.iter()).find(|o| o.stream == stream && !o.back && due(o.at)) {
            return Some(Finding::Withheld {
                stream,
                seq: o.seq,
                msg: o.item.msg(),
                sender: me,
            });
        }
        let (&(_, seq), &(sender, _)) =
            (self.told.range((stream, next)..=(stream, u64::MAX))).find(|(_, (_, at))| due(*at))?;
        Some(Finding::Withheld {
            stream,
            seq,
            msg: None,
            sender,
        })
    }
}
