//! A member of a coordinated group: group messages are MLS ciphertexts,
//! submitted to the group's server agent (one in flight at a time), each
//! answered with a signed receipt or a rejection; commits (adds, removals,
//! updates) one per epoch, rebuilt on the winner when they lose it; and the
//! fallback to the lightweight group. `ordered.rs` is the receiving half;
//! `generations.rs` (next door) forms and joins generations. The design is
//! in docs/coordinated.md.

mod doubt;
mod fallback;
pub(super) use doubt::Returning;
pub(super) use fallback::Why;
mod ledger;
mod ordered;
mod readdress;
mod stamps;
pub(super) use stamps::CommitStamps;

use super::Member;
use super::audit::Owned;
use super::membership::Membership;
use super::message::{GroupMessage, Payload};
use super::outbound::Purpose;
use crate::core::clock::Hlc;
use crate::core::event::OpKind;
use crate::core::event::{Event, FallbackCause};
use crate::core::ids::{MemberId, MessageId, Millis, Peer, ServerId};
use crate::core::io::{Command, Effects};
use crate::core::mls::MlsClient;
use crate::core::server::sequencer::{Kind, Rejection, hash};
use crate::core::wire::{Address, Datagram, Ordered, Submission};
use std::collections::{BTreeMap, BTreeSet};

/// What a submission carries.
#[derive(Clone, Debug)]
pub(super) enum What {
    Message {
        msg: MessageId,
        plaintext: Vec<u8>,
    },
    Remove {
        target: MemberId,
    },
    /// Adds the members whose key packages are in `claimed`.
    Add {
        targets: Vec<MemberId>,
    },
    Update,
}

/// Tells the application that each of these commits of its will not be
/// made, in the words it asked for them.
pub(super) fn refuse_commits(lost: impl IntoIterator<Item = What>, reason: &str, fx: &mut Effects) {
    for what in lost {
        let commands = match what {
            What::Update => vec![Command::Update],
            what => (what.changes().into_iter())
                .map(|(op, t)| match op {
                    OpKind::Add => Command::Add(t),
                    OpKind::Remove => Command::Remove(t),
                })
                .collect(),
        };
        for command in commands {
            fx.record(Event::CommandSkipped {
                command: command.describe(),
                reason: reason.to_owned(),
            });
        }
    }
}

impl What {
    fn is_commit(&self) -> bool {
        !matches!(self, What::Message { .. })
    }

    /// The membership changes a commit makes (none for an update).
    fn changes(self) -> Vec<(OpKind, MemberId)> {
        match self {
            What::Remove { target } => vec![(OpKind::Remove, target)],
            What::Add { targets } => targets.into_iter().map(|t| (OpKind::Add, t)).collect(),
            What::Message { .. } | What::Update => Vec::new(),
        }
    }
}

/// A submission, ready for the server agent.
struct Built {
    kind: Kind,
    epoch: u64,
    payload: Vec<u8>,
    members_after: Option<Vec<MemberId>>,
    welcome: Option<Vec<u8>>,
}

/// A submission waiting for its receipt (volatile).
struct Pending {
    what: What,
    datagram: Datagram,
    attempts: u32,
    next_at: Millis,
    /// When it was first submitted, for the fallback timeout.
    since: Millis,
    /// Rejected for an epoch this member has not reached yet: encrypted
    /// again once it has (resending the old ciphertext cannot succeed).
    stale: bool,
}

/// An own add commit's Welcome, waiting for the commit to be ordered.
pub(super) struct Welcoming {
    pub(super) targets: Vec<MemberId>,
    /// What the submission's `joiners` told the server: each joiner hears
    /// it in its Invite, and readdresses if it is not what it holds now.
    pub(super) mailboxes: BTreeMap<MemberId, Vec<Address>>,
    pub(super) welcome: Vec<u8>,
}

pub struct Coordinated {
    pub(super) server: ServerId,
    server_key: [u8; 32],
    pub(super) generation: u32,
    /// Who formed this generation (ties between concurrent nominations of
    /// one generation are broken by server, then nominator).
    pub(super) nominator: MemberId,
    pub(super) mls: MlsClient,
    /// False while the nominator is still bringing the others in: until its
    /// first add commit is ordered its messages go over Olm, and its
    /// membership stays the lightweight one.
    pub(super) sending: bool,
    /// Members to bring in by add commits, and their key packages in hand.
    pub(super) to_add: BTreeSet<MemberId>,
    pub(super) claimed: BTreeMap<MemberId, Vec<u8>>,
    /// Adds the application asked for: announced as membership ops.
    pub(super) announce: BTreeSet<MemberId>,
    /// Claims answered before this go into one commit (the first batch of
    /// a new generation); and when unanswered claims are asked again.
    pub(super) batch_until: Millis,
    pub(super) next_claim_at: Millis,
    pub(super) claim_round: usize,
    /// Welcomes of own add commits not yet ordered, by commit hash, with
    /// the mailboxes the server was given for each joiner.
    welcomes: BTreeMap<[u8; 32], Welcoming>,
    /// The next sequence number to deliver; later ones wait in `reorder`.
    pub(super) next_seq: u64,
    reorder: BTreeMap<u64, Ordered>,
    pending: BTreeMap<u64, Pending>,
    /// Submissions waiting for the one in flight: one at a time, so that
    /// the server orders each member's messages in the order it sent them
    /// even when a receipt is lost and a submission retried.
    queue: std::collections::VecDeque<What>,
    /// Own commits that lost their epoch: rebuilt after the next commit.
    to_rebase: Vec<What>,
    /// The roster at the last sync (`None` before the first), and the
    /// members commits took out of it since, with the first epoch they
    /// were out in: what a fallback must not forget (see `fall_back`).
    synced: Option<BTreeSet<MemberId>>,
    departed: BTreeMap<MemberId, u64>,
    /// Removals this member commits because its ledger holds them, with
    /// the stamp of the removal the ledger holds (see `enforce_removals`).
    pub(super) enforcing: BTreeMap<MemberId, Hlc>,
    /// New mailbox addresses the server has not confirmed (`readdress.rs`).
    readdress: Option<readdress::Readdressing>,
    /// A peer's fallback notice being checked with the server (`doubt.rs`).
    doubt: Option<doubt::Doubt>,
    /// When the server last answered this member or served it a slot:
    /// a member that hears nothing for an audit period asks it
    /// (`ask_if_quiet`).
    pub(super) heard: Millis,
}

impl Coordinated {
    /// Joins `generation` at `server`, delivering from `next_seq` on.
    pub fn new(
        (server, server_key): (ServerId, [u8; 32]),
        generation: u32,
        nominator: MemberId,
        mls: MlsClient,
        next_seq: u64,
    ) -> Self {
        Coordinated {
            server,
            server_key,
            generation,
            nominator,
            mls,
            sending: true,
            to_add: BTreeSet::new(),
            claimed: BTreeMap::new(),
            announce: BTreeSet::new(),
            batch_until: 0,
            next_claim_at: 0,
            claim_round: 0,
            welcomes: BTreeMap::new(),
            next_seq,
            reorder: BTreeMap::new(),
            pending: BTreeMap::new(),
            queue: Default::default(),
            to_rebase: Vec::new(),
            synced: None,
            departed: BTreeMap::new(),
            enforcing: BTreeMap::new(),
            readdress: None,
            doubt: None,
            heard: 0,
        }
    }

    /// Orders generations: a later one wins; within one generation the
    /// lower server, then the lower nominator. Every member and every
    /// candidate applies the same rule, so concurrent nominations settle
    /// on one server once members can talk.
    pub(super) fn rank(&self) -> Rank {
        rank(self.generation, self.server, self.nominator)
    }

    pub fn mls(&self) -> &MlsClient {
        &self.mls
    }

    pub fn generation(&self) -> u32 {
        self.generation
    }

    pub fn server(&self) -> ServerId {
        self.server
    }

    /// Drops everything of this member's not ordered yet, and returns the
    /// commits among it: the application must be told that each failed.
    pub(super) fn forget_pending(&mut self) -> Vec<What> {
        // Removed: a notice it was checking no longer concerns it.
        self.doubt = None;
        let pending = std::mem::take(&mut self.pending)
            .into_values()
            .map(|p| p.what);
        (pending.chain(std::mem::take(&mut self.queue)))
            .chain(std::mem::take(&mut self.to_rebase))
            .filter(What::is_commit)
            .collect()
    }

    pub(super) fn next_wake(&self) -> Option<Millis> {
        let batch = (!self.claimed.is_empty()).then_some(self.batch_until);
        let claims = (self.to_add.len() > self.claimed.len()).then_some(self.next_claim_at);
        self.pending
            .values()
            .map(|p| p.next_at)
            .chain(self.readdress.as_ref().map(|r| r.next_at))
            .chain(self.doubt.as_ref().map(|d| d.next_at))
            .chain(batch)
            .chain(claims)
            .min()
    }

    /// One commit of ours at a time: from when it is built until it is
    /// applied or lost its epoch (a receipt alone does not end it).
    pub(super) fn commit_pending(&self) -> bool {
        self.mls.has_pending_commit()
            || self.pending.values().any(|p| p.what.is_commit())
            || self.queue.iter().any(What::is_commit)
            || !self.to_rebase.is_empty()
    }

    /// The start of the current epoch authenticator, for the trace.
    pub(super) fn epoch_entered(&self) -> Event {
        let authenticator = self.mls.epoch_authenticator().unwrap_or_default();
        Event::EpochEntered {
            generation: self.generation,
            server: self.server,
            epoch: self.mls.epoch().unwrap_or(0),
            authenticator: hex::encode(&authenticator[..authenticator.len().min(8)]),
        }
    }

    /// The roster as member ids; empty once this member is out.
    pub(super) fn roster(&self) -> BTreeSet<MemberId> {
        if !self.mls.is_active() {
            return BTreeSet::new();
        }
        self.mls
            .members()
            .iter()
            .filter_map(|id| {
                std::str::from_utf8(id)
                    .ok()
                    .and_then(|s| s.strip_prefix('m')?.parse().ok())
            })
            .map(MemberId)
            .collect()
    }
}

/// See [`Coordinated::rank`].
pub(super) type Rank = (u32, std::cmp::Reverse<u32>, std::cmp::Reverse<u32>);

pub(super) fn rank(generation: u32, server: ServerId, nominator: MemberId) -> Rank {
    use std::cmp::Reverse;
    (generation, Reverse(server.0), Reverse(nominator.0))
}

impl Member {
    /// Joins the coordinated group this member's MLS client is already in.
    pub fn coordinate(&mut self, c: Coordinated) {
        self.gens.generation = self.gens.generation.max(c.generation);
        self.coord = Some(c);
        self.sync_roster(None, &mut Effects::default());
    }

    pub fn coordinated(&self) -> Option<&Coordinated> {
        self.coord.as_ref()
    }

    /// In a coordinated group the MLS roster is the membership. `stamps`
    /// are the committer's, when a commit just changed the roster.
    pub(super) fn sync_roster(&mut self, stamps: Option<&CommitStamps>, fx: &mut Effects) {
        let Some(c) = self.coord.as_mut().filter(|c| c.sending) else {
            return;
        };
        if !c.mls.is_active() {
            // Removed: nothing of ours will be ordered any more, and a
            // missing receipt is no reason to fall back.
            let mut lost = c.forget_pending();
            // Nor will it add anyone: claiming on, it drained the key
            // packages of the member it was adding, and a member still in
            // could never add it (explore of `coordinated-adversity`, base
            // seed 2: `coordinated-removed-adder-drains-key-packages`).
            let adding = std::mem::take(&mut c.to_add);
            c.claimed.clear();
            let asked: Vec<MemberId> = (std::mem::take(&mut c.announce).into_iter())
                .filter(|m| adding.contains(m))
                .collect();
            if !asked.is_empty() {
                lost.push(What::Add { targets: asked });
            }
            refuse_commits(
                lost,
                "this member was removed before its commit was ordered",
                fx,
            );
        }
        let view = c.roster();
        let epoch = c.mls.epoch().unwrap_or(0);
        let mut gone = Vec::new();
        let mut came = Vec::new();
        if let Some(prev) = c.synced.replace(view.clone()) {
            came.extend(view.difference(&prev).copied());
            // A member a commit removed holds an empty roster: it left,
            // the others did not (taking them for removed made it remove
            // them once it was added back; `coordinated-adversity` 226).
            let me = self.id;
            let left = prev
                .difference(&view)
                .filter(|m| c.mls.is_active() || **m == me);
            for m in left {
                c.departed.entry(*m).or_insert(epoch);
                gone.push(*m);
            }
        }
        c.departed.retain(|m, _| !view.contains(m));
        self.ledger_keep_lightweight();
        self.ledger_removed_by_commit(&gone, epoch, stamps);
        self.ledger_added_by_commit(&came, stamps);
        if view != self.membership.view() {
            self.membership = Membership::RecipientList { view };
            fx.record(Event::MembershipChanged {
                view: self.view(),
                in_group: self.in_group(),
                cause: None,
            });
        }
    }

    /// Encrypts a group message for the MLS group and submits it.
    ///
    /// Within one generation the server's order is causal, but a member
    /// that changed generation may have missed messages of the old one
    /// (acknowledged by a server that then failed). So ordered messages
    /// still name their parents, and causal delivery waits for them and
    /// asks for them again. One ciphertext goes to every recipient, as the
    /// signed message does: its `unsent` list says who does not wait for
    /// which parent.
    pub(super) fn submit(&mut self, now: Millis, message: &GroupMessage, fx: &mut Effects) {
        if let Some(c) = self.coord.as_ref() {
            self.gens
                .wrote_to
                .insert(message.id, (c.server, c.generation));
            while self.gens.wrote_to.len() > super::ARCHIVE {
                self.gens.wrote_to.pop_first();
            }
        }
        let plaintext = Payload::Group(message.clone()).encode();
        self.submit_what(
            now,
            What::Message {
                msg: message.id,
                plaintext,
            },
            fx,
        );
    }

    /// Starts a commit the application asked for (a removal, an update),
    /// unless one of this member's commits is still being ordered.
    pub(super) fn commit(&mut self, now: Millis, what: What, command: String, fx: &mut Effects) {
        let reason = match self.coord.as_ref() {
            Some(c) if !c.sending => "the generation is still forming",
            Some(c) if c.commit_pending() => "a commit of this member is still being ordered",
            Some(_) => return self.submit_what(now, what, fx),
            None => "not coordinated",
        };
        fx.record(Event::CommandSkipped {
            command,
            reason: reason.into(),
        });
    }

    /// The generation this member is in and sends through, unless it is
    /// still forming it or a commit has removed it.
    pub(super) fn active_coord(&self) -> Option<&Coordinated> {
        self.coord
            .as_ref()
            .filter(|c| c.sending && c.mls.is_active())
    }

    /// Queues `what` behind everything of this member not ordered yet,
    /// and sends the front of the queue if nothing is in flight: the
    /// server gets this member's submissions in the order they were made.
    fn submit_what(&mut self, now: Millis, what: What, fx: &mut Effects) {
        let Some(c) = self.coord.as_mut() else { return };
        c.queue.push_back(what);
        self.advance(now, fx);
    }

    /// Submits again, ahead of every later submission of this member and
    /// in their own order, messages the server rejected for a stale epoch
    /// (encrypted again for the epoch this member has now reached).
    ///
    /// It was submitted before everything still queued, and the member's
    /// later messages name it as a parent. Queued behind them, it was
    /// ordered after its own children (`coordinated-concurrent-commits`
    /// seed 14: m0#5 in slot 24, its parent m0#4 in slot 27), and no
    /// receiver could deliver either: causal delivery holds the child for
    /// its parent, and the server's order holds the parent behind the
    /// child's earlier slot. Receivers could only break the deadlock by
    /// breaking one of those two guarantees, so the sender keeps its own
    /// order instead: with one submission in flight at a time and a
    /// rejected one going first, an honest member's messages are ordered
    /// in the order it sent them, which makes the server's order causal
    /// within a generation. (A dishonest server could still reorder them;
    /// docs/coordinated.md, "Not built yet".)
    fn resubmit(&mut self, now: Millis, rejected: Vec<What>, fx: &mut Effects) {
        let Some(c) = self.coord.as_mut() else { return };
        for what in rejected.into_iter().rev() {
            c.queue.push_front(what);
        }
        self.advance(now, fx);
    }

    /// Sends the next queued submission once nothing is in flight (and the
    /// one after it, if that one could not be built). A commit waits, too,
    /// while one of ours is receipted but not applied yet: MLS builds no
    /// commit over a pending one, and the removal a forming nominator
    /// learnt between its formation commit's receipt and its order was
    /// skipped for that, and undone by the generation
    /// (`coordinated-removal-while-committing-kept`). Applying the epoch
    /// advances the queue again.
    fn advance(&mut self, now: Millis, fx: &mut Effects) {
        loop {
            let next = match self.coord.as_mut() {
                Some(c)
                    if c.queue.front().is_some_and(What::is_commit)
                        && c.mls.has_pending_commit() =>
                {
                    None
                }
                Some(c) if c.pending.is_empty() => c.queue.pop_front(),
                _ => None,
            };
            let Some(what) = next else { return };
            self.send_submission(now, what, fx);
        }
    }

    /// Commits the key packages in hand, once no commit of ours is in
    /// flight and (for a new generation's first batch) every claim has
    /// been answered or the batch time is up.
    pub(super) fn maybe_commit_adds(&mut self, now: Millis, fx: &mut Effects) {
        let claiming = self
            .out
            .requests
            .values()
            .any(|r| matches!(r.purpose, Purpose::ClaimKeyPackage { .. }));
        let Some(c) = self.coord.as_ref() else { return };
        if c.claimed.is_empty() || c.commit_pending() || (claiming && now < c.batch_until) {
            return;
        }
        let targets = c.claimed.keys().copied().collect();
        self.submit_what(now, What::Add { targets }, fx);
    }

    fn send_submission(&mut self, now: Millis, what: What, fx: &mut Effects) {
        let req = self.next_req();
        let (group, retry_ms) = (self.cfg.group, self.cfg.retry_ms);
        let joiners: Vec<(MemberId, Vec<Address>)> = match &what {
            What::Add { targets } => targets
                .iter()
                .filter_map(|t| {
                    let c = self.contact(*t)?;
                    Some((*t, c.agents.iter().map(|a| a.long_term.address).collect()))
                })
                .collect(),
            _ => Vec::new(),
        };
        // A commit carries its committer's stamp, authenticated by MLS:
        // what it changes in a lightweight set is ordered by when it was
        // made, not by when each member got round to processing it.
        let stamps =
            (!matches!(what, What::Message { .. })).then(|| self.commit_stamps(now, &what));
        let Some(c) = self.coord.as_mut() else { return };
        if let Some(stamps) = stamps {
            c.mls.stamp_next(stamps.encode());
        }
        let roster = c.roster();
        let commit = |p: crate::core::mls::Prepared, after: BTreeSet<MemberId>| Built {
            kind: Kind::Commit,
            epoch: p.epoch,
            payload: p.commit,
            members_after: Some(after.into_iter().collect()),
            welcome: p.welcome,
        };
        let built = match &what {
            What::Message { plaintext, .. } => c.mls.encrypt(plaintext).map(|payload| Built {
                kind: Kind::Message,
                epoch: c.mls.epoch().unwrap_or(0),
                payload,
                members_after: None,
                welcome: None,
            }),
            What::Remove { target } => {
                let after = roster.iter().copied().filter(|m| m != target).collect();
                c.mls
                    .remove(&[target.to_string().into_bytes()])
                    .map(|p| commit(p, after))
            }
            What::Add { targets } => {
                let packages: Vec<Vec<u8>> = targets
                    .iter()
                    .filter_map(|t| c.claimed.get(t).cloned())
                    .collect();
                let after = roster.iter().chain(targets).copied().collect();
                let result = c.mls.add(&packages).map(|p| commit(p, after));
                if result.is_err() {
                    // A key package that does not validate: claim afresh.
                    c.claimed.retain(|t, _| !targets.contains(t));
                }
                result
            }
            What::Update => c.mls.self_update().map(|p| commit(p, roster)),
        };
        let Built {
            kind,
            epoch,
            payload,
            members_after,
            welcome,
        } = match built {
            Ok(b) => b,
            Err(e) => {
                return fx.record(Event::CommandSkipped {
                    command: format!("{what:?}").chars().take(40).collect(),
                    reason: e.to_string(),
                });
            }
        };
        if let (What::Add { targets }, Some(welcome)) = (&what, welcome) {
            let welcoming = Welcoming {
                targets: targets.clone(),
                mailboxes: joiners.iter().cloned().collect(),
                welcome,
            };
            c.welcomes.insert(hash(&payload), welcoming);
        }
        let submission = Submission {
            group,
            generation: c.generation,
            epoch,
            kind,
            payload,
            members_after,
            joiners,
        };
        let datagram = Datagram::Submit { req, submission };
        fx.send(Peer::Server(c.server), datagram.encode());
        c.pending.insert(
            req,
            Pending {
                what,
                datagram,
                attempts: 1,
                next_at: now + retry_ms,
                since: now,
                stale: false,
            },
        );
    }

    pub(super) fn retry_submits(&mut self, now: Millis, fx: &mut Effects) {
        let (retry_ms, timeout) = (self.cfg.retry_ms, self.cfg.ack_timeout_ms);
        if self.retry_probe(now, fx) {
            return;
        }
        let Some(c) = self.coord.as_mut() else { return };
        if c.pending.values().any(|p| p.since + timeout <= now) {
            let reason = format!("no receipt from {} within {timeout} ms", c.server);
            let mut why = Why::new(FallbackCause::NoReceipt, reason);
            // Turned away for an epoch it cannot reach is not quiet: the
            // server answers, on a branch this member is not on.
            why.quiet = !c.pending.values().any(|p| p.stale);
            return self.fall_back(now, why, true, fx);
        }
        if c.readdress
            .as_ref()
            .is_some_and(|r| r.since + timeout <= now)
        {
            let reason = format!(
                "no answer from {} to new addresses within {timeout} ms",
                c.server
            );
            let why = Why::new(FallbackCause::NoReaddressAnswer, reason);
            return self.fall_back(now, why, true, fx);
        }
        self.retry_readdress(now, fx);
        let Some(c) = self.coord.as_mut() else { return };
        for p in c
            .pending
            .values_mut()
            .filter(|p| p.next_at <= now && !p.stale)
        {
            p.attempts = p.attempts.saturating_add(1);
            p.next_at = now + retry_ms * u64::from(p.attempts.min(8));
            fx.send(Peer::Server(c.server), p.datagram.encode());
        }
    }

    pub(super) fn on_server_datagram(
        &mut self,
        now: Millis,
        server: ServerId,
        d: Datagram,
        fx: &mut Effects,
    ) {
        if d.reply_to().is_some_and(|req| {
            self.gens
                .nomination
                .as_ref()
                .is_some_and(|n| n.req == req && n.server == server)
        }) {
            return self.on_nomination_reply(now, server, d, fx);
        }
        match d {
            Datagram::Serving {
                req,
                generation,
                next_seq,
                ..
            } => return self.on_serving(now, server, (req, generation, next_seq), fx),
            Datagram::SubmitRejected {
                req, ref rejection, ..
            } if self.return_refused(now, req, rejection) => return,
            _ => {}
        }
        let Some(c) = self.coord.as_mut().filter(|c| c.server == server) else {
            return self.reject(
                Peer::Server(server),
                "not this group's server agent".into(),
                fx,
            );
        };
        c.heard = now;
        match d {
            Datagram::Receipted { req, receipt } if receipt.verify(&c.server_key) => {
                match c.pending.remove(&req).map(|p| p.what) {
                    Some(What::Message { msg, .. }) => {
                        fx.record(Event::SubmitAcked {
                            msg,
                            server,
                            generation: receipt.generation,
                            seq: receipt.seq,
                        });
                        let own = Owned::Message(msg);
                        self.audit
                            .own_message(now, (server, c.generation), own, &receipt);
                    }
                    // A receipted commit the server never serves back is
                    // withheld as surely as a message (issue 21 (1): in a
                    // silent group nothing else would ever show it).
                    Some(what) => {
                        let own = Owned::Commit(what.changes());
                        self.audit
                            .own_message(now, (server, c.generation), own, &receipt)
                    }
                    None => {}
                }
                self.audit
                    .learn((server, c.generation), &c.server_key, &receipt, None);
            }
            Datagram::Readdressed { req } => {
                if c.readdress.as_ref().is_some_and(|r| r.req == req) {
                    c.readdress = None;
                }
            }
            Datagram::Receipted { req, .. } => {
                let error = format!("receipt for request {req} fails the server's signature");
                self.reject(Peer::Server(server), error, fx)
            }
            Datagram::SubmitRejected {
                req,
                rejection: Rejection::StaleEpoch { current, .. },
            } => {
                let caught_up = c.mls.epoch().is_some_and(|e| e >= current);
                let Some(p) = c.pending.remove(&req) else {
                    return;
                };
                match p.what {
                    // Another commit won the epoch, and it is applied here
                    // already: rebuild ours on it now. Kept for the next
                    // commit, it waited for one that never came, and the
                    // removal was lost without a word (a helper's
                    // adversarial case, `coordinated-stale-removal-rebuilt`).
                    What::Remove { target } if caught_up && !c.roster().contains(&target) => {}
                    What::Add { .. } if caught_up => self.maybe_commit_adds(now, fx),
                    what if what.is_commit() && caught_up => self.submit_what(now, what, fx),
                    // Rebuilt on the winning commit once it is applied here.
                    what if what.is_commit() => c.to_rebase.push(what),
                    what if caught_up => self.resubmit(now, vec![what], fx),
                    _ => {
                        c.pending.insert(req, Pending { stale: true, ..p });
                    }
                }
            }
            Datagram::SubmitRejected {
                rejection: Rejection::Refused,
                ..
            } => {
                let reason = format!("{server} refuses service");
                self.fall_back(now, Why::new(FallbackCause::Refused, reason), true, fx);
            }
            Datagram::SubmitRejected {
                rejection: Rejection::WrongGeneration { current, .. },
                ..
            } if current > c.generation => {
                self.gens.generation = self.gens.generation.max(current);
                let reason = format!("{server} was fenced: the group is at generation {current}");
                self.fall_back(now, Why::new(FallbackCause::Fenced, reason), true, fx);
            }
            // Fenced at this very generation: another server won it (a
            // dual nomination), and that one's members told this one. The
            // member leaves, and takes the group over at this server, which
            // is up, should no Welcome into the winner come first: the
            // winner's nominator may have left it, and then nobody brings
            // this side in (`coordinated-tie-choice-left-late-joiner`).
            Datagram::SubmitRejected {
                rejection: Rejection::WrongGeneration { current, .. },
                ..
            } if current == c.generation => {
                let reason = format!(
                    "{server} no longer serves generation {current}: another server won it"
                );
                self.fall_back(now, Why::new(FallbackCause::Fenced, reason), true, fx);
                self.schedule_takeover(now, Some(server));
            }
            Datagram::SubmitRejected {
                req,
                rejection: Rejection::NotAMember(_),
            } => {
                // The application hears of it: a change asked for by a
                // member removed meanwhile was otherwise dropped without a
                // word (explore of `coordinated-adversity`, base seed 92).
                let lost = c.pending.remove(&req).map(|p| p.what);
                refuse_commits(
                    lost,
                    "the server says this member is no longer in the group",
                    fx,
                );
            }
            Datagram::SubmitRejected { .. } => {}
            other => self.reject(
                Peer::Server(server),
                format!("unexpected from a server agent: {}", other.name()),
                fx,
            ),
        }
        self.advance(now, fx);
    }
}
