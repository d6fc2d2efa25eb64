//! Who owns an object: the labels every rendered object carries and the selector that finds
//! them again. Ownership is by label so that prune, destroy, drift and import LIST once per kind
//! instead of reading objects one by one.

use std::collections::BTreeMap;

/// The field manager every write is recorded under.
pub const FIELD_MANAGER: &str = "engram";
/// The label naming the Temporal cluster an object belongs to.
pub const CLUSTER_LABEL: &str = "engram.dev/cluster";
/// The label telling the stacks apart.
pub const STACK_LABEL: &str = "engram.dev/stack";
/// The annotation carrying the cluster's history shard count on every Temporal object.
pub const SHARD_COUNT_ANNOTATION: &str = "engram.dev/history-shard-count";
/// The annotation carrying the non-secret spec, from which import rebuilds it.
pub const SPEC_ANNOTATION: &str = "engram.dev/spec";
/// The annotation carrying the Temporal version the cluster runs, for the upgrade check.
pub const VERSION_ANNOTATION: &str = "engram.dev/temporal-version";
/// The pod-template annotation that changes when the configuration does, so pods restart.
pub const CONFIG_HASH_ANNOTATION: &str = "engram.dev/config-hash";

/// Which kind of deployment an object belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stack {
    /// A Temporal cluster (servers, UI, admin tools, schema jobs).
    Temporal,
    /// A codec server.
    CodecServer,
    /// A keyring document in a Secret, for the workers of a namespace.
    KeyringSecret,
}

impl Stack {
    /// The value of [`STACK_LABEL`].
    pub fn label(self) -> &'static str {
        match self {
            Stack::Temporal => "temporal-cluster",
            Stack::CodecServer => "codec-server",
            Stack::KeyringSecret => "keyring-secret",
        }
    }

    /// The value of `app.kubernetes.io/name`.
    fn app_name(self) -> &'static str {
        match self {
            Stack::Temporal => "temporal",
            Stack::CodecServer => "engram-codec-server",
            Stack::KeyringSecret => "engram-keyring",
        }
    }
}

/// One deployment's identity: everything it renders is labelled with it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    /// Which stack.
    pub stack: Stack,
    /// The namespace its objects live in.
    pub namespace: String,
    /// The instance name (cluster, codec server or keyring Secret name).
    pub instance: String,
    /// The Temporal cluster it belongs to; empty for a deployment that belongs to none (a
    /// keyring Secret serves whichever workers mount it), whose objects then carry no
    /// [`CLUSTER_LABEL`].
    pub cluster: String,
}

impl Owner {
    /// The labels of an object of this deployment in the given component.
    pub fn labels(&self, component: &str) -> BTreeMap<String, String> {
        let mut labels = self.selector_labels(component);
        labels.insert("app.kubernetes.io/part-of".into(), "temporal".into());
        labels.insert("app.kubernetes.io/managed-by".into(), FIELD_MANAGER.into());
        if !self.cluster.is_empty() {
            labels.insert(CLUSTER_LABEL.into(), self.cluster.clone());
        }
        labels.insert(STACK_LABEL.into(), self.stack.label().into());
        labels
    }

    /// The labels that pick a component's pods (stable for the life of a Deployment).
    pub fn selector_labels(&self, component: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "app.kubernetes.io/name".into(),
                self.stack.app_name().into(),
            ),
            ("app.kubernetes.io/instance".into(), self.instance.clone()),
            ("app.kubernetes.io/component".into(), component.into()),
        ])
    }

    /// The label selector that finds every object of this deployment.
    pub fn selector(&self) -> String {
        format!(
            "app.kubernetes.io/managed-by={FIELD_MANAGER},{STACK_LABEL}={},app.kubernetes.io/instance={}",
            self.stack.label(),
            self.instance
        )
    }
}

/// A short, stable, non-cryptographic digest (FNV-1a, 64 bits) used to roll pods when their
/// configuration changes.
pub fn digest(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_names_manager_stack_and_instance() {
        let owner = Owner {
            stack: Stack::CodecServer,
            namespace: "ns".into(),
            instance: "codec".into(),
            cluster: "prod".into(),
        };
        assert_eq!(
            owner.selector(),
            "app.kubernetes.io/managed-by=engram,engram.dev/stack=codec-server,app.kubernetes.io/instance=codec"
        );
        let labels = owner.labels("codec-server");
        assert_eq!(labels[CLUSTER_LABEL], "prod");
        assert_eq!(labels["app.kubernetes.io/component"], "codec-server");
    }

    #[test]
    fn a_keyring_secret_belongs_to_no_cluster() {
        let owner = Owner {
            stack: Stack::KeyringSecret,
            namespace: "payments".into(),
            instance: "payments-keyring".into(),
            cluster: String::new(),
        };
        assert_eq!(
            owner.selector(),
            "app.kubernetes.io/managed-by=engram,engram.dev/stack=keyring-secret,app.kubernetes.io/instance=payments-keyring"
        );
        let labels = owner.labels("keyring");
        assert!(!labels.contains_key(CLUSTER_LABEL), "{labels:?}");
        assert_eq!(labels[STACK_LABEL], "keyring-secret");
        assert_eq!(labels["app.kubernetes.io/name"], "engram-keyring");
    }

    #[test]
    fn digest_is_stable_and_sensitive() {
        assert_eq!(digest("a"), digest("a"));
        assert_ne!(digest("a"), digest("b"));
        assert_eq!(digest("").len(), 16);
    }
}
