//! The audit trail: one JSON line per `/encode` or `/decode` request on stdout, written by a
//! middleware around the codec routes, so every answer (success, refusal or error) is recorded
//! exactly once. It says who asked, for which namespace, what and with which key ids, never
//! payload content or tokens. The schema is documented in docs/codec-server.md.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use crate::codec::server::listener::ClientAddr;
use crate::codec::server::state::AppState;

/// The two codec operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Plaintext payloads in, encrypted payloads out.
    Encode,
    /// Encrypted payloads in, plaintext payloads out.
    Decode,
}

impl Operation {
    /// The operation's name in audit lines and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Encode => "encode",
            Self::Decode => "decode",
        }
    }

    /// The operation a request path ends in, if it is a codec path.
    pub fn from_path(path: &str) -> Option<Self> {
        if path.ends_with("/encode") {
            Some(Self::Encode)
        } else if path.ends_with("/decode") {
            Some(Self::Decode)
        } else {
            None
        }
    }
}

/// How a request ended, from the point of view of access control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Answered with the converted payloads.
    Ok,
    /// Refused for lack of a valid token or permission (401, 403).
    Denied,
    /// Refused or failed for any other reason.
    Error,
}

impl Outcome {
    /// The outcome a response status stands for.
    pub fn of(status: StatusCode) -> Self {
        if status.is_success() {
            Self::Ok
        } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            Self::Denied
        } else {
            Self::Error
        }
    }

    /// The outcome's name in audit lines and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Denied => "denied",
            Self::Error => "error",
        }
    }
}

/// What a handler learned about a request, handed to the audit middleware in the response's
/// extensions.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The token's subject, once verified.
    pub subject: Option<String>,
    /// The namespace, once resolved.
    pub namespace: Option<String>,
    /// How many payloads the request carried, once parsed.
    pub payloads: usize,
    /// The data key ids used or named, in first-seen order.
    pub key_ids: Vec<String>,
    /// Bytes of the answer's body.
    pub response_bytes: usize,
    /// The refusal or failure message, if any (never payload content).
    pub error: Option<String>,
}

impl Facts {
    /// Records a key id once.
    pub fn add_key_id(&mut self, id: &str) {
        if !self.key_ids.iter().any(|k| k == id) {
            self.key_ids.push(id.to_string());
        }
    }
}

/// One audit line, as serialized.
#[derive(Serialize)]
struct Line<'a> {
    time: String,
    insecure_no_auth: bool,
    subject: Option<&'a str>,
    namespace: Option<&'a str>,
    operation: &'a str,
    payloads: usize,
    key_ids: &'a [String],
    outcome: &'a str,
    status: u16,
    latency_ms: f64,
    client: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// Where audit lines go: stdout in production, any writer in embedding code.
#[derive(Clone)]
pub struct AuditLog {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    insecure_no_auth: bool,
}

impl AuditLog {
    /// Audit lines to stdout. `insecure_no_auth` marks every line.
    pub fn stdout(insecure_no_auth: bool) -> Self {
        Self::to_writer(Box::new(std::io::stdout()), insecure_no_auth)
    }

    /// Audit lines to `out`, one `write_all` per line.
    pub fn to_writer(out: Box<dyn Write + Send>, insecure_no_auth: bool) -> Self {
        Self {
            out: Arc::new(Mutex::new(out)),
            insecure_no_auth,
        }
    }

    fn write(&self, line: &Line<'_>) {
        let Ok(mut bytes) = serde_json::to_vec(line) else {
            return;
        };
        bytes.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = out.write_all(&bytes).and_then(|()| out.flush()) {
            tracing::error!(error = %e, "cannot write audit line");
        }
    }
}

/// The middleware around the codec routes: times the request, then writes its audit line and
/// counts it in the metrics.
pub async fn record(
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let operation = Operation::from_path(request.uri().path());
    let request_bytes = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut response = next.run(request).await;
    let Some(operation) = operation else {
        return response;
    };
    let facts = response
        .extensions_mut()
        .remove::<Facts>()
        .unwrap_or_default();
    let status = response.status();
    let outcome = Outcome::of(status);
    let elapsed = started.elapsed();
    state.metrics.observe(
        operation,
        outcome,
        status,
        facts.payloads,
        request_bytes,
        facts.response_bytes,
        elapsed,
    );
    state.audit.write(&Line {
        time: now_rfc3339(),
        insecure_no_auth: state.audit.insecure_no_auth,
        subject: facts.subject.as_deref(),
        namespace: facts.namespace.as_deref(),
        operation: operation.as_str(),
        payloads: facts.payloads,
        key_ids: &facts.key_ids,
        outcome: outcome.as_str(),
        status: status.as_u16(),
        latency_ms: (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0,
        client: client.to_string(),
        error: facts.error.as_deref(),
    });
    response
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_follows_status() {
        assert_eq!(Outcome::of(StatusCode::OK), Outcome::Ok);
        assert_eq!(Outcome::of(StatusCode::FORBIDDEN), Outcome::Denied);
        assert_eq!(Outcome::of(StatusCode::UNAUTHORIZED), Outcome::Denied);
        assert_eq!(
            Outcome::of(StatusCode::UNPROCESSABLE_ENTITY),
            Outcome::Error
        );
    }

    #[test]
    fn operation_is_the_last_path_segment() {
        assert_eq!(
            Operation::from_path("/orders/decode"),
            Some(Operation::Decode)
        );
        assert_eq!(Operation::from_path("/encode"), Some(Operation::Encode));
        assert_eq!(Operation::from_path("/metrics"), None);
    }
}
