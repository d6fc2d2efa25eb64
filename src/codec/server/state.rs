//! [`AppState`]: what every handler shares, cloned cheaply into each request.

use std::sync::Arc;
use std::time::Duration;

use crate::codec::server::audit::AuditLog;
use crate::codec::server::auth::Authorizer;
use crate::codec::server::budget::MemoryBudget;
use crate::codec::server::keyrings::Keyrings;
use crate::codec::server::local_only::LocalOnly;
use crate::codec::server::metrics::Metrics;

/// Shared by the handlers through axum's `State`.
#[derive(Clone)]
pub struct AppState {
    /// The keyrings, by namespace.
    pub keyrings: Arc<Keyrings>,
    /// Token checks.
    pub auth: Arc<Authorizer>,
    /// The DNS-rebinding checks of `--insecure-no-auth` mode; `None` with token checks.
    pub local_only: Option<Arc<LocalOnly>>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Where audit lines go.
    pub audit: AuditLog,
    /// Memory the requests in flight may hold together.
    pub budget: Arc<MemoryBudget>,
    /// Per-request limits.
    pub limits: RequestLimits,
}

/// What bounds one request.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The most payloads in one request.
    pub max_payloads: usize,
    /// The largest answer, in bytes.
    pub max_response_bytes: usize,
    /// From the request head to the answer being ready.
    pub request_timeout: Duration,
    /// How long an answer waits for its audit line.
    pub audit_timeout: Duration,
}

impl AppState {
    /// Whether the server takes requests: every keyring unwrapped and its document loading, and
    /// audit lines being written.
    pub fn ready(&self) -> bool {
        self.keyrings.ready() && self.audit.healthy()
    }

    /// Why not, one line per reason, without file paths or error text.
    pub fn not_ready_reasons(&self) -> Vec<String> {
        let mut reasons = self.keyrings.not_ready_reasons();
        if !self.audit.healthy() {
            reasons.push("audit trail: lines cannot be written".into());
        }
        reasons
    }
}
