//! Logs as data: `--log-format json` / `PURR_LOG_FORMAT=json` writes one
//! JSON object per stderr line, plugin records included; text logs carry no
//! colour codes when stderr is not a terminal.

mod common;

use std::process::Output;

use common::{TestConfig, run_purr};
use serde_json::Value;

/// `hostile` first (it logs and prints on command, and lets everything
/// else through), then `echo`.
const HOSTILE_THEN_ECHO: &str = r#"
[plugins.hostile]
path = "{hostile}"

[plugins.echo]
path = "{echo}"

[sessions.s]
channel = "sim"
plugins = ["hostile", "echo"]
"#;

/// A plugin `log` call (`log-line`) and a line on the plugin's stderr
/// (`print-flood`), around a reply from echo.
const INPUT: &str = "!ping\nlog-line 10\nprint-flood 1 7\n";

fn purr(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let output = run_purr(args, stdin, |command| {
        command.envs(env.iter().copied());
    });
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    output
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Parses one stderr line as a record of tracing-subscriber's JSON
/// formatter and checks its shape: `timestamp`, `level`, `target` and
/// `fields.message`, all strings.
fn record(line: &str) -> Value {
    let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    for key in ["timestamp", "level", "target"] {
        assert!(record[key].is_string(), "no string {key}: {line}");
    }
    assert!(
        ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&record["level"].as_str().unwrap()),
        "level: {line}"
    );
    assert!(record["fields"]["message"].is_string(), "no fields.message: {line}");
    record
}

#[test]
fn json_logs_are_one_object_per_line_with_plugin_records_tagged() {
    let config = TestConfig::new(HOSTILE_THEN_ECHO);
    let path = config.path.to_str().unwrap();

    // A first run links the new sim account (from the environment variable).
    // `purr chat` tells the person at the terminal about the QR in one plain
    // line, which is not a log record; everything else is JSON.
    let output = purr(
        &["chat", "s", "-c", path],
        "",
        &[("PURR_LOG_FORMAT", "json"), ("RUST_LOG", "info")],
    );
    let text = stderr(&output);
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("[purr] new sim account"))
        .collect();
    assert!(!lines.is_empty(), "no log at RUST_LOG=info");
    for line in lines {
        record(line);
    }

    let output = purr(
        &["chat", "s", "-c", path, "--log-format", "json"],
        INPUT,
        &[("RUST_LOG", "info")],
    );
    assert_eq!(stdout_lines(&output), ["pong", "logged", "printed"]);
    let text = stderr(&output);
    let records: Vec<Value> = text.lines().map(record).collect();

    let plugin_record = |target: &str, message: &str| {
        records
            .iter()
            .find(|r| r["target"] == target && r["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no {target} record {message:?} in:\n{text}"))
    };
    let logged = plugin_record("purr::plugin::log", &format!("<<{}>>", "x".repeat(10)));
    assert_eq!(logged["level"], "WARN");
    assert_eq!(logged["fields"]["session"], "s");
    assert_eq!(logged["fields"]["plugin"], "hostile");
    assert!(
        logged["fields"]["event"].as_str().is_some_and(|id| !id.is_empty()),
        "no event id: {logged}"
    );
    let printed = plugin_record("purr::plugin::output", &"z".repeat(7));
    assert_eq!(printed["fields"]["session"], "s");
    assert_eq!(printed["fields"]["plugin"], "hostile");
    assert_eq!(printed["fields"]["stream"], "stderr");
}

#[test]
fn text_logs_to_a_pipe_have_no_colour_codes() {
    let config = TestConfig::new(HOSTILE_THEN_ECHO);
    let path = config.path.to_str().unwrap();
    // The flag (before the command) wins over the environment.
    let output = purr(
        &["--log-format", "text", "chat", "s", "-c", path],
        INPUT,
        &[("PURR_LOG_FORMAT", "json"), ("RUST_LOG", "info")],
    );
    assert_eq!(stdout_lines(&output), ["pong", "logged", "printed"]);
    let text = stderr(&output);
    assert!(text.contains("<<xxxxxxxxxx>>"), "no plugin record in:\n{text}");
    assert!(text.lines().all(|line| !line.starts_with('{')), "not text:\n{text}");
    assert!(!output.stderr.contains(&0x1b), "ESC in the log:\n{text:?}");
}
