//! The receiving half of a member: replies from agents, fetched envelopes,
//! decryption, causal delivery to the application, and what received
//! messages say about membership.

use super::membership::Variant;
use super::message::{GroupMessage, Payload};
use super::outbound::Purpose;
use super::{Buffered, Member};
use crate::core::event::OpKind;
use crate::core::event::{Event, FallbackCause};
use crate::core::ids::{AgentId, MemberId, MessageId, Millis, Peer, ServerId};
use crate::core::io::Effects;
use crate::core::wire::{Datagram, Envelope, Stored};
use std::collections::{BTreeMap, BTreeSet};

impl Member {
    pub(super) fn on_agent_datagram(
        &mut self,
        now: Millis,
        agent: AgentId,
        d: Datagram,
        fx: &mut Effects,
    ) {
        match d {
            Datagram::Config { req, .. } => {
                self.complete(req);
            }
            Datagram::Accepted { req } => {
                if let Some(r) = self.complete(req)
                    && let Purpose::Envelope { env, to, .. } = r.purpose
                {
                    fx.record(Event::DeliveryAcked {
                        env,
                        to,
                        agent: r.agent,
                    });
                }
            }
            Datagram::Refused { req, reason } => self.refused(now, req, reason, fx),
            Datagram::Addresses {
                req,
                long_term,
                ephemeral,
            } => {
                let renew_at = now + self.renew_after();
                if let Some(r) = self.complete(req)
                    && let Some(a) = self.own.iter_mut().find(|a| a.agent == agent)
                {
                    // Replies can cross: only a newer long-term address
                    // (a renewal, or a wiped agent's new incarnation)
                    // replaces the one held, and restarts the renewal clock.
                    self.stores_lost.remove(&agent);
                    let replaced = long_term.address.token > a.long_term.address.token;
                    if replaced {
                        a.long_term = long_term;
                        self.due.renew.insert(agent, renew_at);
                    }
                    a.ephemeral = Some(ephemeral);
                    fx.record(Event::AddressRotated { agent });
                    if replaced {
                        self.readdress(now, fx);
                    }
                    // A rotation answered with a new long-term address
                    // came from a new incarnation of the agent: its store
                    // was lost, though it never said so (it registered
                    // this member afresh on the rotation).
                    if replaced && matches!(r.datagram, Datagram::RotateEphemeral { .. }) {
                        self.store_lost(now, agent, fx);
                    }
                }
            }
            Datagram::KeyClaimed {
                req,
                member,
                identity,
                one_time_key,
            } => {
                if self.complete(req).is_none() {
                    return;
                }
                let expected = self.contact(member).map(|c| c.curve25519);
                match one_time_key {
                    _ if self.sessions.has_session(member) => {}
                    Some(otk) if expected == Some(identity) => {
                        if self.sessions.start_outbound(member, identity, otk).is_ok() {
                            fx.record(Event::SessionCreated {
                                peer: member,
                                inbound: false,
                            });
                        }
                    }
                    // No key (or a key for the wrong identity): ask again
                    // later, at the member's next agent.
                    _ => {
                        let next = self
                            .contact(member)
                            .and_then(|c| c.agents.iter().map(|a| a.agent).find(|a| *a != agent));
                        if let Some(next) = next {
                            self.defer_request(now, next, Purpose::Claim { peer: member }, |req| {
                                Datagram::ClaimKey { req, member }
                            });
                        }
                        return;
                    }
                }
                self.flush_awaiting(now, member, fx);
            }
            Datagram::CurrentAddress { req, long_term, .. } => {
                self.on_current_address(now, req, long_term, fx);
            }
            Datagram::KeyPackageClaimed {
                req,
                member,
                key_package,
            } => {
                if self.complete(req).is_some() {
                    self.on_key_package(now, member, key_package, fx);
                }
            }
            Datagram::Batch { items, more } => {
                self.audit.fetched(now);
                for (seq, stored) in items {
                    let cursor = self.cursors.entry(agent).or_insert(0);
                    *cursor = (*cursor).max(seq);
                    match stored {
                        Stored::Envelope(envelope) => self.open(now, envelope, fx),
                        Stored::Ordered { item, .. } => self.on_ordered(now, item, fx),
                    }
                }
                self.look_for_withheld();
                if more {
                    let after = self.cursors.get(&agent).copied().unwrap_or(0);
                    fx.send(
                        Peer::Agent(agent),
                        Datagram::Fetch {
                            member: self.id,
                            after,
                        }
                        .encode(),
                    );
                }
                self.report_forks(fx);
            }
            Datagram::UnknownMember { .. } => {
                // The agent lost its store: register again, and start the
                // cursor over, since its counters restarted too. What it
                // held for this member and had not handed over is gone,
                // though its senders were told it arrived: ask them again.
                self.cursors.remove(&agent);
                self.reregister(now, agent, fx);
                if self.stores_lost.insert(agent) {
                    self.store_lost(now, agent, fx);
                }
            }
            other => self.reject(
                Peer::Agent(agent),
                format!(
                    "unexpected at a member: {:?}",
                    std::mem::discriminant(&other)
                ),
                fx,
            ),
        }
    }

    /// Decrypts one fetched envelope and hands its message to causal delivery.
    fn open(&mut self, now: Millis, envelope: Envelope, fx: &mut Effects) {
        let from = envelope.id.sender;
        if envelope.to != self.id {
            return self.reject(
                Peer::Member(from),
                format!("envelope {} is addressed to {}", envelope.id, envelope.to),
                fx,
            );
        }
        // Seen only once it opens: a forged or corrupted copy that arrives
        // first must not make the genuine one look like a duplicate.
        if self.causal.seen_envelopes.contains(&envelope.id) {
            return;
        }
        let fail = |fx: &mut Effects, error: String| {
            fx.record(Event::DecryptFailed {
                env: envelope.id,
                from,
                error,
            })
        };
        if !self.learn_contact(from) {
            return fail(fx, "sender has no verified contact card".into());
        }
        let curve = self.contact(from).map(|c| c.curve25519).unwrap_or_default();
        let opened =
            match self
                .sessions
                .decrypt(from, curve, envelope.message_type, &envelope.ciphertext)
            {
                Ok(o) => o,
                Err(e) => return fail(fx, e),
            };
        self.causal.seen_envelopes.insert(envelope.id);
        if opened.new_session {
            fx.record(Event::SessionCreated {
                peer: from,
                inbound: true,
            });
            self.flush_awaiting(now, from, fx);
            if self.sessions.unused_one_time_keys() < self.cfg.prekeys_per_agent {
                self.publish_prekeys(now, fx);
            }
        }
        let msg = match Payload::decode(&opened.plaintext) {
            // A group message over the pairwise channel while this member
            // still coordinates: its sender has fallen back. Its word is
            // checked with the server before it is followed.
            Some(Payload::Group(msg))
                if self.membership.contains(from)
                    && self.coord.as_ref().is_some_and(|c| {
                        c.sending && msg.fell_from == Some((c.generation, c.server))
                    }) =>
            {
                self.doubt(now, from, fx);
                msg
            }
            Some(Payload::Group(msg)) => msg,
            Some(Payload::Backfill { group, want, have }) if group == self.cfg.group => {
                return self.backfill(now, from, &want, Some(&have), fx);
            }
            Some(Payload::Resync { group, have }) if group == self.cfg.group => {
                return self.answer_resync(now, from, &have, fx);
            }
            Some(Payload::CatchUp {
                group,
                server,
                generation,
                have,
            }) if group == self.cfg.group => {
                return self.answer_catch_up(now, from, (server, generation), &have, fx);
            }
            Some(Payload::KeysWanted { group }) if group == self.cfg.group => {
                return self.restock_key_packages(now, from, fx);
            }
            Some(Payload::Tidings {
                group,
                membership,
                meta,
            }) if group == self.cfg.group => {
                return self.on_tidings(now, from, membership, meta, fx);
            }
            Some(Payload::Forwarded(msg)) if msg.group == self.cfg.group => {
                return self.forwarded(now, from, msg, fx);
            }
            Some(Payload::Welcome(invite)) if invite.group == self.cfg.group => {
                return self.on_invite(now, from, invite, fx);
            }
            Some(Payload::Audit(report)) if report.group == self.cfg.group => {
                return self.on_audit(now, from, report, fx);
            }
            Some(Payload::StillServed {
                group,
                server,
                generation,
            }) if group == self.cfg.group => {
                return self.still_served(now, from, (server, generation), fx);
            }
            Some(Payload::FellFrom {
                group,
                server,
                generation,
            }) if group == self.cfg.group => {
                if self.membership.contains(from)
                    && (self.coord.as_ref()).is_some_and(|c| {
                        c.sending && (c.server, c.generation) == (server, generation)
                    })
                {
                    self.doubt(now, from, fx);
                }
                return;
            }
            Some(Payload::Resent {
                server,
                generation,
                seq,
                msg,
            }) => {
                let stream = (server, generation);
                let ours = msg.id.sender == from && msg.group == self.cfg.group;
                if self.follows(stream) && ours {
                    return self.hold_resent(from, stream, msg);
                }
                if ours {
                    let id = msg.id;
                    self.accept(now, from, msg, None, from, fx);
                    if let Some(b) = self.causal.buffer.get_mut(&id) {
                        b.awaits = Some((server, generation, seq));
                    }
                    return;
                }
                msg
            }
            _ => return fail(fx, "malformed plaintext".into()),
        };
        if msg.id.sender != from || msg.group != self.cfg.group {
            return fail(
                fx,
                format!(
                    "message {} does not belong to this sender and group",
                    msg.id
                ),
            );
        }
        self.accept(now, from, msg, None, from, fx);
    }

    /// Whether this member still takes `stream`'s order (server,
    /// generation): coordinated there, and not removed from its MLS group.
    fn follows(&self, stream: (ServerId, u32)) -> bool {
        (self.coord.as_ref())
            .is_some_and(|c| c.sending && c.mls.is_active() && (c.server, c.generation) == stream)
    }

    /// Holds an own message `from` sent again at its fallback that the
    /// order this member follows carries too (see `Payload::Resent`). The
    /// oldest goes first beyond the cap: the order brings it anyway,
    /// unless the server withholds it, which brings the fallback.
    fn hold_resent(&mut self, from: MemberId, stream: (ServerId, u32), msg: GroupMessage) {
        const HELD: usize = 4096;
        if self.causal.delivered.contains_key(&msg.id) {
            return;
        }
        if self.gens.resent.len() >= HELD {
            self.gens.resent.remove(0);
        }
        self.gens.resent.push((from, stream, msg));
    }

    /// Hands causal delivery what was held for an order this member no
    /// longer takes (it fell back, or a commit removed it): most of it
    /// the order delivered meanwhile, and it is dropped as a duplicate.
    /// After every input, since more than the fallback ends following.
    pub(super) fn release_resent(&mut self, now: Millis, fx: &mut Effects) {
        if self.gens.resent.is_empty() {
            return;
        }
        let (keep, free): (Vec<_>, Vec<_>) = std::mem::take(&mut self.gens.resent)
            .into_iter()
            .partition(|(_, stream, _)| self.follows(*stream));
        self.gens.resent = keep;
        for (from, _, msg) in free {
            self.accept(now, from, msg, None, from, fx);
        }
    }

    /// Takes a message `via` forwarded in answer to a backfill request:
    /// only one addressed here, from another author, whose signature
    /// verifies against the author's contact card. `via` (which Olm
    /// authenticated) could otherwise make up anything in anyone's name.
    fn forwarded(&mut self, now: Millis, via: MemberId, msg: GroupMessage, fx: &mut Effects) {
        let author = msg.id.sender;
        let addressed = msg.recipients.contains(&self.id) && author != self.id;
        let signed = addressed && self.learn_contact(author) && {
            self.sessions.ops.signatures_verified += 1;
            let ipk = self.contact(author).map(|c| c.ipk).unwrap_or_default();
            msg.verify(&ipk)
        };
        if !signed {
            return self.reject(
                Peer::Member(via),
                format!(
                    "forwarded message {} is not {author}'s to this member",
                    msg.id
                ),
                fx,
            );
        }
        self.accept(now, author, msg, None, via, fx);
    }

    /// Takes an authenticated group message by `from` into causal
    /// delivery, whichever channel (Olm from its author, an ordered MLS
    /// message, or forwarded by `via`) it came by. It is kept as signed,
    /// for answering backfill requests, and waits only for the parents
    /// this member was sent.
    pub(super) fn accept(
        &mut self,
        now: Millis,
        from: MemberId,
        mut msg: GroupMessage,
        slot: Option<(u32, u64)>,
        via: MemberId,
        fx: &mut Effects,
    ) {
        self.clock.observe(self.wall(now), msg.hlc);
        // Told over the pairwise channels that it was removed, a member in
        // a generation leaves it: it can only be one it formed or joined
        // after missing its removal, which nobody else follows.
        if self.coord.is_some() && slot.is_none() && msg.op == Some((OpKind::Remove, self.id)) {
            let reason = format!("removed from the group in {}", msg.id);
            let why = super::coordinated::Why::new(FallbackCause::Removed, reason);
            self.fall_back(now, why, false, fx);
            // Applied here, not at delivery: the announcement may be one it
            // delivered before it formed or joined the generation, which
            // founded its set afresh.
            let before = self.in_group();
            self.membership.remove(self.id, msg.hlc);
            if before != self.in_group() {
                fx.record(Event::MembershipChanged {
                    view: self.view(),
                    in_group: self.in_group(),
                    cause: Some(msg.id),
                });
            }
        }
        // A member that still writes to the group after its removal missed
        // it (offline, or able to send but not receive): it is handed the
        // announcement, which was addressed to it.
        if from != self.id && self.in_group() && !self.membership.contains(from) {
            self.tell_removed(now, from, fx);
        }
        if let Some(c) = self.particle.others.get_mut(&from) {
            let c = std::sync::Arc::make_mut(c);
            // Messages can arrive out of order: keep the newest address of
            // each kind (a wiped agent's new incarnation issues larger tokens).
            for (long_term, ephemeral) in &msg.contact {
                let Some(a) = c
                    .agents
                    .iter_mut()
                    .find(|a| a.agent == long_term.address.agent)
                else {
                    continue;
                };
                if long_term.address.token > a.long_term.address.token {
                    a.long_term = *long_term;
                }
                if let Some(e) = ephemeral.filter(|e| {
                    a.ephemeral
                        .is_none_or(|cur| e.valid_until > cur.valid_until)
                }) {
                    a.ephemeral = Some(e);
                }
            }
        }
        if self.causal.delivered.contains_key(&msg.id) {
            return;
        }
        if let Some(b) = self.causal.buffer.get_mut(&msg.id) {
            // Already held, having come over Olm first: the server's slot
            // still holds back its generation's later slots, or one of them
            // overtook it while it waited for a parent
            // (`coordinated-left-order-holds-parent` seed 172).
            if b.slot.is_none() && slot.is_some() {
                b.slot = slot;
            }
            // Its slot reached, a resent copy may go now.
            return self.drain(now, fx);
        }
        // A parent that something here was already waiting (and asked) for:
        // if it waits for parents of its own, those cannot be in flight
        // either, so they are asked for at once rather than after another
        // full timeout (a chain of k missing messages then costs k round
        // trips, not k timeouts).
        let asked_for = self
            .causal
            .buffer
            .values()
            .any(|b| b.asked_at.is_some() && b.msg.parents.contains(&msg.id));
        let since = if asked_for {
            now.saturating_sub(self.cfg.parent_timeout_ms)
        } else {
            now
        };
        self.keep(msg.clone());
        msg.parents = msg.parents_for(self.id);
        msg.unsent.clear();
        self.causal.buffer.insert(
            msg.id,
            Buffered {
                msg,
                slot,
                since,
                asked_at: None,
                asks: 0,
                via,
                awaits: None,
            },
        );
        self.drain(now, fx);
    }

    /// Delivers every buffered message whose parents have all been
    /// delivered, until none is left that can be. A server's slot holds
    /// back the later slots of its generation only while this member
    /// follows that generation: once it left, what it holds of it is
    /// delivered in causal order only, as the order checker judges it. A
    /// child the server ordered before its parent (the parent came over
    /// Olm first) otherwise held the parent back for good, and everything
    /// after it (`coordinated-left-order-holds-parent`).
    pub(in crate::core::member) fn drain(&mut self, now: Millis, fx: &mut Effects) {
        let following = self.coord.as_ref().map(|c| c.generation);
        let order = (self.coord.as_ref()).map(|c| (c.server, c.generation, c.next_seq));
        let reached = |awaits: Option<(ServerId, u32, u64)>| {
            awaits.is_none_or(|(s, g, q)| {
                order.is_none_or(|(os, og, next)| (os, og) != (s, g) || q < next)
            })
        };
        loop {
            let ready = self
                .causal
                .buffer
                .iter()
                .find(|(_, b)| {
                    b.msg
                        .parents
                        .iter()
                        .all(|p| self.causal.delivered.contains_key(p))
                        && reached(b.awaits)
                        && b.slot.is_none_or(|(g, s)| {
                            following != Some(g)
                                || !self
                                    .causal
                                    .buffer
                                    .values()
                                    .any(|o| o.slot.is_some_and(|(og, os)| og == g && os < s))
                        })
                })
                .map(|(id, _)| *id);
            let Some(id) = ready else { break };
            let Some(b) = self.causal.buffer.remove(&id) else {
                break;
            };
            self.deliver(now, b.msg, b.slot, fx);
        }
    }

    /// `slot` is where a server placed it, if it came in an order.
    fn deliver(
        &mut self,
        now: Millis,
        msg: GroupMessage,
        slot: Option<(u32, u64)>,
        fx: &mut Effects,
    ) {
        fx.record(Event::Delivered { msg: msg.id });
        self.stats.delivered += 1;
        for m in &msg.recipients {
            self.learn_contact(*m);
        }
        let recipients: BTreeSet<MemberId> = msg.recipients.iter().copied().collect();
        // A change made by MLS commit is announced without an LWW set (the
        // roster was the membership): a member in lightweight mode applies
        // it as its author stamped it. Applied only by the removed member
        // while it was still in, the stamp never reached a member already
        // out: a removal the next generation's nominator committed again
        // later than an add it had not seen lost to that add there, won
        // everywhere else, and the removed member alone believed itself in
        // (`coordinated-removed-member-misses-later-removal`, as first found).
        if let (None, None, Some((kind, target)), false) = (
            &self.coord,
            &msg.membership,
            msg.op,
            self.cfg.variant == Variant::RecipientList,
        ) {
            let before = (self.view(), self.in_group());
            match kind {
                OpKind::Remove => self.membership.remove(target, msg.hlc),
                OpKind::Add => self.membership.add(target, msg.hlc),
            }
            if (self.view(), self.in_group()) != before {
                fx.record(Event::MembershipChanged {
                    view: self.view(),
                    in_group: self.in_group(),
                    cause: Some(msg.id),
                });
            }
        }
        // In a coordinated group the MLS roster alone is the membership,
        // and the ledger keeps what the roster may not know.
        if self.coord.is_some() {
            let (carried, op) = (msg.membership.as_deref(), msg.op);
            self.ledger_learn(now, carried, op, msg.hlc, fx);
        }
        let was_in = self.in_group();
        // Who a message brings into the view matters only when this member
        // holds a name the message lacks (see `pass_on`): the view is
        // copied only then, not on every delivery of a large group.
        let lacks_name = self.particle.meta.is_some() && msg.meta != self.particle.meta;
        let seen = lacks_name.then(|| self.membership.view());
        let mut news = false;
        // A nominator still forming its generation holds the lightweight
        // set as its view until its first commit is ordered: what it
        // learns meanwhile changes that view too, or a removal made then
        // stayed in it for good when nobody joined
        // (`coordinated-forming-nominator-view-misses-removal`).
        let forming = self.coord.as_ref().is_none_or(|c| !c.sending);
        if forming
            && self
                .membership
                .on_message(&recipients, msg.membership.as_deref())
        {
            news = true;
            fx.record(Event::MembershipChanged {
                view: self.view(),
                in_group: self.in_group(),
                cause: Some(msg.id),
            });
            // Added by a member that fell back from a generation: the
            // takeover will claim a key package of this member, and the
            // ones it published may be gone (claims retried at other
            // agents under loss each take one;
            // `coordinated-add-before-takeover` 32).
            if !was_in && self.in_group() && msg.fell_from.is_some() {
                self.publish_key_packages(now, self.cfg.key_packages_per_agent, fx);
            }
        }
        let renamed = msg
            .meta
            .clone()
            .is_some_and(|meta| self.apply_meta(meta, Some(msg.id), fx));
        news |= renamed;
        // A rename that reached this member outside its generation's order
        // (drained from an order it left, resent or handed over Olm) did
        // not reach that generation by it: the members it addressed may
        // have joined here instead, before this member learnt of it, with
        // the old name in their Welcome, and in a silent group no later
        // message carries the new one (`coordinated-rename-outside-order`).
        // One message in its own order tells them all. It falls to the
        // generation's nominator, which wrote the Welcomes, or to anyone
        // when the rename's author is out of the generation: every member
        // that drained the rename after a takeover otherwise wrote one
        // (`coordinated-rename-across-takeover`).
        let ordered_here =
            slot.is_some_and(|(g, _)| self.coord.as_ref().is_some_and(|c| c.generation == g));
        let me = self.id;
        let due = (self.coord.as_ref())
            .is_some_and(|c| c.nominator == me || !c.roster().contains(&msg.id.sender));
        if renamed && due && !ordered_here && self.in_group() {
            self.send_group(now, None, None, fx);
        } else {
            let gained: BTreeSet<MemberId> = seen
                .map(|seen| self.membership.view().difference(&seen).copied().collect())
                .unwrap_or_default();
            self.pass_on(now, &msg, news, &gained, fx);
        }
        if was_in && !self.in_group() && msg.op == Some((OpKind::Remove, self.id)) {
            self.pass_on_own_removal(now, &msg, fx);
        }
        self.mark_delivered(msg.id, &msg.parents, msg.recipients);
    }

    /// Reports every mutual removal not reported yet: the fork the
    /// membership rule cannot merge into what either side asked for.
    pub(super) fn report_forks(&mut self, fx: &mut Effects) {
        for (x, y) in self.membership.mutual_removals() {
            if !self.forks_reported.insert((x, y)) {
                continue;
            }
            let other_side = if self.id == x {
                vec![y]
            } else if self.id == y {
                vec![x]
            } else {
                vec![x, y]
            };
            fx.record(Event::ForkDetected {
                other_side,
                evidence: format!("{x} and {y} removed each other while apart"),
            });
        }
    }

    /// How many more members of the view each repeated ask for a missing
    /// parent goes to.
    const ASK_WIDER: usize = 3;

    /// Reports messages that have waited `parent_timeout` for a parent,
    /// once, and asks for the parents again every `parent_timeout` until
    /// they arrive: of their authors, and of the member that handed over
    /// the waiting message (its author, or whoever forwarded it), who
    /// delivered the parent before naming it or passing it on. An author
    /// whose device was wiped can no longer answer; the member that
    /// followed its message still can.
    pub(super) fn report_missing_parents(&mut self, now: Millis, fx: &mut Effects) {
        let timeout = self.cfg.parent_timeout_ms;
        let mut ask: BTreeMap<MemberId, BTreeSet<MessageId>> = BTreeMap::new();
        let held: BTreeSet<MessageId> = self.causal.buffer.keys().copied().collect();
        let me = self.id;
        let others: Vec<MemberId> = (self.membership.view().into_iter())
            .filter(|m| *m != me)
            .collect();
        for (id, b) in self.causal.buffer.iter_mut() {
            if b.asked_at.unwrap_or(b.since) + timeout > now {
                continue;
            }
            let missing: Vec<_> = b
                .msg
                .parents
                .iter()
                .copied()
                .filter(|p| !self.causal.delivered.contains_key(p))
                .collect();
            if b.asked_at.is_none() {
                fx.record(Event::ParentMissing {
                    msg: *id,
                    missing: missing.clone(),
                });
            }
            b.asked_at = Some(now);
            b.asks = b.asks.saturating_add(1);
            // Asked again, the ones that should hold it did not answer:
            // its author may have been wiped with it. Every member it was
            // delivered to holds it too, so a few more of the view are
            // asked each round, in turn (a parent its wiped author had
            // sent the others before blocked this member for good:
            // `coordinated-wiped-author-parent-held-by-others`).
            let extra: Vec<MemberId> = if b.asks > 1 && !others.is_empty() {
                let start = (b.asks as usize - 2) * Self::ASK_WIDER;
                (0..Self::ASK_WIDER.min(others.len()))
                    .map(|k| others[(start + k) % others.len()])
                    .collect()
            } else {
                Vec::new()
            };
            // A parent that is here but waits itself is not asked for: its
            // own missing parents are.
            for p in missing.into_iter().filter(|p| !held.contains(p)) {
                for peer in [p.sender, id.sender, b.via]
                    .into_iter()
                    .chain(extra.iter().copied())
                {
                    ask.entry(peer).or_default().insert(p);
                }
            }
        }
        if !ask.is_empty() {
            self.ask_for(now, ask, fx);
        }
    }
}
