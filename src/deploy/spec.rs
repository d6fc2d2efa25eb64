//! What a Temporal cluster, a codec server and a keyring Secret look like, as the operator
//! describes them.
//!
//! These types are the one input of rendering, applying and drift checks. Field names are the
//! snake_case nouns the Terraform attributes use, and every default is the value a production
//! team would pick, so a short spec is a sound one. Nothing here holds a secret: passwords and
//! client secrets are references to Kubernetes Secrets.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn yes() -> bool {
    true
}

/// A whole Temporal deployment: its servers, Web UI, admin tools, persistence and policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemporalClusterSpec {
    /// The cluster's name: prefix of every object name and value of `engram.dev/cluster`.
    pub name: String,
    /// The Kubernetes namespace everything lives in.
    pub namespace: String,
    /// Create (and on destroy, delete) the namespace, labelled for restricted Pod Security.
    #[serde(default = "yes")]
    pub create_namespace: bool,
    /// Temporal server version, e.g. `1.29.1`; upgrades go one minor version at a time.
    pub version: String,
    /// Temporal's `numHistoryShards`. Fixed for the life of the cluster's database.
    pub history_shard_count: u32,
    /// Container images.
    #[serde(default)]
    pub images: Images,
    /// The four Temporal services, and the internal frontend.
    #[serde(default)]
    pub services: Services,
    /// The Temporal Web UI.
    #[serde(default)]
    pub web_ui: WebUiSpec,
    /// A Deployment with the admin tools image, for `temporal operator` and `tdbg`.
    #[serde(default)]
    pub admin_tools: AdminToolsSpec,
    /// The PostgreSQL databases.
    pub persistence: PersistenceSpec,
    /// JWT authorization on the frontend; none means any client that reaches it is trusted.
    #[serde(default)]
    pub authorization: Option<AuthorizationSpec>,
    /// TLS between Temporal services and on the frontend.
    #[serde(default)]
    pub tls: TlsSpec,
    /// Prometheus scraping and alerts.
    #[serde(default)]
    pub metrics: MetricsSpec,
    /// NetworkPolicies.
    #[serde(default)]
    pub network: NetworkSpec,
    /// A PriorityClass for every Temporal pod that does not set its own.
    #[serde(default)]
    pub priority_class_name: Option<String>,
    /// Temporal's dynamic configuration, in the file format the server reads: each key maps to
    /// a list of `{value, constraints}`. Kept in its own ConfigMap; a change rolls the servers.
    #[serde(default)]
    pub dynamic_config: BTreeMap<String, Vec<DynamicConfigValue>>,
}

/// One value of a dynamic configuration key, optionally limited to a namespace, task queue or
/// other constraint Temporal defines (`common/dynamicconfig` in Temporal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicConfigValue {
    /// The value: a number, string, boolean, list or map, as the key expects.
    pub value: serde_json::Value,
    /// Where it applies (`namespace`, `taskQueueName`, `taskType`, ...); everywhere when empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub constraints: BTreeMap<String, serde_json::Value>,
}

/// Image repositories. Tags come from the table of supported Temporal versions (the admin
/// tools image is not tagged with the bare server version before 1.30); a tag set here wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Images {
    /// A registry host, with an optional port and path prefix (`registry.example.com/mirror`),
    /// put before every repository here that names no registry of its own. Left out of the
    /// serialized spec when unset, so specs written before it existed stay equal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The server image repository.
    pub server: String,
    /// The server tag, when a mirror tags it differently from Temporal's published tag. Left
    /// out of the serialized spec when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_tag: Option<String>,
    /// The admin tools image repository (also runs the schema jobs).
    pub admin_tools: String,
    /// The admin tools tag, when a mirror tags it differently from Temporal's published tag.
    pub admin_tools_tag: Option<String>,
    /// The Web UI image repository.
    pub ui: String,
    /// The Web UI version (it is released apart from the server); the tested one when unset.
    pub ui_version: Option<String>,
    /// `imagePullPolicy` for every container.
    pub pull_policy: String,
    /// Secrets (of type `kubernetes.io/dockerconfigjson`, in the cluster's namespace) every pod
    /// pulls its images with.
    pub pull_secrets: Vec<String>,
}

impl Default for Images {
    fn default() -> Self {
        Self {
            registry: None,
            server: "temporalio/server".into(),
            server_tag: None,
            admin_tools: "temporalio/admin-tools".into(),
            admin_tools_tag: None,
            ui: "temporalio/ui".into(),
            ui_version: None,
            pull_policy: "Always".into(),
            pull_secrets: Vec::new(),
        }
    }
}

impl Images {
    /// `repository` behind the configured registry, unless it names a registry of its own
    /// ([`super::image_ref::qualified`]).
    pub fn qualified(&self, repository: &str) -> String {
        super::image_ref::qualified(self.registry.as_deref(), repository)
    }
}

/// Per-service settings of the Temporal server roles. A role given in part keeps that role's
/// defaults for everything else (`history = { replicas = 5 }` keeps history's resources).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Services {
    /// The public gRPC/HTTP frontend.
    pub frontend: ServiceSpec,
    /// The internal frontend for the system worker; rendered when set, or when authorization
    /// is on (the system worker cannot present a user's token).
    pub internal_frontend: Option<ServiceSpec>,
    /// The history service: owns the shards.
    pub history: ServiceSpec,
    /// The matching service: task queues.
    pub matching: ServiceSpec,
    /// The system worker.
    pub worker: ServiceSpec,
}

/// What a spec file or configuration gives for the roles, each merged onto its role's defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServicesGiven {
    #[serde(default)]
    frontend: Option<serde_json::Value>,
    #[serde(default)]
    internal_frontend: Option<serde_json::Value>,
    #[serde(default)]
    history: Option<serde_json::Value>,
    #[serde(default)]
    matching: Option<serde_json::Value>,
    #[serde(default)]
    worker: Option<serde_json::Value>,
}

impl<'de> Deserialize<'de> for Services {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let given = ServicesGiven::deserialize(deserializer)?;
        let defaults = Services::default();
        let role = |given: Option<serde_json::Value>, default: &ServiceSpec| {
            merged_onto(default, given).map_err(serde::de::Error::custom)
        };
        Ok(Self {
            internal_frontend: given
                .internal_frontend
                .map(|v| role(Some(v), &defaults.frontend))
                .transpose()?,
            frontend: role(given.frontend, &defaults.frontend)?,
            history: role(given.history, &defaults.history)?,
            matching: role(given.matching, &defaults.matching)?,
            worker: role(given.worker, &defaults.worker)?,
        })
    }
}

/// `given` laid over `default`: every field it sets, at any depth, replaces the default's; the
/// rest keep the default's values.
pub(crate) fn merged_onto<T: Serialize + serde::de::DeserializeOwned>(
    default: &T,
    given: Option<serde_json::Value>,
) -> Result<T, serde_json::Error> {
    fn merge(base: &mut serde_json::Value, given: serde_json::Value) {
        match (base, given) {
            (serde_json::Value::Object(base), serde_json::Value::Object(given)) => {
                for (key, value) in given {
                    match base.get_mut(&key) {
                        Some(slot) => merge(slot, value),
                        None => {
                            base.insert(key, value);
                        }
                    }
                }
            }
            (slot, given) => *slot = given,
        }
    }
    let mut base = serde_json::to_value(default)?;
    if let Some(given) = given {
        merge(&mut base, given);
    }
    serde_json::from_value(base)
}

impl Default for Services {
    fn default() -> Self {
        Self {
            frontend: ServiceSpec::with(2, "500m", "1Gi", "2", "2Gi"),
            internal_frontend: None,
            history: ServiceSpec::with(3, "1", "4Gi", "4", "8Gi"),
            matching: ServiceSpec::with(2, "500m", "1Gi", "2", "2Gi"),
            worker: ServiceSpec::with(2, "250m", "512Mi", "1", "1Gi"),
        }
    }
}

/// One Temporal service's pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Pod count. An autoscaler may take this field over; drift checks then leave it alone.
    pub replicas: i32,
    /// CPU and memory.
    #[serde(default)]
    pub resources: Resources,
    /// Spreading over zones and nodes.
    #[serde(default)]
    pub spread: Spread,
    /// The PodDisruptionBudget.
    #[serde(default)]
    pub disruption_budget: DisruptionBudget,
    /// Overrides the cluster's priority class for this service.
    #[serde(default)]
    pub priority_class_name: Option<String>,
    /// Node labels the pods must run on (`nodeSelector`); any node when empty.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// Node taints the pods tolerate.
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    /// Node affinity (`affinity.nodeAffinity`); none when unset. Left out of the serialized
    /// spec when unset, so specs written before it existed stay equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<NodeAffinity>,
}

/// Which nodes a role's pods must, and would rather, run on: Kubernetes' `NodeAffinity`
/// (core/v1), with one required term.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeAffinity {
    /// Expressions a node must match, all of them (ANDed into the one term of
    /// `requiredDuringSchedulingIgnoredDuringExecution`); any node when empty.
    #[serde(default)]
    pub required: Vec<NodeRequirement>,
    /// Expressions a node should match, each its own weighted term of
    /// `preferredDuringSchedulingIgnoredDuringExecution`.
    #[serde(default)]
    pub preferred: Vec<WeightedNodeRequirement>,
}

impl NodeAffinity {
    /// Whether it asks for nothing, so no `affinity` is rendered.
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.preferred.is_empty()
    }
}

/// One expression on a node label, as Kubernetes' `NodeSelectorRequirement` (core/v1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRequirement {
    /// The node label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` or `Lt`.
    pub operator: String,
    /// The values: one or more with `In` and `NotIn`, none with `Exists` and `DoesNotExist`,
    /// one integer with `Gt` and `Lt`.
    #[serde(default)]
    pub values: Vec<String>,
}

/// A node label expression the scheduler prefers, with its weight: one
/// `PreferredSchedulingTerm` (core/v1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedNodeRequirement {
    /// 1 to 100: added to a node's score when it matches.
    pub weight: i32,
    /// The node label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` or `Lt`.
    pub operator: String,
    /// The values, as for a required expression.
    #[serde(default)]
    pub values: Vec<String>,
}

/// A node taint the pods tolerate, as Kubernetes' `Toleration` (core/v1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toleration {
    /// The taint key; with `operator = "Exists"` and no key, every taint.
    #[serde(default)]
    pub key: Option<String>,
    /// `Equal` (the key's value must match) or `Exists` (any value).
    #[serde(default = "default_toleration_operator")]
    pub operator: String,
    /// The taint value, with `Equal`.
    #[serde(default)]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`; every effect when unset.
    #[serde(default)]
    pub effect: Option<String>,
    /// With `NoExecute`: how long a pod stays bound after the taint appears; forever when unset.
    #[serde(default)]
    pub toleration_seconds: Option<i64>,
}

fn default_toleration_operator() -> String {
    "Equal".into()
}

impl ServiceSpec {
    fn with(replicas: i32, cpu: &str, memory: &str, cpu_limit: &str, memory_limit: &str) -> Self {
        Self {
            replicas,
            resources: Resources {
                cpu_request: cpu.into(),
                memory_request: memory.into(),
                cpu_limit: cpu_limit.into(),
                memory_limit: memory_limit.into(),
            },
            spread: Spread::default(),
            disruption_budget: DisruptionBudget::default(),
            priority_class_name: None,
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            node_affinity: None,
        }
    }
}

impl Default for ServiceSpec {
    fn default() -> Self {
        Self::with(2, "500m", "1Gi", "2", "2Gi")
    }
}

/// Requests and limits, as Kubernetes quantities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Resources {
    /// CPU request.
    pub cpu_request: String,
    /// Memory request.
    pub memory_request: String,
    /// CPU limit.
    pub cpu_limit: String,
    /// Memory limit.
    pub memory_limit: String,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            cpu_request: "250m".into(),
            memory_request: "512Mi".into(),
            cpu_limit: "1".into(),
            memory_limit: "1Gi".into(),
        }
    }
}

/// Topology spread constraints, one per key, so replicas land in different zones and nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Spread {
    /// Node label keys to spread over, in order.
    pub topology_keys: Vec<String>,
    /// Largest allowed difference in pod count between two domains.
    pub max_skew: i32,
    /// `DoNotSchedule` (strict) or `ScheduleAnyway` (best effort).
    pub when_unsatisfiable: String,
}

impl Default for Spread {
    fn default() -> Self {
        Self {
            topology_keys: vec![
                "topology.kubernetes.io/zone".into(),
                "kubernetes.io/hostname".into(),
            ],
            max_skew: 1,
            when_unsatisfiable: "ScheduleAnyway".into(),
        }
    }
}

/// A PodDisruptionBudget; rendered only when there is more than one replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisruptionBudget {
    /// Whether to render it.
    pub enabled: bool,
    /// Pods that may be down at once during voluntary disruptions.
    pub max_unavailable: i32,
}

impl Default for DisruptionBudget {
    fn default() -> Self {
        Self {
            enabled: true,
            max_unavailable: 1,
        }
    }
}

/// The Temporal Web UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebUiSpec {
    /// Whether to render it.
    pub enabled: bool,
    /// Pod count.
    pub replicas: i32,
    /// CPU and memory; a part given keeps the UI's defaults for the rest.
    #[serde(deserialize_with = "ui_resources")]
    pub resources: Resources,
    /// The codec server the browser calls to decode payloads (an `https://` URL).
    pub codec_endpoint: Option<String>,
    /// Send the user's access token to the codec server.
    pub codec_pass_access_token: bool,
    /// Send cookies to the codec server.
    pub codec_include_credentials: bool,
    /// Sign-in through an OIDC provider.
    pub oidc: Option<UiOidcSpec>,
    /// An Ingress that publishes the UI at a host name; none when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
}

/// A `networking.k8s.io/v1` Ingress publishing one Service at one host, every path routed to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressSpec {
    /// The host name people reach it at (a DNS name, no wildcard).
    pub host: String,
    /// The IngressClass (`spec.ingressClassName`); the cluster's default class when unset.
    #[serde(default)]
    pub class_name: Option<String>,
    /// A Secret (`tls.crt`, `tls.key`) in the same namespace the ingress controller terminates
    /// TLS with for the host; the controller's default certificate when unset.
    #[serde(default)]
    pub tls_secret_name: Option<String>,
    /// Annotations for the ingress controller (e.g. `nginx.ingress.kubernetes.io/...`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Default for WebUiSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            replicas: 2,
            resources: Resources {
                cpu_request: "100m".into(),
                memory_request: "128Mi".into(),
                cpu_limit: "500m".into(),
                memory_limit: "256Mi".into(),
            },
            codec_endpoint: None,
            codec_pass_access_token: false,
            codec_include_credentials: false,
            oidc: None,
            ingress: None,
        }
    }
}

fn ui_resources<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Resources, D::Error> {
    let given = serde_json::Value::deserialize(deserializer)?;
    merged_onto(&WebUiSpec::default().resources, Some(given)).map_err(serde::de::Error::custom)
}

/// The Web UI's OIDC sign-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiOidcSpec {
    /// The issuer URL.
    pub provider_url: String,
    /// The client id.
    pub client_id: String,
    /// Where the client secret is.
    pub client_secret: SecretKeyRef,
    /// The UI's callback URL registered with the provider.
    pub callback_url: String,
    /// Scopes requested.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
}

fn default_scopes() -> Vec<String> {
    vec!["openid".into(), "profile".into(), "email".into()]
}

/// The admin tools Deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminToolsSpec {
    /// Whether to render it.
    pub enabled: bool,
    /// With authorization on: the Secret key holding the token (API key) the `temporal` CLI in
    /// the pod presents (`TEMPORAL_API_KEY`); the frontend refuses calls without one.
    pub api_key_secret: Option<SecretKeyRef>,
}

impl Default for AdminToolsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            api_key_secret: None,
        }
    }
}

/// A key of a Kubernetes Secret in the cluster's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyRef {
    /// The Secret's name.
    pub name: String,
    /// The key within it.
    pub key: String,
}

/// The two PostgreSQL stores Temporal needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersistenceSpec {
    /// Workflow state, history and task queues.
    pub default: SqlStoreSpec,
    /// Visibility (workflow listing and search).
    pub visibility: SqlStoreSpec,
}

/// One PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlStoreSpec {
    /// Host name, also the name TLS verifies (an IPv6 literal is bracketed where needed).
    pub host: String,
    /// Port (1 to 65535).
    #[serde(default = "default_port")]
    pub port: u32,
    /// Database name.
    pub database: String,
    /// User name.
    pub user: String,
    /// Where the password is; it reaches the server as an environment variable only.
    pub password_secret: SecretKeyRef,
    /// Connection pool size per pod.
    #[serde(default = "default_max_conns")]
    pub max_conns: u32,
    /// Idle connections kept per pod.
    #[serde(default = "default_max_conns")]
    pub max_idle_conns: u32,
    /// How long a connection lives, as a Go duration.
    #[serde(default = "default_conn_lifetime")]
    pub max_conn_lifetime: String,
    /// TLS to the database.
    #[serde(default)]
    pub tls: SqlTlsSpec,
    /// Run `temporal-sql-tool create-database` before the schema setup (it succeeds when the
    /// database exists). Needs a user allowed to `CREATE DATABASE`; turn it off when the
    /// database is created by someone else.
    #[serde(default = "yes")]
    pub create_database: bool,
}

fn default_port() -> u32 {
    5432
}
fn default_max_conns() -> u32 {
    20
}
fn default_conn_lifetime() -> String {
    "1h".into()
}

/// TLS to PostgreSQL. On by default and verified in full (chain and host name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SqlTlsSpec {
    /// Whether to use TLS.
    pub enabled: bool,
    /// `verify-full` (chain and host name) or `verify-ca` (chain only).
    pub mode: String,
    /// The CA bundle; the system roots when absent (`verify-ca` needs one).
    pub ca: Option<CaRef>,
    /// Refused for PostgreSQL: Temporal's postgres plugin verifies the host of its connect
    /// address and ignores any other name. Kept so that a spec that sets it gets an error.
    pub server_name: Option<String>,
}

impl Default for SqlTlsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            mode: "verify-full".into(),
            ca: None,
            server_name: None,
        }
    }
}

/// A CA bundle in a Secret or a ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaRef {
    /// `Secret` or `ConfigMap`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The key holding the PEM bundle.
    pub key: String,
}

/// Temporal's JWT authorization on the frontend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationSpec {
    /// JWKS URLs the signing keys are fetched from.
    pub jwt_key_source_uris: Vec<String>,
    /// How often the keys are fetched again, as a Go duration.
    #[serde(default = "default_refresh")]
    pub refresh_interval: String,
    /// The claim holding `<namespace>:<role>` permissions.
    #[serde(default = "default_permissions_claim")]
    pub permissions_claim_name: String,
    /// Temporal's authorizer; `default` checks the claims.
    #[serde(default = "default_plugin")]
    pub authorizer: String,
    /// Temporal's claim mapper; `default` reads the JWT.
    #[serde(default = "default_plugin")]
    pub claim_mapper: String,
    /// The `aud` a token must carry, when set.
    #[serde(default)]
    pub audience: Option<String>,
}

fn default_refresh() -> String {
    "1m".into()
}
fn default_permissions_claim() -> String {
    "permissions".into()
}
fn default_plugin() -> String {
    "default".into()
}

/// TLS for internode (service to service) and frontend (client to frontend) traffic.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSpec {
    /// Mutual TLS between Temporal services.
    pub internode: Option<TlsSource>,
    /// TLS on the frontend.
    pub frontend: Option<TlsSource>,
}

/// Where a certificate comes from. The Secret holds `tls.crt`, `tls.key` and `ca.crt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "source", rename_all = "snake_case")]
pub enum TlsSource {
    /// A Secret someone else keeps current.
    ExistingSecret {
        /// The Secret's name.
        secret_name: String,
    },
    /// A cert-manager `Certificate` rendered with the cluster, issued by this issuer.
    CertManager {
        /// The issuer's name.
        issuer_name: String,
        /// `Issuer` or `ClusterIssuer`.
        #[serde(default = "default_issuer_kind")]
        issuer_kind: String,
        /// Certificate lifetime, as a Go duration.
        #[serde(default = "default_cert_duration")]
        duration: String,
        /// Renew this long before expiry.
        #[serde(default = "default_renew_before")]
        renew_before: String,
        /// Names besides the Service names.
        #[serde(default)]
        extra_dns_names: Vec<String>,
    },
}

fn default_issuer_kind() -> String {
    "ClusterIssuer".into()
}
fn default_cert_duration() -> String {
    "2160h".into()
}
fn default_renew_before() -> String {
    "360h".into()
}

/// Metrics scraping (ServiceMonitor) and alerting (PrometheusRule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSpec {
    /// Render a ServiceMonitor for the Prometheus Operator.
    pub service_monitor: bool,
    /// Render a PrometheusRule with the shard, persistence and latency alerts.
    pub prometheus_rule: bool,
    /// Labels on the ServiceMonitor and PrometheusRule, so Prometheus selects them
    /// (kube-prometheus-stack selects `release: <its release name>`).
    pub labels: BTreeMap<String, String>,
    /// Scrape interval.
    pub scrape_interval: String,
    /// Persistence requests per second one history shard can take: the
    /// `shard_capacity_per_second` of `engram_history_shards` that sized the cluster (warning
    /// at 70%, critical at 90% on the busiest shard).
    pub shard_capacity_per_second: f64,
    /// p99 persistence latency budget in seconds (warning at 70%, critical at 90%).
    pub persistence_latency_budget_seconds: f64,
    /// p99 frontend request latency budget in seconds (warning at 70%, critical at 90%).
    pub frontend_latency_budget_seconds: f64,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        Self {
            service_monitor: true,
            prometheus_rule: true,
            labels: BTreeMap::new(),
            scrape_interval: "30s".into(),
            shard_capacity_per_second: 100.0,
            persistence_latency_budget_seconds: 0.5,
            frontend_latency_budget_seconds: 1.0,
        }
    }
}

/// NetworkPolicies: only the frontend and the UI are reachable from outside the namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSpec {
    /// Render the policies.
    pub policies: bool,
    /// CIDRs allowed to reach the frontend and the UI; empty means any source.
    pub allowed_cidrs: Vec<String>,
    /// The namespace Prometheus scrapes from.
    pub monitoring_namespace: String,
    /// The ingress controller that forwards people's calls to the Web UI's Ingress; admitted
    /// to the UI besides `allowed_cidrs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_controller: Option<PodPeer>,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            policies: true,
            allowed_cidrs: Vec::new(),
            monitoring_namespace: "monitoring".into(),
            ingress_controller: None,
        }
    }
}

/// The codec server: decrypts payloads for the Web UI and the CLI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodecServerSpec {
    /// Object name prefix.
    pub name: String,
    /// The Kubernetes namespace.
    pub namespace: String,
    /// The Temporal cluster it serves (its `engram.dev/cluster` label, and whose UI may call it).
    pub temporal_cluster: String,
    /// Create (and on destroy, delete) the namespace, labelled for restricted Pod Security: for
    /// a codec server applied before its cluster (the cluster's Web UI naming this server's
    /// endpoint), whose cluster then sets `create_namespace: false`. Always serialized: the
    /// Terraform plan is read from the serialized spec, and a `false` left out would plan null
    /// against a configured `false`.
    #[serde(default)]
    pub create_namespace: bool,
    /// The image running `engram codec-server`.
    #[serde(default = "default_codec_image")]
    pub image: String,
    /// Pod count.
    #[serde(default = "default_codec_replicas")]
    pub replicas: i32,
    /// CPU and memory.
    #[serde(default)]
    pub resources: Resources,
    /// The keyring document: data keys wrapped under the customer's key (ciphertext only).
    /// Kept in a Secret; never in annotations.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keyring: String,
    /// How the pods reach the KMS.
    pub kms: CodecKmsSpec,
    /// A Secret with `tls.crt` and `tls.key` the server presents.
    pub tls_secret_name: Option<String>,
    /// The oldest TLS version the server accepts, `1.2` or `1.3`. Always serialized, like
    /// `create_namespace`.
    #[serde(default = "default_tls_min_version")]
    pub tls_min_version: String,
    /// Web UI origins allowed by CORS, exactly as browsers send them.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Token checks.
    pub oidc: Option<CodecOidcSpec>,
    /// Temporal namespace → the source namespaces whose (format version 2) payloads it also
    /// opens: for Nexus operations, whose payloads cross namespaces on purpose. Empty: every
    /// payload opens only under the namespace it was sealed for. Left out of the serialized spec
    /// when empty, so specs written before it existed stay equal.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accepted_source_namespaces: BTreeMap<String, Vec<String>>,
    /// CIDRs of the people's networks allowed to reach it directly (the CLI, browsers).
    #[serde(default)]
    pub client_cidrs: Vec<String>,
    /// The ingress controller's pods that forward browsers' calls to it (the Web UI runs in the
    /// browser, so its calls arrive through the ingress, never from the UI's pods).
    #[serde(default)]
    pub ingress_controller: Option<PodPeer>,
    /// An Ingress publishing the server at a host name for people's browsers; its endpoint is
    /// then `https://<host>`. Left out of the serialized spec when unset, so specs written before
    /// it existed stay equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
}

/// Pods in another namespace, chosen by that namespace's name and pod labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodPeer {
    /// The namespace's name (`kubernetes.io/metadata.name`).
    pub namespace: String,
    /// Pod labels; every pod of the namespace when empty.
    #[serde(default)]
    pub pod_labels: BTreeMap<String, String>,
}

fn default_tls_min_version() -> String {
    "1.2".into()
}

fn default_codec_image() -> String {
    concat!("ghcr.io/engram-dev/engram:", env!("CARGO_PKG_VERSION")).into()
}
fn default_codec_replicas() -> i32 {
    2
}

/// The KMS the codec server unwraps keys with, and the pod identity it uses for that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodecKmsSpec {
    /// `aws`, `vault` or `local` (development only).
    pub provider: String,
    /// Settings passed as the server's environment (e.g. `ENGRAM_CODEC_AWS_KMS_KEY`, `AWS_REGION`,
    /// `VAULT_ADDR`). Not for secrets.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Cloud workload identity for the pods' ServiceAccount.
    #[serde(default)]
    pub workload_identity: WorkloadIdentity,
}

/// Annotations that bind the pods' ServiceAccount to a cloud identity.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadIdentity {
    /// AWS IRSA role ARN (`eks.amazonaws.com/role-arn`).
    pub aws_role_arn: Option<String>,
    /// Azure workload identity client id (`azure.workload.identity/client-id`).
    pub azure_client_id: Option<String>,
    /// GKE workload identity service account (`iam.gke.io/gcp-service-account`).
    pub gcp_service_account: Option<String>,
}

/// The codec server's token checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodecOidcSpec {
    /// The `iss` a token must carry.
    pub issuer: String,
    /// The issuer's JWKS URL.
    pub jwks_url: String,
    /// Audiences accepted.
    pub audiences: Vec<String>,
    /// The claim holding `<namespace>:<role>` permissions.
    #[serde(default = "default_permissions_claim")]
    pub permissions_claim: String,
    /// Clock skew tolerated on a token's `exp` and `nbf`, in seconds.
    #[serde(default = "default_jwt_leeway_seconds")]
    pub leeway_seconds: u64,
    /// A ConfigMap in the server's namespace whose `ca.crt` holds the CA certificates (PEM) that
    /// signed the JWKS URL's certificate, for an issuer with a private CA; the public roots are
    /// trusted either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_ca_config_map: Option<String>,
}

/// The codec server's own default clock skew (`--jwt-leeway-seconds`).
fn default_jwt_leeway_seconds() -> u64 {
    crate::codec::server::DEFAULT_LEEWAY_SECONDS
}

/// A keyring document written into a namespace as a Secret (key `keyring.json`), for the workers
/// that run there to mount and reload. Nothing but the document: wrapped data keys (ciphertext
/// only) that a reader unwraps through the KMS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringSecretSpec {
    /// The Secret's name (also its `app.kubernetes.io/instance` label).
    pub name: String,
    /// The Kubernetes namespace the workers run in.
    pub namespace: String,
    /// The keyring document: `engram_cmk_binding.<name>.keyring`.
    pub keyring: String,
}
