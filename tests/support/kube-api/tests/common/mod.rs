//! Shared by the conformance tests: a started server and a kube-rs client for it.

#![allow(dead_code)]

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use kube_api::KubeApiServer;
use serde_json::json;

/// A server and a client that talks to it.
pub struct Fixture {
    pub server: KubeApiServer,
    pub client: Client,
}

/// A kube-rs client loaded from a kubeconfig file, exactly as a user's would be.
pub async fn client_for(path: &std::path::Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(path).expect("kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube-rs accepts the kubeconfig");
    Client::try_from(config).expect("client builds")
}

/// A client like [`client_for`] but without kube-rs's default retry of 429, 503 and 504, so tests
/// see those answers themselves.
pub async fn client_without_retry(path: &std::path::Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(path).expect("kubeconfig parses");
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube-rs accepts the kubeconfig");
    config.default_retry = false;
    Client::try_from(config).expect("client builds")
}

/// Starts a server and connects a client to it.
pub async fn start() -> Fixture {
    let server = KubeApiServer::start().await.expect("server starts");
    let client = client_for(server.kubeconfig_path()).await;
    Fixture { server, client }
}

/// Starts a server without any CRD (only the built-in kinds) and connects a client to it.
pub async fn start_bare() -> Fixture {
    let server = KubeApiServer::start_without_crds()
        .await
        .expect("server starts");
    let client = client_for(server.kubeconfig_path()).await;
    Fixture { server, client }
}

/// Starts a server with the bundled CRDs installed and connects a client to it.
pub async fn start_with_crds() -> Fixture {
    let server = KubeApiServer::start_with_bundled_crds()
        .await
        .expect("server starts");
    let client = client_for(server.kubeconfig_path()).await;
    Fixture { server, client }
}

/// Sends a request without a body and returns the HTTP status, the Content-Type and the body.
pub async fn raw_text(client: &Client, method: &str, path: &str) -> (u16, String, String) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .body(Vec::new())
        .expect("request");
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .expect("response");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        content_type,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// Creates a namespace.
pub async fn namespace(client: &Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace created");
}

/// The `Status` of a failed kube-rs call.
pub fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Sends a raw request and returns the HTTP status and JSON body.
pub async fn raw(
    client: &Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body)
        .expect("request");
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .expect("response");
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, value)
}

/// A Deployment manifest with one container.
pub fn deployment(name: &str, image: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    })
}
