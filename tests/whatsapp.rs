//! purr's WhatsApp connection path, offline: whatsapp-rust clients against
//! the in-process fake server of `tests/fake_whatsapp`.
//!
//! Needs `--features fake-whatsapp-server` (the client must accept the fake's
//! test certificate chain).

mod fake_whatsapp;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fake_whatsapp::{CLIENT_REVISION, FakeWhatsapp};
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

/// Checks a pairing QR payload against the device that shows it:
/// `ref,base64(noise pub),base64(identity pub),base64(adv secret),client type`.
fn assert_qr_of(code: &str, expected_ref: &str, device: &Device) {
    let parts: Vec<&str> = code.split(',').collect();
    assert_eq!(parts.len(), 5, "QR payload {code:?} has not 5 parts");
    assert_eq!(parts[0], expected_ref, "QR payload {code:?}: ref");
    let decode = |i: usize, what: &str| {
        BASE64
            .decode(parts[i])
            .unwrap_or_else(|e| panic!("QR payload {code:?}: {what} is not base64: {e}"))
    };
    assert_eq!(
        decode(1, "noise key"),
        device.noise_key.public_key.public_key_bytes(),
        "QR payload: the device's Noise public key"
    );
    assert_eq!(
        decode(2, "identity key"),
        device.identity_key.public_key.public_key_bytes(),
        "QR payload: the device's identity public key"
    );
    assert_eq!(
        decode(3, "adv secret"),
        device.adv_secret_key,
        "QR payload: the device's ADV secret"
    );
    assert_eq!(decode(1, "").len(), 32);
    assert_eq!(decode(2, "").len(), 32);
    assert_eq!(decode(3, "").len(), 32);
    assert!(
        parts[4].len() == 1 && parts[4].chars().all(|c| c.is_ascii_alphanumeric()),
        "QR payload {code:?}: the client type is one character"
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
