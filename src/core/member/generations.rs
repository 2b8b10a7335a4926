//! Generations of a coordinated group: a generation is one server agent
//! ordering one MLS group. This half of the member nominates a server
//! agent, forms a generation from the lightweight membership, brings the
//! others in with key packages claimed from their mailboxes and Welcomes
//! sent over the pairwise Olm channels, joins a generation from a Welcome,
//! and fences servers of a generation the group has left.
//!
//! Takeover is a fresh MLS group, not ReInit: a ReInit commit would need
//! the old server to order it, and the old server is the one that failed.
//! See docs/coordinated.md.

use super::Member;
use super::coordinated::{Coordinated, Welcoming, Why, rank};
use super::message::{Invite, Payload};
use super::outbound::Purpose;
use crate::core::event::OpKind;
use crate::core::event::{Event, FallbackCause};
use crate::core::ids::{AgentId, MemberId, Millis, Peer, ServerId};
use crate::core::io::Effects;
use crate::core::mls::MlsClient;
use crate::core::server::sequencer::Rejection;
use crate::core::wire::{Datagram, Ordered};

/// Ordered messages of a generation not yet joined, kept until the
/// Welcome arrives; beyond this the oldest are dropped.
const EARLY: usize = 4096;

/// A nomination waiting for the candidate's answer (volatile).
pub(super) struct Nomination {
    pub req: u64,
    pub server: ServerId,
    generation: u32,
    datagram: Datagram,
    next_at: Millis,
    since: Millis,
}

/// The MLS group id of one generation: distinct per generation, so that a
/// message of one can never be processed as one of another.
/// Two nominations of one generation make two groups: the server and the
/// nominator are part of the id too.
fn group_id(group: u64, generation: u32, server: ServerId, nominator: MemberId) -> Vec<u8> {
    [
        &group.to_be_bytes()[..],
        &generation.to_be_bytes(),
        &server.0.to_be_bytes(),
        &nominator.0.to_be_bytes(),
    ]
    .concat()
}

impl Member {
    /// Gives this member its MLS identity and the group's candidate server
    /// agents, in the order the group prefers them.
    pub fn set_mls(&mut self, candidates: Vec<(ServerId, [u8; 32])>, mls: Option<MlsClient>) {
        self.gens.candidates = candidates;
        if self.coord.is_none() {
            self.gens.mls_spare = mls;
        }
    }

    fn mls_client(&mut self) -> Option<&mut MlsClient> {
        match (self.coord.as_mut(), self.gens.draining.as_mut()) {
            (Some(c), _) | (None, Some(c)) => Some(&mut c.mls),
            (None, None) => self.gens.mls_spare.as_mut(),
        }
    }

    /// The MLS client for a new generation, ending any drain of the old.
    fn take_mls(&mut self) -> Option<MlsClient> {
        self.gens
            .mls_spare
            .take()
            .or_else(|| self.gens.draining.take().map(|c| c.mls))
    }

    fn candidate_key(&self, server: ServerId) -> Option<[u8; 32]> {
        self.gens
            .candidates
            .iter()
            .find(|(s, _)| *s == server)
            .map(|(_, k)| *k)
    }

    /// The next candidate after the server that failed last.
    fn next_candidate(&self) -> Option<ServerId> {
        let failed = self.gens.failed_server?;
        self.gens
            .candidates
            .iter()
            .map(|(s, _)| *s)
            .skip_while(|s| *s != failed)
            .nth(1)
    }

    /// Publishes fresh MLS key packages at each of this member's agents, so
    /// that it can be added while offline.
    pub(super) fn publish_key_packages(&mut self, now: Millis, per_agent: usize, fx: &mut Effects) {
        let agents: Vec<AgentId> = self.own.iter().map(|a| a.agent).collect();
        self.publish_key_packages_to(now, &agents, per_agent, fx);
    }

    pub(super) fn publish_key_packages_to(
        &mut self,
        now: Millis,
        agents: &[AgentId],
        per_agent: usize,
        fx: &mut Effects,
    ) {
        let member = self.id;
        for agent in agents.iter().copied() {
            let Some(mls) = self.mls_client() else { return };
            let key_packages: Vec<Vec<u8>> = (0..per_agent)
                .filter_map(|_| mls.key_package().ok())
                .collect();
            self.send_request(
                now,
                agent,
                Purpose::Keys,
                |req| Datagram::PublishKeyPackages {
                    req,
                    member,
                    key_packages,
                },
                fx,
            );
        }
    }

    /// After a failure, the member waits its turn (the takeover delay times
    /// one plus its rank in the membership) before nominating the next
    /// candidate itself; a Welcome into a new generation cancels the wait.
    ///
    /// A member whose server was fenced for a generation whose Welcome it
    /// refused (`refused`, see `on_invite`) forms the next one at that
    /// generation's server, which is up: it waited for a Welcome that
    /// never comes, and the last candidate has no next one.
    pub(super) fn schedule_takeover(&mut self, now: Millis, refused: Option<ServerId>) {
        self.gens.takeover_to = refused;
        if self.cfg.takeover_after_ms == 0 || refused.or(self.next_candidate()).is_none() {
            return;
        }
        self.arm_takeover(now);
    }

    /// Arms the takeover timer, staggered by this member's rank.
    fn arm_takeover(&mut self, now: Millis) {
        let rank = self
            .membership
            .view()
            .iter()
            .position(|m| *m == self.id)
            .unwrap_or(0) as u64;
        // Saturating: a stagger too long to represent means never, as a
        // stagger longer than the run does, rather than wrapping to soon.
        let wait = self
            .cfg
            .takeover_after_ms
            .saturating_mul(rank.saturating_add(1));
        self.gens.takeover_at = Some(now.saturating_add(wait));
    }

    /// Asks `server` to take on the next generation: a takeover, a move,
    /// or the upgrade of a lightweight group.
    pub(super) fn nominate(&mut self, now: Millis, server: ServerId, fx: &mut Effects) {
        let reason = if !self.in_group() {
            // A member removed after it armed its takeover timer would
            // otherwise take the group over (see `on_invite`).
            Some("not in the group")
        } else if self.gens.nomination.is_some() {
            Some("a nomination is already under way")
        } else if self.candidate_key(server).is_none() {
            Some("not one of the group's candidate server agents")
        } else if self.mls_client().is_none() {
            Some("this member has no MLS client")
        } else if self.coord.as_ref().is_some_and(|c| c.server == server) {
            Some("already the group's server agent")
        } else {
            None
        };
        if let Some(reason) = reason {
            return fx.record(Event::CommandSkipped {
                command: format!("nominate {server}"),
                reason: reason.into(),
            });
        }
        if self.coord.is_some() {
            let why = Why::new(
                FallbackCause::Moving,
                format!("moving the group to {server}"),
            );
            self.fall_back(now, why, false, fx);
        }
        let generation = self.gens.generation + 1;
        let req = self.next_req();
        let datagram = Datagram::Nominate {
            req,
            group: self.cfg.group,
            generation,
            mailboxes: self.mailboxes(),
        };
        fx.send(Peer::Server(server), datagram.encode());
        fx.record(Event::Nominating { generation, server });
        self.gens.takeover_at = None;
        self.gens.nomination = Some(Nomination {
            req,
            server,
            generation,
            datagram,
            next_at: now + self.cfg.retry_ms,
            since: now,
        });
    }

    /// Retries the nomination, gives up on a silent candidate for the next
    /// one, and nominates when the takeover timer fires.
    pub(super) fn drive_generations(&mut self, now: Millis, fx: &mut Effects) {
        if self.gens.takeover_at.is_some_and(|at| at <= now) {
            self.gens.takeover_at = None;
            let to = self.gens.takeover_to.take();
            if self.coord.is_none()
                && self.gens.nomination.is_none()
                && let Some(next) = to.or_else(|| self.next_candidate())
            {
                self.nominate(now, next, fx);
            }
        }
        let timeout = self.cfg.ack_timeout_ms;
        if let Some(n) = self.gens.nomination.as_mut() {
            if n.since + timeout <= now {
                let server = n.server;
                self.gens.nomination = None;
                self.gens.failed_server = Some(server);
                fx.record(Event::CommandSkipped {
                    command: format!("nominate {server}"),
                    reason: format!("no answer within {timeout} ms"),
                });
                if let Some(next) = self.next_candidate() {
                    self.nominate(now, next, fx);
                }
            } else if n.next_at <= now {
                n.next_at = now + self.cfg.retry_ms;
                fx.send(Peer::Server(n.server), n.datagram.encode());
            }
        }
        self.retry_return(now, fx);
        self.reclaim(now, fx);
        self.maybe_commit_adds(now, fx);
    }

    pub(super) fn generations_wake(&self) -> Option<Millis> {
        let nomination = self
            .gens
            .nomination
            .as_ref()
            .map(|n| n.next_at.min(n.since + self.cfg.ack_timeout_ms));
        let returning = self.gens.returning.as_ref().map(|r| r.next_at);
        [nomination, self.gens.takeover_at, returning]
            .into_iter()
            .flatten()
            .min()
    }

    pub(super) fn on_nomination_reply(
        &mut self,
        now: Millis,
        server: ServerId,
        d: Datagram,
        fx: &mut Effects,
    ) {
        let Some(n) = self.gens.nomination.take() else {
            return;
        };
        match d {
            Datagram::Nominated { generation, .. } if generation == n.generation => {
                // The server fans out to the addresses the nomination
                // carried. A member whose mailbox agents lost their store
                // while the nomination waited (it was offline) registered
                // anew since: without telling the server, its own first
                // commit never came back, and it stayed alone in its
                // generation, the others in the old one, to the end
                // (`coordinated-nominee-readdressed`, from explore).
                let stale = match &n.datagram {
                    Datagram::Nominate { mailboxes, .. } => *mailboxes != self.mailboxes(),
                    _ => false,
                };
                self.form(now, server, generation, fx);
                if stale {
                    self.readdress(now, fx);
                }
            }
            Datagram::SubmitRejected {
                rejection: Rejection::WrongGeneration { current, .. },
                ..
            } => {
                // Someone else's nomination got there first, at a server
                // that is up: wait for its Welcome (its nominator keeps
                // claiming this member's key package). Nominating past it
                // would tear down a working generation; if its server
                // fails, its members' next generation brings us in.
                self.gens.generation = self.gens.generation.max(current);
            }
            Datagram::SubmitRejected { .. } => {
                self.gens.failed_server = Some(server);
                if let Some(next) = self.next_candidate() {
                    self.nominate(now, next, fx);
                }
            }
            other => {
                self.gens.nomination = Some(n);
                self.reject(
                    Peer::Server(server),
                    format!("unexpected answer to a nomination: {}", other.name()),
                    fx,
                );
            }
        }
    }

    /// The candidate accepted: this member creates the generation's MLS
    /// group alone and brings the others in by add commits. Until the
    /// first is ordered it keeps sending over Olm.
    fn form(&mut self, now: Millis, server: ServerId, generation: u32, fx: &mut Effects) {
        let Some(key) = self.candidate_key(server) else {
            return;
        };
        if let Some(c) = &self.coord {
            if c.rank() >= rank(generation, server, self.id) {
                return;
            }
            let reason = format!("generation {generation} at {server} supersedes this one");
            self.fall_back(now, Why::new(FallbackCause::Superseded, reason), false, fx);
        }
        let Some(mut mls) = self.take_mls() else {
            return;
        };
        if let Err(e) = mls.create_group(&group_id(self.cfg.group, generation, server, self.id)) {
            self.gens.mls_spare = Some(mls);
            return fx.record(Event::CommandSkipped {
                command: format!("form generation {generation}"),
                reason: e.to_string(),
            });
        }
        let mut c = Coordinated::new((server, key), generation, self.id, mls, 0);
        c.to_add = self.membership.view();
        c.to_add.remove(&self.id);
        c.sending = c.to_add.is_empty();
        c.batch_until = now + self.cfg.ack_timeout_ms;
        c.next_claim_at = now;
        fx.record(Event::Joined {
            generation,
            server,
            nominator: self.id,
            epoch: 0,
        });
        fx.record(c.epoch_entered());
        self.gens.generation = self.gens.generation.max(generation);
        self.gens.takeover_at = None;
        self.coord = Some(c);
        self.reclaim(now, fx);
    }

    /// The application adds `m` to the coordinated group: claim its key
    /// package, then commit.
    pub(super) fn add_coordinated(&mut self, now: Millis, m: MemberId, fx: &mut Effects) {
        let Some(c) = self.coord.as_mut() else { return };
        c.to_add.insert(m);
        c.announce.insert(m);
        c.batch_until = now;
        c.next_claim_at = now;
        self.reclaim(now, fx);
    }

    /// Claims a key package for every member still to be added that has
    /// none in hand and no claim under way, each round at another of its
    /// agents.
    pub(super) fn reclaim(&mut self, now: Millis, fx: &mut Effects) {
        let Some(c) = self.coord.as_mut().filter(|c| c.next_claim_at <= now) else {
            return;
        };
        c.next_claim_at = now + self.cfg.ack_timeout_ms;
        c.claim_round += 1;
        let round = c.claim_round;
        let roster = c.roster();
        let wanted: Vec<MemberId> = c
            .to_add
            .iter()
            .filter(|m| !c.claimed.contains_key(m) && !roster.contains(m))
            .copied()
            .collect();
        for m in wanted {
            let claiming = self
                .out
                .requests
                .values()
                .any(|r| r.purpose == Purpose::ClaimKeyPackage { peer: m });
            if claiming || !self.learn_contact(m) {
                continue;
            }
            let agents: Vec<_> = self
                .contact(m)
                .map(|c| c.agents.iter().map(|a| a.agent).collect())
                .unwrap_or_default();
            let Some(agent) = agents.get(round % agents.len().max(1)).copied() else {
                continue;
            };
            self.send_request(
                now,
                agent,
                Purpose::ClaimKeyPackage { peer: m },
                |req| Datagram::ClaimKeyPackage { req, member: m },
                fx,
            );
        }
    }

    /// An agent of `member` had no key package left: the member hears so,
    /// since nothing else tells it its key packages were used up by
    /// claims whose generations never brought it in
    /// (`coordinated-key-packages-drained`). Once per claim round.
    pub(super) fn on_key_package(
        &mut self,
        now: Millis,
        member: MemberId,
        key_package: Option<Vec<u8>>,
        fx: &mut Effects,
    ) {
        if key_package.is_none() && self.active_coord().is_some() {
            let wanted = Payload::KeysWanted {
                group: self.cfg.group,
            };
            self.seal(now, member, None, wanted.encode(), fx);
        }
        if let (Some(c), Some(kp)) = (self.coord.as_mut(), key_package)
            && c.to_add.contains(&member)
            && !c.roster().contains(&member)
        {
            c.claimed.insert(member, kp);
        }
        self.maybe_commit_adds(now, fx);
    }

    /// A member of the group could not claim a key package of this
    /// member's: publish a fresh stock at every agent, unless a publication
    /// is under way already.
    pub(super) fn restock_key_packages(&mut self, now: Millis, from: MemberId, fx: &mut Effects) {
        let publishing = (self.out.requests.values()).any(|r| r.purpose == Purpose::Keys);
        if publishing || !self.membership.contains(from) {
            return;
        }
        self.publish_key_packages(now, self.cfg.key_packages_per_agent, fx);
    }

    /// Sends each member an add commit brought in its Welcome, over Olm.
    pub(super) fn send_invites(
        &mut self,
        now: Millis,
        next_seq: u64,
        welcoming: Welcoming,
        fx: &mut Effects,
    ) {
        let ledger = self.invite_ledger(now, &welcoming.targets);
        let Some(c) = self.coord.as_ref() else { return };
        // One invite, its `mailboxes` set for each target in turn: the
        // Welcome carries the whole ratchet tree, and copying it once per
        // joiner was a large part of a 1,000-member takeover.
        let mut payload = Payload::Welcome(Invite {
            group: self.cfg.group,
            generation: c.generation,
            server: c.server,
            nominator: c.nominator,
            next_seq,
            welcome: welcoming.welcome,
            ledger,
            mailboxes: Vec::new(),
            meta: self.particle.meta.clone(),
        });
        for t in &welcoming.targets {
            if let Payload::Welcome(invite) = &mut payload {
                invite.mailboxes = welcoming.mailboxes.get(t).cloned().unwrap_or_default();
            }
            let bytes = payload.encode();
            self.seal(now, *t, None, bytes, fx);
        }
    }

    /// A Welcome into a generation: joined if it ranks above the one this
    /// member is in (or last fell back from); a better generation replaces
    /// a worse one, which is how dual nominations settle.
    ///
    /// A Welcome from a nominator this member counts out of the group, and
    /// holds the announcement of its removal for, is refused: a removed member that missed its removal (offline, or able
    /// to send but not receive) would otherwise take the group over with
    /// a generation that includes itself. The refusal skips the
    /// generation's number, so that the group's own next nomination is not
    /// turned away by a candidate that accepted the hijack, and hands the
    /// nominator the announcement of its removal, so that it learns it is
    /// out.
    ///
    /// A refuser in no generation forms the next one itself, at the
    /// refused generation's server (which is up), after its takeover
    /// stagger: the refused generation holds it in its roster, so its
    /// members would otherwise go on ordering messages for a member that
    /// never joined, and nobody else knows to bring it in. The new
    /// generation supersedes the refused one, and its members move.
    pub(super) fn on_invite(&mut self, now: Millis, from: MemberId, inv: Invite, fx: &mut Effects) {
        if self.in_group()
            && !self.membership.contains(inv.nominator)
            && self.removal_of(inv.nominator).is_some()
        {
            self.gens.generation = self.gens.generation.max(inv.generation);
            self.tell_removed(now, inv.nominator, fx);
            if (self.coord.as_ref()).is_some_and(|c| c.generation < inv.generation) {
                self.check_fence(now, inv.server, fx);
            }
            if self.coord.is_none()
                && self.gens.nomination.is_none()
                && self.gens.takeover_at.is_none()
                && self.cfg.takeover_after_ms > 0
                && self.candidate_key(inv.server).is_some()
            {
                self.arm_takeover(now);
                self.gens.takeover_to = Some(inv.server);
            }
            return self.reject(
                Peer::Member(from),
                format!(
                    "a Welcome into generation {} formed by {}, not a member",
                    inv.generation, inv.nominator
                ),
                fx,
            );
        }
        // Told of its own removal, a member joins only a generation whose
        // inviter holds a later add of it: a takeover or upgrade formed
        // from a view that missed the removal does not undo it.
        if self.ledger_says_removed(inv.ledger.as_ref()) {
            self.hand_removal(now, from, fx);
            return self.reject(
                Peer::Member(from),
                format!(
                    "a Welcome into generation {} for a member removed from the group",
                    inv.generation
                ),
                fx,
            );
        }
        let offered = rank(inv.generation, inv.server, inv.nominator);
        let current = self.coord.as_ref().map(Coordinated::rank);
        // Added back to the generation that removed it: the same rank, but
        // its MLS state there has ended, so the Welcome is taken.
        let rejoin = self
            .coord
            .as_ref()
            .is_some_and(|c| !c.mls.is_active() && c.rank() == offered);
        // A member in no generation takes a Welcome into the generation it
        // fell back from at another server, though the tie rule ranks that
        // one below: it left the better one, and waiting for it left the
        // member outside the group for good while the others were ordered
        // at the other server (`coordinated-adversity` explore 542,
        // `coordinated-refused-choice-welcome-taken`). Should the better
        // one still serve others, its Welcome supersedes this one later.
        let dead = current.is_none()
            && self
                .gens
                .fell_rank
                .is_some_and(|(g, s, _)| g == inv.generation && s.0 != inv.server.0);
        // Added back to the generation it left when told of its own
        // removal: the inviter holds a later add of it (checked above), so
        // this Welcome is news, not a stale copy; turned away as one, the
        // member stayed out while everyone else held it in
        // (`coordinated-readded-after-lightweight-removal`).
        let readded = current.is_none()
            && self.gens.fell_rank == Some(offered)
            && self.ledger_now().is_some_and(|l| l.removed(self.id));
        if !rejoin
            && !dead
            && !readded
            && current
                .or(self.gens.fell_rank)
                .is_some_and(|r| r >= offered)
        {
            return;
        }
        let Some(key) = self.candidate_key(inv.server) else {
            return self.reject(
                Peer::Member(from),
                format!("a Welcome for {}, not a candidate", inv.server),
                fx,
            );
        };
        if current.is_some() && !rejoin {
            let reason = format!(
                "generation {} at {} supersedes this one",
                inv.generation, inv.server
            );
            self.fall_back(now, Why::new(FallbackCause::Superseded, reason), false, fx);
        }
        // A rejoining member's key package came from the client it was
        // removed with, which holds the package's private keys.
        let mls = if rejoin {
            self.coord.take().map(|c| c.mls)
        } else {
            self.take_mls()
        };
        let Some(mut mls) = mls else {
            return self.reject(
                Peer::Member(from),
                "a Welcome, but no MLS client".into(),
                fx,
            );
        };
        let own_ledger = self.ledger_now();
        let epoch = match mls.join(&inv.welcome) {
            Ok(epoch) => epoch,
            Err(e) => {
                self.gens.mls_spare = Some(mls);
                return self.reject(Peer::Member(from), format!("Welcome: {e}"), fx);
            }
        };
        let c = Coordinated::new(
            (inv.server, key),
            inv.generation,
            inv.nominator,
            mls,
            inv.next_seq,
        );
        fx.record(Event::Joined {
            generation: inv.generation,
            server: inv.server,
            nominator: inv.nominator,
            epoch,
        });
        fx.record(c.epoch_entered());
        for m in c.roster() {
            self.learn_contact(m);
        }
        self.gens.generation = self.gens.generation.max(inv.generation);
        self.gens.takeover_at = None;
        self.gens.nomination = None;
        self.coord = Some(c);
        self.sync_roster(None, fx);
        self.ledger_join(now, own_ledger, inv.ledger, fx);
        // The joiner learnt of a rename its inviter had not when it wrote
        // the Welcome: the generation holds the older name, and in a
        // silent group nothing else tells it (`coordinated-rename-outside-order`).
        let newer = (self.particle.meta.as_ref()).is_some_and(|m| m.beats(inv.meta.as_ref()));
        if let Some(meta) = inv.meta {
            self.apply_meta(meta, None, fx);
        }
        if newer && self.in_group() {
            self.send_group(now, None, None, fx);
        }
        // What a later generation's server sent early waits on: a stale
        // Welcome taken first dropped it, and the later generation, joined
        // next, never saw the commit that followed its Welcome; in a silent
        // group the member stayed an epoch behind for good (`coordinated-
        // adversity` explore 912 of 1..=1000, `coordinated-early-commit-
        // dropped-by-stale-welcome`).
        let (now_due, later): (Vec<Ordered>, Vec<Ordered>) = (std::mem::take(&mut self.gens.early)
            .into_iter())
        .filter(|i| i.receipt.generation >= inv.generation)
        .partition(|i| i.receipt.generation == inv.generation);
        self.gens.early = later;
        for item in now_due {
            self.on_ordered(now, item, fx);
        }
        // The key package the Welcome used is gone: publish another.
        self.publish_key_packages(now, 1, fx);
        // The server fans out to the addresses on the inviter's card, which
        // may be older than this member's (its agents lost their store
        // since the card was handed over). And what it had fanned out here
        // before the Welcome came may have been taken from the mailboxes
        // and lost with the device's memory: in a silent group no later
        // slot ever shows the gap, and the member stayed an epoch behind
        // for good (`coordinated-restart-loses-early-commit`). Either way
        // the server sends again from the Welcome's slot.
        let lost = std::mem::take(&mut self.gens.early_lost);
        if inv.mailboxes != self.mailboxes() || lost {
            self.readdress(now, fx);
        }
    }

    /// Hands `who`, which this member counts out of the group, the latest
    /// announcement of its removal that this member holds; at most once per
    /// ack timeout, however often `who` writes.
    pub(super) fn tell_removed(&mut self, now: Millis, who: MemberId, fx: &mut Effects) {
        if self
            .gens
            .told_removed
            .get(&who)
            .is_some_and(|t| now < t.saturating_add(self.cfg.ack_timeout_ms))
        {
            return;
        }
        if let Some(removal) = self.removal_of(who) {
            self.gens.told_removed.insert(who, now);
            self.backfill(now, who, &[removal], None, fx);
        }
    }

    /// The latest announcement this member holds of `who`'s removal:
    /// what tells a member out of the group from one merely not brought
    /// into a generation yet (a dual nomination's other side).
    fn removal_of(&self, who: MemberId) -> Option<crate::core::ids::MessageId> {
        self.causal
            .archive
            .values()
            .filter(|m| m.op == Some((OpKind::Remove, who)))
            .max_by_key(|m| m.hlc)
            .map(|m| m.id)
    }

    pub(super) fn hold_early(&mut self, item: Ordered) {
        if self.gens.early.len() >= EARLY {
            self.gens.early.remove(0);
        }
        self.gens.early.push(item);
    }

    /// A server of a generation the group has left sent us something: it
    /// is ignored, and the server is told the generation the group is at,
    /// once per server and stale generation.
    pub(super) fn stale_server(&mut self, server: ServerId, generation: u32, fx: &mut Effects) {
        let Some((current, by)) = self
            .coord
            .as_ref()
            .map(|c| (c.generation, c.server))
            .or(self.gens.fell_rank.map(|(g, s, _)| (g, ServerId(s.0))))
        else {
            return;
        };
        if !self.gens.told_stale.insert((server, generation)) {
            return;
        }
        fx.send(
            Peer::Server(server),
            Datagram::Superseded {
                group: self.cfg.group,
                generation: current,
                server: by,
            }
            .encode(),
        );
        fx.record(Event::StaleServer {
            server,
            generation,
            current,
        });
    }
}
