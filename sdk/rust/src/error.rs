//! The SDK's error: a readable message, which `handle` answers as WIT `err`.

use std::fmt;

/// An error out of a handler, a host call or the SDK. Its `Display` is the
/// message the host logs (and keeps in the dead letter) for the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

/// `Result<T, purr_sdk::Error>`; handlers return `Result` (= `Result<()>`).
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with `message` (anything `Display`, e.g. another error).
    pub fn new(message: impl fmt::Display) -> Self {
        Error(message.to_string())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Host calls fail with a string.
impl From<String> for Error {
    fn from(message: String) -> Self {
        Error(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error(message.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Error(format!("JSON: {error}"))
    }
}

impl From<std::str::Utf8Error> for Error {
    fn from(error: std::str::Utf8Error) -> Self {
        Error(format!("not UTF-8: {error}"))
    }
}
