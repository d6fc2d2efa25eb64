//! The resource types the server serves: names, scope, and which features each one has.

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
            "Deployment" | "StatefulSet" | "Job" | "NetworkPolicy" | "PodDisruptionBudget"
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
        }
    }

    /// A namespaced custom resource, stored as an unstructured object with a generation.
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
        }
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
    ]
}

/// The Prometheus Operator kinds the provider creates, registered as custom resources.
pub fn prometheus_operator() -> Vec<ResourceType> {
    vec![
        ResourceType::custom(
            "monitoring.coreos.com",
            "v1",
            "ServiceMonitor",
            "servicemonitors",
        ),
        ResourceType::custom(
            "monitoring.coreos.com",
            "v1",
            "PrometheusRule",
            "prometheusrules",
        ),
    ]
}
