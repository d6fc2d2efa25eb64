//! [`AppState`]: what every handler shares, cloned cheaply into each request.

use std::sync::Arc;

use crate::codec::server::audit::AuditLog;
use crate::codec::server::auth::Authorizer;
use crate::codec::server::keyrings::Keyrings;
use crate::codec::server::metrics::Metrics;

/// Shared by the handlers through axum's `State`.
#[derive(Clone)]
pub struct AppState {
    /// The keyrings, by namespace.
    pub keyrings: Arc<Keyrings>,
    /// Token checks.
    pub auth: Arc<Authorizer>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Where audit lines go.
    pub audit: AuditLog,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}
