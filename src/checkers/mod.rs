//! Pure functions from a trace to verdicts with evidence.
//!
//! A checker judges the recorded history only, never the scenario or the
//! simulator's internals, so that a saved trace can be re-judged later and a
//! bug in the simulator cannot hide a bug in the protocol. Each verdict says
//! what was found and shows it (members, messages, times) because a bare
//! pass/fail cannot be debugged. See `docs/checkers.md`.

mod at;
mod blindness;
mod convergence;
pub mod coordination;
mod delivery;
mod epochs;
mod equivocation;
mod exercised;
mod fallback;
mod figure;
mod forgery;
mod forks;
pub mod history;
mod intent;
mod judge;
mod metadata;
mod move_owed;
mod needless;
mod order;
mod reach;
mod recovery;
mod refused;
pub mod secrecy;
mod split_brain;
mod takeover;
mod unanswered;

#[cfg(test)]
pub(crate) mod testkit;

use crate::core::ids::{MemberId, MessageId, Millis};
use crate::observations::Observations;
pub use crate::trace::Claim;
pub use crate::trace::Status;
use crate::trace::{CheckId, Trace};
pub use exercised::{Precondition, precondition};
pub use figure::{Figure, Figures};
use history::History;
pub use judge::{Check, Judged, claims_judged, judge};
use serde::{Deserialize, Serialize};
use std::fmt::Display;

/// Evidence lists are capped so that a pathological run still gives a
/// readable verdict; totals live in `Verdict::measured`.
pub const MAX_EVIDENCE: usize = 20;

/// One concrete fact behind a verdict.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub members: Vec<MemberId>,
    pub messages: Vec<MessageId>,
    pub at_ms: Option<Millis>,
    pub note: String,
}

impl Evidence {
    pub fn note(note: impl Into<String>) -> Evidence {
        Evidence {
            note: note.into(),
            ..Evidence::default()
        }
    }

    pub fn members(mut self, members: impl IntoIterator<Item = MemberId>) -> Evidence {
        self.members.extend(members);
        self
    }

    pub fn messages(mut self, messages: impl IntoIterator<Item = MessageId>) -> Evidence {
        self.messages.extend(messages);
        self
    }

    pub fn at(mut self, t: Millis) -> Evidence {
        self.at_ms = Some(t);
        self
    }
}

/// What one checker concluded about one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub check: CheckId,
    pub status: Status,
    pub summary: String,
    pub evidence: Vec<Evidence>,
    pub measured: Figures,
}

impl Verdict {
    /// Builds a verdict, keeping the first `MAX_EVIDENCE - 1` items and
    /// saying how many more there were, so truncation is never silent.
    fn new(
        check: CheckId,
        status: Status,
        summary: String,
        mut evidence: Vec<Evidence>,
        measured: Figures,
    ) -> Verdict {
        if evidence.len() > MAX_EVIDENCE {
            let more = evidence.len() - (MAX_EVIDENCE - 1);
            evidence.truncate(MAX_EVIDENCE - 1);
            evidence.push(Evidence::note(format!("... and {more} more not shown")));
        }
        Verdict {
            check,
            status,
            summary,
            evidence,
            measured,
        }
    }

    /// A verdict with nothing to show or count: the run had nothing to
    /// judge, or the trace lacks what judging needs.
    fn bare(check: CheckId, status: Status, summary: impl Into<String>) -> Verdict {
        Verdict::new(
            check,
            status,
            summary.into(),
            Vec::new(),
            Figures::default(),
        )
    }
}

/// What a checker judges from: the history alone, or the history and
/// what only a live run observed (`None` on a saved trace).
enum Judges {
    Trace(fn(&History) -> Verdict),
    Run(fn(&History, Option<&Observations>) -> Verdict),
}

/// Each checker, by its id: the one place a checker is wired in, so a new
/// `CheckId` is a compiler error here until it is.
fn checker(id: CheckId) -> Judges {
    match id {
        CheckId::Convergence => Judges::Trace(convergence::check),
        CheckId::MembershipIntent => Judges::Trace(intent::check),
        CheckId::GroupMetadata => Judges::Trace(metadata::check),
        CheckId::ForkDetection => Judges::Trace(forks::check),
        CheckId::Delivery => Judges::Trace(delivery::check),
        CheckId::TotalOrder => Judges::Trace(order::check),
        CheckId::Fallback => Judges::Trace(fallback::check),
        CheckId::EpochAgreement => Judges::Trace(epochs::check),
        CheckId::NoSplitBrain => Judges::Trace(split_brain::check),
        CheckId::EquivocationDetected => Judges::Trace(equivocation::check),
        CheckId::ForgeriesRejected => Judges::Trace(forgery::check),
        CheckId::PostRemovalSecrecy => {
            Judges::Run(|h, seen| secrecy::check(h, seen.map(|s| s as &dyn secrecy::Oracle)))
        }
        CheckId::NeedlessFallback => Judges::Trace(needless::check),
        CheckId::ServerBlindness => Judges::Run(|_, seen| {
            blindness::check(
                seen.map(|s| s.to_servers),
                seen.map_or(&[][..], |s| &s.plaintext_to_servers),
            )
        }),
    }
}

/// The checkers `live` selects, in `CheckId` order so that reports
/// compare line by line: with `None`, only those that need the trace
/// alone; with `Some(seen)`, every one, given what the run observed (a
/// saved trace passes `Some(None)`: every checker, those that need key
/// material answering unknown).
fn run_checkers(trace: &Trace, live: Option<Option<&Observations>>) -> Vec<Verdict> {
    let h = History::from_trace(trace);
    (CheckId::all())
        .filter_map(|id| match (checker(id), live) {
            (Judges::Trace(f), _) => Some(f(&h)),
            (Judges::Run(f), Some(seen)) => Some(f(&h, seen)),
            (Judges::Run(_), None) => None,
        })
        .collect()
}

/// Runs every checker that needs only the trace.
pub fn check_trace(trace: &Trace) -> Vec<Verdict> {
    run_checkers(trace, None)
}

/// Every checker, on a saved trace: those that need key material answer
/// Unknown.
pub fn check_saved(trace: &Trace) -> Vec<Verdict> {
    run_checkers(trace, Some(None))
}

/// Every checker, on a run that just finished: its trace and what it
/// observed on the wire and of removed members' keys.
pub fn check_run(trace: &Trace, seen: &Observations) -> Vec<Verdict> {
    run_checkers(trace, Some(Some(seen)))
}

pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Unknown => "unknown",
    }
}

/// "m0, m1, m2" for summaries and notes.
fn list<T: Display>(items: impl IntoIterator<Item = T>) -> String {
    let v: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    if v.is_empty() {
        "nobody".to_owned()
    } else {
        v.join(", ")
    }
}

/// "{m0, m1}" for a view.
fn set<T: Display>(items: impl IntoIterator<Item = T>) -> String {
    let v: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    format!("{{{}}}", v.join(", "))
}

fn measured<const N: usize>(pairs: [(Figure, u64); N]) -> Figures {
    Figures::from(pairs)
}

#[cfg(test)]
mod tests {
    use super::testkit::*;
    use super::*;

    /// How many checkers judge from the trace alone.
    fn trace_only() -> usize {
        (CheckId::all())
            .filter(|id| matches!(checker(*id), Judges::Trace(_)))
            .count()
    }

    /// Every checker runs on a live run and on a saved trace, in
    /// `CheckId` order; the trace-only ones on a bare trace.
    #[test]
    fn every_checker_is_wired_in() {
        let all: Vec<CheckId> = CheckId::all().collect();
        let saved: Vec<CheckId> = check_saved(&Trace::default())
            .iter()
            .map(|v| v.check)
            .collect();
        assert_eq!(saved, all);
        assert_eq!(check_trace(&Trace::default()).len(), trace_only());
    }
    use crate::core::ids::Peer;

    #[test]
    fn runs_the_trace_checkers_in_order_on_an_empty_trace() {
        let v = check_trace(&Trace::default());
        let names: Vec<&str> = v.iter().map(|v| v.check.name()).collect();
        assert_eq!(
            names,
            [
                "convergence",
                "membership_intent",
                "group_metadata",
                "fork_detection",
                "delivery",
                "total_order",
                "fallback",
                "needless_fallback",
                "epoch_agreement",
                "no_split_brain",
                "equivocation_detected",
                "forgeries_rejected",
            ]
        );
        assert!(v.iter().all(|v| v.status == Status::Unknown), "{v:?}");
    }

    #[test]
    fn evidence_is_capped_with_a_count() {
        let ev = (0..30).map(|i| Evidence::note(format!("{i}"))).collect();
        let v = Verdict::new(
            CheckId::Delivery,
            Status::Fail,
            String::new(),
            ev,
            Figures::default(),
        );
        assert_eq!(v.evidence.len(), MAX_EVIDENCE);
        assert_eq!(v.evidence[19].note, "... and 11 more not shown");
    }

    #[test]
    fn a_healthy_trace_passes_everything_and_serialises() {
        let t = healthy();
        let v = check_trace(&t);
        assert!(v.iter().all(|v| v.status == Status::Pass), "{v:#?}");
        let json = serde_json::to_string(&v).unwrap();
        assert!(json.contains(r#""status":"pass""#), "{json}");
    }

    #[test]
    fn odd_traces_never_panic() {
        let mut t = healthy();
        // Truncate at every length: each prefix must give verdicts.
        let all = t.records.clone();
        for n in 0..=all.len() {
            t.records = all[..n].to_vec();
            assert_eq!(check_trace(&t).len(), trace_only());
        }
        // Reversed order, too.
        t.records = all.into_iter().rev().collect();
        assert_eq!(check_trace(&t).len(), trace_only());
    }

    /// Random soup of events over a few ids: no panic, same answer twice.
    #[test]
    fn random_traces_never_panic_and_are_deterministic() {
        use crate::core::ids::{AgentId, EnvelopeId, ServerId};
        use crate::trace::Record;
        use crate::trace::{Event, HostEvent, OpKind};
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for _ in 0..200 {
            let mut t = healthy();
            t.records.truncate(next(t.records.len() as u64) as usize);
            for _ in 0..next(60) {
                let mm = MemberId(next(4) as u32);
                let msg = MessageId {
                    sender: MemberId(next(4) as u32),
                    seq: next(4) as u32,
                };
                let env = EnvelopeId {
                    sender: mm,
                    seq: next(6),
                };
                let (g, e) = (next(3) as u32, next(4));
                let event = match next(13) {
                    0 => Event::Host(HostEvent::MessageSent {
                        msg,
                        recipients: vec![mm, MemberId(1)],
                        parents: vec![msg],
                        control: next(2) == 0,
                        submitted: next(2) == 0,
                    }),
                    1 => Event::Host(HostEvent::EnvelopeSent {
                        env,
                        msg,
                        to: mm,
                        prekey: false,
                        bytes: 1,
                    }),
                    2 => Event::Host(HostEvent::DeliveryAcked {
                        env,
                        to: mm,
                        agent: AgentId(0),
                    }),
                    3 => Event::Host(HostEvent::Delivered { msg }),
                    4 => Event::Host(HostEvent::MembershipOp {
                        msg,
                        op: OpKind::Remove,
                        target: mm,
                    }),
                    5 => Event::Host(HostEvent::ForkDetected {
                        other_side: vec![mm],
                        evidence: String::new(),
                    }),
                    6 => Event::Host(HostEvent::MembershipChanged {
                        view: vec![mm],
                        in_group: next(2) == 0,
                        cause: None,
                    }),
                    9 => Event::Host(HostEvent::EpochEntered {
                        generation: g,
                        server: ServerId(next(2) as u32),
                        epoch: e,
                        authenticator: format!("{}", next(3)),
                    }),
                    10 => Event::Host(HostEvent::Joined {
                        generation: g,
                        server: ServerId(next(2) as u32),
                        nominator: mm,
                        epoch: e,
                    }),
                    11 => Event::Host(HostEvent::FellBack {
                        cause: crate::core::event::FallbackCause::NoReceipt,
                        reason: String::new(),
                        liar: (next(2) == 1).then_some(ServerId(0)),
                    }),
                    12 => Event::Host(HostEvent::Ordered {
                        group: 1,
                        generation: g,
                        seq: next(4),
                        epoch: e,
                        sender: mm,
                        commit: next(2) == 0,
                        members: vec![mm, MemberId(1)],
                    }),
                    7 => Event::RunEnded {
                        running: vec![
                            Peer::Member(MemberId(next(4) as u32)),
                            Peer::Agent(AgentId(0)),
                        ],
                    },
                    _ => Event::FinalView {
                        member: mm,
                        in_group: next(2) == 0,
                        view: vec![mm],
                        state_lost: next(3) == 0,
                        meta: None,
                    },
                };
                let host = ["m0", "m1", "m2", "m3", "sim", "c1", "s0", "c0"][next(8) as usize];
                t.push(Record {
                    t: next(4_000),
                    host: host.parse().unwrap(),
                    event,
                });
            }
            let a = check_trace(&t);
            assert_eq!(a, check_trace(&t));
            assert!(a.iter().all(|v| v.evidence.len() <= MAX_EVIDENCE));
        }
    }
}
