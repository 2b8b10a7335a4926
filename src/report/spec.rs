//! Report specs (`reports/specs/*.toml`): which scenarios to run at which
//! group sizes, kinds of group, variants, engines and seeds. The format is
//! described in `docs/reports.md`.

use crate::core::member::membership::Variant;
use crate::scenario::limits::MAX_MEMBERS;
use crate::scenario::{GroupKind, Scenario, ScenarioError, SeedRange, parse_str};
use crate::sim::Engine;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A spec, checked: every series names a scenario that loads, and sizes,
/// seeds, variants and engines that exist.
#[derive(Clone, Debug)]
pub struct ReportSpec {
    /// The file's stem: the report's default folder is `reports/<name>/`.
    pub name: String,
    pub path: PathBuf,
    pub description: String,
    pub series: Vec<Series>,
}

/// One scenario measured across sizes. Entries of the file with the same
/// name are one series, so that the largest sizes can run fewer seeds.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub scenario: PathBuf,
    /// The scenario file's text, and the scenario it describes.
    pub text: String,
    pub original: Scenario,
    pub measure: Measure,
    /// Empty: the scenario's own kind.
    pub kinds: Vec<GroupKind>,
    pub sizes: Vec<u32>,
    /// Empty: the scenario's own variants.
    pub variants: Vec<Variant>,
    pub engines: Vec<Engine>,
    pub seeds: SeedRange,
}

/// What a series measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    /// The scenario as written: times to converge, fall back and take
    /// over, delivery latency, and simulated seconds per wall second.
    Run,
    /// Bytes and crypto operations per application message and per
    /// commit: the scenario at rest, with its messages only and with its
    /// ops only, and the differences.
    Cost,
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{path}:{line}:{column}: {field}: {message}")]
    At {
        path: String,
        line: usize,
        column: usize,
        field: String,
        message: String,
    },
    #[error("{0}")]
    Scenario(#[from] Box<ScenarioError>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    #[serde(default)]
    description: String,
    series: Vec<RawSeries>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeries {
    name: String,
    scenario: PathBuf,
    #[serde(default = "run")]
    measure: Measure,
    #[serde(default)]
    kinds: Vec<GroupKind>,
    sizes: Vec<u32>,
    #[serde(default)]
    variants: Vec<String>,
    #[serde(default)]
    engines: Vec<String>,
    seeds: String,
}

fn run() -> Measure {
    Measure::Run
}

impl ReportSpec {
    pub fn load(path: &Path) -> Result<ReportSpec, SpecError> {
        let shown = path.display().to_string();
        let at =
            |span: Option<std::ops::Range<usize>>, text: &str, field: &str, message: String| {
                let offset = span.map_or(0, |s| s.start);
                let before = &text[..offset.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                SpecError::At {
                    path: shown.clone(),
                    line,
                    column,
                    field: field.to_owned(),
                    message,
                }
            };
        let text =
            std::fs::read_to_string(path).map_err(|e| at(None, "", "(file)", e.to_string()))?;
        let raw: RawSpec = toml::from_str(&text)
            .map_err(|e| at(e.span(), &text, "(spec)", e.message().trim().to_owned()))?;
        let doc = text.parse::<toml_edit::Document<String>>().ok();
        // The span of `series[i].key`, for errors found after parsing.
        let span_of = |i: usize, key: &str| {
            let series = doc.as_ref()?.get("series")?.as_array_of_tables()?.get(i)?;
            series.get(key)?.span()
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut series = Vec::new();
        for (i, s) in raw.series.into_iter().enumerate() {
            let fail = |key: &str, message: String| {
                at(
                    span_of(i, key),
                    &text,
                    &format!("series[{i}].{key}"),
                    message,
                )
            };
            // The name becomes file names: keep it to one plain word.
            let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
            if s.name.is_empty() || !s.name.chars().all(plain) {
                let msg = format!("`{}`: use letters, digits, `-` and `_` only", s.name);
                return Err(fail("name", msg));
            }
            if s.sizes.is_empty() || s.sizes.iter().any(|&n| n < 2) {
                return Err(fail(
                    "sizes",
                    "must list group sizes of at least 2 members".into(),
                ));
            }
            let seeds: SeedRange = s.seeds.parse().map_err(|m: String| fail("seeds", m))?;
            let variants = (s.variants.iter())
                .map(|v| v.parse::<Variant>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| fail("variants", m))?;
            let engines = if s.engines.is_empty() {
                vec![Engine::default()]
            } else {
                (s.engines.iter())
                    .map(|e| e.parse::<Engine>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|m| fail("engines", m))?
            };
            let scenario = shorter(&dir.join(&s.scenario));
            if !scenario.is_file() {
                let msg = format!("no scenario file at {}", scenario.display());
                return Err(fail("scenario", msg));
            }
            let shown = scenario.display().to_string();
            let text = std::fs::read_to_string(&scenario)
                .map_err(|e| fail("scenario", format!("{shown}: {e}")))?;
            let original = parse_str(&shown, &text).map_err(Box::new)?;
            if let Some(v) = variants.iter().find(|v| !original.variants.contains(v)) {
                let msg = format!("{shown} has no expectations for `{v}`");
                return Err(fail("variants", msg));
            }
            let t = &original.topology;
            let least = t.members - t.founders + 2;
            if let Some(n) = (s.sizes.iter()).find(|&&n| n < least || n > MAX_MEMBERS) {
                let msg = format!(
                    "{n} members: {shown} can be resized to {least} to {MAX_MEMBERS} members \
                     (it adds {} member(s) beyond its founders, and keeps at least 2)",
                    t.members - t.founders
                );
                return Err(fail("sizes", msg));
            }
            // One name is one series: the same scenario measured one way,
            // and no two series resize one file to the same file.
            for (j, other) in series.iter().enumerate() {
                let other: &Series = other;
                let same_name = other.name == s.name;
                if same_name && (other.scenario != scenario || other.measure != s.measure) {
                    let msg = format!(
                        "series[{j}] is also named `{}` but measures {} another way",
                        s.name,
                        other.scenario.display()
                    );
                    return Err(fail("name", msg));
                }
                let clash = other.scenario.file_stem() == scenario.file_stem()
                    && other.measure == s.measure
                    && other.sizes.iter().any(|n| s.sizes.contains(n));
                if clash && !same_name {
                    let msg = format!(
                        "series[{j}] (`{}`) already resizes a file named like {shown} \
                         to one of these sizes; measure it in one series",
                        other.name
                    );
                    return Err(fail("scenario", msg));
                }
            }
            series.push(Series {
                name: s.name,
                scenario,
                text,
                original,
                measure: s.measure,
                kinds: s.kinds,
                sizes: s.sizes,
                variants,
                engines,
                seeds,
            });
        }
        if series.is_empty() {
            return Err(at(
                None,
                &text,
                "series",
                "a spec needs at least one [[series]]".into(),
            ));
        }
        Ok(ReportSpec {
            name: path
                .file_stem()
                .map_or("report".into(), |s| s.to_string_lossy().into_owned()),
            path: path.to_owned(),
            description: raw.description,
            series,
        })
    }
}

/// `path` relative to the working directory when it lies below it (a
/// spec's `../../scenarios/x.toml` is `scenarios/x.toml`), as given
/// otherwise.
fn shorter(path: &Path) -> PathBuf {
    let relative = || {
        let full = std::fs::canonicalize(path).ok()?;
        let here = std::env::current_dir().ok()?;
        Some(full.strip_prefix(here).ok()?.to_owned())
    };
    relative().unwrap_or_else(|| path.to_owned())
}
