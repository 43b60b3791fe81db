//! Stopping `purr run` (the real binary) with a backlog: bounded by the
//! grace, nothing lost, nothing done twice; a second signal ends it.

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::common::{KillOnDrop, PATIENCE, TestConfig, purr_command, sim_queue, sim_sent};

/// `hostile` in session `s`, answering `busy` commands slowly; sends kept in
/// the database so every run's replies can be read back.
fn slow_host_config(grace_ms: u64) -> TestConfig {
    let config = TestConfig::with_host(
        &format!("api = \"127.0.0.1:0\"\nshutdown_grace_ms = {grace_ms}"),
        "[plugins.hostile]\npath = \"{hostile}\"\n\n[sessions.s]\nchannel = \"sim\"\nplugins = [\"hostile\"]\n",
    );
    let text = std::fs::read_to_string(&config.path)
        .unwrap()
        .replace("[sim]\n", "[sim]\nkeep_sent = true\n");
    std::fs::write(&config.path, text).unwrap();
    config
}

/// Waits (bounded) until session `s` sent at least `n` messages.
fn wait_for_replies(config: &TestConfig, n: usize) {
    let deadline = Instant::now() + PATIENCE * 2;
    while sim_sent(config, "s").len() < n {
        assert!(
            Instant::now() < deadline,
            "fewer than {n} replies: {:?}",
            sim_sent(config, "s")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits (bounded) for the process to exit.
fn exit_status(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "purr run did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A backlog on a slow plugin drained whole before SIGTERM finished (60
/// events of 300 ms took 16.5 s). Now the drain lasts at most
/// `shutdown_grace_ms`, the process exits 0, and what was left runs after
/// the next start: every message answered exactly once, in order.
#[test]
fn sigterm_drains_only_for_the_grace_and_the_rest_runs_after_restart() {
    let config = slow_host_config(300);
    let expected: Vec<String> = (0..40).map(|i| format!("reply-{i}")).collect();
    sim_queue(
        &config,
        "s",
        &expected.iter().map(|r| format!("busy 100 {r}")).collect::<Vec<_>>(),
    );

    let mut host = KillOnDrop(purr_command(&config, &["run"]).spawn().unwrap());
    wait_for_replies(&config, 1);
    signal(&host.0, "-TERM");
    let status = exit_status(&mut host.0);
    assert!(status.success(), "a clean stop: {status}");
    let at_stop = sim_sent(&config, "s").len();
    assert!(
        at_stop < expected.len(),
        "the backlog was not drained whole ({at_stop} replies)"
    );

    let mut host = KillOnDrop(purr_command(&config, &["run"]).spawn().unwrap());
    wait_for_replies(&config, expected.len());
    signal(&host.0, "-TERM");
    assert!(exit_status(&mut host.0).success());
    assert_eq!(
        sim_sent(&config, "s"),
        expected,
        "every message answered once, in order"
    );
}

/// A second SIGINT or SIGTERM during a stop was ignored. Now it ends the
/// process at once (status 130); the unfinished events stay journaled.
#[test]
fn a_second_signal_exits_at_once() {
    let config = slow_host_config(600_000);
    let lines: Vec<String> = (0..40).map(|i| format!("busy 100 reply-{i}")).collect();
    sim_queue(&config, "s", &lines);
    let mut host = KillOnDrop(purr_command(&config, &["run"]).spawn().unwrap());
    wait_for_replies(&config, 1);
    signal(&host.0, "-TERM");
    std::thread::sleep(Duration::from_millis(200));
    signal(&host.0, "-INT");
    let status = exit_status(&mut host.0);
    assert_eq!(status.code(), Some(130), "{status}");
    assert!(
        sim_sent(&config, "s").len() < lines.len(),
        "it did not wait for the backlog"
    );
}
