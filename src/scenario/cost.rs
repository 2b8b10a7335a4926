//! What a run will cost, estimated from the scenario alone and checked
//! before setup, so that a file that would run for days (or allocate a
//! workload schedule larger than memory) is refused with the figure that
//! is too large rather than killed by the operating system.

use super::cx::{Cx, Res};
use super::limits::{MAX_EVENTS, MAX_HOST_PAIR_TICKS, MAX_SIMULATED_MS, show};
use super::locate::Field;
use super::model::Scenario;
use crate::core::ids::Millis;
use crate::faults::FaultKind;

/// The figures the limits in `limits.rs` bound.
#[derive(Clone, Debug, PartialEq)]
pub struct Cost {
    /// Members, agents and server agents.
    pub hosts: u64,
    /// From 0 to the end of the healing period.
    pub simulated_ms: Millis,
    /// Simulated ticks, on each of which every host is polled.
    pub ticks: u64,
    /// Expected random messages (rate × workload length) plus ops.
    pub messages: u64,
    /// Who each message goes to, at most: every other member.
    pub recipients: u64,
    /// Directed links the faults cut or restore, plus one per fault.
    pub fault_links: u64,
}

impl Cost {
    /// The turmoil driver's floor of work: every link, up to one per pair
    /// of hosts, scanned on every tick.
    pub fn host_pair_ticks(&self) -> u64 {
        self.hosts
            .saturating_mul(self.hosts)
            .saturating_mul(self.ticks)
    }

    /// Per-recipient work (an encryption, a datagram per mailbox, a
    /// decryption) and per-link fault work, the terms that grow with the
    /// scenario's numbers.
    pub fn events(&self) -> u64 {
        self.messages
            .saturating_mul(self.recipients)
            .saturating_add(self.fault_links)
    }
}

impl Scenario {
    pub fn cost(&self) -> Cost {
        let t = &self.topology;
        let hosts = u64::from(t.members) + u64::from(t.agents) + u64::from(t.servers);
        let simulated_ms = self.end_at();
        let ticks = simulated_ms.div_ceil(self.sim.tick_ms.max(1));
        let w = &self.workload;
        let seconds = w.stop_ms.saturating_sub(w.start_ms) as f64 / 1000.0;
        // Saturating cast: the loader bounds the rate, this never clips.
        let random = (w.messages_per_s * seconds).ceil() as u64;
        let fault_links = (self.faults.iter())
            .map(|f| match &f.kind {
                FaultKind::Partition { a, b } => 2 * (a.len() as u64) * (b.len() as u64),
                FaultKind::PartitionOneway { from, to } => (from.len() as u64) * (to.len() as u64),
                FaultKind::Offline { .. } => 2 * hosts.saturating_sub(1),
                _ => 1,
            })
            .fold(0u64, u64::saturating_add);
        Cost {
            hosts,
            simulated_ms,
            ticks,
            messages: random.saturating_add(w.ops.len() as u64),
            recipients: u64::from(t.members.saturating_sub(1)),
            fault_links,
        }
    }
}

impl Scenario {
    /// Why the turmoil driver will not take this run, if it will not: the
    /// events engine has no per-tick cost and takes what the loader took.
    pub fn too_costly_for_turmoil(&self) -> Option<String> {
        let c = self.cost();
        (c.host_pair_ticks() > MAX_HOST_PAIR_TICKS).then(|| {
            format!(
                "{}: turmoil would scan the links of {} hosts on each of {} ticks ({} ms in \
                 ticks of {} ms): {} host-pair ticks, above the limit of \
                 {MAX_HOST_PAIR_TICKS}; run it with --engine events, or use fewer hosts, a \
                 shorter run or a coarser sim.tick",
                self.name,
                c.hosts,
                c.ticks,
                c.simulated_ms,
                self.sim.tick_ms,
                c.host_pair_ticks()
            )
        })
    }
}

impl Cx<'_> {
    /// Refuses a scenario whose run would cost more than the limits allow,
    /// naming the figure, the limit and the field to change.
    pub(super) fn affordable(&self, s: &Scenario) -> Res<()> {
        let c = s.cost();
        let root = Field::root();
        if c.simulated_ms > MAX_SIMULATED_MS {
            let msg = format!(
                "the run would end at {} ms (this healing period after the last fault, op or \
                 workload stop, at {} ms), beyond the limit of {} of simulated time",
                c.simulated_ms,
                c.simulated_ms - s.healing_ms,
                show(MAX_SIMULATED_MS)
            );
            return Err(self.err(&root.key("healing").key("period"), msg));
        }
        if c.events() > MAX_EVENTS {
            let sent = c.messages.saturating_mul(c.recipients);
            let field = if sent >= c.fault_links {
                root.key("workload").key("messages_per_s")
            } else {
                root.key("faults")
            };
            let msg = format!(
                "the run would cost about {} events ({} messages to {} recipients each, and {} \
                 links cut by faults), above the limit of {MAX_EVENTS}; send fewer messages, \
                 over a shorter workload, to fewer members, or cut fewer links",
                c.events(),
                c.messages,
                c.recipients,
                c.fault_links
            );
            return Err(self.err(&field, msg));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_scenario_costs_little() {
        let s = Scenario::minimal(4, 3);
        let c = s.cost();
        assert_eq!((c.hosts, c.simulated_ms, c.ticks), (7, 20_000, 4_000));
        assert_eq!(c.host_pair_ticks(), 196_000);
        // 2 messages a second for 9 s, to 3 others each.
        assert_eq!((c.messages, c.recipients, c.events()), (18, 3, 54));
    }
}
