//! Why a deploy operation failed, each with what to do about it.

use super::manifest::ObjectId;
use super::validate::SpecError;
use super::version::UpgradeError;

/// A failed apply, drift check, destroy or import.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The kubeconfig cannot be loaded.
    #[error(
        "cannot load the Kubernetes configuration: {0}; set KUBECONFIG or the provider's kubeconfig path"
    )]
    Kubeconfig(String),
    /// The spec is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The Temporal version change is not allowed.
    #[error(transparent)]
    Upgrade(#[from] UpgradeError),
    /// The API server refused or failed a request.
    #[error("{action} {object}: {message}{hint}")]
    Api {
        /// What was being done (`apply`, `list`, ...).
        action: &'static str,
        /// The object or kind.
        object: String,
        /// The server's message.
        message: String,
        /// What to do.
        hint: String,
        /// The HTTP status, when there was one.
        code: Option<u16>,
    },
    /// A custom resource kind the spec renders is not installed.
    #[error(
        "{object}: the cluster does not serve {kind}; install its CRDs ({operator}) or turn the feature off in the spec"
    )]
    MissingKind {
        /// The object that could not be written.
        object: ObjectId,
        /// The kind.
        kind: &'static str,
        /// Who provides it.
        operator: &'static str,
    },
    /// A schema Job failed; nothing after it was rolled out.
    #[error(
        "schema job {job} failed ({reason}: {message}); fix the database access it reports, then apply again (the rollout stopped before any server changed)"
    )]
    SchemaJobFailed {
        /// The Job.
        job: ObjectId,
        /// The Job's failure reason.
        reason: String,
        /// The Job's failure message.
        message: String,
    },
    /// A workload did not become ready in time.
    #[error(
        "{object} is not ready after {waited_seconds}s: {ready}/{desired} replicas ready; conditions: {conditions}; check `kubectl describe` and the pods' events, then apply again"
    )]
    RolloutTimeout {
        /// The stuck workload.
        object: ObjectId,
        /// Ready replicas.
        ready: i32,
        /// Desired replicas.
        desired: i32,
        /// Its conditions, as `Type=Status (Reason: message)`.
        conditions: String,
        /// How long was waited.
        waited_seconds: u64,
    },
    /// A Deployment reported that its rollout cannot progress.
    #[error("{object} cannot roll out ({reason}: {message}); fix the cause, then apply again")]
    RolloutFailed {
        /// The workload.
        object: ObjectId,
        /// The condition's reason.
        reason: String,
        /// The condition's message.
        message: String,
    },
    /// The caller cancelled the operation.
    #[error(
        "cancelled during {during}; objects written so far are labelled and the next apply or destroy picks them up"
    )]
    Cancelled {
        /// Where it was.
        during: String,
    },
    /// The cluster's shard count is not the spec's.
    #[error(
        "history shard count mismatch: the spec says {desired}, {origin} says {live}; the shard count of a Temporal cluster cannot change: keep {live}, or deploy a new cluster (see docs/guides/shard-sizing.md)"
    )]
    ShardCountMismatch {
        /// The spec's value.
        desired: u32,
        /// The live value.
        live: u32,
        /// Where the live value came from.
        origin: &'static str,
    },
    /// Import found nothing.
    #[error("{what} was not found; check the namespace and name (import ID `<namespace>/<name>`)")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// Import found an object it cannot rebuild a spec from.
    #[error("{object} cannot be imported: {reason}")]
    NotImportable {
        /// The object.
        object: ObjectId,
        /// Why.
        reason: String,
    },
    /// Destroy ended with objects still present.
    #[error(
        "objects still present after destroy: {remaining}; they may have finalizers: check `kubectl get` them and destroy again"
    )]
    DestroyIncomplete {
        /// The objects.
        remaining: String,
    },
}

impl DeployError {
    /// Wraps a kube error with the action, the object and the server it was sent to.
    pub(crate) fn api(
        action: &'static str,
        object: impl ToString,
        error: &kube::Error,
        server: &str,
    ) -> Self {
        let (code, message) = match error {
            kube::Error::Api(status) => (Some(status.code), status.message.clone()),
            other => (None, other.to_string()),
        };
        let hint = match code {
            Some(401) => "; the credentials in the kubeconfig were refused: log in again",
            Some(403) => {
                "; the identity in the kubeconfig lacks RBAC permission for this: grant it"
            }
            Some(409) => "; another writer changed the object at the same time: apply again",
            Some(422) => "; the API server rejected the object: check the spec values it names",
            Some(429) | Some(500..=599) => {
                "; the API server is overloaded or failing: apply again when it recovers (objects already written are kept and converge)"
            }
            None => {
                return DeployError::Api {
                    action,
                    object: object.to_string(),
                    message,
                    hint: format!(
                        "; the API server at {server} could not be reached: check that address (the kubeconfig's server, or the provider's kubernetes.host) and the network"
                    ),
                    code,
                };
            }
            _ => "",
        }
        .to_string();
        DeployError::Api {
            action,
            object: object.to_string(),
            message,
            hint,
            code,
        }
    }
}
