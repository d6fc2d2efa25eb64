//! Checks a spec before anything is rendered, so a bad input is reported with the attribute
//! that caused it and what to do, instead of failing half way through an apply.

use super::spec::{
    CodecServerSpec, Resources, ServiceSpec, SqlStoreSpec, TemporalClusterSpec, TlsSource,
};
use super::version::TemporalVersion;
use crate::sizing::MAX_HISTORY_SHARDS;
use std::fmt;

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field, as a dotted path of spec attribute names (`persistence.default.port`).
    pub field: String,
    /// What is wrong and what to do.
    pub reason: String,
}

/// Every problem found in a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    /// The problems, in field order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.reason))
            .collect();
        write!(f, "invalid spec: {}", lines.join("; "))
    }
}

#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn fail(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.problems.push(Problem {
            field: field.into(),
            reason: reason.into(),
        });
    }

    fn check(&mut self, ok: bool, field: &str, reason: &str) {
        if !ok {
            self.fail(field, reason);
        }
    }

    fn dns_label(&mut self, field: &str, value: &str, max: usize) {
        let ok = !value.is_empty()
            && value.len() <= max
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !value.starts_with('-')
            && !value.ends_with('-');
        if !ok {
            self.fail(
                field,
                format!(
                    "`{value}` must be 1 to {max} lower-case letters, digits or '-', starting and ending with a letter or digit"
                ),
            );
        }
    }

    fn quantity(&mut self, field: &str, value: &str) {
        let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let suffix = &value[digits.len()..];
        let ok = !digits.is_empty()
            && digits.parse::<f64>().is_ok_and(|n| n > 0.0)
            && ["", "m", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti"].contains(&suffix);
        if !ok {
            self.fail(
                field,
                format!("`{value}` is not a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi"),
            );
        }
    }

    fn resources(&mut self, field: &str, r: &Resources) {
        self.quantity(&format!("{field}.cpu_request"), &r.cpu_request);
        self.quantity(&format!("{field}.memory_request"), &r.memory_request);
        self.quantity(&format!("{field}.cpu_limit"), &r.cpu_limit);
        self.quantity(&format!("{field}.memory_limit"), &r.memory_limit);
    }

    fn service(&mut self, field: &str, s: &ServiceSpec, minimum: i32) {
        self.check(
            (minimum..=100).contains(&s.replicas),
            &format!("{field}.replicas"),
            &format!("must be between {minimum} and 100"),
        );
        self.resources(&format!("{field}.resources"), &s.resources);
        self.check(
            matches!(
                s.spread.when_unsatisfiable.as_str(),
                "DoNotSchedule" | "ScheduleAnyway"
            ),
            &format!("{field}.spread.when_unsatisfiable"),
            "must be DoNotSchedule or ScheduleAnyway",
        );
        self.check(
            s.spread.max_skew >= 1,
            &format!("{field}.spread.max_skew"),
            "must be at least 1",
        );
        self.check(
            s.disruption_budget.max_unavailable >= 1,
            &format!("{field}.disruption_budget.max_unavailable"),
            "must be at least 1, or rollouts and node drains would block forever",
        );
    }

    fn url(&mut self, field: &str, value: &str, https_only: bool) {
        let ok = value.starts_with("https://") || (!https_only && value.starts_with("http://"));
        if !ok {
            let wanted = if https_only {
                "https://"
            } else {
                "http:// or https://"
            };
            self.fail(
                field,
                format!("`{value}` must be a URL starting with {wanted}"),
            );
        }
    }

    fn store(&mut self, field: &str, s: &SqlStoreSpec) {
        self.check(!s.host.is_empty(), &format!("{field}.host"), "is required");
        self.check(s.port != 0, &format!("{field}.port"), "must not be 0");
        self.check(
            !s.database.is_empty(),
            &format!("{field}.database"),
            "is required",
        );
        self.check(!s.user.is_empty(), &format!("{field}.user"), "is required");
        self.dns_label(
            &format!("{field}.password_secret.name"),
            &s.password_secret.name,
            253,
        );
        self.check(
            !s.password_secret.key.is_empty(),
            &format!("{field}.password_secret.key"),
            "is required",
        );
        self.check(
            s.max_conns >= 1 && s.max_idle_conns <= s.max_conns,
            &format!("{field}.max_idle_conns"),
            "max_conns must be at least 1 and max_idle_conns at most max_conns",
        );
        self.check(
            matches!(s.tls.mode.as_str(), "verify-full" | "verify-ca"),
            &format!("{field}.tls.mode"),
            "must be verify-full (recommended) or verify-ca",
        );
        if let Some(ca) = &s.tls.ca {
            self.check(
                matches!(ca.kind.as_str(), "Secret" | "ConfigMap"),
                &format!("{field}.tls.ca.kind"),
                "must be Secret or ConfigMap",
            );
        }
    }

    fn tls(&mut self, field: &str, source: &TlsSource) {
        match source {
            TlsSource::ExistingSecret { secret_name } => {
                self.dns_label(&format!("{field}.secret_name"), secret_name, 253);
            }
            TlsSource::CertManager {
                issuer_name,
                issuer_kind,
                ..
            } => {
                self.check(
                    !issuer_name.is_empty(),
                    &format!("{field}.issuer_name"),
                    "is required",
                );
                self.check(
                    matches!(issuer_kind.as_str(), "Issuer" | "ClusterIssuer"),
                    &format!("{field}.issuer_kind"),
                    "must be Issuer or ClusterIssuer",
                );
            }
        }
    }

    fn finish(self) -> Result<(), SpecError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(SpecError {
                problems: self.problems,
            })
        }
    }
}

/// Checks a Temporal cluster spec.
pub fn temporal_cluster(spec: &TemporalClusterSpec) -> Result<(), SpecError> {
    let mut c = Checker::default();
    c.dns_label("name", &spec.name, 30);
    c.dns_label("namespace", &spec.namespace, 63);
    if let Err(reason) = spec.version.parse::<TemporalVersion>() {
        c.fail("version", reason);
    }
    c.check(
        (1..=MAX_HISTORY_SHARDS).contains(&spec.history_shard_count),
        "history_shard_count",
        &format!(
            "must be between 1 and {MAX_HISTORY_SHARDS}; `engram shard-calc` recommends a value"
        ),
    );
    c.check(
        matches!(
            spec.images.pull_policy.as_str(),
            "Always" | "IfNotPresent" | "Never"
        ),
        "images.pull_policy",
        "must be Always, IfNotPresent or Never",
    );
    c.service("services.frontend", &spec.services.frontend, 1);
    c.service("services.history", &spec.services.history, 1);
    c.service("services.matching", &spec.services.matching, 1);
    c.service("services.worker", &spec.services.worker, 1);
    if let Some(internal) = &spec.services.internal_frontend {
        c.service("services.internal_frontend", internal, 1);
    }
    let ui = &spec.web_ui;
    c.check(
        (0..=100).contains(&ui.replicas),
        "web_ui.replicas",
        "must be between 0 and 100",
    );
    c.resources("web_ui.resources", &ui.resources);
    if let Some(endpoint) = &ui.codec_endpoint {
        c.url(
            "web_ui.codec_endpoint",
            endpoint,
            ui.codec_pass_access_token,
        );
    }
    if ui.codec_pass_access_token && ui.codec_endpoint.is_none() {
        c.fail(
            "web_ui.codec_pass_access_token",
            "needs web_ui.codec_endpoint (an https:// URL: the UI sends tokens over https only)",
        );
    }
    if let Some(oidc) = &ui.oidc {
        c.url("web_ui.oidc.provider_url", &oidc.provider_url, true);
        c.url("web_ui.oidc.callback_url", &oidc.callback_url, false);
        c.check(
            !oidc.client_id.is_empty(),
            "web_ui.oidc.client_id",
            "is required",
        );
    }
    c.store("persistence.default", &spec.persistence.default);
    c.store("persistence.visibility", &spec.persistence.visibility);
    if let Some(auth) = &spec.authorization {
        c.check(
            !auth.jwt_key_source_uris.is_empty(),
            "authorization.jwt_key_source_uris",
            "needs at least one JWKS URL",
        );
        for (i, uri) in auth.jwt_key_source_uris.iter().enumerate() {
            c.url(
                &format!("authorization.jwt_key_source_uris[{i}]"),
                uri,
                true,
            );
        }
        c.check(
            !auth.permissions_claim_name.is_empty(),
            "authorization.permissions_claim_name",
            "is required",
        );
    }
    if let Some(source) = &spec.tls.internode {
        c.tls("tls.internode", source);
    }
    if let Some(source) = &spec.tls.frontend {
        c.tls("tls.frontend", source);
    }
    let m = &spec.metrics;
    for (field, value) in [
        (
            "metrics.shard_requests_per_second_capacity",
            m.shard_requests_per_second_capacity,
        ),
        (
            "metrics.persistence_latency_budget_seconds",
            m.persistence_latency_budget_seconds,
        ),
        (
            "metrics.frontend_latency_budget_seconds",
            m.frontend_latency_budget_seconds,
        ),
    ] {
        c.check(
            value.is_finite() && value > 0.0,
            field,
            "must be a positive number",
        );
    }
    c.dns_label(
        "network.monitoring_namespace",
        &spec.network.monitoring_namespace,
        63,
    );
    c.finish()
}

/// Environment names the codec server must not receive from a spec (secrets belong in Secrets).
const SECRET_ENV_HINTS: [&str; 4] = ["TOKEN", "SECRET", "PASSWORD", "PRIVATE"];

/// Checks a codec server spec.
pub fn codec_server(spec: &CodecServerSpec) -> Result<(), SpecError> {
    let mut c = Checker::default();
    c.dns_label("name", &spec.name, 40);
    c.dns_label("namespace", &spec.namespace, 63);
    c.dns_label("temporal_cluster", &spec.temporal_cluster, 30);
    c.check(!spec.image.is_empty(), "image", "is required");
    c.check(
        (1..=100).contains(&spec.replicas),
        "replicas",
        "must be between 1 and 100",
    );
    c.resources("resources", &spec.resources);
    if serde_json::from_str::<serde_json::Value>(&spec.keyring).is_err() {
        c.fail(
            "keyring",
            "must be the keyring document (JSON) of an engram_cmk_binding",
        );
    }
    c.check(
        matches!(
            spec.kms.provider.as_str(),
            "aws" | "vault" | "azure" | "gcp" | "local"
        ),
        "kms.provider",
        "must be aws, vault, azure, gcp or local (local is for development only)",
    );
    for name in spec.kms.env.keys() {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        c.check(
            valid,
            &format!("kms.env.{name}"),
            "must be an environment variable name (A-Z, 0-9, _)",
        );
        if SECRET_ENV_HINTS.iter().any(|hint| name.contains(hint)) {
            c.fail(
                format!("kms.env.{name}"),
                "looks like a secret; use workload identity or Vault Kubernetes auth instead of passing credentials",
            );
        }
    }
    for (i, origin) in spec.cors_origins.iter().enumerate() {
        let rest = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let exact = rest.is_some_and(|r| !r.is_empty() && !r.contains('/'));
        c.check(
            exact,
            &format!("cors_origins[{i}]"),
            "must be an exact origin such as https://temporal.example.com (no path, no wildcard)",
        );
    }
    if let Some(oidc) = &spec.oidc {
        c.url("oidc.issuer", &oidc.issuer, true);
        c.url("oidc.jwks_url", &oidc.jwks_url, true);
        c.check(
            !oidc.audiences.is_empty(),
            "oidc.audiences",
            "needs at least one audience",
        );
    } else {
        c.fail(
            "oidc",
            "is required: without token checks anyone who reaches the server could decrypt payloads",
        );
    }
    c.check(
        spec.tls_secret_name.is_some(),
        "tls_secret_name",
        "is required: the Web UI sends access tokens to an https endpoint only",
    );
    c.finish()
}
