//! Drift and import against the Kubernetes API test server: server defaults and an
//! autoscaler's replica count are not drift; a person's image change, a deleted object and an
//! object the spec no longer renders are; apply repairs them without taking replicas back.

mod deploy_common;

use deploy_common::*;
use engram::deploy::{Change, Kind, NoProgress, ObjectId, render_temporal_cluster};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const LONG: Duration = Duration::from_secs(30);

#[tokio::test]
async fn out_of_band_edits_are_classified_and_apply_repairs_them() {
    let server = server(true).await;
    let deployer = deployer(&server).await;
    let kube = client(&server).await;
    let temporal = example("production").render().unwrap().remove(0);
    let cancel = CancellationToken::new();
    deployer
        .apply(&temporal, &fast(LONG), &NoProgress, &cancel)
        .await
        .unwrap();
    let clean = deployer.drift(&temporal).await.unwrap();
    assert!(clean.is_clean(), "{:?}", clean.drifts);
    assert_eq!(clean.live_shard_count, Some(2048));
    assert_eq!(clean.objects_checked, temporal.objects.len());

    let deployments: Api<Deployment> = Api::namespaced(kube.clone(), "temporal-prod");
    let autoscaler = PatchParams {
        field_manager: Some("horizontal-pod-autoscaler".into()),
        ..PatchParams::default()
    };
    deployments
        .patch(
            "prod-history",
            &autoscaler,
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    let report = deployer.drift(&temporal).await.unwrap();
    assert!(
        report.is_clean(),
        "an autoscaler's replicas are not drift: {:?}",
        report.drifts
    );

    let person = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..PatchParams::default()
    };
    deployments
        .patch(
            "prod-frontend",
            &person,
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "frontend", "image": "temporalio/server:1.29.0-hotfix"}
            ]}}}})),
        )
        .await
        .unwrap();
    let services: Api<Service> = Api::namespaced(kube.clone(), "temporal-prod");
    services
        .delete("prod-matching", &DeleteParams::default())
        .await
        .unwrap();
    let report = deployer.drift(&temporal).await.unwrap();
    let frontend = ObjectId {
        kind: Kind::Deployment,
        namespace: "temporal-prod".into(),
        name: "prod-frontend".into(),
    };
    let matching = ObjectId {
        kind: Kind::Service,
        namespace: "temporal-prod".into(),
        name: "prod-matching".into(),
    };
    assert_eq!(report.drifts.len(), 2, "{:?}", report.drifts);
    assert!(
        report
            .drifts
            .iter()
            .any(|d| d.object == matching && d.change == Change::Missing)
    );
    assert!(report.drifts.iter().any(|d| d.object == frontend
        && d.change
            == Change::Field {
                path: "spec.template.spec.containers[name=frontend].image".into(),
                desired: Some(json!("temporalio/server:1.32.0")),
                live: Some(json!("temporalio/server:1.29.0-hotfix")),
            }));

    deployer
        .apply(&temporal, &fast(LONG), &NoProgress, &cancel)
        .await
        .unwrap();
    let repaired = deployer.drift(&temporal).await.unwrap();
    assert!(repaired.is_clean(), "{:?}", repaired.drifts);
    let history = deployments.get("prod-history").await.unwrap();
    assert_eq!(
        history.spec.replicas,
        Some(5),
        "apply leaves the autoscaler's replica count alone"
    );
}

#[tokio::test]
async fn objects_the_spec_no_longer_renders_are_reported_then_pruned() {
    let server = server(true).await;
    let deployer = deployer(&server).await;
    let mut spec = example("quickstart").temporal_cluster.unwrap();
    let cancel = CancellationToken::new();
    deployer
        .apply(
            &render_temporal_cluster(&spec).unwrap(),
            &fast(LONG),
            &NoProgress,
            &cancel,
        )
        .await
        .unwrap();
    spec.admin_tools.enabled = false;
    let smaller = render_temporal_cluster(&spec).unwrap();
    let report = deployer.drift(&smaller).await.unwrap();
    let unexpected: Vec<_> = report
        .drifts
        .iter()
        .filter(|d| d.change == Change::Unexpected)
        .collect();
    assert_eq!(unexpected.len(), 1, "{:?}", report.drifts);
    assert_eq!(unexpected[0].object.name, "temporal-admin-tools");
    assert!(
        report.drifts.iter().all(|d| d.change == Change::Unexpected
            || matches!(&d.change, Change::Field { path, .. } if path == "metadata.annotations.engram.dev/spec")),
        "only the spec annotation and the extra object differ: {:?}",
        report.drifts
    );
    let applied = deployer
        .apply(&smaller, &fast(LONG), &NoProgress, &cancel)
        .await
        .unwrap();
    assert_eq!(applied.pruned.len(), 1);
    assert!(deployer.drift(&smaller).await.unwrap().is_clean());
}

#[tokio::test]
async fn import_rebuilds_both_specs_from_the_cluster() {
    let server = server(true).await;
    let deployer = deployer(&server).await;
    let file = example("production");
    let cancel = CancellationToken::new();
    for stack in file.render().unwrap() {
        deployer
            .apply(&stack, &fast(LONG), &NoProgress, &cancel)
            .await
            .unwrap();
    }
    let temporal = deployer
        .import_temporal_cluster("temporal-prod", "prod")
        .await
        .unwrap();
    assert_eq!(Some(temporal), file.temporal_cluster);
    let codec = deployer
        .import_codec_server("temporal-prod", "codec")
        .await
        .unwrap();
    assert_eq!(Some(codec), file.codec_server);
    let missing = deployer
        .import_temporal_cluster("temporal-prod", "nope")
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("was not found"), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_cluster_drift_check_lists_once_per_kind_and_takes_under_100_ms() {
    let server = server(true).await;
    let deployer = deployer(&server).await;
    let temporal = example("production").render().unwrap().remove(0);
    deployer
        .apply(
            &temporal,
            &fast(LONG),
            &NoProgress,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    let mut took = Duration::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let report = deployer.drift(&temporal).await.unwrap();
        took = took.min(started.elapsed());
        assert!(report.is_clean());
        assert_eq!(
            report.requests,
            Kind::ALL.len(),
            "one LIST per kind, nothing per object"
        );
    }
    assert!(
        took < Duration::from_millis(100),
        "drift check took {took:?}"
    );
}
