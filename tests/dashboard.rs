//! The dashboard in a real browser: Debian's headless `chromium`, driven
//! over the DevTools protocol (chromiumoxide), against a host on the sim
//! network with the control API on a free loopback port.
//!
//! The page asks for the token (a wrong one is refused), lists the session,
//! starts it on a click, shows its QR as an image while the sim account
//! waits to be linked, turns `connected` live, sends a test message, and
//! stops the session on a click, which the supervisor confirms.
//! Screenshots of the page are left in `target/dashboard-test.png` (the
//! end) and `target/dashboard-test-qr.png` (the QR shown).
//!
//! With a plugin shadowed by a candidate that answers differently, the
//! page shows the shadow's counters as messages come in (polled: the
//! counters change without bus events) and its differences in words, and
//! promotes it on a confirmed click (`target/dashboard-test-shadow.png`).
//!
//! Needs `chromium` (`CHROME`/`CHROMIUM` name another binary): without it
//! the test fails saying how to install it; `scripts/test` installs it.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::page::{EventJavascriptDialogOpening, HandleJavaScriptDialogParams};
use chromiumoxide::page::ScreenshotParams;
use common::{PATIENCE, TestConfig};
use futures_util::StreamExt;
use purr::control::{self, ApiToken};
use purr::session::State;
use purr::supervisor::Supervisor;
use serde_json::Value;

const TOKEN: &str = "dashboard-test-token";

/// How long the sim account shows its QR before it links itself: long
/// enough for the page to show it, whatever the machine's speed.
const PAIR_DELAY_MS: u64 = 10_000;

const CONFIG: &str = r#"
[plugins.echo]
path = "{echo}"

[sessions.s]
channel = "sim"
plugins = ["echo"]
autostart = false
"#;

/// Echo, shadowed by `tagged-v2` (which answers every text `v2 <text>`).
const SHADOWED: &str = r#"
[plugins.echo]
path = "{echo}"
shadow = "{tagged-v2}"

[sessions.s]
channel = "sim"
plugins = ["echo"]
"#;

/// The browser binary: `CHROME` or `CHROMIUM`, else `chromium` (or
/// `chromium-browser`) on the `PATH`.
fn chromium() -> PathBuf {
    for var in ["CHROME", "CHROMIUM"] {
        if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium not found: this test drives a headless chromium. Install it with \
                 `apt-get install -y chromium` (scripts/test does this on Debian), \
                 or set CHROME to a Chrome/Chromium binary"
            )
        })
}

/// A headless chromium (a fresh profile) with the dashboard at `url` open.
struct Chromium {
    browser: Browser,
    driver: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Chromium {
    async fn open(url: &str) -> (Chromium, Dashboard) {
        let chromium = chromium();
        let profile = tempfile::tempdir().expect("browser profile dir");
        let (browser, mut handler) = Browser::launch(
            BrowserConfig::builder()
                .chrome_executable(&chromium)
                .user_data_dir(profile.path())
                .no_sandbox() // tests may run as root, where chromium's sandbox refuses to start
                .window_size(1280, 1000)
                .viewport(None)
                .launch_timeout(PATIENCE)
                .request_timeout(PATIENCE)
                .build()
                .expect("browser config"),
        )
        .await
        .unwrap_or_else(|e| panic!("launching {}: {e}", chromium.display()));
        // The protocol's messages flow only while the handler is polled.
        let driver = tokio::spawn(async move { while handler.next().await.is_some() {} });
        let page = browser.new_page(url).await.expect("open the dashboard");
        let chromium = Chromium {
            browser,
            driver,
            _profile: profile,
        };
        (chromium, Dashboard { page })
    }

    async fn close(mut self) {
        self.browser.close().await.expect("close the browser");
        let _ = self.browser.wait().await;
        self.driver.abort();
    }
}

/// A page under test, and how to wait on it.
struct Dashboard {
    page: chromiumoxide::Page,
}

impl Dashboard {
    /// The value of a JavaScript expression.
    async fn js(&self, expression: &str) -> Value {
        self.page
            .evaluate(expression)
            .await
            .unwrap_or_else(|e| panic!("evaluating {expression}: {e}"))
            .into_value()
            .unwrap_or(Value::Null)
    }

    /// Polls `expression` until it gives something other than
    /// null/false/"", and returns that.
    async fn wait(&self, what: &str, expression: &str) -> Value {
        let start = Instant::now();
        loop {
            let value = self.js(expression).await;
            if !matches!(&value, Value::Null | Value::Bool(false)) && value != "" {
                return value;
            }
            if start.elapsed() > PATIENCE {
                let body = self.js("document.body.innerText").await;
                panic!(
                    "the page never showed {what}; it shows:\n{}",
                    body.as_str().unwrap_or("")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, selector: &str) {
        self.page
            .find_element(selector)
            .await
            .unwrap_or_else(|e| panic!("no {selector}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {selector}: {e}"));
    }

    async fn type_into(&self, selector: &str, text: &str) {
        self.page
            .find_element(selector)
            .await
            .unwrap_or_else(|e| panic!("no {selector}: {e}"))
            .click()
            .await
            .unwrap()
            .type_str(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {selector}: {e}"));
    }

    /// Saves a screenshot of the whole page as `target/<name>`.
    async fn screenshot(&self, name: &str) {
        let png = self
            .page
            .screenshot(ScreenshotParams::builder().full_page(true).build())
            .await
            .expect("screenshot");
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target dir");
        std::fs::write(target.join(name), png).expect("save the screenshot");
    }

    /// The `data-status` of session `name`'s row.
    fn status_of(name: &str) -> String {
        format!(r#"(document.querySelector('#sessions tr[data-session="{name}"]')?.dataset.status ?? null)"#)
    }

    async fn wait_status(&self, name: &str, status: &str) {
        let expression = format!("{} === {status:?}", Self::status_of(name));
        self.wait(&format!("session {name} {status}"), &expression).await;
    }

    /// Gives the token the page asks for, and waits for the live events.
    async fn log_in(&self) {
        self.wait("the token dialog", "document.getElementById('login').open")
            .await;
        self.type_into("#token-input", TOKEN).await;
        self.click("#token-submit").await;
        self.wait(
            "the live event stream",
            "document.getElementById('conn').dataset.state === 'live'",
        )
        .await;
    }

    /// Accepts every JavaScript dialog (`confirm`) the page opens from now
    /// on, and passes on each one's message.
    async fn accept_dialogs(&self) -> tokio::sync::mpsc::UnboundedReceiver<String> {
        let mut dialogs = self
            .page
            .event_listener::<EventJavascriptDialogOpening>()
            .await
            .expect("listen for dialogs");
        let page = self.page.clone();
        let (messages, received) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(dialog) = dialogs.next().await {
                let _ = messages.send(dialog.message.clone());
                page.execute(HandleJavaScriptDialogParams::new(true))
                    .await
                    .expect("accept the dialog");
            }
        });
        received
    }

    /// The text of `selector` in the shadow row of plugin `name`.
    fn in_shadow(name: &str, selector: &str) -> String {
        format!(r#"(document.querySelector('#plugins tr[data-shadow-of="{name}"] {selector}')?.textContent ?? null)"#)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_drives_a_session_through_qr_connected_and_stopped() {
    let config = TestConfig::new(CONFIG);
    let mut host_config = config.load();
    host_config.sim.pair_delay_ms = PAIR_DELAY_MS;
    let supervisor = Supervisor::new(host_config).await.expect("supervisor");
    let server = control::bind(supervisor.clone(), "127.0.0.1:0", ApiToken::new(TOKEN))
        .await
        .expect("control API");
    let url = format!("http://{}/", server.addr());
    let (browser, dash) = Chromium::open(&url).await;

    // First visit: the page asks for the token; a wrong one is refused.
    dash.wait("the token dialog", "document.getElementById('login').open")
        .await;
    dash.type_into("#token-input", "wrong-token").await;
    dash.click("#token-submit").await;
    let refused = dash
        .wait(
            "the refusal of a wrong token",
            "document.getElementById('login').open && document.getElementById('token-error').textContent",
        )
        .await;
    assert!(refused.as_str().unwrap().contains("refused"), "{refused}");
    dash.type_into("#token-input", TOKEN).await;
    dash.click("#token-submit").await;

    dash.wait_status("s", "stopped").await;
    dash.wait(
        "the live event stream",
        "document.getElementById('conn').dataset.state === 'live'",
    )
    .await;
    assert_eq!(dash.js("localStorage.getItem('purr.token')").await, TOKEN);
    dash.wait(
        "plugin echo, ready",
        r#"document.querySelector('#plugins tr[data-plugin="echo"]')?.dataset.health === 'ready'"#,
    )
    .await;

    // Start: the sim account is new, so it shows a QR until it links itself.
    dash.click(r#"#sessions tr[data-session="s"] button[data-action="start"]"#)
        .await;
    let code = dash
        .wait(
            "the QR image",
            r#"(() => {
                const img = document.querySelector('#qrs figure[data-qr="s"] img');
                return img && img.complete && img.naturalWidth > 0 && img.src.startsWith('blob:')
                    ? img.dataset.code : null;
            })()"#,
        )
        .await;
    assert!(code.as_str().unwrap().starts_with("sim-qr:s:"), "{code}");
    assert_eq!(dash.js(&Dashboard::status_of("s")).await, "scan-qr");
    dash.screenshot("dashboard-test-qr.png").await;

    // Linked: connected, live, and the QR is gone.
    dash.wait_status("s", "connected").await;
    dash.wait(
        "the QR removed",
        r#"document.querySelector('#qrs figure[data-qr="s"]') === null"#,
    )
    .await;
    assert_eq!(
        dash.js(r#"document.querySelector('#sessions tr[data-session="s"] [data-field="jid"]').textContent"#)
            .await,
        "s@sim"
    );

    // A test message: a sim user writes `!ping`, the echo plugin answers.
    dash.js("document.getElementById('send-session').value = 's'; \
         document.getElementById('send-direction').value = 'in'")
        .await;
    dash.type_into("#send-text", "!ping").await;
    dash.click("#send-submit").await;
    dash.wait(
        "the delivery",
        "document.getElementById('send-result').textContent.startsWith('Delivered')",
    )
    .await;
    dash.wait(
        "the reply in the live events",
        r#"[...document.querySelectorAll('#events li[data-event="sent"]')].some(li => li.textContent.includes('pong'))"#,
    )
    .await;

    dash.screenshot("dashboard-test.png").await;

    // Disconnect: stopped on the page and in the supervisor.
    dash.click(r#"#sessions tr[data-session="s"] button[data-action="disconnect"]"#)
        .await;
    dash.wait_status("s", "stopped").await;
    let status = supervisor.status("s").expect("session s");
    assert_eq!(status.state, State::Stopped, "{status:?}");

    browser.close().await;
    server.shutdown(common::PATIENCE).await;
    supervisor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_shadows_differences_and_promotes_it() {
    let config = TestConfig::new(SHADOWED);
    let host = config.started().await;
    let server = control::bind(host.supervisor.clone(), "127.0.0.1:0", ApiToken::new(TOKEN))
        .await
        .expect("control API");
    let url = format!("http://{}/", server.addr());
    let (browser, dash) = Chromium::open(&url).await;
    dash.log_in().await;

    // The shadow shows under echo's row, with its candidate's file.
    let path = dash
        .wait("echo's shadow", &Dashboard::in_shadow("echo", r#"[data-field="path"]"#))
        .await;
    assert!(path.as_str().unwrap().ends_with("tagged-v2.wasm"), "{path}");

    // Messages once the page is up: the counters follow, though nothing
    // is published on the bus as events are compared.
    for _ in 0..3 {
        assert_eq!(host.say("s", "!ping").await, ["pong"], "echo still answers");
    }
    let shadow = shadow_settled(&host, 3).await;
    assert_eq!(shadow.differing, 3, "{shadow:#?}");
    for (counter, value) in [
        ("compared", shadow.compared),
        ("identical", shadow.identical),
        ("differing", shadow.differing),
        ("candidate_errors", shadow.candidate_errors),
        ("dropped", shadow.dropped),
    ] {
        let shown = Dashboard::in_shadow("echo", &format!(r#"[data-counter="{counter}"] b"#));
        dash.wait(&format!("{counter} = {value}"), &format!("{shown} === '{value}'"))
            .await;
    }
    // Each differing event, newest first, with its difference in words.
    let events = dash
        .js(
            r#"[...document.querySelectorAll('#plugins tr[data-shadow-of="echo"] ol.differences > li')]
            .map(li => [li.dataset.session, li.dataset.event, li.querySelector('li[data-kind]').textContent])"#,
        )
        .await;
    let expected: Vec<Value> = shadow
        .recent
        .iter()
        .rev()
        .map(|d| serde_json::json!([d.session, d.event_id, "send 0 to user@sim: \"pong\" → \"v2 !ping\""]))
        .collect();
    assert_eq!(events, Value::Array(expected));
    dash.screenshot("dashboard-test-shadow.png").await;

    // Promote, once confirmed: echo's new version serves, the shadow is gone.
    let mut dialogs = dash.accept_dialogs().await;
    dash.click(r#"#plugins tr[data-shadow-of="echo"] button[data-action="promote"]"#)
        .await;
    let question = tokio::time::timeout(PATIENCE, dialogs.recv())
        .await
        .expect("a confirmation")
        .expect("a dialog");
    assert!(
        question.contains("Promote the shadow of echo") && question.contains("tagged-v2.wasm"),
        "{question}"
    );
    dash.wait(
        "echo promoted, without its shadow",
        r#"(() => {
            const row = document.querySelector('#plugins tr[data-plugin="echo"]');
            return row?.dataset.generation === '2' && !row.dataset.shadow
                && !document.querySelector('#plugins tr[data-shadow-of="echo"]');
        })()"#,
    )
    .await;
    let echo = host.plugin("echo");
    assert!(echo.shadow.is_none(), "{echo:#?}");
    assert!(echo.path.ends_with("tagged-v2.wasm"), "{echo:#?}");
    assert_eq!(host.say("s", "!ping").await, ["v2 !ping"]);

    browser.close().await;
    server.shutdown(common::PATIENCE).await;
    host.stop().await;
}

/// Waits until echo's shadow has compared (or dropped) `messages` messages
/// beyond the session's `started` and `connected`, and returns its status.
async fn shadow_settled(host: &common::Host, messages: u64) -> purr::rollout::shadow::ShadowStatus {
    let start = Instant::now();
    loop {
        let shadow = host.plugin("echo").shadow.expect("echo has a shadow");
        if shadow.compared + shadow.dropped >= 2 + messages {
            return shadow;
        }
        assert!(start.elapsed() < PATIENCE, "the shadow saw only: {shadow:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
