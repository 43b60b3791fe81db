//! `GET /healthz` (is the process fit to keep running) and `GET /readyz`
//! (can it take work now): public, for load balancers and orchestrators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::ApiState;
use crate::supervisor::Readiness;

/// 200 `ok`, or 503 with the reason once the host must be restarted (its
/// database writer stopped after a failed write).
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "host", security(()),
    responses(
        (status = 200, description = "The host is up", content_type = "text/plain", body = String),
        (status = 503, description = "The host must be restarted; the body says why", content_type = "text/plain", body = String),
    ))]
pub async fn healthz(State(state): State<ApiState>) -> (StatusCode, String) {
    match state.supervisor.restart_needed() {
        None => (StatusCode::OK, "ok".into()),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("restart needed: {reason}")),
    }
}

/// 200 once the database is writable and every autostart session has
/// settled (connected, showing its QR, or failed); 503 with what it waits
/// for until then.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "host", security(()),
    responses(
        (status = 200, description = "Ready to take work", body = Readiness),
        (status = 503, description = "Not ready yet, and why", body = Readiness),
    ))]
pub async fn readyz(State(state): State<ApiState>) -> (StatusCode, Json<Readiness>) {
    let readiness = state.supervisor.readiness();
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}
