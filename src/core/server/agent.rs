//! A server agent as a host: the single sender's service agent of the
//! coordinated groups it serves.
//!
//! Members submit every group message here. The sequencer orders it (or
//! rejects it with the reason, e.g. the current epoch to rebase on); the
//! agent answers the submitter with the signed receipt and fans the ordered
//! message out to every member's receiving service agents, retrying until
//! each mailbox acknowledges. It only ever holds MLS ciphertext and public
//! handshake messages.

use super::dishonest::{Liar, Lie};
use super::sequencer::{Kind, Rejection, Sequencer, hash};
use crate::core::event::Event;
use crate::core::ids::{AgentId, MemberId, Millis, Peer, ServerId};
use crate::core::io::{Effects, FaultCommand, Input};
use crate::core::wire::{Address, Datagram, Ordered, Submission};
use fork::Fork;
use std::collections::{BTreeMap, BTreeSet};
use vodozemac::Ed25519Keypair;

pub(super) mod fork;

#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    pub retry_ms: Millis,
    pub max_attempts: u32,
}

struct Served {
    sequencer: Sequencer,
    /// Receipts by message hash: a submission retried because its receipt
    /// was lost gets the same receipt again instead of a second slot.
    by_hash: BTreeMap<[u8; 32], crate::core::server::sequencer::Receipt>,
    /// Every member's mailbox addresses (long-term), for fan-out.
    mailboxes: BTreeMap<MemberId, Vec<Address>>,
    log: Vec<Ordered>,
    /// Who nominated this generation (none when formed at setup), so that
    /// a retried nomination is answered the same way.
    nominator: Option<MemberId>,
    /// The dishonest-server fault's fork of this generation, if any
    /// (`agent/fork.rs`).
    fork: Option<Fork>,
}

struct Fanout {
    group: u64,
    agent: AgentId,
    datagram: Datagram,
    attempts: u32,
    next_at: Millis,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    pub ordered: u64,
    pub fanout_abandoned: u64,
    pub rejected_datagrams: u64,
}

pub struct ServerAgent {
    id: ServerId,
    cfg: ServerConfig,
    key: Ed25519Keypair,
    groups: BTreeMap<u64, Served>,
    /// Groups this server was told have moved on, with the generation they
    /// are at: it serves them no more (fencing).
    fenced: BTreeMap<u64, u32>,
    fanout: BTreeMap<u64, Fanout>,
    next_req: u64,
    refusing: bool,
    /// The dishonest-server fault's state (see `dishonest.rs`).
    liar: Liar,
    pub stats: ServerStats,
}

impl ServerAgent {
    pub fn new(id: ServerId, cfg: ServerConfig) -> Self {
        ServerAgent {
            id,
            cfg,
            key: Ed25519Keypair::new(),
            groups: BTreeMap::new(),
            fenced: BTreeMap::new(),
            fanout: BTreeMap::new(),
            next_req: 0,
            refusing: false,
            liar: Liar::default(),
            stats: ServerStats::default(),
        }
    }

    pub fn id(&self) -> ServerId {
        self.id
    }

    /// The key members verify receipts with.
    pub fn public_key(&self) -> [u8; 32] {
        *self.key.public_key().as_bytes()
    }

    /// Takes on one generation of a group, from `epoch` on.
    pub fn serve(
        &mut self,
        group: u64,
        generation: u32,
        epoch: u64,
        mailboxes: BTreeMap<MemberId, Vec<Address>>,
    ) {
        let sequencer = Sequencer::new(
            group,
            generation,
            epoch,
            mailboxes.keys().copied(),
            self.key.clone(),
        );
        self.groups.insert(
            group,
            Served {
                sequencer,
                mailboxes,
                by_hash: BTreeMap::new(),
                log: Vec::new(),
                nominator: None,
                fork: None,
            },
        );
    }

    /// Takes on `generation` of a group at a member's nomination, unless
    /// this server already serves that generation (or a later one) or was
    /// fenced past it: at most one server agent per generation from each
    /// candidate's side.
    fn nominate(
        &mut self,
        nominator: MemberId,
        group: u64,
        generation: u32,
        mailboxes: Vec<Address>,
        fx: &mut Effects,
    ) -> Result<(), Rejection> {
        if self.refusing {
            return Err(Rejection::Refused);
        }
        let wrong = |current| Rejection::WrongGeneration {
            submitted: generation,
            current,
        };
        if let Some(&current) = self.fenced.get(&group).filter(|g| **g >= generation) {
            return Err(wrong(current));
        }
        if let Some(served) = self.groups.get(&group) {
            let current = served.sequencer.generation();
            if current == generation && served.nominator == Some(nominator) {
                return Ok(());
            }
            if current >= generation {
                return Err(wrong(current));
            }
            fx.record(Event::Fenced {
                group,
                generation: current,
                by: generation,
            });
        }
        self.serve(group, generation, 0, [(nominator, mailboxes)].into());
        if let Some(served) = self.groups.get_mut(&group) {
            served.nominator = Some(nominator);
        }
        fx.record(Event::GenerationAccepted {
            group,
            generation,
            nominator,
        });
        Ok(())
    }

    /// A member says the group is at `generation` now: if that is later
    /// than what this server serves, it stops serving the group and drops
    /// its pending fan-out, so a server that comes back after a takeover
    /// cannot keep a stale generation alive.
    /// A generation contested by two servers is superseded too, for the
    /// one that lost (see `Coordinated::rank`).
    fn superseded(
        &mut self,
        member: MemberId,
        group: u64,
        (generation, winner): (u32, ServerId),
        fx: &mut Effects,
    ) {
        let Some(served) = self.groups.get(&group) else {
            return;
        };
        let stale = served.sequencer.generation();
        let lost = stale == generation && winner != self.id;
        if (stale > generation || (stale == generation && !lost))
            || !served.sequencer.members().contains(&member)
        {
            return;
        }
        self.groups.remove(&group);
        self.fanout.retain(|_, f| f.group != group);
        self.fenced.insert(group, generation);
        fx.record(Event::Fenced {
            group,
            generation: stale,
            by: generation,
        });
    }

    /// Everything this server holds of its groups' traffic, for the
    /// server-blindness check.
    pub fn stored_payloads(&self) -> impl Iterator<Item = &[u8]> {
        self.groups
            .values()
            .flat_map(|g| g.log.iter().map(|o| o.payload.as_slice()))
    }

    pub fn handle(&mut self, now: Millis, input: Input) -> Effects {
        let mut fx = Effects::default();
        match input {
            Input::Start(_) | Input::Wake => {
                self.retry(now, &mut fx);
                self.release_held(now, &mut fx);
                self.release_fork(now, &mut fx);
            }
            Input::Fault(FaultCommand::RefuseService(on)) => self.refusing = on,
            Input::Fault(FaultCommand::Dishonest(d)) => {
                self.liar.set(d);
                self.release_fork(now, &mut fx);
            }
            other @ (Input::Fault(_) | Input::Command(_)) => {
                fx.record(other.skipped("not a server agent command"))
            }
            Input::Datagram { from, bytes } => match (from, Datagram::decode(&bytes)) {
                (Peer::Member(m), Ok(Datagram::Submit { req, submission })) => {
                    // The submitter hears first; the fan-out follows.
                    let mut fan_out = Effects::default();
                    let reply = match self.submit(now, m, submission, &mut fan_out) {
                        Ok(receipt) => Datagram::Receipted { req, receipt },
                        Err(rejection) => {
                            fx.record(Event::SubmitRejected {
                                sender: m,
                                reason: rejection.clone(),
                            });
                            Datagram::SubmitRejected { req, rejection }
                        }
                    };
                    fx.send(from, reply.encode());
                    fx.0.extend(fan_out.0);
                }
                (
                    Peer::Member(m),
                    Ok(Datagram::Nominate {
                        req,
                        group,
                        generation,
                        mailboxes,
                    }),
                ) => {
                    let reply = match self.nominate(m, group, generation, mailboxes, &mut fx) {
                        Ok(()) => Datagram::Nominated {
                            req,
                            group,
                            generation,
                        },
                        Err(rejection) => Datagram::SubmitRejected { req, rejection },
                    };
                    fx.send(from, reply.encode());
                }
                (
                    Peer::Member(m),
                    Ok(Datagram::Superseded {
                        group,
                        generation,
                        server,
                    }),
                ) => self.superseded(m, group, (generation, server), &mut fx),
                (
                    Peer::Member(m),
                    Ok(Datagram::Readdress {
                        req,
                        group,
                        generation,
                        next_seq,
                        mailboxes,
                    }),
                ) => {
                    // The member hears first; what it missed follows.
                    let mut again = Effects::default();
                    let at = (group, generation);
                    if self.readdress(now, m, at, next_seq, mailboxes, &mut again) {
                        fx.send(from, Datagram::Readdressed { req }.encode());
                    }
                    fx.0.extend(again.0);
                }
                (
                    Peer::Member(m),
                    Ok(Datagram::Probe {
                        req,
                        group,
                        generation,
                    }),
                ) => {
                    let reply = match self.probe(m, group, generation) {
                        Ok(next_seq) => Datagram::Serving {
                            req,
                            group,
                            generation,
                            next_seq,
                        },
                        Err(rejection) => Datagram::SubmitRejected { req, rejection },
                    };
                    fx.send(from, reply.encode());
                }
                (Peer::Agent(_), Ok(Datagram::Accepted { req })) => {
                    self.fanout.remove(&req);
                }
                (Peer::Agent(_), Ok(Datagram::Refused { req, .. })) => {
                    if self.fanout.remove(&req).is_some() {
                        self.stats.fanout_abandoned += 1;
                    }
                }
                (_, Ok(other)) => self.reject(
                    &mut fx,
                    from,
                    format!("unexpected at a server agent: {}", other.name()),
                ),
                (_, Err(e)) => self.reject(&mut fx, from, e.to_string()),
            },
        }
        let fanout = self.fanout.values().map(|f| f.next_at);
        let forks = self.groups.values().filter_map(|g| g.fork.as_ref()?.wake());
        if let Some(at) = fanout.chain(self.liar.wake()).chain(forks).min() {
            fx.wake_at(at);
        }
        fx
    }

    /// A member of the generation served gave new mailbox addresses: fan
    /// out to them, and send again what was ordered from `next_seq` on
    /// (see [`Datagram::Readdress`]). Anyone else is not answered: a
    /// member of another generation, or of none, has nothing to get here.
    fn readdress(
        &mut self,
        now: Millis,
        member: MemberId,
        (group, generation): (u64, u32),
        next_seq: u64,
        mailboxes: Vec<Address>,
        fx: &mut Effects,
    ) -> bool {
        let Some(served) = self.groups.get_mut(&group).filter(|g| {
            !self.refusing
                && g.sequencer.generation() == generation
                && g.sequencer.members().contains(&member)
        }) else {
            return false;
        };
        served.mailboxes.insert(member, mailboxes);
        let missed: Vec<Ordered> = served
            .log
            .iter()
            .filter(|o| o.receipt.seq >= next_seq)
            .cloned()
            .collect();
        for item in &missed {
            self.send_ordered(now, member, item, fx);
        }
        true
    }

    /// Whether this server serves `generation` of `group` to `member`: the
    /// next slot it will fill, or why not, as a submission would hear it.
    fn probe(&self, member: MemberId, group: u64, generation: u32) -> Result<u64, Rejection> {
        if self.refusing {
            return Err(Rejection::Refused);
        }
        let wrong = |current| Rejection::WrongGeneration {
            submitted: generation,
            current,
        };
        let Some(served) = self.groups.get(&group) else {
            return Err(match self.fenced.get(&group) {
                Some(&current) => wrong(current),
                None => Rejection::NotServed(group),
            });
        };
        let current = served.sequencer.generation();
        if current != generation {
            return Err(wrong(current));
        }
        if !served.sequencer.members().contains(&member) {
            return Err(Rejection::NotAMember(member));
        }
        Ok(served.sequencer.next_seq())
    }

    /// Records a lie of the dishonest-server fault.
    fn lied(&self, group: u64, lie: Lie, fx: &mut Effects) {
        let generation = self
            .groups
            .get(&group)
            .map_or(0, |g| g.sequencer.generation());
        fx.record(Event::Lied {
            mode: lie.mode,
            to: lie.to,
            generation,
            seq: lie.seq,
        });
    }

    /// The victim's held copy, once it can no longer be swapped.
    fn release_held(&mut self, now: Millis, fx: &mut Effects) {
        if let Some((victim, item)) = self.liar.release(now) {
            self.send_ordered(now, victim, &item, fx);
        }
    }

    fn reject(&mut self, fx: &mut Effects, from: Peer, error: String) {
        self.stats.rejected_datagrams += 1;
        fx.record(Event::DatagramRejected { from, error });
    }

    fn submit(
        &mut self,
        now: Millis,
        sender: MemberId,
        submission: Submission,
        fx: &mut Effects,
    ) -> Result<crate::core::server::sequencer::Receipt, Rejection> {
        let group = submission.group;
        if self.refusing {
            return Err(Rejection::Refused);
        }
        if let Some(&current) = self
            .fenced
            .get(&group)
            .filter(|_| !self.groups.contains_key(&group))
        {
            return Err(Rejection::WrongGeneration {
                submitted: submission.generation,
                current,
            });
        }
        let served = self
            .groups
            .get_mut(&group)
            .ok_or(Rejection::NotServed(group))?;
        let digest = hash(&submission.payload);
        if let Some(receipt) = served.by_hash.get(&digest).filter(|r| r.sender == sender) {
            return Ok(receipt.clone());
        }
        if let Some((receipt, lie)) =
            self.liar
                .drop_receipt(&served.sequencer, sender, submission.epoch, digest)
        {
            if let Some(lie) = lie {
                self.lied(group, lie, fx);
            }
            return Ok(receipt);
        }
        if let Some(result) = self.fork_submit(now, sender, &submission, fx) {
            return result;
        }
        let Submission {
            generation,
            epoch,
            kind,
            payload,
            members_after,
            joiners,
            ..
        } = submission;
        let Some(served) = self.groups.get_mut(&group) else {
            return Err(Rejection::NotServed(group));
        };
        let before: BTreeSet<MemberId> = served.sequencer.members().clone();
        let receipt = served.sequencer.submit(
            generation,
            sender,
            kind,
            epoch,
            &payload,
            members_after.as_deref(),
        )?;
        self.stats.ordered += 1;
        served.by_hash.insert(receipt.hash, receipt.clone());
        for (m, addresses) in joiners {
            if served.sequencer.members().contains(&m) {
                served.mailboxes.insert(m, addresses);
            }
        }
        fx.record(Event::Ordered {
            group,
            generation,
            seq: receipt.seq,
            epoch,
            sender,
            commit: kind == Kind::Commit,
            members: before.iter().copied().collect(),
        });
        let item = Ordered {
            receipt: receipt.clone(),
            kind,
            payload,
        };
        served.log.push(item.clone());
        // A commit goes to everyone it concerns: those it leaves in the
        // group and those it removes, who must learn they are out.
        let mut recipients: BTreeSet<MemberId> =
            before.union(served.sequencer.members()).copied().collect();
        recipients.extend(served.fork.iter().flat_map(Fork::branch_members));
        let deceived = self
            .liar
            .victim_copy(now, &served.sequencer, &item, &recipients);
        let replay = self.liar.replay(&mut served.sequencer, &served.log);
        if let Some(r) = &replay {
            served.log.push(r.clone());
        }
        for m in &recipients {
            match &deceived {
                Some((victim, items, _)) if victim == m => {
                    for i in items {
                        self.send_ordered(now, *m, i, fx);
                    }
                }
                _ => self.send_ordered(now, *m, &item, fx),
            }
        }
        for lie in deceived.into_iter().flat_map(|(_, _, lies)| lies) {
            self.lied(group, lie, fx);
        }
        if let Some(r) = replay {
            for m in &recipients {
                self.send_ordered(now, *m, &r, fx);
            }
            let lie = Lie {
                mode: super::dishonest::Mode::Replay,
                to: recipients.iter().copied().collect(),
                seq: r.receipt.seq,
            };
            self.lied(group, lie, fx);
        }
        Ok(receipt)
    }

    /// Fans one ordered message out to every mailbox of member `to`,
    /// retried until each acknowledges.
    fn send_ordered(&mut self, now: Millis, to: MemberId, item: &Ordered, fx: &mut Effects) {
        let group = item.receipt.group;
        let addresses = self
            .groups
            .get(&group)
            .and_then(|g| g.mailboxes.get(&to))
            .cloned()
            .unwrap_or_default();
        for address in addresses {
            self.next_req += 1;
            let req = self.next_req;
            let datagram = Datagram::DeliverOrdered {
                req,
                address,
                to,
                item: item.clone(),
            };
            fx.send(Peer::Agent(address.agent), datagram.encode());
            self.fanout.insert(
                req,
                Fanout {
                    group,
                    agent: address.agent,
                    datagram,
                    attempts: 1,
                    next_at: now + self.cfg.retry_ms,
                },
            );
        }
    }

    fn retry(&mut self, now: Millis, fx: &mut Effects) {
        let due: Vec<u64> = self
            .fanout
            .iter()
            .filter(|(_, f)| f.next_at <= now)
            .map(|(r, _)| *r)
            .collect();
        for req in due {
            let Some(f) = self.fanout.get_mut(&req) else {
                continue;
            };
            if f.attempts >= self.cfg.max_attempts {
                self.fanout.remove(&req);
                self.stats.fanout_abandoned += 1;
                continue;
            }
            f.attempts += 1;
            f.next_at = now + self.cfg.retry_ms * u64::from(f.attempts.min(8));
            fx.send(Peer::Agent(f.agent), f.datagram.encode());
        }
    }
}

impl crate::core::io::Host for ServerAgent {
    fn handle(&mut self, now: Millis, input: Input) -> Effects {
        ServerAgent::handle(self, now, input)
    }
}
