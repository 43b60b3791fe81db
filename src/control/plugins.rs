//! `/v1/plugins...`: every plugin's serving version and health, and
//! reloading one: bringing it to its desired version (its config entry and
//! the file at that entry's path). `422` with the load error for as long as
//! the desired version does not load (the old version keeps serving), even
//! if nothing changed since the last attempt.

use axum::Json;
use axum::extract::{Path, State};

use super::ApiState;
use super::error::{ApiError, ErrorBody};
use crate::plugin::PluginStatus;

#[utoipa::path(get, path = "/v1/plugins", operation_id = "list_plugins", tag = "plugins",
    responses(
        (status = 200, description = "Every loaded plugin", body = [PluginStatus]),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
    ))]
pub async fn list(State(state): State<ApiState>) -> Json<Vec<PluginStatus>> {
    Json(state.supervisor.plugins())
}

#[utoipa::path(post, path = "/v1/plugins/{name}/reload", operation_id = "reload_plugin", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    responses(
        (status = 200, description = "The desired version serves: it was loaded, or served already", body = PluginStatus),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No plugin of that name", body = ErrorBody),
        (status = 422, description = "The desired version (config entry, file at its path) does not load; the old version serves", body = ErrorBody),
    ))]
pub async fn reload(State(state): State<ApiState>, Path(name): Path<String>) -> Result<Json<PluginStatus>, ApiError> {
    if state.supervisor.plugin(&name).is_none() {
        return Err(ApiError::unknown_plugin(&name));
    }
    tracing::info!(plugin = %name, "reload through the API");
    match state.supervisor.reload_plugin(&name).await {
        Ok(_) => state
            .supervisor
            .plugin(&name)
            .map(Json)
            .ok_or_else(|| ApiError::unknown_plugin(&name)),
        Err(error) => Err(ApiError::invalid(format!("{error:#}"))),
    }
}
