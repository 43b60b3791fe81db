//! An in-process fake WhatsApp server, far enough for a real pairing QR.
//!
//! [`FakeWhatsapp`] is a `wacore::net::TransportFactory`: hand a clone of it
//! to a whatsapp-rust `Bot` (or to purr's WhatsApp connector) together with
//! [`FakeWhatsapp::http_client`], and every connection the client opens is
//! served by a task in this process. Nothing touches the network.
//!
//! What it fakes, per connection (see `server.rs` for the steps):
//!
//! 1. The Noise `XX` handshake as WhatsApp's edge speaks it: the
//!    `WA\x06\x03` prologue, the client's `ClientHello` (ephemeral key), a
//!    `ServerHello` with the server's encrypted static key and a test
//!    certificate chain (`wacore_noise::test_util::build_cert_chain_bytes`,
//!    zero signatures: only accepted by a client built with whatsapp-rust's
//!    `danger-skip-cert-chain-verify`, which purr's `fake-whatsapp-server`
//!    feature turns on), then the `ClientFinish`, from which it decrypts the
//!    client's static (Noise) key and its `ClientPayload`.
//! 2. Noise transport frames both ways (AES-GCM, one counter per direction)
//!    carrying WhatsApp binary nodes (`wacore_binary` marshal/unmarshal).
//! 3. For a registration payload (a device that has never paired): the
//!    `<iq type="set" xmlns="md"><pair-device><ref/>…</pair-device></iq>`
//!    the real server sends, so the client emits real
//!    `Event::PairingQrCode`s, one per ref as they expire (60 s, then 20 s
//!    each). The client's `type="result"` acknowledgement is recorded.
//! 4. For a login payload (a paired device) on a server made with
//!    [`FakeWhatsapp::refusing_logins`]: the `<failure reason="..."/>` node
//!    the real server answers a login with when it no longer accepts the
//!    device (401: unlinked from the phone), then the server closes the
//!    connection, as WhatsApp's edge does. Otherwise a login is recorded and
//!    left unanswered.
//! 5. Every `get`/`set` IQ the client sends (keepalive pings, ...) gets an
//!    empty `type="result"`.
//! 6. An HTTP stub answering the client's fetch of `web.whatsapp.com/sw.js`
//!    (its app-version check) with a fixed `client_revision`.
//!
//! What it records ([`Connection`]): each connection's client static key,
//! its decoded `ClientPayload` (registration: identity key, registration
//! id, signed prekey; login: user and device), every node either side sent,
//! the refs offered and whether the client acknowledged the pair-device IQ,
//! and any protocol error the server met (a broken frame, a bad handshake).
//! Tests wait on those with [`FakeWhatsapp::wait_for`] (no sleeps).
//!
//! What a test controls: the refs offered ([`FakeWhatsapp::with_refs`],
//! default six per connection like the real server), whether the
//! pair-device IQ is sent at all ([`FakeWhatsapp::without_pairing`]), the
//! answer to a login ([`FakeWhatsapp::refusing_logins`]), extra nodes
//! pushed to a live connection ([`FakeWhatsapp::send`]) and a server-side
//! close ([`FakeWhatsapp::close`]).
//!
//! What it does NOT fake: `pair-success` (the phone's signed device
//! identity) and therefore `<success>`, a login that succeeds (a login
//! payload is left unanswered, or refused), the IK and XX-fallback
//! handshakes a paired device with a cached certificate would use, media,
//! messages, receipts, app state, prekey uploads, usync, or any IQ that
//! needs a meaningful answer.

#![allow(dead_code)] // each test uses its own part of the harness

mod server;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use whatsapp_rust::async_channel;
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::transport::{Transport, TransportEvent, TransportFactory};
use whatsapp_rust::wacore::libsignal::protocol::{KeyPair, PrivateKey};
use whatsapp_rust::wacore::net::{HttpClient, HttpRequest, HttpResponse};
use whatsapp_rust::wacore_binary::Node;
use whatsapp_rust::waproto::whatsapp as wa;

/// The `client_revision` the HTTP stub reports; the client logs in as
/// version `2.3000.<this>`.
pub const CLIENT_REVISION: u32 = 1_023_456_789;

/// The fake server. Cheap to clone: clones share one server.
#[derive(Clone)]
pub struct FakeWhatsapp {
    inner: Arc<Inner>,
}

struct Inner {
    /// The server's static Noise key pair (the leaf of the cert chain).
    server_key: KeyPair,
    cert_chain: Vec<u8>,
    state: Mutex<State>,
    /// Bumped on every change of `state`: what [`FakeWhatsapp::wait_for`] waits on.
    changed: tokio::sync::watch::Sender<()>,
}

struct State {
    behaviour: Behaviour,
    connections: Vec<Connection>,
    controls: Vec<tokio::sync::mpsc::UnboundedSender<Control>>,
    http_requests: Vec<String>,
}

#[derive(Clone)]
struct Behaviour {
    /// Refs for the pair-device IQ; `{conn}` becomes the connection index.
    refs: Vec<String>,
    pair_device: bool,
    /// The `reason` of the `<failure>` that answers a login, if any.
    login_failure: Option<String>,
}

/// Something a test asks a live connection to do.
enum Control {
    Send(Node),
    Close,
}

/// What the server saw on one connection (a snapshot).
#[derive(Clone, Debug, Default)]
pub struct Connection {
    /// The client's static Noise public key, from its `ClientFinish`.
    pub client_static: Option<[u8; 32]>,
    /// The payload the client logged in with (decrypted from `ClientFinish`).
    pub payload: Option<wa::ClientPayload>,
    /// Nodes the client sent after the handshake, in order.
    pub received: Vec<Node>,
    /// Nodes the server sent, in order.
    pub sent: Vec<Node>,
    /// The refs of the pair-device IQ, if one was sent.
    pub refs: Vec<String>,
    /// The id of the pair-device IQ, if one was sent.
    pub pair_device_id: Option<String>,
    /// The client answered the pair-device IQ with `type="result"`.
    pub pair_device_acked: bool,
    /// The first protocol error the server met; it then dropped the connection.
    pub error: Option<String>,
    /// The connection is over (either side closed it).
    pub closed: bool,
}

impl Connection {
    /// The handshake finished and the client's payload was read.
    pub fn logged_in(&self) -> bool {
        self.payload.is_some()
    }

    /// The payload registers a new device (it carries `device_pairing_data`).
    pub fn is_registration(&self) -> bool {
        self.payload.as_ref().is_some_and(|p| p.device_pairing_data.is_set())
    }

    /// The identity public key a registration payload carries (`e_ident`).
    pub fn registration_identity(&self) -> Option<Vec<u8>> {
        self.payload.as_ref()?.device_pairing_data.as_option()?.e_ident.clone()
    }

    /// The registration id a registration payload carries (`e_regid`, big endian).
    pub fn registration_id(&self) -> Option<u32> {
        let bytes = self
            .payload
            .as_ref()?
            .device_pairing_data
            .as_option()?
            .e_regid
            .clone()?;
        Some(u32::from_be_bytes(bytes.try_into().ok()?))
    }

    /// The payload logs a paired device in (it names the account's user).
    pub fn is_login(&self) -> bool {
        !self.is_registration() && self.login_user().is_some()
    }

    /// The user (phone number) a login payload of a paired device names.
    pub fn login_user(&self) -> Option<u64> {
        self.payload.as_ref()?.username
    }

    /// Received nodes with this tag.
    pub fn received_tagged<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a Node> {
        self.received.iter().filter(move |n| n.tag == tag)
    }
}

impl Default for FakeWhatsapp {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeWhatsapp {
    /// A server that offers six refs per connection to a new device.
    pub fn new() -> Self {
        Self::with_refs((0..6).map(|i| format!("2@fake-ref-{{conn}}-{i}")).collect())
    }

    /// A server that offers these refs (`{conn}` → the connection index).
    pub fn with_refs(refs: Vec<String>) -> Self {
        let server_key = random_key_pair();
        let server_static: [u8; 32] = server_key
            .public_key
            .public_key_bytes()
            .try_into()
            .expect("an X25519 public key is 32 bytes");
        let cert_chain = wacore_noise::test_util::build_cert_chain_bytes(&server_static);
        let (changed, _) = tokio::sync::watch::channel(());
        Self {
            inner: Arc::new(Inner {
                server_key,
                cert_chain,
                state: Mutex::new(State {
                    behaviour: Behaviour {
                        refs,
                        pair_device: true,
                        login_failure: None,
                    },
                    connections: Vec::new(),
                    controls: Vec::new(),
                    http_requests: Vec::new(),
                }),
                changed,
            }),
        }
    }

    /// Sends no pair-device IQ: the client sits connected, unpaired.
    pub fn without_pairing(self) -> Self {
        self.inner.lock().behaviour.pair_device = false;
        self
    }

    /// Answers every login (a paired device's payload) with
    /// `<failure reason="{reason}" location="rva"/>` and closes the
    /// connection: `"401"` is a device unlinked from the phone.
    /// Registrations are served as usual.
    pub fn refusing_logins(self, reason: &str) -> Self {
        self.inner.lock().behaviour.login_failure = Some(reason.to_string());
        self
    }

    /// The HTTP client to give the bot: it answers the version check.
    pub fn http_client(&self) -> FakeHttp {
        FakeHttp {
            inner: self.inner.clone(),
        }
    }

    /// The server's static public key (the one its certificate names).
    pub fn server_static(&self) -> [u8; 32] {
        self.inner
            .server_key
            .public_key
            .public_key_bytes()
            .try_into()
            .expect("an X25519 public key is 32 bytes")
    }

    /// A snapshot of every connection so far.
    pub fn connections(&self) -> Vec<Connection> {
        self.inner.lock().connections.clone()
    }

    /// URLs the HTTP stub was asked for.
    pub fn http_requests(&self) -> Vec<String> {
        self.inner.lock().http_requests.clone()
    }

    /// Protocol errors the server met, as `(connection, error)`.
    pub fn errors(&self) -> Vec<(usize, String)> {
        self.inner
            .lock()
            .connections
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.error.clone().map(|e| (i, e)))
            .collect()
    }

    /// Waits until `check` finds what it wants in the connections, or panics
    /// after `patience` naming `what` and showing the server's state.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        patience: Duration,
        mut check: impl FnMut(&[Connection]) -> Option<T>,
    ) -> T {
        let mut changed = self.inner.changed.subscribe();
        let wait = async {
            loop {
                if let Some(found) = check(&self.inner.lock().connections) {
                    return found;
                }
                changed.changed().await.expect("the fake server owns the sender");
            }
        };
        match tokio::time::timeout(patience, wait).await {
            Ok(found) => found,
            Err(_) => panic!(
                "fake WhatsApp: no {what} within {patience:?}; connections: {:#?}",
                self.connections()
            ),
        }
    }

    /// Waits for connection `index` to finish its handshake and returns it.
    pub async fn wait_for_login(&self, index: usize, patience: Duration) -> Connection {
        self.wait_for(&format!("login on connection {index}"), patience, |c| {
            c.get(index).filter(|c| c.logged_in()).cloned()
        })
        .await
    }

    /// Pushes a node to live connection `index` (after its handshake).
    pub fn send(&self, index: usize, node: Node) {
        self.control(index, Control::Send(node));
    }

    /// Closes connection `index` from the server side.
    pub fn close(&self, index: usize) {
        self.control(index, Control::Close);
    }

    fn control(&self, index: usize, control: Control) {
        let state = self.inner.lock();
        let tx = state
            .controls
            .get(index)
            .unwrap_or_else(|| panic!("fake WhatsApp: no connection {index}"));
        // A closed connection drops its receiver; there is nothing to tell it.
        let _ = tx.send(control);
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes connection `index` and wakes waiters.
    fn update(&self, index: usize, f: impl FnOnce(&mut Connection)) {
        f(&mut self.lock().connections[index]);
        self.changed.send_replace(());
    }
}

/// A key pair from purr's `rand` (whatsapp-rust's `KeyPair::generate`
/// wants another major version of `rand_core`).
fn random_key_pair() -> KeyPair {
    let secret: [u8; 32] = rand::random();
    let private = PrivateKey::deserialize(&secret).expect("32 bytes are a private key");
    KeyPair::try_from(private).expect("an X25519 private key has a public key")
}

#[async_trait]
impl TransportFactory for FakeWhatsapp {
    async fn create_transport(&self) -> anyhow::Result<(Arc<dyn Transport>, async_channel::Receiver<TransportEvent>)> {
        let (to_server, from_client) = tokio::sync::mpsc::unbounded_channel();
        let (to_client, events) = async_channel::unbounded();
        let (control_tx, control_rx) = tokio::sync::mpsc::unbounded_channel();
        let (index, behaviour) = {
            let mut state = self.inner.lock();
            state.connections.push(Connection::default());
            state.controls.push(control_tx);
            (state.connections.len() - 1, state.behaviour.clone())
        };
        self.inner.changed.send_replace(());
        // As the real WebSocket transport does once its socket is open.
        let _ = to_client.try_send(TransportEvent::Connected);
        tokio::spawn(server::serve(server::Served {
            inner: self.inner.clone(),
            index,
            behaviour,
            from_client,
            to_client,
            control: control_rx,
        }));
        Ok((Arc::new(FakeTransport { to_server }), events))
    }
}

/// What the client's side of a connection sends to the server task.
enum FromClient {
    Data(Bytes),
    Disconnect,
}

/// The client's end of one connection.
struct FakeTransport {
    to_server: tokio::sync::mpsc::UnboundedSender<FromClient>,
}

#[async_trait]
impl Transport for FakeTransport {
    async fn send(&self, data: Bytes) -> anyhow::Result<()> {
        self.to_server
            .send(FromClient::Data(data))
            .map_err(|_| anyhow::anyhow!("fake WhatsApp: connection closed"))
    }

    async fn disconnect(&self) {
        let _ = self.to_server.send(FromClient::Disconnect);
    }
}

/// The HTTP side: only the app-version check (`sw.js`) is answered.
#[derive(Clone)]
pub struct FakeHttp {
    inner: Arc<Inner>,
}

#[async_trait]
impl HttpClient for FakeHttp {
    async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
        self.inner.lock().http_requests.push(request.url.clone());
        self.inner.changed.send_replace(());
        if request.url == "https://web.whatsapp.com/sw.js" {
            let body = format!(r#"self.__swData={{"client_revision":{CLIENT_REVISION}}};"#);
            Ok(HttpResponse {
                status_code: 200,
                body: body.into_bytes(),
            })
        } else {
            Ok(HttpResponse {
                status_code: 404,
                body: Vec::new(),
            })
        }
    }
}
