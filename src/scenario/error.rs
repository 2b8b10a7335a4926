//! A scenario error, and showing it where it is: the offending line with a
//! caret under the value, and a "did you mean" for a misspelt name. The
//! first line of the report stays `path:line:col: field: message`, for
//! editors.

use std::ops::Range;

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
    pub excerpt: Option<Box<Excerpt>>,
    /// A suggestion, such as the name a misspelt one was meant to be.
    pub help: Option<String>,
}

/// The source line an error points into, and the bytes of it to underline.
#[derive(Debug, Clone, PartialEq)]
pub struct Excerpt {
    pub line_text: String,
    pub span: Range<usize>,
}

impl Excerpt {
    /// The line of `text` holding `span`, with `span` made relative to it
    /// and kept within it (a table's span can run over several lines).
    pub fn of(text: &str, span: Range<usize>) -> Option<Excerpt> {
        let mut start = span.start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |i| line_start + i);
        let line_text = text.get(line_start..line_end)?.trim_end_matches('\r');
        let len = line_text.len();
        // Within the line, at least one column wide (a caret at its end
        // for a value that is missing).
        let mut from = (start - line_start).min(len);
        while !line_text.is_char_boundary(from) {
            from -= 1;
        }
        let mut to = span
            .end
            .saturating_sub(line_start)
            .clamp(from + 1, len.max(from + 1));
        while to < len && !line_text.is_char_boundary(to) {
            to += 1;
        }
        Some(Excerpt {
            line_text: line_text.to_owned(),
            span: from..to,
        })
    }
}

/// The closest of `candidates` to `word`, when one is close enough to be
/// a slip of the keyboard rather than another name.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The name a message calls unknown, and the names it says were expected:
/// serde's "unknown field `x`, expected one of `a`, `b`", and the loader's
/// "unknown fault kind `x` (expected a, b or c)".
pub fn suggestion(message: &str) -> Option<String> {
    let rest = &message[message.find("unknown")?..];
    let word = rest.split('`').nth(1)?;
    let expected = &rest[rest.find("expected")?..];
    let quoted: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let listed: Vec<&str> = if quoted.is_empty() {
        expected
            .trim_start_matches("expected")
            .split([',', ' ', '(', ')'])
            .filter(|w| !w.is_empty() && *w != "or" && *w != "one" && *w != "of")
            .collect()
    } else {
        quoted
    };
    did_you_mean(word, listed).map(|c| format!("did you mean `{c}`?"))
}

impl ScenarioError {
    /// The error as a person reads it: the one-line form, then the line
    /// it points into with a caret under the value, and a suggestion when
    /// a name looks misspelt.
    pub fn report(&self) -> String {
        use annotate_snippets::{Level, Renderer, Snippet};
        let first = self.to_string();
        let Some(excerpt) = &self.excerpt else {
            return first;
        };
        let mut message = Level::Error.title(&self.message).snippet(
            Snippet::source(&excerpt.line_text)
                .line_start(self.line)
                .origin(&self.path)
                .annotation(Level::Error.span(excerpt.span.clone()).label(&self.field)),
        );
        if let Some(help) = &self.help {
            message = message.footer(Level::Help.title(help));
        }
        format!("{first}\n{}", Renderer::plain().render(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slip_is_suggested_and_another_name_is_not() {
        let m = "unknown field `membrs`, expected one of `members`, `agents`, `founders`";
        assert_eq!(suggestion(m).as_deref(), Some("did you mean `members`?"));
        let m =
            "unknown fault kind `partiton` (expected partition, partition_oneway, loss or crash)";
        assert_eq!(suggestion(m).as_deref(), Some("did you mean `partition`?"));
        let m = "unknown field `zebra`, expected one of `members`, `agents`";
        assert_eq!(suggestion(m), None);
        assert_eq!(suggestion("must be positive"), None);
    }

    proptest::proptest! {
        /// Whatever the text and span, an excerpt and its report are made
        /// without a panic, and the span lies within the line (or one past
        /// its end).
        #[test]
        fn any_span_of_any_text_is_shown(text in "(.|\r|\n){0,60}", a in 0usize..80, b in 0usize..80) {
            if let Some(e) = Excerpt::of(&text, a..b) {
                proptest::prop_assert!(e.span.start < e.span.end);
                proptest::prop_assert!(e.span.end <= e.line_text.len() + 1);
                let err = ScenarioError {
                    path: "p.toml".into(),
                    line: 1,
                    column: 1,
                    field: "f".into(),
                    message: "m".into(),
                    excerpt: Some(Box::new(e)),
                    help: None,
                };
                let _ = err.report();
            }
        }
    }

    #[test]
    fn the_excerpt_is_the_line_holding_the_span() {
        let text = "[topology]\nmembers = \"five\"\nagents = 3\n";
        let start = text.find("\"five\"").unwrap();
        let e = Excerpt::of(text, start..start + 6).unwrap();
        assert_eq!(e.line_text, "members = \"five\"");
        assert_eq!(e.span, 10..16);
        // A span past the end still gives a line and a caret.
        let e = Excerpt::of(text, text.len()..text.len()).unwrap();
        assert_eq!(e.span.len(), 1);
    }
}
