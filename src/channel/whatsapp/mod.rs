//! The WhatsApp channel: one whatsapp-rust `Bot` per session.
//!
//! - `connection`: one session's connection ([`WhatsappChannel`]): the bot's
//!   lifecycle, in-order at-least-once delivery, logout.
//! - [`store`]: whatsapp-rust's storage traits on purr's database, every
//!   row keyed by session name (device identity, Signal sessions, prekeys,
//!   sender keys, app-state keys, LID mappings, ...).
//! - `inbound`: protocol events → [`ChannelEvent`](super::ChannelEvent)s (messages, receipts,
//!   presence, chat state, group updates, QR / pair code, status).
//! - `outbound`: [`Outbound`](super::Outbound) actions and media
//!   downloads → client calls.
//!
//! [`Connector`] says how sessions reach WhatsApp: its servers (the
//! default), or a transport given by the embedder (the offline tests'
//! in-process fake server).

mod connection;
mod inbound;
mod outbound;
pub mod store;

use std::sync::Arc;

use async_trait::async_trait;
use whatsapp_rust::async_channel;
use whatsapp_rust::http::{HttpClient, HttpRequest, HttpResponse, UreqHttpClient};
use whatsapp_rust::transport::{TokioWebSocketTransportFactory, Transport, TransportEvent, TransportFactory};
use whatsapp_rust::wacore::net::{StreamingHttpResponse, UploadBody};

pub use connection::WhatsappChannel;
pub use store::WhatsappStore;

/// The WhatsApp message id of `session`'s send under idempotency key `key`.
pub(crate) fn message_id(session: &str, key: &str) -> String {
    outbound::message_id(&format!("{session}/{key}"))
}

/// How sessions reach WhatsApp: the network transport and HTTP client
/// (media, version checks) their bots use.
#[derive(Clone)]
pub struct Connector {
    transport: Arc<dyn TransportFactory>,
    http: Arc<dyn HttpClient>,
}

impl Connector {
    /// WhatsApp's servers: WebSocket over TLS (tokio) and HTTPS (ureq).
    pub fn network() -> Self {
        Connector {
            transport: Arc::new(TokioWebSocketTransportFactory::new()),
            http: Arc::new(UreqHttpClient::new()),
        }
    }

    /// Another way to reach a WhatsApp server (an in-process fake in tests,
    /// a proxy, ...).
    pub fn custom(transport: Arc<dyn TransportFactory>, http: Arc<dyn HttpClient>) -> Self {
        Connector { transport, http }
    }
}

impl Default for Connector {
    fn default() -> Self {
        Connector::network()
    }
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").finish_non_exhaustive()
    }
}

/// A shared transport factory, as the bot builder wants an owned one.
struct SharedTransport(Arc<dyn TransportFactory>);

#[async_trait]
impl TransportFactory for SharedTransport {
    async fn create_transport(&self) -> anyhow::Result<(Arc<dyn Transport>, async_channel::Receiver<TransportEvent>)> {
        self.0.create_transport().await
    }
}

/// A shared HTTP client, as the bot builder wants an owned one.
struct SharedHttp(Arc<dyn HttpClient>);

#[async_trait]
impl HttpClient for SharedHttp {
    async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
        self.0.execute(request).await
    }

    fn supports_streaming(&self) -> bool {
        self.0.supports_streaming()
    }

    fn execute_streaming(&self, request: HttpRequest) -> anyhow::Result<StreamingHttpResponse> {
        self.0.execute_streaming(request)
    }

    fn supports_upload_streaming(&self) -> bool {
        self.0.supports_upload_streaming()
    }

    fn execute_upload(
        &self,
        request: HttpRequest,
        body: UploadBody,
        content_length: u64,
    ) -> anyhow::Result<HttpResponse> {
        self.0.execute_upload(request, body, content_length)
    }
}
