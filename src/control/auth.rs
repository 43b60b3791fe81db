//! The API token: where it comes from, and the middleware that checks it.
//!
//! The token is the first of:
//! 1. `PURR_API_TOKEN`, if set and not empty;
//! 2. the file `PURR_API_TOKEN_FILE` names, else the file `[host]
//!    api_token_file` names (a mounted secret: `/run/secrets/purr-token`).
//!    It is read once at start, surrounding whitespace (a trailing newline)
//!    trimmed; a missing or empty file is an error, and so is one others
//!    may read or group or others may write (the message names the file,
//!    its mode and the fix). Group may read it: a secret shared with the
//!    service's group (Kubernetes' `fsGroup`, `root:purr 0640`) is the
//!    operator's choice;
//! 3. the file `<data_dir>/api-token`, made on the first start: 32 random
//!    bytes as hex, mode 0600, written to a temporary file and linked into
//!    place, so a reader never sees half a token and two hosts starting at
//!    once agree on one. An existing file that group or others may read or
//!    write is refused at start (the message names the mode and the fix):
//!    it may have been read or replaced, which only the operator can judge.
//!
//! Clients (`purr list`, ...) find it the same way, but only read the
//! data-dir file. Requests carry it as `Authorization: Bearer <token>`; it
//! is compared in constant time. A request without it, or with another, is
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
use crate::config::HostConfig;

/// The environment variable that sets the token.
pub const TOKEN_ENV: &str = "PURR_API_TOKEN";

/// The environment variable naming a file that holds the token.
pub const TOKEN_FILE_ENV: &str = "PURR_API_TOKEN_FILE";

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

    /// The host's token: from the environment or a token file if one is
    /// given (see the module doc), else [`load_or_create`](Self::load_or_create).
    pub fn for_host(host: &HostConfig) -> anyhow::Result<Self> {
        match Self::given(host, &|name| std::env::var(name).ok())? {
            Some(token) => Ok(token),
            None => Self::load_or_create(&host.data_dir),
        }
    }

    /// A client's token: the host's sources in the host's order, but the
    /// data dir's file is only read (the host makes it).
    pub fn for_client(host: &HostConfig) -> anyhow::Result<Self> {
        if let Some(token) = Self::given(host, &|name| std::env::var(name).ok())? {
            return Ok(token);
        }
        let path = token_path(&host.data_dir);
        let token = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read the API token {}; the host creates it on its first start (or set \
                 {TOKEN_ENV} or {TOKEN_FILE_ENV}, or pass --token)",
                path.display()
            )
        })?;
        Ok(ApiToken(token.trim().to_string()))
    }

    /// The token of the file `PURR_API_TOKEN_FILE` names, if it is set (a
    /// client given the host's address then needs no config).
    pub fn from_env_file() -> anyhow::Result<Option<Self>> {
        env_file(&|name| std::env::var(name).ok())
            .map(|path| read_token_file(&path))
            .transpose()
    }

    /// The token `env` (the process environment, in tests another) or a
    /// token file gives, if any.
    fn given(host: &HostConfig, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Option<Self>> {
        if let Some(token) = env(TOKEN_ENV).filter(|token| !token.is_empty()) {
            return Ok(Some(ApiToken(token)));
        }
        env_file(env)
            .or_else(|| host.api_token_file.clone())
            .map(|path| read_token_file(&path))
            .transpose()
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

/// The file `PURR_API_TOKEN_FILE` names in `env`, if set and not empty.
fn env_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env(TOKEN_FILE_ENV).filter(|path| !path.is_empty()).map(PathBuf::from)
}

/// The token of a file the operator named: not readable by others, not
/// writable by group or others, not empty; surrounding whitespace trimmed.
fn read_token_file(path: &Path) -> anyhow::Result<ApiToken> {
    let p = path.display();
    let mode = crate::store::private::mode(path)
        .with_context(|| format!("the API token file {p}"))?
        .with_context(|| format!("the API token file {p} does not exist"))?;
    if mode & 0o022 != 0 {
        anyhow::bail!(
            "the API token file {p} has mode {mode:04o}: group or others can write it, so it may not \
             hold your token; run `chmod 600 {p}` (or `chmod 640` to share it with a group) and \
             check what it holds"
        );
    }
    if mode & 0o004 != 0 {
        anyhow::bail!(
            "the API token file {p} has mode {mode:04o}: anyone on the machine can read it; run \
             `chmod 600 {p}` (or `chmod 640` to share it with a group), and change the token if \
             someone else may have read it"
        );
    }
    let token = std::fs::read_to_string(path).with_context(|| format!("reading the API token file {p}"))?;
    let token = token.trim();
    if token.is_empty() {
        anyhow::bail!("the API token file {p} is empty: write the token into it");
    }
    Ok(ApiToken(token.to_string()))
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

    /// A `[host]` table with `data_dir = "data"` and `api_token_file` (if
    /// given), in a config file in `dir`.
    fn host(dir: &Path, token_file: Option<&Path>) -> HostConfig {
        let line = token_file.map_or(String::new(), |f| {
            format!("api_token_file = {:?}", f.display().to_string())
        });
        let text = format!("[host]\ndata_dir = \"data\"\n{line}\n");
        crate::config::Config::parse(&text, &dir.join("purr.toml"))
            .unwrap()
            .host
    }

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_sources_come_in_order_env_token_file_then_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let (config_file, env_file) = (dir.path().join("config-token"), dir.path().join("env-token"));
        std::fs::write(&config_file, "from-config\n").unwrap();
        std::fs::write(&env_file, "  from-env-file\r\n").unwrap();
        set_mode(&config_file, 0o600);
        set_mode(&env_file, 0o640);
        let with_file = host(dir.path(), Some(&config_file));
        let given = |host: &HostConfig, vars: &[(&str, &str)]| ApiToken::given(host, &env(vars)).unwrap().map(|t| t.0);
        let env_file_var = (TOKEN_FILE_ENV, env_file.to_str().unwrap());
        assert_eq!(
            given(&with_file, &[(TOKEN_ENV, "from-env"), env_file_var]).as_deref(),
            Some("from-env")
        );
        assert_eq!(
            given(&with_file, &[(TOKEN_ENV, ""), env_file_var]).as_deref(),
            Some("from-env-file")
        );
        assert_eq!(given(&with_file, &[]).as_deref(), Some("from-config"));
        assert_eq!(given(&host(dir.path(), None), &[]), None, "then the data dir's file");
        assert!(
            !dir.path().join("data").exists(),
            "a given token makes no data dir file"
        );
    }

    #[test]
    fn a_token_file_others_may_read_or_anyone_write_missing_or_empty_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        let p = file.display().to_string();
        let refused = |host: &HostConfig| format!("{:#}", ApiToken::given(host, &env(&[])).unwrap_err());
        let host = host(dir.path(), Some(&file));
        assert!(
            refused(&host).contains(&format!("{p} does not exist")),
            "{}",
            refused(&host)
        );
        std::fs::write(&file, "s3cret\n").unwrap();
        for (mode, says) in [
            (0o644, "anyone on the machine can read"),
            (0o604, "can read"),
            (0o660, "can write"),
            (0o602, "can write"),
        ] {
            set_mode(&file, mode);
            let error = refused(&host);
            assert!(
                error.contains(&format!("the API token file {p} has mode {mode:04o}")),
                "{error}"
            );
            assert!(
                error.contains(says) && error.contains(&format!("chmod 600 {p}")),
                "{error}"
            );
        }
        for mode in [0o600, 0o640, 0o400, 0o440] {
            set_mode(&file, mode);
            assert_eq!(ApiToken::given(&host, &env(&[])).unwrap().unwrap().0, "s3cret");
        }
        set_mode(&file, 0o600);
        std::fs::write(&file, "\n").unwrap();
        assert!(refused(&host).contains(&format!("the API token file {p} is empty")));
    }
}
