//! A reload stuck until restart: the config moved a plugin to a file that
//! did not load, and the valid file later written there was never picked
//! up — not by the watcher, not by `POST /v1/plugins/{name}/reload` (200
//! with the stale error), not by rewriting the config. Now every trigger
//! brings the serving version to the desired one (the config's entry and
//! the file at its path). Also: a host started with a relative `-c` no
//! longer reloads every plugin on the first config change.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Host, KillOnDrop, PATIENCE, TestConfig, plugin_path};

/// Plugin `hot` at `path` (relative to the config's dir) in session `s`.
fn hot_at(path: &str) -> String {
    format!("[plugins.hot]\npath = \"{path}\"\n\n[sessions.s]\nchannel = \"sim\"\nplugins = [\"hot\"]\n")
}

const NOT_A_COMPONENT: &[u8] = b"this is not a component";

/// `hot` serving `tagged-v1` from `v1.wasm`; `next/hot.wasm` holds a file
/// that is not a component.
fn serving_v1() -> TestConfig {
    let config = TestConfig::new(&hot_at("v1.wasm"));
    std::fs::copy(plugin_path("tagged-v1"), config.dir.path().join("v1.wasm")).unwrap();
    std::fs::create_dir(config.dir.path().join("next")).unwrap();
    std::fs::write(config.dir.path().join("next/hot.wasm"), NOT_A_COMPONENT).unwrap();
    config
}

/// Writes `tagged-v2` over `path` by writing a temporary file and renaming it.
fn install_v2(path: &Path) {
    let temp = path.with_extension("tmp");
    std::fs::copy(plugin_path("tagged-v2"), &temp).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

/// Polls `done` until it holds (bounded by [`PATIENCE`]).
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// After the config moved `hot` to a file that does not load: the old
/// version serves, and the status says why the new one does not.
async fn assert_v1_serves_with_error(host: &Host) {
    let status = host.plugin("hot");
    assert_eq!(status.generation, 1, "the bad file never serves");
    let error = status.reload_error.expect("the load error is shown");
    assert!(error.contains("next/hot.wasm"), "{error}");
    assert_eq!(host.say("s", "hi").await, ["v1 hi"]);
}

/// After the valid file was picked up: it serves, and the error is gone.
async fn assert_v2_serves(host: &Host) {
    let status = host.plugin("hot");
    assert_eq!(status.generation, 2);
    assert_eq!(status.reload_error, None, "the error clears once the file loads");
    assert!(status.path.ends_with("next/hot.wasm"), "{}", status.path.display());
    assert_eq!(host.say("s", "hi").await, ["v2 hi"]);
}

/// (a) The watcher: the valid file written at the new path is picked up.
#[tokio::test]
async fn a_plugin_moved_to_a_bad_file_is_picked_up_by_the_watcher_once_the_file_loads() {
    let config = serving_v1();
    let host = config.started().await;
    let _watcher = host.watch(&config);
    assert_eq!(host.say("s", "hi").await, ["v1 hi"]);

    config.write(&hot_at("next/hot.wasm"));
    eventually("the bad file refused", || host.plugin("hot").reload_error.is_some()).await;
    assert_v1_serves_with_error(&host).await;

    install_v2(&config.dir.path().join("next/hot.wasm"));
    eventually("the new file picked up", || host.plugin("hot").generation == 2).await;
    assert_v2_serves(&host).await;
    host.stop().await;
}

/// (b) `POST /v1/plugins/{name}/reload`: 422 with the load error while the
/// desired file does not load, 200 once it does.
#[tokio::test]
async fn the_reload_endpoint_answers_422_while_the_desired_file_does_not_load_and_200_once_it_does() {
    let config = serving_v1();
    let (host, server) = crate::api::api(&config).await;
    config.write(&hot_at("next/hot.wasm"));
    host.supervisor
        .reconfigure(config.load())
        .await
        .expect("config applied");
    assert_v1_serves_with_error(&host).await;

    let reload = || async {
        reqwest::Client::new()
            .post(format!("http://{}/v1/plugins/hot/reload", server.addr()))
            .bearer_auth(crate::api::TOKEN)
            .send()
            .await
            .unwrap()
    };
    let refused = reload().await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("next/hot.wasm"), "{message}");
    assert_v1_serves_with_error(&host).await;

    install_v2(&config.dir.path().join("next/hot.wasm"));
    let accepted = reload().await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let body: Value = accepted.json().await.unwrap();
    assert_eq!(body["generation"], 2, "{body}");
    assert_eq!(body["reload_error"], Value::Null, "{body}");
    assert_v2_serves(&host).await;

    // Nothing changed since: 200, same generation.
    let again = reload().await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap()["generation"], 2);
    server.shutdown(PATIENCE).await;
    host.stop().await;
}

/// (c) Rewriting the config (its `hot` entry unchanged) loads the file now
/// valid at the entry's path.
#[tokio::test]
async fn rewriting_the_config_picks_up_a_file_that_now_loads() {
    let config = serving_v1();
    let host = config.started().await;
    config.write(&hot_at("next/hot.wasm"));
    let report = host.supervisor.reconfigure(config.load()).await.unwrap();
    assert!(report.plugins_reloaded.is_empty(), "{report:?}");
    assert_v1_serves_with_error(&host).await;

    // The same entry again, while the file is still bad: still refused.
    host.supervisor.reconfigure(config.load()).await.unwrap();
    assert_v1_serves_with_error(&host).await;

    // The entry unchanged, an unrelated edit elsewhere: the file now loads.
    install_v2(&config.dir.path().join("next/hot.wasm"));
    config.write(&format!(
        "{}\n[sessions.other]\nchannel = \"sim\"\nplugins = []\n",
        hot_at("next/hot.wasm")
    ));
    let report = host.supervisor.reconfigure(config.load()).await.unwrap();
    assert_eq!(report.plugins_reloaded, ["hot"]);
    assert_eq!(report.sessions_restarted, Vec::<String>::new(), "{report:?}");
    assert_v2_serves(&host).await;
    host.stop().await;
}

/// Going back to the serving entry clears the error and reloads nothing:
/// the serving version, its instances and their state are kept (a revert
/// used to load the old file again as if it were new).
#[tokio::test]
async fn reverting_the_config_to_the_serving_entry_clears_the_error_and_reloads_nothing() {
    let config = serving_v1();
    std::fs::copy(plugin_path("probe"), config.dir.path().join("v1.wasm")).unwrap();
    let host = config.started().await;
    let [events] = <[String; 1]>::try_from(host.say("s", "events").await).unwrap();
    assert!(events.starts_with("started,"), "{events}");

    config.write(&hot_at("next/hot.wasm"));
    host.supervisor.reconfigure(config.load()).await.unwrap();
    assert!(host.plugin("hot").reload_error.is_some());
    config.write(&hot_at("v1.wasm"));
    let report = host.supervisor.reconfigure(config.load()).await.unwrap();
    assert!(report.plugins_reloaded.is_empty(), "{report:?}");
    let status = host.plugin("hot");
    assert_eq!(status.reload_error, None, "the desired version serves again");
    assert_eq!(status.generation, 1, "nothing was reloaded");
    assert_eq!(host.say("s", "events").await, [events], "the same instance");
    host.stop().await;
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// The control API of a `purr run` in the background.
struct Api {
    base: String,
    client: reqwest::Client,
}

const RUN_TOKEN: &str = "faults-reload-token-0123456789";

impl Api {
    async fn get(&self, path: &str) -> Option<Value> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(RUN_TOKEN)
            .send()
            .await
            .ok()?;
        response.error_for_status().ok()?.json().await.ok()
    }

    /// Polls `GET path` until `check` finds something in it.
    async fn until<T>(&self, path: &str, what: &str, check: impl Fn(&Value) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(found) = self.get(path).await.as_ref().and_then(&check) {
                return found;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `text` into sim session `s` and returns its answer.
    async fn say(&self, text: &str) -> String {
        let sent = |outbound: &Value| outbound.as_array().map(Vec::len);
        let before = self.until("/v1/sessions/s/sim/outbound", "outbound", sent).await;
        let response = self
            .client
            .post(format!("{}/v1/sessions/s/sim/inbound", self.base))
            .bearer_auth(RUN_TOKEN)
            .json(&json!({ "from": "user", "text": text }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        self.until("/v1/sessions/s/sim/outbound", "the answer", |outbound| {
            let answer = outbound.as_array()?.get(before)?;
            answer["action"]["Text"]["text"].as_str().map(str::to_string)
        })
        .await
    }

    /// Plugin `name` as `GET /v1/plugins` shows it.
    async fn plugin(&self, name: &str) -> Value {
        self.until("/v1/plugins", "the plugins", |plugins| {
            plugins.as_array()?.iter().find(|p| p["name"] == name).cloned()
        })
        .await
    }
}

/// (d) `purr run -c purr.toml` from the config's dir resolved plugin paths
/// relative to the working dir, and the watcher read the config again
/// through its absolute path: every entry looked changed, and the first
/// edit reloaded every plugin, resetting their instances. Paths are now
/// resolved the same way both times.
#[tokio::test]
async fn a_host_started_with_a_relative_config_path_keeps_untouched_plugins_on_a_config_change() {
    let api = format!("127.0.0.1:{}", free_port());
    let config = TestConfig::with_host(&format!("api = \"{api}\""), &hot_at("probe.wasm"));
    std::fs::copy(plugin_path("probe"), config.dir.path().join("probe.wasm")).unwrap();
    let _host = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_purr"))
            .args(["run", "-c", "purr.toml"])
            .current_dir(config.dir.path())
            .env("PURR_API_TOKEN", RUN_TOKEN)
            .env_remove("PURR_CONFIG")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("purr run"),
    );
    let api = Api {
        base: format!("http://{api}"),
        client: reqwest::Client::new(),
    };
    let connected = |sessions: &Value| {
        let s = sessions.as_array()?.iter().find(|s| s["name"] == "s")?;
        (s["status"] == "connected").then_some(())
    };
    api.until("/v1/sessions", "session s connected", connected).await;
    let events = api.say("events").await;
    assert!(events.starts_with("started,"), "{events}");

    // An edit that does not touch `hot`: a session added.
    config.write(&format!(
        "{}\n[sessions.added]\nchannel = \"sim\"\nplugins = []\n",
        hot_at("probe.wasm")
    ));
    let added = |sessions: &Value| sessions.as_array()?.iter().any(|s| s["name"] == "added").then_some(());
    api.until("/v1/sessions", "the edit applied", added).await;

    let hot = api.plugin("hot").await;
    assert_eq!(hot["generation"], 1, "not reloaded: {hot}");
    assert_eq!(hot["reload_error"], Value::Null, "{hot}");
    assert_eq!(api.say("events").await, events, "the same instance");
}
