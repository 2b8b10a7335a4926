//! The dishonest-server fault: a server agent that lies while it stays up.
//!
//! It lies the ways a server that orders a group's messages can, and signs
//! every lie, because members verify each receipt and would reject an
//! unsigned one:
//!
//! - **equivocate**: the victim gets a different order than everyone else.
//!   The victim's copy of one message is held back; if the next message
//!   comes from another sender (neither of them the victim) within
//!   [`SWAP_WINDOW_MS`], the victim gets the two in swapped slots, each
//!   with a validly signed receipt for its swapped sequence number. Two
//!   valid receipts then exist for one (group, generation, seq) over
//!   different messages: a fraud proof, once members compare notes. The
//!   window keeps the lie causally plausible: no sender can have received
//!   a message that reached the server less than three network hops
//!   before its own, so the victim's order never contradicts a causal
//!   dependency it could see. A smart liar also leaves the victim's own
//!   messages alone: the victim holds their receipts.
//! - **drop**: the victim's submissions get a receipt but are never fanned
//!   out to anyone. The receipt names the slot the server will give the
//!   next honest message (a gap would stall every member at once), so the
//!   victim's receipt and that message's receipt share a slot.
//! - **replay**: an old ordered message is ordered again under a new
//!   sequence number with a fresh signed receipt, to every member.
//! - **fork**: two commits for one epoch, one shown to each side of the
//!   group, so that the sides end in different MLS groups (see
//!   `agent/fork.rs`, which carries it out).
//!
//! The server records each lie as a `lied` event: simulator
//! instrumentation for the checker, which members never see.

use super::sequencer::{Kind, Receipt, Sequencer};
use crate::core::ids::{MemberId, Millis};
use crate::core::wire::Ordered;
use std::collections::{BTreeMap, BTreeSet};

/// How long the victim's copy of a message may be held back for a swap.
/// Under 20 ms of one-way latency, no member can have fetched a message
/// and submitted a reply to it within three hops (about 60 ms).
pub const SWAP_WINDOW_MS: Millis = 50;

/// A replay is ordered after every this many honest messages.
pub const REPLAY_EVERY: u64 = 5;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Equivocate,
    Drop,
    Replay,
    Fork,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Equivocate => "equivocate",
            Mode::Drop => "drop",
            Mode::Replay => "replay",
            Mode::Fork => "fork",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the fault asks of the server: the way it lies and, for
/// `equivocate` and `drop`, to whom; for `fork`, the two sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dishonesty {
    pub mode: Mode,
    pub victim: Option<MemberId>,
    pub sides: Option<Sides>,
}

/// The two sides a forking server shows different histories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sides {
    pub a: BTreeSet<MemberId>,
    pub b: BTreeSet<MemberId>,
}

impl Sides {
    /// Whether `m` is shown side b's history. A member on neither list
    /// (one added after the scenario was written) is shown side a's: the
    /// server must put every member somewhere, and the file names b.
    pub fn in_b(&self, m: MemberId) -> bool {
        self.b.contains(&m)
    }
}

/// One lie, for the `lied` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lie {
    pub mode: Mode,
    pub to: Vec<MemberId>,
    pub seq: u64,
}

/// The victim's copy of the last message, held back for a swap.
struct Held {
    victim: MemberId,
    item: Ordered,
    at: Millis,
}

#[derive(Default)]
pub(super) struct Liar {
    pub active: Option<Dishonesty>,
    held: Option<Held>,
    /// Honest messages ordered while replaying, to pace the replays.
    ordered: u64,
    /// Drop: the receipts handed out for dropped submissions, by message
    /// hash, so that a retried submission gets the same one again.
    dropped: BTreeMap<[u8; 32], Receipt>,
}

impl Liar {
    pub fn set(&mut self, d: Option<Dishonesty>) {
        self.active = d;
        self.ordered = 0;
    }

    fn victim(&self, mode: Mode) -> Option<MemberId> {
        self.active
            .as_ref()
            .filter(|d| d.mode == mode)
            .and_then(|d| d.victim)
    }

    /// The sides to fork, while the fault asks for a fork.
    pub fn fork_sides(&self) -> Option<&Sides> {
        self.active
            .as_ref()
            .filter(|d| d.mode == Mode::Fork)
            .and_then(|d| d.sides.as_ref())
    }

    /// Drop: a receipt for the victim's submission that orders nothing.
    /// `None` when this submission is not to be dropped.
    pub fn drop_receipt(
        &mut self,
        seq: &Sequencer,
        sender: MemberId,
        epoch: u64,
        hash: [u8; 32],
    ) -> Option<(Receipt, Option<Lie>)> {
        if self.victim(Mode::Drop) != Some(sender) {
            return None;
        }
        if let Some(r) = self.dropped.get(&hash) {
            return Some((r.clone(), None));
        }
        let receipt = seq.sign_slot(seq.next_seq(), sender, epoch, hash);
        self.dropped.insert(hash, receipt.clone());
        let lie = Lie {
            mode: Mode::Drop,
            to: vec![sender],
            seq: receipt.seq,
        };
        Some((receipt, Some(lie)))
    }

    /// Equivocate: what the victim gets now in place of `item` (already
    /// ordered for everyone else), and the lies told. Returns `None` when
    /// the victim is not deceived and gets `item` like everyone else.
    pub fn victim_copy(
        &mut self,
        now: Millis,
        seq: &Sequencer,
        item: &Ordered,
        recipients: &std::collections::BTreeSet<MemberId>,
    ) -> Option<(MemberId, Vec<Ordered>, Vec<Lie>)> {
        let victim = self
            .victim(Mode::Equivocate)
            .filter(|v| recipients.contains(v))?;
        let swappable = |o: &Ordered| o.kind == Kind::Message && o.receipt.sender != victim;
        let Some(held) = self.held.take() else {
            if swappable(item) {
                self.held = Some(Held {
                    victim,
                    item: item.clone(),
                    at: now,
                });
                return Some((victim, Vec::new(), Vec::new()));
            }
            return None;
        };
        let (a, b) = (&held.item, item);
        let swap = swappable(b)
            && a.receipt.sender != b.receipt.sender
            && a.receipt.epoch == b.receipt.epoch
            && a.receipt.seq + 1 == b.receipt.seq
            && now <= held.at + SWAP_WINDOW_MS;
        if !swap {
            // Too late, or not a pair worth lying about: the held copy
            // goes out honestly, and the new one may be held in its turn.
            let mut out = vec![held.item];
            if swappable(item) {
                self.held = Some(Held {
                    victim,
                    item: item.clone(),
                    at: now,
                });
            } else {
                out.push(item.clone());
            }
            return Some((victim, out, Vec::new()));
        }
        let resign = |o: &Ordered, slot: u64| Ordered {
            receipt: seq.sign_slot(slot, o.receipt.sender, o.receipt.epoch, o.receipt.hash),
            kind: o.kind,
            payload: o.payload.clone(),
        };
        let out = vec![resign(b, a.receipt.seq), resign(a, b.receipt.seq)];
        let lies = [a.receipt.seq, b.receipt.seq]
            .into_iter()
            .map(|seq| Lie {
                mode: Mode::Equivocate,
                to: vec![victim],
                seq,
            })
            .collect();
        Some((victim, out, lies))
    }

    /// The held copy, once its window has passed (or the fault ended): it
    /// goes to the victim honestly.
    pub fn release(&mut self, now: Millis) -> Option<(MemberId, Ordered)> {
        let due = self
            .held
            .as_ref()
            .is_some_and(|h| self.active.is_none() || now > h.at + SWAP_WINDOW_MS);
        if !due {
            return None;
        }
        self.held.take().map(|h| (h.victim, h.item))
    }

    pub fn wake(&self) -> Option<Millis> {
        self.held.as_ref().map(|h| h.at + SWAP_WINDOW_MS + 1)
    }

    /// Replay: after an honest message, every [`REPLAY_EVERY`]th time,
    /// the message ordered before it is ordered again in the next slot.
    pub fn replay(&mut self, seq: &mut Sequencer, log: &[Ordered]) -> Option<Ordered> {
        self.active.as_ref().filter(|d| d.mode == Mode::Replay)?;
        self.ordered += 1;
        if !(self.ordered - 1).is_multiple_of(REPLAY_EVERY) {
            return None;
        }
        let old = log.iter().rev().skip(1).find(|o| o.kind == Kind::Message)?;
        let epoch = seq.epoch();
        Some(Ordered {
            receipt: seq.sign(old.receipt.sender, epoch, old.receipt.hash),
            kind: old.kind,
            payload: old.payload.clone(),
        })
    }
}
