//! The workload: application commands at simulated times, drawn from the
//! seed before the run starts.
//!
//! Drawing the whole schedule up front keeps the workload independent of
//! how the run unfolds: two protocol variants run on the same seed get the
//! same commands at the same times, which is what makes them comparable.
//! Choices that depend on what a member has seen (which message a reply
//! answers) are made by the member, from a seeded number it is handed.

use crate::core::event::OpKind;
use crate::core::ids::{MemberId, Millis};
use crate::core::io::Command;
use crate::faults::unit;
use crate::scenario::Scenario;
use crate::scenario::model::Action;
use rand_chacha::ChaCha20Rng;
use rand_core::Rng;

/// One command for one member at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduled {
    pub at: Millis,
    pub member: MemberId,
    pub command: Command,
}

/// The whole schedule, in time order (ties keep generation order).
pub fn generate(s: &Scenario, rng: &mut ChaCha20Rng) -> Vec<Scheduled> {
    let mut out = Vec::new();
    let w = &s.workload;
    if w.messages_per_s > 0.0 {
        let mean_gap = 1000.0 / w.messages_per_s;
        let mut t = w.start_ms as f64;
        loop {
            // Exponential gaps: a Poisson stream of messages.
            t += -mean_gap * (1.0 - unit(rng)).ln();
            if t >= w.stop_ms as f64 {
                break;
            }
            let member = MemberId((rng.next_u64() % u64::from(s.topology.members)) as u32);
            let reply = unit(rng) < w.reply_probability;
            let pick = rng.next_u64();
            out.push(Scheduled {
                at: t as Millis,
                member,
                command: Command::Send { reply, pick },
            });
        }
    }
    for op in &w.ops {
        let command = match op.action {
            Action::Membership(OpKind::Add, target) => Command::Add(target),
            Action::Membership(OpKind::Remove, target) => Command::Remove(target),
            Action::Update => Command::Update,
            Action::Nominate(server) => Command::Nominate(server),
        };
        out.push(Scheduled {
            at: op.at_ms,
            member: op.by,
            command,
        });
    }
    out.sort_by_key(|c| c.at);
    out
}
