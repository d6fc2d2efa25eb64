//! [`ApiError`]: every way an `/encode` or `/decode` request can fail, with the HTTP status and
//! message the caller sees. Messages say what was wrong and never echo payload content.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::codec::{CodecError, FormatError};

/// Why a codec request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON of the protojson `Payloads` shape, or a value is not base64. The
    /// text says where and what shape was expected, never what was found.
    #[error("request body is not a protojson Payloads object: {0}")]
    BadBody(String),
    /// The namespace in the path or `X-Namespace` is missing where required, malformed, or the
    /// two disagree.
    #[error("{0}")]
    BadNamespace(String),
    /// The body is larger than the configured limit.
    #[error("request body is larger than the {limit}-byte limit (max-body-bytes)")]
    TooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The body holds more payloads than one request may.
    #[error(
        "request holds more than {limit} payloads (max-payloads); send them in several requests"
    )]
    TooManyPayloads {
        /// The configured limit.
        limit: usize,
    },
    /// The answer would be larger than the configured limit.
    #[error(
        "the answer would be larger than the {limit}-byte limit (max-response-bytes); send fewer or smaller payloads per request"
    )]
    AnswerTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The body did not arrive within the request timeout.
    #[error("the request body did not arrive within {seconds} s (request-timeout-seconds)")]
    BodyTimeout {
        /// The configured timeout.
        seconds: u64,
    },
    /// The requests in flight hold the whole memory budget and this one waited too long.
    #[error("the server is busy with other requests; try again shortly")]
    Busy,
    /// Without token checks, a codec request must say it is JSON (so a browser cannot send it
    /// cross-origin without a CORS preflight).
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// A codec path with a method other than POST, or an operations path with one other than GET.
    #[error("method not allowed here; use {allowed}")]
    MethodNotAllowed {
        /// The one method the path takes.
        allowed: &'static str,
    },
    /// The audit line of a 2xx answer could not be written, so the answer is withheld.
    #[error("the answer is withheld because its audit line cannot be written; try again later")]
    AuditUnavailable,
    /// A payload could not be decrypted; the whole request fails, so no partial answer leaks.
    #[error("{0}")]
    Undecryptable(String),
    /// No bearer token, or one that does not verify.
    #[error("{0}")]
    Unauthenticated(String),
    /// A valid token whose permissions do not cover this namespace and operation.
    #[error("{0}")]
    Forbidden(String),
    /// The keyring for this namespace is not unwrapped yet, or the primary key is exhausted.
    #[error("{0}")]
    Unavailable(String),
    /// The codec failed for a reason that is not the caller's (no randomness from the OS).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadBody(_) | Self::BadNamespace(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge { .. } | Self::TooManyPayloads { .. } | Self::AnswerTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Busy | Self::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Undecryptable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Maps a codec failure: a payload of a namespace the caller may not read is refused (403),
    /// anything else wrong with a payload is the caller's (422), a key that may not seal (stale,
    /// exhausted) is the operator's (503), missing randomness is ours (500).
    pub fn from_codec(error: CodecError) -> Self {
        match error {
            CodecError::ForeignNamespace { .. } => {
                Self::Forbidden(format!("cannot decode payloads: {error}"))
            }
            CodecError::NoNamespace => Self::BadNamespace(format!(
                "{error}: send X-Namespace or use /{{namespace}}/encode"
            )),
            CodecError::Seal(e) => Self::Unavailable(e.to_string()),
            CodecError::Randomness => Self::Internal(error.to_string()),
            CodecError::Format(FormatError::TooLarge) => Self::BadBody(error.to_string()),
            other => Self::Undecryptable(format!("cannot decode payloads: {other}")),
        }
    }
}

/// A JSON body `{"code": <status>, "message": "..."}` so the Web UI, the CLI and scripts can all
/// show the reason.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let allow = match self {
            Self::MethodNotAllowed { allowed } => Some(allowed),
            _ => None,
        };
        let body = serde_json::json!({ "code": status.as_u16(), "message": self.to_string() });
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(allowed) = allow {
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static(allowed));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::KeyId;

    #[test]
    fn authentication_failure_is_422_and_names_the_key() {
        let error = ApiError::from_codec(CodecError::Format(FormatError::AuthenticationFailed {
            key_id: KeyId::new("k-2024").unwrap(),
        }));
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(error.to_string().contains("`k-2024`"), "{error}");
    }

    #[test]
    fn unauthorized_answers_carry_a_bearer_challenge() {
        let response = ApiError::Unauthenticated("no token".into()).into_response();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
