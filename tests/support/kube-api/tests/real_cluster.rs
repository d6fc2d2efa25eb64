//! Choosing between this server and a real cluster (`ENGRAM_TEST_REAL_CLUSTER=1` with
//! `KUBECONFIG`). Only the local branch can run here: no real cluster is reachable on these
//! machines, so the real branch is checked for its selection logic and compiled, not exercised.

mod common;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube_api::{Selection, TestCluster, select};
use std::path::PathBuf;

#[test]
fn the_real_cluster_is_chosen_only_when_asked_for_and_a_kubeconfig_is_given() {
    assert_eq!(select(None, None).ok(), Some(Selection::Local));
    assert_eq!(
        select(None, Some("/home/me/.kube/config")).ok(),
        Some(Selection::Local),
        "KUBECONFIG alone does not select a real cluster"
    );
    assert_eq!(select(Some("0"), Some("/k")).ok(), Some(Selection::Local));
    assert_eq!(
        select(Some("1"), Some("/k")).ok(),
        Some(Selection::Real(PathBuf::from("/k")))
    );
}

#[test]
fn asking_for_a_real_cluster_without_a_kubeconfig_is_an_error_not_a_fallback() {
    let error = select(Some("1"), None).expect_err("must fail");
    assert!(error.to_string().contains("KUBECONFIG"), "{error}");
    assert!(select(Some("1"), Some("")).is_err());
}

#[tokio::test]
async fn from_env_or_start_gives_a_working_cluster_for_the_environment() {
    let cluster = TestCluster::from_env_or_start().await.expect("cluster");
    if cluster.is_real() {
        eprintln!(
            "running against the real cluster in {}; the test handle is not available",
            cluster.kubeconfig_path().display()
        );
        assert!(cluster.handle().is_none());
    } else {
        assert!(cluster.handle().is_some());
    }
    let client = common::client_for(cluster.kubeconfig_path()).await;
    let namespaces: Api<Namespace> = Api::all(client);
    assert!(namespaces.get("default").await.is_ok());
}
