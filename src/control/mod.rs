//! The control API: HTTP on `[host] api` (loopback by default), the
//! contract of `docs/api.md`.
//!
//! - `auth.rs`: the bearer token (env or `data_dir/api-token`) and its middleware.
//! - `error.rs`: the JSON error shape and status codes.
//! - `sessions.rs`: sessions, their lifecycle, QR, sending.
//! - `sim.rs`: the sim network's other side.
//! - `plugins.rs`: plugin status and reload.
//! - `events.rs`: live events (server-sent events).
//! - `health.rs`: `/healthz` and `/readyz`.
//! - `metrics.rs`: Prometheus metrics.
//! - `openapi.rs`: the generated OpenAPI document.
//! - `dashboard.rs`: the web dashboard at `/` (public, like its assets).
//!
//! - `serve.rs`: connections, their timeouts, the bounded shutdown.
//!
//! [`bind`] starts the server and returns a [`Server`] that knows its
//! address (so tests can bind port 0) and shuts down gracefully within a
//! grace: it stops accepting, ends the live event streams, lets requests in
//! flight finish for at most the grace, then closes what is left.

mod auth;
mod dashboard;
mod error;
mod events;
mod health;
mod metrics;
mod openapi;
mod plugins;
mod serve;
mod sessions;
mod sim;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::{Extension, Router};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{ApiToken, TOKEN_ENV, TOKEN_FILE, token_path};
pub use serve::HEADER_READ_TIMEOUT;

use crate::supervisor::Supervisor;

/// What every handler gets.
#[derive(Clone)]
pub struct ApiState {
    pub supervisor: Supervisor,
    token: ApiToken,
    /// Turns true when the server shuts down (live streams end).
    shutdown: watch::Receiver<bool>,
}

/// A running control API server.
pub struct Server {
    addr: SocketAddr,
    /// Ends live event streams.
    streams: watch::Sender<bool>,
    /// Stops the server, with the grace its connections get.
    stop: watch::Sender<Option<Duration>>,
    task: JoinHandle<()>,
}

impl Server {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, ends live event streams, and lets the requests in
    /// flight finish for at most `grace`; connections still open then are
    /// closed.
    pub async fn shutdown(self, grace: Duration) {
        self.streams.send_replace(true);
        self.stop.send_replace(Some(grace));
        match self.task.await {
            Ok(()) => tracing::info!("control API stopped"),
            Err(error) => tracing::error!(%error, "control API server task ended abnormally"),
        }
    }
}

/// Serves the API for `supervisor` on `addr` (`127.0.0.1:0` picks a port).
pub async fn bind(supervisor: Supervisor, addr: &str, token: ApiToken) -> anyhow::Result<Server> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("control API: binding {addr}"))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "the control API listens beyond loopback over plain HTTP: the token and every message cross the \
             network unencrypted; put a TLS reverse proxy in front (docs/api.md)"
        );
    }
    let (streams, streams_end) = watch::channel(false);
    let (stop, stopping) = watch::channel(None);
    let state = ApiState {
        supervisor,
        token,
        shutdown: streams_end,
    };
    let task = tokio::spawn(serve::serve(listener, router(state), stopping));
    tracing::info!(%addr, "control API listening");
    Ok(Server {
        addr,
        streams,
        stop,
        task,
    })
}

/// Every route, the token required on all but the public ones.
fn router(state: ApiState) -> Router {
    let protected = OpenApiRouter::new()
        .routes(routes!(sessions::list, sessions::create))
        .routes(routes!(sessions::get))
        .routes(routes!(sessions::start))
        .routes(routes!(sessions::pair_code))
        .routes(routes!(sessions::disconnect))
        .routes(routes!(sessions::destroy))
        .routes(routes!(sessions::qr))
        .routes(routes!(sessions::send))
        .routes(routes!(sim::inbound))
        .routes(routes!(sim::outbound))
        .routes(routes!(plugins::list))
        .routes(routes!(plugins::reload))
        .routes(routes!(plugins::shadow, plugins::unshadow))
        .routes(routes!(plugins::promote))
        .routes(routes!(events::events))
        .routes(routes!(metrics::metrics))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    let public = OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(openapi::document));
    let (api, document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(protected)
        .merge(public)
        .split_for_parts();
    let document = match document.to_json() {
        Ok(json) => json,
        Err(error) => {
            tracing::error!(%error, "OpenAPI document not serializable");
            String::from("{}")
        }
    };
    api.merge(dashboard::routes())
        .fallback(error::no_route)
        .layer(Extension(openapi::Document(Arc::from(document))))
        .with_state(state)
}
