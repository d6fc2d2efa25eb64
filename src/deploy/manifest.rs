//! The rendered object model: each object as the JSON the API server receives, with its kind,
//! its place in the apply order, and a stable identity. Typed k8s-openapi values are converted
//! here once, so apply, drift and prune handle every kind the same way.

use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// The kinds deploy/ renders, in the order they are applied within a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `v1 Namespace`.
    Namespace,
    /// `v1 ServiceAccount`.
    ServiceAccount,
    /// `v1 Secret`.
    Secret,
    /// `v1 ConfigMap`.
    ConfigMap,
    /// `cert-manager.io/v1 Certificate`.
    Certificate,
    /// `v1 Service`.
    Service,
    /// `networking.k8s.io/v1 NetworkPolicy`.
    NetworkPolicy,
    /// `networking.k8s.io/v1 Ingress`.
    Ingress,
    /// `policy/v1 PodDisruptionBudget`.
    PodDisruptionBudget,
    /// `batch/v1 Job`.
    Job,
    /// `apps/v1 Deployment`.
    Deployment,
    /// `monitoring.coreos.com/v1 ServiceMonitor`.
    ServiceMonitor,
    /// `monitoring.coreos.com/v1 PrometheusRule`.
    PrometheusRule,
}

impl Kind {
    /// Every kind, in apply order.
    pub const ALL: [Kind; 13] = [
        Kind::Namespace,
        Kind::ServiceAccount,
        Kind::Secret,
        Kind::ConfigMap,
        Kind::Certificate,
        Kind::Service,
        Kind::NetworkPolicy,
        Kind::Ingress,
        Kind::PodDisruptionBudget,
        Kind::Job,
        Kind::Deployment,
        Kind::ServiceMonitor,
        Kind::PrometheusRule,
    ];

    /// `(group, version, kind, plural)`.
    pub fn gvk(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Kind::Namespace => ("", "v1", "Namespace", "namespaces"),
            Kind::ServiceAccount => ("", "v1", "ServiceAccount", "serviceaccounts"),
            Kind::Secret => ("", "v1", "Secret", "secrets"),
            Kind::ConfigMap => ("", "v1", "ConfigMap", "configmaps"),
            Kind::Certificate => ("cert-manager.io", "v1", "Certificate", "certificates"),
            Kind::Service => ("", "v1", "Service", "services"),
            Kind::NetworkPolicy => (
                "networking.k8s.io",
                "v1",
                "NetworkPolicy",
                "networkpolicies",
            ),
            Kind::Ingress => ("networking.k8s.io", "v1", "Ingress", "ingresses"),
            Kind::PodDisruptionBudget => (
                "policy",
                "v1",
                "PodDisruptionBudget",
                "poddisruptionbudgets",
            ),
            Kind::Job => ("batch", "v1", "Job", "jobs"),
            Kind::Deployment => ("apps", "v1", "Deployment", "deployments"),
            Kind::ServiceMonitor => (
                "monitoring.coreos.com",
                "v1",
                "ServiceMonitor",
                "servicemonitors",
            ),
            Kind::PrometheusRule => (
                "monitoring.coreos.com",
                "v1",
                "PrometheusRule",
                "prometheusrules",
            ),
        }
    }

    /// The kind's name, e.g. `Deployment`.
    pub fn name(self) -> &'static str {
        self.gvk().2
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(self) -> String {
        let (group, version, _, _) = self.gvk();
        if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        self != Kind::Namespace
    }

    /// Whether the kind is a custom resource that may not be installed in a cluster.
    pub fn is_custom(self) -> bool {
        matches!(
            self,
            Kind::Certificate | Kind::ServiceMonitor | Kind::PrometheusRule
        )
    }

    /// The kind named by an object's `apiVersion` and `kind`.
    pub fn of(api_version: &str, kind: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == kind && k.api_version() == api_version)
    }
}

/// When an object is applied. Every object of a step is applied (and its workloads waited for)
/// before the next step begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// The namespace.
    Namespace,
    /// Identities, secrets, configuration, certificates, Services, policies, budgets.
    Foundation,
    /// Database schema setup, waited for.
    SchemaSetup,
    /// Database schema update to the target version, waited for.
    SchemaUpdate,
    /// Temporal's history service.
    History,
    /// Temporal's matching service.
    Matching,
    /// Temporal's frontends.
    Frontend,
    /// Temporal's system worker.
    Worker,
    /// What users reach last: Web UI, admin tools, codec server, monitoring.
    Edge,
}

/// Which object: kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    /// The kind.
    pub kind: Kind,
    /// The namespace, empty for cluster-scoped kinds.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind.name(), self.name)
        } else {
            write!(f, "{} {}/{}", self.kind.name(), self.namespace, self.name)
        }
    }
}

/// One rendered object.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Its kind.
    pub kind: Kind,
    /// When it is applied.
    pub step: Step,
    /// The whole object, as sent to the API server.
    pub object: Value,
}

impl Manifest {
    /// Converts a typed k8s-openapi object (or any serializable object with `apiVersion` and
    /// `kind`).
    pub fn new(kind: Kind, step: Step, object: &impl Serialize) -> Self {
        let mut object = serde_json::to_value(object).unwrap_or(Value::Null);
        object["apiVersion"] = Value::String(kind.api_version());
        object["kind"] = Value::String(kind.name().to_string());
        Self { kind, step, object }
    }

    /// Its identity.
    pub fn id(&self) -> ObjectId {
        let text = |pointer: &str| {
            self.object
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        ObjectId {
            kind: self.kind,
            namespace: if self.kind.namespaced() {
                text("/metadata/namespace")
            } else {
                String::new()
            },
            name: text("/metadata/name"),
        }
    }
}

/// Writes objects as one YAML stream (`---` separated), in the given order.
pub fn to_yaml_stream(objects: &[Manifest]) -> String {
    let mut out = String::new();
    for manifest in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&manifest.object).unwrap_or_default());
    }
    out
}
