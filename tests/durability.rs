//! Durability in one process: duplicates dropped, unfinished events
//! replayed, the outbox delivered once, failing events dead-lettered, and a
//! database that cannot be written refusing events with the reason.
//! (`tests/crash.rs` kills a real `purr run` for the rest.)

mod common;

use common::{ECHO_ALONE, TestConfig};
use purr::channel::sim::SimError;
use purr::channel::{ChannelEvent, Content, InboundMessage, Outbound};
use purr::session::State;
use purr::store::{Completion, JournalEntry, OutboxRow};

fn text_from_user(id: &str, text: &str) -> ChannelEvent {
    ChannelEvent::Message(InboundMessage {
        id: id.into(),
        chat: "user@sim".into(),
        sender: "user@sim".into(),
        from_me: false,
        timestamp_ms: 1,
        push_name: None,
        is_group: false,
        quoted_id: None,
        content: Content::Text(text.into()),
    })
}

/// `ECHO_ALONE` with the session left stopped until the test starts it.
fn echo_not_autostarted() -> String {
    ECHO_ALONE.replace("plugins = [\"echo\"]", "plugins = [\"echo\"]\nautostart = false")
}

/// The outbox form (JSON) of a text to `user@sim`.
fn text_to_user(text: &str) -> String {
    let action = Outbound::Text {
        chat: "user@sim".into(),
        text: text.into(),
    };
    serde_json::to_string(&action).unwrap()
}

/// Puts sends in session `s`'s outbox as a previous run left them: one
/// row per `(key, action JSON)`, numbered from 1, none delivered.
async fn leave_in_outbox(host: &common::Host, rows: Vec<(&str, String)>) {
    let outbox = rows
        .into_iter()
        .zip(1..)
        .map(|((key, action), seq)| OutboxRow {
            session: "s".into(),
            key: key.into(),
            seq,
            action,
            journal_seq: None,
        })
        .collect();
    let completion = Completion {
        session: "s".into(),
        outbox,
        ..Completion::default()
    };
    let committed = host.supervisor.store().writer().complete(completion).await;
    committed.await.unwrap().unwrap();
}

fn texts(host: &common::Host, session: &str) -> Vec<String> {
    host.supervisor
        .sim()
        .outbound(session)
        .iter()
        .filter_map(|o| o.action.text().map(String::from))
        .collect()
}

#[tokio::test]
async fn a_message_delivered_twice_is_handled_once() {
    let config = TestConfig::new(ECHO_ALONE);
    let host = config.started().await;
    let sim = host.supervisor.sim();
    sim.inject("s", text_from_user("m-1", "!echo once")).await.unwrap();
    sim.inject("s", text_from_user("m-1", "!echo once")).await.unwrap();
    sim.inject("s", text_from_user("m-2", "!echo twice")).await.unwrap();
    host.supervisor.flush("s").await.unwrap();
    assert_eq!(texts(&host, "s"), ["once", "twice"]);
    host.stop().await;
}

#[tokio::test]
async fn unfinished_events_are_replayed_in_order_before_new_ones() {
    let config = TestConfig::new(&echo_not_autostarted());
    let host = config.host().await;
    let journal: Vec<JournalEntry> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, text)| JournalEntry {
            session: "s".into(),
            seq: i as i64 + 1,
            dedupe_key: Some(format!("old-{i}")),
            event: serde_json::to_string(&text_from_user(&format!("old-{i}"), &format!("!echo {text}"))).unwrap(),
            received_at_ms: 1,
        })
        .collect();
    let taken = host.supervisor.store().writer().append(journal).await.unwrap();
    assert_eq!(taken, [true, true, true]);

    host.supervisor.start("s").await.unwrap();
    host.wait_state("s", State::Connected).await;
    // The replay's replies, before anything new is said.
    host.supervisor.flush("s").await.unwrap();
    assert_eq!(host.say("s", "!echo d").await, ["d"]);
    assert_eq!(texts(&host, "s"), ["a", "b", "c", "d"], "replayed first, in order");
    // A redelivery of an old message is recognized.
    host.supervisor
        .sim()
        .inject("s", text_from_user("old-1", "!echo b"))
        .await
        .unwrap();
    host.supervisor.flush("s").await.unwrap();
    assert_eq!(texts(&host, "s").len(), 4);
    host.stop().await;

    let host = config.host().await;
    assert!(host.supervisor.store().journal_pending("s").await.unwrap().is_empty());
    host.stop().await;
}

#[tokio::test]
async fn sends_left_in_the_outbox_go_out_once_on_the_next_start() {
    let config = TestConfig::new(&echo_not_autostarted());
    let host = config.host().await;
    leave_in_outbox(&host, vec![("earlier-run.0", text_to_user("left over"))]).await;
    host.supervisor.start("s").await.unwrap();
    host.wait_state("s", State::Connected).await;
    host.supervisor.flush("s").await.unwrap();
    assert_eq!(texts(&host, "s"), ["left over"]);
    assert_eq!(host.supervisor.sim().outbound("s")[0].id, "sim-out-earlier-run.0");
    host.stop().await;

    let host = config.host().await;
    host.supervisor.start("s").await.unwrap();
    host.wait_state("s", State::Connected).await;
    host.supervisor.flush("s").await.unwrap();
    assert!(texts(&host, "s").is_empty(), "delivered rows are not sent again");
    assert!(host.supervisor.store().outbox_pending("s").await.unwrap().is_empty());
    host.stop().await;
}

#[tokio::test]
async fn an_unreadable_send_left_in_the_outbox_is_passed_over_not_waited_for() {
    let config = TestConfig::new(&echo_not_autostarted());
    let host = config.host().await;
    // The last row left is one this build cannot read (written by a newer one, say).
    let rows = vec![
        ("earlier-run.1", text_to_user("readable")),
        ("earlier-run.2", "{\"kind\": \"from-the-future\"}".into()),
    ];
    leave_in_outbox(&host, rows).await;
    host.supervisor.start("s").await.unwrap();
    host.wait_state("s", State::Connected).await;
    tokio::time::timeout(std::time::Duration::from_secs(30), host.supervisor.flush("s"))
        .await
        .expect("a flush waits for no send that can never be made")
        .unwrap();
    assert_eq!(texts(&host, "s"), ["readable"]);
    assert!(
        host.supervisor.store().outbox_pending("s").await.unwrap().is_empty(),
        "the sent mark moved past the unreadable row: it is not read again at every start"
    );
    host.stop().await;
}

#[tokio::test]
async fn delivered_sends_stay_as_the_record_of_what_each_event_sent() {
    let config = TestConfig::new(ECHO_ALONE);
    let host = config.started().await;
    assert_eq!(host.say("s", "!echo one").await, ["one"]);
    assert_eq!(host.say("s", "no command").await, Vec::<String>::new());
    assert_eq!(host.say("s", "!echo two").await, ["two"]);
    host.stop().await;

    let host = config.host().await;
    let store = host.supervisor.store();
    assert!(store.outbox_pending("s").await.unwrap().is_empty(), "all delivered");
    let record = store.history_page("s", 0, i64::MAX, 100).await.unwrap();
    let sent: Vec<(String, Vec<String>)> = record
        .iter()
        .map(|past| {
            let event: ChannelEvent = serde_json::from_str(&past.event).unwrap();
            let ChannelEvent::Message(message) = event else {
                panic!("journaled a message: {}", past.event)
            };
            let said = match message.content {
                Content::Text(text) => text,
                other => panic!("a text: {other:?}"),
            };
            let sends = (past.sends.iter())
                .map(|send| {
                    serde_json::from_str::<Outbound>(send)
                        .unwrap()
                        .text()
                        .unwrap()
                        .to_string()
                })
                .collect();
            (said, sends)
        })
        .collect();
    let expected = [
        ("!echo one", vec!["one"]),
        ("no command", vec![]),
        ("!echo two", vec!["two"]),
    ];
    let expected: Vec<(String, Vec<String>)> = (expected.iter())
        .map(|(said, sends)| (said.to_string(), sends.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(
        sent, expected,
        "each event with the sends its chain made, after a restart"
    );
    host.stop().await;
}

#[tokio::test]
async fn a_start_prunes_what_is_older_than_journal_keep_and_nothing_unfinished() {
    let config = TestConfig::with_host("journal_keep = \"1h\"", &echo_not_autostarted());
    let host = config.host().await;
    let store = host.supervisor.store();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let hour = 60 * 60 * 1000;
    // Events 1 and 2 finished, received 2 h and 30 min ago; 3 (2 h old) not handled yet.
    let received = [now - 2 * hour, now - hour / 2, now - 2 * hour];
    let entries = (1..=3)
        .map(|seq| JournalEntry {
            session: "s".into(),
            seq,
            dedupe_key: Some(format!("old-{seq}")),
            event: serde_json::to_string(&text_from_user(&format!("old-{seq}"), "hi")).unwrap(),
            received_at_ms: received[seq as usize - 1],
        })
        .collect();
    store.writer().append(entries).await.unwrap();
    for seq in 1..=2 {
        let send = OutboxRow {
            session: "s".into(),
            key: format!("j{seq}.0"),
            seq,
            action: text_to_user(&format!("reply {seq}")),
            journal_seq: Some(seq),
        };
        let completion = Completion {
            session: "s".into(),
            journal_seq: Some(seq),
            outbox: vec![send],
            ..Completion::default()
        };
        store.writer().complete(completion).await.await.unwrap().unwrap();
    }
    store.writer().delivered("s", 2).await;
    store.writer().barrier().await.unwrap();
    // The sends were written when event 1 and 2 were received.
    for (seq, at) in [(1, received[0]), (2, received[1])] {
        purr::with_db!(store.db(), |pool| sqlx::query(
            "UPDATE outbox SET created_at_ms = $1 WHERE seq = $2"
        )
        .bind(at)
        .bind(seq)
        .execute(pool)
        .await
        .map(drop))
        .unwrap();
    }
    host.stop().await;

    let host = config.host().await;
    let store = host.supervisor.store();
    let kept = store.history_page("s", 0, i64::MAX, 10).await.unwrap();
    let kept: Vec<(i64, usize)> = kept.iter().map(|past| (past.seq, past.sends.len())).collect();
    assert_eq!(kept, [(2, 1)], "event 1 and its send are older than an hour: pruned");
    let pending = store.journal_pending("s").await.unwrap();
    assert_eq!(
        pending.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [3],
        "unfinished: kept"
    );
    host.stop().await;
}

#[tokio::test]
async fn a_failing_event_is_retried_then_dead_lettered_and_the_session_goes_on() {
    let config = TestConfig::with_host("event_attempts = 3", common::PROBE_ALONE);
    let host = config.started().await;
    assert_eq!(host.say("s", "flaky 3").await, ["ok after 3"], "third try succeeds");
    assert!(host.supervisor.store().dead_letters(None).await.unwrap().is_empty());

    assert!(host.say("s", "flaky 10").await.is_empty(), "calls 4, 5, 6 fail");
    let dead = host.supervisor.store().dead_letters(Some("s")).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].plugin, "probe");
    assert!(dead[0].error.contains("flaky: call 6 of 10"), "{}", dead[0].error);
    assert!(dead[0].event.contains("flaky 10"), "{}", dead[0].event);

    assert_eq!(host.say("s", "session").await, ["s"], "the session goes on");
    host.stop().await;
}

#[tokio::test]
async fn a_failed_event_leaves_no_kv_writes_and_no_sends() {
    let config = TestConfig::new(common::PROBE_ALONE);
    let host = config.started().await;
    assert_eq!(host.say("s", "kv-set k before").await, ["ok"]);
    assert!(
        host.say("s", "set-then-fail k after").await.is_empty(),
        "its send is dropped"
    );
    assert_eq!(host.say("s", "kv-get k").await, ["before"], "its kv write is dropped");
    host.stop().await;
    let host = config.started().await;
    assert_eq!(
        host.say("s", "kv-get k").await,
        ["before"],
        "and never reached the database"
    );
    host.stop().await;
}

#[tokio::test]
async fn a_database_that_cannot_be_written_is_a_clear_error() {
    let config = TestConfig::sqlite(ECHO_ALONE);
    // Create the database, then open it read-only: starting says why it cannot.
    config.host().await.stop().await;
    let db = config.dir.path().join("data/purr.db");
    let read_only = TestConfig::with_host(&format!("database = \"sqlite://{}?mode=ro\"", db.display()), ECHO_ALONE);
    let error = match purr::supervisor::Supervisor::new(read_only.load()).await {
        Ok(_) => panic!("a read-only database was accepted"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("readonly"), "{error}");

    // A database that fails while running refuses events: the sender hears why.
    let host = config.started().await;
    host.supervisor.store().db().close().await;
    match host.supervisor.sim().inject_text("s", "user", "!ping").await {
        Err(SimError::Refused(session, reason)) => {
            assert_eq!(session, "s");
            assert!(reason.contains("database write failed"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    host.stop().await;
}

/// A session stuck on a slow event goes on taking messages: the journal
/// keeps what its queues cannot hold, the producer (the network) is not
/// held up, and the session handles all of it, in order, once it is free.
/// (Two workers, as `purr run` has: on one thread the spinning plugin's
/// yields would pace the producer too.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_into_a_stuck_session_is_kept_by_the_journal_not_the_producer() {
    let config = TestConfig::with_host(
        "queue_capacity = 4",
        r#"
[plugins.hostile]
path = "{hostile}"
timeout_ms = 5000

[plugins.echo]
path = "{echo}"

[sessions.s]
channel = "sim"
plugins = ["hostile", "echo"]
"#,
    );
    let host = config.started().await;
    let sim = host.supervisor.sim();
    // Spins until its 5 s deadline: the session is stuck meanwhile.
    sim.inject_text("s", "user", "loop").await.unwrap();
    let flood = 50 * 4;
    for i in 0..flood {
        // Returns once the message is journaled; with only the queues
        // (3 × 4 places) this would wait for the stuck event.
        sim.inject_text("s", "user", &format!("!echo {i}")).await.unwrap();
    }
    assert!(
        texts(&host, "s").is_empty(),
        "every message was taken while the first one was still running"
    );
    host.supervisor.flush("s").await.unwrap();
    let expected: Vec<String> = (0..flood).map(|i| i.to_string()).collect();
    assert_eq!(texts(&host, "s"), expected, "all handled, once, in order");
    host.stop().await;
}
