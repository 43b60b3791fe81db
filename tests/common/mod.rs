//! Shared test harness: a purr host on the sim network with the real plugins.
//!
//! Plugins come from `plugins/dist` and `tests/plugins/dist`, built by
//! `scripts/build-plugins` (the README's test command runs it first).

#![allow(dead_code)] // each test binary uses its own part of the harness

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use purr::config::Config;
use purr::session::State;
use purr::supervisor::Supervisor;
use tempfile::TempDir;

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The built component of a plugin (`echo`, `guard`, `probe`, ...).
pub fn plugin_path(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        root.join("plugins/dist").join(format!("{name}.wasm")),
        root.join("tests/plugins/dist").join(format!("{name}.wasm")),
    ];
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("plugin {name} is not built: run scripts/build-plugins first"))
}

/// The `echo` plugin alone in session `s`.
pub const ECHO_ALONE: &str = r#"
[plugins.echo]
path = "{echo}"

[sessions.s]
channel = "sim"
plugins = ["echo"]
"#;

/// The `probe` plugin alone in session `s`.
pub const PROBE_ALONE: &str = r#"
[plugins.probe]
path = "{probe}"

[sessions.s]
channel = "sim"
plugins = ["probe"]
"#;

/// A config file in a temp dir: `[host]`/`[sim]` preset, `body` appended.
/// `{echo}`, `{probe}`, ... in `body` become those plugins' paths.
pub struct TestConfig {
    pub dir: TempDir,
    pub path: PathBuf,
    /// Extra lines of the `[host]` table.
    host: String,
    /// The PostgreSQL database of this config (`PURR_TEST_DB=postgres`),
    /// else none: SQLite in `data/`.
    pub database: Option<String>,
}

impl TestConfig {
    pub fn new(body: &str) -> Self {
        Self::with_host("", body)
    }

    /// A config whose `[host]` table also has the lines `host`.
    pub fn with_host(host: &str, body: &str) -> Self {
        let postgres = purr::store::testing::postgres_wanted() && !host.contains("database =");
        Self::create(host, body, postgres)
    }

    /// A config on SQLite whatever `PURR_TEST_DB` says: for tests of the
    /// database file itself.
    pub fn sqlite(body: &str) -> Self {
        Self::create("", body, false)
    }

    fn create(host: &str, body: &str, postgres: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("purr.toml");
        let database = postgres.then(fresh_pg_database);
        let host = match &database {
            // A short renew interval: a host's first take of leases waits one.
            Some(url) if host.contains("lease_renew_ms") => format!("database = \"{url}\"\n{host}"),
            Some(url) => format!("database = \"{url}\"\nlease_renew_ms = 100\nlease_expiry_ms = 2000\n{host}"),
            None => host.to_string(),
        };
        let this = TestConfig {
            dir,
            path,
            host,
            database,
        };
        this.write(body);
        this
    }

    /// A connection URL for reading this config's database from outside the
    /// host (read-only on SQLite).
    pub fn database_url(&self) -> String {
        match &self.database {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=ro", self.dir.path().join("data/purr.db").display()),
        }
    }

    /// Replaces the config's body (same data dir).
    pub fn write(&self, body: &str) {
        let mut body = body.to_string();
        for name in ["echo", "guard", "probe", "hostile", "unruly", "tagged-v1", "tagged-v2"] {
            body = body.replace(&format!("{{{name}}}"), &plugin_path(name).display().to_string());
        }
        let text = format!(
            "[host]\ndata_dir = \"data\"\n{}\n[sim]\npair_delay_ms = 20\n\n{body}",
            self.host
        );
        std::fs::write(&self.path, text).expect("write config");
    }

    pub fn load(&self) -> Config {
        Config::load(&self.path).unwrap_or_else(|e| panic!("test config invalid:\n{e}"))
    }

    /// A host on this config, nothing started.
    pub async fn host(&self) -> Host {
        Host {
            supervisor: Supervisor::new(self.load()).await.expect("supervisor"),
        }
    }

    /// A host with every autostart session started and connected.
    pub async fn started(&self) -> Host {
        let host = self.host().await;
        host.supervisor.start_autostart().await;
        for (name, session) in self.load().sessions {
            if session.autostart {
                host.wait_state(&name, State::Connected).await;
            }
        }
        host
    }
}

/// A running host under test.
pub struct Host {
    pub supervisor: Supervisor,
}

impl Host {
    /// Waits (bounded) until `session` reaches `state`.
    pub async fn wait_state(&self, session: &str, state: State) {
        let wait = self.supervisor.wait_for(session, |s| s.state == state);
        match tokio::time::timeout(PATIENCE, wait).await {
            Ok(result) => {
                result.expect("status");
            }
            Err(_) => panic!(
                "session {session} never reached {state}; status: {:?}",
                self.supervisor.status(session)
            ),
        }
    }

    /// Sends `text` from `from` into `session`, waits until it was handled,
    /// and returns the texts the session sent meanwhile.
    pub async fn say_as(&self, session: &str, from: &str, text: &str) -> Vec<String> {
        let before = self.sent(session).len();
        self.supervisor
            .sim()
            .inject_text(session, from, text)
            .await
            .expect("inject");
        self.supervisor.flush(session).await.expect("flush");
        self.sent(session).split_off(before)
    }

    /// The texts `session` sent so far on the sim network, in order.
    pub fn sent(&self, session: &str) -> Vec<String> {
        self.supervisor
            .sim()
            .outbound(session)
            .iter()
            .filter_map(|o| o.action.text().map(str::to_string))
            .collect()
    }

    /// [`say_as`](Self::say_as) from the default test user `user`.
    pub async fn say(&self, session: &str, text: &str) -> Vec<String> {
        self.say_as(session, "user", text).await
    }

    /// Starts watching the config and plugin files, as `purr run` does.
    pub fn watch(&self, config: &TestConfig) -> purr::reload::Watcher {
        purr::reload::watch(self.supervisor.clone(), &config.path, Box::new(|config| config)).expect("watcher")
    }

    /// The status of plugin `name`.
    pub fn plugin(&self, name: &str) -> purr::plugin::PluginStatus {
        self.supervisor
            .plugins()
            .into_iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no plugin {name}"))
    }

    /// The value of counter or gauge `name` whose labels include `labels`,
    /// from the host's metrics; panics if there is none.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self.supervisor.encode_metrics();
        let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("metrics parse");
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(key, value)| s.labels.get(key) == Some(*value)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                ref other => panic!("{name}: {other:?}"),
            })
            .unwrap_or_else(|| panic!("no {name} with {labels:?} in:\n{text}"))
    }

    pub async fn stop(self) {
        self.supervisor.stop().await;
    }
}

/// A child process (a real `purr`) killed when the test ends, however it ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs the `purr` binary with `args` (and what `configure` adds: a
/// working directory, environment), `stdin` as its input and `RUST_LOG`
/// unset; its output once it has exited.
pub fn run_purr(args: &[&str], stdin: &str, configure: impl FnOnce(&mut Command)) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_purr"));
    command
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    configure(&mut command);
    let mut child = command.spawn().expect("spawn purr");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().expect("purr output")
}

/// A `purr <args> -c <config>` command: `RUST_LOG=warn`, stdout discarded,
/// stderr the test's.
pub fn purr_command(config: &TestConfig, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_purr"));
    command
        .args(args)
        .arg("-c")
        .arg(&config.path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    command
}

/// Queues `texts` for `session` through `purr sim send` (stdin lines, the
/// persistent sim inbox a running host reads).
pub fn sim_queue(config: &TestConfig, session: &str, texts: &[String]) {
    let mut child = purr_command(config, &["sim", "send", session])
        .stdin(Stdio::piped())
        .spawn()
        .expect("purr sim send");
    let mut stdin = child.stdin.take().unwrap();
    for text in texts {
        writeln!(stdin, "{text}").unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success(), "purr sim send failed");
}

/// What `session` sent so far, through `purr sim log` (`[sim] keep_sent`).
pub fn sim_sent(config: &TestConfig, session: &str) -> Vec<String> {
    let output = purr_command(config, &["sim", "log", session])
        .stdout(Stdio::piped())
        .output()
        .expect("purr sim log");
    assert!(output.status.success(), "purr sim log failed");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A fresh PostgreSQL database on `PURR_TEST_PG` (created on a thread of its
/// own: configs are made inside and outside async tests).
fn fresh_pg_database() -> String {
    std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(purr::store::testing::fresh_pg_database())
            .expect("a fresh test database")
    })
    .join()
    .unwrap()
}
