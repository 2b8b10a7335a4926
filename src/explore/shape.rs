//! The shape of an explored run: how many members, agents and server
//! agents, and how busy the group is. A fixed base scenario never draws a
//! sparse group (where a withheld commit has no later message to expose
//! it) or a large one (where the server can sit on a partition's small
//! side); these draws do, inside `[explore]`'s ranges.

use super::draw::{below, between, coin, unit};
use super::reduce::without_host;
use crate::scenario::{RatePhase, Scenario};
use rand_chacha::ChaCha20Rng;

/// The fastest burst drawn: busy enough to race, cheap enough to sweep.
const MAX_BURST_PER_S: f64 = 40.0;

/// Draws the host counts and the traffic `s.explore.shape` asks for;
/// leaves the rest of `s` as it is.
pub fn draw(rng: &mut ChaCha20Rng, s: &mut Scenario) {
    let shape = s.explore.shape.clone();
    for (kind, range) in [
        ('m', shape.members),
        ('s', shape.agents),
        ('c', shape.servers),
    ] {
        if let Some((lo, hi)) = range {
            let n = between(rng, u64::from(lo), u64::from(hi)) as u32;
            resize(s, kind, n);
        }
    }
    if let Some((lo, hi)) = shape.messages_per_s {
        s.workload.messages_per_s = rate(rng, lo, hi);
    }
    if shape.max_phases > 0 {
        s.workload.phases = phases(rng, s, shape.max_phases);
    }
}

/// `s` with `n` hosts of a kind: the highest-numbered go first, with the
/// ops and faults that named them (as the shrinker takes a host out);
/// new members join the founders if every member was one, else they are
/// contacts to add.
pub fn resize(s: &mut Scenario, kind: char, n: u32) {
    loop {
        let t = &mut s.topology;
        let have = match kind {
            'm' => t.members,
            's' => t.agents,
            _ => t.servers,
        };
        if have > n {
            match without_host(s, kind, have - 1) {
                Some(smaller) => *s = smaller,
                None => return,
            }
            continue;
        }
        match kind {
            'm' => {
                if t.founders == t.members {
                    t.founders = n;
                }
                t.members = n;
            }
            's' => t.agents = n,
            _ => t.servers = n,
        }
        return;
    }
}

/// Log-uniform in [lo, hi], so that one a minute is as likely a draw as
/// ten a second; a range from 0 gives a silent group one time in eight.
fn rate(rng: &mut ChaCha20Rng, lo: f64, hi: f64) -> f64 {
    if lo == 0.0 && below(rng, 8) == 0 {
        return 0.0;
    }
    let floor = lo.max(hi / 1_000.0).max(0.001);
    let r = (floor.ln() + unit(rng) * (hi.ln() - floor.ln())).exp();
    round(r.clamp(lo, hi))
}

/// Three significant digits: what a person would write in a file.
fn round(r: f64) -> f64 {
    if r <= 0.0 {
        return 0.0;
    }
    let scale = 10f64.powi(2 - r.log10().floor() as i32);
    (r * scale).round() / scale
}

/// Up to `max` bursts and silences inside the workload, in order and
/// disjoint: a silence of up to a minute hides a withheld message; a
/// burst makes members race.
fn phases(rng: &mut ChaCha20Rng, s: &Scenario, max: u32) -> Vec<RatePhase> {
    let w = &s.workload;
    let mut drawn: Vec<RatePhase> = (0..below(rng, u64::from(max) + 1))
        .map(|_| {
            let at_ms = between(rng, w.start_ms, w.stop_ms.saturating_sub(1_000));
            let until_ms = at_ms + between(rng, 1_000, 60_000);
            let messages_per_s = if coin(rng) {
                0.0
            } else {
                let busy = (w.messages_per_s * 4.0).max(2.0);
                round((busy * (1.0 + unit(rng) * 4.0)).min(MAX_BURST_PER_S))
            };
            RatePhase {
                at_ms,
                until_ms,
                messages_per_s,
            }
        })
        .collect();
    drawn.sort_by_key(|p| p.at_ms);
    let mut out: Vec<RatePhase> = Vec::new();
    for p in drawn {
        if out.last().is_none_or(|last| last.until_ms <= p.at_ms) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_like_a_person_wrote_them() {
        assert_eq!(round(0.016_666), 0.0167);
        assert_eq!(round(12.345), 12.3);
        assert_eq!(round(0.0), 0.0);
    }
}
