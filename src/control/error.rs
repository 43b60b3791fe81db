//! The control API's one error shape:
//! `{"error": {"code": "...", "message": "..."}}` with the status codes of
//! `docs/api.md`, and [`ApiJson`], a JSON body extractor whose rejections
//! (malformed JSON, a missing field) come out in that shape as `400`.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::supervisor::{CreateError, LifecycleError, RolloutError, SendTextError, SimActionError, UnknownSession};

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// `bad_request`, `unauthorized`, `unknown_session`, `unknown_plugin`,
    /// `not_found`, `conflict`, `invalid` or `internal`.
    code: String,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong token (Authorization: Bearer <token>)",
        )
    }

    pub fn unknown_plugin(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown_plugin",
            format!("unknown plugin {name:?}"),
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    /// Anything else: logged here, reported as `500`.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        let message = format!("{error:#}");
        tracing::error!(error = %message, "control API request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<UnknownSession> for ApiError {
    fn from(error: UnknownSession) -> Self {
        Self::new(StatusCode::NOT_FOUND, "unknown_session", error.to_string())
    }
}

impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> Self {
        match error {
            LifecycleError::Unknown(error) => error.into(),
            LifecycleError::Busy(_) | LifecycleError::WrongChannel(_) | LifecycleError::Elsewhere { .. } => {
                Self::conflict(error.to_string())
            }
            LifecycleError::Failed(error) => Self::internal(error),
        }
    }
}

impl From<RolloutError> for ApiError {
    fn from(error: RolloutError) -> Self {
        match error {
            RolloutError::Unknown(name) => Self::unknown_plugin(&name),
            RolloutError::Native(_) | RolloutError::NoShadow(_) => Self::conflict(error.to_string()),
            RolloutError::Load(_) => Self::invalid(error.to_string()),
        }
    }
}

impl From<CreateError> for ApiError {
    fn from(error: CreateError) -> Self {
        match error {
            CreateError::BadName(_) => Self::bad_request(error.to_string()),
            CreateError::Invalid(_) => Self::invalid(error.to_string()),
            CreateError::Exists(_) => Self::conflict(error.to_string()),
            CreateError::Failed(error) => Self::internal(error),
        }
    }
}

impl From<SendTextError> for ApiError {
    fn from(error: SendTextError) -> Self {
        match error {
            SendTextError::Unknown(error) => error.into(),
            SendTextError::NotConnected(_) => Self::conflict(error.to_string()),
            SendTextError::TooLong { .. } => Self::invalid(error.to_string()),
            SendTextError::Failed(_) => Self::internal(error),
        }
    }
}

impl From<SimActionError> for ApiError {
    fn from(error: SimActionError) -> Self {
        match error {
            SimActionError::Unknown(error) => error.into(),
            SimActionError::NotSim(_) | SimActionError::NotConnected(_) => Self::conflict(error.to_string()),
            SimActionError::Failed(_) => Self::internal(error),
        }
    }
}

/// A JSON request body; a body that is not JSON, or not the expected
/// shape, is a `400 bad_request`, one over the size limit a `413
/// payload_too_large`.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                rejection.body_text(),
            )),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// Answers routes nobody serves.
pub async fn no_route() -> ApiError {
    ApiError::not_found("no such route")
}
