//! Hand-written traces for the checkers' unit tests: small enough to read,
//! built with the same event types the simulator writes.

use crate::core::ids::{AgentId, EnvelopeId, MemberId, MessageId, Millis, Peer, ServerId};
use crate::core::member::membership::Variant;
use crate::faults::FaultKind;
use crate::trace::Record;
use crate::trace::Trace;
use crate::trace::{Bounds, Event, HostEvent, OpKind, Phase};
use std::collections::BTreeMap;

pub const HEAL: Millis = 1_000;
pub const CONVERGENCE: Millis = 500;
pub const DETECTION: Millis = 500;

pub fn m(n: u32) -> MemberId {
    MemberId(n)
}

pub fn id(sender: u32, seq: u32) -> MessageId {
    MessageId {
        sender: MemberId(sender),
        seq,
    }
}

fn ms(ns: &[u32]) -> Vec<MemberId> {
    ns.iter().map(|n| MemberId(*n)).collect()
}

pub struct Tb {
    pub trace: Trace,
    next_env: u64,
}

impl Tb {
    /// A run of members `ns`, all founders, with the test bounds.
    pub fn start(ns: &[u32]) -> Tb {
        let mut tb = Tb {
            trace: Trace::default(),
            next_env: 0,
        };
        tb.at(
            0,
            "sim",
            Event::RunStarted {
                scenario: "test".into(),
                seed: 1,
                variant: Variant::Lww,
                members: ms(ns),
                agents: vec![AgentId(0)],
                founders: ms(ns),
                mailboxes: Vec::new(),
                bounds: Bounds {
                    heal_at: HEAL,
                    convergence_ms: CONVERGENCE,
                    detection_ms: DETECTION,
                    recovery_ms: None,
                    servers: None,
                },
                expect: BTreeMap::new(),
                format: crate::trace::TRACE_FORMAT,
                ops: Vec::new(),
            },
        );
        tb
    }

    /// Gives the run server bounds: two candidates, a takeover wait of
    /// 100 ms, a nominee's answer within 200 ms, a reply within 50 ms.
    pub fn with_servers(&mut self) -> &mut Tb {
        if let Some(Event::RunStarted { bounds, .. }) =
            self.trace.records.first_mut().map(|r| &mut r.event)
        {
            bounds.servers = Some(crate::trace::ServerBounds {
                servers: 2,
                takeover_after_ms: 100,
                ack_timeout_ms: 200,
                reply_ms: 50,
            });
        }
        self
    }

    /// A trace with no `RunStarted`.
    pub fn headless() -> Tb {
        Tb {
            trace: Trace::default(),
            next_env: 0,
        }
    }

    pub fn at(&mut self, t: Millis, host: &str, event: Event) -> &mut Tb {
        self.trace.push(Record {
            t,
            host: host.parse().expect("a host name"),
            event,
        });
        self
    }

    fn on(&mut self, t: Millis, host: u32, event: Event) -> &mut Tb {
        self.at(t, &format!("m{host}"), event)
    }

    pub fn send(
        &mut self,
        t: Millis,
        msg: MessageId,
        to: &[u32],
        parents: &[MessageId],
    ) -> &mut Tb {
        self.sent(t, msg, to, parents, false)
    }

    pub fn sent(
        &mut self,
        t: Millis,
        msg: MessageId,
        to: &[u32],
        parents: &[MessageId],
        control: bool,
    ) -> &mut Tb {
        let e = Event::Host(HostEvent::MessageSent {
            msg,
            recipients: ms(to),
            parents: parents.to_vec(),
            control,
            submitted: false,
        });
        self.on(t, msg.sender.0, e)
    }

    /// A group message handed to the server agent to order.
    pub fn submitted(&mut self, t: Millis, msg: MessageId, to: &[u32]) -> &mut Tb {
        let e = Event::Host(HostEvent::MessageSent {
            msg,
            recipients: ms(to),
            parents: Vec::new(),
            control: false,
            submitted: true,
        });
        self.on(t, msg.sender.0, e)
    }

    /// An envelope of `msg` to `to`, acknowledged by the mailbox if `ack`.
    pub fn envelope(&mut self, t: Millis, msg: MessageId, to: u32, ack: bool) -> &mut Tb {
        let env = EnvelopeId {
            sender: msg.sender,
            seq: self.next_env,
        };
        self.next_env += 1;
        let sent = Event::Host(HostEvent::EnvelopeSent {
            env,
            msg,
            to: m(to),
            prekey: false,
            bytes: 100,
        });
        self.on(t, msg.sender.0, sent);
        if ack {
            let acked = Event::Host(HostEvent::DeliveryAcked {
                env,
                to: m(to),
                agent: AgentId(0),
            });
            self.on(t + 1, msg.sender.0, acked);
        }
        self
    }

    pub fn deliver(&mut self, t: Millis, host: u32, msg: MessageId) -> &mut Tb {
        self.on(t, host, Event::Host(HostEvent::Delivered { msg }))
    }

    /// Send to `to`, acknowledge and deliver at every other recipient.
    pub fn exchange(
        &mut self,
        t: Millis,
        msg: MessageId,
        to: &[u32],
        parents: &[MessageId],
    ) -> &mut Tb {
        self.send(t, msg, to, parents);
        for &r in to.iter().filter(|r| **r != msg.sender.0) {
            self.envelope(t, msg, r, true);
            self.deliver(t + 5, r, msg);
        }
        self
    }

    /// `msg`'s author renamed the group to `meta`, and holds it.
    pub fn renamed(
        &mut self,
        t: Millis,
        msg: MessageId,
        meta: crate::core::member::particle::GroupMeta,
    ) -> &mut Tb {
        let e = Event::Host(HostEvent::GroupRenamed {
            msg,
            name: meta.name,
            picture: meta.picture,
            stamp: meta.stamp,
        });
        self.on(t, msg.sender.0, e)
    }

    pub fn remove(&mut self, t: Millis, host: u32, target: u32, msg: MessageId) -> &mut Tb {
        self.op(t, host, OpKind::Remove, target, msg)
    }

    pub fn add(&mut self, t: Millis, host: u32, target: u32, msg: MessageId) -> &mut Tb {
        self.op(t, host, OpKind::Add, target, msg)
    }

    fn op(&mut self, t: Millis, host: u32, op: OpKind, target: u32, msg: MessageId) -> &mut Tb {
        let e = Event::Host(HostEvent::MembershipOp {
            msg,
            op,
            target: m(target),
        });
        self.on(t, host, e)
    }

    pub fn changed(&mut self, t: Millis, host: u32, view: &[u32], in_group: bool) -> &mut Tb {
        let e = Event::Host(HostEvent::MembershipChanged {
            view: ms(view),
            in_group,
            cause: None,
        });
        self.on(t, host, e)
    }

    pub fn fork(&mut self, t: Millis, host: u32, other: &[u32]) -> &mut Tb {
        let e = Event::Host(HostEvent::ForkDetected {
            other_side: ms(other),
            evidence: "test".into(),
        });
        self.on(t, host, e)
    }

    pub fn parent_missing(
        &mut self,
        t: Millis,
        host: u32,
        msg: MessageId,
        missing: &[MessageId],
    ) -> &mut Tb {
        let e = Event::Host(HostEvent::ParentMissing {
            msg,
            missing: missing.to_vec(),
        });
        self.on(t, host, e)
    }

    /// Server `c{server}` ordered a message (`commit` or not) from
    /// `sender` at `seq` of `generation`, counting `members` in the group.
    #[allow(clippy::too_many_arguments)]
    pub fn ordered(
        &mut self,
        t: Millis,
        server: u32,
        generation: u32,
        seq: u64,
        epoch: u64,
        sender: u32,
        commit: bool,
        members: &[u32],
    ) -> &mut Tb {
        let e = Event::Host(HostEvent::Ordered {
            group: 1,
            generation,
            seq,
            epoch,
            sender: m(sender),
            commit,
            members: ms(members),
        });
        self.at(t, &format!("c{server}"), e)
    }

    /// Member `host` joined `generation` at `c{server}`, formed by
    /// `nominator`.
    pub fn joined(
        &mut self,
        t: Millis,
        host: u32,
        generation: u32,
        server: u32,
        nominator: u32,
    ) -> &mut Tb {
        let e = Event::Host(HostEvent::Joined {
            generation,
            server: ServerId(server),
            nominator: m(nominator),
            epoch: 0,
        });
        self.on(t, host, e)
    }

    /// Member `host` entered `epoch` of `generation` at `c{server}`.
    pub fn epoch(
        &mut self,
        t: Millis,
        host: u32,
        (generation, server): (u32, u32),
        epoch: u64,
        authenticator: &str,
    ) -> &mut Tb {
        let e = Event::Host(HostEvent::EpochEntered {
            generation,
            server: ServerId(server),
            epoch,
            authenticator: authenticator.into(),
        });
        self.on(t, host, e)
    }

    /// Member `host` restarted after a crash, with or without its
    /// volatile state.
    pub fn restarted(&mut self, t: Millis, host: u32, volatile_lost: bool) -> &mut Tb {
        let e = Event::Host(HostEvent::MemberStarted {
            restart: true,
            volatile_lost,
        });
        self.on(t, host, e)
    }

    /// Fault `index` of the plan begins or ends at `t`.
    pub fn fault(&mut self, t: Millis, index: usize, phase: Phase, fault: FaultKind) -> &mut Tb {
        self.at(
            t,
            "sim",
            Event::Fault {
                phase,
                index,
                fault,
            },
        )
    }

    /// Gives each member `n` the mailbox agents `boxes[n]` (the run
    /// header of a real run records them).
    pub fn mailboxes(&mut self, boxes: &[&[u32]]) -> &mut Tb {
        if let Some(Event::RunStarted { mailboxes, .. }) =
            self.trace.records.first_mut().map(|r| &mut r.event)
        {
            *mailboxes = (boxes.iter().enumerate())
                .map(|(n, b)| (m(n as u32), b.iter().map(|a| AgentId(*a)).collect()))
                .collect();
        }
        self
    }

    /// A partition between members `a` and `b` from `t`, healed at
    /// `until` if given.
    pub fn partition(&mut self, t: Millis, a: &[u32], b: &[u32], until: Option<Millis>) -> &mut Tb {
        let names = |ns: &[u32]| ns.iter().map(|n| Peer::Member(m(*n))).collect::<Vec<_>>();
        let fault = FaultKind::Partition {
            a: names(a),
            b: names(b),
        };
        self.fault(t, 0, Phase::Begin, fault.clone());
        if let Some(u) = until {
            self.fault(u, 0, Phase::End, fault);
        }
        self
    }

    pub fn fell_back(&mut self, t: Millis, host: u32) -> &mut Tb {
        self.fell_back_for(t, host, crate::core::event::FallbackCause::NoReceipt)
    }

    pub fn fell_back_for(
        &mut self,
        t: Millis,
        host: u32,
        cause: crate::core::event::FallbackCause,
    ) -> &mut Tb {
        let e = Event::Host(HostEvent::FellBack {
            cause,
            reason: "test".into(),
            liar: None,
        });
        self.on(t, host, e)
    }

    /// Server `c{server}` lied (`mode`) to `to` about slot `seq` of
    /// `generation`.
    pub fn lied(
        &mut self,
        t: Millis,
        server: u32,
        mode: crate::core::server::dishonest::Mode,
        to: &[u32],
        (generation, seq): (u32, u64),
    ) -> &mut Tb {
        let e = Event::Host(HostEvent::Lied {
            mode,
            to: to.iter().map(|n| m(*n)).collect(),
            generation,
            seq,
        });
        self.at(t, &format!("c{server}"), e)
    }

    /// Server `c{server}` accepted `generation`, nominated by `nominator`.
    pub fn accepted(&mut self, t: Millis, server: u32, generation: u32, nominator: u32) -> &mut Tb {
        let e = Event::Host(HostEvent::GenerationAccepted {
            group: 1,
            generation,
            nominator: m(nominator),
        });
        self.at(t, &format!("c{server}"), e)
    }

    pub fn end(&mut self, t: Millis, running: &[u32]) -> &mut Tb {
        let running = running
            .iter()
            .map(|n| Peer::Member(m(*n)))
            .chain([Peer::Agent(AgentId(0))]);
        let e = Event::RunEnded {
            running: running.collect(),
        };
        self.at(t, "sim", e)
    }

    pub fn final_view(&mut self, member: u32, in_group: bool, view: &[u32], lost: bool) -> &mut Tb {
        let e = Event::FinalView {
            member: m(member),
            in_group,
            view: ms(view),
            state_lost: lost,
            meta: None,
        };
        let t = self.trace.records.last().map_or(0, |r| r.t);
        self.at(t, "sim", e)
    }

    /// In the group, holding `view` and the rename `meta`.
    pub fn final_meta(
        &mut self,
        member: u32,
        view: &[u32],
        meta: Option<crate::core::member::particle::GroupMeta>,
    ) -> &mut Tb {
        let e = Event::FinalView {
            member: m(member),
            in_group: true,
            view: ms(view),
            state_lost: false,
            meta,
        };
        let t = self.trace.records.last().map_or(0, |r| r.t);
        self.at(t, "sim", e)
    }

    /// End with everyone in `ns` running, in the group and holding `view`.
    pub fn end_agreed(&mut self, ns: &[u32], view: &[u32]) -> &mut Tb {
        self.end(3_000, ns);
        for &n in ns {
            self.final_view(n, true, view, false);
        }
        self
    }

    pub fn build(&self) -> Trace {
        self.trace.clone()
    }
}

/// Three members exchange causally chained messages; nothing goes wrong.
pub fn healthy() -> Trace {
    Tb::start(&[0, 1, 2])
        .changed(10, 0, &[0, 1, 2], true)
        .changed(10, 1, &[0, 1, 2], true)
        .changed(10, 2, &[0, 1, 2], true)
        .exchange(100, id(0, 0), &[0, 1, 2], &[])
        .exchange(200, id(1, 0), &[0, 1, 2], &[id(0, 0)])
        .exchange(300, id(2, 0), &[0, 1, 2], &[id(1, 0)])
        .exchange(400, id(0, 1), &[0, 1, 2], &[id(2, 0)])
        .end_agreed(&[0, 1, 2], &[0, 1, 2])
        .build()
}
