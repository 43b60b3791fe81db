//! Where things are in the config text: key paths and their source positions.
//!
//! Values are read from a plain `toml::Table`; when one is wrong, its
//! position is looked up here by path in toml's spanned document model.

use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A path to a key or array element, shown as `sessions.demo.plugins[1]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<Step>);

impl KeyPath {
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path, one key deeper.
    pub fn key(&self, key: &str) -> Self {
        let mut steps = self.0.clone();
        steps.push(Step::Key(key.to_string()));
        KeyPath(steps)
    }

    /// This path, into array element `index`.
    pub fn index(&self, index: usize) -> Self {
        let mut steps = self.0.clone();
        steps.push(Step::Index(index));
        KeyPath(steps)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(key) if i == 0 => write!(f, "{key}")?,
                Step::Key(key) => write!(f, ".{key}")?,
                Step::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Which part of an entry an error points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spot {
    /// The key itself (unknown keys, duplicates).
    Key,
    /// The value (wrong type, bad value).
    Value,
}

/// The spanned document, for position lookups.
pub struct Spans<'i> {
    text: &'i str,
    root: Spanned<DeTable<'i>>,
}

impl<'i> Spans<'i> {
    pub fn new(text: &'i str, root: Spanned<DeTable<'i>>) -> Self {
        Spans { text, root }
    }

    /// The 1-based (line, column) of `path`'s key or value; the start of the
    /// nearest ancestor found when the path does not exist (a missing key).
    pub fn position(&self, path: &KeyPath, spot: Spot) -> (usize, usize) {
        line_column(self.text, self.span(path, spot).start)
    }

    fn span(&self, path: &KeyPath, spot: Spot) -> Range<usize> {
        let mut best = 0..0;
        let mut value: Option<&Spanned<DeValue<'i>>> = None; // None: the root table
        for (depth, step) in path.0.iter().enumerate() {
            let found = match (step, value.map(Spanned::get_ref)) {
                (Step::Key(key), None) => find(self.root.get_ref(), key),
                (Step::Key(key), Some(DeValue::Table(table))) => find(table, key),
                (Step::Index(index), Some(DeValue::Array(items))) => items.get(*index).map(|item| (None, item)),
                _ => None,
            };
            let Some((key_span, next)) = found else {
                return best;
            };
            if depth + 1 == path.0.len()
                && spot == Spot::Key
                && let Some(key_span) = key_span
            {
                return key_span;
            }
            best = next.span();
            value = Some(next);
        }
        best
    }
}

/// The span of `key` in `table` and its value.
fn find<'t, 'i>(table: &'t DeTable<'i>, key: &str) -> Option<(Option<Range<usize>>, &'t Spanned<DeValue<'i>>)> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(k, v)| (Some(k.span()), v))
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 4), (1, 5));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(
            line_column(text, text.rfind('=').unwrap()),
            (2, 4),
            "columns count characters"
        );
    }

    #[test]
    fn paths_print_dotted_with_indexes() {
        let path = KeyPath::root().key("sessions").key("demo").key("plugins").index(1);
        assert_eq!(path.to_string(), "sessions.demo.plugins[1]");
    }

    #[test]
    fn positions_of_keys_values_and_array_items() {
        let text = "[sessions.demo]\nchannel = \"sim\"\nplugins = [\"a\", \"b\"]\n";
        let spans = Spans::new(text, DeTable::parse(text).unwrap());
        let session = KeyPath::root().key("sessions").key("demo");
        assert_eq!(spans.position(&session.key("channel"), Spot::Key), (2, 1));
        assert_eq!(spans.position(&session.key("channel"), Spot::Value), (2, 11));
        assert_eq!(spans.position(&session.key("plugins").index(1), Spot::Value), (3, 17));
    }
}
