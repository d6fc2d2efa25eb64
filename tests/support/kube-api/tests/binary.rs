//! The `kube-api-server` binary serves until stopped and writes a kubeconfig that kube-rs loads.

mod common;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn the_binary_prints_its_url_and_kubeconfig_and_serves() {
    let directory = tempfile::tempdir().expect("temp dir");
    let kubeconfig = directory.path().join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube-api-server"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = lines.next_line().await.expect("read").expect("url line");
    let written = lines
        .next_line()
        .await
        .expect("read")
        .expect("kubeconfig line");
    assert!(url.starts_with("url=http://127.0.0.1:"), "{url}");
    assert_eq!(written, format!("kubeconfig={}", kubeconfig.display()));
    let client = common::client_for(&kubeconfig).await;
    let namespaces: Api<Namespace> = Api::all(client);
    assert!(namespaces.get("kube-system").await.is_ok());
    child.kill().await.expect("stopped");
}
