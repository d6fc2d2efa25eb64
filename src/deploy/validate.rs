//! Checks a spec before anything is rendered, so a bad input is reported with the attribute
//! that caused it and what to do, instead of failing half way through an apply.

use super::spec::{
    CodecServerSpec, IngressSpec, KeyringSecretSpec, PodPeer, Resources, ServiceSpec, SqlStoreSpec,
    TemporalClusterSpec, TlsSource, Toleration,
};
use super::temporal_versions::Release;
use super::version::TemporalVersion;
use crate::codec::{KeyringDocument, Namespace};
use crate::sizing::MAX_HISTORY_SHARDS;
use std::fmt;

/// The legacy annotation naming an Ingress's class, which Kubernetes requires to agree with
/// `spec.ingressClassName` (networking validation.go `ValidateIngressCreate`).
const INGRESS_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// Whether `text` is a DNS subdomain (`IsDNS1123Subdomain`, apimachinery
/// pkg/util/validation/validation.go): at most 253 characters of dot-separated DNS labels.
fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(|label| is_dns_label(label, 63))
}

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

    /// Pods of another namespace a NetworkPolicy admits: the namespace's name and the pods'
    /// labels.
    fn pod_peer(&mut self, field: &str, peer: &PodPeer) {
        self.dns_label(&format!("{field}.namespace"), &peer.namespace, 63);
        for (key, value) in &peer.pod_labels {
            self.label(&format!("{field}.pod_labels.{key}"), key, value);
        }
    }

    fn dns_label(&mut self, field: &str, value: &str, max: usize) {
        if !is_dns_label(value, max) {
            self.fail(
                field,
                format!(
                    "`{value}` must be 1 to {max} lower-case letters, digits or '-', starting and ending with a letter or digit"
                ),
            );
        }
    }

    /// A Kubernetes label: key `[prefix/]name` (prefix a DNS subdomain, name up to 63 of
    /// `[A-Za-z0-9._-]` starting and ending alphanumeric), value empty or like a name
    /// (apimachinery pkg/util/validation/validation.go `IsQualifiedName`, `IsValidLabelValue`).
    fn label(&mut self, field: &str, key: &str, value: &str) {
        self.label_key(field, key);
        self.label_value(field, value);
    }

    /// A label key or other qualified name (`IsQualifiedName`).
    fn label_key(&mut self, field: &str, key: &str) {
        let key_ok = match key.split_once('/') {
            Some((prefix, name)) => {
                !prefix.is_empty()
                    && prefix.len() <= 253
                    && prefix.split('.').all(|part| {
                        !part.is_empty()
                            && part
                                .bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                            && !part.starts_with('-')
                            && !part.ends_with('-')
                    })
                    && is_label_name(name)
            }
            None => is_label_name(key),
        };
        if !key_ok {
            self.fail(
                field,
                "the key must be a Kubernetes label key: an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
            );
        }
    }

    /// A label value (`IsValidLabelValue`).
    fn label_value(&mut self, field: &str, value: &str) {
        if !(value.is_empty() || is_label_name(value)) {
            self.fail(
                field,
                "the value must be empty or up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
            );
        }
    }

    /// An Ingress (networking validation.go `ValidateIngressSpec` in kubernetes/kubernetes, near
    /// v1.37): a host that is a DNS name (not an IP address; no wildcard here, since the host is
    /// the address this product gives out), a class and a TLS Secret named as DNS subdomains,
    /// annotation keys that are qualified names, and no legacy class annotation that disagrees.
    fn ingress(&mut self, field: &str, spec: &IngressSpec) {
        let host = &spec.host;
        if host.parse::<std::net::IpAddr>().is_ok() || !is_dns_subdomain(host) {
            self.fail(
                format!("{field}.host"),
                format!("`{host}` must be a DNS name such as temporal.example.com: lower-case letters, digits, '-' and '.', no wildcard, no IP address"),
            );
        }
        for (name, value) in [
            ("class_name", &spec.class_name),
            ("tls_secret_name", &spec.tls_secret_name),
        ] {
            if let Some(value) = value
                && !is_dns_subdomain(value)
            {
                self.fail(
                    format!("{field}.{name}"),
                    format!("`{value}` must be a Kubernetes object name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"),
                );
            }
        }
        for key in spec.annotations.keys() {
            self.label_key(&format!("{field}.annotations.{key}"), key);
        }
        if let (Some(annotation), Some(class)) = (
            spec.annotations.get(INGRESS_CLASS_ANNOTATION),
            &spec.class_name,
        ) && annotation != class
        {
            self.fail(
                format!("{field}.annotations.{INGRESS_CLASS_ANNOTATION}"),
                format!("`{annotation}` disagrees with class_name `{class}`; drop the annotation and keep class_name"),
            );
        }
    }

    /// A name that prefixes Service names, which must be DNS-1035 labels: starting with a
    /// letter (apimachinery pkg/util/validation/validation.go `IsDNS1035Label`).
    fn service_name_prefix(&mut self, field: &str, value: &str, max: usize) {
        let before = self.problems.len();
        self.dns_label(field, value, max);
        if self.problems.len() == before && !value.starts_with(|c: char| c.is_ascii_lowercase()) {
            self.fail(
                field,
                format!(
                    "`{value}` must start with a letter: it begins the names of Kubernetes Services, which cannot start with a digit"
                ),
            );
        }
    }

    /// A positive Kubernetes quantity; returns its value in base units.
    fn quantity(&mut self, field: &str, value: &str) -> Option<f64> {
        let parsed = quantity_value(value).filter(|n| *n > 0.0);
        if parsed.is_none() {
            self.fail(
                field,
                format!("`{value}` is not a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi"),
            );
        }
        parsed
    }

    fn cidr(&mut self, field: &str, value: &str) {
        if !is_cidr(value) {
            self.fail(
                field,
                format!("`{value}` is not a CIDR such as 10.0.0.0/8 or fd00::/8"),
            );
        }
    }

    fn resources(&mut self, field: &str, r: &Resources) {
        for (what, request, limit) in [
            ("cpu", &r.cpu_request, &r.cpu_limit),
            ("memory", &r.memory_request, &r.memory_limit),
        ] {
            let request_value = self.quantity(&format!("{field}.{what}_request"), request);
            let limit_value = self.quantity(&format!("{field}.{what}_limit"), limit);
            if let (Some(req), Some(lim)) = (request_value, limit_value)
                && req > lim
            {
                self.fail(
                    format!("{field}.{what}_request"),
                    format!(
                        "{request} is more than {what}_limit {limit}: Kubernetes refuses a request above its limit; lower the request or raise the limit"
                    ),
                );
            }
        }
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
        for (key, value) in &s.node_selector {
            self.label(&format!("{field}.node_selector.{key}"), key, value);
        }
        for (i, t) in s.tolerations.iter().enumerate() {
            self.toleration(&format!("{field}.tolerations[{i}]"), t);
        }
        if let Some(affinity) = &s.node_affinity {
            for (i, r) in affinity.required.iter().enumerate() {
                let at = format!("{field}.node_affinity.required[{i}]");
                self.node_requirement(&at, &r.key, &r.operator, &r.values);
            }
            for (i, p) in affinity.preferred.iter().enumerate() {
                let at = format!("{field}.node_affinity.preferred[{i}]");
                self.check(
                    (1..=100).contains(&p.weight),
                    &format!("{at}.weight"),
                    "must be between 1 and 100",
                );
                self.node_requirement(&at, &p.key, &p.operator, &p.values);
            }
        }
    }

    /// A node label expression the API server accepts and the scheduler can match:
    /// kubernetes/kubernetes pkg/apis/core/validation/validation.go
    /// `ValidateNodeSelectorRequirement` and `ValidatePreferredSchedulingTerms` (read at commit
    /// 000f26050b, the revision the search index holds, near v1.37): the operator's
    /// value count, a key that is a qualified name, weights from 1 to 100, and label values in
    /// required terms. The scheduler also reads `Gt` and
    /// `Lt` values as base-10 64-bit integers and every value as a label value
    /// (k8s.io/component-helpers v0.36.3 scheduling/corev1/nodeaffinity/nodeaffinity.go through
    /// k8s.io/apimachinery v0.36.3 pkg/labels/selector.go `NewRequirement`); an expression it
    /// cannot read matches no node, so those are refused here too.
    fn node_requirement(&mut self, field: &str, key: &str, operator: &str, values: &[String]) {
        self.label_key(&format!("{field}.key"), key);
        let values_field = format!("{field}.values");
        match operator {
            "In" | "NotIn" => self.check(
                !values.is_empty(),
                &values_field,
                &format!("needs at least one value with operator = \"{operator}\""),
            ),
            "Exists" | "DoesNotExist" => self.check(
                values.is_empty(),
                &values_field,
                &format!("must be empty with operator = \"{operator}\" (it matches on the key alone); remove values or use \"In\" or \"NotIn\""),
            ),
            "Gt" | "Lt" => self.check(
                values.len() == 1 && values[0].parse::<i64>().is_ok(),
                &values_field,
                &format!("needs exactly one whole number with operator = \"{operator}\", e.g. [\"3\"]"),
            ),
            _ => self.fail(
                format!("{field}.operator"),
                "must be \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\", \"Gt\" or \"Lt\"",
            ),
        }
        for (i, value) in values.iter().enumerate() {
            if !is_label_value(value) {
                self.fail(
                    format!("{values_field}[{i}]"),
                    format!("`{value}` must be a Kubernetes label value: empty or up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"),
                );
            }
        }
    }

    /// A toleration the API server accepts (kubernetes/kubernetes
    /// pkg/apis/core/validation/validation.go `validateTolerations`, read on master; the
    /// `Lt`/`Gt` operators there are alpha behind a feature gate that is off by default, so they
    /// are refused here).
    fn toleration(&mut self, field: &str, t: &Toleration) {
        let key = t.key.as_deref().unwrap_or_default();
        let value = t.value.as_deref().unwrap_or_default();
        if !key.is_empty() {
            self.label_key(&format!("{field}.key"), key);
        }
        match t.operator.as_str() {
            "Exists" => self.check(
                value.is_empty(),
                &format!("{field}.value"),
                "must be unset with operator = \"Exists\" (it matches any value)",
            ),
            "Equal" => {
                self.check(
                    !key.is_empty(),
                    &format!("{field}.operator"),
                    "must be \"Exists\" when key is unset (a toleration of every taint)",
                );
                self.label_value(&format!("{field}.value"), value);
            }
            _ => self.fail(
                format!("{field}.operator"),
                "must be \"Equal\" (default) or \"Exists\"",
            ),
        }
        if let Some(effect) = &t.effect {
            self.check(
                matches!(
                    effect.as_str(),
                    "NoSchedule" | "PreferNoSchedule" | "NoExecute"
                ),
                &format!("{field}.effect"),
                "must be NoSchedule, PreferNoSchedule or NoExecute, or unset for every effect",
            );
        }
        if t.toleration_seconds.is_some() {
            self.check(
                t.effect.as_deref() == Some("NoExecute"),
                &format!("{field}.toleration_seconds"),
                "needs effect = \"NoExecute\": only that effect evicts a bound pod",
            );
        }
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
        self.check(
            (1..=65535).contains(&s.port),
            &format!("{field}.port"),
            "must be a port number from 1 to 65535",
        );
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
        if s.tls.enabled && s.tls.mode == "verify-ca" && s.tls.ca.is_none() {
            self.fail(
                format!("{field}.tls.ca"),
                "is required with verify-ca: without a CA bundle no chain is verified; name the Secret or ConfigMap holding the database's CA",
            );
        }
        if s.tls.server_name.is_some() {
            self.fail(
                format!("{field}.tls.server_name"),
                "is not supported for PostgreSQL: Temporal's postgres plugin verifies the host of its connect address and ignores any other name; set host to the name in the database's certificate and remove server_name",
            );
        }
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

/// The constraint names Temporal's file-based dynamic configuration accepts, compared without
/// case (common/dynamicconfig/file_based_client.go `validateConstraints`, v1.29.7).
const DYNAMIC_CONFIG_CONSTRAINTS: [&str; 7] = [
    "namespace",
    "namespaceID",
    "taskQueueName",
    "taskType",
    "historyTaskType",
    "shardID",
    "destination",
];

/// The authorizer and claim mapper names Temporal's server resolves from its configuration:
/// empty for none, or `default` (common/authorization/authorizer.go `GetAuthorizerFromConfig`
/// and claim_mapper.go `GetClaimMapperFromConfig`, v1.29.7).
const AUTHORIZATION_PLUGINS: [&str; 2] = ["", "default"];

/// Checks a Temporal cluster spec, and returns the release it deploys.
pub fn temporal_cluster(spec: &TemporalClusterSpec) -> Result<Release, SpecError> {
    let mut c = Checker::default();
    c.service_name_prefix("name", &spec.name, 30);
    c.dns_label("namespace", &spec.namespace, 63);
    let release = match spec.version.parse::<TemporalVersion>() {
        Ok(version) => match Release::of(version, spec.images.admin_tools_tag.as_deref()) {
            Ok(release) => Some(release),
            Err(e) => {
                c.fail("version", e.to_string());
                None
            }
        },
        Err(reason) => {
            c.fail("version", reason);
            None
        }
    };
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
    for (i, name) in spec.images.pull_secrets.iter().enumerate() {
        c.dns_label(&format!("images.pull_secrets[{i}]"), name, 253);
    }
    if let Some(registry) = &spec.images.registry
        && let Some(reason) = super::image_ref::registry_problem(registry)
    {
        c.fail("images.registry", reason);
    }
    for (field, tag) in [
        ("images.server_tag", &spec.images.server_tag),
        ("images.admin_tools_tag", &spec.images.admin_tools_tag),
        ("images.ui_version", &spec.images.ui_version),
    ] {
        if let Some(tag) = tag
            && !is_image_tag(tag)
        {
            c.fail(
                field,
                format!("`{tag}` is not an image tag: 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"),
            );
        }
    }
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
        // The browser sends payloads to it and receives them in clear: https only.
        c.url("web_ui.codec_endpoint", endpoint, true);
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
    if let Some(ingress) = &ui.ingress {
        c.ingress("web_ui.ingress", ingress);
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
        for (field, value) in [
            ("authorization.authorizer", &auth.authorizer),
            ("authorization.claim_mapper", &auth.claim_mapper),
        ] {
            c.check(
                AUTHORIZATION_PLUGINS.contains(&value.as_str()),
                field,
                "must be `default` (Temporal's JWT checks) or empty (none); Temporal knows no other",
            );
        }
        if spec.admin_tools.enabled && spec.admin_tools.api_key_secret.is_none() {
            c.fail(
                "admin_tools.api_key_secret",
                "is required with authorization on: the frontend refuses the admin tools' calls without a token; name a Secret key holding one, or set admin_tools.enabled = false",
            );
        }
    }
    if super::render::names::internal_frontend(spec).is_some() && spec.tls.internode.is_none() {
        c.fail(
            "tls.internode",
            "is required when the internal frontend runs (services.internal_frontend, or authorization on): it treats every caller as the system worker, so only mutual TLS may admit callers",
        );
    }
    for (key, values) in &spec.dynamic_config {
        let field = format!("dynamic_config.{key}");
        c.check(
            !key.is_empty() && !key.contains(char::is_whitespace),
            &field,
            "must be a Temporal dynamic configuration key such as `frontend.rps`",
        );
        c.check(
            !values.is_empty(),
            &field,
            "needs at least one { value, constraints } entry",
        );
        for (i, value) in values.iter().enumerate() {
            for name in value.constraints.keys() {
                c.check(
                    DYNAMIC_CONFIG_CONSTRAINTS
                        .iter()
                        .any(|known| known.eq_ignore_ascii_case(name)),
                    &format!("{field}[{i}].constraints.{name}"),
                    &format!(
                        "is not a constraint Temporal knows; use one of {}",
                        DYNAMIC_CONFIG_CONSTRAINTS.join(", ")
                    ),
                );
            }
        }
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
            "metrics.shard_capacity_per_second",
            m.shard_capacity_per_second,
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
    c.check(
        !m.scrape_interval.is_empty() && prometheus_duration(&m.scrape_interval),
        "metrics.scrape_interval",
        "must be a Prometheus duration such as 30s, 1m or 1m30s (whole numbers, units y w d h m s ms, largest first)",
    );
    for (key, value) in &m.labels {
        c.label(&format!("metrics.labels.{key}"), key, value);
    }
    for (i, cidr) in spec.network.allowed_cidrs.iter().enumerate() {
        c.cidr(&format!("network.allowed_cidrs[{i}]"), cidr);
    }
    c.dns_label(
        "network.monitoring_namespace",
        &spec.network.monitoring_namespace,
        63,
    );
    if let Some(controller) = &spec.network.ingress_controller {
        c.pod_peer("network.ingress_controller", controller);
    }
    c.check(
        spec.network.ingress_controller.is_some()
            || spec.web_ui.ingress.is_none()
            || spec.network.allowed_cidrs.is_empty()
            || !spec.network.policies,
        "network.ingress_controller",
        "must name the ingress controller's namespace (and pod labels) when web_ui.ingress is set with network.allowed_cidrs: the Ingress's traffic comes from the controller's pods, which the CIDRs do not admit, so the Web UI would be unreachable",
    );
    c.finish()?;
    // A version that did not resolve to a release was reported above; this is for the type.
    release.ok_or_else(|| SpecError {
        problems: vec![Problem {
            field: "version".into(),
            reason: format!(
                "is not supported; supported releases: {}",
                super::temporal_versions::supported_list()
            ),
        }],
    })
}

/// Whether `text` is a label value (apimachinery pkg/util/validation/validation.go
/// `IsValidLabelValue`): empty, or up to 63 of `[A-Za-z0-9._-]` starting and ending with a
/// letter or digit.
fn is_label_value(text: &str) -> bool {
    text.is_empty()
        || (text.len() <= 63
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && text
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && text
                .bytes()
                .last()
                .is_some_and(|b| b.is_ascii_alphanumeric()))
}

/// Whether `text` is an image tag (distribution/reference v0.6.0 reference.go:
/// `tag := /[\w][\w.-]{0,127}/`).
fn is_image_tag(text: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    (1..=128).contains(&text.len())
        && text.bytes().next().is_some_and(word)
        && text.bytes().all(|b| word(b) || matches!(b, b'.' | b'-'))
}

/// Whether `text` is 1 to `max` lower-case letters, digits or '-', starting and ending with a
/// letter or digit: a DNS-1123 label (apimachinery pkg/util/validation/validation.go
/// `IsDNS1123Label`, with `max` 63 there), the shape of namespace and object names.
pub fn is_dns_label(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// A Kubernetes quantity's value in base units, as apimachinery reads it
/// (pkg/api/resource/quantity.go `ParseQuantity`): a decimal number, then a binary suffix
/// (Ki, Mi, Gi, Ti, Pi, Ei), a decimal one (m, k, M, G, T, P, E) or an exponent (e3, E-2).
pub fn quantity_value(text: &str) -> Option<f64> {
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    if number.is_empty() || number.starts_with('.') && number.len() == 1 {
        return None;
    }
    let base: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent if exponent.starts_with(['e', 'E']) => {
            10f64.powi(exponent[1..].parse::<i32>().ok()?)
        }
        _ => return None,
    };
    Some(base * factor).filter(|v| v.is_finite())
}

/// Whether `text` is an IPv4 or IPv6 CIDR, as NetworkPolicy `ipBlock.cidr` needs
/// (Go's net.ParseCIDR, used by pkg/apis/networking/validation `ValidateIPBlock`).
pub fn is_cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else {
        return false;
    };
    let Ok(prefix) = prefix.parse::<u8>() else {
        return false;
    };
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => prefix <= 32,
        Ok(std::net::IpAddr::V6(_)) => prefix <= 128,
        Err(_) => false,
    }
}

/// Whether `text` is a Prometheus Operator `Duration`: `0`, or whole numbers with the units
/// y, w, d, h, m, s, ms, each at most once and largest first (prometheus-operator
/// pkg/apis/monitoring/v1/types.go `Duration` pattern, v0.93.0).
pub fn prometheus_duration(text: &str) -> bool {
    const UNITS: [&str; 7] = ["y", "w", "d", "h", "m", "s", "ms"];
    if text == "0" {
        return true;
    }
    let mut rest = text;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = if rest.starts_with("ms") {
            "ms"
        } else {
            &rest[..rest.chars().next().map_or(0, char::len_utf8)]
        };
        match UNITS[next_unit..].iter().position(|u| *u == unit) {
            Some(offset) => next_unit += offset + 1,
            None => return false,
        }
        rest = &rest[unit.len()..];
    }
    true
}

/// Environment names the codec server must not receive from a spec (secrets belong in Secrets).
const SECRET_ENV_HINTS: [&str; 4] = ["TOKEN", "SECRET", "PASSWORD", "PRIVATE"];

/// Checks a codec server spec.
pub fn codec_server(spec: &CodecServerSpec) -> Result<(), SpecError> {
    let mut c = Checker::default();
    c.service_name_prefix("name", &spec.name, 40);
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
        if let Some((_, attribute)) = super::render::codec::OWN_ENV
            .iter()
            .find(|(variable, _)| variable == name)
        {
            c.fail(
                format!("kms.env.{name}"),
                if attribute.is_empty() {
                    "is set by the Deployment, which the Service and probes are built around; leave it out".to_string()
                } else {
                    format!("is set from `{attribute}`; set that instead")
                },
            );
        }
        if SECRET_ENV_HINTS.iter().any(|hint| name.contains(hint)) {
            c.fail(
                format!("kms.env.{name}"),
                "looks like a secret; use workload identity or Vault Kubernetes auth instead of passing credentials",
            );
        }
    }
    c.check(
        matches!(spec.tls_min_version.as_str(), "1.2" | "1.3"),
        "tls_min_version",
        "must be 1.2 or 1.3",
    );
    for (i, cidr) in spec.client_cidrs.iter().enumerate() {
        c.cidr(&format!("client_cidrs[{i}]"), cidr);
    }
    if let Some(controller) = &spec.ingress_controller {
        c.pod_peer("ingress_controller", controller);
    }
    if let Some(ingress) = &spec.ingress {
        c.ingress("ingress", ingress);
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
    for (namespace, sources) in &spec.accepted_source_namespaces {
        let named = |n: &str| Namespace::new(n).is_ok();
        if !named(namespace) || !sources.iter().all(|s| named(s)) {
            c.fail(
                "accepted_source_namespaces",
                format!(
                    "{namespace:?} = {sources:?}: every key and every listed source must be a Temporal namespace name (1 to {} letters, digits, `-`, `_` or `.`, at least one letter or digit)",
                    crate::codec::MAX_NAMESPACE_LEN
                ),
            );
        }
    }
    if let Some(oidc) = &spec.oidc {
        c.url("oidc.issuer", &oidc.issuer, true);
        c.url("oidc.jwks_url", &oidc.jwks_url, true);
        c.check(
            !oidc.audiences.is_empty(),
            "oidc.audiences",
            "needs at least one audience",
        );
        if oidc.leeway_seconds > crate::codec::server::MAX_LEEWAY_SECONDS {
            c.fail(
                "oidc.leeway_seconds",
                format!(
                    "must be at most {} seconds: a wider window accepts tokens long after they expired",
                    crate::codec::server::MAX_LEEWAY_SECONDS
                ),
            );
        }
        if let Some(config_map) = &oidc.jwks_ca_config_map {
            c.dns_label("oidc.jwks_ca_config_map", config_map, 253);
        }
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

/// The most a Secret may hold (the API server's `MaxSecretSize`, 1 MiB of data in total:
/// kubernetes `pkg/apis/core/types.go`, checked in `pkg/apis/core/validation/validation.go`).
const MAX_SECRET_BYTES: usize = 1024 * 1024;

/// Checks a keyring Secret's spec.
pub fn keyring_secret(spec: &KeyringSecretSpec) -> Result<(), SpecError> {
    let mut c = Checker::default();
    c.dns_label("name", &spec.name, 63);
    c.dns_label("namespace", &spec.namespace, 63);
    if let Err(e) = KeyringDocument::from_json(&spec.keyring) {
        c.fail(
            "keyring",
            format!("must be the keyring document of an engram_cmk_binding: {e}"),
        );
    } else if spec.keyring.len() > MAX_SECRET_BYTES {
        c.fail(
            "keyring",
            format!(
                "is {} bytes; a Secret holds at most {MAX_SECRET_BYTES}: retire keys the decrypt window no longer needs",
                spec.keyring.len()
            ),
        );
    }
    c.finish()
}

/// The name part of a label key, or a label value: up to 63 of `[A-Za-z0-9._-]`, starting and
/// ending with a letter or digit.
fn is_label_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_kubernetes_reads_them() {
        assert_eq!(quantity_value("500m"), Some(0.5));
        assert_eq!(quantity_value("2"), Some(2.0));
        assert_eq!(quantity_value("1Gi"), Some(1024f64.powi(3)));
        assert_eq!(quantity_value("1.5G"), Some(1.5e9));
        assert_eq!(quantity_value("1e3"), Some(1000.0));
        assert_eq!(quantity_value("0.5"), Some(0.5));
        for bad in ["", "lots", "1gb", "Gi", ".", "1.2.3"] {
            assert_eq!(quantity_value(bad), None, "{bad}");
        }
    }

    #[test]
    fn cidrs_and_durations() {
        assert!(is_cidr("10.0.0.0/8"));
        assert!(is_cidr("fd00::/8"));
        for bad in ["10.0.0.0", "10.0.0.0/33", "10.0.0/8", "fd00::/129", "any"] {
            assert!(!is_cidr(bad), "{bad}");
        }
        for good in ["30s", "1m", "1h20m15s", "15d", "0", "500ms"] {
            assert!(prometheus_duration(good), "{good}");
        }
        for bad in ["1.5m", "30", "1s1m", "1m1m", "30sec", "-1s"] {
            assert!(!prometheus_duration(bad), "{bad}");
        }
    }

    #[test]
    fn node_affinity_is_checked_as_the_api_server_and_scheduler_read_it() {
        use crate::deploy::spec::{NodeAffinity, NodeRequirement, WeightedNodeRequirement};
        let req = |key: &str, operator: &str, values: &[&str]| NodeRequirement {
            key: key.into(),
            operator: operator.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let problems = |affinity: NodeAffinity| {
            let service = ServiceSpec {
                node_affinity: Some(affinity),
                ..ServiceSpec::default()
            };
            let mut c = Checker::default();
            c.service("services.history", &service, 1);
            c.problems.into_iter().map(|p| p.field).collect::<Vec<_>>()
        };
        let good = NodeAffinity {
            required: vec![
                req("node.example.com/pool", "In", &["temporal"]),
                req("node.example.com/spot", "DoesNotExist", &[]),
                req("node.example.com/cores", "Gt", &["8"]),
            ],
            preferred: vec![WeightedNodeRequirement {
                weight: 100,
                key: "topology.kubernetes.io/zone".into(),
                operator: "NotIn".into(),
                values: vec!["eu-west-1c".into()],
            }],
        };
        assert!(problems(good).is_empty());
        let bad = NodeAffinity {
            required: vec![
                req("node.example.com/pool", "In", &[]),
                req("node.example.com/pool", "Exists", &["temporal"]),
                req("node.example.com/cores", "Lt", &["eight"]),
                req("node.example.com/cores", "Gt", &["1", "2"]),
                req("bad key", "In", &["x"]),
                req("pool", "Equal", &["x"]),
                req("pool", "In", &["-x"]),
            ],
            preferred: vec![WeightedNodeRequirement {
                weight: 0,
                key: "zone".into(),
                operator: "In".into(),
                values: vec!["a".into()],
            }],
        };
        let at = "services.history.node_affinity";
        assert_eq!(
            problems(bad),
            [
                format!("{at}.required[0].values"),
                format!("{at}.required[1].values"),
                format!("{at}.required[2].values"),
                format!("{at}.required[3].values"),
                format!("{at}.required[4].key"),
                format!("{at}.required[5].operator"),
                format!("{at}.required[6].values[0]"),
                format!("{at}.preferred[0].weight"),
            ]
        );
    }

    #[test]
    fn registry_and_tags_are_image_reference_parts() {
        assert!(is_image_tag("1.29.1-tctl-1.18.4-cli-1.4.1"));
        assert!(is_image_tag("latest_2"));
        for bad in ["", ".1", "-x", "a:b", "a/b", &"x".repeat(129)] {
            assert!(!is_image_tag(bad), "{bad}");
        }
    }

    #[test]
    fn ingress_problems_name_the_field_once_each() {
        let ingress = |host: &str| IngressSpec {
            host: host.into(),
            class_name: None,
            tls_secret_name: None,
            annotations: Default::default(),
        };
        let problems = |spec: &IngressSpec| {
            let mut c = Checker::default();
            c.ingress("web_ui.ingress", spec);
            c.problems.into_iter().map(|p| p.field).collect::<Vec<_>>()
        };
        assert!(problems(&ingress("temporal.example.com")).is_empty());
        for bad in [
            "10.0.0.1",
            "*.example.com",
            "Temporal.example.com",
            "",
            "a..b",
        ] {
            assert_eq!(problems(&ingress(bad)), ["web_ui.ingress.host"], "{bad:?}");
        }
        let mut spec = ingress("temporal.example.com");
        spec.class_name = Some("Nginx".into());
        spec.tls_secret_name = Some("tls_secret".into());
        spec.annotations.insert("bad key".into(), "x".into());
        assert_eq!(
            problems(&spec),
            [
                "web_ui.ingress.class_name",
                "web_ui.ingress.tls_secret_name",
                "web_ui.ingress.annotations.bad key"
            ]
        );
        let mut spec = ingress("temporal.example.com");
        spec.class_name = Some("nginx".into());
        spec.annotations
            .insert(INGRESS_CLASS_ANNOTATION.into(), "traefik".into());
        assert_eq!(
            problems(&spec),
            ["web_ui.ingress.annotations.kubernetes.io/ingress.class"]
        );
        spec.annotations
            .insert(INGRESS_CLASS_ANNOTATION.into(), "nginx".into());
        assert!(problems(&spec).is_empty());
    }
}
