//! Config validation as a user meets it: every problem reported at once,
//! each naming the file, line, column and key.

use std::path::PathBuf;

use purr::config::{ChannelKind, Config, ConfigError};
use tempfile::TempDir;

/// A config directory holding two (dummy) plugin files, `a.wasm` and `b.wasm`.
struct Dir {
    dir: TempDir,
}

impl Dir {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in ["a.wasm", "b.wasm"] {
            std::fs::write(dir.path().join(name), b"\0asm").expect("plugin file");
        }
        Dir { dir }
    }

    fn source(&self) -> PathBuf {
        self.dir.path().join("purr.toml")
    }

    fn parse(&self, text: &str) -> Result<Config, Vec<ConfigError>> {
        Config::parse(text, &self.source()).map_err(|errors| errors.0)
    }

    /// The problems in `text` as (line, column, key), in file order.
    fn problems(&self, text: &str) -> Vec<(usize, usize, String)> {
        let errors = self.parse(text).expect_err("config should be rejected");
        for error in &errors {
            assert_eq!(error.file, self.source(), "every error names the file");
        }
        errors.into_iter().map(|e| (e.line, e.column, e.key)).collect()
    }

    /// The single problem in `text`.
    fn problem(&self, text: &str) -> ConfigError {
        let mut errors = self.parse(text).expect_err("config should be rejected");
        assert_eq!(errors.len(), 1, "expected one problem, got: {errors:#?}");
        errors.remove(0)
    }
}

const GOOD: &str = r#"
[host]
data_dir = "state"

[plugins.a]
path = "a.wasm"
timeout_ms = 250
config = { greeting = "hey" }

[plugins.b]
path = "b.wasm"

[sessions.support]
channel = "sim"
plugins = ["a", "b"]
config.a = { greeting = "welcome" }

[sessions.ops]
channel = "whatsapp"
plugins = ["b"]
autostart = false
"#;

#[test]
fn a_good_config_resolves_paths_against_its_own_directory() {
    let dir = Dir::new();
    let config = dir.parse(GOOD).expect("valid config");
    assert_eq!(config.host.data_dir, dir.dir.path().join("state"));
    assert_eq!(config.plugins["a"].path, dir.dir.path().join("a.wasm"));
    assert_eq!(config.plugins["a"].timeout_ms, 250);
    assert_eq!(config.plugins["b"].timeout_ms, 1000, "default deadline");
    let support = &config.sessions["support"];
    assert_eq!(support.channel, ChannelKind::Sim);
    assert_eq!(support.plugins, ["a", "b"]);
    assert!(support.autostart);
    assert_eq!(support.overrides["a"]["greeting"].as_str(), Some("welcome"));
    assert!(!config.sessions["ops"].autostart);
}

#[test]
fn a_single_session_table_is_the_default_session() {
    let dir = Dir::new();
    let config = dir
        .parse("[plugins.a]\npath = \"a.wasm\"\n\n[session]\nchannel = \"sim\"\nplugins = [\"a\"]\n")
        .expect("valid config");
    assert_eq!(config.sessions.keys().collect::<Vec<_>>(), ["default"]);
    assert_eq!(config.sessions["default"].plugins, ["a"]);
}

#[test]
fn unknown_keys_are_named_where_they_are() {
    let dir = Dir::new();
    let text = "\
[host]
datadir = \"x\"

[plugins.a]
path = \"a.wasm\"
timeout = 5

[sessions.s]
channel = \"sim\"
plugin = [\"a\"]

[extra]
";
    assert_eq!(
        dir.problems(text),
        [
            (2, 1, "host.datadir".to_string()),
            (6, 1, "plugins.a.timeout".to_string()),
            (10, 1, "sessions.s.plugin".to_string()),
            (12, 2, "extra".to_string()),
        ]
    );
    let error = dir.problem("[host]\n  datadir = \"x\"\n");
    assert_eq!(
        error.to_string(),
        format!(
            "{}:2:3: host.datadir: unknown key `datadir` (expected one of: data_dir, database, api, queue_capacity, journal, journal_keep, event_attempts, max_instances, shutdown_grace_ms, api_token_file, id, max_sessions, lease_renew_ms, lease_expiry_ms)",
            dir.source().display()
        )
    );
}

#[test]
fn a_chain_naming_an_undefined_plugin_points_at_the_name() {
    let dir = Dir::new();
    let error =
        dir.problem("[plugins.a]\npath = \"a.wasm\"\n\n[sessions.s]\nchannel = \"sim\"\nplugins = [\"a\", \"nope\"]\n");
    assert_eq!((error.line, error.column), (6, 17));
    assert_eq!(error.key, "sessions.s.plugins[1]");
    assert!(
        error.message.contains("unknown plugin \"nope\" (defined: a)"),
        "{error}"
    );
}

#[test]
fn a_missing_shadow_file_is_reported_at_its_key() {
    let dir = Dir::new();
    let error = dir.problem("[plugins.echo]\npath = \"a.wasm\"\nshadow = \"next.wasm\"\n");
    assert_eq!(
        (error.line, error.column, error.key.as_str()),
        (3, 10, "plugins.echo.shadow")
    );
    assert!(error.message.contains("next.wasm does not exist"), "{error}");
}

#[test]
fn a_missing_wasm_file_is_reported_at_its_path() {
    let dir = Dir::new();
    let error = dir.problem("[plugins.gone]\npath = \"gone.wasm\"\n");
    assert_eq!(
        (error.line, error.column, error.key.as_str()),
        (2, 8, "plugins.gone.path")
    );
    assert!(error.message.contains("gone.wasm does not exist"), "{error}");

    let error = dir.problem("[plugins.nameless]\ntimeout_ms = 5\n");
    assert_eq!((error.line, error.key.as_str()), (1, "plugins.nameless"));
    assert!(error.message.contains("missing `path`"), "{error}");
}

#[test]
fn duplicates_are_rejected() {
    let dir = Dir::new();
    // A plugin twice in one chain.
    let error =
        dir.problem("[plugins.a]\npath = \"a.wasm\"\n[sessions.s]\nchannel = \"sim\"\nplugins = [\"a\", \"a\"]\n");
    assert_eq!(
        (error.line, error.column, error.key.as_str()),
        (5, 17, "sessions.s.plugins[1]")
    );
    assert!(error.message.contains("already in this chain"), "{error}");

    // The default session twice: [session] and [sessions.default].
    let error = dir.problem("[sessions.default]\nchannel = \"sim\"\n\n[session]\nchannel = \"sim\"\n");
    assert_eq!((error.line, error.column, error.key.as_str()), (4, 2, "session"));
    assert!(error.message.contains("duplicate session `default`"), "{error}");

    // The same key or table twice is a TOML error, placed at the second one.
    let error = dir.problem("[plugins.a]\npath = \"a.wasm\"\npath = \"b.wasm\"\n");
    assert_eq!(error.line, 3);
    assert!(error.message.contains("duplicate key"), "{error}");
    let error = dir.problem("[plugins.a]\npath = \"a.wasm\"\n\n[plugins.a]\npath = \"b.wasm\"\n");
    assert_eq!(error.line, 4);
    assert!(error.message.contains("duplicate"), "{error}");
}

#[test]
fn bad_values_name_the_expected_value() {
    let dir = Dir::new();
    let text = "\
[host]
api = \"localhost\"
queue_capacity = 0

[plugins.a]
path = \"a.wasm\"
memory_mb = \"lots\"

[sessions.s]
channel = \"telegram\"
plugins = \"a\"
autostart = \"yes\"

[sessions.\"bad name\"]
channel = \"sim\"
";
    let errors = dir.parse(text).expect_err("rejected");
    let found: Vec<_> = errors
        .iter()
        .map(|e| (e.line, e.key.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (2, "host.api", "\"localhost\" is not an address like 127.0.0.1:7777"),
            (3, "host.queue_capacity", "0 is out of range (1..=1000000)"),
            (7, "plugins.a.memory_mb", "expected an integer, found string"),
            (
                10,
                "sessions.s.channel",
                "unknown channel \"telegram\" (expected \"sim\" or \"whatsapp\")"
            ),
            (
                11,
                "sessions.s.plugins",
                "expected an array of plugin names, found string"
            ),
            (12, "sessions.s.autostart", "expected true or false, found string"),
            (
                14,
                "sessions.bad name",
                "invalid name \"bad name\": use 1 to 64 letters, digits, `_` and `-`"
            ),
        ]
    );
}

#[test]
fn an_override_for_a_plugin_outside_the_chain_is_an_error() {
    let dir = Dir::new();
    let error = dir.problem(
        "[plugins.a]\npath = \"a.wasm\"\n[plugins.b]\npath = \"b.wasm\"\n\
         [sessions.s]\nchannel = \"sim\"\nplugins = [\"a\"]\n[sessions.s.config.b]\nx = 1\n",
    );
    assert_eq!((error.line, error.key.as_str()), (8, "sessions.s.config.b"));
    assert!(error.message.contains("not in this session's chain"), "{error}");
}

#[test]
fn an_unset_environment_variable_is_an_error_at_its_value() {
    let dir = Dir::new();
    let error =
        dir.problem("[plugins.a]\npath = \"a.wasm\"\nconfig = { token = \"${PURR_TEST_SURELY_UNSET_VARIABLE}\" }\n");
    assert_eq!((error.line, error.column), (3, 20));
    assert_eq!(error.key, "plugins.a.config.token");
    assert!(
        error
            .message
            .contains("environment variable PURR_TEST_SURELY_UNSET_VARIABLE is not set"),
        "{error}"
    );
}

/// `purr check` prints an unset variable as `file:line:column: key: message`.
#[test]
fn check_names_the_file_and_line_of_an_unset_variable() {
    let dir = Dir::new();
    let text = "[host]\napi_token_file = \"${PURR_TEST_SURELY_UNSET_SECRETS}/token\"\n";
    std::fs::write(dir.source(), text).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_purr"))
        .args(["check", "-c"])
        .arg(dir.source())
        .env_remove("PURR_TEST_SURELY_UNSET_SECRETS")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!(
        "{}:2:18: host.api_token_file: environment variable PURR_TEST_SURELY_UNSET_SECRETS is not set",
        dir.source().display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn the_api_token_file_resolves_against_the_config_dir() {
    let dir = Dir::new();
    let config = dir.parse("[host]\napi_token_file = \"secrets/token\"\n").unwrap();
    let expected = dir.dir.path().canonicalize().unwrap().join("secrets/token");
    assert_eq!(config.host.api_token_file, Some(expected));
    assert_eq!(dir.parse("").unwrap().host.api_token_file, None);
}

#[test]
fn journal_keep_is_a_duration_of_at_least_a_minute() {
    let dir = Dir::new();
    let keep = |text: &str| dir.parse(text).unwrap().host.journal_keep;
    let hours = |h: u64| std::time::Duration::from_secs(h * 3600);
    assert_eq!(keep(""), hours(24), "one day by default");
    assert_eq!(keep("[host]\njournal_keep = \"7d\"\n"), hours(7 * 24));
    assert_eq!(keep("[host]\njournal_keep = \"36h\"\n"), hours(36));
    assert_eq!(keep("[host]\njournal_keep = \"90m\"\n"), hours(1) + hours(1) / 2);

    let text = "\
[host]
data_dir = \"x\"
journal_keep = \"7 fortnights\"

[sim]
keep_sent = true
";
    let error = dir.problem(text);
    assert_eq!(
        (error.line, error.column, error.key.as_str()),
        (3, 16, "host.journal_keep")
    );
    assert!(
        error
            .message
            .contains("\"7 fortnights\" is not a duration such as \"7d\""),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}:3:16: host.journal_keep: ", dir.source().display())),
        "{error}"
    );
    let error = dir.problem("[host]\njournal_keep = \"30s\"\n");
    assert_eq!((error.line, error.key.as_str()), (2, "host.journal_keep"));
    assert!(error.message.contains("shorter than a minute"), "{error}");
    let error = dir.problem("[host]\njournal_keep = 7\n");
    assert_eq!(
        error.message,
        "expected a duration such as \"7d\", \"36h\" or \"90m\", found integer"
    );
}

#[test]
fn a_syntax_error_gives_its_position() {
    let dir = Dir::new();
    let error = dir.problem("[host]\ndata_dir = \"unterminated\n");
    assert_eq!(error.line, 2);
    assert_eq!(error.key, "");
    assert!(error.to_string().starts_with(&format!("{}:2:", dir.source().display())));
}

#[test]
fn a_config_that_cannot_be_read_says_so() {
    let dir = Dir::new();
    let errors = Config::load(&dir.dir.path().join("missing.toml")).expect_err("no file");
    assert_eq!(errors.len(), 1);
    assert!(errors.0[0].message.contains("cannot read the config"), "{}", errors);
}

#[test]
fn allowed_hosts_entries_are_checked_one_by_one() {
    let dir = Dir::new();
    let text = "\
[plugins.a]
path = \"a.wasm\"
allowed_hosts = [
    \"https://api.example.com\",
    \"api.example.com\",
    \"https://*.example.org:8443\",
    \"ftp://files.example.com\",
    \"https://example.com/v1\",
]
http_max_concurrent = 0

[plugins.b]
path = \"b.wasm\"
allowed_hosts = \"https://api.example.com\"
";
    let errors = dir.parse(text).expect_err("rejected");
    let found: Vec<_> = errors
        .iter()
        .map(|e| (e.line, e.column, e.key.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                5,
                5,
                "plugins.a.allowed_hosts[1]",
                "\"api.example.com\": expected scheme://host[:port], e.g. \"https://api.example.com\""
            ),
            (
                7,
                5,
                "plugins.a.allowed_hosts[3]",
                "\"ftp://files.example.com\": scheme \"ftp\" is not http or https"
            ),
            (
                8,
                5,
                "plugins.a.allowed_hosts[4]",
                "\"https://example.com/v1\": only scheme://host[:port] is allowed (no path, query or user)"
            ),
            (10, 23, "plugins.a.http_max_concurrent", "0 is out of range (1..=1024)"),
            (
                14,
                17,
                "plugins.b.allowed_hosts",
                "expected an array of \"scheme://host[:port]\" strings, found string"
            ),
        ]
    );
    let good =
        "[plugins.a]\npath = \"a.wasm\"\nallowed_hosts = [\"https://*.example.org\", \"http://127.0.0.1:8080\"]\n";
    let config = dir.parse(good).expect("valid");
    let http = &config.plugins["a"].http;
    assert_eq!(http.allowed_hosts.len(), 2);
    assert!(http.allowed_hosts[0].matches(true, "api.example.org", 443));
    assert!(http.allowed_hosts[1].matches(false, "127.0.0.1", 8080));
    assert_eq!(http.max_concurrent, 8, "default");
}
