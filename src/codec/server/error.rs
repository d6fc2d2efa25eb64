//! [`ApiError`]: every way an `/encode` or `/decode` request can fail, with the HTTP status and
//! message the caller sees. Messages say what was wrong and never echo payload content.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::codec::{CodecError, FormatError};

/// Why a codec request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON of the protojson `Payloads` shape, or a value is not base64.
    #[error("request body is not a protojson Payloads object: {0}")]
    BadBody(String),
    /// The namespace in the path or `X-Namespace` is missing where required, malformed, or the
    /// two disagree.
    #[error("{0}")]
    BadNamespace(String),
    /// The body is larger than the configured limit.
    #[error("request body is larger than the {limit}-byte limit (max_body_bytes)")]
    TooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
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
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Undecryptable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Maps a codec failure: anything wrong with a payload is the caller's (422), an exhausted
    /// key is the operator's (503), missing randomness is ours (500).
    pub fn from_codec(error: CodecError) -> Self {
        match error {
            CodecError::SealLimit(e) => Self::Unavailable(e.to_string()),
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
