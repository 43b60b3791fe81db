//! `GET /metrics`: the host's metrics in the text exposition format
//! (OpenMetrics 1.0, which Prometheus scrapes), gauges read at scrape time.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use super::ApiState;
use super::error::ErrorBody;

/// The exposition's content type.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "host",
    responses(
        (status = 200, description = "Prometheus / OpenMetrics text", content_type = "application/openmetrics-text", body = String),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
    ))]
pub async fn metrics(State(state): State<ApiState>) -> impl IntoResponse {
    ([(CONTENT_TYPE, OPENMETRICS)], state.supervisor.encode_metrics())
}
