//! Parsing and validation of scenario files; the format is described in
//! `docs/scenario-format.md`.
//!
//! The text is deserialised by `toml` into private "raw" structs that mirror
//! the file (unknown keys are errors), then checked and converted into the
//! model. Errors carry the dotted path of the offending field and its line
//! and column, found through a `toml_edit` view of the same text.

use super::SeedRange;
use super::duration::Dur;
use super::faults::RawFault;
use super::limits::{MAX_TICK_MS, show};
use super::locate::{Field, field_at, line_col, span_of};
use super::model::*;
use super::params::{RawNetwork, RawProtocol, RawTopology};
use super::workload::RawWorkload;
use crate::core::ids::Millis;
use crate::core::member::membership::Variant;
use crate::trace::{CheckId, Claim, Expect};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use toml_edit::Document;

/// A scenario file that cannot be used, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}:{line}:{column}: {field}: {message}")]
pub struct ScenarioError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    /// Dotted path of the offending field, e.g. `faults[2].rate`;
    /// `(syntax)` when the file is not valid TOML, `(file)` when it cannot
    /// be read.
    pub field: String,
    pub message: String,
    /// The line the error points into, for `report`.
    pub excerpt: Option<Box<super::snippet::Excerpt>>,
    /// A suggestion, such as the name a misspelt one was meant to be.
    pub help: Option<String>,
}

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
    let doc = Document::parse(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let (line, column) = line_col(text, span.start);
        ScenarioError {
            path: path.to_owned(),
            line,
            column,
            field: "(syntax)".into(),
            message: one_line(e.message()),
            excerpt: super::snippet::Excerpt::of(text, span).map(Box::new),
            help: None,
        }
    })?;
    let cx = Cx { path, text, doc };
    let raw: RawScenario = toml::from_str(text).map_err(|e| cx.serde_error(&e))?;
    cx.convert(raw)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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
}

// ---- checking and conversion ----

pub(super) type Res<T> = Result<T, ScenarioError>;

pub(super) struct Cx<'a> {
    path: &'a str,
    text: &'a str,
    doc: Document<&'a str>,
}

impl Cx<'_> {
    fn at(&self, span: Option<Range<usize>>, field: &Field, message: &str) -> ScenarioError {
        let (line, column) = line_col(self.text, span.as_ref().map_or(0, |s| s.start));
        let message = one_line(message);
        ScenarioError {
            path: self.path.to_owned(),
            line,
            column,
            field: field.to_string(),
            help: super::snippet::suggestion(&message),
            message,
            excerpt: span.and_then(|s| super::snippet::Excerpt::of(self.text, s).map(Box::new)),
        }
    }

    pub(super) fn err(&self, field: &Field, message: impl AsRef<str>) -> ScenarioError {
        self.at(span_of(&self.doc, field), field, message.as_ref())
    }

    fn serde_error(&self, e: &toml::de::Error) -> ScenarioError {
        let span = e.span();
        let mut field = span
            .as_ref()
            .map_or_else(Field::root, |s| field_at(&self.doc, s));
        let missing = e.message().strip_prefix("missing field `");
        if let Some(name) = missing.and_then(|rest| rest.split('`').next()) {
            field = field.key(name);
        }
        // serde speaks Rust; say it in TOML's words.
        let mut message = e.message().to_owned();
        for (rust, toml) in [
            ("expected i64", "expected an integer"),
            ("expected u64", "expected a non-negative integer"),
            ("expected f64", "expected a number"),
            ("a sequence", "an array"),
            ("invalid type: map", "invalid type: table"),
            ("invalid type: sequence", "invalid type: array"),
            // "Variant" means a membership protocol here.
            ("unknown variant `", "unknown value `"),
        ] {
            message = message.replace(rust, toml);
        }
        self.at(span, &field, &message)
    }

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

    pub(super) fn positive(
        &self,
        value: Option<Dur>,
        default: Millis,
        field: &Field,
    ) -> Res<Millis> {
        match value.map_or(default, |d| d.0) {
            0 => Err(self.err(field, "must be greater than zero")),
            ms => Ok(ms),
        }
    }

    /// An integer in `min..=max`; `limit` says what `max` is.
    pub(super) fn count(&self, v: i64, field: &Field, min: u32, max: u32, limit: &str) -> Res<u32> {
        if v < i64::from(min) {
            Err(self.err(field, format!("must be at least {min}, got {v}")))
        } else if v > i64::from(max) {
            Err(self.err(field, format!("must be at most {max} ({limit}), got {v}")))
        } else {
            Ok(v as u32)
        }
    }

    pub(super) fn rate(&self, v: f64, field: &Field, below_one: bool) -> Res<f64> {
        let ok = v.is_finite() && v >= 0.0 && if below_one { v < 1.0 } else { v <= 1.0 };
        let range = if below_one { "[0, 1)" } else { "[0, 1]" };
        ok.then_some(v)
            .ok_or_else(|| self.err(field, format!("must be in {range}, got {v}")))
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

impl Cx<'_> {
    /// Claims keyed by checker names, typed; an unknown name is an error
    /// at its key that lists the known ones (and so gets a "did you mean").
    pub(super) fn checks(&self, raw: &BTreeMap<String, Claim>, f: &Field) -> Res<Expect> {
        raw.iter()
            .map(|(name, claim)| match CheckId::parse(name) {
                Some(c) => Ok((c, *claim)),
                None => {
                    let msg = format!(
                        "unknown checker `{name}` (expected one of {})",
                        CheckId::names()
                    );
                    Err(self.err(&f.key(name), msg))
                }
            })
            .collect()
    }
}

/// An error about `field` of the file at `path`, located in `text`, for
/// checks made outside the loader (reshaping, say).
pub(super) fn error_at(path: &str, text: &str, field: &Field, message: &str) -> ScenarioError {
    match Document::parse(text) {
        Ok(doc) => Cx { path, text, doc }.err(field, message),
        Err(_) => ScenarioError {
            path: path.to_owned(),
            line: 0,
            column: 0,
            field: field.to_string(),
            message: message.to_owned(),
            excerpt: None,
            help: None,
        },
    }
}
