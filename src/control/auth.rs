//! The API token: where it comes from, and the middleware that checks it.
//!
//! The token is `PURR_API_TOKEN` if set, else the file
//! `<data_dir>/api-token`, made on the first start: 32 random bytes as
//! hex, mode 0600, written to a temporary file and linked into place, so a
//! reader never sees half a token and two hosts starting at once agree on
//! one. An existing file that group or others may read or write is refused
//! at start (the message names the mode and the fix): it may have been read
//! or replaced, which only the operator can judge. Requests carry it as `Authorization: Bearer <token>`; it is
//! compared in constant time. A request without it, or with another, is
//! answered `401` before any handler runs.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::ApiState;
use super::error::ApiError;

/// The environment variable that sets the token.
pub const TOKEN_ENV: &str = "PURR_API_TOKEN";

/// The token file's name in `data_dir`.
pub const TOKEN_FILE: &str = "api-token";

/// The secret every protected request must present.
#[derive(Clone)]
pub struct ApiToken(String);

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(..)")
    }
}

impl ApiToken {
    /// A given token (tests, or a token from elsewhere).
    pub fn new(token: impl Into<String>) -> Self {
        ApiToken(token.into())
    }

    /// `PURR_API_TOKEN` if set and not empty, else [`load_or_create`](Self::load_or_create).
    pub fn from_env_or_file(data_dir: &Path) -> anyhow::Result<Self> {
        match std::env::var(TOKEN_ENV) {
            Ok(token) if !token.is_empty() => Ok(ApiToken(token)),
            _ => Self::load_or_create(data_dir),
        }
    }

    /// The token of `data_dir/api-token`, created if there is none. A file
    /// that group or others may read or write is refused.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        crate::store::private::private_dir(data_dir, "data dir")?;
        let path = token_path(data_dir);
        if !path.exists() {
            create(data_dir, &path)?;
        }
        check_mode(&path)?;
        let token = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let token = token.trim();
        if token.is_empty() {
            anyhow::bail!("{} is empty: delete it to get a new token", path.display());
        }
        Ok(ApiToken(token.to_string()))
    }

    /// The token, for clients.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is the token (in constant time for equal lengths).
    fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

/// Where the token of `data_dir` is kept.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join(TOKEN_FILE)
}

/// Refuses a token file that group or others may write (someone may have
/// put a token they know there) or read (someone may know it).
fn check_mode(path: &Path) -> anyhow::Result<()> {
    let mode = crate::store::private::mode(path)
        .with_context(|| format!("reading {}", path.display()))?
        .unwrap_or(0o600);
    let p = path.display();
    if mode & 0o022 != 0 {
        anyhow::bail!(
            "the API token {p} has mode {mode:04o}: group or others can write it, so it may not be \
             the token purr made; delete it to get a new one (or, if you wrote it yourself, run \
             `chmod 600 {p}`)"
        );
    }
    if mode & 0o044 != 0 {
        anyhow::bail!(
            "the API token {p} has mode {mode:04o}: group or others can read it; run `chmod 600 {p}` \
             (and delete it to get a new token if someone else may have read it)"
        );
    }
    Ok(())
}

/// Writes a new random token to `path` (mode 0600) unless a file is there
/// by the time it is linked into place.
fn create(data_dir: &Path, path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let token = hex::encode(rand::random::<[u8; 32]>());
    let temporary = data_dir.join(format!(".{TOKEN_FILE}.{:016x}", rand::random::<u64>()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(token.as_bytes())?;
        file.sync_all()?;
        match std::fs::hard_link(&temporary, path) {
            // Another process made one first: use that.
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            result => result,
        }
    })();
    // The temporary name goes either way.
    let _ = std::fs::remove_file(&temporary);
    written.with_context(|| format!("creating the API token {}", path.display()))?;
    tracing::info!(path = %path.display(), "API token created");
    Ok(())
}

/// Lets the request through only with the right bearer token.
pub async fn require_token(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match presented {
        Some(token) if state.token.matches(token.trim()) => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_new_token_is_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let token = ApiToken::load_or_create(&data).unwrap();
        assert_eq!(token.as_str().len(), 64);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&token_path(&data)), 0o600);
        assert_eq!(ApiToken::load_or_create(&data).unwrap().as_str(), token.as_str());
    }

    #[test]
    fn a_token_others_may_read_or_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        ApiToken::load_or_create(&data).unwrap();
        let path = token_path(&data);
        for (mode, says) in [
            (0o640, "can read"),
            (0o604, "can read"),
            (0o620, "can write"),
            (0o666, "can write"),
        ] {
            set_mode(&path, mode);
            let error = format!("{:#}", ApiToken::load_or_create(&data).unwrap_err());
            assert!(error.contains(&format!("{mode:04o}")), "{error}");
            assert!(error.contains(says), "{error}");
            assert!(error.contains(&format!("chmod 600 {}", path.display())), "{error}");
        }
        set_mode(&path, 0o400);
        ApiToken::load_or_create(&data).unwrap();
    }
}
