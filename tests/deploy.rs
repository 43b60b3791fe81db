//! `deploy/`: the systemd unit passes `systemd-analyze verify` (no
//! warnings: a misspelt hardening key would be ignored silently), its
//! sandbox scores as "OK" in `systemd-analyze security`, and the example
//! config it runs passes `purr check`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{plugin_path, run_purr};

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(file)
}

/// The unit with its `ExecStart` pointing at the purr under test (verify
/// checks that the binary exists), in a temp dir.
fn unit_for_test() -> (tempfile::TempDir, PathBuf) {
    let unit = std::fs::read_to_string(deploy("purr.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/purr run -c /etc/purr/purr.toml"));
    let unit = unit.replace("/usr/local/bin/purr", env!("CARGO_BIN_EXE_purr"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("purr.service");
    std::fs::write(&path, unit).unwrap();
    (dir, path)
}

fn systemd_analyze(args: &[&str]) -> Output {
    Command::new("systemd-analyze")
        .args(args)
        .output()
        .expect("systemd-analyze (Debian package systemd; scripts/test installs it)")
}

#[test]
fn the_systemd_unit_verifies_without_warnings() {
    let (_dir, unit) = unit_for_test();
    let output = systemd_analyze(&["verify", unit.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stderr.trim(), "", "systemd-analyze verify warns");
}

#[test]
fn the_systemd_unit_is_sandboxed() {
    let (_dir, unit) = unit_for_test();
    let output = systemd_analyze(&["security", "--offline=true", unit.to_str().unwrap()]);
    let report = String::from_utf8_lossy(&output.stdout);
    let overall = report
        .lines()
        .find_map(|line| line.split_once("Overall exposure level for purr.service: "))
        .map(|(_, level)| level.to_string())
        .unwrap_or_else(|| panic!("no overall level in:\n{report}"));
    let score: f64 = overall.split_whitespace().next().unwrap().parse().unwrap();
    assert!(score <= 2.0, "exposure {overall} (0 is best, 10 worst):\n{report}");
}

#[test]
fn the_example_config_checks() {
    let dir = tempfile::tempdir().unwrap();
    let config = std::fs::read_to_string(deploy("purr.toml"))
        .unwrap()
        .replace("/var/lib/purr", &dir.path().join("state").display().to_string())
        .replace(
            "/etc/purr/plugins/guard.wasm",
            &plugin_path("guard").display().to_string(),
        )
        .replace(
            "/etc/purr/plugins/echo.wasm",
            &plugin_path("echo").display().to_string(),
        );
    let path = dir.path().join("purr.toml");
    std::fs::write(&path, config).unwrap();
    let output = run_purr(&["check", "-c", path.to_str().unwrap()], "", |_| {});
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
