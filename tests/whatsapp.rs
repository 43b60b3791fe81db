//! purr's WhatsApp connection path, offline: whatsapp-rust clients against
//! the in-process fake server of `tests/fake_whatsapp`.
//!
//! Needs `--features fake-whatsapp-server` (the client must accept the fake's
//! test certificate chain).

mod common;
mod fake_whatsapp;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{Host, TestConfig};
use fake_whatsapp::{CLIENT_REVISION, Connection, FakeWhatsapp};
use purr::channel::whatsapp::Connector;
use purr::plugin::native::{Capabilities, Context, Event as PluginEvent, Flow, NativeHandler, NativePlugin};
use purr::session::State;
use purr::supervisor::Supervisor;
use tokio::sync::mpsc;
use whatsapp_rust::TokioRuntime;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::store::traits::Backend;
use whatsapp_rust::types::events::Event;
use whatsapp_rust::wacore::store::{Device, InMemoryBackend};

/// How long to wait for something that happens at once. The QR tests run on
/// tokio's paused clock, where this is virtual time: it passes only while
/// every task is idle, so it bounds a hang, not a slow machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// A bare whatsapp-rust bot on `backend`, connected to `fake`; its events
/// arrive on the returned channel.
async fn bot(fake: &FakeWhatsapp, backend: Arc<dyn Backend>) -> (BotHandle, mpsc::UnboundedReceiver<Arc<Event>>) {
    // `RUST_LOG=debug` shows the client's side (its `log` records included).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let (tx, rx) = mpsc::unbounded_channel();
    let bot = Bot::builder()
        .with_backend_arc(backend)
        .with_transport_factory(fake.clone())
        .with_http_client(fake.http_client())
        .with_runtime(TokioRuntime)
        .on_event(move |event, _client| {
            let _ = tx.send(event);
            async {}
        })
        .build()
        .await
        .expect("the bot builds");
    (bot.spawn(), rx)
}

/// The next event `pick` accepts (others are skipped), within `patience`.
async fn next_event<T>(
    events: &mut mpsc::UnboundedReceiver<Arc<Event>>,
    what: &str,
    patience: Duration,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let mut skipped = Vec::new();
    let wait = async {
        loop {
            let event = events.recv().await.expect("the bot's event channel is open");
            if let Some(found) = pick(&event) {
                return found;
            }
            skipped.push(format!("{event:?}"));
        }
    };
    let found = tokio::time::timeout(patience, wait).await;
    found.unwrap_or_else(|_| panic!("no {what} event within {patience:?}; other events: {skipped:#?}"))
}

/// The next QR code, once the one before (valid `after`) has expired.
async fn next_qr(events: &mut mpsc::UnboundedReceiver<Arc<Event>>, after: Duration) -> (String, Duration) {
    next_event(events, "PairingQrCode", after + PATIENCE, |e| match e {
        Event::PairingQrCode(qr) => Some((qr.code.clone(), qr.timeout)),
        _ => None,
    })
    .await
}

/// A pairing QR payload, decoded:
/// `ref,base64(noise pub),base64(identity pub),base64(adv secret),client type`.
#[derive(Debug, PartialEq)]
struct Qr {
    reference: String,
    noise_key: Vec<u8>,
    identity_key: Vec<u8>,
    adv_secret: Vec<u8>,
    client_type: String,
}

impl Qr {
    fn parse(code: &str) -> Qr {
        let parts: Vec<&str> = code.split(',').collect();
        assert_eq!(parts.len(), 5, "QR payload {code:?} has not 5 parts");
        let key = |i: usize, what: &str| {
            let key = BASE64
                .decode(parts[i])
                .unwrap_or_else(|e| panic!("QR payload {code:?}: {what} is not base64: {e}"));
            assert_eq!(key.len(), 32, "QR payload {code:?}: {what} is not 32 bytes");
            key
        };
        let qr = Qr {
            reference: parts[0].to_string(),
            noise_key: key(1, "noise key"),
            identity_key: key(2, "identity key"),
            adv_secret: key(3, "adv secret"),
            client_type: parts[4].to_string(),
        };
        assert!(
            qr.client_type.len() == 1 && qr.client_type.chars().all(|c| c.is_ascii_alphanumeric()),
            "QR payload {code:?}: the client type is one character"
        );
        qr
    }

    /// The QR shows the keys this connection's client handshook and
    /// registered with, and one of the refs the server gave it.
    fn assert_from(&self, conn: &Connection) {
        assert!(
            conn.refs.contains(&self.reference),
            "QR ref {:?} is not one the server gave: {:?}",
            self.reference,
            conn.refs
        );
        assert_eq!(
            conn.client_static.map(Vec::from),
            Some(self.noise_key.clone()),
            "the QR's Noise key is the one the client handshook with"
        );
        assert_eq!(
            conn.registration_identity(),
            Some(self.identity_key.clone()),
            "the QR's identity key is the one the client registered"
        );
    }
}

/// Checks a pairing QR payload against the device that shows it.
fn assert_qr_of(code: &str, expected_ref: &str, device: &Device) {
    let qr = Qr::parse(code);
    assert_eq!(qr.reference, expected_ref, "QR payload {code:?}: ref");
    assert_eq!(
        qr.noise_key,
        device.noise_key.public_key.public_key_bytes(),
        "QR payload: the device's Noise public key"
    );
    assert_eq!(
        qr.identity_key,
        device.identity_key.public_key.public_key_bytes(),
        "QR payload: the device's identity public key"
    );
    assert_eq!(
        qr.adv_secret, device.adv_secret_key,
        "QR payload: the device's ADV secret"
    );
}

/// A new device handshakes with the fake (Noise XX, test certificate),
/// registers, gets the pair-device IQ, and shows one real QR per ref: the
/// first for 60 s, each next one for 20 s, then gives up and disconnects.
#[tokio::test(start_paused = true)]
async fn a_new_device_shows_a_real_qr_for_each_ref() {
    let fake = FakeWhatsapp::new();
    let backend: Arc<dyn Backend> = Arc::new(InMemoryBackend::new());
    let (bot, mut events) = bot(&fake, backend).await;
    let client = bot.client();

    let (code, timeout) = next_qr(&mut events, Duration::ZERO).await;
    let device = client.persistence_manager().get_device_snapshot();
    let conn = fake.wait_for_login(0, PATIENCE).await;
    assert_eq!(conn.refs.len(), 6, "the fake offers six refs");
    assert_qr_of(&code, &conn.refs[0], &device);
    assert!(
        timeout > Duration::from_secs(59) && timeout <= Duration::from_secs(60),
        "the first QR is valid 60 s, not {timeout:?}"
    );

    // What the client sent: a registration of this device's keys over a
    // Noise channel keyed with this device's static key.
    assert_eq!(
        conn.client_static.as_slice(),
        [device.noise_key.public_key.public_key_bytes()],
        "the handshake's client static key is the device's Noise key"
    );
    assert!(conn.is_registration(), "a new device registers");
    assert_eq!(
        conn.registration_identity().as_deref(),
        Some(device.identity_key.public_key.public_key_bytes())
    );
    assert_eq!(conn.registration_id(), Some(device.registration_id));
    let version = conn
        .payload
        .as_ref()
        .and_then(|p| p.user_agent.as_option())
        .and_then(|ua| ua.app_version.as_option())
        .and_then(|v| v.tertiary);
    assert_eq!(
        version,
        Some(CLIENT_REVISION),
        "the client logs in with the version the HTTP stub reported"
    );
    assert_eq!(
        fake.http_requests(),
        ["https://web.whatsapp.com/sw.js"],
        "the only HTTP request is the version check"
    );
    fake.wait_for("the client's ack of pair-device", PATIENCE, |c| {
        c[0].pair_device_acked.then_some(())
    })
    .await;

    // The rotation: every further ref, in order, 20 s each.
    let mut shown = timeout;
    for expected_ref in &conn.refs[1..] {
        let (code, timeout) = next_qr(&mut events, shown).await;
        shown = timeout;
        assert_qr_of(&code, expected_ref, &device);
        assert!(
            timeout > Duration::from_secs(19) && timeout <= Duration::from_secs(20),
            "a later QR is valid 20 s, not {timeout:?}"
        );
    }
    let exhausted = shown + PATIENCE;
    let disconnected = next_event(&mut events, "PairingQrCodesExhausted", exhausted, |e| match e {
        Event::PairingQrCodesExhausted(x) => Some(x.disconnected),
        Event::PairingQrCode(qr) => panic!("a QR after the last ref: {}", qr.code),
        _ => None,
    })
    .await;
    assert!(disconnected, "with no pair code outstanding the client hangs up");
    tokio::time::timeout(PATIENCE, bot)
        .await
        .expect("the bot stops once the QR codes are exhausted");
    fake.wait_for("the connection to close", PATIENCE, |c| c[0].closed.then_some(()))
        .await;
    assert_eq!(fake.connections().len(), 1, "no reconnect after giving up");
    assert_eq!(fake.errors(), [], "no protocol errors");
}

/// The server drops a new device's connection: the client reconnects by
/// itself (backoff), registers the same keys again and shows a QR for the
/// new connection's refs.
#[tokio::test(start_paused = true)]
async fn a_dropped_connection_comes_back_with_new_refs_and_the_same_keys() {
    let fake = FakeWhatsapp::new();
    let backend: Arc<dyn Backend> = Arc::new(InMemoryBackend::new());
    let (bot, mut events) = bot(&fake, backend).await;

    let (first, _) = next_qr(&mut events, Duration::ZERO).await;
    let conn0 = fake.wait_for_login(0, PATIENCE).await;
    Qr::parse(&first).assert_from(&conn0);
    fake.close(0);
    next_event(&mut events, "Disconnected", PATIENCE, |e| {
        matches!(e, Event::Disconnected(_)).then_some(())
    })
    .await;

    let (second, _) = next_qr(&mut events, PATIENCE).await;
    let conn1 = fake.wait_for_login(1, PATIENCE).await;
    let qr = Qr::parse(&second);
    qr.assert_from(&conn1);
    assert_eq!(qr.reference, conn1.refs[0], "the new connection's first ref");
    assert_ne!(conn0.refs, conn1.refs, "each connection gets its own refs");
    assert_eq!(conn1.client_static, conn0.client_static, "same Noise key");
    assert_eq!(
        conn1.registration_identity(),
        conn0.registration_identity(),
        "same identity"
    );
    assert_eq!(conn1.registration_id(), conn0.registration_id(), "same registration id");
    assert!(fake.connections()[0].closed, "the dropped connection is over");
    assert_eq!(fake.errors(), [], "no protocol errors");
    tokio::time::timeout(PATIENCE, bot.shutdown())
        .await
        .expect("the bot shuts down");
}

/// Records the QR codes a session's plugin chain gets.
struct QrRecorder {
    codes: mpsc::UnboundedSender<String>,
}

#[async_trait]
impl NativeHandler for QrRecorder {
    async fn handle(
        &mut self,
        _caps: &mut Capabilities,
        _ctx: &Context,
        event: &PluginEvent,
    ) -> wasmtime::Result<Result<Flow, String>> {
        if let PluginEvent::Qr(qr) = event {
            let _ = self.codes.send(qr.code.clone());
        }
        Ok(Ok(Flow::Next))
    }
}

/// The purr config of the purr-level test: session `wa` on WhatsApp,
/// the `probe` plugin then the `qr-recorder` native handler.
const WHATSAPP_SESSION: &str = r#"
[plugins.probe]
path = "{probe}"

[sessions.wa]
channel = "whatsapp"
plugins = ["probe"]
"#;

/// A purr host on `config` whose WhatsApp sessions reach `fake`; the QR
/// codes session `wa`'s chain gets arrive on the returned channel.
async fn purr_host(config: &TestConfig, fake: &FakeWhatsapp) -> (Host, mpsc::UnboundedReceiver<String>) {
    let mut loaded = config.load();
    // purr.toml cannot name a native handler: the chain is completed in code.
    loaded
        .sessions
        .get_mut("wa")
        .expect("session wa")
        .plugins
        .push("qr-recorder".into());
    let connector = Connector::custom(Arc::new(fake.clone()), Arc::new(fake.http_client()));
    let supervisor = Supervisor::with_whatsapp(loaded, connector).await.expect("supervisor");
    let (tx, codes) = mpsc::unbounded_channel();
    supervisor
        .add_native(NativePlugin::new("qr-recorder", move || QrRecorder {
            codes: tx.clone(),
        }))
        .await
        .expect("native handler");
    (Host { supervisor }, codes)
}

/// A purr WhatsApp session against the fake: the plugins get the real QR,
/// the session shows it in `scan-qr`, and the device's keys live in purr's
/// database: after a restart of the host the client registers the same
/// identity and handshakes with the same Noise key.
#[tokio::test]
async fn a_purr_whatsapp_session_shows_the_qr_and_keeps_its_device_across_restarts() {
    let fake = FakeWhatsapp::new();
    let config = TestConfig::new(WHATSAPP_SESSION);

    let mut first = None;
    for restart in 0..2 {
        let (host, mut codes) = purr_host(&config, &fake).await;
        host.supervisor.start("wa").await.expect("start");
        let code = tokio::time::timeout(PATIENCE, codes.recv())
            .await
            .expect("the plugin chain gets a qr event")
            .expect("the recorder is alive");
        host.wait_state("wa", State::ScanQr).await;
        let status = host.supervisor.status("wa").expect("status");
        let shown = status.qr.expect("scan-qr shows a QR");
        assert_eq!(shown.code, code, "the session shows the QR the plugins got");
        assert!(
            shown.expires_in_ms > 50_000 && shown.expires_in_ms <= 60_000,
            "the first QR is valid 60 s: {shown:?}"
        );

        let conn = fake.wait_for_login(restart, PATIENCE).await;
        let qr = Qr::parse(&code);
        qr.assert_from(&conn);
        assert_eq!(qr.reference, conn.refs[0]);
        assert!(conn.is_registration(), "an unlinked device registers");
        assert_eq!(host.plugin("probe").traps, 0, "the wasm plugin handled the events");
        host.stop().await;
        fake.wait_for("the connection to close on stop", PATIENCE, |c| {
            c[restart].closed.then_some(())
        })
        .await;

        match &first {
            None => first = Some((qr, conn)),
            Some((qr0, conn0)) => {
                assert_eq!(
                    conn.client_static, conn0.client_static,
                    "same Noise key after a restart"
                );
                assert_eq!(
                    conn.registration_identity(),
                    conn0.registration_identity(),
                    "same identity after a restart"
                );
                assert_eq!(conn.registration_id(), conn0.registration_id());
                assert_eq!(qr.adv_secret, qr0.adv_secret, "same ADV secret after a restart");
                assert_ne!(qr.reference, qr0.reference, "a new connection, new refs");
            }
        }
    }
    assert_eq!(fake.connections().len(), 2);
    assert_eq!(fake.errors(), [], "no protocol errors");
}
