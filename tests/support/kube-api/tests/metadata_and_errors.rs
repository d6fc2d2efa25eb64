//! Object metadata the server sets and the Status errors it answers with, including 422 Invalid
//! for fields the real server refuses to change.

mod common;

use common::{api_error, deployment, start};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

fn apply() -> PatchParams {
    PatchParams::apply("test").force()
}

#[tokio::test]
async fn created_objects_get_a_uid_creation_timestamp_and_resource_version() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let map: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "a"}})).expect("map");
    let created = maps
        .create(&PostParams::default(), &map)
        .await
        .expect("create");
    assert_eq!(created.metadata.uid.as_deref().map(str::len), Some(36));
    assert!(created.metadata.creation_timestamp.is_some());
    assert!(created.metadata.resource_version.is_some());
    assert_eq!(
        created.metadata.generation, None,
        "config maps have no generation"
    );
}

#[tokio::test]
async fn resource_versions_increase_across_all_kinds() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let map: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "a"}})).expect("map");
    let first = maps
        .create(&PostParams::default(), &map)
        .await
        .expect("map");
    let second = deployments
        .patch(
            "web",
            &apply(),
            &Patch::Apply(&deployment("web", "nginx:1")),
        )
        .await
        .expect("deployment");
    let version = |v: Option<String>| {
        v.and_then(|v| v.parse::<u64>().ok())
            .expect("numeric resourceVersion")
    };
    assert!(version(second.metadata.resource_version) > version(first.metadata.resource_version));
}

#[tokio::test]
async fn generation_is_bumped_on_spec_changes_only() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let created = deployments
        .patch(
            "web",
            &apply(),
            &Patch::Apply(&deployment("web", "nginx:1")),
        )
        .await
        .expect("create");
    assert_eq!(created.metadata.generation, Some(1));
    let labels = json!({"metadata": {"labels": {"extra": "x"}}});
    let relabelled = deployments
        .patch("web", &PatchParams::default(), &Patch::Merge(&labels))
        .await
        .expect("labels");
    assert_eq!(relabelled.metadata.generation, Some(1));
    let image = deployments
        .patch(
            "web",
            &apply(),
            &Patch::Apply(&deployment("web", "nginx:2")),
        )
        .await
        .expect("image");
    assert_eq!(image.metadata.generation, Some(2));
}

#[tokio::test]
async fn writes_into_a_missing_namespace_are_404_namespace_not_found() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "nowhere");
    let map: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "a"}})).expect("map");
    let error = api_error(maps.create(&PostParams::default(), &map).await);
    assert_eq!((error.code, error.reason.as_str()), (404, "NotFound"));
    assert_eq!(error.message, "namespaces \"nowhere\" not found");
    let details = error.details.expect("details");
    assert_eq!(
        (details.name.as_str(), details.kind.as_str()),
        ("nowhere", "namespaces")
    );
}

#[tokio::test]
async fn invalid_names_are_422_invalid_with_a_field_cause() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let map: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "Not_Valid"}})).expect("map");
    let error = api_error(maps.create(&PostParams::default(), &map).await);
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    let causes = error.details.expect("details").causes;
    assert_eq!(causes[0].field, "metadata.name");
    assert_eq!(causes[0].reason, "FieldValueInvalid");
}

#[tokio::test]
async fn a_selector_that_does_not_match_the_template_is_422() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let mut manifest = deployment("web", "nginx:1");
    manifest["spec"]["selector"]["matchLabels"]["app"] = json!("other");
    let error = api_error(
        deployments
            .patch("web", &apply(), &Patch::Apply(&manifest))
            .await,
    );
    assert_eq!(error.code, 422);
    assert!(
        error
            .message
            .contains("`selector` does not match template `labels`"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn deployment_selector_is_immutable() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    deployments
        .patch(
            "web",
            &apply(),
            &Patch::Apply(&deployment("web", "nginx:1")),
        )
        .await
        .expect("create");
    let mut manifest = deployment("web", "nginx:1");
    manifest["spec"]["selector"]["matchLabels"]["tier"] = json!("x");
    manifest["spec"]["template"]["metadata"]["labels"]["tier"] = json!("x");
    let error = api_error(
        deployments
            .patch("web", &apply(), &Patch::Apply(&manifest))
            .await,
    );
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert!(
        error
            .message
            .starts_with("Deployment.apps \"web\" is invalid: spec.selector"),
        "{}",
        error.message
    );
    assert!(
        error.message.ends_with("field is immutable"),
        "{}",
        error.message
    );
}

fn stateful_set(service_name: &str, replicas: i32) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {
            "serviceName": service_name, "replicas": replicas,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "postgres:17"}]}}
        }
    })
}

#[tokio::test]
async fn statefulset_spec_fields_other_than_replicas_template_and_update_strategy_are_forbidden() {
    let f = start().await;
    let sets: Api<StatefulSet> = Api::namespaced(f.client.clone(), "default");
    sets.patch("db", &apply(), &Patch::Apply(&stateful_set("db", 1)))
        .await
        .expect("create");
    sets.patch("db", &apply(), &Patch::Apply(&stateful_set("db", 3)))
        .await
        .expect("replicas may change");
    let error = api_error(
        sets.patch("db", &apply(), &Patch::Apply(&stateful_set("other", 3)))
            .await,
    );
    assert_eq!(error.code, 422);
    assert!(
        error
            .message
            .contains("updates to statefulset spec for fields other than"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn service_cluster_ip_is_immutable_once_allocated() {
    let f = start().await;
    let services: Api<Service> = Api::namespaced(f.client.clone(), "default");
    let manifest = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}});
    let created = services
        .patch("s", &apply(), &Patch::Apply(&manifest))
        .await
        .expect("create");
    let allocated = created.spec.and_then(|s| s.cluster_ip).expect("allocated");
    let change = json!({"spec": {"clusterIP": "10.96.200.200"}});
    let error = api_error(
        services
            .patch("s", &PatchParams::default(), &Patch::Merge(&change))
            .await,
    );
    assert_eq!(error.code, 422);
    assert!(
        error.message.contains("spec.clusterIP"),
        "{}",
        error.message
    );
    let kept = services.get("s").await.expect("get");
    assert_eq!(kept.spec.and_then(|s| s.cluster_ip), Some(allocated));
}

#[tokio::test]
async fn job_template_is_immutable() {
    let f = start().await;
    let jobs: Api<Job> = Api::namespaced(f.client.clone(), "default");
    let job = |image: &str| {
        json!({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "schema"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "s", "image": image}]}}}
        })
    };
    jobs.patch("schema", &apply(), &Patch::Apply(&job("tool:1")))
        .await
        .expect("create");
    let error = api_error(
        jobs.patch("schema", &apply(), &Patch::Apply(&job("tool:2")))
            .await,
    );
    assert_eq!(error.code, 422);
    assert!(error.message.contains("spec.template"), "{}", error.message);
}

#[tokio::test]
async fn a_job_replaced_without_its_defaulted_fields_is_defaulted_before_validation() {
    let f = start().await;
    let jobs: Api<Job> = Api::namespaced(f.client.clone(), "default");
    let manifest = json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "schema"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "s", "image": "tool:1"}]}}}
    });
    let created = jobs
        .patch("schema", &apply(), &Patch::Apply(&manifest))
        .await
        .expect("create");
    let mut replacement: Job = serde_json::from_value(manifest).expect("job");
    replacement.metadata.resource_version = created.metadata.resource_version;
    replacement.metadata.labels = Some([("changed".to_string(), "yes".to_string())].into());
    jobs.replace("schema", &PostParams::default(), &replacement)
        .await
        .expect("the template is unchanged once defaulted");
}

#[tokio::test]
async fn immutable_config_maps_refuse_data_changes() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let manifest = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "1"}, "immutable": true});
    maps.patch("c", &apply(), &Patch::Apply(&manifest))
        .await
        .expect("create");
    let changed = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "2"}, "immutable": true});
    assert_eq!(
        api_error(maps.patch("c", &apply(), &Patch::Apply(&changed)).await).code,
        422
    );
}
