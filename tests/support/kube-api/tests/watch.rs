//! WATCH: event streams from a resourceVersion, 410 Expired for compacted history, and the
//! kube-rs watcher and wait helpers on top of them.

mod common;

use common::{deployment, start};
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use std::time::Duration;

fn map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "1"}})).expect("map")
}

#[tokio::test]
async fn watch_from_a_resource_version_streams_added_modified_and_deleted() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let version = maps
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    maps.create(&PostParams::default(), &map("a"))
        .await
        .expect("create");
    maps.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(&json!({"data": {"k": "2"}})),
    )
    .await
    .expect("patch");
    maps.delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    let params = WatchParams::default().timeout(2);
    let events: Vec<WatchEvent<ConfigMap>> = maps
        .watch(&params, &version)
        .await
        .expect("watch")
        .take(3)
        .try_collect()
        .await
        .expect("events");
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => "BOOKMARK",
            WatchEvent::Error(_) => "ERROR",
        })
        .collect();
    assert_eq!(kinds, vec!["ADDED", "MODIFIED", "DELETED"]);
}

#[tokio::test]
async fn watch_follows_changes_made_after_it_started() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let version = maps
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut stream = maps
        .watch(&WatchParams::default().timeout(5), &version)
        .await
        .expect("watch")
        .boxed();
    maps.create(&PostParams::default(), &map("later"))
        .await
        .expect("create");
    let event = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event arrives");
    match event {
        Some(Ok(WatchEvent::Added(object))) => {
            assert_eq!(object.metadata.name.as_deref(), Some("later"))
        }
        other => panic!("expected ADDED, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_from_a_compacted_resource_version_gets_410_expired() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let version = maps
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    maps.create(&PostParams::default(), &map("a"))
        .await
        .expect("create");
    f.server.handle().compact();
    let events: Vec<WatchEvent<ConfigMap>> = maps
        .watch(&WatchParams::default().timeout(2), &version)
        .await
        .expect("watch")
        .take(1)
        .try_collect()
        .await
        .expect("events");
    match &events[..] {
        [WatchEvent::Error(status)] => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"))
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_honours_label_selectors() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let version = maps
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let labelled: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "b", "labels": {"pick": "me"}}}))
            .expect("map");
    maps.create(&PostParams::default(), &map("a"))
        .await
        .expect("a");
    maps.create(&PostParams::default(), &labelled)
        .await
        .expect("b");
    let params = WatchParams::default().labels("pick=me").timeout(2);
    let events: Vec<WatchEvent<ConfigMap>> = maps
        .watch(&params, &version)
        .await
        .expect("watch")
        .take(1)
        .try_collect()
        .await
        .expect("events");
    match &events[..] {
        [WatchEvent::Added(object)] => assert_eq!(object.metadata.name.as_deref(), Some("b")),
        other => panic!("expected only b, got {other:?}"),
    }
}

#[tokio::test]
async fn objects_moving_out_of_and_into_a_label_selection_are_deleted_and_added() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let labelled: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "m", "labels": {"pick": "me"}}}))
            .expect("map");
    maps.create(&PostParams::default(), &labelled)
        .await
        .expect("create");
    let version = maps
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let unpick = json!({"metadata": {"labels": {"pick": "other"}}});
    maps.patch("m", &PatchParams::default(), &Patch::Merge(&unpick))
        .await
        .expect("out");
    let repick = json!({"metadata": {"labels": {"pick": "me"}}});
    maps.patch("m", &PatchParams::default(), &Patch::Merge(&repick))
        .await
        .expect("in");
    let params = WatchParams::default().labels("pick=me").timeout(2);
    let events: Vec<WatchEvent<ConfigMap>> = maps
        .watch(&params, &version)
        .await
        .expect("watch")
        .take(2)
        .try_collect()
        .await
        .expect("events");
    assert!(
        matches!(
            events.as_slice(),
            [WatchEvent::Deleted(_), WatchEvent::Added(_)]
        ),
        "{events:?}"
    );
}

#[tokio::test]
async fn the_kube_runtime_watcher_lists_then_follows() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    maps.create(&PostParams::default(), &map("before"))
        .await
        .expect("create");
    let mut objects = watcher(maps.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    let first = tokio::time::timeout(Duration::from_secs(5), objects.next())
        .await
        .expect("initial list");
    assert_eq!(
        first
            .and_then(Result::ok)
            .and_then(|m| m.metadata.name)
            .as_deref(),
        Some("before")
    );
    maps.create(&PostParams::default(), &map("after"))
        .await
        .expect("create");
    let second = tokio::time::timeout(Duration::from_secs(5), objects.next())
        .await
        .expect("watched change");
    assert_eq!(
        second
            .and_then(Result::ok)
            .and_then(|m| m.metadata.name)
            .as_deref(),
        Some("after")
    );
}

#[tokio::test]
async fn await_condition_sees_a_deployment_roll_out_when_the_handle_marks_it_ready() {
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
    let handle = f.server.handle();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        handle
            .mark_ready(&kube_api::ObjectRef::new(
                "apps/v1",
                "Deployment",
                "default",
                "web",
            ))
            .expect("ready");
    });
    let rolled_out = tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(deployments, "web", conditions::is_deployment_completed()),
    )
    .await
    .expect("rolled out in time")
    .expect("watch works");
    assert!(rolled_out.is_some());
}
