//! The defaults the real API server fills in, so drift logic sees what a cluster would store.

mod common;

use common::{deployment, start};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

fn apply() -> PatchParams {
    PatchParams::apply("test")
}

#[tokio::test]
async fn deployment_defaults_replicas_strategy_history_and_deadline() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let created = deployments
        .patch(
            "web",
            &apply(),
            &Patch::Apply(&deployment("web", "nginx:1.27")),
        )
        .await
        .expect("apply");
    let spec = created.spec;
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    let strategy = spec.strategy.expect("strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.expect("rolling update");
    assert_eq!(rolling.max_surge, Some(IntOrString::String("25%".into())));
    assert_eq!(
        rolling.max_unavailable,
        Some(IntOrString::String("25%".into()))
    );
}

#[tokio::test]
async fn pod_template_and_container_defaults_are_filled_in() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let mut manifest = deployment("web", "nginx:1.27");
    manifest["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(
            json!({"name": "latest", "image": "busybox:latest", "ports": [{"containerPort": 80}]}),
        );
    let created = deployments
        .patch("web", &apply(), &Patch::Apply(&manifest))
        .await
        .expect("apply");
    let pod = created.spec.template.spec.expect("pod spec");
    assert_eq!(pod.restart_policy.as_deref(), Some("Always"));
    assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(pod.scheduler_name.as_deref(), Some("default-scheduler"));
    assert_eq!(pod.termination_grace_period_seconds, Some(30));
    assert!(pod.security_context.is_some());
    let pinned = &pod.containers[0];
    assert_eq!(pinned.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(
        pinned.termination_message_path.as_deref(),
        Some("/dev/termination-log")
    );
    assert_eq!(pinned.termination_message_policy.as_deref(), Some("File"));
    let latest = &pod.containers[1];
    assert_eq!(latest.image_pull_policy.as_deref(), Some("Always"));
    assert_eq!(
        latest.ports.as_ref().expect("ports")[0].protocol.as_deref(),
        Some("TCP")
    );
}

#[tokio::test]
async fn service_gets_a_cluster_ip_tcp_ports_target_port_and_session_affinity() {
    let f = start().await;
    let services: Api<Service> = Api::namespaced(f.client.clone(), "default");
    let manifest = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"name": "grpc", "port": 7233}]}});
    let created = services
        .patch("s", &apply(), &Patch::Apply(&manifest))
        .await
        .expect("apply");
    let spec = created.spec.expect("spec");
    assert!(
        spec.cluster_ip
            .as_deref()
            .is_some_and(|ip| ip.starts_with("10.96."))
    );
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(spec.session_affinity.as_deref(), Some("None"));
    let port = &spec.ports.expect("ports")[0];
    assert_eq!(port.protocol.as_deref(), Some("TCP"));
    assert_eq!(port.target_port, Some(IntOrString::Int(7233)));
}

#[tokio::test]
async fn secret_string_data_is_folded_into_base64_data() {
    let f = start().await;
    let secrets: Api<Secret> = Api::namespaced(f.client.clone(), "default");
    let manifest = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"password": "hunter2"}});
    let created = secrets
        .patch("s", &apply(), &Patch::Apply(&manifest))
        .await
        .expect("apply");
    assert!(created.string_data.is_none());
    let data = created.data.expect("data");
    assert_eq!(data["password"].0, b"hunter2");
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    let raw = serde_json::to_value(secrets.get("s").await.expect("get")).expect("json");
    assert_eq!(raw["data"]["password"], "aHVudGVyMg==");
}

#[tokio::test]
async fn statefulset_defaults_pod_management_and_update_strategy() {
    let f = start().await;
    let sets: Api<StatefulSet> = Api::namespaced(f.client.clone(), "default");
    let manifest = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "postgres:17"}]}}}
    });
    let created = sets
        .patch("db", &apply(), &Patch::Apply(&manifest))
        .await
        .expect("apply");
    let spec = created.spec;
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("OrderedReady"));
    let strategy = spec.update_strategy.expect("update strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    assert_eq!(strategy.rolling_update.and_then(|r| r.partition), Some(0));
}

#[tokio::test]
async fn job_gets_backoff_limit_completions_and_a_generated_selector() {
    let f = start().await;
    let jobs: Api<Job> = Api::namespaced(f.client.clone(), "default");
    let manifest = json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "schema"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "s", "image": "tool:1"}]}}}
    });
    let created = jobs
        .patch("schema", &apply(), &Patch::Apply(&manifest))
        .await
        .expect("apply");
    let uid = created.metadata.uid.clone().expect("uid");
    let spec = created.spec.expect("spec");
    assert_eq!(
        (spec.backoff_limit, spec.completions, spec.parallelism),
        (Some(6), Some(1), Some(1))
    );
    let selector = spec
        .selector
        .and_then(|s| s.match_labels)
        .expect("selector");
    assert_eq!(
        selector.get("batch.kubernetes.io/controller-uid"),
        Some(&uid)
    );
    let labels = spec
        .template
        .metadata
        .and_then(|m| m.labels)
        .expect("template labels");
    assert_eq!(labels.get("job-name").map(String::as_str), Some("schema"));
    assert_eq!(
        spec.template.spec.and_then(|p| p.restart_policy).as_deref(),
        Some("Never")
    );
}

#[tokio::test]
async fn namespaces_get_the_name_label_and_the_kubernetes_finalizer() {
    let f = start().await;
    common::namespace(&f.client, "temporal").await;
    let namespaces: Api<Namespace> = Api::all(f.client.clone());
    let ns = namespaces.get("temporal").await.expect("get");
    let labels = ns.metadata.labels.expect("labels");
    assert_eq!(
        labels
            .get("kubernetes.io/metadata.name")
            .map(String::as_str),
        Some("temporal")
    );
    assert_eq!(
        ns.spec.and_then(|s| s.finalizers),
        Some(vec!["kubernetes".to_string()])
    );
    assert_eq!(ns.status.and_then(|s| s.phase).as_deref(), Some("Active"));
}

#[tokio::test]
async fn defaulted_fields_are_not_owned_by_the_applier() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let created = deployments
        .patch(
            "web",
            &apply(),
            &Patch::Apply(&deployment("web", "nginx:1")),
        )
        .await
        .expect("apply");
    let raw = serde_json::to_value(created).expect("json");
    let fields = &raw["metadata"]["managedFields"][0]["fieldsV1"];
    assert!(fields["f:spec"].get("f:replicas").is_none());
    assert!(fields["f:spec"].get("f:strategy").is_none());
}
