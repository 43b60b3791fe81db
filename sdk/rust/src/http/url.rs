//! The parts of an absolute URL a `wasi:http` request is made of.

use crate::{Error, Result};

/// `scheme://authority/path?query` (a `#fragment` is dropped).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// Lowercase: `http`, `https`, ...
    pub(crate) scheme: String,
    /// `host` or `host:port` (with `user@` if given).
    pub(crate) authority: String,
    /// Starts with `/`.
    pub(crate) path_with_query: String,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Target> {
        let invalid = || Error::new(format!("invalid URL \"{url}\" (want scheme://host/path)"));
        let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        let rest = rest.split('#').next().unwrap_or_default();
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if !valid_scheme || authority.is_empty() {
            return Err(invalid());
        }
        Ok(Target {
            scheme: scheme.to_ascii_lowercase(),
            authority: authority.to_string(),
            path_with_query: if path.starts_with('/') {
                path.to_string()
            } else {
                format!("/{path}")
            },
        })
    }
}
