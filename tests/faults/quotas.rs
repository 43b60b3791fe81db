//! Bytes a plugin hands the host: every one has a limit (timer payloads,
//! message texts, kv values, log records). Going over is an error the
//! plugin sees (or, for logs, a cut or dropped record), counted in
//! `purr_quota_exceeded_total`; the session goes on.

use std::time::Duration;

use crate::common::{Host, PATIENCE, TestConfig, run_purr};

/// `hostile` alone in session `session`, with `limits` in its plugin entry.
fn hostile_in(session: &str, limits: &str) -> TestConfig {
    TestConfig::new(&format!(
        "[plugins.hostile]\npath = \"{{hostile}}\"\n{limits}\n\n[sessions.{session}]\nchannel = \"sim\"\nplugins = [\"hostile\"]\n"
    ))
}

/// How often `purr_quota_exceeded_total` counted `quota` for `hostile` in `session`.
fn exceeded(host: &Host, session: &str, quota: &str) -> u64 {
    let series = format!("purr_quota_exceeded_total{{session=\"{session}\",plugin=\"hostile\",quota=\"{quota}\"}} ");
    host.supervisor
        .encode_metrics()
        .lines()
        .find_map(|line| line.strip_prefix(&series).map(|n| n.parse().unwrap()))
        .unwrap_or(0)
}

/// 45 timers of 16 MiB from a plugin capped at 64 MiB grew the host to
/// 945 MB (every payload was kept in memory) and the database to 755 MB.
/// Now a payload over `max_timer_payload_bytes` (64 KiB by default), or
/// one that takes the plugin's pending payloads over `max_timer_bytes`, is
/// refused to the plugin; nothing is stored and the session answers on.
#[tokio::test]
async fn a_timer_payload_over_the_limit_is_refused_and_the_session_answers() {
    let config = hostile_in("tq", "");
    let host = config.started().await;
    assert_eq!(
        host.say("tq", "big-timer 16777216").await,
        ["timers quota: a payload of 16777216 bytes is over the 65536 byte limit"]
    );
    assert_eq!(host.supervisor.store().timers_count("tq", "hostile").await.unwrap(), 0);
    assert_eq!(host.say("tq", "ok").await, ["alive"], "the session goes on");
    assert_eq!(exceeded(&host, "tq", "max_timer_payload_bytes"), 1);
    host.stop().await;

    let config = hostile_in("tt", "max_timer_payload_bytes = 1000\nmax_timer_bytes = 2500");
    let host = config.started().await;
    for _ in 0..2 {
        assert_eq!(host.say("tt", "big-timer 1000").await, ["scheduled"]);
    }
    assert_eq!(
        host.say("tt", "big-timer 1000").await,
        ["timers quota: pending payloads would take 3000 bytes, over the 2500 byte limit"]
    );
    assert_eq!(host.supervisor.store().timers_count("tt", "hostile").await.unwrap(), 2);
    assert_eq!(exceeded(&host, "tt", "max_timer_bytes"), 1);
    host.stop().await;
}

/// A pending timer's payload is read from the database when it fires (the
/// host keeps only its id and due time): it survives a restart, and what
/// fires is what the database holds then.
#[tokio::test]
async fn a_timer_payload_is_read_from_the_store_when_it_fires_after_a_restart() {
    let config = hostile_in("tr", "");
    let host = config.started().await;
    assert!(host.say("tr", "remind 3600000 as scheduled").await.is_empty());
    host.stop().await;

    let host = config.host().await;
    let db = host.supervisor.store().db().clone();
    // Due now (the queue reads due times when the session is prepared)...
    purr::with_db!(&db, |pool| sqlx::query("UPDATE timers SET due_at_ms = 0")
        .execute(pool)
        .await
        .map(drop))
    .unwrap();
    host.supervisor.connect("tr").await.unwrap();
    // ... and the payload changed after that: the fired timer must carry this one.
    let changed = purr::with_db!(&db, |pool| {
        sqlx::query("UPDATE timers SET payload = replace(payload, 'as scheduled', 'read when it fired')")
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })
    .unwrap();
    assert_eq!(changed, 1);
    host.supervisor.start("tr").await.unwrap();
    let fired = async {
        loop {
            let sent: Vec<String> = host
                .supervisor
                .sim()
                .outbound("tr")
                .iter()
                .filter_map(|o| o.action.text().map(str::to_string))
                .collect();
            if !sent.is_empty() {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let sent = tokio::time::timeout(PATIENCE, fired).await.expect("the timer fired");
    assert_eq!(sent, ["read when it fired"]);
    host.supervisor.flush("tr").await.unwrap();
    assert_eq!(host.supervisor.store().timers_count("tr", "hostile").await.unwrap(), 0);
    host.stop().await;
}

/// A plugin's single 50 MiB text was accepted and sent on whole. Now a
/// text over `max_text_bytes` (65536 by default) is refused to the plugin
/// and nothing reaches the network.
#[tokio::test]
async fn a_message_over_the_limit_is_refused() {
    let config = hostile_in("mq", "");
    let host = config.started().await;
    assert_eq!(
        host.say("mq", "big-text 1048576").await,
        ["send-text: message quota: a text of 1048576 bytes is over the 65536 byte limit"],
        "only the refusal, sent as a short text, reached the network"
    );
    assert_eq!(
        host.say("mq", "big-text 65536").await.len(),
        2,
        "the limit itself is fine"
    );
    assert_eq!(exceeded(&host, "mq", "max_text_bytes"), 1);
    host.stop().await;

    let config = hostile_in("ms", "max_text_bytes = 100");
    let host = config.started().await;
    assert_eq!(
        host.say("ms", "big-text 101").await,
        ["send-text: message quota: a text of 101 bytes is over the 100 byte limit"]
    );
    assert_eq!(host.say("ms", "ok").await, ["alive"]);
    host.stop().await;
}

/// A kv value over `max_kv_value_bytes` is refused, and counted.
#[tokio::test]
async fn a_kv_value_over_the_limit_is_refused_and_counted() {
    let config = hostile_in("kq", "max_kv_value_bytes = 1000");
    let host = config.started().await;
    assert_eq!(
        host.say("kq", "big-kv 1001").await,
        ["kv quota: a value of 1001 bytes is over the 1000 byte limit"]
    );
    assert_eq!(
        host.supervisor.store().kv_get("hostile", "kq", "big").await.unwrap(),
        None
    );
    assert_eq!(exceeded(&host, "kq", "max_kv_value_bytes"), 1);
    assert_eq!(host.say("kq", "big-kv 1000").await, ["stored"]);
    host.stop().await;
}

/// 100 MiB written through the `log` import grew the host's log by 93 MiB.
/// Now a record over `max_log_line_bytes` is cut with a marker, and past
/// `max_log_bytes_per_minute` records are dropped with one warning.
#[test]
fn an_overlong_log_record_is_cut_and_a_log_flood_is_dropped() {
    let config = hostile_in("s", "max_log_line_bytes = 1000\nmax_log_bytes_per_minute = 50000");
    let input = "log-line 100000\nlog-flood 500 1000\nok\n";
    let output = run_purr(&["chat", "s", "-c", config.path.to_str().unwrap()], input, |command| {
        command.env("RUST_LOG", "warn");
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().lines().collect::<Vec<_>>(),
        ["logged", "logged", "alive"],
        "the plugin went on"
    );
    assert!(
        stderr.contains("[cut: 99004 more bytes]") && !stderr.contains(">>"),
        "the long record is cut"
    );
    assert!(
        stderr.contains("plugin log over max_log_bytes_per_minute: dropping records"),
        "the drop is said once"
    );
    assert_eq!(stderr.matches("dropping records").count(), 1);
    // 500 records of 1000 bytes were handed over; about 50 of them are kept.
    assert!(
        stderr.len() < 100_000,
        "the flood is bounded: {} bytes of log",
        stderr.len()
    );
}

/// A plugin's stdout/stderr were split into lines but had no allowance: a
/// `print` loop could fill the host's log as the `log` import could. The
/// lines share the plugin's `max_log_bytes_per_minute` with `log`.
#[test]
fn a_flood_on_stderr_shares_the_log_allowance() {
    let config = hostile_in("s", "max_log_bytes_per_minute = 50000");
    let output = run_purr(
        &["chat", "s", "-c", config.path.to_str().unwrap()],
        "print-flood 500 1000\nok\n",
        |command| {
            command.env("RUST_LOG", "warn");
        },
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().lines().collect::<Vec<_>>(),
        ["printed", "alive"],
        "the plugin went on"
    );
    assert!(stderr.contains("zzzz"), "lines within the allowance are logged");
    assert_eq!(stderr.matches("dropping records").count(), 1, "the drop is said once");
    assert!(
        stderr.len() < 100_000,
        "the flood is bounded: {} bytes of log",
        stderr.len()
    );
}
