//! The resource types the server serves: names, scope, and which features each one has.

use crate::crd::{CustomInfo, SchemaNode};
use std::sync::Arc;

/// One resource type (e.g. `deployments` in `apps/v1`).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// API group, empty for the core group.
    pub group: String,
    /// API version within the group.
    pub version: String,
    /// The kind, e.g. `Deployment`.
    pub kind: String,
    /// The plural resource name used in URLs.
    pub plural: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names kubectl accepts.
    pub short_names: Vec<String>,
    /// Whether a `/status` subresource keeps status apart from the main object.
    pub has_status: bool,
    /// Whether `metadata.generation` is kept and bumped on spec changes.
    pub has_generation: bool,
    /// For custom resources: the CRD that defines the type (`None` until it is installed).
    pub(crate) custom: Option<Arc<CustomInfo>>,
    /// Whether the type is a custom resource (served from a CRD).
    pub(crate) is_custom: bool,
    /// Whether the type is served; a deleted CRD's type stays in the list, unserved.
    pub(crate) served: bool,
}

impl ResourceType {
    fn builtin(
        group: &str,
        kind: &str,
        plural: &str,
        namespaced: bool,
        short_names: &[&str],
        has_status: bool,
    ) -> Self {
        let has_generation = matches!(
            kind,
            "Deployment"
                | "StatefulSet"
                | "Job"
                | "NetworkPolicy"
                | "Ingress"
                | "PodDisruptionBudget"
                | "CustomResourceDefinition"
        );
        Self {
            group: group.to_string(),
            version: "v1".to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
            namespaced,
            short_names: short_names.iter().map(|s| s.to_string()).collect(),
            has_status,
            has_generation,
            custom: None,
            is_custom: false,
            served: true,
        }
    }

    /// A namespaced custom resource. Listed in [`crate::Options::resources`], it is served from a
    /// CustomResourceDefinition installed at start: the published CRD when the kind is one the
    /// server bundles (ServiceMonitor, PrometheusRule, Certificate), otherwise one whose schema
    /// keeps every field.
    pub fn custom(group: &str, version: &str, kind: &str, plural: &str) -> Self {
        Self {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
            namespaced: true,
            short_names: Vec::new(),
            has_status: false,
            has_generation: true,
            custom: None,
            is_custom: true,
            served: true,
        }
    }

    /// The type a CustomResourceDefinition defines (its storage version).
    pub(crate) fn from_crd(crd: &serde_json::Value) -> Option<Self> {
        let text = |pointer: &str| {
            crd.pointer(pointer)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (version, info) = crate::crd::storage_version(crd)?;
        let short_names = crd
            .pointer("/spec/names/shortNames")
            .and_then(serde_json::Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            group: text("/spec/group"),
            version,
            kind: text("/spec/names/kind"),
            plural: text("/spec/names/plural"),
            namespaced: text("/spec/scope") != "Cluster",
            short_names,
            has_status: info.status_subresource,
            has_generation: true,
            custom: Some(Arc::new(info)),
            is_custom: true,
            served: true,
        })
    }

    /// The CRD schema of a custom resource type.
    pub(crate) fn custom_schema(&self) -> Option<&SchemaNode> {
        self.custom.as_ref().map(|c| &c.schema)
    }

    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The lower-case kind, used as the singular name.
    pub fn singular(&self) -> String {
        self.kind.to_lowercase()
    }
}

/// Where Namespace sits in every server's resource list.
pub const NAMESPACES: usize = 0;

/// The built-in kinds the provider uses, Namespace first.
pub fn builtin() -> Vec<ResourceType> {
    let b = ResourceType::builtin;
    vec![
        b("", "Namespace", "namespaces", false, &["ns"], true),
        b("", "ConfigMap", "configmaps", true, &["cm"], false),
        b("", "Secret", "secrets", true, &[], false),
        b("", "Service", "services", true, &["svc"], true),
        b("", "Pod", "pods", true, &["po"], true),
        b(
            "",
            "ServiceAccount",
            "serviceaccounts",
            true,
            &["sa"],
            false,
        ),
        b("apps", "Deployment", "deployments", true, &["deploy"], true),
        b("apps", "StatefulSet", "statefulsets", true, &["sts"], true),
        b("batch", "Job", "jobs", true, &[], true),
        b(
            "networking.k8s.io",
            "NetworkPolicy",
            "networkpolicies",
            true,
            &["netpol"],
            false,
        ),
        b(
            "networking.k8s.io",
            "Ingress",
            "ingresses",
            true,
            &["ing"],
            true,
        ),
        b(
            "policy",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
            &["pdb"],
            true,
        ),
        b(
            "rbac.authorization.k8s.io",
            "Role",
            "roles",
            true,
            &[],
            false,
        ),
        b(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            "rolebindings",
            true,
            &[],
            false,
        ),
        b(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
            &["crd", "crds"],
            true,
        ),
    ]
}
