//! `wasi:http/outgoing-handler`: outbound HTTP for plugins, to their
//! `allowed_hosts` only.
//!
//! wasmtime-wasi-http implements the interface (hyper and rustls
//! underneath); purr supplies its [`WasiHttpHooks`]: every request passes
//! [`OutboundHttp`]'s `send_request` before anything touches the network.
//! There it is
//!
//! - matched against the plugin's `allowed_hosts` (scheme, host, port):
//!   no match → `error-code.http-request-denied`, logged with session,
//!   plugin and event, counted, never sent;
//! - checked for private addresses when only a wildcard entry allowed it
//!   (`address.rs`): such a host must resolve to public addresses only
//!   (`destination-ip-prohibited` otherwise);
//! - given the plugin's `http_timeout_ms` as its connect, first-byte and
//!   between-bytes timeouts (a guest may ask for less, never more);
//! - counted against `http_max_concurrent` for the instance
//!   (`connection-limit-reached` when all are in flight);
//! - sent without following redirects (a 3xx goes back to the guest), and
//!   its response body cut at `http_max_response_bytes` (`body.rs`).
//!
//! - in a sandboxed run (`purr replay`, a shadow), refused unless its
//!   method is GET or HEAD: a candidate may read from the world, never act
//!   on it.
//!
//! Failures are errors of the guest's request; nothing traps. A plugin
//! stuck waiting on a slow server is still cut at its `timeout_ms` by the
//! instance's wall-clock deadline.

mod address;
mod body;

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::uri::Scheme;
use http_body_util::BodyExt;
use tokio::sync::Semaphore;
use wasmtime::component::Linker;
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

use crate::config::PluginHttp;
use crate::observe::HttpMetrics;
use crate::plugin::PluginState;

/// The boxed future `send_request` answers with.
type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

/// The outbound HTTP capability of one instance.
pub struct OutboundHttp {
    ctx: WasiHttpCtx,
    hooks: Hooks,
}

/// What purr decides about each request of one instance.
struct Hooks {
    session: Arc<str>,
    plugin: Arc<str>,
    /// The event being handled, set by the instance before each call.
    event_id: String,
    limits: PluginHttp,
    in_flight: Arc<Semaphore>,
    metrics: HttpMetrics,
    /// A sandboxed run: GET and HEAD only.
    sandboxed: bool,
}

impl OutboundHttp {
    pub fn new(
        session: Arc<str>,
        plugin: Arc<str>,
        limits: &PluginHttp,
        metrics: HttpMetrics,
        sandboxed: bool,
    ) -> Self {
        OutboundHttp {
            ctx: WasiHttpCtx::new(),
            hooks: Hooks {
                session,
                plugin,
                event_id: String::new(),
                in_flight: Arc::new(Semaphore::new(limits.max_concurrent as usize)),
                limits: limits.clone(),
                metrics,
                sandboxed,
            },
        }
    }

    /// Tags what follows (denials in the logs) with this event.
    pub(crate) fn set_event(&mut self, event_id: &str) {
        self.hooks.event_id.clear();
        self.hooks.event_id.push_str(event_id);
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        let (http, table) = self.http_and_table();
        WasiHttpCtxView {
            ctx: &mut http.ctx,
            table,
            hooks: &mut http.hooks,
        }
    }
}

impl Hooks {
    /// Who is asking, for the logs.
    fn asker(&self) -> Asker {
        Asker {
            session: self.session.clone(),
            plugin: self.plugin.clone(),
            event_id: self.event_id.clone(),
        }
    }
}

/// The session, plugin and event behind a request.
struct Asker {
    session: Arc<str>,
    plugin: Arc<str>,
    event_id: String,
}

impl Asker {
    /// Refuses a request: logged (by origin only: paths and queries may
    /// carry secrets) and counted.
    fn deny(&self, metrics: &HttpMetrics, origin: &str, why: &str) {
        metrics.denied.inc();
        tracing::warn!(
            session = &*self.session,
            plugin = &*self.plugin,
            event = self.event_id.as_str(),
            origin,
            "outbound HTTP request denied: {why}"
        );
    }
}

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _request_done: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> ResponseFuture {
        let uri = request.uri();
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let host = uri.host().unwrap_or_default().to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let origin = format!("{}://{host}:{port}", if https { "https" } else { "http" });
        let asker = self.asker();
        if self.sandboxed && !matches!(*request.method(), http::Method::GET | http::Method::HEAD) {
            asker.deny(
                &self.metrics,
                &origin,
                "a sandboxed run (replay, shadow) sends only GET and HEAD",
            );
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let Some(rule) = self
            .limits
            .allowed_hosts
            .iter()
            .find(|rule| rule.matches(https, &host, port))
        else {
            asker.deny(&self.metrics, &origin, "not in allowed_hosts");
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        };
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            self.metrics.errors.inc();
            return Box::new(async { Err(HttpError::ConnectionLimitReached) });
        };
        let literal = rule.is_literal();
        let options = capped(options, Duration::from_millis(self.limits.timeout_ms));
        let (metrics, max_bytes) = (self.metrics.clone(), self.limits.max_response_bytes);
        Box::new(async move {
            if !literal && let Err(why) = address::check_public(&host, port).await {
                asker.deny(&metrics, &origin, &why);
                return Err(HttpError::DestinationIpProhibited);
            }
            metrics.requests.inc();
            let started = Instant::now();
            let sent = wasmtime_wasi_http::default_send_request(request, Some(options)).await;
            metrics.seconds.observe(started.elapsed().as_secs_f64());
            let (response, connection) = sent.inspect_err(|_| {
                metrics.errors.inc();
            })?;
            let response = body::limit(
                response.map(BodyExt::boxed_unsync),
                max_bytes,
                permit,
                metrics.errors.clone(),
            )
            .inspect_err(|_| {
                metrics.errors.inc();
            })?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(connection) as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

/// The guest's timeouts, none above `limit`.
fn capped(options: Option<RequestOptions>, limit: Duration) -> RequestOptions {
    let options = options.unwrap_or_default();
    let cap = |asked: Option<Duration>| Some(asked.map_or(limit, |asked| asked.min(limit)));
    RequestOptions {
        connect_timeout: cap(options.connect_timeout),
        first_byte_timeout: cap(options.first_byte_timeout),
        between_bytes_timeout: cap(options.between_bytes_timeout),
    }
}

/// Links `wasi:http` (types and outgoing-handler) with purr's hooks.
pub fn add_to_linker(linker: &mut Linker<PluginState>) -> anyhow::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guest_may_ask_for_shorter_timeouts_never_longer() {
        let limit = Duration::from_millis(500);
        let none = capped(None, limit);
        assert_eq!(none.connect_timeout, Some(limit));
        assert_eq!(none.first_byte_timeout, Some(limit));
        assert_eq!(none.between_bytes_timeout, Some(limit));
        let asked = RequestOptions {
            connect_timeout: Some(Duration::from_millis(100)),
            first_byte_timeout: Some(Duration::from_secs(60)),
            between_bytes_timeout: None,
        };
        let got = capped(Some(asked), limit);
        assert_eq!(got.connect_timeout, Some(Duration::from_millis(100)));
        assert_eq!(got.first_byte_timeout, Some(limit));
        assert_eq!(got.between_bytes_timeout, Some(limit));
    }
}
