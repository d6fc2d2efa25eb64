//! The pod log subresource, as the real API server answers it: the only container by default,
//! a container name required when there are several, unknown containers and containers not yet
//! running refused, `tailLines` and `limitBytes`, and options this server does not implement
//! refused rather than ignored.

mod common;

use common::{api_error, raw_text, start};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams, PostParams};
use kube_api::ObjectRef;
use serde_json::json;

fn pod(name: &str, containers: &[&str]) -> Pod {
    let containers: Vec<_> = containers
        .iter()
        .map(|c| json!({"name": c, "image": "busybox:1.37"}))
        .collect();
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"containers": containers}}))
        .expect("pod")
}

#[tokio::test]
async fn a_pods_log_is_served_as_its_containers_wrote_it() {
    let f = start().await;
    let pods: Api<Pod> = Api::namespaced(f.client.clone(), "default");
    pods.create(&PostParams::default(), &pod("one", &["app"]))
        .await
        .expect("create");
    pods.create(&PostParams::default(), &pod("two", &["app", "sidecar"]))
        .await
        .expect("create");
    let handle = f.server.handle();

    let waiting = api_error(pods.logs("one", &LogParams::default()).await);
    assert_eq!(waiting.code, 400);
    assert_eq!(
        waiting.message,
        "container \"app\" in pod \"one\" is waiting to start: ContainerCreating"
    );

    for name in ["one", "two"] {
        handle
            .set_status(
                &ObjectRef::new("v1", "Pod", "default", name),
                json!({"phase": "Running"}),
            )
            .expect("running");
    }
    handle.write_pod_log("default", "one", "app", "first\nsecond\n");
    handle.write_pod_log("default", "one", "app", "third\n");
    assert_eq!(
        pods.logs("one", &LogParams::default()).await.expect("log"),
        "first\nsecond\nthird\n"
    );
    let tail = LogParams {
        tail_lines: Some(2),
        ..LogParams::default()
    };
    assert_eq!(
        pods.logs("one", &tail).await.expect("log"),
        "second\nthird\n"
    );
    let limit = LogParams {
        limit_bytes: Some(4),
        ..LogParams::default()
    };
    assert_eq!(pods.logs("one", &limit).await.expect("log"), "firs");

    let ambiguous = api_error(pods.logs("two", &LogParams::default()).await);
    assert_eq!(ambiguous.code, 400);
    assert_eq!(
        ambiguous.message,
        "a container name must be specified for pod two, choose one of: [app sidecar]"
    );
    let unknown = LogParams {
        container: Some("db".into()),
        ..LogParams::default()
    };
    let unknown = api_error(pods.logs("two", &unknown).await);
    assert_eq!(unknown.message, "container db is not valid for pod two");
    let sidecar = LogParams {
        container: Some("sidecar".into()),
        ..LogParams::default()
    };
    assert_eq!(pods.logs("two", &sidecar).await.expect("log"), "");

    let missing = api_error(pods.logs("three", &LogParams::default()).await);
    assert_eq!(missing.code, 404);
    assert_eq!(missing.message, "pods \"three\" not found");
    let zero = LogParams {
        limit_bytes: Some(0),
        ..LogParams::default()
    };
    assert_eq!(api_error(pods.logs("one", &zero).await).code, 422);

    let (status, content_type, _) = raw_text(
        &f.client,
        "GET",
        "/api/v1/namespaces/default/pods/one/log?follow=true",
    )
    .await;
    assert_eq!(status, 400, "follow is not implemented, so it is refused");
    assert!(content_type.starts_with("application/json"));
    let (status, content_type, body) =
        raw_text(&f.client, "GET", "/api/v1/namespaces/default/pods/one/log").await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/plain"),
        "{body}"
    );
    let (status, _, _) =
        raw_text(&f.client, "POST", "/api/v1/namespaces/default/pods/one/log").await;
    assert_eq!(status, 405);
    let (status, _, _) = raw_text(
        &f.client,
        "GET",
        "/api/v1/namespaces/default/configmaps/x/log",
    )
    .await;
    assert_eq!(status, 404, "only pods have a log");
}
