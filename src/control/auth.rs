//! The API token: where it comes from, and the middleware that checks it.
//!
//! The token is `PURR_API_TOKEN` if set, else the file
//! `<data_dir>/api-token`, made on the first start: 32 random bytes as
//! hex, mode 0600, written to a temporary file and linked into place, so a
//! reader never sees half a token and two hosts starting at once agree on
//! one. Requests carry it as `Authorization: Bearer <token>`; it is
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

    /// The token of `data_dir/api-token`, created if there is none.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = token_path(data_dir);
        if !path.exists() {
            create(data_dir, &path)?;
        }
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

/// Writes a new random token to `path` (mode 0600) unless a file is there
/// by the time it is linked into place.
fn create(data_dir: &Path, path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
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
