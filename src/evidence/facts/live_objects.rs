//! The live Kubernetes objects of one deployment, read once through the API: the namespaces of
//! the Temporal cluster and its codec server, their Deployments (found by the labels every
//! rendered object carries, src/deploy/labels.rs), the NetworkPolicies of those namespaces, and
//! the server configuration the Temporal pods mount. Only metadata and specs are kept; no Secret
//! is read.

use crate::deploy::{CLUSTER_LABEL, FIELD_MANAGER, STACK_LABEL, Stack};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long each request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Where a deployment's objects are read from.
#[derive(Clone)]
pub struct KubeTarget {
    /// A client of the cluster's API server.
    pub client: kube::Client,
    /// The API server's address, named when it cannot be reached.
    pub server: String,
    /// The Kubernetes namespace of the Temporal cluster.
    pub namespace: String,
    /// The Temporal cluster's name (`engram_temporal_cluster`'s `name`).
    pub cluster: String,
    /// The Kubernetes namespace of its codec server.
    pub codec_namespace: String,
}

impl std::fmt::Debug for KubeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeTarget")
            .field("server", &self.server)
            .field("namespace", &self.namespace)
            .field("cluster", &self.cluster)
            .field("codec_namespace", &self.codec_namespace)
            .finish_non_exhaustive()
    }
}

impl KubeTarget {
    /// The label selector of the Temporal cluster's objects.
    pub fn temporal_selector(&self) -> String {
        format!(
            "app.kubernetes.io/managed-by={FIELD_MANAGER},{STACK_LABEL}={},{CLUSTER_LABEL}={}",
            Stack::Temporal.label(),
            self.cluster
        )
    }

    /// The label selector of the codec servers that serve the cluster.
    pub fn codec_selector(&self) -> String {
        format!(
            "app.kubernetes.io/managed-by={FIELD_MANAGER},{STACK_LABEL}={},{CLUSTER_LABEL}={}",
            Stack::CodecServer.label(),
            self.cluster
        )
    }

    /// The namespaces read: the cluster's, and the codec server's when it differs.
    pub fn namespaces(&self) -> Vec<String> {
        let mut out = vec![self.namespace.clone()];
        if self.codec_namespace != self.namespace {
            out.push(self.codec_namespace.clone());
        }
        out
    }
}

/// A client of the API server a kubeconfig names (`path`, or the usual inference: KUBECONFIG,
/// `~/.kube/config`, in-cluster), and that server's address. Every request times out after
/// [`REQUEST_TIMEOUT`].
pub async fn connect(path: Option<&std::path::Path>) -> Result<(kube::Client, String), String> {
    let what = path.map_or(
        "the inferred kubeconfig (KUBECONFIG, ~/.kube/config or in-cluster)".to_string(),
        |p| format!("the kubeconfig {}", p.display()),
    );
    let mut config = match path {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read {what}: {e}"))?;
            kube::Config::from_custom_kubeconfig(file, &Default::default())
                .await
                .map_err(|e| format!("cannot use {what}: {e}"))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("cannot use {what}: {e}"))?,
    };
    config.connect_timeout = Some(REQUEST_TIMEOUT);
    config.read_timeout = Some(REQUEST_TIMEOUT);
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config)
        .map_err(|e| format!("cannot build a client of {server} from {what}: {e}"))?;
    Ok((client, server))
}

/// What was read.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The API server read from.
    pub server: String,
    /// The namespaces, by name.
    pub namespaces: BTreeMap<String, Namespace>,
    /// The Temporal cluster's Deployments (servers, Web UI, admin tools).
    pub temporal: Vec<Deployment>,
    /// The codec servers' Deployments.
    pub codec: Vec<Deployment>,
    /// The NetworkPolicies of each namespace read.
    pub policies: BTreeMap<String, Vec<NetworkPolicy>>,
}

/// A request, as a fact's method names it.
pub fn request(server: &str, path: &str) -> String {
    format!("GET {}{path}", server.trim_end_matches('/'))
}

/// Runs one read within [`REQUEST_TIMEOUT`]; the error names the request and the API server.
async fn within<T>(
    method: &str,
    call: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(kube::Error::Api(status))) => Err(format!(
            "{method} was refused: {} ({})",
            status.message, status.code
        )),
        Ok(Err(e)) => Err(format!("{method} got no answer: {e}")),
        Err(_) => Err(format!("{method} got no answer within {REQUEST_TIMEOUT:?}")),
    }
}

fn query(selector: &str) -> String {
    format!("?labelSelector={selector}")
}

/// Reads the namespaces, Deployments and NetworkPolicies of `target`; the first failed request
/// is the error, naming what was asked of which server.
pub async fn read(target: &KubeTarget) -> Result<Snapshot, String> {
    let server = &target.server;
    let mut snapshot = Snapshot {
        server: server.clone(),
        ..Snapshot::default()
    };
    let namespaces: Api<Namespace> = Api::all(target.client.clone());
    for name in target.namespaces() {
        let method = request(server, &format!("/api/v1/namespaces/{name}"));
        let namespace = within(&method, namespaces.get(&name)).await?;
        snapshot.namespaces.insert(name.clone(), namespace);
        let policies: Api<NetworkPolicy> = Api::namespaced(target.client.clone(), &name);
        let method = request(
            server,
            &format!("/apis/networking.k8s.io/v1/namespaces/{name}/networkpolicies"),
        );
        let list = within(&method, policies.list(&ListParams::default())).await?;
        snapshot.policies.insert(name, list.items);
    }
    for (namespace, selector, into) in [
        (
            &target.namespace,
            target.temporal_selector(),
            &mut snapshot.temporal,
        ),
        (
            &target.codec_namespace,
            target.codec_selector(),
            &mut snapshot.codec,
        ),
    ] {
        let api: Api<Deployment> = Api::namespaced(target.client.clone(), namespace);
        let method = request(
            server,
            &format!(
                "/apis/apps/v1/namespaces/{namespace}/deployments{}",
                query(&selector)
            ),
        );
        let list = within(&method, api.list(&ListParams::default().labels(&selector))).await?;
        *into = list.items;
    }
    Ok(snapshot)
}

/// Reads one ConfigMap's data; the error names the request and the API server.
pub async fn config_map(
    target: &KubeTarget,
    name: &str,
) -> Result<BTreeMap<String, String>, String> {
    let api: Api<ConfigMap> = Api::namespaced(target.client.clone(), &target.namespace);
    let method = request(
        &target.server,
        &format!("/api/v1/namespaces/{}/configmaps/{name}", target.namespace),
    );
    let map = within(&method, api.get(name)).await?;
    Ok(map.data.unwrap_or_default())
}

/// The most of each pod's log that is read.
pub const MAX_LOG_BYTES: i64 = 64 * 1024 * 1024;

/// The most codec server pods whose logs are read.
pub const MAX_LOG_PODS: usize = 20;

/// One pod's log, as the API server returned it.
#[derive(Debug, Clone)]
pub struct PodLog {
    /// `namespace/pod` and the container.
    pub source: String,
    /// The request that read it.
    pub method: String,
    /// The text, or why it could not be read.
    pub text: Result<String, String>,
}

/// The logs of the codec server's container in each of its pods (at most [`MAX_LOG_PODS`], the
/// first [`MAX_LOG_BYTES`] of each): the container running `codec-server`, or the pod's first.
/// The error is the pod list that could not be read.
pub async fn codec_logs(target: &KubeTarget) -> Result<Vec<PodLog>, String> {
    use k8s_openapi::api::core::v1::Pod;
    let ns = &target.codec_namespace;
    let api: Api<Pod> = Api::namespaced(target.client.clone(), ns);
    let selector = target.codec_selector();
    let method = request(
        &target.server,
        &format!("/api/v1/namespaces/{ns}/pods{}", query(&selector)),
    );
    let pods = within(&method, api.list(&ListParams::default().labels(&selector))).await?;
    let mut out = Vec::new();
    for pod in pods.items.into_iter().take(MAX_LOG_PODS) {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let containers = pod.spec.map(|s| s.containers).unwrap_or_default();
        let container = containers
            .iter()
            .find(|c| {
                c.args.as_ref().and_then(|a| a.first()).map(String::as_str) == Some("codec-server")
            })
            .or(containers.first())
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let method = request(
            &target.server,
            &format!(
                "/api/v1/namespaces/{ns}/pods/{name}/log?container={container}&limitBytes={MAX_LOG_BYTES}"
            ),
        );
        let params = kube::api::LogParams {
            container: Some(container.clone()),
            limit_bytes: Some(MAX_LOG_BYTES),
            ..kube::api::LogParams::default()
        };
        let text = within(&method, api.logs(&name, &params)).await;
        out.push(PodLog {
            source: format!("pod {ns}/{name} container {container}"),
            method,
            text,
        });
    }
    Ok(out)
}
