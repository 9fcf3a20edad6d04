//! The one table from errors to Twilio's error JSON: `{code, message, more_info, status}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use heck::ToUpperCamelCase;
use serde::Serialize;
use switchyard_engine::{Error as EngineError, StoreError};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or wrong credentials.
    #[error("Authenticate")]
    Unauthorized,
    /// The path names nothing, or something of another account.
    #[error("The requested resource {0} was not found")]
    NotFound(String),
    /// An access token was missing or refused (Twilio's 20101, or 20104 when it expired).
    #[error("{message}")]
    AccessToken {
        /// Twilio's error code.
        code: u32,
        /// Why.
        message: String,
    },
    /// Authenticated, but refused (a write from another site's page).
    #[error("{0}")]
    Forbidden(String),
    /// The path exists but not for this method.
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// A parameter is missing, malformed or breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// A parameter breaks a rule Twilio gives its own error code (a 400).
    #[error("{message}")]
    InvalidWithCode {
        /// Twilio's error code, e.g. 40134 for a bad `DequeueStatusCallbackEvent`.
        code: u32,
        /// What was wrong, naming the parameter.
        message: String,
    },
    /// The request body stalled longer than the idle timeout.
    #[error("The request body did not arrive in time")]
    BodyTimeout,
    /// An `If-Match` precondition failed.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The handler itself failed (it panicked); details are in the log.
    #[error("Internal server error")]
    Internal,
    /// The engine failed; `path` is the request path for not-found messages.
    #[error("{source}")]
    Engine {
        /// The request path without `/v1`.
        path: String,
        /// The engine's error.
        source: EngineError,
    },
}

#[derive(Serialize)]
struct Body<'a> {
    code: u32,
    message: &'a str,
    more_info: String,
    status: u16,
}

impl ApiError {
    /// Wraps an engine error raised while serving `path`.
    pub fn engine(path: &str, source: EngineError) -> Self {
        ApiError::Engine {
            path: path.strip_prefix("/v1").unwrap_or(path).to_owned(),
            source,
        }
    }

    /// HTTP status and Twilio error code, and the message shown to the client.
    fn parts(&self) -> (StatusCode, u32, String) {
        use ApiError as A;
        use EngineError as E;
        match self {
            A::Unauthorized => (StatusCode::UNAUTHORIZED, 20003, self.to_string()),
            A::NotFound(_) => (StatusCode::NOT_FOUND, 20404, self.to_string()),
            A::Internal => (StatusCode::INTERNAL_SERVER_ERROR, 20500, self.to_string()),
            A::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, 20004, self.to_string()),
            A::Forbidden(m) => (StatusCode::FORBIDDEN, 20403, m.clone()),
            A::AccessToken { code, message } => (StatusCode::UNAUTHORIZED, *code, message.clone()),
            A::Invalid(m) => (StatusCode::BAD_REQUEST, 20001, m.clone()),
            A::InvalidWithCode { code, message } => {
                (StatusCode::BAD_REQUEST, *code, message.clone())
            }
            A::PreconditionFailed(m) => (StatusCode::PRECONDITION_FAILED, 20412, m.clone()),
            A::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, 20001, self.to_string()),
            A::Engine { path, source } => match source {
                E::NotFound { .. } => (
                    StatusCode::NOT_FOUND,
                    20404,
                    format!("The requested resource {path} was not found"),
                ),
                E::InvalidField { field, problem } => (
                    StatusCode::BAD_REQUEST,
                    20001,
                    format!("{} {problem}", twilio_parameter(field)),
                ),
                E::MissingField { field } => (
                    StatusCode::BAD_REQUEST,
                    20001,
                    format!(
                        "Missing required parameter {} in the post body",
                        twilio_parameter(field)
                    ),
                ),
                E::Invalid(m) => (StatusCode::BAD_REQUEST, 20001, m.clone()),
                E::VersionMismatch {
                    kind,
                    sid,
                    expected,
                    ..
                } => (
                    StatusCode::PRECONDITION_FAILED,
                    20412,
                    format!(
                        "If-Match \"{expected}\" does not match the current version of {kind} {sid}"
                    ),
                ),
                E::ConcurrentChange(m) => (StatusCode::PRECONDITION_FAILED, 20412, m.clone()),
                E::Gone(m) => (StatusCode::GONE, 20410, m.clone()),
                E::Store(StoreError::Busy) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    20503,
                    "The service is busy; retry the request".to_owned(),
                ),
                // Between nodes: the request is sent on to the new owner (`forward.rs`) while
                // it can be; what is left answers 503, which a client may retry.
                E::NotOwner { .. } | E::Unavailable(_) | E::Store(StoreError::Fenced(_)) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    20503,
                    "The workspace is changing hands between nodes; retry the request".to_owned(),
                ),
                E::Store(StoreError::Conflict(_)) => (
                    StatusCode::BAD_REQUEST,
                    20001,
                    "The request conflicts with the current state of the resource".to_owned(),
                ),
                _ => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    20500,
                    "Internal server error".to_owned(),
                ),
            },
        }
    }
}

/// Twilio's name for an engine request field: the engine's `snake_case` field names are
/// Twilio's `PascalCase` parameter names (`virtual_start_time` is `VirtualStartTime`).
fn twilio_parameter(field: &str) -> String {
    field.to_upper_camel_case()
}

impl From<switchyard_core::sid::SidError> for ApiError {
    fn from(e: switchyard_core::sid::SidError) -> Self {
        ApiError::Invalid(e.to_string())
    }
}

/// Marks a response that failed because its workspace changed hands between nodes before
/// anything was decided: nothing was changed, so it is sent on to the new owner
/// (`forward.rs`). A write fenced off after it was decided is not: part of the operation may
/// have committed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChangingHands;

impl ApiError {
    fn changing_hands(&self) -> bool {
        use EngineError as E;
        matches!(
            self,
            ApiError::Engine {
                source: E::NotOwner { .. } | E::Unavailable(_),
                ..
            }
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        if status.is_server_error() {
            // The cause is logged here, once; the client sees only the generic message.
            let mut chain = String::new();
            let mut source: Option<&dyn std::error::Error> = Some(&self);
            while let Some(e) = source {
                chain.push_str(": ");
                chain.push_str(&e.to_string());
                source = e.source();
            }
            tracing::error!(code, "request failed{chain}");
        }
        let body = Body {
            code,
            message: &message,
            more_info: format!("https://www.twilio.com/docs/errors/{code}"),
            status: status.as_u16(),
        };
        let mut response = (status, Json(body)).into_response();
        if self.changing_hands() {
            response.extensions_mut().insert(ChangingHands);
        }
        if matches!(self, ApiError::Unauthorized) {
            // So that a browser asks for the account SID and auth token.
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"Switchyard\""),
            );
        }
        response
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// Adds the request path to engine errors.
pub(crate) trait ResultExt<T> {
    fn at(self, path: &str) -> ApiResult<T>;
}

impl<T> ResultExt<T> for Result<T, EngineError> {
    fn at(self, path: &str) -> ApiResult<T> {
        self.map_err(|e| ApiError::engine(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_field_names_become_twilio_parameter_names() {
        for (field, parameter) in [
            ("virtual_start_time", "VirtualStartTime"),
            ("task_queue_sid", "TaskQueueSid"),
            ("evaluate_worker_attributes", "EvaluateWorkerAttributes"),
            (
                "fallback_assignment_callback_url",
                "FallbackAssignmentCallbackUrl",
            ),
            ("timeout", "Timeout"),
        ] {
            assert_eq!(twilio_parameter(field), parameter);
        }
    }

    #[test]
    fn field_errors_read_in_twilio_vocabulary() {
        let message = |source| ApiError::engine("/v1/Workspaces", source).parts().2;
        assert_eq!(
            message(EngineError::InvalidField {
                field: "priority",
                problem: "must be between 0 and 2147483647, got -1".into(),
            }),
            "Priority must be between 0 and 2147483647, got -1"
        );
        assert_eq!(
            message(EngineError::MissingField {
                field: "friendly_name"
            }),
            "Missing required parameter FriendlyName in the post body"
        );
    }
}
