//! Object names and the fixed facts of each Temporal service (ports, config key), so every
//! renderer and the apply order agree on them.

use crate::deploy::manifest::Step;
use crate::deploy::spec::{ServiceSpec, TemporalClusterSpec};

/// A Temporal server role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalService {
    /// Owns the shards; rolled out first.
    History,
    /// Task queues.
    Matching,
    /// The public API.
    Frontend,
    /// The system worker's API, behind membership.
    InternalFrontend,
    /// The system worker.
    Worker,
}

impl TemporalService {
    /// The component label and object name suffix.
    pub fn component(self) -> &'static str {
        match self {
            TemporalService::History => "history",
            TemporalService::Matching => "matching",
            TemporalService::Frontend => "frontend",
            TemporalService::InternalFrontend => "internal-frontend",
            TemporalService::Worker => "worker",
        }
    }

    /// The key under `services:` in the server configuration, and `--service` value.
    pub fn config_name(self) -> &'static str {
        self.component()
    }

    /// The gRPC port (Temporal's defaults).
    pub fn grpc_port(self) -> i32 {
        match self {
            TemporalService::Frontend => 7233,
            TemporalService::History => 7234,
            TemporalService::Matching => 7235,
            TemporalService::InternalFrontend => 7236,
            TemporalService::Worker => 7239,
        }
    }

    /// The membership (ringpop) port.
    pub fn membership_port(self) -> i32 {
        self.grpc_port() - 300
    }

    /// The HTTP API port, on the frontends.
    pub fn http_port(self) -> Option<i32> {
        match self {
            TemporalService::Frontend => Some(7243),
            TemporalService::InternalFrontend => Some(7246),
            _ => None,
        }
    }

    /// When it rolls out.
    pub fn step(self) -> Step {
        match self {
            TemporalService::History => Step::History,
            TemporalService::Matching => Step::Matching,
            TemporalService::Frontend | TemporalService::InternalFrontend => Step::Frontend,
            TemporalService::Worker => Step::Worker,
        }
    }
}

/// The services a spec runs, in rollout order, with their settings.
pub fn services(spec: &TemporalClusterSpec) -> Vec<TemporalService> {
    services_with_specs(spec)
        .into_iter()
        .map(|(s, _)| s)
        .collect()
}

/// The services a spec runs, in rollout order, with their settings.
pub fn services_with_specs(spec: &TemporalClusterSpec) -> Vec<(TemporalService, ServiceSpec)> {
    let s = &spec.services;
    let mut out = vec![
        (TemporalService::History, s.history.clone()),
        (TemporalService::Matching, s.matching.clone()),
        (TemporalService::Frontend, s.frontend.clone()),
    ];
    if let Some(internal) = internal_frontend(spec) {
        out.push((TemporalService::InternalFrontend, internal));
    }
    out.push((TemporalService::Worker, s.worker.clone()));
    out
}

/// The internal frontend's settings, when it runs: when set, or when authorization is on (the
/// system worker cannot present a user's token), with the frontend's settings by default.
pub fn internal_frontend(spec: &TemporalClusterSpec) -> Option<ServiceSpec> {
    let s = &spec.services;
    s.internal_frontend
        .clone()
        .or_else(|| spec.authorization.as_ref().map(|_| s.frontend.clone()))
}

/// `<cluster>-<suffix>`.
pub fn object(spec: &TemporalClusterSpec, suffix: &str) -> String {
    format!("{}-{suffix}", spec.name)
}

/// The in-cluster DNS name of a service's Service.
pub fn service_host(spec: &TemporalClusterSpec, service: TemporalService) -> String {
    format!(
        "{}.{}.svc",
        object(spec, service.component()),
        spec.namespace
    )
}

/// The name internode certificates are verified against.
pub fn internode_server_name(spec: &TemporalClusterSpec) -> String {
    format!("{}.{}.svc", object(spec, "internode"), spec.namespace)
}
