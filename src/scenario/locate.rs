//! Where in a scenario file a field lives.
//!
//! Field paths such as `faults[2].rate` are mapped to byte spans by walking a
//! `toml_edit` document, spans are mapped back to paths for the errors the
//! `toml` deserialiser reports, and byte offsets become 1-based line and
//! column numbers.

use std::fmt;
use std::ops::Range;
use toml_edit::{Document, Item, TableLike, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A dotted path to a field, e.g. `workload.ops[0].target`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Field(Vec<Seg>);

impl Field {
    pub(crate) fn root() -> Self {
        Field(Vec::new())
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        Field(segs)
    }

    pub(crate) fn index(&self, i: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(i));
        Field(segs)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if n == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// 1-based line and column (counted in characters) of byte `offset`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A position inside the document while walking a path.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Table(&'a dyn TableLike),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn table_like(self) -> Option<&'a dyn TableLike> {
        match self {
            Node::Item(item) => item.as_table_like(),
            Node::Table(t) => Some(t),
            Node::Value(v) => v.as_inline_table().map(|t| t as &dyn TableLike),
        }
    }

    fn child(self, seg: &Seg) -> Option<(Node<'a>, Option<Range<usize>>)> {
        match seg {
            Seg::Key(k) => {
                let (key, item) = self.table_like()?.get_key_value(k)?;
                Some((Node::Item(item), item.span().or_else(|| key.span())))
            }
            Seg::Index(i) => {
                let array = match self {
                    Node::Item(item) => {
                        if let Some(aot) = item.as_array_of_tables() {
                            let t = aot.get(*i)?;
                            return Some((Node::Table(t), t.span()));
                        }
                        item.as_array()?
                    }
                    Node::Value(v) => v.as_array()?,
                    Node::Table(_) => return None,
                };
                let v = array.get(*i)?;
                Some((Node::Value(v), v.span()))
            }
        }
    }
}

/// The span of the item at `field`, or else of its nearest ancestor that
/// has one.
pub(crate) fn span_of(doc: &Document<&str>, field: &Field) -> Option<Range<usize>> {
    let mut node = Node::Item(doc.as_item());
    let mut best = None;
    for seg in &field.0 {
        let Some((next, span)) = node.child(seg) else {
            break;
        };
        if span.is_some() {
            best = span;
        }
        node = next;
    }
    best
}

/// The path of the deepest key or value whose span contains `target`; the
/// root if none does.
pub(crate) fn field_at(doc: &Document<&str>, target: &Range<usize>) -> Field {
    let mut path = Vec::new();
    if !target.is_empty() {
        in_table(doc.as_table(), target, &mut path);
    }
    Field(path)
}

fn within(outer: Option<Range<usize>>, target: &Range<usize>) -> bool {
    outer.is_some_and(|o| o.start <= target.start && target.end <= o.end)
}

fn in_table(table: &dyn TableLike, target: &Range<usize>, path: &mut Vec<Seg>) -> bool {
    for (k, item) in table.iter() {
        path.push(Seg::Key(k.to_owned()));
        if within(table.key(k).and_then(|k| k.span()), target) || in_item(item, target, path) {
            return true;
        }
        path.pop();
    }
    false
}

fn in_item(item: &Item, target: &Range<usize>, path: &mut Vec<Seg>) -> bool {
    match item {
        Item::None => false,
        Item::Value(v) => in_value(v, target, path),
        Item::Table(t) => in_table(t, target, path) || within(t.span(), target),
        Item::ArrayOfTables(aot) => {
            for (i, t) in aot.iter().enumerate() {
                path.push(Seg::Index(i));
                if in_table(t, target, path) || within(t.span(), target) {
                    return true;
                }
                path.pop();
            }
            false
        }
    }
}

fn in_value(value: &Value, target: &Range<usize>, path: &mut Vec<Seg>) -> bool {
    match value {
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(Seg::Index(i));
                if in_value(v, target, path) {
                    return true;
                }
                path.pop();
            }
        }
        Value::InlineTable(t) if in_table(t, target, path) => return true,
        _ => {}
    }
    within(value.span(), target)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "a = 1\n[t]\nx = [1, 2]\n[[f]]\nk = 'v'\n[[f]]\nk = { y = 3 }\n";

    fn doc() -> Document<&'static str> {
        Document::parse(TEXT).unwrap()
    }

    #[test]
    fn paths_display() {
        let f = Field::root().key("faults").index(2).key("rate");
        assert_eq!(f.to_string(), "faults[2].rate");
        assert_eq!(Field::root().to_string(), "");
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("é\nx", 1), (1, 1));
        assert_eq!(line_col("ab", 99), (1, 3));
    }

    #[test]
    fn spans_and_paths_round_trip() {
        let d = doc();
        for path in [
            Field::root().key("a"),
            Field::root().key("t").key("x").index(1),
            Field::root().key("f").index(1).key("k").key("y"),
            Field::root().key("f").index(0),
        ] {
            let span = span_of(&d, &path).unwrap();
            assert_eq!(field_at(&d, &span), path, "{path}");
        }
        // A missing leaf falls back to its parent.
        let span = span_of(&d, &Field::root().key("t").key("nope")).unwrap();
        assert_eq!(&TEXT[span], "[t]");
    }
}
