use super::*;
use crate::faults::ServerFailure;

/// What went wrong on purpose: who could reach whom, the server agents that
/// failed or lied, the accusations members made, the attacker's forgeries.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Server agents that crashed, and when.
    pub server_failures: Vec<(Millis, ServerId)>,
    /// Server agents back from a crash with their state kept, or done
    /// refusing after they turned a request away, and when.
    pub server_recoveries: Vec<(Millis, ServerId)>,
    /// Requests a refusing server turned away: (time, server, sender).
    pub turned_away: Vec<(Millis, ServerId, MemberId)>,
    /// Datagrams from a server agent to a member that the network lost:
    /// (time, server, member). A refusal sent at that moment never told
    /// the member anything.
    pub lost_answers: Vec<(Millis, ServerId, MemberId)>,
    /// Dishonest-server faults taking effect: (time, server).
    pub dishonest_faults: Vec<(Millis, ServerId)>,
    /// What lying servers recorded of their lies, in trace order.
    pub lies: Vec<Lie>,
    /// Members accusing a server with proof (`equivocation_detected`), or
    /// falling back because it lied (`fell_back` naming the `liar`).
    pub accusations: Vec<At<(ServerId, bool)>>,
    /// Servers under a `refuse` fault, and whether it has turned a request
    /// away yet.
    pub refusing: BTreeMap<ServerId, bool>,
    /// Who could reach whom, and when.
    pub reach: crate::checkers::reach::Reach,
    /// Members falling back because their server withheld something of
    /// theirs it had receipted: not an accusation (an honest server whose
    /// fan-out is slow looks the same), but the victim of a drop noticing.
    pub withheld: Vec<At<()>>,
    /// The attacker fault's forgeries, in trace order.
    pub forged: Vec<Forgery>,
    /// When a member's clock jumped: a clock skew beginning or ending on
    /// it. Its timers fire off by the jump, so a deadline that spans one
    /// cannot be held to the other members' clock.
    pub clock_jumps: Vec<(Millis, MemberId)>,
    /// Every fault of the plan as it was carried out: when it began, when
    /// it was lifted (`None` if it lasted to the end), and whom it names
    /// (nobody for network-wide weather).
    pub spans: Vec<Span>,
    /// When members fell back on their own evidence that their server
    /// failed (no receipt, a refusal, a fence, a withheld message, a
    /// lie), not because a peer or a later generation told them: the
    /// moments a failure with no end of its own was detected.
    pub first_hand: Vec<Millis>,
    /// Mailbox agents whose store a crash wiped, and when: what they had
    /// acknowledged and not handed over went with it.
    pub agent_wipes: Vec<(Millis, crate::core::ids::AgentId)>,
    /// Members whose device a crash wiped, and when: what they knew went
    /// with it.
    pub member_wipes: Vec<(Millis, MemberId)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub index: usize,
    pub from: Millis,
    pub until: Option<Millis>,
    pub hosts: Vec<Peer>,
    pub kind: crate::faults::FaultType,
    /// A partition's two sides (one-way ones too): who it kept apart.
    pub sides: Option<(Vec<Peer>, Vec<Peer>)>,
}

impl Span {
    /// Whether the fault was in effect at some time in [from, to].
    pub fn overlaps(&self, from: Millis, to: Millis) -> bool {
        self.from <= to && self.until.is_none_or(|u| u > from)
    }
}

impl Faults {
    /// Takes in one record; `false` when it was this part's to use and
    /// could not be (on the wrong host, say).
    pub(super) fn note(&mut self, idx: usize, r: &Record, host: Option<MemberId>) -> bool {
        let t = r.t;
        let mut ok = true;
        if let Event::RunStarted { mailboxes, .. } = &r.event {
            self.reach.set_mailboxes(mailboxes);
        }
        if let Event::Fault {
            phase,
            index,
            fault,
        } = &r.event
        {
            self.reach.note(t, *index, fault, *phase);
            if let crate::faults::FaultKind::ClockSkew { member, .. } = fault {
                self.clock_jumps.push((t, *member));
            }
            match phase {
                Phase::Begin => self.spans.push(Span {
                    index: *index,
                    from: t,
                    until: None,
                    hosts: fault.hosts(),
                    kind: fault.fault_type(),
                    sides: match fault.cut() {
                        crate::faults::Cut::Sides(a, b) => Some((a.to_vec(), b.to_vec())),
                        _ => None,
                    },
                }),
                Phase::End => {
                    if let Some(open) =
                        (self.spans.iter_mut()).find(|s| s.index == *index && s.until.is_none())
                    {
                        open.until = Some(t);
                    }
                }
            }
        }
        if let Event::Host(HostEvent::FellBack { cause, .. }) = &r.event
            && cause.first_hand()
        {
            self.first_hand.push(t);
        }
        match &r.event {
            Event::Forged {
                attack,
                victim,
                msg,
                ..
            } => self.forged.push(Forgery {
                t,
                attack: *attack,
                victim: *victim,
                msg: *msg,
            }),
            Event::Host(HostEvent::FellBack {
                cause: crate::core::event::FallbackCause::Withheld,
                liar: None,
                ..
            }) => {
                if let Some(a) = At::on(host, t, idx, ()) {
                    self.withheld.push(a);
                }
            }
            Event::Host(HostEvent::FellBack {
                liar: Some(server), ..
            }) => {
                if let Some(a) = At::on(host, t, idx, (*server, false)) {
                    self.accusations.push(a);
                }
            }
            Event::Host(HostEvent::EquivocationDetected { server, .. }) => {
                match At::on(host, t, idx, (*server, true)) {
                    Some(a) => self.accusations.push(a),
                    None => ok = false,
                }
            }
            Event::Host(HostEvent::Lied {
                mode,
                to,
                generation,
                seq,
            }) => match r.host.peer() {
                Some(Peer::Server(server)) => {
                    // A server that lies has failed as far as fallback
                    // is concerned, from its first lie.
                    if !self.lies.iter().any(|l| l.server == server) {
                        self.server_failures.push((t, server));
                    }
                    self.lies.push(Lie {
                        t,
                        server,
                        mode: *mode,
                        to: to.clone(),
                        generation: *generation,
                        seq: *seq,
                    });
                }
                _ => ok = false,
            },
            Event::Fault {
                phase: Phase::Begin,
                fault:
                    crate::faults::FaultKind::Crash {
                        host: Peer::Agent(agent),
                        state: crate::faults::StateOnRestart::Wiped,
                    },
                ..
            } => self.agent_wipes.push((t, *agent)),
            Event::Fault {
                phase: Phase::Begin,
                fault:
                    crate::faults::FaultKind::Crash {
                        host: Peer::Member(member),
                        state: crate::faults::StateOnRestart::Wiped,
                    },
                ..
            } => self.member_wipes.push((t, *member)),
            Event::Fault { phase, fault, .. } => match (fault.server_failure(), phase) {
                (Some((server, ServerFailure::Stops { .. })), Phase::Begin) => {
                    self.server_failures.push((t, server))
                }
                (Some((server, ServerFailure::Stops { recovers: true })), Phase::End) => {
                    self.server_recoveries.push((t, server))
                }
                // A refusal is a failure from the first request it turns
                // away: one that nobody met (a short window with no
                // traffic) gives no member anything to notice.
                (Some((server, ServerFailure::Refuses)), Phase::Begin) => {
                    self.refusing.insert(server, false);
                }
                // A refusal that turned someone away and ended is a server
                // back with its state: only those it turned away, or left
                // without an answer meanwhile, had anything to notice.
                (Some((server, ServerFailure::Refuses)), Phase::End) => {
                    if self.refusing.remove(&server) == Some(true) {
                        self.server_recoveries.push((t, server))
                    }
                }
                // A liar fails from its first lie (`lied`, above).
                (Some((server, ServerFailure::Lies)), Phase::Begin) => {
                    self.dishonest_faults.push((t, server))
                }
                (
                    Some((_, ServerFailure::Stops { recovers: false } | ServerFailure::Lies)),
                    Phase::End,
                )
                | (None, _) => {}
            },
            Event::DatagramLost {
                to: Peer::Member(m),
                ..
            } => {
                if let Some(Peer::Server(server)) = r.host.peer() {
                    self.lost_answers.push((t, server, *m));
                }
            }
            Event::Host(HostEvent::SubmitRejected {
                reason: crate::core::server::sequencer::Rejection::Refused,
                sender,
            }) => {
                if let Some(Peer::Server(server)) = r.host.peer() {
                    self.turned_away.push((t, server, *sender));
                    if let Some(noted) = self.refusing.get_mut(&server).filter(|n| !**n) {
                        *noted = true;
                        self.server_failures.push((t, server));
                    }
                }
            }

            _ => {}
        }
        ok
    }
}
