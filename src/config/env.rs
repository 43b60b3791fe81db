//! `${VAR}` substitution in config strings.
//!
//! Runs on parsed values, never on the raw text, so a secret cannot change
//! the TOML structure and error positions stay right. `$${` stands for a
//! literal `${`; an unset variable is an error.

use super::spans::KeyPath;

/// Looks up an environment variable.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// `text` with every `${VAR}` replaced by its value.
pub fn substitute(text: &str, lookup: Lookup<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or_else(|| format!("unterminated `${{` in {text:?}"))?;
            let name = &after[..end];
            let value = lookup(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
            out.push_str(&value);
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Substitutes in every string of `value` (at `path`), recording failures.
pub fn substitute_all(
    value: &mut toml::Value,
    path: &KeyPath,
    lookup: Lookup<'_>,
    errors: &mut Vec<(KeyPath, String)>,
) {
    match value {
        toml::Value::String(text) => match substitute(text, lookup) {
            Ok(done) => *text = done,
            Err(message) => errors.push((path.clone(), message)),
        },
        toml::Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                substitute_all(item, &path.index(index), lookup, errors);
            }
        }
        toml::Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                substitute_all(item, &path.key(key), lookup, errors);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_string())
    }

    #[test]
    fn variables_are_replaced() {
        assert_eq!(substitute("Bearer ${TOKEN}!", &env).unwrap(), "Bearer s3cret!");
        assert_eq!(substitute("${TOKEN}${TOKEN}", &env).unwrap(), "s3crets3cret");
        assert_eq!(substitute("no vars, $5", &env).unwrap(), "no vars, $5");
    }

    #[test]
    fn double_dollar_is_a_literal() {
        assert_eq!(substitute("$${TOKEN} is ${TOKEN}", &env).unwrap(), "${TOKEN} is s3cret");
    }

    #[test]
    fn unset_and_unterminated_are_errors() {
        assert_eq!(
            substitute("${NOPE}", &env).unwrap_err(),
            "environment variable NOPE is not set"
        );
        assert!(substitute("${TOKEN", &env).unwrap_err().contains("unterminated"));
    }
}
