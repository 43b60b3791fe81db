//! `/v1/plugins...`: every plugin's serving version and health, and
//! reloading one: bringing it to its desired version (its config entry and
//! the file at that entry's path). `422` with the load error for as long as
//! the desired version does not load (the old version keeps serving), even
//! if nothing changed since the last attempt.
//!
//! Safe rollout: attaching a candidate as a plugin's shadow (it gets every
//! live event without effects and is compared, see
//! [`crate::rollout::shadow`]), dropping it, and promoting it to serve.

use axum::Json;
use axum::extract::{Path, State};

use serde::Deserialize;

use super::ApiState;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::plugin::PluginStatus;
use crate::rollout::shadow::ShadowStatus;

/// A candidate to run as a plugin's shadow.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowRequest {
    /// The candidate's component file; relative paths are resolved against
    /// the config file's directory.
    #[schema(value_type = String, example = "plugins/dist/echo-next.wasm")]
    pub path: std::path::PathBuf,
}

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

#[utoipa::path(post, path = "/v1/plugins/{name}/shadow", operation_id = "shadow_plugin", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    request_body = ShadowRequest,
    responses(
        (status = 200, description = "The candidate shadows the plugin from every session's next event on (replacing any shadow it had)", body = ShadowStatus),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No plugin of that name", body = ErrorBody),
        (status = 409, description = "A native handler: nothing to shadow", body = ErrorBody),
        (status = 422, description = "The candidate does not load; the previous shadow (if any) stays", body = ErrorBody),
    ))]
pub async fn shadow(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<ShadowRequest>,
) -> Result<Json<ShadowStatus>, ApiError> {
    tracing::info!(plugin = %name, path = %request.path.display(), "shadow through the API");
    Ok(Json(state.supervisor.attach_shadow(&name, request.path).await?))
}

#[utoipa::path(delete, path = "/v1/plugins/{name}/shadow", operation_id = "unshadow_plugin", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    responses(
        (status = 200, description = "The shadow is dropped", body = PluginStatus),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No plugin of that name", body = ErrorBody),
        (status = 409, description = "The plugin has no shadow", body = ErrorBody),
    ))]
pub async fn unshadow(State(state): State<ApiState>, Path(name): Path<String>) -> Result<Json<PluginStatus>, ApiError> {
    if !state.supervisor.detach_shadow(&name).await? {
        return Err(crate::supervisor::RolloutError::NoShadow(name).into());
    }
    state
        .supervisor
        .plugin(&name)
        .map(Json)
        .ok_or_else(|| ApiError::unknown_plugin(&name))
}

#[utoipa::path(post, path = "/v1/plugins/{name}/promote", operation_id = "promote_plugin", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    responses(
        (status = 200, description = "The shadow's candidate serves from every session's next event on (a hot swap); the shadow is gone", body = PluginStatus),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No plugin of that name", body = ErrorBody),
        (status = 409, description = "The plugin has no shadow", body = ErrorBody),
    ))]
pub async fn promote(State(state): State<ApiState>, Path(name): Path<String>) -> Result<Json<PluginStatus>, ApiError> {
    tracing::info!(plugin = %name, "promote through the API");
    Ok(Json(state.supervisor.promote(&name).await?))
}
