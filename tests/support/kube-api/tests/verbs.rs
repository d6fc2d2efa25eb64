//! GET, LIST, POST, PUT, merge and JSON patches, DELETE and the status subresource, as the real
//! API server answers them.

mod common;

use common::{api_error, deployment, namespace, raw, start};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::ObjectList;
use serde_json::json;

fn config_map(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
    .expect("config map")
}

#[tokio::test]
async fn get_returns_the_stored_object_and_404_names_the_resource() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    maps.create(&PostParams::default(), &config_map("a", json!({})))
        .await
        .expect("create");
    let got = maps.get("a").await.expect("get");
    assert_eq!(got.data.expect("data")["k"], "v");
    let error = api_error(maps.get("missing").await);
    assert_eq!((error.code, error.reason.as_str()), (404, "NotFound"));
    assert_eq!(error.message, "configmaps \"missing\" not found");
}

#[tokio::test]
async fn list_filters_by_label_selector_and_metadata_name_field_selector() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    for (name, tier) in [("a", "web"), ("b", "db"), ("c", "web")] {
        maps.create(
            &PostParams::default(),
            &config_map(name, json!({"tier": tier})),
        )
        .await
        .expect("create");
    }
    let names = |list: ObjectList<ConfigMap>| -> Vec<String> {
        list.items
            .into_iter()
            .filter_map(|m| m.metadata.name)
            .collect()
    };
    let web = maps
        .list(&ListParams::default().labels("tier=web"))
        .await
        .expect("list");
    assert_eq!(names(web), vec!["a", "c"]);
    let not_web = maps
        .list(&ListParams::default().labels("tier notin (web)"))
        .await
        .expect("list");
    assert_eq!(names(not_web), vec!["b"]);
    let by_name = maps
        .list(&ListParams::default().fields("metadata.name=c"))
        .await
        .expect("list");
    assert_eq!(names(by_name), vec!["c"]);
}

#[tokio::test]
async fn metadata_only_get_and_list_answer_partial_object_metadata() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    maps.create(
        &PostParams::default(),
        &config_map("a", json!({"tier": "web"})),
    )
    .await
    .expect("create");
    let meta = maps.get_metadata("a").await.expect("metadata");
    assert_eq!(
        meta.types.as_ref().map(|t| t.kind.as_str()),
        Some("PartialObjectMetadata")
    );
    assert_eq!(
        meta.metadata
            .labels
            .and_then(|l| l.get("tier").cloned())
            .as_deref(),
        Some("web")
    );
    let list = maps
        .list_metadata(&ListParams::default())
        .await
        .expect("list metadata");
    assert_eq!(list.items.len(), 1);
}

#[tokio::test]
async fn list_carries_the_current_resource_version() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let created = maps
        .create(&PostParams::default(), &config_map("a", json!({})))
        .await
        .expect("create");
    let list = maps.list(&ListParams::default()).await.expect("list");
    assert_eq!(
        list.metadata.resource_version,
        created.metadata.resource_version
    );
}

#[tokio::test]
async fn listing_across_namespaces_returns_every_namespace() {
    let f = start().await;
    namespace(&f.client, "other").await;
    for ns in ["default", "other"] {
        let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), ns);
        maps.create(&PostParams::default(), &config_map("a", json!({})))
            .await
            .expect("create");
    }
    let all: Api<ConfigMap> = Api::all(f.client.clone());
    assert_eq!(
        all.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        2
    );
}

#[tokio::test]
async fn post_of_an_existing_name_is_409_already_exists() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    maps.create(&PostParams::default(), &config_map("a", json!({})))
        .await
        .expect("create");
    let error = api_error(
        maps.create(&PostParams::default(), &config_map("a", json!({})))
            .await,
    );
    assert_eq!((error.code, error.reason.as_str()), (409, "AlreadyExists"));
}

#[tokio::test]
async fn post_with_generate_name_picks_a_name() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let map: ConfigMap =
        serde_json::from_value(json!({"metadata": {"generateName": "job-"}})).expect("map");
    let created = maps
        .create(&PostParams::default(), &map)
        .await
        .expect("create");
    let name = created.metadata.name.expect("name");
    assert!(name.starts_with("job-") && name.len() == 9, "{name}");
}

#[tokio::test]
async fn put_with_a_stale_resource_version_is_409_conflict() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let created = maps
        .create(&PostParams::default(), &config_map("a", json!({})))
        .await
        .expect("create");
    let mut first = created.clone();
    first.data = Some([("k".to_string(), "1".to_string())].into());
    maps.replace("a", &PostParams::default(), &first)
        .await
        .expect("first replace");
    let mut stale = created;
    stale.data = Some([("k".to_string(), "2".to_string())].into());
    let error = api_error(maps.replace("a", &PostParams::default(), &stale).await);
    assert_eq!((error.code, error.reason.as_str()), (409, "Conflict"));
    assert!(
        error.message.contains("the object has been modified"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn merge_patch_sets_and_null_removes_keys() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    maps.create(&PostParams::default(), &config_map("a", json!({})))
        .await
        .expect("create");
    let patch = json!({"data": {"k": null, "n": "1"}});
    let patched = maps
        .patch("a", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    let data = patched.data.expect("data");
    assert_eq!(data.keys().collect::<Vec<_>>(), vec!["n"]);
}

#[tokio::test]
async fn json_patch_applies_operations_in_order() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    maps.create(&PostParams::default(), &config_map("a", json!({})))
        .await
        .expect("create");
    let (code, body) = raw(
        &f.client,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/a",
        "application/json-patch+json",
        json!([{"op": "add", "path": "/data/n", "value": "1"}, {"op": "remove", "path": "/data/k"}]),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(body["data"], json!({"n": "1"}));
    let (failed, status) = raw(
        &f.client,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/a",
        "application/json-patch+json",
        json!([{"op": "test", "path": "/data/n", "value": "2"}]),
    )
    .await;
    assert_eq!((failed, status["kind"].as_str()), (422, Some("Status")));
}

#[tokio::test]
async fn strategic_merge_patch_merges_containers_by_name() {
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
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}});
    let patched = deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("patch");
    let containers = patched.spec.template.spec.expect("pod").containers;
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0].image.as_deref(), Some("nginx:2"));
}

#[tokio::test]
async fn delete_of_a_missing_object_is_404() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let error = api_error(maps.delete("missing", &DeleteParams::default()).await);
    assert_eq!(error.code, 404);
}

#[tokio::test]
async fn delete_removes_the_object_and_answers_a_success_status() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    maps.create(&PostParams::default(), &config_map("a", json!({})))
        .await
        .expect("create");
    let deleted = maps
        .delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(deleted.is_right(), "immediate deletion returns a Status");
    assert!(maps.get_opt("a").await.expect("get").is_none());
}

#[tokio::test]
async fn finalizers_hold_the_object_with_a_deletion_timestamp_until_removed() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let map: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "a", "finalizers": ["example.com/hold"]}}),
    )
    .expect("map");
    maps.create(&PostParams::default(), &map)
        .await
        .expect("create");
    let pending = maps
        .delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    let held = pending
        .left()
        .expect("the object is returned while finalizers remain");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert!(maps.get_opt("a").await.expect("get").is_some());
    let release = json!({"metadata": {"finalizers": null}});
    maps.patch("a", &PatchParams::default(), &Patch::Merge(&release))
        .await
        .expect("release");
    assert!(maps.get_opt("a").await.expect("get").is_none());
}

#[tokio::test]
async fn deleting_an_owner_deletes_dependents_unless_orphaned() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    for (owner, policy) in [
        ("owner-a", DeleteParams::background()),
        ("owner-b", DeleteParams::orphan()),
    ] {
        let created = maps
            .create(&PostParams::default(), &config_map(owner, json!({})))
            .await
            .expect("owner");
        let uid = created.metadata.uid.expect("uid");
        let dependent: ConfigMap = serde_json::from_value(json!({"metadata": {
            "name": format!("{owner}-dep"),
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner, "uid": uid}]
        }}))
        .expect("dependent");
        maps.create(&PostParams::default(), &dependent)
            .await
            .expect("dependent");
        maps.delete(owner, &policy).await.expect("delete owner");
    }
    assert!(
        maps.get_opt("owner-a-dep").await.expect("get").is_none(),
        "background deletes dependents"
    );
    let orphan = maps
        .get_opt("owner-b-dep")
        .await
        .expect("get")
        .expect("orphan kept");
    assert!(
        orphan
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test]
async fn deleting_a_namespace_removes_what_is_in_it() {
    let f = start().await;
    namespace(&f.client, "gone").await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "gone");
    maps.create(&PostParams::default(), &config_map("a", json!({})))
        .await
        .expect("create");
    let namespaces: Api<Namespace> = Api::all(f.client.clone());
    namespaces
        .delete("gone", &DeleteParams::default())
        .await
        .expect("delete namespace");
    assert!(namespaces.get_opt("gone").await.expect("get").is_none());
    let all: Api<ConfigMap> = Api::all(f.client.clone());
    assert!(
        all.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn a_namespace_with_finalizing_contents_stays_terminating_and_refuses_new_objects() {
    let f = start().await;
    namespace(&f.client, "slow").await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "slow");
    let held: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}),
    )
    .expect("map");
    maps.create(&PostParams::default(), &held)
        .await
        .expect("create");
    let namespaces: Api<Namespace> = Api::all(f.client.clone());
    namespaces
        .delete("slow", &DeleteParams::default())
        .await
        .expect("delete");
    let ns = namespaces.get("slow").await.expect("still there");
    assert_eq!(
        ns.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    let error = api_error(
        maps.create(&PostParams::default(), &config_map("new", json!({})))
            .await,
    );
    assert_eq!(error.code, 403);
    maps.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");
    assert!(namespaces.get_opt("slow").await.expect("get").is_none());
}

#[tokio::test]
async fn the_status_subresource_is_kept_apart_from_the_main_object() {
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
    let status = json!({"status": {"readyReplicas": 1}});
    deployments
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status");
    let ignored = json!({"status": {"readyReplicas": 7}, "spec": {"replicas": 2}});
    let main = deployments
        .patch("web", &PatchParams::default(), &Patch::Merge(&ignored))
        .await
        .expect("main");
    assert_eq!(
        main.status.and_then(|s| s.ready_replicas),
        Some(1),
        "main writes ignore status"
    );
    assert_eq!(main.spec.replicas, Some(2));
    let spec_change = json!({"spec": {"replicas": 9}, "status": {"readyReplicas": 2}});
    let through_status = deployments
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&spec_change))
        .await
        .expect("status");
    assert_eq!(
        through_status.spec.replicas,
        Some(2),
        "status writes ignore spec"
    );
    assert_eq!(
        through_status.status.and_then(|s| s.ready_replicas),
        Some(2)
    );
}
