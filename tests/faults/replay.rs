//! A start with a long backlog in the journal: the whole unfinished
//! journal was read with one query and held until replayed (100,000
//! pending 4 KB events took the host to 616 MB against 150 MB with none).
//! Now the replay reads it [`REPLAY_PAGE`] rows at a time, with the same
//! guarantees: every event once, in order, before anything that arrives
//! live; a failing one dead-lettered without stopping the rest; and a stop
//! whose grace ends mid-replay leaves the rest journaled for the next start.

use std::time::{Duration, Instant};

use purr::channel::sim::SimNetwork;
use purr::channel::{ChannelEvent, Content, InboundMessage};
use purr::session::{REPLAY_PAGE, State};
use purr::store::JournalEntry;

use crate::common::{Host, PATIENCE, TestConfig};

/// `hostile` alone in session `s`: `busy <ms> <text>` answers `text`.
const HOSTILE_ALONE: &str =
    "[plugins.hostile]\npath = \"{hostile}\"\n\n[sessions.s]\nchannel = \"sim\"\nplugins = [\"hostile\"]\n";

/// Message `i` of the backlog, from sim user `user`.
fn message(i: usize, text: &str) -> ChannelEvent {
    let user = SimNetwork::address("user");
    ChannelEvent::Message(InboundMessage {
        id: format!("backlog-{i}"),
        chat: user.clone(),
        sender: user,
        from_me: false,
        timestamp_ms: 1,
        push_name: None,
        is_group: false,
        quoted_id: None,
        content: Content::Text(text.to_string()),
    })
}

/// Journals `texts` as session `s`'s unfinished events, as a previous run
/// that stopped before handling them would have left them.
async fn journal_backlog(host: &Host, texts: &[String]) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let rows = texts
        .iter()
        .enumerate()
        .map(|(i, text)| JournalEntry {
            session: "s".into(),
            seq: i as i64 + 1,
            dedupe_key: Some(format!("backlog-{i}")),
            event: serde_json::to_string(&message(i, text)).unwrap(),
            received_at_ms: now_ms,
        })
        .collect();
    host.supervisor.store().writer().append(rows).await.unwrap();
}

/// The texts session `s` sent so far.
fn sent(host: &Host) -> Vec<String> {
    host.supervisor
        .sim()
        .outbound("s")
        .iter()
        .filter_map(|o| o.action.text().map(str::to_string))
        .collect()
}

/// Starts `s` and waits until it is connected (its replay may still run).
async fn start(host: &Host) {
    host.supervisor.start_autostart().await;
    host.wait_state("s", State::Connected).await;
}

#[tokio::test]
async fn a_backlog_of_several_pages_replays_once_in_order_before_live_events() {
    let config = TestConfig::new(HOSTILE_ALONE);
    let host = config.host().await;
    let total = 2 * REPLAY_PAGE + 40;
    // One event in the second page fails (a trap): it is dead-lettered and the replay goes on.
    let failing = REPLAY_PAGE + 7;
    let texts: Vec<String> = (0..total)
        .map(|i| {
            if i == failing {
                "unreachable".to_string()
            } else {
                format!("busy 0 r-{i}")
            }
        })
        .collect();
    journal_backlog(&host, &texts).await;

    start(&host).await;
    // Live, while the replay may still run: after the whole backlog. A
    // redelivery of a replayed message (same network id) is dropped.
    host.supervisor
        .sim()
        .inject("s", message(3, "busy 0 again"))
        .await
        .unwrap();
    host.supervisor
        .sim()
        .inject_text("s", "user", "busy 0 live")
        .await
        .unwrap();
    host.supervisor.flush("s").await.unwrap();

    let mut expected: Vec<String> = (0..total).filter(|&i| i != failing).map(|i| format!("r-{i}")).collect();
    expected.push("live".to_string());
    assert_eq!(sent(&host), expected, "every event once, in order, the live one last");
    let store = host.supervisor.store();
    assert_eq!(store.journal_pending_count("s").await.unwrap(), 0);
    let dead: Vec<i64> = store
        .dead_letters(Some("s"))
        .await
        .unwrap()
        .iter()
        .map(|d| d.seq)
        .collect();
    assert_eq!(dead, [failing as i64 + 1], "the failing event, once");
    host.stop().await;
}

#[tokio::test]
async fn a_stop_during_the_replay_leaves_the_rest_journaled_for_the_next_start() {
    let config = TestConfig::with_host("shutdown_grace_ms = 300", HOSTILE_ALONE);
    let host = config.host().await;
    // More than a page of quick events, then slow ones that outlast the grace.
    let quick = REPLAY_PAGE + 20;
    let total = quick + 60;
    let texts: Vec<String> = (0..total)
        .map(|i| {
            let ms = if i < quick { 0 } else { 100 };
            format!("busy {ms} r-{i}")
        })
        .collect();
    journal_backlog(&host, &texts).await;
    start(&host).await;
    // Stop once the replay is past its first page (marked done in the
    // journal; the replies go out once the session is online).
    let store = host.supervisor.store().clone();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = store.journal_pending_count("s").await.unwrap() as usize;
        if left < total - REPLAY_PAGE {
            break;
        }
        assert!(Instant::now() < deadline, "the replay stalled with {left} left");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    host.supervisor.stop().await;
    let first_run = sent(&host);
    assert!(
        first_run.len() < total,
        "the stop halted the replay ({} of {total} handled)",
        first_run.len()
    );

    let host = config.host().await;
    let left = host.supervisor.store().journal_pending_count("s").await.unwrap();
    assert!(left > 0, "the rest is still journaled");
    start(&host).await;
    host.supervisor.flush("s").await.unwrap();
    let mut replies = first_run;
    replies.extend(sent(&host));
    let expected: Vec<String> = (0..total).map(|i| format!("r-{i}")).collect();
    assert_eq!(replies, expected, "across both runs: every event once, in order");
    assert_eq!(host.supervisor.store().journal_pending_count("s").await.unwrap(), 0);
    host.stop().await;
}
