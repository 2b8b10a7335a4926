//! The loader's context: the file's text and a `toml_edit` view of it, so
//! that every check can name the file, line, column and field of what it
//! refuses. The sub-parsers (`params.rs`, `faults.rs`, ...) extend it with
//! their own checks.

use super::duration::Dur;
use super::error::{Excerpt, ScenarioError, suggestion};
use super::locate::{Field, field_at, line_col, span_of};
use crate::core::ids::Millis;
use crate::trace::{CheckId, Claim, Expect};
use std::collections::BTreeMap;
use std::ops::Range;
use toml_edit::Document;

pub(super) type Res<T> = Result<T, ScenarioError>;

pub(super) struct Cx<'a> {
    pub(super) path: &'a str,
    pub(super) text: &'a str,
    doc: Document<&'a str>,
}

impl<'a> Cx<'a> {
    /// The context for `text`, or the syntax error that stops it parsing.
    pub(super) fn new(path: &'a str, text: &'a str) -> Res<Cx<'a>> {
        let doc = Document::parse(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let (line, column) = line_col(text, span.start);
            ScenarioError {
                path: path.to_owned(),
                line,
                column,
                field: "(syntax)".into(),
                message: one_line(e.message()),
                excerpt: Excerpt::of(text, span).map(Box::new),
                help: None,
            }
        })?;
        Ok(Cx { path, text, doc })
    }

    fn at(&self, span: Option<Range<usize>>, field: &Field, message: &str) -> ScenarioError {
        let (line, column) = line_col(self.text, span.as_ref().map_or(0, |s| s.start));
        let message = one_line(message);
        ScenarioError {
            path: self.path.to_owned(),
            line,
            column,
            field: field.to_string(),
            help: suggestion(&message),
            message,
            excerpt: span.and_then(|s| Excerpt::of(self.text, s).map(Box::new)),
        }
    }

    pub(super) fn err(&self, field: &Field, message: impl AsRef<str>) -> ScenarioError {
        self.at(span_of(&self.doc, field), field, message.as_ref())
    }

    pub(super) fn serde_error(&self, e: &toml::de::Error) -> ScenarioError {
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
    match Cx::new(path, text) {
        Ok(cx) => cx.err(field, message),
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

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
