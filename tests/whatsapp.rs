//! purr's WhatsApp connection path, offline: whatsapp-rust clients against
//! the in-process fake server of `tests/fake_whatsapp`.
//!
//! Needs `--features fake-whatsapp-server` (the client must accept the fake's
//! test certificate chain).

mod common;
mod fake_whatsapp;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{Host, TestConfig};
use fake_whatsapp::{CLIENT_REVISION, Connection, FakeWhatsapp};
use purr::channel::whatsapp::{Connector, WhatsappStore};
use purr::plugin::native::{Capabilities, Context, Event as PluginEvent, Flow, NativeHandler, NativePlugin};
use purr::session::State;
use purr::supervisor::Supervisor;
use sqlx::AssertSqlSafe;
use tokio::sync::mpsc;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::store::traits::{Backend, DeviceStore, SignalStore};
use whatsapp_rust::types::events::Event;
use whatsapp_rust::wacore::store::{Device, InMemoryBackend};
use whatsapp_rust::{Jid, TokioRuntime};

/// How long to wait for something that happens at once. The QR tests run on
/// tokio's paused clock, where this is virtual time: it passes only while
/// every task is idle, so it bounds a hang, not a slow machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// How long a client that should not reconnect is watched for a new
/// connection: three times whatsapp-rust's first reconnect delay (~1 s).
const NO_RETRY_WINDOW: Duration = Duration::from_secs(3);

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

/// What a plugin chain got that these tests look at.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Qr(String),
    LoggedOut(String),
}

/// The `recorder` native handler: reports what its chain gets, with the
/// session's name.
struct Recorder {
    seen: mpsc::UnboundedSender<(String, Seen)>,
}

#[async_trait]
impl NativeHandler for Recorder {
    async fn handle(
        &mut self,
        _caps: &mut Capabilities,
        ctx: &Context,
        event: &PluginEvent,
    ) -> wasmtime::Result<Result<Flow, String>> {
        let seen = match event {
            PluginEvent::Qr(qr) => Some(Seen::Qr(qr.code.clone())),
            PluginEvent::LoggedOut(reason) => Some(Seen::LoggedOut(reason.clone())),
            _ => None,
        };
        if let Some(seen) = seen {
            let _ = self.seen.send((ctx.session.clone(), seen));
        }
        Ok(Ok(Flow::Next))
    }
}

/// What the `recorder`s of a host's sessions report, by session.
struct Chains {
    seen: mpsc::UnboundedReceiver<(String, Seen)>,
    /// Reports of other sessions than the one last waited for.
    later: Vec<(String, Seen)>,
}

impl Chains {
    /// The next report of `session` that `pick` accepts; its reports before
    /// that one are skipped, other sessions' are kept for later.
    async fn next<T>(&mut self, session: &str, what: &str, pick: impl Fn(&Seen) -> Option<T>) -> T {
        let mut skipped = Vec::new();
        while let Some(at) = self.later.iter().position(|(s, _)| s == session) {
            let (_, seen) = self.later.remove(at);
            match pick(&seen) {
                Some(found) => return found,
                None => skipped.push(seen),
            }
        }
        let wait = async {
            loop {
                let (from, seen) = self.seen.recv().await.expect("the recorders are alive");
                if from != session {
                    self.later.push((from, seen));
                } else if let Some(found) = pick(&seen) {
                    return found;
                } else {
                    skipped.push(seen);
                }
            }
        };
        match tokio::time::timeout(PATIENCE, wait).await {
            Ok(found) => found,
            Err(_) => panic!("session {session}'s chain got no {what} within {PATIENCE:?}; skipped: {skipped:?}"),
        }
    }

    /// The next QR code `session`'s chain gets.
    async fn next_qr(&mut self, session: &str) -> String {
        self.next(session, "qr event", |seen| match seen {
            Seen::Qr(code) => Some(code.clone()),
            _ => None,
        })
        .await
    }

    /// The reason of the next `logged-out` event `session`'s chain gets.
    async fn next_logged_out(&mut self, session: &str) -> String {
        self.next(session, "logged-out event", |seen| match seen {
            Seen::LoggedOut(reason) => Some(reason.clone()),
            _ => None,
        })
        .await
    }
}

/// The purr config of the purr-level tests: session `wa` on WhatsApp,
/// the `probe` plugin then the `recorder` native handler.
const WHATSAPP_SESSION: &str = r#"
[plugins.probe]
path = "{probe}"

[sessions.wa]
channel = "whatsapp"
plugins = ["probe"]
"#;

/// Like [`WHATSAPP_SESSION`], with a second WhatsApp session `other` in
/// the same host (and database).
const TWO_WHATSAPP_SESSIONS: &str = r#"
[plugins.probe]
path = "{probe}"

[sessions.wa]
channel = "whatsapp"
plugins = ["probe"]

[sessions.other]
channel = "whatsapp"
plugins = ["probe"]
"#;

/// A purr host on `config` whose WhatsApp sessions reach `fake`; what their
/// chains get arrives on the returned [`Chains`].
async fn purr_host(config: &TestConfig, fake: &FakeWhatsapp) -> (Host, Chains) {
    let mut loaded = config.load();
    // purr.toml cannot name a native handler: the chains are completed in code.
    for session in loaded.sessions.values_mut() {
        session.plugins.push("recorder".into());
    }
    let connector = Connector::custom(Arc::new(fake.clone()), Arc::new(fake.http_client()));
    let supervisor = Supervisor::with_whatsapp(loaded, connector).await.expect("supervisor");
    let (tx, seen) = mpsc::unbounded_channel();
    supervisor
        .add_native(NativePlugin::new("recorder", move || Recorder { seen: tx.clone() }))
        .await
        .expect("native handler");
    let chains = Chains {
        seen,
        later: Vec::new(),
    };
    (Host { supervisor }, chains)
}

/// The number of rows `session` has in each `wa_*` table of the host's
/// database (every such table the schema has, by name).
async fn wa_rows(host: &Host, session: &str) -> BTreeMap<String, i64> {
    let purr::store::Db::Sqlite(pool) = host.supervisor.store().db() else {
        panic!("this test reads SQLite's catalog")
    };
    let tables: Vec<String> =
        sqlx::query_scalar(r"SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'wa\_%' ESCAPE '\'")
            .fetch_all(pool)
            .await
            .expect("list the wa_ tables");
    assert!(tables.iter().any(|t| t == "wa_device"), "no wa_ tables in {tables:?}");
    let mut rows = BTreeMap::new();
    for table in tables {
        // `table` is a table name the schema itself reported.
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table} WHERE session = ?")))
            .bind(session)
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("count {table}: {e}"));
        rows.insert(table, count);
    }
    rows
}

/// The tables of `rows` that have any.
fn nonempty(rows: &BTreeMap<String, i64>) -> Vec<&str> {
    rows.iter().filter(|(_, n)| **n > 0).map(|(t, _)| t.as_str()).collect()
}

/// `session`'s WhatsApp store in the host's database.
fn wa_store(host: &Host, session: &str) -> WhatsappStore {
    WhatsappStore::new(host.supervisor.store(), session)
}

/// The connection of the fake that offered the ref `qr` shows.
async fn connection_of(fake: &FakeWhatsapp, qr: &Qr) -> Connection {
    fake.wait_for(&format!("the connection of ref {}", qr.reference), PATIENCE, |c| {
        c.iter().find(|c| c.refs.contains(&qr.reference)).cloned()
    })
    .await
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
        let (host, mut chains) = purr_host(&config, &fake).await;
        host.supervisor.start("wa").await.expect("start");
        let code = chains.next_qr("wa").await;
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

/// `destroy` of a session waiting for its QR to be scanned: the session is
/// `logged-out` (no QR shown), its connection is closed, every `wa_*` row of
/// it is deleted while another session of the same database keeps its
/// device and connection, and the next `start` registers a brand-new
/// device: another Noise key, identity and ADV secret in a new QR.
#[tokio::test]
async fn destroying_a_session_waiting_for_its_qr_deletes_its_device_and_only_its() {
    let fake = FakeWhatsapp::new();
    let config = TestConfig::new(TWO_WHATSAPP_SESSIONS);
    let (host, mut chains) = purr_host(&config, &fake).await;

    let mut waiting = BTreeMap::new();
    for session in ["wa", "other"] {
        host.supervisor.start(session).await.expect("start");
        let qr = Qr::parse(&chains.next_qr(session).await);
        host.wait_state(session, State::ScanQr).await;
        let conn = connection_of(&fake, &qr).await;
        qr.assert_from(&conn);
        assert!(conn.is_registration(), "a new device registers");
        waiting.insert(session, (qr, conn));
    }
    let (qr0, conn0) = &waiting["wa"];
    let (other_qr, other_conn) = &waiting["other"];
    assert_ne!(qr0.noise_key, other_qr.noise_key, "each session has its own device");

    let rows_before = wa_rows(&host, "wa").await;
    assert_eq!(rows_before["wa_device"], 1, "the waiting session's device is stored");
    let other_before = wa_rows(&host, "other").await;
    assert_eq!(other_before["wa_device"], 1, "the other session's device is stored");
    let other_device = wa_store(&host, "other").load().await.expect("load").expect("a device");

    host.supervisor.destroy("wa").await.expect("destroy");
    let status = host.supervisor.status("wa").expect("status");
    assert_eq!(
        status.state,
        State::LoggedOut,
        "destroy logs the session out: {status:?}"
    );
    assert_eq!(status.qr, None, "a destroyed session shows no QR");
    let closed = fake.connections().iter().position(|c| c.refs.contains(&qr0.reference));
    fake.wait_for("the destroyed session's connection to close", PATIENCE, |c| {
        c[closed.expect("the session's connection")].closed.then_some(())
    })
    .await;
    let rows_after = wa_rows(&host, "wa").await;
    assert_eq!(
        nonempty(&rows_after),
        Vec::<&str>::new(),
        "destroy deletes every wa_ row of the session (before: {rows_before:?})"
    );

    // The other session is untouched: same rows, same device, still online.
    assert_eq!(
        wa_rows(&host, "other").await,
        other_before,
        "the other session keeps its rows"
    );
    let other_now = wa_store(&host, "other").load().await.expect("load").expect("a device");
    assert_eq!(
        serde_json::to_value(&other_now).expect("device json"),
        serde_json::to_value(&other_device).expect("device json"),
        "the other session keeps its device"
    );
    assert_eq!(host.supervisor.status("other").expect("status").state, State::ScanQr);
    let other_index = fake
        .connections()
        .iter()
        .position(|c| c.refs.contains(&other_qr.reference))
        .expect("the other session's connection");
    assert!(
        !fake.connections()[other_index].closed,
        "the other session stays connected"
    );

    // Started again, the session is a new device.
    let connections = fake.connections().len();
    host.supervisor.start("wa").await.expect("start after destroy");
    let qr1 = Qr::parse(&chains.next_qr("wa").await);
    host.wait_state("wa", State::ScanQr).await;
    let conn1 = connection_of(&fake, &qr1).await;
    qr1.assert_from(&conn1);
    assert_eq!(fake.connections().len(), connections + 1, "one new connection");
    assert!(conn1.is_registration(), "the new device registers");
    assert_ne!(conn1.client_static, conn0.client_static, "a new Noise key");
    assert_ne!(conn1.client_static, other_conn.client_static);
    assert_ne!(
        conn1.registration_identity(),
        conn0.registration_identity(),
        "a new identity"
    );
    assert_ne!(qr1.adv_secret, qr0.adv_secret, "a new ADV secret");
    let device = wa_store(&host, "wa").load().await.expect("load").expect("a device");
    assert_eq!(
        device.noise_key.public_key.public_key_bytes(),
        qr1.noise_key,
        "the new device is the one stored"
    );
    assert_eq!(host.plugin("probe").traps, 0);
    host.stop().await;
    assert_eq!(fake.errors(), [], "no protocol errors");
}

/// The account whose device a session stores was unlinked from the phone:
/// the device logs in (not a registration) and WhatsApp answers
/// `<failure reason="401"/>`. The session is `logged-out`, its plugins get
/// the `logged-out` event, the client does not retry with the dead
/// credentials, and the next `start` deletes the old device's rows and
/// registers a new device that shows a QR.
#[tokio::test]
async fn a_device_unlinked_from_the_phone_is_logged_out_and_replaced_on_the_next_start() {
    let fake = FakeWhatsapp::new().refusing_logins("401");
    let config = TestConfig::new(WHATSAPP_SESSION);
    let (host, mut chains) = purr_host(&config, &fake).await;

    // A linked device, with some Signal state of its account.
    let store = wa_store(&host, "wa");
    store.create().await.expect("create the device");
    let mut linked = store.load().await.expect("load").expect("the device");
    let account: Jid = "15551234567@s.whatsapp.net".parse().expect("a jid");
    linked.pn = Some(account);
    assert!(
        linked.server_cert_chain.is_none(),
        "no cached server key: an XX handshake"
    );
    store.save(&linked).await.expect("save the linked device");
    store.put_identity("15557654321.0", [7; 32]).await.expect("identity");
    store.put_session("15557654321.0", b"a ratchet").await.expect("session");
    store
        .put_sender_key("group::15557654321.0", b"a sender key")
        .await
        .expect("sender key");
    let seeded = wa_rows(&host, "wa").await;
    assert_eq!(
        nonempty(&seeded),
        ["wa_device", "wa_identities", "wa_sender_keys", "wa_sessions"],
        "the linked device's rows"
    );

    host.supervisor.start("wa").await.expect("start");
    let login = fake.wait_for_login(0, PATIENCE).await;
    assert!(login.is_login(), "a linked device logs in: {:?}", login.payload);
    assert!(!login.is_registration(), "a linked device does not register");
    assert_eq!(login.login_user(), Some(15_551_234_567), "it logs in as its account");
    assert_eq!(
        login.client_static.map(Vec::from),
        Some(linked.noise_key.public_key.public_key_bytes().to_vec()),
        "with the stored device's Noise key"
    );
    assert!(
        login.sent.iter().any(|n| n.tag == "failure"),
        "the fake refused it: {:?}",
        login.sent
    );

    let reason = chains.next_logged_out("wa").await;
    assert!(reason.contains("401"), "the plugins learn why: {reason:?}");
    host.wait_state("wa", State::LoggedOut).await;
    let status = host.supervisor.status("wa").expect("status");
    assert_eq!(status.jid, None, "a logged-out session has no account: {status:?}");
    assert!(
        status.last_error.as_deref().is_some_and(|e| e.contains("401")),
        "the status says why: {status:?}"
    );
    fake.wait_for("the refused connection to close", PATIENCE, |c| {
        c[0].closed.then_some(())
    })
    .await;

    // The crate's first retry comes ~1 s (Fibonacci backoff, ±10 %) after
    // a connection ends: a window of three finds one if it retries at all.
    let retried = tokio::time::timeout(
        NO_RETRY_WINDOW,
        fake.wait_for("a retry", PATIENCE, |c| (c.len() > 1).then_some(())),
    )
    .await;
    assert!(
        retried.is_err(),
        "no reconnect with dead credentials: {:#?}",
        fake.connections()
    );
    assert_eq!(host.supervisor.status("wa").expect("status").state, State::LoggedOut);

    // Started again: the old device is gone and a new one shows a QR.
    host.supervisor.start("wa").await.expect("start after the unlink");
    let qr = Qr::parse(&chains.next_qr("wa").await);
    host.wait_state("wa", State::ScanQr).await;
    let fresh = connection_of(&fake, &qr).await;
    qr.assert_from(&fresh);
    assert_eq!(fake.connections().len(), 2, "one login, one registration, nothing else");
    assert!(fresh.is_registration(), "the new device registers");
    assert_ne!(fresh.client_static, login.client_static, "a new Noise key");
    assert_ne!(
        fresh.registration_identity().as_deref(),
        Some(linked.identity_key.public_key.public_key_bytes()),
        "a new identity"
    );
    let rows = wa_rows(&host, "wa").await;
    assert_eq!(
        nonempty(&rows),
        ["wa_device"],
        "the old device's rows are gone: {rows:?}"
    );
    assert_eq!(store.load_identity("15557654321.0").await.expect("identity"), None);
    let device = store.load().await.expect("load").expect("the new device");
    assert_eq!(device.pn, None, "the new device is not linked");
    assert_eq!(device.noise_key.public_key.public_key_bytes(), qr.noise_key);
    assert_eq!(host.plugin("probe").traps, 0);
    host.stop().await;
    assert_eq!(fake.errors(), [], "no protocol errors");
}

/// A network on which WhatsApp cannot be reached: every connection is refused.
struct Unreachable;

#[async_trait]
impl whatsapp_rust::transport::TransportFactory for Unreachable {
    async fn create_transport(
        &self,
    ) -> anyhow::Result<(
        Arc<dyn whatsapp_rust::transport::Transport>,
        whatsapp_rust::async_channel::Receiver<whatsapp_rust::transport::TransportEvent>,
    )> {
        anyhow::bail!("connection refused")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_that_cannot_reach_whatsapp_says_so_instead_of_starting_forever() {
    let fake = FakeWhatsapp::new();
    let config = TestConfig::new(WHATSAPP_SESSION);
    let connector = Connector::custom(Arc::new(Unreachable), Arc::new(fake.http_client()));
    let host = Host {
        supervisor: Supervisor::with_whatsapp(config.load(), connector)
            .await
            .expect("supervisor"),
    };
    host.supervisor.start("wa").await.expect("start");
    host.wait_state("wa", State::Disconnected).await;
    let status = host.supervisor.status("wa").expect("status");
    let reason = status.last_error.expect("the reason is shown");
    assert!(reason.contains("cannot reach WhatsApp"), "{reason}");
    host.stop().await;
}
