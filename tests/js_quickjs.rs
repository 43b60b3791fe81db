//! A JavaScript plugin built for QuickJS (`tests/plugins/dice-js`, on the
//! SDK) through the real `purr chat`: what the SDK adds to that engine
//! works in a live component — `Math.random` seeded per instance (QuickJS
//! seeds it when its context is made, which is at build time, so every
//! instance from the snapshot would roll the same numbers) and `console`
//! into the host log.
//!
//! Plugins come from `scripts/build-plugins`.

mod common;

use common::{TestConfig, plugin_path, run_purr};

/// `dice-js` alone in session `s`, a fresh instance for every event.
fn config() -> TestConfig {
    TestConfig::new(&format!(
        "[plugins.dice]\npath = \"{}\"\nmax_calls = 1\n\n[sessions.s]\nchannel = \"sim\"\nplugins = [\"dice\"]\n",
        plugin_path("dice-js").display()
    ))
}

#[test]
fn every_fresh_quickjs_instance_rolls_its_own_numbers_and_console_reaches_the_log() {
    let config = config();
    let output = run_purr(
        &["chat", "s", "-c", config.path.to_str().unwrap()],
        "!roll\n!roll\n!roll\n!roll\n",
        |command| {
            command.env("RUST_LOG", "purr::plugin::log=info");
        },
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "purr chat failed:\n{stderr}");
    let rolls: Vec<f64> = stdout
        .lines()
        .map(|line| {
            line.parse()
                .unwrap_or_else(|_| panic!("not a roll: {line:?}\n{stderr}"))
        })
        .collect();
    assert_eq!(rolls.len(), 4, "one roll per message:\n{stdout}\n{stderr}");
    assert!(rolls.iter().all(|roll| (0.0..1.0).contains(roll)), "{rolls:?}");
    let mut distinct = rolls.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "fresh instances rolled the same numbers: {rolls:?}");
    for roll in stdout.lines() {
        assert!(
            stderr.contains(&format!("rolled {roll}")),
            "console.log of {roll} not in the log:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("building dice-js"),
        "build-time console output is dropped"
    );
}
