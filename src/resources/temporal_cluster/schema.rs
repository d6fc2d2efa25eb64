//! The attributes of `engram_temporal_cluster` that make up its spec: one per field of the deploy
//! module's `TemporalClusterSpec`, with the spec's names. Every nested attribute is optional and
//! computed, so a field left out is planned at the spec's default (a role's own defaults for a
//! role) and the plan shows the value apply will use. A nested attribute with no default
//! (`tolerations`, `web_ui.oidc`, `authorization`) is plain optional: the framework declares it
//! computed to Terraform for 1.0.x's sake and plans it as configured
//! ([`crate::framework::Attribute::shielded_nested`]). A test pins that the attributes and the
//! spec's fields are the same set.

use crate::framework::validators::{IntegerBetween, NotBlank};
use crate::framework::{Attribute, Nesting, Type};
use crate::resources::deploy_support;

fn nested(name: &str, description: &str, attrs: Vec<Attribute>) -> Attribute {
    Attribute::nested(name, Nesting::Single, attrs)
        .optional_computed()
        .description(description)
}

fn string(name: &str, description: &str) -> Attribute {
    Attribute::new(name, Type::String)
        .optional_computed()
        .description(description)
}

fn number(name: &str, description: &str) -> Attribute {
    Attribute::new(name, Type::Number)
        .optional_computed()
        .description(description)
}

fn boolean(name: &str, description: &str) -> Attribute {
    Attribute::new(name, Type::Bool)
        .optional_computed()
        .description(description)
}

fn strings(name: &str, description: &str) -> Attribute {
    Attribute::new(name, Type::list(Type::String))
        .optional_computed()
        .description(description)
}

fn required_string(name: &str, description: &str) -> Attribute {
    Attribute::new(name, Type::String)
        .required()
        .validate(NotBlank)
        .description(description)
}

fn resources(defaults: &str) -> Attribute {
    nested(
        "resources",
        &format!(
            "CPU and memory requests and limits (Kubernetes quantities). A part given keeps the defaults for the rest: {defaults}."
        ),
        vec![
            string("cpu_request", "CPU request, e.g. `500m`."),
            string("memory_request", "Memory request, e.g. `1Gi`."),
            string("cpu_limit", "CPU limit, e.g. `2`."),
            string("memory_limit", "Memory limit, e.g. `2Gi`."),
        ],
    )
}

fn service(name: &str, defaults: &str) -> Attribute {
    nested(
        name,
        &format!("The {name} service's pods. A part given keeps this role's defaults for the rest: {defaults}."),
        vec![
            number(
                "replicas",
                "Pod count. If an autoscaler takes it over, drift checks leave it alone.",
            )
            .validate(IntegerBetween { min: 1, max: 100 }),
            resources("the role's"),
            nested(
                "spread",
                "Topology spread constraints, one per key, so replicas land in different zones and nodes.",
                vec![
                    strings("topology_keys", "Node label keys to spread over, in order. Default `[\"topology.kubernetes.io/zone\", \"kubernetes.io/hostname\"]`."),
                    number("max_skew", "Largest allowed difference in pod count between two domains. Default 1."),
                    string("when_unsatisfiable", "`ScheduleAnyway` (best effort, default) or `DoNotSchedule` (strict)."),
                ],
            ),
            nested(
                "disruption_budget",
                "The PodDisruptionBudget, rendered only with more than one replica.",
                vec![
                    boolean("enabled", "Default true."),
                    number("max_unavailable", "Pods that may be down at once during voluntary disruptions. Default 1."),
                ],
            ),
            string("priority_class_name", "The PriorityClass of this service's pods; the cluster's `priority_class_name` when unset."),
            Attribute::new("node_selector", Type::map(Type::String))
                .optional_computed()
                .description("Node labels the pods must run on (`nodeSelector`); any node when empty (default)."),
            Attribute::nested(
                "tolerations",
                Nesting::List,
                vec![
                    Attribute::new("key", Type::String).description("The taint key; unset with `operator = \"Exists\"` tolerates every taint."),
                    string("operator", "`Equal` (default: the value must match) or `Exists` (any value)."),
                    Attribute::new("value", Type::String).description("The taint value, with `Equal`."),
                    Attribute::new("effect", Type::String).description("`NoSchedule`, `PreferNoSchedule` or `NoExecute`; every effect when unset."),
                    Attribute::new("toleration_seconds", Type::Number).description("With `NoExecute`: how long a pod stays bound once the taint appears; forever when unset."),
                ],
            )
            .description("Node taints the pods tolerate. Default none."),
            node_affinity(),
        ],
    )
}

fn node_expression(weighted: bool) -> Vec<Attribute> {
    let mut attributes = Vec::new();
    if weighted {
        attributes.push(
            Attribute::new("weight", Type::Number)
                .required()
                .description("1 to 100: added to a node's score when it matches the expression."),
        );
    }
    attributes.extend([
        required_string("key", "The node label key, e.g. `topology.kubernetes.io/zone`."),
        required_string("operator", "`In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` or `Lt`."),
        strings("values", "The label values: at least one with `In` and `NotIn`, none with `Exists` and `DoesNotExist`, one whole number with `Gt` and `Lt`. Default none."),
    ]);
    attributes
}

fn node_affinity() -> Attribute {
    nested(
        "node_affinity",
        "Node affinity of the pods (`affinity.nodeAffinity`). None when unset.",
        vec![
            Attribute::nested("required", Nesting::List, node_expression(false))
                .optional_computed()
                .description("Expressions on node labels that a node must match, all of them, for the pods to run there (one term of `requiredDuringSchedulingIgnoredDuringExecution`). Default none."),
            Attribute::nested("preferred", Nesting::List, node_expression(true))
                .optional_computed()
                .description("Expressions on node labels that the scheduler prefers, each with its weight (one `preferredDuringSchedulingIgnoredDuringExecution` term each). Default none."),
        ],
    )
}

fn secret_key(name: &str, description: &str) -> Attribute {
    Attribute::nested(
        name,
        Nesting::Single,
        vec![
            required_string("name", "Secret name."),
            required_string("key", "Key in the Secret."),
        ],
    )
    .description(description)
}

fn sql_store(name: &str) -> Attribute {
    Attribute::nested(
        name,
        Nesting::Single,
        vec![
            required_string("host", "PostgreSQL host, also the name TLS verifies."),
            number("port", "Default 5432.").validate(IntegerBetween { min: 1, max: 65535 }),
            required_string("database", "Database name."),
            required_string("user", "Database user."),
            secret_key("password_secret", "The Kubernetes Secret holding the password; the password itself never passes through Terraform.").required(),
            number("max_conns", "Connection pool size per pod. Default 20."),
            number("max_idle_conns", "Idle connections kept per pod, at most `max_conns`. Default 20."),
            string("max_conn_lifetime", "How long a connection lives, a Go duration. Default `1h`."),
            boolean("create_database", "Run `temporal-sql-tool create-database` before the schema setup (a no-op when the database exists; needs a user with CREATEDB). Default true."),
            nested(
                "tls",
                "TLS to PostgreSQL. On by default with `verify-full`.",
                vec![
                    boolean("enabled", "Default true."),
                    string("mode", "`verify-full` (default) or `verify-ca` (needs `ca`)."),
                    nested(
                        "ca",
                        "Where the CA certificate is; the system roots when unset.",
                        vec![
                            string("kind", "`Secret` or `ConfigMap`."),
                            string("name", "Its name."),
                            string("key", "The key holding the PEM."),
                        ],
                    ),
                    string("server_name", "Refused: Temporal's postgres plugin verifies the name in `host` and ignores any other; kept so that setting it gets an explanation."),
                ],
            ),
        ],
    )
    .required()
    .description(&format!("The {name} store."))
}

fn tls_source(name: &str, description: &str) -> Attribute {
    nested(
        name,
        description,
        vec![
            string(
                "source",
                "`existing_secret` (a Secret with `tls.crt`, `tls.key` and `ca.crt` that someone else keeps current) or `cert_manager` (a Certificate rendered with the cluster).",
            ),
            string("secret_name", "With `existing_secret`: the Secret's name."),
            string("issuer_name", "With `cert_manager`: the issuer's name."),
            string(
                "issuer_kind",
                "With `cert_manager`: `Issuer` or `ClusterIssuer` (default).",
            ),
            string(
                "duration",
                "With `cert_manager`: certificate lifetime, a Go duration. Default `2160h`.",
            ),
            string(
                "renew_before",
                "With `cert_manager`: renew this long before expiry. Default `360h`.",
            ),
            strings(
                "extra_dns_names",
                "With `cert_manager`: names besides the Service names.",
            ),
        ],
    )
}

fn images() -> Attribute {
    nested(
        "images",
        "Container images. Tags come from the table of supported Temporal versions.",
        vec![
            string(
                "registry",
                "A registry host with an optional port and path prefix, e.g. `registry.example.com/mirror`, put before every image repository here that names no registry of its own (one whose first part contains a `.` or a `:` or is `localhost`, as Docker reads it): `temporalio/server` becomes `registry.example.com/mirror/temporalio/server`. No scheme, tag or trailing `/`. None when unset: the repositories are pulled as given (Docker Hub for the defaults).",
            ),
            string(
                "server",
                "The server image repository. Default `temporalio/server`.",
            ),
            string(
                "server_tag",
                "The server image tag, when a mirror tags it differently from Temporal's published tag. Default: the cluster's `version`.",
            ),
            string(
                "admin_tools",
                "The admin tools image repository (it also runs the schema jobs). Default `temporalio/admin-tools`.",
            ),
            string(
                "admin_tools_tag",
                "The admin tools tag, when a mirror tags it differently from Temporal's published tag.",
            ),
            string(
                "ui",
                "The Web UI image repository. Default `temporalio/ui`.",
            ),
            string(
                "ui_version",
                "The Web UI version (released apart from the server); the tested one when unset.",
            ),
            string(
                "pull_policy",
                "`imagePullPolicy` of every container: `Always` (default), `IfNotPresent` or `Never`.",
            ),
            strings(
                "pull_secrets",
                "Secrets (type `kubernetes.io/dockerconfigjson`, in the cluster's namespace) every pod pulls its images with. Default none.",
            ),
        ],
    )
}

fn services() -> Attribute {
    nested(
        "services",
        "The Temporal services' pods. Each role given in part keeps that role's defaults.",
        vec![
            service("frontend", "2 replicas, 500m/1Gi requested, 2/2Gi limit"),
            service(
                "internal_frontend",
                "rendered when set or when authorization is on, with the frontend's defaults",
            ),
            service("history", "3 replicas, 1/4Gi requested, 4/8Gi limit"),
            service("matching", "2 replicas, 500m/1Gi requested, 2/2Gi limit"),
            service("worker", "2 replicas, 250m/512Mi requested, 1/1Gi limit"),
        ],
    )
}

fn web_ui() -> Attribute {
    nested(
        "web_ui",
        "The Temporal Web UI.",
        vec![
            boolean("enabled", "Default true."),
            number("replicas", "Pod count. Default 2."),
            resources("100m/128Mi requested, 500m/256Mi limit"),
            string("codec_endpoint", "The codec server URL (`https://`) the browser decodes payloads through."),
            boolean("codec_pass_access_token", "Send the user's access token to the codec server (https only). Default false."),
            boolean("codec_include_credentials", "Send cookies to the codec server. Default false."),
            Attribute::nested(
                "oidc",
                Nesting::Single,
                vec![
                    required_string("provider_url", "The issuer URL (`https://`)."),
                    required_string("client_id", "The client id."),
                    secret_key("client_secret", "The Secret key holding the client secret.").required(),
                    required_string("callback_url", "The UI's callback URL registered with the provider, e.g. `https://temporal.example.com/auth/sso/callback`."),
                    strings("scopes", "Scopes requested. Default `[\"openid\", \"profile\", \"email\"]`."),
                ],
            )
            .description("Sign-in through an OIDC provider; none when unset."),
            deploy_support::ingress_attribute("publishes the UI at `https://<host>/`, every path routed to its Service"),
        ],
    )
}

fn authorization() -> Attribute {
    Attribute::nested(
        "authorization",
        Nesting::Single,
        vec![
            Attribute::new("jwt_key_source_uris", Type::list(Type::String)).required().description("JWKS URLs of the token issuer."),
            string("refresh_interval", "How often the keys are fetched again, a Go duration. Default `1m`."),
            string("permissions_claim_name", "The claim holding `namespace:role` permissions. Default `permissions`."),
            string("authorizer", "Temporal's authorizer: `default` (checks the claims; default) or empty (none)."),
            string("claim_mapper", "Temporal's claim mapper: `default` (reads the JWT; default) or empty (none)."),
            string("audience", "The audience tokens must carry; any when unset."),
        ],
    )
    .description("JWT authorization on the frontend (SSO). Without it, anything that reaches the frontend is trusted. Needs `tls.internode` (the internal frontend it brings admits only mutual-TLS callers) and `admin_tools.api_key_secret` or `admin_tools.enabled = false`.")
}

fn metrics() -> Attribute {
    nested(
        "metrics",
        "Prometheus scraping and alerts.",
        vec![
            boolean("service_monitor", "Render a ServiceMonitor. Default true."),
            boolean("prometheus_rule", "Render a PrometheusRule with shard, persistence and latency alerts (warning at 70%, critical at 90%). Default true."),
            Attribute::new("labels", Type::map(Type::String))
                .optional_computed()
                .description("Labels on the ServiceMonitor and PrometheusRule, so Prometheus selects them (kube-prometheus-stack: `release = \"<its release name>\"`). Default none."),
            string("scrape_interval", "Scrape interval, a Prometheus duration. Default `30s`."),
            number("shard_capacity_per_second", "Persistence requests per second one history shard can take: the `shard_capacity_per_second` that sized the cluster with `engram_history_shards`. Default 100."),
            number("persistence_latency_budget_seconds", "p99 persistence latency budget in seconds. Default 0.5."),
            number("frontend_latency_budget_seconds", "p99 frontend request latency budget in seconds. Default 1."),
        ],
    )
}

fn network() -> Attribute {
    nested(
        "network",
        "NetworkPolicies.",
        vec![
            boolean(
                "policies",
                "Render the policies: only the frontend and the UI are reachable from outside the namespace. Default true.",
            ),
            strings(
                "allowed_cidrs",
                "CIDRs allowed to reach the frontend and the UI; any source when empty (default).",
            ),
            string(
                "monitoring_namespace",
                "The namespace Prometheus scrapes from. Default `monitoring`.",
            ),
            crate::resources::deploy_support::ingress_controller_attribute(
                "people's calls to the Web UI when `web_ui.ingress` is set: with `allowed_cidrs`, the UI admits these pods too (an Ingress's traffic arrives from the controller's pods, not from people's addresses); required then",
            ),
        ],
    )
}

/// The spec's attributes other than the identity ones (`name`, `namespace`, `version`,
/// `history_shard_count`), which carry their own plan modifiers.
pub(super) fn spec_attributes() -> Vec<Attribute> {
    vec![
        boolean("create_namespace", "Create (and on destroy, delete) the Kubernetes namespace, labelled for restricted Pod Security. Default true."),
        images(),
        services(),
        web_ui(),
        nested(
            "admin_tools",
            "The admin tools pod, for `kubectl exec` and `temporal operator`.",
            vec![
                boolean("enabled", "Default true."),
                secret_key("api_key_secret", "With authorization on: the Secret key holding the token the `temporal` CLI in the pod presents (`TEMPORAL_API_KEY`).").optional_computed(),
            ],
        ),
        Attribute::nested("persistence", Nesting::Single, vec![sql_store("default"), sql_store("visibility")])
            .required()
            .description("The customer's PostgreSQL databases."),
        authorization(),
        nested(
            "tls",
            "TLS between Temporal services (mutual) and on the frontend. Certificates are reloaded every 5 minutes, so renewals take effect.",
            vec![
                tls_source("internode", "Mutual TLS between the Temporal services."),
                tls_source("frontend", "TLS on the frontend."),
            ],
        ),
        metrics(),
        network(),
        string("priority_class_name", "The PriorityClass of every Temporal pod whose service sets none."),
        Attribute::new("dynamic_config", Type::Dynamic).description(
            "Temporal's dynamic configuration: each key maps to a list of `{ value, constraints }`, e.g. `{ \"frontend.namespaceRPS\" = [{ value = 2400 }] }`; constraints are `namespace`, `taskQueueName`, `taskType` and the others Temporal defines. Kept in its own ConfigMap; a change rolls the servers. Default none.",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::TemporalCluster;
    use crate::deploy::TemporalClusterSpec;
    use crate::framework::Resource;
    use crate::resources::deploy_support::coverage::{json_paths, type_paths};
    use std::collections::BTreeSet;

    /// A spec that sets every field, every optional one included, with both TLS sources.
    const EVERY_FIELD: &str = r#"
name: prod
namespace: temporal-prod
create_namespace: false
version: 1.29.1
history_shard_count: 512
images:
  registry: registry.example.com/mirror
  server: registry.example.com/temporalio/server
  server_tag: 1.29.1-mirror
  admin_tools: registry.example.com/temporalio/admin-tools
  admin_tools_tag: 1.29.1-tctl-1.18.4-cli-1.4.1
  ui: registry.example.com/temporalio/ui
  ui_version: 2.40.1
  pull_policy: IfNotPresent
  pull_secrets: [registry-credentials]
services:
  frontend: { replicas: 3 }
  internal_frontend: { replicas: 2 }
  history:
    replicas: 5
    spread: { topology_keys: [kubernetes.io/hostname], max_skew: 2, when_unsatisfiable: DoNotSchedule }
    disruption_budget: { enabled: true, max_unavailable: 2 }
    priority_class_name: temporal-history
    node_selector: { node.example.com/pool: temporal }
    tolerations:
      - { key: dedicated, operator: Equal, value: temporal, effect: NoExecute, toleration_seconds: 300 }
    node_affinity:
      required: [{ key: node.example.com/pool, operator: In, values: [temporal] }]
      preferred: [{ weight: 50, key: topology.kubernetes.io/zone, operator: In, values: [eu-west-1a] }]
web_ui:
  oidc:
    provider_url: https://login.example.com
    client_id: ui
    client_secret: { name: ui-oidc, key: secret }
    callback_url: https://temporal.example.com/auth/sso/callback
    scopes: [openid]
  codec_endpoint: https://codec.example.com
  ingress:
    host: temporal.example.com
    class_name: nginx
    tls_secret_name: temporal-ui-tls
    annotations: { cert-manager.io/cluster-issuer: letsencrypt }
admin_tools:
  api_key_secret: { name: admin, key: token }
persistence:
  default:
    host: db
    database: temporal
    user: temporal
    password_secret: { name: db, key: password }
    tls:
      ca: { kind: Secret, name: db-ca, key: ca.crt }
      server_name: db
  visibility:
    host: db
    database: visibility
    user: temporal
    password_secret: { name: db, key: password }
authorization:
  jwt_key_source_uris: [https://login.example.com/keys]
  audience: temporal
tls:
  internode: { source: existing_secret, secret_name: internode }
  frontend: { source: cert_manager, issuer_name: ca, extra_dns_names: [temporal.example.com] }
metrics:
  labels: { release: kube-prometheus-stack }
network:
  allowed_cidrs: [10.0.0.0/8]
  ingress_controller: { namespace: ingress-nginx, pod_labels: { app: nginx } }
priority_class_name: temporal
dynamic_config:
  frontend.rps: [{ value: 1200, constraints: { namespace: orders } }]
"#;

    /// Paths with the roles, stores and TLS uses (which share one shape) named as one.
    fn shapes(paths: BTreeSet<String>) -> BTreeSet<String> {
        let same = [
            (
                ".services.",
                &[
                    "frontend",
                    "internal_frontend",
                    "history",
                    "matching",
                    "worker",
                ][..],
            ),
            (".persistence.", &["default", "visibility"][..]),
            (".tls.", &["internode", "frontend"][..]),
        ];
        paths
            .into_iter()
            .map(|mut p| {
                for (parent, names) in same {
                    for name in names {
                        let prefix = format!("{parent}{name}");
                        if p.starts_with(&format!("{prefix}.")) {
                            p = p.replacen(&prefix, &format!("{parent}<each>"), 1);
                        }
                    }
                }
                p
            })
            .collect()
    }

    #[test]
    fn every_spec_field_is_an_attribute_of_the_same_name_and_nothing_else_is() {
        let spec: TemporalClusterSpec = serde_yaml_ng::from_str(EVERY_FIELD).unwrap();
        let ty = TemporalCluster.schema().value_type();
        let mut from_spec = BTreeSet::new();
        json_paths(
            &serde_json::to_value(&spec).unwrap(),
            &ty,
            "",
            &mut from_spec,
        );
        let mut from_schema = BTreeSet::new();
        type_paths(&ty, "", &mut from_schema);
        let not_spec = [
            ".id",
            ".deletion_protection",
            ".frontend_address",
            ".drift",
            ".live_history_shard_count",
            ".timeouts",
        ];
        from_schema.retain(|p| !not_spec.iter().any(|n| p.starts_with(n)));
        let (from_spec, from_schema) = (shapes(from_spec), shapes(from_schema));
        assert_eq!(
            from_schema.difference(&from_spec).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "attributes that are no spec field"
        );
        assert_eq!(from_spec, from_schema);
    }
}
