//! The `purr` commands that manage a running host (`list`, `start`,
//! `disconnect`, `send`, `events`, `plugins`) against a real `purr run`
//! in the background: what they print, `--json`, and their errors (wrong
//! token, unknown session, no host).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use common::{ECHO_ALONE, KillOnDrop, PATIENCE, TestConfig, free_port};
use serde_json::Value;

fn purr(config: &TestConfig, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_purr"));
    command
        .args(args)
        .arg("-c")
        .arg(&config.path)
        .env_remove("PURR_API_TOKEN")
        .env_remove("PURR_API_TOKEN_FILE")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    command
}

/// Runs a command to its end.
fn output(config: &TestConfig, args: &[&str]) -> Output {
    purr(config, args).output().expect("run purr")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs a command that must succeed; its stdout.
fn ok(config: &TestConfig, args: &[&str]) -> String {
    let output = output(config, args);
    assert!(output.status.success(), "purr {args:?} failed: {}", stderr(&output));
    stdout(&output)
}

/// Runs a command that must fail; its stderr.
fn fails(config: &TestConfig, args: &[&str]) -> String {
    let output = output(config, args);
    assert!(!output.status.success(), "purr {args:?} succeeded: {}", stdout(&output));
    stderr(&output)
}

/// `purr run` in the background, once its API answers.
fn run_host(config: &TestConfig) -> KillOnDrop {
    let host = KillOnDrop(
        purr(config, &["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("purr run"),
    );
    eventually("the host answers", || {
        output(config, &["list"]).status.success().then_some(())
    });
    host
}

/// Polls `check` until it gives something, at most [`PATIENCE`].
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < PATIENCE, "gave up waiting: {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The status of session `name` according to `purr list --json`.
fn status(config: &TestConfig, name: &str) -> String {
    let list: Value = serde_json::from_str(&ok(config, &["list", "--json"])).expect("list --json is JSON");
    list.as_array()
        .expect("an array")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no session {name} in {list}"))["status"]
        .as_str()
        .expect("a status")
        .to_string()
}

/// The actions `session` sent, through the sim outbound route (the CLI has
/// no command for it).
fn sim_outbound(api: &str, token: &str, session: &str) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("http://{api}/v1/sessions/{session}/sim/outbound"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET sim/outbound")
            .error_for_status()
            .expect("sim/outbound answered")
            .json()
            .await
            .expect("sim/outbound JSON")
    })
}

#[test]
fn the_cli_manages_a_running_host() {
    let api = format!("127.0.0.1:{}", free_port());
    let config = TestConfig::with_host(&format!("api = \"{api}\""), ECHO_ALONE);

    let refused = fails(&config, &["list", "--token", "x"]);
    assert_eq!(
        refused.trim(),
        format!("error: no purr host answers at {api}; is `purr run` running?")
    );

    // The host makes the token file on its first start; the CLI reads it from there.
    let mut host = run_host(&config);
    let token = std::fs::read_to_string(config.dir.path().join("data/api-token")).expect("api-token");

    let mut events = KillOnDrop(
        purr(&config, &["events", "--session", "s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("purr events"),
    );
    let (lines_tx, lines) = mpsc::channel::<String>();
    let events_out = events.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(events_out).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut wait_line = |what: &str, matches: &dyn Fn(&str) -> bool| {
        let start = Instant::now();
        while !seen.iter().any(|l: &String| matches(l)) {
            let left = PATIENCE.saturating_sub(start.elapsed());
            match lines.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("purr events never printed {what}; it printed {seen:?}"),
            }
        }
    };

    eventually("s connected", || (status(&config, "s") == "connected").then_some(()));
    wait_line("s connected", &|l| l.starts_with("status s connected"));

    let table = ok(&config, &["list"]);
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    let host_id = config.load().host.id;
    assert_eq!(
        rows,
        [
            vec![
                "NAME", "CHANNEL", "STATUS", "ORIGIN", "OWNER", "JID", "PLUGINS", "ERROR"
            ],
            vec!["s", "sim", "connected", "config", &host_id, "s@sim", "echo", "-"],
        ],
        "{table}"
    );

    assert_eq!(ok(&config, &["disconnect", "s"]), "s: stopped\n");
    assert_eq!(status(&config, "s"), "stopped");
    wait_line("s stopped", &|l| l.starts_with("status s stopped"));

    let started = ok(&config, &["start", "s", "--json"]);
    let started: Value = serde_json::from_str(&started).expect("start --json is JSON");
    assert_eq!(started["name"], "s");
    eventually("s connected again", || {
        (status(&config, "s") == "connected").then_some(())
    });

    let queued = ok(&config, &["send", "s", "user", "hello from the cli"]);
    let id = queued
        .strip_prefix("queued ")
        .unwrap_or_else(|| panic!("send printed {queued:?}"))
        .trim()
        .to_string();
    let sent = eventually("the text reached the sim network", || {
        let outbound = sim_outbound(&api, token.trim(), "s");
        outbound
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id.as_str())
            .cloned()
    });
    assert!(sent["action"].to_string().contains("hello from the cli"), "{sent}");
    wait_line("the sent text", &|l| l == format!("sent s {id}: hello from the cli"));

    let sent_json: Value =
        serde_json::from_str(&ok(&config, &["send", "s", "user", "again", "--json"])).expect("send --json is JSON");
    assert!(sent_json["id"].is_string(), "{sent_json}");

    let plugins = ok(&config, &["plugins"]);
    let echo: Vec<&str> = plugins
        .lines()
        .nth(1)
        .expect("a plugin row")
        .split_whitespace()
        .collect();
    assert_eq!(echo[..3], ["echo", "ready", "1"], "{plugins}");
    let plugins: Value = serde_json::from_str(&ok(&config, &["plugins", "--json"])).expect("plugins --json is JSON");
    assert_eq!(plugins[0]["name"], "echo");

    let wrong = fails(&config, &["list", "--token", "not-the-token"]);
    assert!(
        wrong.starts_with("error: ") && wrong.contains("token"),
        "wrong token said {wrong:?}"
    );
    let unknown = fails(&config, &["start", "nope"]);
    assert_eq!(unknown.trim(), "error: unknown session \"nope\"");

    // The token can come from the environment and the address from --api, without a config.
    let listed = Command::new(env!("CARGO_BIN_EXE_purr"))
        .args(["list", "--api", &api, "-c", "/nonexistent/purr.toml"])
        .env("PURR_API_TOKEN", token.trim())
        .output()
        .expect("purr list");
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(stdout(&listed).contains("connected"));

    // SIGTERM: the host stops, and the event stream with it.
    let pid = host.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(host.0.wait().expect("purr run exits").success());
    let ended = events.0.wait().expect("purr events exits");
    let mut said = String::new();
    events.0.stderr.take().unwrap().read_to_string(&mut said).unwrap();
    assert!(
        !ended.success(),
        "purr events ends with an error when the host goes away"
    );
    assert_eq!(said.trim(), format!("error: the host at {api} closed the event stream"));
}

/// A command that must fail within [`PATIENCE`]; its stderr.
fn fails_soon(mut command: Command) -> String {
    let mut child = KillOnDrop(
        command
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn purr"),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < PATIENCE, "purr kept running");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut said = String::new();
    child.0.stderr.take().unwrap().read_to_string(&mut said).unwrap();
    said
}

/// The token from a file the config names (a mounted secret): host and CLI
/// read it, the data dir gets no token of its own, `PURR_API_TOKEN_FILE`
/// comes first, and a file others can read stops both, naming the file.
#[test]
fn the_token_comes_from_a_secret_file() {
    use std::os::unix::fs::PermissionsExt;
    let set_mode =
        |path: &std::path::Path, mode| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let (file, other) = (secrets.path().join("purr-token"), secrets.path().join("other-token"));
    std::fs::write(&file, "from-the-secret-file\n").unwrap();
    std::fs::write(&other, "another-token\n").unwrap();
    set_mode(&file, 0o600);
    set_mode(&other, 0o400);
    let api = format!("127.0.0.1:{}", free_port());
    let host_lines = format!("api = \"{api}\"\napi_token_file = {:?}", file.display().to_string());
    let config = TestConfig::with_host(&host_lines, ECHO_ALONE);

    let mut host = run_host(&config); // `purr list` answers: the CLI found the token too
    assert!(
        !config.dir.path().join("data/api-token").exists(),
        "no token of its own"
    );
    eventually("the session is connected", || {
        (status(&config, "s") == "connected").then_some(())
    });
    let outbound = sim_outbound(&api, "from-the-secret-file", "s"); // a plain API call with it
    assert!(outbound.is_array(), "{outbound}");
    // Given the address, the environment's file is enough: no config read.
    let without_config = Command::new(env!("CARGO_BIN_EXE_purr"))
        .args(["list", "--api", &api, "-c", "/nonexistent/purr.toml"])
        .env_remove("PURR_API_TOKEN")
        .env("PURR_API_TOKEN_FILE", &file)
        .output()
        .unwrap();
    assert!(without_config.status.success(), "{}", stderr(&without_config));
    assert!(
        stdout(&without_config).contains("connected"),
        "{}",
        stdout(&without_config)
    );
    let listed = purr(&config, &["list"])
        .env("PURR_API_TOKEN_FILE", &other)
        .output()
        .unwrap();
    assert!(
        !listed.status.success(),
        "the environment's file comes first: another token"
    );
    assert!(
        stderr(&listed).contains("missing or wrong token"),
        "{}",
        stderr(&listed)
    );
    let pid = host.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(host.0.wait().unwrap().success());

    set_mode(&file, 0o644);
    let says = format!(
        "the API token file {} has mode 0644: anyone on the machine can read it",
        file.display()
    );
    let refused = fails_soon(purr(&config, &["run"]));
    assert!(refused.contains(&says), "purr run said {refused:?}");
    let refused = fails(&config, &["list"]);
    assert!(refused.contains(&says), "purr list said {refused:?}");
}

#[test]
fn purr_pair_draws_the_qr_and_exits_once_linked() {
    let api = format!("127.0.0.1:{}", free_port());
    let body = ECHO_ALONE.replace("plugins = [\"echo\"]", "plugins = [\"echo\"]\nautostart = false");
    let config = TestConfig::with_host(&format!("api = \"{api}\""), &body);
    let _host = run_host(&config);
    assert_eq!(status(&config, "s"), "stopped");

    // A new account: the QR is drawn in the terminal, then the sim links it.
    let paired = output(&config, &["pair", "s"]);
    assert!(paired.status.success(), "purr pair failed: {}", stderr(&paired));
    let printed = stdout(&paired);
    let drawn = printed.lines().filter(|l| l.contains('█') || l.contains('▀')).count();
    // Two rows of modules per line: a version-1 QR (21 modules) takes 11 lines.
    assert!(drawn >= 11, "a QR is drawn:\n{printed}");
    assert!(printed.contains("Linked devices"), "{printed}");
    assert!(
        printed.trim_end().ends_with("linked: session s is connected as s@sim"),
        "{printed}"
    );
    assert_eq!(status(&config, "s"), "connected");

    // Linked already: nothing to draw.
    assert_eq!(ok(&config, &["pair", "s"]), "linked: session s is connected as s@sim\n");

    // Pair codes are WhatsApp's; the sim refuses them, and a bad number is refused first.
    let refused = fails(&config, &["pair", "s", "--phone", "+15551234567"]);
    assert!(refused.contains("pair codes are WhatsApp's"), "{refused}");
    let bad = fails(&config, &["pair", "s", "--phone", "555"]);
    assert!(bad.contains("not a phone number"), "{bad}");
}
