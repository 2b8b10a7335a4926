//! What a run saw besides its trace: the ciphertexts that went on the
//! wire, removed members' key state at their removal, and the traffic that
//! reached servers. The post-removal secrecy and server blindness checkers
//! judge these; every other checker reads the trace alone.
//!
//! The world feeds an `Observations` as the run goes (`sent`, `stepped`,
//! `recorded`), and a run hands it out at the end in place of the world,
//! so that no checker can reach into live hosts. It holds copies, never
//! references: what it keeps is what an observer of the network, or the
//! removed member itself, could have kept.

mod replay;

use crate::core::event::{Event, OpKind};
use crate::core::ids::{EnvelopeId, MemberId, MessageId, Millis, Peer, ServerId};
use crate::core::member::Member;
use crate::core::member::sessions::Sessions;
use crate::core::mls::MlsClient;
use crate::core::wire::{Datagram, Envelope};
use std::collections::BTreeMap;

/// A stream of ordered messages: (generation, server).
pub type Stream = (u32, ServerId);

#[derive(Default)]
pub struct Observations {
    /// Every envelope that went on the wire (first copy), with its
    /// sender's identity key as it was when sent.
    pub envelopes: BTreeMap<EnvelopeId, (Envelope, [u8; 32])>,
    /// The removed member's Olm state at the moment of each removal.
    removal_snapshots: BTreeMap<MessageId, (MemberId, Sessions)>,
    /// Every payload a server agent fanned out, by (generation, server,
    /// seq): what a removed member could collect from the wire.
    pub ordered: BTreeMap<(u32, ServerId, u64), Vec<u8>>,
    /// Coordinated groups: each removed member's MLS state from just
    /// before it applied the commit that removed it, by (member,
    /// generation, server, epoch of that commit).
    pub mls_removal_copies: BTreeMap<(MemberId, u32, ServerId, u64), MlsClient>,
    /// The same key for a removed member that had not applied the commit
    /// when the server ordered the next message (it was offline, say):
    /// its MLS state as it then was, behind the commit. It is handed the
    /// stream from the start, as it could have collected it.
    mls_behind_copies: BTreeMap<(MemberId, u32, ServerId, u64), MlsClient>,
    /// Per stream, the last ordered message.
    last_ordered: BTreeMap<Stream, LastOrdered>,
    /// Datagrams sent to mailbox and server agents.
    pub to_servers: u64,
    /// Those of them that carried a plaintext marker: (when, from, to).
    pub plaintext_to_servers: Vec<(Millis, Peer, Peer)>,
}

/// What is remembered of a stream's last ordered message.
#[derive(Debug)]
struct LastOrdered {
    epoch: u64,
    commit: bool,
    members: Vec<MemberId>,
}

impl Observations {
    /// A datagram handed to the network. Only deliveries are decoded: the
    /// rest carry nothing a removed member could try its keys on.
    pub fn sent(
        &mut self,
        now: Millis,
        from: Peer,
        to: Peer,
        datagram: Option<&Datagram>,
        bytes: &[u8],
        members: &BTreeMap<MemberId, Member>,
    ) {
        if matches!(to, Peer::Agent(_) | Peer::Server(_)) {
            self.to_servers += 1;
            let marker = crate::core::member::message::MARKER;
            if bytes.windows(marker.len()).any(|w| w == marker) {
                self.plaintext_to_servers.push((now, from, to));
            }
        }
        match datagram {
            Some(Datagram::Deliver { envelope, .. }) => {
                let Some(sender) = members.get(&envelope.id.sender) else {
                    return;
                };
                self.envelopes
                    .entry(envelope.id)
                    .or_insert_with(|| (envelope.clone(), sender.curve25519()));
            }
            Some(Datagram::DeliverOrdered { item, .. }) => {
                if let Peer::Server(server) = from {
                    let slot = (item.receipt.generation, server, item.receipt.seq);
                    self.ordered
                        .entry(slot)
                        .or_insert_with(|| item.payload.clone());
                }
            }
            _ => {}
        }
    }

    /// Takes the copy a member's MLS client kept when it applied a commit
    /// removing it, once per removal. Called after every step the member
    /// takes, because the client may move on (a later generation) soon
    /// after.
    pub fn stepped(&mut self, member: &Member) {
        let Some(c) = member.coordinated() else {
            return;
        };
        let Some(kept) = c
            .mls()
            .removal_copy()
            .filter(|k| k.group_id() == c.mls().group_id())
        else {
            return;
        };
        let key = (
            member.id(),
            c.generation(),
            c.server(),
            kept.epoch().unwrap_or(0),
        );
        if self.mls_removal_copies.contains_key(&key) {
            return;
        }
        if let Ok(copy) = kept.copy() {
            self.mls_removal_copies.insert(key, copy);
        }
    }

    /// An event a host reported: a removal snapshots the removed member's
    /// Olm state; an ordered message may show a commit's removals.
    pub fn recorded(&mut self, host: Peer, event: &Event, members: &BTreeMap<MemberId, Member>) {
        match (host, event) {
            (Peer::Server(server), Event::Ordered { .. }) => {
                self.keep_behind_copies(server, event, members)
            }
            (
                _,
                Event::MembershipOp {
                    msg,
                    op: OpKind::Remove,
                    target,
                },
            ) => {
                if let Some(removed) = members.get(target) {
                    self.removal_snapshots
                        .insert(*msg, (*target, removed.sessions().snapshot()));
                }
            }
            _ => {}
        }
    }

    /// When the message after a commit is ordered, the commit's removals
    /// show as members the server no longer counts. A removed member that
    /// has not applied the commit by then keeps its state from before it,
    /// which the secrecy checker must still be able to try.
    fn keep_behind_copies(
        &mut self,
        server: ServerId,
        event: &Event,
        members: &BTreeMap<MemberId, Member>,
    ) {
        let Event::Ordered {
            generation,
            epoch,
            commit,
            members: counted,
            ..
        } = event
        else {
            return;
        };
        let stream = (*generation, server);
        let now = LastOrdered {
            epoch: *epoch,
            commit: *commit,
            members: counted.clone(),
        };
        let Some(LastOrdered {
            epoch: prev_epoch,
            commit: true,
            members: prev_members,
        }) = self.last_ordered.insert(stream, now)
        else {
            return;
        };
        for m in prev_members.iter().filter(|m| !counted.contains(m)) {
            let key = (*m, *generation, server, prev_epoch);
            if self.mls_removal_copies.contains_key(&key)
                || self.mls_behind_copies.contains_key(&key)
            {
                continue;
            }
            let copy = members
                .get(m)
                .and_then(|member| member.coordinated())
                .filter(|c| c.generation() == *generation && c.server() == server)
                .filter(|c| c.mls().epoch().is_some_and(|e| e <= prev_epoch))
                .and_then(|c| c.mls().copy().ok());
            if let Some(copy) = copy {
                self.mls_behind_copies.insert(key, copy);
            }
        }
    }
}
