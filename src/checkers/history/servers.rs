use super::*;
use crate::core::server::sequencer::Rejection;

/// Coordinated groups: what the server agents ordered, the receipts members
/// took, and members falling back and joining generations.
#[derive(Clone, Debug, Default)]
pub struct Servers {
    /// Coordinated groups: when the server agent ordered each message,
    /// which acknowledges it for every recipient at once.
    pub ordered: BTreeMap<MessageId, Millis>,
    /// Coordinated groups: each ordered message's slot, and who the server
    /// counted as members when it filled each slot.
    pub slots: BTreeMap<MessageId, Slot>,
    pub ordered_for: BTreeMap<Slot, BTreeSet<MemberId>>,
    /// Coordinated groups: the (generation, server) streams each member
    /// joined.
    pub joined: BTreeMap<MemberId, BTreeSet<(u32, crate::core::ids::ServerId)>>,
    /// Coordinated groups: the slots that hold commits, with the epoch each
    /// was built on. A member counted in a commit's slot and not in the
    /// next was removed by it.
    pub commits: BTreeMap<Slot, u64>,
    /// Coordinated groups: members switching to lightweight mode (and
    /// why), and members joining a generation.
    pub fallbacks: Vec<At<crate::core::event::FallbackCause>>,
    pub joins: Vec<At<u32>>,
    /// Every acknowledgement a member took for its own submission, with
    /// the slot its receipt names.
    pub submit_acks: Vec<At<(MessageId, Slot)>>,
    /// Who the server agents recorded ordering in each slot, and when it
    /// was first filled.
    pub ordered_senders: BTreeMap<Slot, BTreeSet<MemberId>>,
    pub slot_at: BTreeMap<Slot, Millis>,
    /// Every submission or nomination a server turned away: (when, which
    /// server, whose, why).
    pub rejections: Vec<(Millis, ServerId, MemberId, Rejection)>,
}

impl Servers {
    /// Takes in one record; `false` when it was this part's to use and
    /// could not be (on the wrong host, say).
    pub(super) fn note(&mut self, idx: usize, r: &Record, host: Option<MemberId>) -> bool {
        let t = r.t;
        let mut ok = true;
        match &r.event {
            Event::Host(HostEvent::SubmitAcked {
                msg,
                server,
                generation,
                seq,
            }) => {
                let slot = Slot {
                    generation: *generation,
                    server: *server,
                    seq: *seq,
                };
                self.ordered.entry(*msg).or_insert(t);
                self.slots.entry(*msg).or_insert(slot);
                match At::on(host, t, idx, (*msg, slot)) {
                    Some(a) => self.submit_acks.push(a),
                    None => ok = false,
                }
            }
            Event::Host(HostEvent::Joined {
                generation, server, ..
            }) => match At::on(host, t, idx, *generation) {
                Some(a) => {
                    self.joined
                        .entry(a.host)
                        .or_default()
                        .insert((*generation, *server));
                    self.joins.push(a);
                }
                None => ok = false,
            },
            Event::Host(HostEvent::Ordered {
                generation,
                seq,
                members,
                epoch,
                commit,
                sender,
                ..
            }) => {
                if let Some(Peer::Server(server)) = r.host.peer() {
                    let slot = Slot {
                        generation: *generation,
                        server,
                        seq: *seq,
                    };
                    self.ordered_senders
                        .entry(slot)
                        .or_default()
                        .insert(*sender);
                    self.slot_at.entry(slot).or_insert(t);
                    if *commit {
                        self.commits.entry(slot).or_insert(*epoch);
                    }
                    self.ordered_for
                        .entry(slot)
                        .or_insert_with(|| members.iter().copied().collect());
                }
            }
            Event::Host(HostEvent::SubmitRejected { sender, reason }) => {
                if let Some(Peer::Server(server)) = r.host.peer() {
                    self.rejections.push((t, server, *sender, reason.clone()));
                }
            }
            Event::Host(HostEvent::FellBack { cause, .. }) => match At::on(host, t, idx, *cause) {
                Some(a) => self.fallbacks.push(a),
                None => ok = false,
            },
            _ => {}
        }
        ok
    }
}

/// Questions the checkers ask of this part.
impl Servers {
    /// Per member, where in the trace it fell back from which generation
    /// (founders of a coordinated group start in generation 1).
    pub fn fell_from(&self) -> BTreeMap<MemberId, Vec<(usize, u32)>> {
        let mut events: Vec<(usize, MemberId, Option<u32>)> = self
            .joins
            .iter()
            .map(|j| (j.idx, j.host, Some(j.what)))
            .chain(self.fallbacks.iter().map(|f| (f.idx, f.host, None)))
            .collect();
        events.sort();
        let mut current: BTreeMap<MemberId, u32> = BTreeMap::new();
        let mut out: BTreeMap<MemberId, Vec<(usize, u32)>> = BTreeMap::new();
        for (idx, m, joined) in events {
            match joined {
                Some(g) => {
                    current.insert(m, g);
                }
                None => out
                    .entry(m)
                    .or_default()
                    .push((idx, current.get(&m).copied().unwrap_or(1))),
            }
        }
        out
    }
}
