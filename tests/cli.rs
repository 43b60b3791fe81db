//! The `purr` binary: `chat` and `check` as a user runs them.

mod common;

use std::process::Output;

use common::{TestConfig, run_purr};

const QUICKSTART_LIKE: &str = r#"
[plugins.guard]
path = "{guard}"
config = { banned = ["spam"] }

[plugins.echo]
path = "{echo}"
config = { greeting = "hi there" }

[sessions.demo]
channel = "sim"
plugins = ["guard", "echo"]
"#;

fn purr(args: &[&str], stdin: &str) -> Output {
    purr_with_env(args, stdin, &[])
}

fn purr_with_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    run_purr(args, stdin, |command| {
        command.envs(env.iter().copied());
    })
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn chat_prints_one_line_per_reply_and_keeps_state_between_runs() {
    let config = TestConfig::new(QUICKSTART_LIKE);
    let path = config.path.to_str().unwrap();
    let input = "!ping\n!echo hello world\nnothing to see\n!hello\nthis is spam\n!count\n";
    let output = purr(&["chat", "demo", "-c", path], input);
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // `nothing to see` gets no reply; the spam is blocked before echo counts it.
    assert_eq!(
        stdout_lines(&output),
        ["pong", "hello world", "hi there", "blocked", "5"]
    );

    let output = purr(&["chat", "demo", "-c", path, "--from", "alice"], "!count\n");
    assert_eq!(stdout_lines(&output), ["1"], "another user is another chat");
    let output = purr(&["chat", "demo", "-c", path], "!count\n");
    assert_eq!(stdout_lines(&output), ["6"], "kv persisted in data_dir");
}

#[test]
fn chat_prints_a_multi_line_text_on_one_line() {
    let config = TestConfig::new(QUICKSTART_LIKE);
    let output = purr(&["chat", "demo", "-c", config.path.to_str().unwrap()], "!echo a\\nb\n");
    assert_eq!(stdout_lines(&output), ["a\\nb"]);
}

#[test]
fn config_strings_take_secrets_from_the_environment() {
    let config = TestConfig::new(
        r#"
[plugins.echo]
path = "{echo}"
config = { greeting = "${PURR_TEST_GREETING} costs $${PRICE}" }

[sessions.demo]
channel = "sim"
plugins = ["echo"]
"#,
    );
    let path = config.path.to_str().unwrap();
    let output = purr_with_env(
        &["chat", "demo", "-c", path],
        "!hello\n",
        &[("PURR_TEST_GREETING", "psst")],
    );
    assert_eq!(stdout_lines(&output), ["psst costs ${PRICE}"]);

    let output = purr(&["check", "-c", path], "");
    assert_eq!(output.status.code(), Some(2), "unset variable");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("plugins.echo.config.greeting: environment variable PURR_TEST_GREETING is not set"),
        "{stderr}"
    );
}

#[test]
fn chat_names_an_unknown_session() {
    let config = TestConfig::new(QUICKSTART_LIKE);
    let output = purr(&["chat", "nope", "-c", config.path.to_str().unwrap()], "");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no session \"nope\"") && stderr.contains("demo"),
        "{stderr}"
    );
}

#[test]
fn check_accepts_a_good_config_and_the_examples() {
    let config = TestConfig::new(QUICKSTART_LIKE);
    let output = purr(&["check", "-c", config.path.to_str().unwrap()], "");
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for example in [
        "examples/quickstart.toml",
        "examples/multi.toml",
        "examples/whatsapp.toml",
    ] {
        let path = format!("{}/{example}", env!("CARGO_MANIFEST_DIR"));
        let output = purr(&["check", "-c", &path], "");
        assert!(
            output.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn check_reports_every_config_problem_and_starts_nothing() {
    let config = TestConfig::new(
        r#"
[plugins.echo]
path = "{echo}"
colour = "red"

[sessions.demo]
channel = "sim"
plugins = ["echo", "ech"]
"#,
    );
    let output = purr(&["check", "-c", config.path.to_str().unwrap()], "");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let path = config.path.display().to_string();
    // Lines 1-6 are the harness's [host]/[sim] preset; the body starts at line 7.
    assert!(
        stderr.contains(&format!("{path}:10:1: plugins.echo.colour")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{path}:14:20: sessions.demo.plugins[1]")),
        "{stderr}"
    );
    assert!(
        !config.dir.path().join("data").exists(),
        "check must not create the database"
    );
}

#[test]
fn a_perf_map_of_the_plugins_code_is_written_only_when_asked_for() {
    // The C echo: its component names the shims of purr's imports (the
    // Rust examples are stripped of every name).
    let c_echo = common::plugin_path("echo-c");
    let config = TestConfig::new(&format!(
        "[plugins.echo]\npath = \"{}\"\n\n[sessions.s]\nchannel = \"sim\"\nplugins = [\"echo\"]\n",
        c_echo.display()
    ));
    let check = |env: &[(&str, &str)]| {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_purr"))
            .args(["check", "-c", config.path.to_str().unwrap()])
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn purr");
        let map = std::path::PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let text = std::fs::read_to_string(&map).ok();
        let _ = std::fs::remove_file(&map);
        text
    };

    let text = check(&[(purr::plugin::PERF_MAP_ENV, "1")]).expect("no perf map written");
    // `<address> <size> <name>` per function of the plugin's code, e.g.
    // `wasm[1]::function[1]::indirect-purr:bot/kv@0.1.1-get`.
    let plugin_code: Vec<&str> = text.lines().filter(|line| line.contains(" wasm[")).collect();
    assert!(
        plugin_code.iter().any(|line| line.contains("purr:bot/kv@")),
        "the plugins' code is not named in the perf map: {:?}",
        &plugin_code[..plugin_code.len().min(5)]
    );
    assert_eq!(
        check(&[]),
        None,
        "a perf map written without {}",
        purr::plugin::PERF_MAP_ENV
    );
}

#[test]
fn check_rejects_a_file_that_is_not_a_plugin() {
    let config = TestConfig::new(
        r#"
[plugins.junk]
path = "junk.wasm"
"#,
    );
    std::fs::write(config.dir.path().join("junk.wasm"), b"not wasm at all").unwrap();
    let output = purr(&["check", "-c", config.path.to_str().unwrap()], "");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("plugin junk") && stderr.contains("junk.wasm"),
        "{stderr}"
    );
}

#[test]
fn dead_letters_lists_the_events_whose_plugins_failed() {
    let config = TestConfig::new(common::PROBE_ALONE);
    let path = config.path.to_str().unwrap();
    let output = purr(&["chat", "s", "-c", path], "fail\nsession\n");
    assert_eq!(stdout_lines(&output), ["s"], "the session goes on after a failure");
    let output = purr(&["dead-letters", "-c", path], "");
    assert!(output.status.success());
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let fields: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(
        &fields[..4],
        ["s", "1", "probe", "plugin returned an error: probe asked to fail"]
    );
    assert!(fields[4].contains("\"fail\""), "{}", fields[4]);
}

/// Shell completions and the man page are printed on request, generated
/// from the same definition as `--help`: every command is in them.
#[test]
fn completions_and_the_man_page_cover_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let output = purr(&["completions", shell], "");
        assert!(
            output.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let script = String::from_utf8(output.stdout).unwrap();
        for command in ["run", "chat", "dead-letters", "completions"] {
            assert!(script.contains(command), "{shell} completion lacks {command}");
        }
    }
    assert_eq!(
        purr(&["completions", "tcsh"], "").status.code(),
        Some(2),
        "an unknown shell"
    );

    let output = purr(&["man"], "");
    assert!(output.status.success());
    let page = String::from_utf8(output.stdout).unwrap();
    assert!(page.contains("\n.TH purr 1 "), "roff with a title line: {page:.200}");
    // Each command is listed as its own page name (roff escapes `-`).
    assert!(page.contains("purr\\-dead\\-letters(1)"), "{page}");
}
