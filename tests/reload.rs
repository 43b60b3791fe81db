//! Hot reload on a live host: plugin files swapped under continuous
//! traffic lose and reorder nothing; bad files change nothing; config
//! edits add and remove sessions and leave the others alone.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Host, PATIENCE, TestConfig, plugin_path};
use purr::plugin::Source;
use purr::session::State;

const SESSIONS: [&str; 3] = ["a", "b", "c"];

/// `hot` is a copy of `tagged-v1` in the config's dir, swapped by the tests.
const HOT_CHAIN: &str = r#"
[plugins.hot]
path = "hot.wasm"

[sessions.a]
channel = "sim"
plugins = ["hot"]
sends_per_minute = 1000000

[sessions.b]
channel = "sim"
plugins = ["hot"]
sends_per_minute = 1000000

[sessions.c]
channel = "sim"
plugins = ["hot"]
sends_per_minute = 1000000
"#;

/// Polls `done` until it holds (bounded by [`PATIENCE`]).
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Replaces `path` the way an editor or build tool might.
fn replace(path: &Path, bytes: &[u8], by_rename: bool) {
    if by_rename {
        let temp = path.with_extension("wasm.tmp");
        std::fs::write(&temp, bytes).unwrap();
        std::fs::rename(&temp, path).unwrap();
    } else {
        std::fs::write(path, bytes).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaps_under_traffic_lose_and_reorder_nothing() {
    let config = TestConfig::new(HOT_CHAIN);
    let hot = config.dir.path().join("hot.wasm");
    let v1 = std::fs::read(plugin_path("tagged-v1")).unwrap();
    let v2 = std::fs::read(plugin_path("tagged-v2")).unwrap();
    std::fs::write(&hot, &v1).unwrap();
    let host = Arc::new(config.started().await);
    let _watcher = host.watch(&config);

    // Traffic: every session gets numbered messages until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for session in SESSIONS {
        let (host, stop) = (host.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            while !stop.load(Ordering::Relaxed) || sent.len() < 1000 {
                let text = format!("{session}-{}", sent.len());
                host.supervisor.sim().inject_text(session, "user", &text).await.unwrap();
                sent.push(text);
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            sent
        }));
    }

    // Swap v1 -> v2 -> v1 ... by rename and by rewrite; a garbage write
    // and a half-written file in the middle change nothing.
    for round in 0..8 {
        let generation = round + 1; // serving now
        if round == 4 {
            // Each refused file leaves its own error; none ever serves.
            let refused = |expected: &'static str| {
                let host = host.clone();
                move || host.plugin("hot").reload_error.is_some_and(|e| e.contains(expected))
            };
            replace(&hot, b"\0asm\x0d\0\x01\0", true); // a component of another world
            eventually("other world refused", refused("does not fit the purr:bot/plugin world")).await;
            replace(&hot, b"this is not a component", false);
            eventually("garbage refused", refused("at offset 0x0")).await;
            replace(&hot, &v1[..v1.len() / 2], false); // half-written
            eventually("half a file refused", refused("out of bounds")).await;
            assert_eq!(host.plugin("hot").generation, generation, "bad files never serve");
        }
        let next = if round % 2 == 0 { &v2 } else { &v1 };
        replace(&hot, next, round % 2 == 0);
        eventually("swap", || host.plugin("hot").generation == generation + 1).await;
        assert_eq!(host.plugin("hot").reload_error, None, "a good write clears the error");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);

    let mut versions_seen = std::collections::BTreeSet::new();
    for (session, sender) in SESSIONS.into_iter().zip(senders) {
        let sent = sender.await.unwrap();
        host.supervisor.flush(session).await.unwrap();
        let replies: Vec<String> = host
            .supervisor
            .sim()
            .outbound(session)
            .iter()
            .filter_map(|o| o.action.text().map(String::from))
            .collect();
        assert_eq!(replies.len(), sent.len(), "session {session}: one reply per message");
        let mut previous_version = "";
        let mut switches = 0;
        for (reply, text) in replies.iter().zip(&sent) {
            let (version, echoed) = reply.split_once(' ').expect("tagged reply");
            assert!(version == "v1" || version == "v2", "{reply}");
            assert_eq!(echoed, text, "session {session}: replies in order");
            if version != previous_version {
                switches += 1;
                previous_version = version;
            }
            versions_seen.insert(version.to_string());
        }
        assert!(switches >= 2, "session {session} saw the swaps ({switches} switches)");
    }
    assert_eq!(versions_seen.len(), 2);
    // The last write was v1 (round 7); new messages get it.
    assert_eq!(host.say("a", "after").await, ["v1 after"]);
    Arc::into_inner(host).expect("senders done").stop().await;
}

/// `hot` (a copy of `probe` in the config's dir) alone in session `s`.
const HOT_ALONE: &str = r#"
[plugins.hot]
path = "hot.wasm"
linking_codes = true

[sessions.s]
channel = "sim"
plugins = ["hot"]
"#;

#[tokio::test]
async fn a_reload_starts_instances_fresh_but_keeps_kv() {
    let config = TestConfig::new(HOT_ALONE);
    let hot = config.dir.path().join("hot.wasm");
    std::fs::copy(plugin_path("probe"), &hot).unwrap();
    let host = config.started().await;
    let _watcher = host.watch(&config);
    assert_eq!(host.say("s", "kv-set k kept").await, ["ok"]);
    assert_eq!(host.say("s", "events").await, ["started,qr,connected"]);

    // The same plugin, as a different file: append a custom section.
    let mut bytes = std::fs::read(plugin_path("probe")).unwrap();
    bytes.extend_from_slice(&[0, 6, 5, b'p', b'u', b'r', b'r', b'!']);
    replace(&hot, &bytes, true);
    eventually("swap", || host.plugin("hot").generation == 2).await;

    assert_eq!(host.say("s", "events").await, ["(none)"], "a fresh instance");
    assert_eq!(host.say("s", "kv-get k").await, ["kept"]);
    host.stop().await;
}

#[tokio::test]
async fn touching_a_plugin_file_reloads_nothing() {
    let config =
        TestConfig::new("[plugins.hot]\npath = \"hot.wasm\"\n\n[sessions.s]\nchannel = \"sim\"\nplugins = [\"hot\"]\n");
    let hot = config.dir.path().join("hot.wasm");
    std::fs::copy(plugin_path("probe"), &hot).unwrap();
    let host = config.started().await;
    assert!(!host.supervisor.reload_plugin("hot").await.unwrap(), "same content");
    assert_eq!(host.plugin("hot").generation, 1);
    host.stop().await;
}

/// `purr_plugin_reloads_total{plugin, result}` from the host's metrics.
fn reloads(host: &Host, plugin: &str, result: &str) -> f64 {
    host.metric("purr_plugin_reloads_total", &[("plugin", plugin), ("result", result)])
}

#[tokio::test]
async fn a_plugin_file_written_in_steps_is_loaded_once_it_is_complete() {
    use std::io::Write as _;
    let config =
        TestConfig::new("[plugins.hot]\npath = \"hot.wasm\"\n\n[sessions.s]\nchannel = \"sim\"\nplugins = [\"hot\"]\n");
    let hot = config.dir.path().join("hot.wasm");
    std::fs::copy(plugin_path("tagged-v1"), &hot).unwrap();
    let host = config.started().await;
    let _watcher = host.watch(&config);
    let v2 = std::fs::read(plugin_path("tagged-v2")).unwrap();

    // A tool writes half the file, pauses (less than the debounce), then
    // writes the rest and closes it: only the complete file is loaded.
    let mut file = std::fs::File::create(&hot).unwrap();
    file.write_all(&v2[..v2.len() / 2]).unwrap();
    file.sync_data().unwrap();
    tokio::time::sleep(purr::reload::DEBOUNCE / 3).await;
    file.write_all(&v2[v2.len() / 2..]).unwrap();
    drop(file);
    eventually("v2 serves", || host.plugin("hot").generation == 2).await;
    assert_eq!(host.say("s", "x").await, ["v2 x"]);
    assert_eq!(
        reloads(&host, "hot", "error"),
        0.0,
        "the half-written file was never compiled"
    );
    assert_eq!(reloads(&host, "hot", "ok"), 1.0);

    // Renamed into place: loaded too.
    replace(&hot, &std::fs::read(plugin_path("tagged-v1")).unwrap(), true);
    eventually("v1 serves again", || host.plugin("hot").generation == 3).await;
    assert_eq!(host.say("s", "y").await, ["v1 y"]);
    assert_eq!(reloads(&host, "hot", "error"), 0.0);
    host.stop().await;
}

const TWO_SESSIONS: &str = r#"
[plugins.probe]
path = "{probe}"
linking_codes = true

[sessions.keep]
channel = "sim"
plugins = ["probe"]

[sessions.old]
channel = "sim"
plugins = ["probe"]
"#;

#[tokio::test]
async fn a_config_edit_adds_and_removes_sessions_and_spares_the_rest() {
    let config = TestConfig::new(TWO_SESSIONS);
    let host = config.started().await;
    let _watcher = host.watch(&config);
    assert_eq!(host.say("keep", "kv-set k v").await, ["ok"]);

    // An invalid edit is refused as a whole: everything keeps running.
    config.write(&TWO_SESSIONS.replace("[sessions.old]", "[sessions.new]\nchanel = \"sim\"\n\n[sessions.old]"));
    tokio::time::sleep(purr::reload::DEBOUNCE * 4).await;
    assert!(host.supervisor.status("new").is_err());
    assert_eq!(host.say("old", "session").await, ["old"]);

    // A valid one applies: `old` goes, `new` comes, `keep` stays.
    let renamed = TWO_SESSIONS.replace("[sessions.old]", "[sessions.new]");
    config.write(&renamed);
    applied(&host, |c| c.sessions.contains_key("new")).await;
    host.wait_state("new", State::Connected).await;
    assert!(host.supervisor.status("old").is_err(), "old is gone");
    assert!(!host.supervisor.sim().is_online("old"), "old is disconnected");
    assert_eq!(host.say("new", "session").await, ["new"]);
    // `keep` was never restarted: its instance still remembers the start.
    assert_eq!(host.say("keep", "events").await, ["started,qr,connected"]);

    // A changed session entry restarts that session only.
    config.write(&format!("{renamed}\n[sessions.keep.config.probe]\ncolour = \"red\"\n"));
    applied(&host, |c| !c.sessions["keep"].overrides.is_empty()).await;
    host.wait_state("keep", State::Connected).await;
    assert_eq!(host.say("keep", "config colour").await, ["red"]);
    assert_eq!(
        host.say("keep", "events").await,
        ["started,connected"],
        "restarted, no new QR"
    );
    assert_eq!(host.say("keep", "kv-get k").await, ["v"]);
    assert_eq!(
        host.say("new", "events").await,
        ["started,qr,connected"],
        "new untouched"
    );
    host.stop().await;
}

/// Waits until the host's config in force satisfies `done`.
async fn applied(host: &Host, done: impl Fn(&purr::config::Config) -> bool) {
    eventually("config applied", || done(&host.supervisor.config())).await;
}

#[tokio::test]
async fn a_restart_with_unchanged_plugins_compiles_nothing() {
    let config = TestConfig::new(HOT_ALONE);
    std::fs::copy(plugin_path("probe"), config.dir.path().join("hot.wasm")).unwrap();
    let host = config.started().await;
    assert_eq!(host.plugin("hot").source, Source::Compiled);
    host.stop().await;

    let host = config.started().await;
    assert_eq!(host.plugin("hot").source, Source::Cache);
    assert_eq!(host.say("s", "session").await, ["s"]);
    host.stop().await;

    // A corrupt cache entry is never trusted: it is rebuilt.
    for entry in std::fs::read_dir(config.dir.path().join("data/cache")).unwrap() {
        let entry = entry.unwrap().path();
        let mut bytes = std::fs::read(&entry).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        std::fs::write(&entry, bytes).unwrap();
    }
    let host = config.started().await;
    assert_eq!(host.plugin("hot").source, Source::Compiled);
    assert_eq!(host.say("s", "session").await, ["s"]);
    host.stop().await;
}
