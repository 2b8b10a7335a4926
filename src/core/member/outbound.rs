//! The sending half of a member: group messages become one Olm envelope per
//! recipient, delivered to the recipient's mailboxes; every request to an
//! agent is retried until answered.

use super::membership::Variant;
use super::message::{GroupMessage, Payload, body_for};
use super::particle::ServiceAgent;
use super::{ARCHIVE, MAX_PARENTS, Member, RECENT};
use crate::core::event::Event;
use crate::core::event::OpKind;
use crate::core::ids::{AgentId, EnvelopeId, MemberId, MessageId, Millis, Peer, ServerId};
use crate::core::io::Effects;
use crate::core::wire::{Address, Datagram, Envelope, Refusal, WELL_KNOWN};
use std::collections::BTreeSet;

/// What a request is for, so that its reply (or its failure) is handled.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Purpose {
    Envelope {
        env: EnvelopeId,
        to: MemberId,
    },
    Claim {
        peer: MemberId,
    },
    /// An MLS key package of `peer`, to add it to a coordinated group.
    ClaimKeyPackage {
        peer: MemberId,
    },
    Keys,
    Addresses,
    Config,
    /// `peer`'s newest long-term address, at the agent of the request
    /// (see `lookup.rs`).
    Lookup {
        peer: MemberId,
    },
}

#[derive(Clone, Debug)]
pub(super) struct Request {
    pub agent: AgentId,
    pub datagram: Datagram,
    pub attempts: u32,
    pub next_at: Millis,
    pub purpose: Purpose,
}

/// Retransmission backs off exponentially up to this many retry periods.
const MAX_BACKOFF: u64 = 8;

/// Where to deliver to a member at one of its agents: its ephemeral
/// address while that is valid, otherwise its newest long-term one. The
/// ephemeral one is preferred because it is the unlinkable one; the
/// long-term one is the recovery path.
fn address_at(a: &ServiceAgent, now: Millis) -> Address {
    match a.ephemeral.filter(|g| g.valid_until > now) {
        Some(g) => g.address,
        None => a.long_term.address,
    }
}

/// How long after its `attempts`-th try a request is tried again.
pub(super) fn backoff(retry_ms: Millis, attempts: u32) -> Millis {
    retry_ms * u64::from(attempts).min(MAX_BACKOFF)
}

impl Member {
    pub(super) fn send_request(
        &mut self,
        now: Millis,
        agent: AgentId,
        purpose: Purpose,
        build: impl FnOnce(u64) -> Datagram,
        fx: &mut Effects,
    ) {
        let req = self.next_req();
        let datagram = build(req);
        fx.send(Peer::Agent(agent), datagram.encode());
        self.out.requests.insert(
            req,
            Request {
                agent,
                datagram,
                attempts: 1,
                next_at: now + self.cfg.retry_ms,
                purpose,
            },
        );
    }

    /// Like [`Member::send_request`], but first sent after `retry`: for a
    /// question just answered "not yet", which asked again at once went
    /// round the peer's agents as fast as the network carried it (a
    /// livelock in a zero-latency test, once a member whose mailboxes were
    /// all wiped asked its peers to send again).
    pub(super) fn defer_request(
        &mut self,
        now: Millis,
        agent: AgentId,
        purpose: Purpose,
        build: impl FnOnce(u64) -> Datagram,
    ) {
        let req = self.next_req();
        let request = Request {
            agent,
            datagram: build(req),
            attempts: 0,
            next_at: now + self.cfg.retry_ms,
            purpose,
        };
        self.out.requests.insert(req, request);
    }

    pub(super) fn retry_requests(&mut self, now: Millis, fx: &mut Effects) {
        let due: Vec<u64> = self
            .out
            .requests
            .iter()
            .filter(|(_, r)| r.next_at <= now)
            .map(|(k, _)| *k)
            .collect();
        for req in due {
            let Some(r) = self.out.requests.get_mut(&req) else {
                continue;
            };
            if r.attempts >= self.cfg.max_attempts {
                let r = self.out.requests.remove(&req).expect("present");
                self.give_up(r, fx);
                continue;
            }
            r.attempts += 1;
            r.next_at = now + backoff(self.cfg.retry_ms, r.attempts);
            // A key claim that gets no answer tries the peer's next agent.
            if let Purpose::Claim { peer } | Purpose::ClaimKeyPackage { peer } = r.purpose {
                let agents: Vec<AgentId> = self
                    .contact(peer)
                    .map(|c| c.agents.iter().map(|a| a.agent).collect())
                    .unwrap_or_default();
                if !agents.is_empty() {
                    let r = self.out.requests.get_mut(&req).expect("present");
                    r.agent = agents[r.attempts as usize % agents.len()];
                }
            }
            let r = &self.out.requests[&req];
            fx.send(Peer::Agent(r.agent), r.datagram.encode());
        }
    }

    fn give_up(&mut self, r: Request, fx: &mut Effects) {
        match r.purpose {
            Purpose::Envelope { env, to, .. } => fx.record(Event::DeliveryAbandoned {
                env,
                to,
                agent: r.agent,
            }),
            Purpose::Lookup { peer } => self.lookup_failed(peer, r.agent, fx),
            _ => {}
        }
    }

    /// Handles the reply to request `req`; returns the request if it was
    /// still outstanding.
    pub(super) fn complete(&mut self, req: u64) -> Option<Request> {
        self.out.requests.remove(&req)
    }

    pub(super) fn publish_prekeys(&mut self, now: Millis, fx: &mut Effects) {
        let agents: Vec<AgentId> = self.own.iter().map(|a| a.agent).collect();
        self.publish_prekeys_to(now, &agents, fx);
    }

    fn publish_prekeys_to(&mut self, now: Millis, agents: &[AgentId], fx: &mut Effects) {
        let (keys, fallback) = self
            .sessions
            .new_prekeys(self.cfg.prekeys_per_agent * agents.len());
        let identity = self.curve25519();
        let member = self.id;
        // Each agent gets its own keys, so that two senders claiming at two
        // agents never receive the same one-time key.
        for (i, agent) in agents.iter().enumerate() {
            let one_time_keys: Vec<[u8; 32]> =
                keys.iter().skip(i).step_by(agents.len()).copied().collect();
            self.send_request(
                now,
                *agent,
                Purpose::Keys,
                |req| Datagram::PublishKeys {
                    req,
                    member,
                    identity,
                    one_time_keys,
                    fallback_key: fallback,
                },
                fx,
            );
        }
    }

    pub(super) fn get_configs(&mut self, now: Millis, fx: &mut Effects) {
        for agent in self.own.iter().map(|a| a.agent).collect::<Vec<_>>() {
            self.send_request(
                now,
                agent,
                Purpose::Config,
                |req| Datagram::GetConfig {
                    req,
                    path: WELL_KNOWN.into(),
                },
                fx,
            );
        }
    }

    pub(super) fn rotate_addresses(&mut self, now: Millis, fx: &mut Effects) {
        let member = self.id;
        for agent in self.own.iter().map(|a| a.agent).collect::<Vec<_>>() {
            self.send_request(
                now,
                agent,
                Purpose::Addresses,
                |req| Datagram::RotateEphemeral { req, member },
                fx,
            );
        }
    }

    /// Half the guarantee: a member that renews on time always holds a
    /// long-term address guaranteed for at least half a TTL more, so an
    /// outage of up to half a TTL (starting at any moment) never leaves
    /// senders without a valid address, and there is half a TTL for a
    /// renewal to get through loss and for peers to hear of it. The cost
    /// is one request per agent per half TTL.
    pub(super) fn renew_after(&self) -> Millis {
        (self.cfg.long_term_ttl_ms / 2).max(1)
    }

    /// Renews the long-term address at every own agent where it is due.
    /// The new one is announced in the `contact` of every message sent
    /// from then on, as ephemeral ones are; the agent keeps honouring the
    /// old one meanwhile (see `core/mailbox.rs`).
    pub(super) fn renew_long_term(&mut self, now: Millis, fx: &mut Effects) {
        let member = self.id;
        let due: Vec<AgentId> = self
            .due
            .renew
            .iter()
            .filter(|(a, at)| **at <= now && !self.renewing(**a))
            .map(|(a, _)| *a)
            .collect();
        for agent in due {
            self.send_request(
                now,
                agent,
                Purpose::Addresses,
                |req| Datagram::RenewLongTerm { req, member },
                fx,
            );
        }
    }

    /// A renewal in flight is retried by the request machinery; a new one
    /// is due again only once that one is answered or given up.
    fn renewing(&self, agent: AgentId) -> bool {
        self.out
            .requests
            .values()
            .any(|r| r.agent == agent && matches!(r.datagram, Datagram::RenewLongTerm { .. }))
    }

    pub(super) fn renewals_wake(&self) -> impl Iterator<Item = Millis> + '_ {
        self.due
            .renew
            .iter()
            .filter(|(a, _)| !self.renewing(**a))
            .map(|(_, at)| *at)
    }

    pub(super) fn reregister(&mut self, now: Millis, agent: AgentId, fx: &mut Effects) {
        let member = self.id;
        let pending = self
            .out
            .requests
            .values()
            .any(|r| r.agent == agent && r.purpose == Purpose::Addresses);
        if !pending {
            self.send_request(
                now,
                agent,
                Purpose::Addresses,
                |req| Datagram::Register { req, member },
                fx,
            );
        }
    }

    /// `agent` lost its store: the keys others claim there to reach this
    /// member (one-time prekeys, MLS key packages) went with it, and what
    /// it held for this member. The keys are published there again (a
    /// member whose key packages were gone could never be added to a
    /// generation: `coordinated-wiped-mailboxes-key-packages`), and the
    /// peers are asked to send again what they wrote to it.
    pub(super) fn store_lost(&mut self, now: Millis, agent: AgentId, fx: &mut Effects) {
        self.publish_prekeys_to(now, &[agent], fx);
        self.publish_key_packages_to(now, &[agent], self.cfg.key_packages_per_agent, fx);
        self.resync(now, fx);
    }

    pub(super) fn fetch_all(&mut self, fx: &mut Effects) {
        for a in &self.own {
            let after = self.cursors.get(&a.agent).copied().unwrap_or(0);
            fx.send(
                Peer::Agent(a.agent),
                Datagram::Fetch {
                    member: self.id,
                    after,
                }
                .encode(),
            );
        }
    }

    /// Sends a group message to the current membership (plus the removed
    /// member, under LWW, so that it learns it was removed).
    pub(super) fn send_group(
        &mut self,
        now: Millis,
        op: Option<(OpKind, MemberId)>,
        reply_to: Option<MessageId>,
        fx: &mut Effects,
    ) {
        let id = MessageId {
            sender: self.id,
            seq: self.out.next_msg,
        };
        self.out.next_msg += 1;
        let hlc = self.clock.tick(self.wall(now));
        let stamp = self.op_stamp(now, hlc);
        self.ledger_own_op(op, hlc);
        if let Some((kind, target)) = op {
            match kind {
                OpKind::Add => self.membership.add(target, stamp),
                OpKind::Remove => self.membership.remove(target, stamp),
            }
            fx.record(Event::MembershipOp {
                msg: id,
                op: kind,
                target,
            });
            fx.record(Event::MembershipChanged {
                view: self.view(),
                in_group: self.in_group(),
                cause: Some(id),
            });
        }
        let mut recipients = self.membership.view();
        // A member the ledger counts out is only still in the roster until
        // the commit that removes it is ordered (`coordinated/ledger.rs`):
        // nothing written meanwhile is for it.
        recipients.retain(|r| !self.ledger_removed(*r));
        // Under LWW the removed member is sent its removal, in either mode:
        // in a coordinated group the server no longer fans out to it, but
        // a member can hand it the announcement over Olm (see `on_invite`).
        if let (Some((OpKind::Remove, target)), false) =
            (op, self.cfg.variant == Variant::RecipientList)
        {
            recipients.insert(target);
        }
        let recipients: Vec<MemberId> = recipients.into_iter().collect();
        let parents = self.frontier_for(&recipients);
        let submitted = self.coord.as_ref().is_some_and(|c| c.sending);
        fx.record(Event::MessageSent {
            msg: id,
            recipients: recipients.clone(),
            parents: parents.clone(),
            control: false,
            submitted,
        });
        self.stats.messages_sent += 1;
        let mut message = GroupMessage {
            group: self.cfg.group,
            id,
            recipients: recipients.clone(),
            parents: parents.clone(),
            unsent: self.unsent(&recipients, &parents),
            reply_to,
            hlc,
            op,
            membership: self.membership.carried().map(std::sync::Arc::new),
            contact: self
                .own
                .iter()
                .map(|a| (a.long_term, a.ephemeral))
                .collect(),
            fell_from: self
                .gens
                .fell_rank
                .map(|(generation, server, _)| (generation, ServerId(server.0))),
            meta: self.particle.meta.clone(),
            body: body_for(id),
            signature: Vec::new(),
        };
        message.signature = self.sessions.sign(&message.signed_bytes());
        let me = self.id;
        if submitted {
            self.submit(now, &message, fx);
            // The server fans out to the roster only: a member the roster
            // no longer holds gets its removal over Olm, or one already out
            // (removed earlier, refusing the Welcome) never learnt that a
            // later removal beat a concurrent add of it, and believed
            // itself in (`coordinated-recommitted-removal-undetected-fork`, seed 262).
            if let Some((OpKind::Remove, target)) = op
                && recipients.contains(&target)
                && target != me
                && !(self.coord.as_ref()).is_some_and(|c| c.roster().contains(&target))
            {
                self.seal_message(now, target, &message, fx);
            }
        } else {
            for r in recipients.iter().copied().filter(|r| *r != me) {
                self.seal_message(now, r, &message, fx);
            }
        }
        self.mark_delivered(id, &parents, recipients);
        self.keep(message);
    }

    /// The parents a new message names: the causal frontier and, for a
    /// recipient never sent one of its heads, the nearest ancestors of that
    /// head it was sent. A recipient does not wait for a parent it was
    /// never sent (`unsent`), so without them it lost sight of what came
    /// before: a message it was sent, held by the others and lost at it,
    /// was named only by a message addressed to the others, and nothing
    /// ever told it to ask (explore of `coordinated-adversity`, base seed
    /// 37: `coordinated-ancestor-behind-unsent-parent`).
    fn frontier_for(&self, recipients: &[MemberId]) -> Vec<MessageId> {
        /// Ancestors looked at per head: the walk ends at what a recipient
        /// was sent, and a recipient sent nothing near the frontier (one
        /// just added) is owed nothing older either.
        const WALK: usize = 64;
        let heads = self.causal.heads.to_vec();
        let mut out = heads.clone();
        let sent_to = |id: &MessageId| -> BTreeSet<MemberId> {
            let mut to: BTreeSet<MemberId> = (self.causal.delivered.get(id))
                .map(|to| to.iter().copied().collect())
                .unwrap_or_default();
            to.insert(id.sender);
            to
        };
        for head in &heads {
            let had = sent_to(head);
            let unsent: BTreeSet<MemberId> = (recipients.iter().copied())
                .filter(|r| !had.contains(r))
                .collect();
            if unsent.is_empty() {
                continue;
            }
            // Each branch carries the recipients still looking for an
            // ancestor they were sent; it ends where none is left.
            let mut stack: Vec<(MessageId, BTreeSet<MemberId>)> = (self.causal.archive.get(head))
                .map(|m| {
                    m.parents
                        .iter()
                        .rev()
                        .map(|p| (*p, unsent.clone()))
                        .collect()
                })
                .unwrap_or_default();
            let mut visits = 0;
            while let Some((id, looking)) = stack.pop() {
                visits += 1;
                if visits > WALK {
                    break;
                }
                let to = sent_to(&id);
                let found = looking.iter().any(|r| to.contains(r));
                if found && !out.contains(&id) {
                    out.push(id);
                }
                let still: BTreeSet<MemberId> = looking.difference(&to).copied().collect();
                if let (false, Some(m)) = (still.is_empty(), self.causal.archive.get(&id)) {
                    stack.extend(m.parents.iter().rev().map(|p| (*p, still.clone())));
                }
            }
        }
        out
    }

    /// The parents that some recipients were never sent, with those
    /// recipients (a parent's author always had it). Recipients do not
    /// wait for them.
    fn unsent(
        &self,
        recipients: &[MemberId],
        parents: &[MessageId],
    ) -> Vec<(MessageId, Vec<MemberId>)> {
        parents
            .iter()
            .map(|p| {
                let to = self.causal.delivered.get(p);
                let not_sent = recipients
                    .iter()
                    .filter(|r| **r != p.sender && to.is_none_or(|to| !to.contains(r)))
                    .copied()
                    .collect::<Vec<_>>();
                (*p, not_sent)
            })
            .filter(|(_, not_sent)| !not_sent.is_empty())
            .collect()
    }

    /// Encrypts an own signed message for recipient `r`.
    pub(super) fn seal_message(
        &mut self,
        now: Millis,
        r: MemberId,
        message: &GroupMessage,
        fx: &mut Effects,
    ) {
        let plaintext = Payload::Group(message.clone()).encode();
        self.seal(now, r, Some(message.id), plaintext, fx);
    }

    /// Keeps a group message as its author signed it (own or received), so
    /// that it can be sent again to a recipient that misses it. The oldest
    /// kept goes first beyond the cap.
    ///
    /// Under `lww` every message carries its sender's whole set, so an
    /// archive of n-member messages grew as messages × n, and a group's
    /// as messages × n² (a 150-member fallback held 800 MB). Messages that
    /// carry the set the last one did share its copy.
    pub(super) fn keep(&mut self, mut message: GroupMessage) {
        if let Some(set) = message.membership.as_mut() {
            match &self.causal.last_kept_set {
                Some(last) if **last == **set => *set = last.clone(),
                _ => self.causal.last_kept_set = Some(set.clone()),
            }
        }
        let id = message.id;
        if self.causal.archive.insert(id, message).is_none() {
            self.causal.archived.push_back(id);
        }
        while self.causal.archived.len() > ARCHIVE {
            if let Some(old) = self.causal.archived.pop_front() {
                self.causal.archive.remove(&old);
            }
        }
    }

    /// Records a message as delivered here and moves the causal frontier:
    /// the message replaces the parents it names. Beyond the cap the
    /// longest-standing head goes (not the smallest id, which would always
    /// drop the same senders and hide their lost messages from everyone).
    pub(super) fn mark_delivered(
        &mut self,
        id: MessageId,
        parents: &[MessageId],
        recipients: Vec<MemberId>,
    ) {
        self.causal.delivered.insert(id, recipients);
        self.causal.heads.retain(|h| !parents.contains(h));
        self.causal.heads.push(id);
        if self.causal.heads.len() > MAX_PARENTS {
            self.causal.heads.remove(0);
        }
        self.causal.recent.push(id);
        if self.causal.recent.len() > RECENT {
            self.causal.recent.remove(0);
        }
    }

    /// Encrypts for one recipient, or parks the plaintext until a session
    /// exists and claims a one-time key to start one.
    pub(super) fn seal(
        &mut self,
        now: Millis,
        to: MemberId,
        msg: Option<MessageId>,
        plaintext: Vec<u8>,
        fx: &mut Effects,
    ) {
        if !self.learn_contact(to) {
            let what = msg
                .map(|m| m.to_string())
                .unwrap_or_else(|| "a backfill request".into());
            fx.record(Event::CommandSkipped {
                command: format!("deliver {what} to {to}"),
                reason: "no verified contact card".into(),
            });
            return;
        }
        if self.sessions.has_session(to) {
            return self.encrypt_and_deliver(now, to, msg, &plaintext, fx);
        }
        self.out
            .awaiting_session
            .entry(to)
            .or_default()
            .push((msg, plaintext));
        let claiming = self
            .out
            .requests
            .values()
            .any(|r| r.purpose == Purpose::Claim { peer: to });
        if !claiming {
            let agent = self
                .contact(to)
                .and_then(|c| c.agents.first())
                .map(|a| a.agent);
            if let Some(agent) = agent {
                self.send_request(
                    now,
                    agent,
                    Purpose::Claim { peer: to },
                    |req| Datagram::ClaimKey { req, member: to },
                    fx,
                );
            }
        }
    }

    /// Sends everything parked for `peer` now that a session exists.
    pub(super) fn flush_awaiting(&mut self, now: Millis, peer: MemberId, fx: &mut Effects) {
        for (msg, plaintext) in self.out.awaiting_session.remove(&peer).unwrap_or_default() {
            self.encrypt_and_deliver(now, peer, msg, &plaintext, fx);
        }
    }

    /// Encrypts and delivers; `msg` is the group message carried, if any
    /// (a backfill request carries none and is not traced as an envelope
    /// of a message).
    fn encrypt_and_deliver(
        &mut self,
        now: Millis,
        to: MemberId,
        msg: Option<MessageId>,
        plaintext: &[u8],
        fx: &mut Effects,
    ) {
        let Some((message_type, ciphertext)) = self.sessions.encrypt(to, plaintext) else {
            return;
        };
        let env = EnvelopeId {
            sender: self.id,
            seq: self.out.next_env,
        };
        self.out.next_env += 1;
        let envelope = Envelope {
            id: env,
            to,
            message_type,
            ciphertext,
        };
        let bytes = envelope.ciphertext.len();
        if let Some(msg) = msg {
            fx.record(Event::EnvelopeSent {
                env,
                msg,
                to,
                prekey: message_type == 0,
                bytes,
            });
        }
        let wall = self.wall(now);
        let Some(contact) = self.contact(to) else {
            return;
        };
        let take = if self.cfg.deliver_to_all {
            contact.agents.len()
        } else {
            1
        };
        let targets: Vec<(AgentId, Address)> = contact
            .agents
            .iter()
            .take(take)
            .map(|a| (a.agent, address_at(a, wall)))
            .collect();
        for (agent, address) in targets {
            let envelope = envelope.clone();
            self.send_request(
                now,
                agent,
                Purpose::Envelope { env, to },
                |req| Datagram::Deliver {
                    req,
                    address,
                    envelope,
                },
                fx,
            );
        }
    }

    /// An agent refused a delivery: try the best address at that agent
    /// other than the refused one (a newer one may have been announced
    /// since the envelope left, or the ephemeral one expired and the
    /// long-term one remains), or give up on that mailbox.
    pub(super) fn refused(&mut self, now: Millis, req: u64, reason: Refusal, fx: &mut Effects) {
        let wall = self.wall(now);
        let Some(mut r) = self.complete(req) else {
            return;
        };
        let Purpose::Envelope { env, to } = r.purpose else {
            return;
        };
        fx.record(Event::DeliveryRefused {
            env,
            to,
            agent: r.agent,
            reason: format!("{reason:?}"),
        });
        let agent = r.agent;
        let next = match &r.datagram {
            Datagram::Deliver { address, .. } => {
                let refused = *address;
                self.particle.others.get_mut(&to).and_then(|c| {
                    let c = std::sync::Arc::make_mut(c);
                    let a = c.agents.iter_mut().find(|a| a.agent == agent)?;
                    if a.ephemeral.is_some_and(|g| g.address == refused) {
                        a.ephemeral = None;
                    }
                    Some(address_at(a, wall)).filter(|next| *next != refused)
                })
            }
            _ => None,
        };
        // Refused at every address the card names: the card is stale (the
        // agent lost its store, or the member stopped renewing).
        let stale = matches!(
            reason,
            Refusal::UnknownAddress | Refusal::AddressExpired { .. }
        ) && self.contact(to).is_some();
        match (next, &mut r.datagram) {
            (Some(address), Datagram::Deliver { address: old, .. }) => {
                *old = address;
                r.next_at = now;
                self.out.requests.insert(req, r);
            }
            (None, Datagram::Deliver { .. }) if stale => {
                self.park_for_lookup(now, req, r, to, fx);
            }
            _ => fx.record(Event::DeliveryAbandoned {
                env,
                to,
                agent: r.agent,
            }),
        }
    }
}
