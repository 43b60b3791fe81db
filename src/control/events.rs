//! `GET /v1/events`: the host event bus as server-sent events.
//!
//! A stream opens with one `status` event per session (the current state),
//! then carries `status`, `message`, `sent` and `plugin` events as they are
//! published; `?session=<name>` keeps only that session's events (plugin
//! events belong to no session and are left out then). A client that falls
//! more than the bus's buffer behind gets `lagged` with the number of
//! events it missed and goes on with newer ones. Ids count the events of
//! one stream: 1, 2, 3, ... The stream ends when the server shuts down.
//! Events are turned into JSON here, per listener, never on the event path.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use super::ApiState;
use super::error::{ApiError, ErrorBody};
use crate::channel::Outbound;
use crate::observe::HostEvent;
use crate::session::{QrCode, SessionStatus, State as SessionState};

/// `?session=<name>`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only this session's events.
    session: Option<String>,
}

/// `event: status`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusEvent {
    session: String,
    status: StatusFields,
}

/// The status fields of a `Session`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusFields {
    status: SessionState,
    jid: Option<String>,
    qr: Option<QrCode>,
    pair_code: Option<String>,
    last_error: Option<String>,
}

/// `event: message`: an inbound message reached the session's plugins.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageEvent {
    session: String,
    /// The network's message id.
    id: String,
    chat: String,
    sender: String,
    /// For text messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

/// `event: sent`: the network accepted a send.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SentEvent {
    session: String,
    id: String,
    #[schema(value_type = Object)]
    action: Outbound,
}

/// `event: lagged`: events this client missed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LaggedEvent {
    missed: u64,
}

#[utoipa::path(get, path = "/v1/events", operation_id = "events", tag = "host",
    params(EventsQuery),
    responses(
        (status = 200, description = "Server-sent events: status, message, sent, plugin, lagged", content_type = "text/event-stream", body = String),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "Unknown session in ?session=", body = ErrorBody),
    ))]
pub async fn events(
    State(state): State<ApiState>,
    Query(query): Query<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    if let Some(session) = &query.session
        && !state.supervisor.has_session(session)
    {
        return Err(crate::supervisor::UnknownSession(session.clone()).into());
    }
    // Subscribe before reading the statuses, so no change falls in between.
    let receiver = state.supervisor.subscribe_events();
    let initial = state
        .supervisor
        .statuses()
        .into_iter()
        .filter(|(name, _)| query.session.as_ref().is_none_or(|only| only == name))
        .filter_map(|(name, status)| status_event(&name, &status))
        .collect();
    let stream = Listener {
        initial,
        receiver,
        shutdown: state.shutdown.clone(),
        session: query.session,
        next_id: 1,
    };
    Ok(Sse::new(futures_util::stream::unfold(stream, Listener::next)).keep_alive(KeepAlive::default()))
}

/// One client's stream.
struct Listener {
    /// The opening `status` events, not sent yet.
    initial: VecDeque<Outgoing>,
    receiver: broadcast::Receiver<Arc<HostEvent>>,
    shutdown: watch::Receiver<bool>,
    session: Option<String>,
    next_id: u64,
}

/// An event ready to send: its name and JSON data.
#[derive(Debug)]
struct Outgoing {
    name: &'static str,
    data: String,
}

impl Listener {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        let outgoing = self.next_outgoing().await?;
        let id = self.next_id;
        self.next_id += 1;
        let event = Event::default()
            .event(outgoing.name)
            .data(outgoing.data)
            .id(id.to_string());
        Some((Ok(event), self))
    }

    /// The next event for this client; `None` once the server shuts down.
    async fn next_outgoing(&mut self) -> Option<Outgoing> {
        loop {
            if let Some(event) = self.initial.pop_front() {
                return Some(event);
            }
            tokio::select! {
                _ = self.shutdown.changed() => return None,
                received = self.receiver.recv() => match received {
                    Ok(event) => {
                        if let Some(event) = self.render(&event) {
                            return Some(event);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "event stream client lagged");
                        if let Some(event) = outgoing("lagged", &LaggedEvent { missed }) {
                            return Some(event);
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }

    /// The SSE event for `event`, unless this client filters it out.
    fn render(&self, event: &HostEvent) -> Option<Outgoing> {
        if let Some(only) = &self.session
            && event.session() != Some(only.as_str())
        {
            return None;
        }
        match event {
            HostEvent::Status { session, status } => status_event(session, status),
            HostEvent::Message(message) => outgoing(
                "message",
                &MessageEvent {
                    session: message.session.to_string(),
                    id: message.id.clone(),
                    chat: message.chat.clone(),
                    sender: message.sender.clone(),
                    text: message.text.clone(),
                },
            ),
            HostEvent::Sent(sent) => outgoing(
                "sent",
                &SentEvent {
                    session: sent.session.to_string(),
                    id: sent.id.clone(),
                    action: sent.action.clone(),
                },
            ),
            HostEvent::Plugin(plugin) => outgoing("plugin", plugin),
        }
    }
}

fn status_event(session: &str, status: &SessionStatus) -> Option<Outgoing> {
    let data = StatusEvent {
        session: session.to_string(),
        status: StatusFields {
            status: status.state,
            jid: status.jid.clone(),
            qr: status.qr.clone(),
            pair_code: status.pair_code.clone(),
            last_error: status.last_error.clone(),
        },
    };
    outgoing("status", &data)
}

fn outgoing(name: &'static str, data: &impl Serialize) -> Option<Outgoing> {
    match serde_json::to_string(data) {
        Ok(data) => Some(Outgoing { name, data }),
        Err(error) => {
            tracing::error!(event = name, %error, "event not serializable; skipped");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{CAPACITY, EventBus};

    fn status(session: &str, state: SessionState) -> HostEvent {
        HostEvent::Status {
            session: Arc::from(session),
            status: SessionStatus {
                state,
                jid: None,
                qr: None,
                pair_code: None,
                last_error: None,
            },
        }
    }

    fn listener(bus: &EventBus, session: Option<&str>) -> (Listener, watch::Sender<bool>) {
        let (stop, shutdown) = watch::channel(false);
        let listener = Listener {
            initial: VecDeque::new(),
            receiver: bus.subscribe(),
            shutdown,
            session: session.map(str::to_string),
            next_id: 1,
        };
        (listener, stop)
    }

    #[tokio::test]
    async fn a_client_that_falls_behind_is_told_how_many_events_it_missed() {
        let bus = EventBus::new();
        let (mut listener, _stop) = listener(&bus, None);
        for _ in 0..CAPACITY + 5 {
            bus.publish(|| status("s", SessionState::Starting));
        }
        bus.publish(|| status("s", SessionState::Connected));
        let lagged = listener.next_outgoing().await.unwrap();
        assert_eq!((lagged.name, lagged.data.as_str()), ("lagged", r#"{"missed":6}"#));
        // Then the newest events, the last one included.
        let mut last = None;
        for _ in 0..CAPACITY {
            last = listener.next_outgoing().await;
        }
        let last = last.unwrap();
        assert_eq!(last.name, "status");
        assert!(last.data.contains(r#""status":"connected""#), "{}", last.data);
    }

    #[tokio::test]
    async fn a_session_filter_keeps_that_session_only_and_shutdown_ends_the_stream() {
        let bus = EventBus::new();
        let (mut listener, stop) = listener(&bus, Some("a"));
        bus.publish(|| status("b", SessionState::Starting));
        bus.publish(|| status("a", SessionState::Starting));
        let event = listener.next_outgoing().await.unwrap();
        assert!(event.data.starts_with(r#"{"session":"a""#), "{}", event.data);
        stop.send_replace(true);
        assert!(listener.next_outgoing().await.is_none());
    }
}
