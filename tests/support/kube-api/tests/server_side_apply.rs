//! Server-side apply: creation, managedFields, conflicts, force, removal and list merging, as the
//! real API server's field manager does them.

mod common;

use common::{api_error, deployment, raw, start};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

const APPLY: &str = "application/apply-patch+yaml";
const PATH: &str = "/apis/apps/v1/namespaces/default/deployments/web";

fn fields_v1(object: &Value, manager: &str) -> Value {
    object["metadata"]["managedFields"]
        .as_array()
        .and_then(|entries| entries.iter().find(|e| e["manager"] == manager))
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn apply_creates_with_201_and_updates_with_200() {
    let f = start().await;
    let mut manifest = deployment("web", "nginx:1.27");
    let (created, _) = raw(
        &f.client,
        "PATCH",
        &format!("{PATH}?fieldManager=a"),
        APPLY,
        manifest.clone(),
    )
    .await;
    manifest["spec"]["replicas"] = json!(3);
    let (updated, body) = raw(
        &f.client,
        "PATCH",
        &format!("{PATH}?fieldManager=a"),
        APPLY,
        manifest,
    )
    .await;
    assert_eq!((created, updated), (201, 200));
    assert_eq!(body["spec"]["replicas"], 3);
}

#[tokio::test]
async fn apply_records_managed_fields_in_fields_v1_form() {
    let f = start().await;
    let mut manifest = deployment("web", "nginx:1.27");
    manifest["spec"]["replicas"] = json!(2);
    manifest["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["--port", "80"]);
    let (_, body) = raw(
        &f.client,
        "PATCH",
        &format!("{PATH}?fieldManager=engram"),
        APPLY,
        manifest,
    )
    .await;
    let entry = &body["metadata"]["managedFields"][0];
    assert_eq!(entry["operation"], "Apply");
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert_eq!(entry["apiVersion"], "apps/v1");
    let expected = json!({
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
                    ".": {}, "f:args": {}, "f:image": {}, "f:name": {}
                }}}
            }
        }
    });
    assert_eq!(entry["fieldsV1"], expected);
}

#[tokio::test]
async fn create_records_an_update_entry_for_its_manager() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let map: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"k": "v"}}))
            .expect("map");
    let params = PostParams {
        field_manager: Some("creator".into()),
        ..PostParams::default()
    };
    let created = maps.create(&params, &map).await.expect("created");
    let entries = created.metadata.managed_fields.expect("managed fields");
    assert_eq!(entries[0].manager.as_deref(), Some("creator"));
    assert_eq!(entries[0].operation.as_deref(), Some("Update"));
}

#[tokio::test]
async fn another_manager_changing_an_owned_field_gets_409_field_manager_conflict() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let mut manifest = deployment("web", "nginx:1.27");
    manifest["spec"]["replicas"] = json!(2);
    deployments
        .patch(
            "web",
            &PatchParams::apply("first"),
            &Patch::Apply(&manifest),
        )
        .await
        .expect("first apply");
    manifest["spec"]["replicas"] = json!(5);
    let result = deployments
        .patch(
            "web",
            &PatchParams::apply("second"),
            &Patch::Apply(&manifest),
        )
        .await;
    let error = api_error(result);
    assert_eq!((error.code, error.reason.as_str()), (409, "Conflict"));
    assert!(
        error.message.contains("conflict with \"first\""),
        "{}",
        error.message
    );
    let causes = error.details.expect("details").causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert_eq!(causes[0].field, ".spec.replicas");
}

#[tokio::test]
async fn an_update_by_another_manager_takes_ownership_so_the_next_apply_conflicts() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let mut manifest = deployment("web", "nginx:1.27");
    manifest["spec"]["replicas"] = json!(2);
    deployments
        .patch(
            "web",
            &PatchParams::apply("engram"),
            &Patch::Apply(&manifest),
        )
        .await
        .expect("apply");
    let scale = json!({"spec": {"replicas": 5}});
    let edit = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..PatchParams::default()
    };
    deployments
        .patch("web", &edit, &Patch::Merge(&scale))
        .await
        .expect("edit");
    let object = serde_json::to_value(deployments.get("web").await.expect("get")).expect("json");
    let entry = object["metadata"]["managedFields"]
        .as_array()
        .and_then(|entries| entries.iter().find(|e| e["manager"] == "kubectl-edit"))
        .cloned()
        .expect("an Update entry");
    assert_eq!(entry["operation"], "Update");
    assert!(entry["fieldsV1"]["f:spec"].get("f:replicas").is_some());
    assert!(
        fields_v1(&object, "engram")["f:spec"]
            .get("f:replicas")
            .is_none()
    );
    let error = api_error(
        deployments
            .patch(
                "web",
                &PatchParams::apply("engram"),
                &Patch::Apply(&manifest),
            )
            .await,
    );
    assert_eq!(error.code, 409);
    assert!(
        error.message.contains("conflict with \"kubectl-edit\""),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn force_takes_ownership_of_the_conflicting_fields() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let mut manifest = deployment("web", "nginx:1.27");
    manifest["spec"]["replicas"] = json!(2);
    deployments
        .patch(
            "web",
            &PatchParams::apply("first"),
            &Patch::Apply(&manifest),
        )
        .await
        .expect("first apply");
    manifest["spec"]["replicas"] = json!(5);
    let forced = deployments
        .patch(
            "web",
            &PatchParams::apply("second").force(),
            &Patch::Apply(&manifest),
        )
        .await
        .expect("forced apply");
    assert_eq!(forced.spec.replicas, Some(5));
    let object = serde_json::to_value(deployments.get("web").await.expect("get")).expect("json");
    assert!(
        fields_v1(&object, "first")["f:spec"]
            .get("f:replicas")
            .is_none()
    );
    assert!(
        fields_v1(&object, "second")["f:spec"]
            .get("f:replicas")
            .is_some()
    );
}

#[tokio::test]
async fn the_same_value_from_two_managers_is_shared_without_conflict() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let manifest = deployment("web", "nginx:1.27");
    deployments
        .patch(
            "web",
            &PatchParams::apply("first"),
            &Patch::Apply(&manifest),
        )
        .await
        .expect("first");
    deployments
        .patch(
            "web",
            &PatchParams::apply("second"),
            &Patch::Apply(&manifest),
        )
        .await
        .expect("second shares");
    let object = serde_json::to_value(deployments.get("web").await.expect("get")).expect("json");
    assert!(
        fields_v1(&object, "first")["f:spec"]
            .get("f:selector")
            .is_some()
    );
    assert!(
        fields_v1(&object, "second")["f:spec"]
            .get("f:selector")
            .is_some()
    );
}

#[tokio::test]
async fn fields_a_manager_stops_sending_are_removed() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}, "data": {"x": "1", "y": "2"}});
    maps.patch("c", &PatchParams::apply("m"), &Patch::Apply(&first))
        .await
        .expect("first");
    let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"x": "1"}});
    let map = maps
        .patch("c", &PatchParams::apply("m"), &Patch::Apply(&second))
        .await
        .expect("second");
    let data = map.data.expect("data");
    assert_eq!(data.keys().collect::<Vec<_>>(), vec!["x"]);
    let labels = map.metadata.labels.expect("labels");
    assert_eq!(labels.keys().collect::<Vec<_>>(), vec!["a"]);
}

#[tokio::test]
async fn list_items_a_manager_stops_sending_are_removed() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let mut manifest = deployment("web", "nginx:1.27");
    manifest["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(
            json!({"name": "sidecar", "image": "envoy:1.30", "env": [{"name": "A", "value": "1"}]}),
        );
    deployments
        .patch("web", &PatchParams::apply("m"), &Patch::Apply(&manifest))
        .await
        .expect("both");
    let applied = deployments
        .patch(
            "web",
            &PatchParams::apply("m"),
            &Patch::Apply(&deployment("web", "nginx:1.27")),
        )
        .await
        .expect("one");
    let containers = applied.spec.template.spec.expect("pod").containers;
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["app"]);
}

#[tokio::test]
async fn fields_another_manager_owns_survive_when_one_manager_drops_them() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let both = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1", "y": "2"}});
    maps.patch("c", &PatchParams::apply("one"), &Patch::Apply(&both))
        .await
        .expect("one");
    maps.patch("c", &PatchParams::apply("two"), &Patch::Apply(&both))
        .await
        .expect("two");
    let fewer = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1"}});
    let map = maps
        .patch("c", &PatchParams::apply("one"), &Patch::Apply(&fewer))
        .await
        .expect("one again");
    assert_eq!(
        map.data.expect("data").get("y").map(String::as_str),
        Some("2")
    );
}

#[tokio::test]
async fn containers_from_two_managers_merge_by_name() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let manifest = deployment("web", "nginx:1.27");
    deployments
        .patch("web", &PatchParams::apply("app"), &Patch::Apply(&manifest))
        .await
        .expect("app");
    let sidecar = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "proxy", "image": "envoy:1.30"}]}}}
    });
    let merged = deployments
        .patch("web", &PatchParams::apply("mesh"), &Patch::Apply(&sidecar))
        .await
        .expect("mesh");
    let names: Vec<String> = merged
        .spec
        .template
        .spec
        .expect("pod")
        .containers
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["app", "proxy"]);
}

#[tokio::test]
async fn env_merges_by_name_while_args_and_selectors_are_atomic() {
    let f = start().await;
    let (_, _) = raw(
        &f.client,
        "PATCH",
        &format!("{PATH}?fieldManager=a"),
        APPLY,
        {
            let mut m = deployment("web", "nginx:1.27");
            m["spec"]["template"]["spec"]["containers"][0]["env"] =
                json!([{"name": "A", "value": "1"}]);
            m["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["one", "two"]);
            m
        },
    )
    .await;
    let patch = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}], "args": ["three"]}]}}}
    });
    let (code, body) = raw(
        &f.client,
        "PATCH",
        &format!("{PATH}?fieldManager=b&force=true"),
        APPLY,
        patch,
    )
    .await;
    assert_eq!(code, 200);
    let container = &body["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    );
    assert_eq!(container["args"], json!(["three"]));
}

#[tokio::test]
async fn service_ports_merge_by_port_and_protocol() {
    let f = start().await;
    let services: Api<Service> = Api::namespaced(f.client.clone(), "default");
    let one = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"name": "http", "port": 80}]}});
    services
        .patch("s", &PatchParams::apply("a"), &Patch::Apply(&one))
        .await
        .expect("a");
    let two = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"name": "grpc", "port": 7233}]}});
    let service = services
        .patch("s", &PatchParams::apply("b"), &Patch::Apply(&two))
        .await
        .expect("b");
    let ports: Vec<i32> = service
        .spec
        .expect("spec")
        .ports
        .expect("ports")
        .iter()
        .map(|p| p.port)
        .collect();
    assert_eq!(ports, vec![80, 7233]);
    let object = serde_json::to_value(services.get("s").await.expect("get")).expect("json");
    assert!(
        fields_v1(&object, "b")["f:spec"]["f:ports"]
            .get("k:{\"port\":7233,\"protocol\":\"TCP\"}")
            .is_some()
    );
}

#[tokio::test]
async fn an_apply_that_changes_nothing_keeps_the_resource_version() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let manifest = deployment("web", "nginx:1.27");
    let first = deployments
        .patch("web", &PatchParams::apply("m"), &Patch::Apply(&manifest))
        .await
        .expect("first");
    let again = deployments
        .patch("web", &PatchParams::apply("m"), &Patch::Apply(&manifest))
        .await
        .expect("again");
    assert_eq!(
        first.metadata.resource_version,
        again.metadata.resource_version
    );
    assert_eq!(first.metadata.generation, again.metadata.generation);
}

#[tokio::test]
async fn reapplying_unchanged_fields_shared_with_another_manager_keeps_the_resource_version() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let manifest = deployment("web", "nginx:1.27");
    deployments
        .patch("web", &PatchParams::apply("a"), &Patch::Apply(&manifest))
        .await
        .expect("a");
    let shared = deployments
        .patch("web", &PatchParams::apply("b"), &Patch::Apply(&manifest))
        .await
        .expect("b");
    let again = deployments
        .patch("web", &PatchParams::apply("a"), &Patch::Apply(&manifest))
        .await
        .expect("a again");
    assert_eq!(
        shared.metadata.resource_version,
        again.metadata.resource_version
    );
}

#[tokio::test]
async fn dry_run_all_returns_the_result_without_storing_it() {
    let f = start().await;
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), "default");
    let manifest = deployment("web", "nginx:1.27");
    deployments
        .patch("web", &PatchParams::apply("m"), &Patch::Apply(&manifest))
        .await
        .expect("apply");
    let mut changed = manifest.clone();
    changed["spec"]["replicas"] = json!(4);
    let params = PatchParams::apply("m").dry_run();
    let preview = deployments
        .patch("web", &params, &Patch::Apply(&changed))
        .await
        .expect("dry run");
    assert_eq!(preview.spec.replicas, Some(4));
    let stored = deployments.get("web").await.expect("get");
    assert_eq!(stored.spec.replicas, Some(1));
    assert_eq!(
        preview.metadata.resource_version,
        stored.metadata.resource_version
    );
    let created = deployments
        .patch(
            "other",
            &params,
            &Patch::Apply(&deployment("other", "nginx")),
        )
        .await;
    assert!(created.is_ok());
    assert!(deployments.get_opt("other").await.expect("get").is_none());
}

#[tokio::test]
async fn apply_with_a_name_or_kind_that_disagrees_with_the_url_is_400() {
    let f = start().await;
    let (name_code, name_body) = raw(
        &f.client,
        "PATCH",
        &format!("{PATH}?fieldManager=m"),
        APPLY,
        deployment("other", "nginx"),
    )
    .await;
    let mut wrong_kind = deployment("web", "nginx");
    wrong_kind["kind"] = json!("StatefulSet");
    let (kind_code, _) = raw(
        &f.client,
        "PATCH",
        &format!("{PATH}?fieldManager=m"),
        APPLY,
        wrong_kind,
    )
    .await;
    let mut wrong_version = deployment("web", "nginx");
    wrong_version["apiVersion"] = json!("apps/v1beta1");
    let (version_code, _) = raw(
        &f.client,
        "PATCH",
        &format!("{PATH}?fieldManager=m"),
        APPLY,
        wrong_version,
    )
    .await;
    assert_eq!((name_code, kind_code, version_code), (400, 400, 400));
    assert_eq!(name_body["reason"], "BadRequest");
}

#[tokio::test]
async fn apply_without_a_field_manager_is_422_invalid_patch_options() {
    let f = start().await;
    let (code, body) = raw(&f.client, "PATCH", PATH, APPLY, deployment("web", "nginx")).await;
    assert_eq!((code, body["reason"].as_str()), (422, Some("Invalid")));
    assert_eq!(
        body["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    assert_eq!(body["details"]["kind"], "PatchOptions");
    assert_eq!(body["details"]["group"], "meta.k8s.io");
    assert_eq!(body["details"]["causes"][0]["field"], "fieldManager");
}

#[tokio::test]
async fn apply_bodies_are_parsed_as_yaml() {
    let f = start().await;
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  k: v\n";
    let request = http::Request::patch("/api/v1/namespaces/default/configmaps/y?fieldManager=m")
        .header("content-type", APPLY)
        .body(yaml.as_bytes().to_vec())
        .expect("request");
    let map: ConfigMap = f.client.request(request).await.expect("yaml apply");
    assert_eq!(
        map.data.expect("data").get("k").map(String::as_str),
        Some("v")
    );
}

#[tokio::test]
async fn custom_resources_apply_as_unstructured_objects() {
    let f = common::start_with_crds().await;
    let gvk = GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "servicemonitors");
    let monitors: Api<DynamicObject> = Api::namespaced_with(f.client.clone(), "default", &resource);
    let manifest = json!({
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": "temporal"},
        "spec": {"endpoints": [{"port": "metrics", "interval": "30s"}], "selector": {"matchLabels": {"app": "temporal"}}}
    });
    let applied = monitors
        .patch(
            "temporal",
            &PatchParams::apply("m"),
            &Patch::Apply(&manifest),
        )
        .await
        .expect("apply");
    assert_eq!(applied.data["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(applied.metadata.generation, Some(1));
    let mut changed = manifest.clone();
    changed["spec"]["endpoints"][0]["interval"] = json!("10s");
    let again = monitors
        .patch(
            "temporal",
            &PatchParams::apply("m"),
            &Patch::Apply(&changed),
        )
        .await
        .expect("apply");
    assert_eq!(again.metadata.generation, Some(2));
}
