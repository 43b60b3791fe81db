//! One connection of the fake server: the Noise XX responder, then binary
//! nodes in Noise transport frames.
//!
//! The responder mirrors whatsapp-rust's initiator
//! (`wacore_noise::XxHandshakeState`):
//!
//! ```text
//! client → WA\x06\x03 + frame(HandshakeMessage{client_hello{ephemeral}})
//! server:  mixHash(e_c); mixHash(e_s); mixKey(DH(e_s, e_c));
//!          static = encrypt(s_pub); mixKey(DH(s, e_c)); payload = encrypt(cert chain)
//! server → frame(HandshakeMessage{server_hello{ephemeral, static, payload}})
//! client → frame(HandshakeMessage{client_finish{static, payload}})
//! server:  s_c = decrypt(static); mixKey(DH(e_s, s_c)); ClientPayload = decrypt(payload)
//!          split → (client→server key, server→client key), counters from 0
//! ```
//!
//! After that every frame is `len(3 bytes) ‖ AES-GCM(counter, 0x00 ‖ node)`.

use std::sync::Arc;

use whatsapp_rust::async_channel;
use whatsapp_rust::bytes::{Bytes, BytesMut};
use whatsapp_rust::transport::{DisconnectReason, TransportEvent};
use whatsapp_rust::wacore::framing::{FrameDecoder, encode_frame};
use whatsapp_rust::wacore::handshake::NoiseHandshake;
use whatsapp_rust::wacore::noise::NoiseCipher;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::consts::{NOISE_PATTERN_XX, WA_CONN_HEADER};
use whatsapp_rust::wacore_binary::{Node, OwnedNodeRef, marshal, util::unpack_bytes};
use whatsapp_rust::waproto::buffa::{self, Message as _};
use whatsapp_rust::waproto::whatsapp as wa;

use super::{Behaviour, Control, FromClient, Inner, random_key_pair};

/// The server's JID as it appears in `from`/`to`.
const SERVER: &str = "s.whatsapp.net";

pub(super) struct Served {
    pub inner: Arc<Inner>,
    pub index: usize,
    pub behaviour: Behaviour,
    pub from_client: tokio::sync::mpsc::UnboundedReceiver<FromClient>,
    pub to_client: async_channel::Sender<TransportEvent>,
    pub control: tokio::sync::mpsc::UnboundedReceiver<Control>,
}

/// Why a connection ended.
enum End {
    /// The client disconnected or dropped its transport.
    ClientGone,
    /// A test asked for it.
    Closed,
    /// The server refused the login with a `<failure>` and hung up.
    Refused,
    /// The client broke the protocol.
    Error(String),
}

impl From<String> for End {
    fn from(e: String) -> Self {
        End::Error(e)
    }
}

impl From<&str> for End {
    fn from(e: &str) -> Self {
        End::Error(e.to_string())
    }
}

pub(super) async fn serve(mut s: Served) {
    let end = match run(&mut s).await {
        Ok(()) => End::ClientGone,
        Err(end) => end,
    };
    let reason = match &end {
        End::ClientGone => DisconnectReason::Unknown,
        End::Closed => DisconnectReason::ServerClose {
            code: Some(1000),
            reason: "closed by the test".into(),
        },
        End::Refused => DisconnectReason::ServerClose {
            code: Some(1000),
            reason: "login refused".into(),
        },
        End::Error(e) => DisconnectReason::ReadError(format!("fake WhatsApp: {e}")),
    };
    let _ = s.to_client.send(TransportEvent::Disconnected(reason)).await;
    s.inner.update(s.index, |c| {
        c.closed = true;
        if let End::Error(e) = end {
            c.error.get_or_insert(e);
        }
    });
}

async fn run(s: &mut Served) -> Result<(), End> {
    let mut wire = Wire::default();
    let Some(mut keys) = handshake(s, &mut wire).await? else {
        return Ok(());
    };

    let is_registration = s.inner.lock().connections[s.index].is_registration();
    if !is_registration && let Some(reason) = s.behaviour.login_failure.clone() {
        // What WhatsApp answers a login it no longer accepts, before it
        // closes the stream.
        let failure = NodeBuilder::new("failure")
            .attr("reason", reason)
            .attr("location", "rva")
            .build();
        send_node(s, &mut keys, failure).await?;
        return Err(End::Refused);
    }
    if is_registration && s.behaviour.pair_device {
        let refs: Vec<String> = s
            .behaviour
            .refs
            .iter()
            .map(|r| r.replace("{conn}", &s.index.to_string()))
            .collect();
        let id = format!("fake-pair-{}", s.index);
        let iq = NodeBuilder::new("iq")
            .attr("from", SERVER)
            .attr("type", "set")
            .attr("id", id.clone())
            .attr("xmlns", "md")
            .children([NodeBuilder::new("pair-device")
                .children(refs.iter().map(|r| NodeBuilder::new("ref").bytes(r.as_bytes()).build()))
                .build()])
            .build();
        s.inner.update(s.index, |c| {
            c.refs = refs;
            c.pair_device_id = Some(id);
        });
        send_node(s, &mut keys, iq).await?;
    }

    loop {
        tokio::select! {
            data = s.from_client.recv() => match data {
                Some(FromClient::Data(data)) => {
                    wire.feed(&data)?;
                    while let Some(frame) = wire.decoder.decode_frame() {
                        let node = keys.open(frame)?;
                        answer(s, &mut keys, node).await?;
                    }
                }
                Some(FromClient::Disconnect) | None => return Ok(()),
            },
            control = s.control.recv() => match control {
                Some(Control::Send(node)) => send_node(s, &mut keys, node).await?,
                Some(Control::Close) => return Err(End::Closed),
                // The FakeWhatsapp holds the sender for as long as it lives.
                None => return Err(End::Closed),
            },
        }
    }
}

/// Records a node from the client and answers what needs an answer.
async fn answer(s: &mut Served, keys: &mut Keys, node: Node) -> Result<(), End> {
    let attr = |name: &str| node.attrs.get(name).map(|v| v.to_string());
    let (tag, kind, id) = (node.tag.to_string(), attr("type"), attr("id"));
    let pair_device_id = {
        let mut state = s.inner.lock();
        let conn = &mut state.connections[s.index];
        conn.received.push(node);
        conn.pair_device_id.clone()
    };
    s.inner.changed.send_replace(());
    if tag != "iq" {
        return Ok(());
    }
    match kind.as_deref() {
        Some("result") if id.is_some() && id == pair_device_id => {
            s.inner.update(s.index, |c| c.pair_device_acked = true);
        }
        Some("get") | Some("set") => {
            let Some(id) = id else {
                return Err(End::Error("an iq without id".into()));
            };
            let result = NodeBuilder::new("iq")
                .attr("from", SERVER)
                .attr("type", "result")
                .attr("id", id)
                .build();
            send_node(s, keys, result).await?;
        }
        _ => {}
    }
    Ok(())
}

async fn send_node(s: &mut Served, keys: &mut Keys, node: Node) -> Result<(), End> {
    let frame = keys.seal(&node)?;
    s.inner.update(s.index, |c| c.sent.push(node));
    s.to_client
        .send(TransportEvent::DataReceived(frame))
        .await
        .map_err(|_| End::ClientGone)
}

/// Bytes from the client: the connection header once, then frames.
#[derive(Default)]
struct Wire {
    header_seen: bool,
    pending: Vec<u8>,
    decoder: FrameDecoder,
}

impl Wire {
    fn feed(&mut self, data: &[u8]) -> Result<(), String> {
        if self.header_seen {
            self.decoder.feed(data);
            return Ok(());
        }
        self.pending.extend_from_slice(data);
        // An edge-routing pre-intro (`ED\0\1` + 3-byte length + data) may
        // come before the header when the client has routing info stored.
        let mut at = 0;
        if self.pending.starts_with(b"ED") {
            if self.pending.len() < 7 {
                return Ok(());
            }
            let len = u32::from_be_bytes([0, self.pending[4], self.pending[5], self.pending[6]]);
            at = 7 + len as usize;
        }
        if self.pending.len() < at + WA_CONN_HEADER.len() {
            return Ok(());
        }
        if self.pending[at..at + WA_CONN_HEADER.len()] != WA_CONN_HEADER {
            return Err(format!(
                "connection header {:02x?}, expected {WA_CONN_HEADER:02x?}",
                &self.pending[at..at + WA_CONN_HEADER.len()]
            ));
        }
        self.header_seen = true;
        self.decoder.feed(&self.pending[at + WA_CONN_HEADER.len()..]);
        self.pending = Vec::new();
        Ok(())
    }

    /// The next whole frame, waiting for more bytes as needed. `None` when
    /// the client went away first.
    async fn next_frame(&mut self, s: &mut Served) -> Result<Option<BytesMut>, End> {
        loop {
            if let Some(frame) = self.decoder.decode_frame() {
                return Ok(Some(frame));
            }
            match s.from_client.recv().await {
                Some(FromClient::Data(data)) => self.feed(&data)?,
                Some(FromClient::Disconnect) | None => return Ok(None),
            }
        }
    }
}

/// The Noise XX responder. `None` when the client went away mid-handshake.
async fn handshake(s: &mut Served, wire: &mut Wire) -> Result<Option<Keys>, End> {
    let Some(hello) = wire.next_frame(s).await? else {
        return Ok(None);
    };
    let hello =
        wa::HandshakeMessage::decode_from_slice(&hello).map_err(|e| format!("ClientHello does not decode: {e}"))?;
    let hello = hello
        .client_hello
        .into_option()
        .ok_or("the first message is not a ClientHello")?;
    if hello.r#static.is_some() {
        return Err(End::Error(
            "an IK ClientHello (client has a cached server key): not faked".into(),
        ));
    }
    let client_ephemeral: [u8; 32] = hello
        .ephemeral
        .ok_or("ClientHello without ephemeral key")?
        .try_into()
        .map_err(|_| "client ephemeral key is not 32 bytes".to_string())?;

    let noise_err = |step: &str| {
        let step = step.to_string();
        move |e: whatsapp_rust::wacore::handshake::HandshakeError| format!("{step}: {e}")
    };
    let mut noise = NoiseHandshake::new(NOISE_PATTERN_XX, &WA_CONN_HEADER).map_err(noise_err("noise init"))?;
    noise.authenticate(&client_ephemeral);
    let ephemeral = random_key_pair();
    let ephemeral_pub = ephemeral.public_key.public_key_bytes().to_vec();
    noise.authenticate(&ephemeral_pub);
    noise
        .mix_shared_secret(ephemeral.private_key.serialize(), &client_ephemeral)
        .map_err(noise_err("ee"))?;
    let static_pub = s.inner.server_key.public_key.public_key_bytes().to_vec();
    let encrypted_static = noise.encrypt(&static_pub).map_err(noise_err("s"))?;
    noise
        .mix_shared_secret(s.inner.server_key.private_key.serialize(), &client_ephemeral)
        .map_err(noise_err("es"))?;
    let encrypted_cert = noise.encrypt(&s.inner.cert_chain).map_err(noise_err("cert"))?;
    let server_hello = wa::HandshakeMessage {
        server_hello: buffa::MessageField::some(wa::handshake_message::ServerHello {
            ephemeral: Some(ephemeral_pub),
            r#static: Some(encrypted_static),
            payload: Some(encrypted_cert),
            ..Default::default()
        }),
        ..Default::default()
    };
    let frame = encode_frame(&server_hello.encode_to_vec(), None).map_err(|e| format!("ServerHello frame: {e}"))?;
    if s.to_client
        .send(TransportEvent::DataReceived(frame.into()))
        .await
        .is_err()
    {
        return Ok(None);
    }

    let Some(finish) = wire.next_frame(s).await? else {
        return Ok(None);
    };
    let finish =
        wa::HandshakeMessage::decode_from_slice(&finish).map_err(|e| format!("ClientFinish does not decode: {e}"))?;
    let finish = finish
        .client_finish
        .into_option()
        .ok_or("the second message is not a ClientFinish")?;
    let client_static = noise
        .decrypt(&finish.r#static.ok_or("ClientFinish without static")?)
        .map_err(noise_err("client static"))?;
    let client_static: [u8; 32] = client_static
        .try_into()
        .map_err(|_| "client static key is not 32 bytes".to_string())?;
    noise
        .mix_shared_secret(ephemeral.private_key.serialize(), &client_static)
        .map_err(noise_err("se"))?;
    let payload = noise
        .decrypt(&finish.payload.ok_or("ClientFinish without payload")?)
        .map_err(noise_err("client payload"))?;
    let payload =
        wa::ClientPayload::decode_from_slice(&payload).map_err(|e| format!("ClientPayload does not decode: {e}"))?;
    // Split: the first key is the initiator's (client → server).
    let (from_client, to_client) = noise.finish().map_err(noise_err("split"))?;

    s.inner.update(s.index, |c| {
        c.client_static = Some(client_static);
        c.payload = Some(payload);
    });
    Ok(Some(Keys {
        read: from_client,
        read_counter: 0,
        write: to_client,
        write_counter: 0,
    }))
}

/// The transport keys of one connection, one counter per direction.
struct Keys {
    read: NoiseCipher,
    read_counter: u32,
    write: NoiseCipher,
    write_counter: u32,
}

impl Keys {
    /// A node → an encrypted, length-prefixed frame.
    fn seal(&mut self, node: &Node) -> Result<Bytes, String> {
        // `marshal` writes the leading flags byte (0: not compressed).
        let plain = marshal(node).map_err(|e| format!("marshal {}: {e}", node.tag))?;
        let sealed = self
            .write
            .encrypt_with_counter(self.write_counter, &plain)
            .map_err(|e| format!("encrypt: {e}"))?;
        self.write_counter += 1;
        let frame = encode_frame(&sealed, None).map_err(|e| format!("frame: {e}"))?;
        Ok(frame.into())
    }

    /// An encrypted frame from the client → its node.
    fn open(&mut self, mut frame: BytesMut) -> Result<Node, String> {
        self.read
            .decrypt_in_place_with_counter(self.read_counter, &mut frame)
            .map_err(|e| format!("frame {} does not decrypt: {e}", self.read_counter))?;
        self.read_counter += 1;
        let plain = unpack_bytes(frame).map_err(|e| format!("unpack: {e}"))?;
        let node = OwnedNodeRef::new(plain).map_err(|e| format!("unmarshal: {e}"))?;
        Ok(node.to_owned_node())
    }
}
