//! Parsing and validation of scenario files; the format is described in
//! `docs/scenario-format.md`.
//!
//! The text is deserialised by `toml` into private "raw" structs that mirror
//! the file (unknown keys are errors), then checked and converted into the
//! model. Errors carry the dotted path of the offending field and its line
//! and column, found through a `toml_edit` view of the same text.

use super::SeedRange;
use super::cx::{Cx, Res};
use super::duration::Dur;
use super::error::ScenarioError;
use super::faults::RawFault;
use super::limits::{MAX_TICK_MS, show};
use super::locate::Field;
use super::model::*;
use super::params::{RawNetwork, RawProtocol, RawTopology};
use super::workload::RawWorkload;
use crate::core::member::membership::Variant;
use crate::trace::{CheckId, Claim, Expect};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.display().to_string(),
        line: 0,
        column: 0,
        field: "(file)".into(),
        message: e.to_string(),
        excerpt: None,
        help: None,
    })?;
    parse_str(&path.display().to_string(), &text)
}

/// Parses and validates scenario `text`; `path` is used in errors and, when
/// the file gives no `name`, its stem becomes the scenario's name.
pub fn parse_str(path: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let cx = Cx::new(path, text)?;
    let raw: RawScenario = toml::from_str(text).map_err(|e| cx.serde_error(&e))?;
    cx.convert(raw)
}

// ---- the file as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a scenario table")]
struct RawScenario {
    name: Option<String>,
    #[serde(default)]
    description: String,
    seed: Option<u64>,
    seeds: Option<String>,
    variants: Option<Vec<String>>,
    #[serde(default)]
    sim: RawSim,
    topology: RawTopology,
    #[serde(default)]
    group: RawGroup,
    #[serde(default)]
    network: RawNetwork,
    #[serde(default)]
    protocol: RawProtocol,
    workload: RawWorkload,
    #[serde(default)]
    faults: Vec<RawFault>,
    healing: RawHealing,
    #[serde(default)]
    bounds: RawBounds,
    #[serde(default)]
    expect: BTreeMap<String, BTreeMap<String, Claim>>,
    explore: Option<super::explore::RawExplore>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a [sim] table")]
struct RawSim {
    tick: Option<Dur>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a [group] table")]
struct RawGroup {
    kind: Option<GroupKind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [healing] table")]
struct RawHealing {
    period: Dur,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a [bounds] table")]
struct RawBounds {
    convergence: Option<Dur>,
    detection: Option<Dur>,
    recovery: Option<Dur>,
}

// ---- checking and conversion ----

impl Cx<'_> {
    fn convert(&self, raw: RawScenario) -> Res<Scenario> {
        let root = Field::root();
        let name = match raw.name {
            Some(n) if n.trim().is_empty() => {
                return Err(self.err(&root.key("name"), "must not be empty"));
            }
            Some(n) => n,
            None => Path::new(self.path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| self.path.to_owned()),
        };
        let variants = self.variants(raw.variants)?;
        let tick = root.key("sim").key("tick");
        let tick_ms = self.positive(raw.sim.tick, 5, &tick)?;
        if tick_ms > MAX_TICK_MS {
            let msg = format!("must be at most {}, got {tick_ms}ms", show(MAX_TICK_MS));
            return Err(self.err(&tick, msg));
        }
        let topology = self.topology(&raw.topology)?;
        let group_kind = raw.group.kind.unwrap_or(GroupKind::Lightweight);
        if group_kind == GroupKind::Coordinated && topology.servers == 0 {
            let msg = "a coordinated group needs at least one server agent (topology.servers)";
            return Err(self.err(&root.key("group").key("kind"), msg));
        }
        let network = self.network(&raw.network)?;
        let protocol = self.protocol(&raw.protocol)?;
        let workload = self.workload(&raw.workload, &topology)?;
        let faults = self.faults(&raw.faults, &topology)?;
        let healing_ms = self.positive(
            Some(raw.healing.period),
            0,
            &root.key("healing").key("period"),
        )?;
        let b = root.key("bounds");
        let bounds = BoundsParams {
            convergence_ms: self.positive(raw.bounds.convergence, 10_000, &b.key("convergence"))?,
            detection_ms: self.positive(raw.bounds.detection, 10_000, &b.key("detection"))?,
            recovery_ms: match raw.bounds.recovery {
                Some(d) => Some(self.positive(Some(d), 0, &b.key("recovery"))?),
                None => None,
            },
        };
        let expect = self.expect(&raw.expect, &variants)?;
        let (seed, seeds) = self.seeds(raw.seed, raw.seeds.as_deref())?;
        let explore = self.explore(
            raw.explore.as_ref(),
            group_kind,
            &workload,
            &variants,
            &topology,
        )?;
        let scenario = Scenario {
            name,
            description: raw.description,
            seed,
            seeds,
            variants,
            sim: SimParams { tick_ms },
            topology,
            group_kind,
            network,
            protocol,
            workload,
            faults,
            healing_ms,
            bounds,
            expect,
            explore,
            source_sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(self.text)),
        };
        self.affordable(&scenario)?;
        Ok(scenario)
    }

    /// The seed range, and the seed `run` uses: the file's `seed`, else
    /// the first of the range. A `seed` outside its own range is a mistake
    /// worth naming, since its result would say nothing of the claims.
    fn seeds(&self, seed: Option<u64>, seeds: Option<&str>) -> Res<(u64, SeedRange)> {
        let field = Field::root().key("seeds");
        let range = match seeds {
            Some(text) => text.parse().map_err(|m: String| self.err(&field, m))?,
            None => SeedRange::DEFAULT,
        };
        let seed = seed.unwrap_or(range.first);
        if seeds.is_some() && !range.contains(seed) {
            let msg = format!("seed {seed} is outside the scenario's seed range {range}");
            return Err(self.err(&Field::root().key("seed"), msg));
        }
        Ok((seed, range))
    }

    fn variants(&self, raw: Option<Vec<String>>) -> Res<Vec<Variant>> {
        let field = Field::root().key("variants");
        let Some(names) = raw else {
            return Ok(Variant::DEFAULT.to_vec());
        };
        if names.is_empty() {
            return Err(self.err(
                &field,
                "must list at least one variant (recipient-list, lww)",
            ));
        }
        let mut out = Vec::new();
        for (i, s) in names.iter().enumerate() {
            let v: Variant = s
                .parse()
                .map_err(|m: String| self.err(&field.index(i), m))?;
            if out.contains(&v) {
                return Err(self.err(&field.index(i), format!("`{v}` is listed twice")));
            }
            out.push(v);
        }
        Ok(out)
    }

    fn expect(
        &self,
        raw: &BTreeMap<String, BTreeMap<String, Claim>>,
        variants: &[Variant],
    ) -> Res<BTreeMap<Variant, Expect>> {
        let e = Field::root().key("expect");
        let mut out = BTreeMap::new();
        for (name, checks) in raw {
            let f = e.key(name);
            let v: Variant = name.parse().map_err(|m: String| self.err(&f, m))?;
            if !variants.contains(&v) {
                let listed: Vec<_> = variants.iter().map(|v| v.name()).collect();
                let msg = format!(
                    "expectations for `{v}`, which is not in `variants` ({})",
                    listed.join(", ")
                );
                return Err(self.err(&f, msg));
            }
            if checks.is_empty() {
                let msg = format!(
                    "names no checker; give at least one of {}",
                    CheckId::names()
                );
                return Err(self.err(&f, msg));
            }
            out.insert(v, self.checks(checks, &f)?);
        }
        if let Some(v) = variants.iter().find(|v| !out.contains_key(v)) {
            let msg = format!("variant `{v}` has no expectations; add an [expect.{v}] table");
            return Err(self.err(&e.key(v.name()), msg));
        }
        Ok(out)
    }
}
