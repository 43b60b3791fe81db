//! `/v1/sessions/{name}/sim/...`: the sim network's other side — write to
//! a sim session as a user would, and read what it sent. `409` for a
//! session on another channel, or (inbound) one that is not connected.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::error::{ApiError, ApiJson, ErrorBody};
use super::sessions::Accepted;
use crate::channel::Outbound;

/// `POST /v1/sessions/{name}/sim/inbound`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimInbound {
    /// The sim user writing (`alice`, or `alice@sim`).
    pub from: String,
    pub text: String,
}

/// One outbound action of a sim session.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SimOutboundView {
    pub session: String,
    /// The message id (sends) or idempotency id (other actions).
    pub id: String,
    /// The action, e.g. `{"Text": {"chat": "alice@sim", "text": "hi"}}`.
    #[schema(value_type = Object)]
    pub action: Outbound,
}

#[utoipa::path(post, path = "/v1/sessions/{name}/sim/inbound", operation_id = "sim_inbound", tag = "sim",
    params(("name" = String, Path, description = "Session name")),
    request_body = SimInbound,
    responses(
        (status = 202, description = "Journaled by the session", body = Accepted),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No session of that name", body = ErrorBody),
        (status = 409, description = "Not a sim session, or not connected", body = ErrorBody),
    ))]
pub async fn inbound(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiJson(message): ApiJson<SimInbound>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let id = state
        .supervisor
        .sim_inbound(&name, &message.from, &message.text)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id })))
}

#[utoipa::path(get, path = "/v1/sessions/{name}/sim/outbound", operation_id = "sim_outbound", tag = "sim",
    params(("name" = String, Path, description = "Session name")),
    responses(
        (status = 200, description = "Oldest first (the newest 10,000); with `[sim] keep_sent` the persisted log, across restarts, else since the host started", body = [SimOutboundView]),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No session of that name", body = ErrorBody),
        (status = 409, description = "Not a sim session", body = ErrorBody),
    ))]
pub async fn outbound(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<SimOutboundView>>, ApiError> {
    let sent = state.supervisor.sim_outbound(&name).await?;
    Ok(Json(
        sent.into_iter()
            .map(|o| SimOutboundView {
                session: o.session,
                id: o.id,
                action: o.action,
            })
            .collect(),
    ))
}
