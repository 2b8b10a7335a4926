//! A comparison laid out as Markdown: readable on a terminal and on
//! GitHub, regressions first.

use super::compare::{Comparison, RunChange, RunKey};
use std::fmt::Write;

/// Lists are cut here; the counts above them stay whole.
const MAX_LISTED: usize = 20;

impl Comparison {
    pub fn markdown(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "# commsim compare\n");
        for (name, side) in [("before", &self.before), ("after", &self.after)] {
            let builds: Vec<&str> = side.builds.iter().map(String::as_str).collect();
            let _ = writeln!(
                t,
                "- {name}: `{}`, {} runs, {}",
                side.label,
                side.runs,
                builds.join(", ")
            );
        }
        let _ = writeln!(
            t,
            "- matched: {} runs (same scenario, variant, engine and seed)\n",
            self.matched
        );
        let verdict = if self.regressed() {
            "**REGRESSED**: a claim that held before is missed after."
        } else {
            "No claim regressed."
        };
        let _ = writeln!(t, "{verdict}\n");
        self.claims_section(&mut t);
        runs(&mut t, "Runs that newly miss a claim", &self.newly_missed);
        runs(&mut t, "Runs that newly meet their claims", &self.newly_met);
        self.behaviour_section(&mut t);
        self.cost_section(&mut t);
        unmatched(&mut t, "Only before", &self.only_before);
        unmatched(&mut t, "Only after", &self.only_after);
        t
    }

    fn claims_section(&self, t: &mut String) {
        let _ = writeln!(t, "## Claims\n");
        if self.claims.is_empty() {
            let _ = writeln!(t, "No claim changed over the matched seeds.\n");
            return;
        }
        let _ = writeln!(t, "| scenario | variant | check | claim | before | after |");
        let _ = writeln!(t, "|---|---|---|---|---|---|");
        for c in &self.claims {
            let held = |why: &Option<String>| why.clone().unwrap_or_else(|| "held".into());
            let mark = if c.regressed() { " **regressed**" } else { "" };
            let _ = writeln!(
                t,
                "| {} | {} | {} | {} | {} | {}{mark} |",
                c.scenario,
                c.variant,
                c.check,
                c.claim,
                held(&c.before),
                held(&c.after)
            );
        }
        t.push('\n');
    }

    fn behaviour_section(&self, t: &mut String) {
        let _ = writeln!(t, "## Behaviour\n");
        let n = self.digests_changed.len();
        let recorded = self.recording_changed.len();
        if recorded > 0 {
            let _ = writeln!(
                t,
                "{recorded} of {} matched runs changed their trace digest but not their wire \
                 digest: the same datagrams went on the wire, and only what the trace records \
                 of them changed (its format, or an event added or renamed).\n",
                self.matched
            );
        }
        if n == 0 {
            let _ = writeln!(
                t,
                "Every matched run has the same wire digest: the change did not alter what \
                 the protocol did.\n"
            );
            return;
        }
        let _ = writeln!(
            t,
            "{n} of {} matched runs changed their wire digest: the protocol behaved \
             differently on them. To see where, run one with `--trace` on each build and \
             `commsim compare` the two traces.\n",
            self.matched
        );
        for k in self.digests_changed.iter().take(MAX_LISTED) {
            let _ = writeln!(t, "- {}", key(k));
        }
        more(t, n);
    }

    fn cost_section(&self, t: &mut String) {
        let _ = writeln!(t, "## Cost\n");
        if self.costs.is_empty() {
            let _ = writeln!(
                t,
                "No cost moved by more than {}% (summed over each scenario's matched runs).\n",
                self.threshold_pct
            );
        } else {
            let _ = writeln!(
                t,
                "Sums over each scenario's matched runs that moved by more than {}%:\n",
                self.threshold_pct
            );
            let _ = writeln!(
                t,
                "| scenario | variant | figure | before | after | after / before |"
            );
            let _ = writeln!(t, "|---|---|---|---|---|---|");
            for c in &self.costs {
                let _ = writeln!(
                    t,
                    "| {} | {} | {} | {} | {} | {:.3} |",
                    c.scenario,
                    c.variant,
                    c.figure,
                    c.before,
                    c.after,
                    c.ratio()
                );
            }
            t.push('\n');
        }
        if !self.wall.is_empty() {
            let _ = writeln!(
                t,
                "Median wall time per run, after / before (a ratio only; two builds run at \
                 different times on a shared machine are not a benchmark):\n"
            );
            let _ = writeln!(t, "| scenario | variant | after / before |");
            let _ = writeln!(t, "|---|---|---|");
            for (scenario, variant, ratio) in &self.wall {
                let _ = writeln!(t, "| {scenario} | {variant} | {ratio:.2} |");
            }
            t.push('\n');
        }
    }
}

fn key(k: &RunKey) -> String {
    format!(
        "{} [{}] seed {} ({})",
        k.scenario, k.variant, k.seed, k.engine
    )
}

fn runs(t: &mut String, title: &str, list: &[RunChange]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(t, "## {title}\n");
    for r in list.iter().take(MAX_LISTED) {
        let _ = writeln!(t, "- {}: `{}`", key(&r.key), r.replay);
        for why in r.why.iter().take(3) {
            let _ = writeln!(t, "  - {why}");
        }
    }
    more(t, list.len());
}

fn unmatched(t: &mut String, title: &str, list: &[RunKey]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(t, "## {title}\n");
    for k in list.iter().take(MAX_LISTED) {
        let _ = writeln!(t, "- {}", key(k));
    }
    more(t, list.len());
}

fn more(t: &mut String, n: usize) {
    if n > MAX_LISTED {
        let _ = writeln!(t, "- ... and {} more", n - MAX_LISTED);
    }
    t.push('\n');
}
