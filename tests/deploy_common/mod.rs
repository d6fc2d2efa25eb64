//! Shared by the deploy tests: a Kubernetes API test server serving every kind deploy/ writes
//! (cert-manager's Certificate included), a Deployer connected to it, and the example specs.
#![allow(dead_code)]

use engram::deploy::{Deployer, Inventory, ObjectId, Owner, ProgressEvent, Rendered, SpecFile};
use kube_api::{KubeApiServer, Options, ResourceType};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// The example spec file at `examples/deploy/<name>.yaml`.
pub fn example(name: &str) -> SpecFile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/deploy")
        .join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&path).expect("read example");
    SpecFile::parse(&text).expect("example parses")
}

/// A test server; with `auto_ready`, workloads become ready and Jobs complete on their own.
pub async fn server(auto_ready: bool) -> KubeApiServer {
    let mut options = Options::default();
    options.resources.push(ResourceType::custom(
        "cert-manager.io",
        "v1",
        "Certificate",
        "certificates",
    ));
    options.auto_ready = auto_ready.then_some(Duration::from_millis(5));
    KubeApiServer::start_with(options)
        .await
        .expect("start kube-api")
}

/// A deployer connected to the test server.
pub async fn deployer(server: &KubeApiServer) -> Deployer {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    Deployer::connect(Some(server.kubeconfig_path()), Duration::from_secs(5))
        .await
        .expect("connect")
}

/// The identities of the rendered objects.
pub fn ids(rendered: &Rendered) -> BTreeSet<ObjectId> {
    rendered.objects.iter().map(|m| m.id()).collect()
}

/// The identities of the live objects.
pub fn live_ids(inventory: &Inventory) -> BTreeSet<ObjectId> {
    inventory.objects.keys().cloned().collect()
}

/// Every object's resourceVersion, by identity.
pub fn versions(inventory: &Inventory) -> Vec<(ObjectId, String)> {
    inventory
        .objects
        .iter()
        .map(|(id, o)| {
            let version = o
                .pointer("/metadata/resourceVersion")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            (id.clone(), version)
        })
        .collect()
}

/// Records progress events.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<ProgressEvent>>);

impl engram::deploy::Progress for Recorder {
    fn report(&self, event: &ProgressEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

/// Fast polling for tests.
pub fn fast(timeout: Duration) -> engram::deploy::ApplyOptions {
    engram::deploy::ApplyOptions {
        timeout,
        poll_interval: Duration::from_millis(10),
        prune: true,
    }
}

/// The owners of both stacks of a spec file.
pub fn owners(rendered: &[Rendered]) -> Vec<Owner> {
    rendered.iter().map(|r| r.owner.clone()).collect()
}

/// A plain kube client for the test server, for what a person or another controller does.
pub async fn client(server: &KubeApiServer) -> kube::Client {
    let file = kube::config::Kubeconfig::read_from(server.kubeconfig_path()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

/// Creates a namespace, as a platform team would before deploying a codec server alone.
pub async fn create_namespace(server: &KubeApiServer, name: &str) {
    use k8s_openapi::api::core::v1::Namespace;
    let api: kube::Api<Namespace> = kube::Api::all(client(server).await);
    let namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
    api.create(&Default::default(), &namespace)
        .await
        .expect("create namespace");
}

/// A fresh test server (workloads ready on their own) with every stack of the example spec
/// `examples/deploy/<name>.yaml` applied as `engram apply` applies it, and a plain client.
pub async fn applied_example(name: &str) -> (KubeApiServer, kube::Client) {
    let server = server(true).await;
    let deployer = deployer(&server).await;
    let cancel = tokio_util::sync::CancellationToken::new();
    for stack in example(name).render().expect("example renders") {
        deployer
            .apply(
                &stack,
                &fast(Duration::from_secs(30)),
                &engram::deploy::NoProgress,
                &cancel,
            )
            .await
            .expect("example applies");
    }
    let client = client(&server).await;
    (server, client)
}
