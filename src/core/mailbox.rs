//! A receiving service agent: a mailbox server.
//!
//! It issues each member a long-term delivery address (valid for a long,
//! guaranteed time, for recovery) and short-lived ephemeral ones, stores
//! envelopes delivered to any of them until the member fetches them, refuses
//! expired addresses explicitly, and hands out the member's one-time keys so
//! that senders can start Olm sessions. It only ever sees ciphertext.
//!
//! A member renews its long-term address before the guarantee runs out
//! (`RenewLongTerm`); each renewal is a new address with a new date. The
//! addresses it replaces stay valid for as long as the newest one is: they
//! are held where the member's announcements do not reach (contact cards
//! handed out before, a coordinated group's server agent, which takes
//! mailboxes once per generation, peers that were away), and recovery is
//! for exactly those holders. A guaranteed date is a lower bound, so this
//! breaks no promise; once the member stops renewing, every one of its
//! long-term addresses ends at the newest date it announced.

use super::ids::{AgentId, MemberId, Millis, Peer};
use super::io::{Effects, FaultCommand, Input};
use super::server::sequencer::hash as digest;
use super::wire::{Address, Datagram, Grant, Refusal, Stored, WELL_KNOWN};
use crate::core::event::Event;
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Debug, PartialEq)]
pub struct MailboxConfig {
    pub ephemeral_ttl_ms: Millis,
    pub long_term_ttl_ms: Millis,
    /// Envelopes per fetch reply, so that a reply fits a datagram.
    pub max_batch: usize,
}

#[derive(Clone, Debug)]
struct AddressEntry {
    member: MemberId,
    valid_until: Millis,
    /// Honoured while the member's newest long-term address is (see the
    /// module documentation), and never expired early by a fault.
    long_term: bool,
}

#[derive(Clone, Debug, Default)]
struct Mailbox {
    /// The newest long-term address issued to the member.
    long_term: Option<Grant>,
    items: BTreeMap<u64, Stored>,
    /// Each stored item's [`Stored::dedup_key`], computed once.
    keys: BTreeMap<u64, crate::core::wire::DedupKey>,
}

#[derive(Clone, Debug, Default)]
struct KeyBundle {
    identity: [u8; 32],
    one_time: VecDeque<[u8; 32]>,
    fallback: Option<[u8; 32]>,
    /// MLS key packages, opaque here: the claimer validates them.
    key_packages: VecDeque<Vec<u8>>,
    /// Digests of the keys and key packages handed out, newest last: a
    /// publication the member retried (its acknowledgement lost or late)
    /// arrives again after a claim took one of its keys, and handing that
    /// key out a second time would bring a joiner in with a key package
    /// its owner has already used and deleted (its Welcome then fails
    /// with no matching key package, and the nominator counts it in a
    /// generation it can never read; `coordinated-adversity` seed 10).
    handed_out: VecDeque<[u8; 32]>,
}

/// Key packages kept per member; the oldest go first beyond this.
const MAX_KEY_PACKAGES: usize = 16;

/// How many handed-out digests a bundle remembers: far more than a
/// member's retried publications can hold, at 32 bytes each.
const MAX_HANDED_OUT: usize = 256;

impl KeyBundle {
    fn was_handed_out(&self, digest: &[u8; 32]) -> bool {
        self.handed_out.contains(digest)
    }

    fn hand_out(&mut self, digest: [u8; 32]) {
        if self.handed_out.len() >= MAX_HANDED_OUT {
            self.handed_out.pop_front();
        }
        self.handed_out.push_back(digest);
    }
}

/// Counters for reports; not part of the protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailboxStats {
    pub stored: u64,
    pub refused: u64,
    pub rejected_datagrams: u64,
}

#[derive(Clone, Debug)]
pub struct MailboxAgent {
    id: AgentId,
    config: MailboxConfig,
    /// Distinguishes address tokens issued before and after a wipe, so an
    /// old token can never name a new member's mailbox.
    incarnation: u32,
    next_token: u32,
    next_seq: u64,
    addresses: BTreeMap<u64, AddressEntry>,
    mailboxes: BTreeMap<MemberId, Mailbox>,
    keys: BTreeMap<MemberId, KeyBundle>,
    /// Key packages handed out, by (claimer, request, member), newest
    /// last: a claim duplicated or retried gets the package its first
    /// copy took. Each copy took another, and under duplication and
    /// delay a contact's few packages ran out, so the generation a
    /// takeover formed left it out for good
    /// (`coordinated-add-before-takeover`).
    claimed: VecDeque<((Peer, u64, MemberId), Vec<u8>)>,
    pub stats: MailboxStats,
}

/// Claims remembered for answering their copies: far more than the
/// requests in flight at once.
const MAX_CLAIMS: usize = 1024;

impl MailboxAgent {
    pub fn new(id: AgentId, config: MailboxConfig, incarnation: u32) -> Self {
        MailboxAgent {
            id,
            config,
            incarnation,
            next_token: 0,
            next_seq: 0,
            addresses: BTreeMap::new(),
            mailboxes: BTreeMap::new(),
            keys: BTreeMap::new(),
            claimed: VecDeque::new(),
            stats: MailboxStats::default(),
        }
    }

    pub fn id(&self) -> AgentId {
        self.id
    }

    pub fn config(&self) -> &MailboxConfig {
        &self.config
    }

    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }

    /// The same agent after losing its whole store: a new incarnation, so
    /// that the addresses it issues now never collide with old ones.
    pub fn wiped(&self) -> MailboxAgent {
        MailboxAgent::new(self.id, self.config.clone(), self.incarnation + 1)
    }

    /// The configuration document served at [`WELL_KNOWN`].
    pub fn well_known(&self) -> String {
        serde_json::json!({
            "service": self.id.to_string(),
            "deliver": format!("udp://{}:{}", self.id, crate::core::PORT),
            "fetch": format!("udp://{}:{}", self.id, crate::core::PORT),
            "one_time_keys": true,
            "ephemeral_ttl_ms": self.config.ephemeral_ttl_ms,
            "long_term_ttl_ms": self.config.long_term_ttl_ms,
        })
        .to_string()
    }

    fn issue(&mut self, member: MemberId, valid_until: Millis, long_term: bool) -> Grant {
        let token = (u64::from(self.incarnation) << 32) | u64::from(self.next_token);
        self.next_token += 1;
        self.addresses.insert(
            token,
            AddressEntry {
                member,
                valid_until,
                long_term,
            },
        );
        Grant {
            address: Address {
                agent: self.id,
                token,
            },
            valid_until,
        }
    }

    /// Registers a member (or re-registers it): returns its newest
    /// long-term address, issued if it has none, and a fresh ephemeral one.
    pub fn register(&mut self, member: MemberId, now: Millis) -> (Grant, Grant) {
        match self.mailboxes.get(&member).and_then(|m| m.long_term) {
            Some(long_term) => (long_term, self.issue_ephemeral(member, now)),
            None => self.renew(member, now),
        }
    }

    /// Issues the member a new long-term address, which becomes its newest
    /// (and so extends the ones it replaces), and a fresh ephemeral one.
    pub fn renew(&mut self, member: MemberId, now: Millis) -> (Grant, Grant) {
        let long_term = self.issue(member, now + self.config.long_term_ttl_ms, true);
        self.mailboxes.entry(member).or_default().long_term = Some(long_term);
        (long_term, self.issue_ephemeral(member, now))
    }

    fn issue_ephemeral(&mut self, member: MemberId, now: Millis) -> Grant {
        self.issue(member, now + self.config.ephemeral_ttl_ms, false)
    }

    /// Until when a delivery to `entry` is accepted: a long-term address
    /// for as long as the member's newest one, so that whoever still holds
    /// a replaced one reaches the member while it keeps renewing.
    fn valid_until(&self, entry: &AddressEntry) -> Millis {
        let newest = entry
            .long_term
            .then(|| self.mailboxes.get(&entry.member)?.long_term)
            .flatten()
            .map_or(0, |g| g.valid_until);
        entry.valid_until.max(newest)
    }

    pub fn handle(&mut self, now: Millis, input: Input) -> Effects {
        let mut fx = Effects::default();
        match input {
            Input::Start(_) | Input::Wake => {}
            Input::Fault(FaultCommand::ExpireAddresses(member)) => {
                self.expire_ephemeral(member, now)
            }
            other @ (Input::Fault(_) | Input::Command(_)) => {
                fx.record(other.skipped("not an agent command"))
            }
            Input::Datagram { from, bytes } => match Datagram::decode(&bytes) {
                Ok(d) => self.on_datagram(now, from, d, &mut fx),
                Err(e) => {
                    self.stats.rejected_datagrams += 1;
                    fx.record(Event::DatagramRejected {
                        from,
                        error: e.to_string(),
                    });
                }
            },
        }
        fx
    }

    fn expire_ephemeral(&mut self, member: MemberId, now: Millis) {
        for e in self.addresses.values_mut() {
            if e.member == member && !e.long_term {
                e.valid_until = e.valid_until.min(now);
            }
        }
    }

    fn on_datagram(&mut self, now: Millis, from: Peer, d: Datagram, fx: &mut Effects) {
        let reply = match d {
            Datagram::GetConfig { req, path } if path == WELL_KNOWN => Datagram::Config {
                req,
                document: self.well_known(),
            },
            Datagram::GetConfig { req, .. } => Datagram::Refused {
                req,
                reason: Refusal::NotFound,
            },
            Datagram::Register { req, member } | Datagram::RotateEphemeral { req, member } => {
                let (long_term, ephemeral) = self.register(member, now);
                Datagram::Addresses {
                    req,
                    long_term,
                    ephemeral,
                }
            }
            Datagram::RenewLongTerm { req, member } => {
                let (long_term, ephemeral) = self.renew(member, now);
                Datagram::Addresses {
                    req,
                    long_term,
                    ephemeral,
                }
            }
            Datagram::PublishKeys {
                req,
                member,
                identity,
                one_time_keys,
                fallback_key,
            } => {
                let bundle = self.keys.entry(member).or_default();
                bundle.identity = identity;
                for k in one_time_keys {
                    if !bundle.one_time.contains(&k) && !bundle.was_handed_out(&digest(&k)) {
                        bundle.one_time.push_back(k);
                    }
                }
                if fallback_key.is_some() {
                    bundle.fallback = fallback_key;
                }
                Datagram::Accepted { req }
            }
            Datagram::PublishKeyPackages {
                req,
                member,
                key_packages,
            } => {
                let bundle = self.keys.entry(member).or_default();
                for kp in key_packages {
                    if !bundle.key_packages.contains(&kp) && !bundle.was_handed_out(&digest(&kp)) {
                        bundle.key_packages.push_back(kp);
                    }
                }
                while bundle.key_packages.len() > MAX_KEY_PACKAGES {
                    bundle.key_packages.pop_front();
                }
                Datagram::Accepted { req }
            }
            Datagram::ClaimKeyPackage { req, member } => {
                let key = (from, req, member);
                let again = (self.claimed.iter()).find(|(k, _)| *k == key);
                let key_package = match again {
                    Some((_, kp)) => Some(kp.clone()),
                    None => self.keys.get_mut(&member).and_then(|b| {
                        let kp = b.key_packages.pop_front()?;
                        b.hand_out(digest(&kp));
                        Some(kp)
                    }),
                };
                if again.is_none()
                    && let Some(kp) = &key_package
                {
                    self.claimed.push_back((key, kp.clone()));
                    if self.claimed.len() > MAX_CLAIMS {
                        self.claimed.pop_front();
                    }
                }
                Datagram::KeyPackageClaimed {
                    req,
                    member,
                    key_package,
                }
            }
            Datagram::LookupAddress { req, member } => Datagram::CurrentAddress {
                req,
                member,
                long_term: self.mailboxes.get(&member).and_then(|m| m.long_term),
            },
            Datagram::ClaimKey { req, member } => match self.keys.get_mut(&member) {
                Some(b) => Datagram::KeyClaimed {
                    req,
                    member,
                    identity: b.identity,
                    one_time_key: match b.one_time.pop_front() {
                        Some(k) => {
                            b.hand_out(digest(&k));
                            Some(k)
                        }
                        None => b.fallback,
                    },
                },
                None => Datagram::KeyClaimed {
                    req,
                    member,
                    identity: [0; 32],
                    one_time_key: None,
                },
            },
            Datagram::Deliver {
                req,
                address,
                envelope,
            } => self.deliver(now, from, req, address, Stored::Envelope(envelope), fx),
            Datagram::DeliverOrdered {
                req,
                address,
                to,
                item,
            } => self.deliver(now, from, req, address, Stored::Ordered { to, item }, fx),
            Datagram::Fetch { member, after } => match self.mailboxes.get_mut(&member) {
                Some(mb) => {
                    mb.items = mb.items.split_off(&(after + 1));
                    mb.keys = mb.keys.split_off(&(after + 1));
                    let items: Vec<_> = mb
                        .items
                        .iter()
                        .take(self.config.max_batch)
                        .map(|(s, e)| (*s, e.clone()))
                        .collect();
                    Datagram::Batch {
                        more: mb.items.len() > items.len(),
                        items,
                    }
                }
                None => Datagram::UnknownMember { member },
            },
            other => {
                self.stats.rejected_datagrams += 1;
                fx.record(Event::DatagramRejected {
                    from,
                    error: format!("unexpected at an agent: {}", other.name()),
                });
                return;
            }
        };
        fx.send(from, reply.encode());
    }

    fn deliver(
        &mut self,
        now: Millis,
        from: Peer,
        req: u64,
        address: Address,
        item: Stored,
        fx: &mut Effects,
    ) -> Datagram {
        let to = item.to();
        let valid_until = match self.addresses.get(&address.token) {
            Some(e) if address.agent == self.id && e.member == to => self.valid_until(e),
            _ => {
                self.stats.refused += 1;
                fx.record(Event::AddressRefused {
                    member: to,
                    sender: from,
                    reason: "unknown address".into(),
                });
                return Datagram::Refused {
                    req,
                    reason: Refusal::UnknownAddress,
                };
            }
        };
        if valid_until <= now {
            self.stats.refused += 1;
            fx.record(Event::AddressRefused {
                member: to,
                sender: from,
                reason: format!("address expired at {valid_until} ms"),
            });
            return Datagram::Refused {
                req,
                reason: Refusal::AddressExpired { valid_until },
            };
        }
        let mailbox = self.mailboxes.entry(to).or_default();
        // A retransmission of an envelope already stored is acknowledged
        // again but stored once.
        let key = item.dedup_key();
        if !mailbox.keys.values().any(|k| *k == key) {
            self.next_seq += 1;
            mailbox.keys.insert(self.next_seq, key);
            mailbox.items.insert(self.next_seq, item);
            self.stats.stored += 1;
        }
        Datagram::Accepted { req }
    }
}

impl crate::core::io::Host for MailboxAgent {
    fn handle(&mut self, now: Millis, input: Input) -> Effects {
        MailboxAgent::handle(self, now, input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::EnvelopeId;
    use crate::core::io::Effect;
    use crate::core::wire::Envelope;

    fn agent() -> MailboxAgent {
        MailboxAgent::new(
            AgentId(0),
            MailboxConfig {
                ephemeral_ttl_ms: 1_000,
                long_term_ttl_ms: 100_000,
                max_batch: 2,
            },
            0,
        )
    }

    fn reply(fx: Effects) -> Datagram {
        fx.0.into_iter()
            .find_map(|e| match e {
                Effect::Send { bytes, .. } => Datagram::decode(&bytes).ok(),
                _ => None,
            })
            .expect("a reply")
    }

    fn send(a: &mut MailboxAgent, now: Millis, d: Datagram) -> Datagram {
        reply(a.handle(
            now,
            Input::Datagram {
                from: Peer::Member(MemberId(9)),
                bytes: d.encode(),
            },
        ))
    }

    fn envelope(seq: u64) -> Envelope {
        Envelope {
            id: EnvelopeId {
                sender: MemberId(9),
                seq,
            },
            to: MemberId(1),
            message_type: 1,
            ciphertext: vec![1, 2, 3],
        }
    }

    #[test]
    fn a_lookup_gives_the_newest_long_term_address_or_none() {
        let mut a = agent();
        let lookup =
            |a: &mut MailboxAgent, member| send(a, 0, Datagram::LookupAddress { req: 5, member });
        assert_eq!(
            lookup(&mut a, MemberId(1)),
            Datagram::CurrentAddress {
                req: 5,
                member: MemberId(1),
                long_term: None
            }
        );
        a.register(MemberId(1), 0);
        let (renewed, _) = a.renew(MemberId(1), 10);
        assert_eq!(
            lookup(&mut a, MemberId(1)),
            Datagram::CurrentAddress {
                req: 5,
                member: MemberId(1),
                long_term: Some(renewed)
            }
        );
    }

    #[test]
    fn expired_ephemeral_address_is_refused_but_long_term_works() {
        let mut a = agent();
        let (long, eph) = a.register(MemberId(1), 0);
        let r = send(
            &mut a,
            2_000,
            Datagram::Deliver {
                req: 1,
                address: eph.address,
                envelope: envelope(1),
            },
        );
        assert_eq!(
            r,
            Datagram::Refused {
                req: 1,
                reason: Refusal::AddressExpired { valid_until: 1_000 }
            }
        );
        let r = send(
            &mut a,
            2_000,
            Datagram::Deliver {
                req: 2,
                address: long.address,
                envelope: envelope(1),
            },
        );
        assert_eq!(r, Datagram::Accepted { req: 2 });
    }

    /// A publication retried after its first copy arrived (the
    /// acknowledgement was late) must not hand a key out twice: the old
    /// agent queued the retried key packages again, and a later claim got
    /// one its owner had already joined with (`coordinated-adversity`
    /// seed 10: a Welcome with no matching key package).
    #[test]
    fn a_retried_publication_hands_no_key_out_twice() {
        let mut a = agent();
        let (m, kps) = (MemberId(1), vec![vec![1u8], vec![2u8]]);
        let publish = |a: &mut MailboxAgent, req| {
            let keys = Datagram::PublishKeys {
                req,
                member: m,
                identity: [7; 32],
                one_time_keys: vec![[1; 32], [2; 32]],
                fallback_key: None,
            };
            send(a, 0, keys);
            let key_packages = kps.clone();
            send(
                a,
                0,
                Datagram::PublishKeyPackages {
                    req,
                    member: m,
                    key_packages,
                },
            )
        };
        let claim = |a: &mut MailboxAgent, req| {
            let Datagram::KeyPackageClaimed { key_package, .. } =
                send(a, 0, Datagram::ClaimKeyPackage { req, member: m })
            else {
                panic!()
            };
            let Datagram::KeyClaimed { one_time_key, .. } =
                send(a, 0, Datagram::ClaimKey { req, member: m })
            else {
                panic!()
            };
            (key_package, one_time_key)
        };
        publish(&mut a, 1);
        assert_eq!(claim(&mut a, 2), (Some(vec![1]), Some([1; 32])));
        publish(&mut a, 1);
        assert_eq!(claim(&mut a, 3), (Some(vec![2]), Some([2; 32])));
        assert_eq!(claim(&mut a, 4), (None, None));
    }

    fn deliver(a: &mut MailboxAgent, now: Millis, address: Address, seq: u64) -> Datagram {
        send(
            a,
            now,
            Datagram::Deliver {
                req: seq,
                address,
                envelope: envelope(seq),
            },
        )
    }

    #[test]
    fn a_renewal_is_a_new_address_and_the_old_one_lives_as_long_as_it() {
        let mut a = agent();
        let (old, _) = a.register(MemberId(1), 0);
        let Datagram::Addresses { long_term: new, .. } = send(
            &mut a,
            50_000,
            Datagram::RenewLongTerm {
                req: 1,
                member: MemberId(1),
            },
        ) else {
            panic!()
        };
        assert_ne!(new.address, old.address);
        assert_eq!(new.valid_until, 150_000);
        // Re-registering hands out the newest one.
        assert_eq!(a.register(MemberId(1), 60_000).0, new);
        // Past its own date, the old address is honoured with the new one.
        for (seq, address) in [(1, old.address), (2, new.address)] {
            assert_eq!(
                deliver(&mut a, 120_000, address, seq),
                Datagram::Accepted { req: seq }
            );
        }
        // Once the member stops renewing, both end at the newest date.
        for (seq, address) in [(3, old.address), (4, new.address)] {
            assert_eq!(
                deliver(&mut a, 150_000, address, seq),
                Datagram::Refused {
                    req: seq,
                    reason: Refusal::AddressExpired {
                        valid_until: 150_000
                    }
                }
            );
        }
    }

    #[test]
    fn expiring_a_members_addresses_spares_every_long_term_one() {
        let mut a = agent();
        let (old, _) = a.register(MemberId(1), 0);
        let (new, eph) = a.renew(MemberId(1), 10);
        a.handle(20, Input::Fault(FaultCommand::ExpireAddresses(MemberId(1))));
        assert!(matches!(
            deliver(&mut a, 30, eph.address, 1),
            Datagram::Refused { .. }
        ));
        for (seq, address) in [(2, old.address), (3, new.address)] {
            assert_eq!(
                deliver(&mut a, 30, address, seq),
                Datagram::Accepted { req: seq }
            );
        }
    }

    #[test]
    fn fetch_pages_and_drops_what_was_acknowledged() {
        let mut a = agent();
        let (long, _) = a.register(MemberId(1), 0);
        for s in 1..=3 {
            send(
                &mut a,
                10,
                Datagram::Deliver {
                    req: s,
                    address: long.address,
                    envelope: envelope(s),
                },
            );
        }
        // A retransmission is stored once.
        send(
            &mut a,
            10,
            Datagram::Deliver {
                req: 9,
                address: long.address,
                envelope: envelope(3),
            },
        );
        let Datagram::Batch { items, more } = send(
            &mut a,
            20,
            Datagram::Fetch {
                member: MemberId(1),
                after: 0,
            },
        ) else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        assert!(more);
        let last = items[1].0;
        let Datagram::Batch { items, more } = send(
            &mut a,
            20,
            Datagram::Fetch {
                member: MemberId(1),
                after: last,
            },
        ) else {
            panic!()
        };
        assert_eq!(items.len(), 1);
        assert!(!more);
        assert_eq!(a.stats.stored, 3);
    }

    #[test]
    fn malformed_datagram_is_counted_and_state_kept() {
        let mut a = agent();
        a.register(MemberId(1), 0);
        let fx = a.handle(
            5,
            Input::Datagram {
                from: Peer::Member(MemberId(2)),
                bytes: vec![0xff; 7],
            },
        );
        assert!(matches!(
            fx.0.as_slice(),
            [Effect::Record(Event::DatagramRejected { .. })]
        ));
        assert_eq!(a.stats.rejected_datagrams, 1);
        assert!(a.mailboxes.contains_key(&MemberId(1)));
    }

    #[test]
    fn one_time_keys_are_handed_out_once_then_the_fallback() {
        let mut a = agent();
        send(
            &mut a,
            0,
            Datagram::PublishKeys {
                req: 1,
                member: MemberId(1),
                identity: [7; 32],
                one_time_keys: vec![[1; 32]],
                fallback_key: Some([2; 32]),
            },
        );
        let claim = |a: &mut MailboxAgent| match send(
            a,
            0,
            Datagram::ClaimKey {
                req: 2,
                member: MemberId(1),
            },
        ) {
            Datagram::KeyClaimed { one_time_key, .. } => one_time_key,
            _ => panic!(),
        };
        assert_eq!(claim(&mut a), Some([1; 32]));
        assert_eq!(claim(&mut a), Some([2; 32]));
    }

    /// An agent holding m1's key packages [1] and [2].
    fn with_two_key_packages() -> MailboxAgent {
        let mut a = agent();
        let publish = Datagram::PublishKeyPackages {
            req: 1,
            member: MemberId(1),
            key_packages: vec![vec![1], vec![2]],
        };
        assert_eq!(send(&mut a, 0, publish), Datagram::Accepted { req: 1 });
        a
    }

    /// m9's claim `req` of one of m1's key packages.
    fn claim_package(a: &mut MailboxAgent, req: u64) -> Option<Vec<u8>> {
        let claim = Datagram::ClaimKeyPackage {
            req,
            member: MemberId(1),
        };
        match send(a, 0, claim) {
            Datagram::KeyPackageClaimed { key_package, .. } => key_package,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn key_packages_are_handed_out_once_each() {
        let mut a = with_two_key_packages();
        let claims: Vec<_> = (2..5).map(|req| claim_package(&mut a, req)).collect();
        assert_eq!(claims, vec![Some(vec![1]), Some(vec![2]), None]);
    }

    /// A claim duplicated on the wire or retried (the same request) gets
    /// the package its first copy took; only a new request takes another.
    /// Every copy took one, and a contact's few packages ran out under
    /// duplication (`coordinated-add-before-takeover`).
    #[test]
    fn a_claim_copied_or_retried_gets_the_same_key_package() {
        let mut a = with_two_key_packages();
        assert_eq!(claim_package(&mut a, 2), Some(vec![1]));
        assert_eq!(claim_package(&mut a, 2), Some(vec![1]), "a copy");
        assert_eq!(claim_package(&mut a, 3), Some(vec![2]), "a new request");
        assert_eq!(claim_package(&mut a, 4), None);
    }

    #[test]
    fn well_known_document_is_served_only_at_its_path() {
        let mut a = agent();
        let r = send(
            &mut a,
            0,
            Datagram::GetConfig {
                req: 1,
                path: WELL_KNOWN.into(),
            },
        );
        assert!(matches!(r, Datagram::Config { .. }));
        let r = send(
            &mut a,
            0,
            Datagram::GetConfig {
                req: 2,
                path: "/x".into(),
            },
        );
        assert_eq!(
            r,
            Datagram::Refused {
                req: 2,
                reason: Refusal::NotFound
            }
        );
    }
}
