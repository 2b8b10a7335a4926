use super::*;

/// Group messages: who sent what to whom, what the mailboxes acknowledged
/// and what members delivered.
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    pub sent: BTreeMap<MessageId, At<Sent>>,
    /// Envelope to (message, recipient).
    pub envelopes: BTreeMap<EnvelopeId, (MessageId, MemberId)>,
    /// Earliest ack time per envelope.
    pub acks: BTreeMap<EnvelopeId, Millis>,
    /// Every ack of each envelope: which agent, and when.
    pub acked_by: BTreeMap<EnvelopeId, Vec<(crate::core::ids::AgentId, Millis)>>,
    /// Per host, every `Delivered` in trace order.
    pub deliveries: BTreeMap<MemberId, Vec<At<MessageId>>>,
    pub parent_missing: Vec<At<(MessageId, Vec<MessageId>)>>,
}

impl Delivery {
    /// Takes in one record; `false` when it was this part's to use and
    /// could not be (on the wrong host, say).
    pub(super) fn note(&mut self, idx: usize, r: &Record, host: Option<MemberId>) -> bool {
        let t = r.t;
        let mut ok = true;
        match &r.event {
            Event::Host(HostEvent::MessageSent {
                msg,
                recipients,
                parents,
                control,
                submitted,
            }) => {
                let s = Sent {
                    t,
                    idx,
                    recipients: recipients.iter().copied().collect(),
                    parents: parents.clone(),
                    control: *control,
                    submitted: *submitted,
                };
                match At::on(host, t, idx, s) {
                    Some(a) if a.host == msg.sender && !self.sent.contains_key(msg) => {
                        self.sent.insert(*msg, a);
                    }
                    _ => ok = false,
                }
            }
            Event::Host(HostEvent::EnvelopeSent { env, msg, to, .. }) => {
                self.envelopes.entry(*env).or_insert((*msg, *to));
            }
            Event::Host(HostEvent::DeliveryAcked { env, agent, .. }) => {
                self.acks.entry(*env).or_insert(t);
                self.acked_by.entry(*env).or_default().push((*agent, t));
            }
            Event::Host(HostEvent::Delivered { msg }) => match At::on(host, t, idx, *msg) {
                Some(a) => self.deliveries.entry(a.host).or_default().push(a),
                None => ok = false,
            },
            Event::Host(HostEvent::ParentMissing { msg, missing }) => {
                match At::on(host, t, idx, (*msg, missing.clone())) {
                    Some(a) => self.parent_missing.push(a),
                    None => ok = false,
                }
            }
            _ => {}
        }
        ok
    }
}

/// Questions the checkers ask of this part.
impl Delivery {
    /// Everything `msg` causally follows: parents, transitively, and each
    /// sender's own earlier messages. Following only the next-lower known
    /// seq of a sender keeps this linear while still reaching all of them.
    pub fn causal_past(&self, msg: MessageId) -> Past {
        let mut past = Past::default();
        let mut stack = vec![msg];
        let mut seen = BTreeSet::from([msg]);
        while let Some(m) = stack.pop() {
            let lo = MessageId {
                sender: m.sender,
                seq: 0,
            };
            let earlier = self.sent.range(lo..m).next_back().map(|(id, _)| *id);
            let parents = match self.sent.get(&m) {
                Some(s) => s.what.parents.as_slice(),
                None => {
                    past.incomplete.insert(m);
                    &[]
                }
            };
            for p in earlier.into_iter().chain(parents.iter().copied()) {
                past.set.insert(p);
                if seen.insert(p) {
                    stack.push(p);
                }
            }
        }
        past.set.remove(&msg);
        past
    }

    /// Whether `msg` left its author: a mailbox acknowledged a copy, or
    /// another member delivered it. One that never did dies with its
    /// author's state, as an unacknowledged write dies with its client.
    pub fn escaped(&self, msg: MessageId) -> bool {
        (self.envelopes.iter()).any(|(env, (m, _))| *m == msg && self.acks.contains_key(env))
            || (self.deliveries.iter())
                .any(|(host, ds)| *host != msg.sender && ds.iter().any(|d| d.what == msg))
    }

    /// The first `Delivered` of each message per host.
    pub fn first_deliveries(&self) -> BTreeMap<(MemberId, MessageId), (usize, Millis)> {
        let mut out = BTreeMap::new();
        for (host, ds) in &self.deliveries {
            for d in ds {
                out.entry((*host, d.what)).or_insert((d.idx, d.t));
            }
        }
        out
    }

    /// Every sent message's causal past, for checkers that ask of many.
    pub fn pasts(&self) -> BTreeMap<MessageId, BTreeSet<MessageId>> {
        (self.sent.keys())
            .map(|m| (*m, self.causal_past(*m).set))
            .collect()
    }
}
