//! Command parsing: `/name rest` or `!name rest` in a trimmed text, and the
//! rest split into arguments. The same rules in every purr SDK.

/// Splits a command off `text`: when `text`, trimmed of Unicode White_Space
/// (`str::trim`), starts with `/` or `!` and a name that ends at the end of
/// the text or at a White_Space char, returns `(name, rest)`: the name as
/// typed and what follows it and ONE White_Space char, otherwise unchanged.
pub(crate) fn token(text: &str) -> Option<(&str, &str)> {
    let text = text.trim();
    let body = text.strip_prefix(['/', '!'])?;
    let (name, rest) = match body.char_indices().find(|(_, c)| c.is_whitespace()) {
        Some((at, space)) => (&body[..at], &body[at + space.len_utf8()..]),
        None => (body, ""),
    };
    (!name.is_empty()).then_some((name, rest))
}

/// Whether `typed` is `name` (given in lowercase) in any case.
pub(crate) fn same_name(typed: &str, name: &str) -> bool {
    typed.chars().flat_map(char::to_lowercase).eq(name.chars())
}

/// Whether `name` can be a command: not empty, no White_Space, no `/` or
/// `!` in front (it is given without them).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with(['/', '!']) && !name.contains(char::is_whitespace)
}

/// Splits `text` on runs of White_Space. `"double"` or `'single'` quotes
/// group words and are removed; inside quotes a backslash escapes the quote
/// that opened them; an unterminated quote runs to the end.
/// `one "two words"  three` → `["one", "two words", "three"]`.
pub(crate) fn split_args(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    // The argument being read (None between arguments), the open quote.
    let mut current: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == '\\' && chars.peek() == Some(&q) => {
                chars.next();
                current.get_or_insert_default().push(q);
            }
            Some(q) if c == q => quote = None,
            Some(_) => current.get_or_insert_default().push(c),
            None if c.is_whitespace() => args.extend(current.take()),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                current.get_or_insert_default();
            }
            None => current.get_or_insert_default().push(c),
        }
    }
    args.extend(current);
    args
}
