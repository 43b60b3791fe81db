//! The control API's connections: accepting, per-connection timeouts, and
//! a shutdown that ends within a grace whatever the clients do.
//!
//! Each connection is hyper's HTTP/1 server with a header-read timeout:
//! a client must send a request head within [`HEADER_READ_TIMEOUT`] of the
//! connection opening or of the previous response, so a stalled half-sent
//! request and an idle keep-alive connection are both closed. On shutdown
//! the listener closes, connections finish their requests in flight
//! (hyper's graceful shutdown; idle ones close at once) for at most the
//! grace, and whatever is left is dropped.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long a client may take to send a request head (and how long a
/// keep-alive connection may sit idle).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `stop` holds a grace, then shuts down
/// within that grace.
pub async fn serve(listener: TcpListener, app: Router, mut stop: watch::Receiver<Option<Duration>>) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let grace = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let service = TowerToHyperService::new(app.clone());
                    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                    connections.spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(%peer, %error, "control API connection ended with an error");
                        }
                    });
                }
                Err(error) => {
                    // Out of file descriptors, typically: wait a little, go on.
                    tracing::warn!(%error, "control API: accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Finished connections are reaped as they end.
            Some(_) = connections.join_next() => {}
            // A grace, or the Server dropped (then none).
            grace = async { stop.wait_for(Option::is_some).await.ok().and_then(|grace| *grace) } => {
                break grace.unwrap_or_default();
            }
        }
    };
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(
            connections = connections.len(),
            grace_ms = grace.as_millis() as u64,
            "control API: closing connections still open after the shutdown grace"
        );
    }
    connections.shutdown().await;
}
