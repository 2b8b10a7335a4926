//! Checking a peer's fallback notice before following it (issue 21 (7)).
//!
//! A member that falls back tells the others with its next message over
//! Olm (`fell_from`). Followed on its word alone, any one member could
//! take the whole group off a healthy server: one cut off from the server
//! while the others are not, or one that lies. A peer's notice is not
//! evidence anyone can check, so a member that gets one asks the server
//! itself (`Probe`): if the server answers within `2 × retry` it stays,
//! and tells the member that fell back so (`StillServed`); if not, its
//! own timer has spoken and it falls back too. Evidence that needs no
//! asking still acts at once: a fraud proof in an audit report, a refusal,
//! a fence, or a submission of its own left without a receipt.
//!
//! The member that fell back alone, on its own missing receipts, then
//! neither takes the group over (its takeover would move every member to
//! another server anyway, by Welcome) nor stays outside the order for
//! good: it asks the server every `retry` until it answers, and takes its
//! generation up again where its draining left it, redoing as commits the
//! membership changes it made in lightweight mode meanwhile. A member
//! that fell back on a lie never returns to the liar.

use super::{What, Why};
use crate::core::event::{Event, FallbackCause, OpKind};
use crate::core::ids::{MemberId, Millis, Peer, ServerId};
use crate::core::io::Effects;
use crate::core::member::Member;
use crate::core::member::message::Payload;
use crate::core::server::sequencer::Rejection;
use crate::core::wire::Datagram;
use std::collections::BTreeSet;

/// A peer's notice, or a slot never served, being checked with the
/// server (volatile).
pub(in crate::core::member) struct Doubt {
    req: u64,
    since: Millis,
    pub(super) next_at: Millis,
    /// Whoever said it fell back: told once the server has answered.
    told_by: BTreeSet<MemberId>,
    /// A slot receipted and never served here: the member falls back
    /// whatever the answer, with this reason unless the answer proves a
    /// lie.
    then: Option<Why>,
    /// A Welcome into a later generation at this server, refused for its
    /// removed nominator: should the server turn out to have fenced this
    /// generation for it, the member forms the next one there itself.
    pub(super) refused: Option<ServerId>,
}

/// A member that fell back alone, waiting for its server to answer it
/// again (volatile).
pub(in crate::core::member) struct Returning {
    stream: (ServerId, u32),
    req: u64,
    pub(in crate::core::member) next_at: Millis,
}

impl Member {
    /// How long a member waits for its server to answer a probe: a round
    /// trip with room for two losses, well inside `ack_timeout`.
    fn probe_timeout(&self) -> Millis {
        (2 * self.cfg.retry_ms).min(self.cfg.ack_timeout_ms)
    }

    /// `from`, a member of this member's generation, says it fell back
    /// from it: ask the server before following.
    pub(in crate::core::member) fn doubt(&mut self, now: Millis, from: MemberId, fx: &mut Effects) {
        if let Some(d) = self.open_doubt(now) {
            d.told_by.insert(from);
        }
        self.retry_probe(now, fx);
    }

    /// A Welcome into a later generation, at `at`, was refused (its
    /// nominator is out of the group), but the group may have moved to it
    /// all the same, and this member's server fenced this generation for
    /// it: ask. In a silent group nothing else tells the member, which
    /// stayed for good in a generation nobody serves while the refused
    /// one's members were ordered apart (`coordinated-fenced-side-left-apart`,
    /// the same server; `coordinated-fenced-by-removed-nominator`, another).
    /// A server that still serves the member says so, and the Welcome was
    /// a removed member's alone.
    pub(in crate::core::member) fn check_fence(
        &mut self,
        now: Millis,
        at: ServerId,
        fx: &mut Effects,
    ) {
        if let Some(d) = self.open_doubt(now) {
            d.refused = Some(at);
        }
        self.retry_probe(now, fx);
    }

    /// A member that has heard nothing from its server for an audit
    /// period asks whether it still serves it. Its silence says nothing
    /// (a quiet group submits nothing), so an unanswered question does
    /// nothing either; but an answer that the server has moved on, or
    /// refuses, acts as it would on a submission. Without it, a silent
    /// group's members stayed for good in a generation their server had
    /// stopped serving, while the rest of the group was ordered elsewhere
    /// (`coordinated-tie-choice-left-late-joiner`).
    pub(in crate::core::member) fn ask_if_quiet(&mut self, now: Millis, fx: &mut Effects) {
        let (every, group) = (self.cfg.audit_every_ms, self.cfg.group);
        let req = self.next_req();
        let Some(c) = (self.coord.as_mut()).filter(|c| {
            c.sending && c.mls.is_active() && c.doubt.is_none() && c.heard + every <= now
        }) else {
            return;
        };
        c.heard = now;
        let probe = Datagram::Probe {
            req,
            group,
            generation: c.generation,
        };
        fx.send(Peer::Server(c.server), probe.encode());
    }

    fn open_doubt(&mut self, now: Millis) -> Option<&mut Doubt> {
        let req = self.next_req();
        let c = self.coord.as_mut()?;
        Some(c.doubt.get_or_insert_with(|| Doubt {
            req,
            since: now,
            next_at: now,
            told_by: BTreeSet::new(),
            then: None,
            refused: None,
        }))
    }

    /// A slot of `stream` was receipted and not served here in time: the
    /// member falls back (`why`), but asks the server first. A server that
    /// says its next slot is at or below a slot it receipted before the
    /// question has withheld it, and that answer is proof (issue 21 (8)).
    pub(in crate::core::member) fn suspect(
        &mut self,
        now: Millis,
        stream: (ServerId, u32),
        why: Why,
        fx: &mut Effects,
    ) {
        let req = self.next_req();
        let Some(c) = (self.coord.as_mut()).filter(|c| (c.server, c.generation) == stream) else {
            return;
        };
        match c.doubt.as_mut() {
            Some(d) if d.then.is_some() => return,
            Some(d) => d.then = Some(why),
            None => {
                c.doubt = Some(Doubt {
                    req,
                    since: now,
                    next_at: now,
                    told_by: BTreeSet::new(),
                    then: Some(why),
                    refused: None,
                })
            }
        }
        self.retry_probe(now, fx);
    }

    /// Sends the probe again while it is due; falls back when the server
    /// has not answered in time. Returns true when it fell back.
    pub(super) fn retry_probe(&mut self, now: Millis, fx: &mut Effects) -> bool {
        let (timeout, group) = (self.probe_timeout(), self.cfg.group);
        let every = (self.cfg.retry_ms / 2).max(1);
        // A peer's word, and the server silent: but so are this member's
        // own mailboxes, so it is the one cut off (offline, say), and the
        // silence says nothing of the server. It keeps asking until it
        // hears from the network again; followed then, the notice took
        // the group off a server that served everyone (`coordinated-
        // adversity` explore 1792 of 1001..=2000: a member offline past
        // its probe formed a generation the others then moved to).
        let deaf = self.audit.last_fetch() + 2 * self.cfg.fetch_interval_ms < now;
        let Some(c) = self.coord.as_mut() else {
            return false;
        };
        let Some(d) = c.doubt.as_mut() else {
            return false;
        };
        if d.since + timeout <= now && d.then.is_none() && deaf {
            d.since = now;
        }
        if d.since + timeout <= now {
            let by = d.told_by.first().copied();
            let silent = format!("{} did not answer whether it still serves", c.server);
            let why = c.doubt.take().and_then(|d| d.then);
            let why = why.or(by.map(Why::told_by));
            let why = why.unwrap_or_else(|| Why::new(FallbackCause::NoReceipt, silent));
            self.fall_back(now, why, true, fx);
            return true;
        }
        if d.next_at <= now {
            d.next_at = now + every;
            let probe = Datagram::Probe {
                req: d.req,
                group,
                generation: c.generation,
            };
            fx.send(Peer::Server(c.server), probe.encode());
        }
        false
    }

    /// The server answered a probe: the doubt is over (the peers that fell
    /// back hear that it still serves), or the answer proves it withheld a
    /// slot, or a member that fell back alone returns to it.
    pub(in crate::core::member) fn on_serving(
        &mut self,
        now: Millis,
        server: ServerId,
        (req, generation, next_seq): (u64, u32, u64),
        fx: &mut Effects,
    ) {
        let stream = (server, generation);
        if let Some(c) = self
            .coord
            .as_mut()
            .filter(|c| (c.server, c.generation) == stream)
        {
            let Some(d) = c.doubt.take_if(|d| d.req == req) else {
                return;
            };
            let unfilled =
                (self.audit.receipted_before(stream, d.since)).filter(|(seq, _)| *seq >= next_seq);
            if let Some((seq, sender)) = unfilled {
                let evidence = format!(
                    "{server} receipted {sender}'s submission for slot {seq} of generation \
                     {generation}, and then said the next slot it fills is {next_seq}"
                );
                fx.record(Event::EquivocationDetected {
                    server,
                    generation,
                    seq,
                    evidence: evidence.clone(),
                });
                // The answer convinces only the member that asked; the
                // receipt goes to every peer, which asks the same question
                // (a silent group's members otherwise stayed on a server
                // proved to withhold until a takeover moved them).
                self.forward_receipt(now, stream, seq, fx);
                return self.fall_back(now, Why::lie(server, &evidence), true, fx);
            }
            if let Some(why) = d.then {
                return self.fall_back(now, why, true, fx);
            }
            let told = Payload::StillServed {
                group: self.cfg.group,
                server,
                generation,
            }
            .encode();
            for peer in d.told_by {
                self.seal(now, peer, None, told.clone(), fx);
            }
            return;
        }
        if (self.gens.returning.as_ref()).is_some_and(|r| r.req == req && r.stream == stream) {
            self.resume(now, fx);
        }
    }

    /// The server turned the returning member's probe away. If it
    /// refuses service, the member takes the group over after all, as if
    /// nobody had said the server still served. If the group moved on to
    /// a later generation at that server, someone formed it while this
    /// member was away, and its nominator brings this member in (it keeps
    /// claiming its key package): nominating past it would tear down a
    /// working generation, so the member waits for the Welcome, as it
    /// does when its own nomination meets a later generation.
    pub(in crate::core::member) fn return_refused(
        &mut self,
        now: Millis,
        req: u64,
        rejection: &Rejection,
    ) -> bool {
        let Some(r) = self.gens.returning.as_ref().filter(|r| r.req == req) else {
            return false;
        };
        let from = r.stream.1;
        self.gens.returning = None;
        match rejection {
            Rejection::WrongGeneration { current, .. } if *current > from => {
                self.gens.generation = self.gens.generation.max(*current);
            }
            _ => self.schedule_takeover(now, None),
        }
        true
    }

    /// A peer says the server this member fell back from still serves it.
    /// If this member fell back on its connection alone and has not moved
    /// on, it stops its takeover and asks the server itself.
    pub(in crate::core::member) fn still_served(
        &mut self,
        now: Millis,
        from: MemberId,
        stream: (ServerId, u32),
        fx: &mut Effects,
    ) {
        let left = self.gens.draining.as_ref().filter(|c| {
            (c.server, c.generation) == stream && c.mls.is_active() && c.roster().contains(&from)
        });
        if left.is_none()
            || self.coord.is_some()
            || self.gens.nomination.is_some()
            || !self.gens.may_return
        {
            return;
        }
        self.gens.takeover_at = None;
        if self.gens.returning.is_none() {
            let req = self.next_req();
            self.gens.returning = Some(Returning {
                stream,
                req,
                next_at: now,
            });
        }
        self.retry_return(now, fx);
    }

    /// Asks the server again, every `retry`, whether it serves this member.
    pub(in crate::core::member) fn retry_return(&mut self, now: Millis, fx: &mut Effects) {
        let (group, every) = (self.cfg.group, self.cfg.retry_ms);
        // Moved on meanwhile (a Welcome, a nomination): nothing to return to.
        if self.coord.is_some() || self.gens.draining.is_none() {
            self.gens.returning = None;
        }
        let Some(r) = self.gens.returning.as_mut().filter(|r| r.next_at <= now) else {
            return;
        };
        r.next_at = now + every;
        let probe = Datagram::Probe {
            req: r.req,
            group,
            generation: r.stream.1,
        };
        fx.send(Peer::Server(r.stream.0), probe.encode());
    }

    /// Takes the generation this member fell back from up again where its
    /// draining left it. Membership changes it made in lightweight mode
    /// meanwhile were never committed: they are made again as commits.
    fn resume(&mut self, now: Millis, fx: &mut Effects) {
        self.gens.returning = None;
        let Some(mut c) = self.gens.draining.take() else {
            return;
        };
        c.doubt = None;
        fx.record(Event::Joined {
            generation: c.generation,
            server: c.server,
            nominator: c.nominator,
            epoch: c.mls.epoch().unwrap_or(0),
        });
        let roster = c.roster();
        self.gens.takeover_at = None;
        self.gens.failed_server = None;
        self.gens.fell_rank = None;
        self.gens.may_return = false;
        self.coord = Some(c);
        // Its mailbox addresses may have changed while it was away (an
        // agent lost its store; it registered anew), and a readdress left
        // unanswered then has long timed out. So it tells the server its
        // addresses and first slot lacking again, with a fresh timeout:
        // without it, a member back from being offline got nothing the
        // server ordered after its return (`coordinated-nominee-readdressed`
        // seed 13), or, its old readdress timed out, fell back again at its
        // next timer and returned, once a second to the end of the run
        // (`coordinated-readdress-return-flap`).
        self.readdress(now, fx);
        self.sync_roster(None, fx);
        self.ledger_enforce(now, fx);
        for (kind, target) in std::mem::take(&mut self.gens.lightweight_ops) {
            match kind {
                OpKind::Remove if roster.contains(&target) => {
                    self.submit_what(now, What::Remove { target }, fx)
                }
                OpKind::Add if !roster.contains(&target) => self.add_coordinated(now, target, fx),
                _ => {}
            }
        }
    }
}
