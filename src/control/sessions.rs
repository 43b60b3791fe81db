//! `/v1/sessions...`: list, create, inspect, the lifecycle (start,
//! start linking by pair code, disconnect, destroy), the QR code as SVG,
//! and sending a text.
//!
//! Lifecycle calls use [`Supervisor::try_lifecycle`]: while another
//! lifecycle call on the same session runs, the answer is `409` instead of
//! a wait. A text sent here goes straight to the session's connection
//! under a fresh message id, not through the outbox: the caller is there
//! to see the network's answer, so nothing is retried behind its back.
//!
//! [`Supervisor::try_lifecycle`]: crate::supervisor::Supervisor::try_lifecycle

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::supervisor::{Lifecycle, NewSession, SessionInfo};

/// The answer to an accepted message: its id on the network.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub id: String,
}

/// `POST /v1/sessions/{name}/messages`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// The chat's address (`alice@sim`, a WhatsApp JID).
    pub to: String,
    pub text: String,
}

#[utoipa::path(get, path = "/v1/sessions", operation_id = "list_sessions", tag = "sessions",
    responses(
        (status = 200, description = "Config and run-time sessions", body = [SessionInfo]),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
    ))]
pub async fn list(State(state): State<ApiState>) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    Ok(Json(state.supervisor.list().await.map_err(ApiError::internal)?))
}

#[utoipa::path(post, path = "/v1/sessions", operation_id = "create_session", tag = "sessions", request_body = NewSession,
    responses(
        (status = 201, description = "Created and stored; started if autostart", body = SessionInfo),
        (status = 400, description = "Malformed body or invalid name", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 409, description = "A session of that name exists", body = ErrorBody),
        (status = 422, description = "Unknown channel or plugin", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<ApiState>,
    ApiJson(new): ApiJson<NewSession>,
) -> Result<(StatusCode, Json<SessionInfo>), ApiError> {
    let session = state.supervisor.create(new).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

#[utoipa::path(get, path = "/v1/sessions/{name}", operation_id = "get_session", tag = "sessions",
    params(("name" = String, Path, description = "Session name")),
    responses(
        (status = 200, description = "The session", body = SessionInfo),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No session of that name", body = ErrorBody),
    ))]
pub async fn get(State(state): State<ApiState>, Path(name): Path<String>) -> Result<Json<SessionInfo>, ApiError> {
    Ok(Json(state.supervisor.session(&name)?))
}

#[utoipa::path(post, path = "/v1/sessions/{name}/start", operation_id = "start_session", tag = "sessions",
    params(("name" = String, Path, description = "Session name")),
    responses(
        (status = 200, description = "Starting (a new account shows a QR)", body = SessionInfo),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No session of that name", body = ErrorBody),
        (status = 409, description = "Another lifecycle action is in progress", body = ErrorBody),
    ))]
pub async fn start(State(state): State<ApiState>, Path(name): Path<String>) -> Result<Json<SessionInfo>, ApiError> {
    lifecycle(&state, &name, Lifecycle::Start).await
}

/// `POST /v1/sessions/{name}/pair-code`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairByPhone {
    /// The account's phone number in international form (`+15551234567`).
    pub phone: String,
}

#[utoipa::path(post, path = "/v1/sessions/{name}/pair-code", operation_id = "pair_session_by_phone", tag = "sessions", request_body = PairByPhone,
    params(("name" = String, Path, description = "Session name")),
    responses(
        (status = 200, description = "Starting; a new account gets a pair code (`pair_code`) instead of QR codes", body = SessionInfo),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No session of that name", body = ErrorBody),
        (status = 409, description = "Not a WhatsApp session, or another lifecycle action is in progress", body = ErrorBody),
        (status = 422, description = "Not a phone number", body = ErrorBody),
    ))]
pub async fn pair_code(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<PairByPhone>,
) -> Result<Json<SessionInfo>, ApiError> {
    if !crate::config::is_phone_number(&body.phone) {
        return Err(ApiError::invalid(format!(
            "{:?} is not a phone number like \"+15551234567\"",
            body.phone
        )));
    }
    tracing::info!(session = %name, "linking by pair code through the API");
    Ok(Json(state.supervisor.try_pair_by_phone(&name, &body.phone).await?))
}

#[utoipa::path(post, path = "/v1/sessions/{name}/disconnect", operation_id = "disconnect_session", tag = "sessions",
    params(("name" = String, Path, description = "Session name")),
    responses(
        (status = 200, description = "Stopped; auth kept", body = SessionInfo),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No session of that name", body = ErrorBody),
        (status = 409, description = "Another lifecycle action is in progress", body = ErrorBody),
    ))]
pub async fn disconnect(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<SessionInfo>, ApiError> {
    lifecycle(&state, &name, Lifecycle::Disconnect).await
}

#[utoipa::path(post, path = "/v1/sessions/{name}/destroy", operation_id = "destroy_session", tag = "sessions",
    params(("name" = String, Path, description = "Session name")),
    responses(
        (status = 200, description = "Logged out, auth deleted; a run-time session is forgotten", body = SessionInfo),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No session of that name", body = ErrorBody),
        (status = 409, description = "Another lifecycle action is in progress", body = ErrorBody),
    ))]
pub async fn destroy(State(state): State<ApiState>, Path(name): Path<String>) -> Result<Json<SessionInfo>, ApiError> {
    lifecycle(&state, &name, Lifecycle::Destroy).await
}

async fn lifecycle(state: &ApiState, name: &str, action: Lifecycle) -> Result<Json<SessionInfo>, ApiError> {
    tracing::info!(session = name, ?action, "lifecycle action through the API");
    Ok(Json(state.supervisor.try_lifecycle(name, action).await?))
}

#[utoipa::path(get, path = "/v1/sessions/{name}/qr", operation_id = "session_qr", tag = "sessions",
    params(("name" = String, Path, description = "Session name")),
    responses(
        (status = 200, description = "The QR code to scan", content_type = "image/svg+xml", body = String),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No session of that name", body = ErrorBody),
        (status = 409, description = "Not in scan-qr", body = ErrorBody),
    ))]
pub async fn qr(State(state): State<ApiState>, Path(name): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let status = state.supervisor.status(&name)?;
    let Some(qr) = status.qr else {
        return Err(ApiError::conflict(format!(
            "session {name:?} shows no QR (status {})",
            status.state
        )));
    };
    let code = qrcode::QrCode::new(qr.code.as_bytes()).map_err(ApiError::internal)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .build();
    Ok(([(CONTENT_TYPE, "image/svg+xml")], svg))
}

#[utoipa::path(post, path = "/v1/sessions/{name}/messages", operation_id = "send_message", tag = "sessions",
    params(("name" = String, Path, description = "Session name")),
    request_body = NewMessage,
    responses(
        (status = 202, description = "The network took it", body = Accepted),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No session of that name", body = ErrorBody),
        (status = 409, description = "The session is not connected", body = ErrorBody),
    ))]
pub async fn send(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiJson(message): ApiJson<NewMessage>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let id = state.supervisor.send_text(&name, &message.to, &message.text).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id })))
}
