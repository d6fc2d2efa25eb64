//! The Kubernetes client every deploy operation shares: one `kube::Client`, requests with a
//! timeout, and retries with backoff for the idempotent requests deploy/ makes (server-side
//! apply, GET, LIST, DELETE) when the server is briefly unavailable.

use super::error::DeployError;
use super::manifest::{Kind, ObjectId};
use kube::api::{Api, ApiResource, DynamicObject};
use std::future::Future;
use std::path::Path;
use std::time::Duration;

/// Attempts per request (the first and two retries).
const ATTEMPTS: u32 = 3;
/// The first retry's delay; it doubles each time.
const BACKOFF: Duration = Duration::from_millis(200);

/// Talks to one Kubernetes cluster on behalf of every deploy operation.
#[derive(Clone)]
pub struct Deployer {
    pub(crate) client: kube::Client,
    /// The API server's address, named in errors when it cannot be reached.
    server: String,
}

impl Deployer {
    /// Uses an existing client (the provider builds one and shares it) for the API server at
    /// `server`.
    pub fn new(client: kube::Client, server: String) -> Self {
        Self { client, server }
    }

    /// A failed request as an error that says what was done, to what, and what to do; one
    /// that never reached the server names the address it tried.
    pub(crate) fn api_error(
        &self,
        action: &'static str,
        object: impl ToString,
        error: &kube::Error,
    ) -> DeployError {
        DeployError::api(action, object, error, &self.server)
    }

    /// Connects with a kubeconfig file, or with the usual inference (KUBECONFIG, in-cluster)
    /// when no path is given. Every request times out after `request_timeout`.
    pub async fn connect(
        kubeconfig: Option<&Path>,
        request_timeout: Duration,
    ) -> Result<Self, DeployError> {
        let mut config = match kubeconfig {
            Some(path) => {
                let file = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| DeployError::Kubeconfig(e.to_string()))?;
                kube::Config::from_custom_kubeconfig(file, &Default::default())
                    .await
                    .map_err(|e| DeployError::Kubeconfig(e.to_string()))?
            }
            None => kube::Config::infer()
                .await
                .map_err(|e| DeployError::Kubeconfig(e.to_string()))?,
        };
        config.connect_timeout = Some(request_timeout);
        config.read_timeout = Some(request_timeout);
        config.write_timeout = Some(request_timeout);
        let server = config.cluster_url.to_string();
        let client =
            kube::Client::try_from(config).map_err(|e| DeployError::Kubeconfig(e.to_string()))?;
        Ok(Self { client, server })
    }

    /// The dynamic API of a kind, in a namespace (ignored for cluster-scoped kinds).
    pub(crate) fn api(&self, kind: Kind, namespace: &str) -> Api<DynamicObject> {
        let resource = api_resource(kind);
        if kind.namespaced() {
            Api::namespaced_with(self.client.clone(), namespace, &resource)
        } else {
            Api::all_with(self.client.clone(), &resource)
        }
    }

    /// The API addressing one object.
    pub(crate) fn api_for(&self, id: &ObjectId) -> Api<DynamicObject> {
        self.api(id.kind, &id.namespace)
    }
}

/// The kube-rs description of a kind.
fn api_resource(kind: Kind) -> ApiResource {
    let (group, version, name, plural) = kind.gvk();
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: kind.api_version(),
        kind: name.into(),
        plural: plural.into(),
    }
}

/// Whether a failed request may succeed when repeated.
fn transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Runs an idempotent request, retrying transient failures with doubling delays.
pub(crate) async fn retry<T, F, Fut>(mut call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = BACKOFF;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(error) if attempt < ATTEMPTS && transient(&error) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Whether the error is a 404 (the object, or the kind, does not exist).
pub(crate) fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}
