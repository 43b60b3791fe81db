//! The ways into a host under volume: `purr chat` piped, `purr sim send`
//! from stdin, and the sim inbox drained by a host (more than one poll's
//! batch, a session coming online later). Behaviour only — every message
//! once, in order; how fast is `scripts/bench ways-in`.

mod common;

use std::time::{Duration, Instant};

use common::{KillOnDrop, PATIENCE, TestConfig, purr_command, run_purr, sim_sent};
use purr::channel::sim::SimNetwork;
use purr::store::Store;

const ECHO_FAST: &str = r#"
[plugins.echo]
path = "{echo}"

[sessions.s]
channel = "sim"
plugins = ["echo"]
sends_per_minute = 1000000

[sessions.later]
channel = "sim"
plugins = ["echo"]
sends_per_minute = 1000000
autostart = false
"#;

fn echo_lines(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("!echo {prefix}{i}")).collect()
}

fn answers(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn piped_chat_prints_every_reply_in_order_before_it_exits() {
    let config = TestConfig::new(ECHO_FAST);
    let input: String = echo_lines("", 5000).into_iter().map(|line| line + "\n").collect();
    let output = run_purr(&["chat", "s", "-c", config.path.to_str().unwrap()], &input, |_| {});
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(printed, answers("", 5000));
}

#[test]
fn stdin_sim_send_queues_every_line_and_the_host_answers_each_once_in_order() {
    let config = TestConfig::with_host("api = \"127.0.0.1:0\"", ECHO_FAST);
    let text = std::fs::read_to_string(&config.path)
        .unwrap()
        .replace("[sim]\n", "[sim]\nkeep_sent = true\n");
    std::fs::write(&config.path, text).unwrap();
    // More than the poller reads at once (5,000), in more than one transaction.
    let count = 12_000;
    common::sim_queue(&config, "s", &echo_lines("", count));

    let mut host = KillOnDrop(purr_command(&config, &["run"]).spawn().expect("purr run"));
    let deadline = Instant::now() + PATIENCE * 4;
    while sim_sent(&config, "s").len() < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let stop = std::process::Command::new("kill")
        .args(["-TERM", &host.0.id().to_string()])
        .status()
        .unwrap();
    assert!(stop.success());
    assert!(host.0.wait().unwrap().success(), "purr run exits 0 on SIGTERM");
    assert_eq!(sim_sent(&config, "s"), answers("", count));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_coming_online_gets_the_messages_the_inbox_cursor_passed() {
    let config = TestConfig::new(ECHO_FAST);
    let host = config.started().await;
    // Another process's view of the database, as `purr sim send` has.
    let outside = Store::open_for(&config.load().host).await.unwrap();
    let early = 6000;
    let texts = |prefix: &str, count: usize| echo_lines(prefix, count);
    SimNetwork::queue_texts(&outside, "later", "u", texts("l", 300))
        .await
        .unwrap();
    SimNetwork::queue_texts(&outside, "s", "u", texts("s", early))
        .await
        .unwrap();
    wait_for_answers(&host, "s", early).await;

    host.supervisor.start("later").await.unwrap();
    host.wait_state("later", purr::session::State::Connected).await;
    SimNetwork::queue_texts(&outside, "later", "u", texts("m", 10))
        .await
        .unwrap();
    wait_for_answers(&host, "later", 310).await;
    host.supervisor.flush("s").await.unwrap();
    host.supervisor.flush("later").await.unwrap();

    let sent = |session: &str| host.sent(session);
    assert_eq!(sent("s"), answers("s", early));
    let mut expected = answers("l", 300);
    expected.extend(answers("m", 10));
    assert_eq!(sent("later"), expected);
    outside.close().await;
    host.stop().await;
}

async fn wait_for_answers(host: &common::Host, session: &str, count: usize) {
    let deadline = Instant::now() + PATIENCE;
    while host.supervisor.sim().outbound(session).len() < count {
        assert!(
            Instant::now() < deadline,
            "{session}: {} answers of {count}",
            host.supervisor.sim().outbound(session).len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
