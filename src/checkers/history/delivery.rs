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
            Event::Host(HostEvent::DeliveryAcked { env, .. }) => {
                self.acks.entry(*env).or_insert(t);
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
