//! Faults on demand: the next N requests to a path fail with an error status or hang.

use crate::state::Shared;
use crate::status::ApiError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// What a faulty request gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Effect {
    /// An error Status with this code (e.g. 500, 503, or 429), with `Retry-After` when given.
    Status {
        /// The HTTP status code.
        code: u16,
        /// Seconds for the `Retry-After` header and `details.retryAfterSeconds`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u64>,
    },
    /// No answer for this long (past the client's timeout), then a 504.
    Hang {
        /// How long to hang, in milliseconds.
        millis: u64,
    },
}

/// A fault to inject into matching requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// Requests whose path starts with this are affected.
    pub path_prefix: String,
    /// Only requests with this method, when given (e.g. `PATCH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// How many requests fail; the fault is removed after that.
    pub count: u32,
    /// What they get.
    pub effect: Effect,
}

impl Effect {
    fn error(&self) -> ApiError {
        match self {
            Effect::Status {
                code,
                retry_after_seconds,
            } => {
                let reason = match code {
                    429 => "TooManyRequests",
                    503 => "ServiceUnavailable",
                    504 => "Timeout",
                    _ => "InternalError",
                };
                let mut error = ApiError::new(*code, reason, format!("injected fault: {reason}"));
                error.details.retry_after_seconds = *retry_after_seconds;
                error
            }
            Effect::Hang { .. } => {
                ApiError::new(504, "Timeout", "injected fault: the request hung")
            }
        }
    }
}

/// Takes one use of the first fault matching the request, if any.
fn take(shared: &Shared, method: &str, path: &str) -> Option<Effect> {
    let mut faults = shared.faults();
    let index = faults.iter().position(|f| {
        path.starts_with(&f.path_prefix)
            && f.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
    })?;
    let fault = &mut faults[index];
    let effect = fault.effect.clone();
    fault.count = fault.count.saturating_sub(1);
    if fault.count == 0 {
        faults.remove(index);
    }
    Some(effect)
}

/// Middleware that applies pending faults before the request reaches its handler.
pub async fn inject(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if path.starts_with(crate::admin::PREFIX) {
        return next.run(request).await;
    }
    let Some(effect) = take(&shared, request.method().as_str(), &path) else {
        return next.run(request).await;
    };
    if let Effect::Hang { millis } = effect {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    effect.error().into_response()
}
