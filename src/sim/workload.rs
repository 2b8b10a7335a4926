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
    // Without phases this is one span, drawn as it always was: adding
    // phases to the format changed no run of a file without them.
    for (from, to, rate) in w.spans() {
        if rate <= 0.0 {
            continue;
        }
        let mean_gap = 1000.0 / rate;
        let mut t = from as f64;
        loop {
            // Exponential gaps: a Poisson stream of messages.
            t += -mean_gap * (1.0 - unit(rng)).ln();
            if t >= to as f64 {
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
        let command = match &op.action {
            Action::Membership(OpKind::Add, target) => Command::Add(*target),
            Action::Membership(OpKind::Remove, target) => Command::Remove(*target),
            Action::Update => Command::Update,
            Action::Nominate(server) => Command::Nominate(*server),
            Action::Rename { name, picture } => Command::Rename {
                name: name.clone(),
                picture: picture.clone(),
            },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::RatePhase;
    use rand_core::SeedableRng;

    fn sends(s: &Scenario, seed: u64) -> Vec<Millis> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        generate(s, &mut rng)
            .into_iter()
            .filter(|c| matches!(c.command, Command::Send { .. }))
            .map(|c| c.at)
            .collect()
    }

    /// A silence sends nothing, a burst sends at its own rate, and the
    /// traffic around them is drawn as before.
    #[test]
    fn phases_shape_the_traffic() {
        let mut s = Scenario::minimal(4, 2);
        s.workload.stop_ms = 61_000;
        let plain = sends(&s, 3);
        s.workload.phases = vec![
            RatePhase {
                at_ms: 10_000,
                until_ms: 40_000,
                messages_per_s: 0.0,
            },
            RatePhase {
                at_ms: 50_000,
                until_ms: 51_000,
                messages_per_s: 200.0,
            },
        ];
        let shaped = sends(&s, 3);
        assert!(!shaped.iter().any(|t| (10_000..40_000).contains(t)));
        let burst = shaped
            .iter()
            .filter(|t| (50_000..51_000).contains(*t))
            .count();
        assert!(burst > 100, "{burst} messages in a 200/s second");
        // Before the first phase, the same draws as with none.
        let early = |v: &[Millis]| v.iter().filter(|t| **t < 10_000).count();
        assert_eq!(shaped[..early(&shaped)], plain[..early(&plain)]);
    }
}
