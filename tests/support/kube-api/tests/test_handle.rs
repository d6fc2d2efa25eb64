//! The test handle that stands in for the controllers: workload readiness, Job outcomes and the
//! auto-ready mode, through the Rust API and the admin HTTP endpoint.

mod common;

use common::{deployment, raw, start};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use kube_api::{KubeApiServer, ObjectRef, Options};
use serde_json::json;
use std::time::Duration;

fn job(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "s", "image": "tool:1"}]}}}
    })
}

#[tokio::test]
async fn mark_ready_reports_every_replica_ready_at_the_current_generation() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let mut manifest = deployment("web", "nginx:1");
    manifest["spec"]["replicas"] = json!(3);
    deployments
        .patch("web", &PatchParams::apply("m"), &Patch::Apply(&manifest))
        .await
        .expect("apply");
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    deployments
        .patch("web", &PatchParams::apply("m"), &Patch::Apply(&manifest))
        .await
        .expect("apply");
    f.server
        .handle()
        .mark_ready(&ObjectRef::new("apps/v1", "Deployment", "default", "web"))
        .expect("ready");
    let status = deployments
        .get("web")
        .await
        .expect("get")
        .status
        .expect("status");
    assert_eq!(status.observed_generation, Some(2));
    assert_eq!(
        (
            status.ready_replicas,
            status.available_replicas,
            status.updated_replicas
        ),
        (Some(3), Some(3), Some(3))
    );
    let conditions = status.conditions.expect("conditions");
    assert!(conditions.iter().any(|c| c.type_.as_deref() == Some("Available") && c.status.as_deref() == Some("True")));
}

#[tokio::test]
async fn statefulsets_can_be_marked_ready() {
    let f = start().await;
    let sets: Api<StatefulSet> = Api::namespaced(f.client.clone(), "default");
    let manifest = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"serviceName": "db", "replicas": 2, "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "postgres:17"}]}}}
    });
    sets.patch("db", &PatchParams::apply("m"), &Patch::Apply(&manifest))
        .await
        .expect("apply");
    f.server
        .handle()
        .mark_ready(&ObjectRef::new("apps/v1", "StatefulSet", "default", "db"))
        .expect("ready");
    let status = sets.get("db").await.expect("get").status.expect("status");
    assert_eq!(
        (status.ready_replicas, status.observed_generation),
        (Some(2), Some(1))
    );
}

#[tokio::test]
async fn a_completed_job_satisfies_the_kube_runtime_job_condition() {
    let f = start().await;
    let jobs: Api<Job> = Api::namespaced(f.client.clone(), "default");
    jobs.patch(
        "schema",
        &PatchParams::apply("m"),
        &Patch::Apply(&job("schema")),
    )
    .await
    .expect("apply");
    f.server
        .handle()
        .complete_job("default", "schema")
        .expect("complete");
    let done = tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(jobs, "schema", conditions::is_job_completed()),
    )
    .await
    .expect("in time")
    .expect("watch");
    assert_eq!(
        done.and_then(|j| j.status).and_then(|s| s.succeeded),
        Some(1)
    );
}

#[tokio::test]
async fn a_failed_job_carries_the_failed_condition_with_reason_and_message() {
    let f = start().await;
    let jobs: Api<Job> = Api::namespaced(f.client.clone(), "default");
    jobs.patch(
        "schema",
        &PatchParams::apply("m"),
        &Patch::Apply(&job("schema")),
    )
    .await
    .expect("apply");
    f.server
        .handle()
        .fail_job(
            "default",
            "schema",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        )
        .expect("fail");
    let status = jobs
        .get("schema")
        .await
        .expect("get")
        .status
        .expect("status");
    let failed = status
        .conditions
        .expect("conditions")
        .into_iter()
        .find(|c| c.type_ == "Failed")
        .expect("Failed condition");
    assert_eq!(
        (failed.status.as_str(), failed.reason.as_deref()),
        ("True", Some("BackoffLimitExceeded"))
    );
    assert_eq!(status.failed, Some(7));
}

#[tokio::test]
async fn the_admin_endpoint_sets_status_marks_ready_and_finishes_jobs() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    deployments
        .patch(
            "web",
            &PatchParams::apply("m"),
            &Patch::Apply(&deployment("web", "nginx:1")),
        )
        .await
        .expect("apply");
    let target = json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "default", "name": "web"});
    let (ready, _) = raw(
        &f.client,
        "POST",
        "/__admin/ready",
        "application/json",
        target.clone(),
    )
    .await;
    assert_eq!(ready, 200);
    assert_eq!(
        deployments
            .get("web")
            .await
            .expect("get")
            .status
            .and_then(|s| s.ready_replicas),
        Some(1)
    );
    let mut custom = target;
    custom["status"] = json!({"observedGeneration": 1, "updatedReplicas": 1, "readyReplicas": 0});
    let (set, body) = raw(
        &f.client,
        "POST",
        "/__admin/status",
        "application/json",
        custom,
    )
    .await;
    // readyReplicas is `omitempty` in DeploymentStatus: a 0 is not stored.
    assert_eq!(
        (
            set,
            body["status"]["updatedReplicas"].as_i64(),
            body["status"].get("readyReplicas")
        ),
        (200, Some(1), None)
    );
    let jobs: Api<Job> = Api::namespaced(f.client.clone(), "default");
    jobs.patch(
        "schema",
        &PatchParams::apply("m"),
        &Patch::Apply(&job("schema")),
    )
    .await
    .expect("apply");
    let (finished, job_body) = raw(
        &f.client,
        "POST",
        "/__admin/jobs/default/schema",
        "application/json",
        json!({"outcome": "Complete"}),
    )
    .await;
    assert_eq!(
        (finished, job_body["status"]["succeeded"].as_i64()),
        (200, Some(1))
    );
    let (missing, status) = raw(
        &f.client,
        "POST",
        "/__admin/jobs/default/none",
        "application/json",
        json!({"outcome": "Complete"}),
    )
    .await;
    assert_eq!(
        (missing, status["reason"].as_str()),
        (404, Some("NotFound"))
    );
}

#[tokio::test]
async fn auto_ready_mode_marks_workloads_ready_after_the_delay() {
    let options = Options {
        auto_ready: Some(Duration::from_millis(50)),
        ..Options::default()
    };
    let server = KubeApiServer::start_with(options).await.expect("start");
    let client = common::client_for(server.kubeconfig_path()).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deployments
        .patch(
            "web",
            &PatchParams::apply("m"),
            &Patch::Apply(&deployment("web", "nginx:1")),
        )
        .await
        .expect("apply");
    let jobs: Api<Job> = Api::namespaced(client, "default");
    jobs.patch(
        "schema",
        &PatchParams::apply("m"),
        &Patch::Apply(&job("schema")),
    )
    .await
    .expect("apply");
    tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(deployments, "web", conditions::is_deployment_completed()),
    )
    .await
    .expect("deployment ready in time")
    .expect("watch");
    tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(jobs, "schema", conditions::is_job_completed()),
    )
    .await
    .expect("job complete in time")
    .expect("watch");
}
