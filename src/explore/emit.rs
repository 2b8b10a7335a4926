//! A scenario written back as a scenario file: what `shrink` and `explore`
//! leave behind. Every field is written out, defaults included, so that the
//! file reproduces the run even if a default changes later.

use crate::core::event::OpKind;
use crate::core::ids::Millis;
use crate::core::member::membership::Variant;
use crate::faults::FaultKind;
use crate::scenario::{Action, ExploreBounds, GroupKind, Scenario};
use crate::trace::Expect;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The TOML text of `s`, after `header` (each line becomes a comment).
pub fn to_toml(s: &Scenario, header: &str) -> String {
    let mut t = String::new();
    for line in header.lines() {
        let _ = match line {
            "" => writeln!(t, "#"),
            _ => writeln!(t, "# {line}"),
        };
    }
    let variants: Vec<String> = s.variants.iter().map(|v| quote(v.name())).collect();
    let _ = write!(
        t,
        "name = {}\ndescription = {}\nseed = {}\nseeds = \"{}\"\nvariants = [{}]\n",
        quote(&s.name),
        quote(&s.description),
        s.seed,
        s.seeds,
        variants.join(", ")
    );
    let kind = match s.group_kind {
        GroupKind::Lightweight => "lightweight",
        GroupKind::Coordinated => "coordinated",
    };
    let (top, n, p) = (&s.topology, &s.network, &s.protocol);
    let _ = write!(
        t,
        "\n[sim]\ntick = \"{}ms\"\n\n[group]\nkind = \"{kind}\"\n\n[topology]\nmembers = {}\nagents = {}\nagents_per_member = {}\nfounders = {}\nservers = {}\n",
        s.sim.tick_ms, top.members, top.agents, top.agents_per_member, top.founders, top.servers
    );
    let _ = write!(
        t,
        "\n[network]\nlatency = {}\njitter = {}\n",
        ms(n.latency_ms),
        ms(n.jitter_ms)
    );
    let _ = write!(
        t,
        "\n[protocol]\nfetch_interval = {}\nretry = {}\nmax_attempts = {}\nephemeral_ttl = {}\nrotate_every = {}\nlong_term_ttl = {}\nparent_timeout = {}\nack_timeout = {}\ntakeover_after = {}\naudit_every = {}\ndeliver_to = \"{}\"\n",
        ms(p.fetch_interval_ms),
        ms(p.retry_ms),
        p.max_attempts,
        ms(p.ephemeral_ttl_ms),
        ms(p.rotate_every_ms),
        ms(p.long_term_ttl_ms),
        ms(p.parent_timeout_ms),
        ms(p.ack_timeout_ms),
        ms(p.takeover_after_ms),
        ms(p.audit_every_ms),
        if p.deliver_to_all { "all" } else { "first" }
    );
    let w = &s.workload;
    let _ = write!(
        t,
        "\n[workload]\nstart = {}\nstop = {}\nmessages_per_s = {:?}\nreply_probability = {:?}\n",
        ms(w.start_ms),
        ms(w.stop_ms),
        w.messages_per_s,
        w.reply_probability
    );
    for p in &w.phases {
        let _ = write!(
            t,
            "\n[[workload.phases]]\nat = {}\nuntil = {}\nmessages_per_s = {:?}\n",
            ms(p.at_ms),
            ms(p.until_ms),
            p.messages_per_s
        );
    }
    for op in &w.ops {
        let _ = write!(
            t,
            "\n[[workload.ops]]\nat = {}\nby = \"{}\"\n",
            ms(op.at_ms),
            op.by
        );
        let _ = match &op.action {
            Action::Membership(OpKind::Add, m) => writeln!(t, "op = \"add\"\ntarget = \"{m}\""),
            Action::Membership(OpKind::Remove, m) => {
                writeln!(t, "op = \"remove\"\ntarget = \"{m}\"")
            }
            Action::Update => writeln!(t, "op = \"update\""),
            Action::Nominate(c) => writeln!(t, "op = \"nominate\"\nserver = \"{c}\""),
            Action::Rename { name, picture } => {
                // toml's own quoting: a name may hold quotes or newlines.
                let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
                let _ = writeln!(t, "op = \"rename\"\nname = {}", quote(name));
                match picture {
                    Some(p) => writeln!(t, "picture = {}", quote(p)),
                    None => Ok(()),
                }
            }
        };
    }
    for f in &s.faults {
        let _ = write!(
            t,
            "\n[[faults]]\nkind = \"{}\"\nat = {}\n",
            f.kind.fault_type(),
            ms(f.at_ms)
        );
        if let Some(u) = f.until_ms {
            let _ = writeln!(t, "until = {}", ms(u));
        }
        fault_fields(&mut t, &f.kind);
    }
    let _ = write!(
        t,
        "\n[healing]\nperiod = {}\n\n[bounds]\nconvergence = {}\ndetection = {}\n",
        ms(s.healing_ms),
        ms(s.bounds.convergence_ms),
        ms(s.bounds.detection_ms)
    );
    if let Some(r) = s.bounds.recovery_ms {
        let _ = writeln!(t, "recovery = {}", ms(r));
    }
    claims(&mut t, "expect", &s.expect, &s.variants);
    explore(&mut t, &s.explore, &s.variants);
    t
}

/// Claims of the variants the file runs: a shrunk scenario runs one, and
/// the loader refuses claims about a variant the file does not list.
fn claims(t: &mut String, table: &str, expect: &BTreeMap<Variant, Expect>, variants: &[Variant]) {
    for (v, checks) in expect.iter().filter(|(v, _)| variants.contains(v)) {
        let _ = write!(t, "\n[{table}.{}]\n", v.name());
        for (check, claim) in checks {
            let _ = writeln!(t, "{check} = \"{claim}\"");
        }
    }
}

fn explore(t: &mut String, e: &ExploreBounds, variants: &[Variant]) {
    let _ = write!(
        t,
        "\n[explore]\nfaults = {}\nmax_faults = {}\nwindow = [{}, {}]\nmax_rate = {:?}\nops = {}\nmax_ops = {}\n",
        names(&e.faults),
        e.max_faults,
        ms(e.window.0),
        ms(e.window.1),
        e.max_rate,
        names(&e.ops),
        e.max_ops
    );
    if let Some(hosts) = &e.hosts {
        let _ = writeln!(t, "hosts = {}", names(hosts));
    }
    let shape = &e.shape;
    for (key, range) in [
        ("members", shape.members),
        ("agents", shape.agents),
        ("servers", shape.servers),
    ] {
        if let Some((lo, hi)) = range {
            let _ = writeln!(t, "{key} = [{lo}, {hi}]");
        }
    }
    if let Some((lo, hi)) = shape.messages_per_s {
        let _ = writeln!(t, "messages_per_s = [{lo:?}, {hi:?}]");
    }
    let _ = writeln!(
        t,
        "max_phases = {}\nraces = {}\ncombos = {}",
        shape.max_phases, e.races, e.combos
    );
    claims(t, "explore.expect", &e.expect, variants);
}

/// A fault's own fields, as its serde form gives them: the file's
/// `[[faults]]` table and the trace's fault are one shape (see
/// `FaultKind`), so a new kind, or a new field, needs no line here.
fn fault_fields(t: &mut String, kind: &FaultKind) {
    // A FaultKind is a struct-like enum variant of strings, numbers and
    // lists: it always makes a table.
    let fields = toml::Table::try_from(kind).expect("a fault kind serialises as a table");
    for (key, value) in fields.iter().filter(|(key, _)| *key != "kind") {
        let _ = writeln!(t, "{key} = {value}");
    }
}

fn ms(v: Millis) -> String {
    format!("\"{v}ms\"")
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn names(items: &[impl ToString]) -> String {
    let quoted: Vec<String> = items.iter().map(|h| quote(&h.to_string())).collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{load_file, parse_str};

    /// Every shipped scenario, written out and read back, is the same
    /// scenario: nothing the loader knows is lost on the way.
    #[test]
    fn every_shipped_scenario_survives_a_round_trip() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let files = crate::explore::sweep::scenario_files(&dir).unwrap();
        assert!(!files.is_empty());
        for file in files {
            let s = load_file(&file).unwrap();
            let text = to_toml(&s, "written back\n\nby a test");
            let mut again = parse_str("again.toml", &text)
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", file.display()));
            again.source_sha256.clone_from(&s.source_sha256);
            assert_eq!(again, s, "{}", file.display());
            assert!(
                text.starts_with("# written back\n#\n# by a test\n"),
                "{text}"
            );
        }
    }

    /// Every kind of fault, written into a file and read back, is the
    /// same fault: the writer takes its fields from the fault's serde
    /// form, so this holds for a kind added later without a line here.
    #[test]
    fn every_fault_kind_survives_a_round_trip() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/coordinated-server-crash.toml");
        let mut s = load_file(&file).unwrap();
        s.faults = (FaultKind::samples().into_iter().enumerate())
            .map(|(i, kind)| {
                let at_ms = 1_000 + 1_000 * i as Millis;
                let until_ms = (kind.fault_type() != crate::faults::FaultType::ExpireAddresses)
                    .then_some(at_ms + 500);
                crate::faults::Fault {
                    at_ms,
                    until_ms,
                    kind,
                }
            })
            .collect();
        let text = to_toml(&s, "");
        let again = parse_str("again.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(again.faults, s.faults, "{text}");
    }

    /// A shrunk scenario runs one variant: its file keeps the claims of
    /// that variant only, in `[expect]` and `[explore.expect]` alike, or
    /// the loader would refuse it (found by exploring
    /// lightweight-concurrent-add-remove, whose shrunk file did not load).
    #[test]
    fn a_scenario_narrowed_to_one_variant_loads_back() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/lightweight-concurrent-add-remove.toml");
        let mut s = load_file(&file).unwrap();
        let lww: Variant = "lww".parse().unwrap();
        assert!(
            s.explore.expect.keys().any(|v| *v != lww),
            "a claim to drop"
        );
        s.variants = vec![lww];
        let text = to_toml(&s, "");
        let again = parse_str("one.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(again.variants, vec![lww]);
    }
}
