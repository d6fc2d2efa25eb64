//! Faults on demand: error statuses, Retry-After, hangs past the client's timeout, and restarts
//! that keep or lose the stored objects.

mod common;

use common::{api_error, raw, start};
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use kube_api::{Effect, Fault};
use serde_json::json;
use std::time::Duration;

const MAPS: &str = "/api/v1/namespaces/default/configmaps";

fn map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}})).expect("map")
}

fn fault(code: u16, count: u32) -> Fault {
    Fault {
        path_prefix: MAPS.into(),
        method: None,
        count,
        effect: Effect::Status {
            code,
            retry_after_seconds: None,
        },
    }
}

#[tokio::test]
async fn the_next_n_requests_fail_with_500_then_the_path_recovers() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    f.server.handle().inject_fault(fault(500, 2));
    for _ in 0..2 {
        let error = api_error(maps.list(&ListParams::default()).await);
        assert_eq!((error.code, error.reason.as_str()), (500, "InternalError"));
    }
    assert!(maps.list(&ListParams::default()).await.is_ok());
}

#[tokio::test]
async fn other_paths_and_methods_are_not_affected() {
    let f = start().await;
    let client = common::client_without_retry(f.server.kubeconfig_path()).await;
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut only_posts = fault(503, 1);
    only_posts.method = Some("POST".into());
    f.server.handle().inject_fault(only_posts);
    assert!(maps.list(&ListParams::default()).await.is_ok());
    let error = api_error(maps.create(&PostParams::default(), &map("a")).await);
    assert_eq!(
        (error.code, error.reason.as_str()),
        (503, "ServiceUnavailable")
    );
    assert!(maps.create(&PostParams::default(), &map("a")).await.is_ok());
}

#[tokio::test]
async fn kube_rs_retries_a_single_503_by_default() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    f.server.handle().inject_fault(fault(503, 1));
    assert!(maps.list(&ListParams::default()).await.is_ok());
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after() {
    let f = start().await;
    f.server.handle().inject_fault(Fault {
        effect: Effect::Status {
            code: 429,
            retry_after_seconds: Some(3),
        },
        ..fault(429, 1)
    });
    let client = common::client_without_retry(f.server.kubeconfig_path()).await;
    let (code, body) = raw(
        &client,
        "GET",
        MAPS,
        "application/json",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (429, Some("TooManyRequests"))
    );
    assert_eq!(body["details"]["retryAfterSeconds"], 3);
}

#[tokio::test]
async fn faults_can_be_injected_through_the_admin_endpoint() {
    let f = start().await;
    let fault = json!({"pathPrefix": MAPS, "count": 1, "effect": {"type": "status", "code": 503, "retryAfterSeconds": 1}});
    let (added, _) = raw(
        &f.client,
        "POST",
        "/__admin/faults",
        "application/json",
        fault,
    )
    .await;
    assert_eq!(added, 204);
    let client = common::client_without_retry(f.server.kubeconfig_path()).await;
    let (code, body) = raw(
        &client,
        "GET",
        MAPS,
        "application/json",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(
        (code, body["details"]["retryAfterSeconds"].as_u64()),
        (503, Some(1))
    );
    let again = json!({"pathPrefix": MAPS, "count": 5, "effect": {"type": "status", "code": 500}});
    raw(
        &f.client,
        "POST",
        "/__admin/faults",
        "application/json",
        again,
    )
    .await;
    let (cleared, _) = raw(
        &f.client,
        "DELETE",
        "/__admin/faults",
        "application/json",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(cleared, 204);
    let (code, _) = raw(
        &f.client,
        "GET",
        MAPS,
        "application/json",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn a_hanging_request_outlasts_the_client_timeout() {
    let f = start().await;
    let kubeconfig = Kubeconfig::read_from(f.server.kubeconfig_path()).expect("kubeconfig");
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    config.read_timeout = Some(Duration::from_millis(200));
    let impatient = Client::try_from(config).expect("client");
    f.server.handle().inject_fault(Fault {
        effect: Effect::Hang { millis: 2_000 },
        ..fault(0, 1)
    });
    let maps: Api<ConfigMap> = Api::namespaced(impatient, "default");
    let started = std::time::Instant::now();
    let result = maps.list(&ListParams::default()).await;
    assert!(result.is_err(), "the request timed out");
    assert!(started.elapsed() < Duration::from_millis(1_500));
}

#[tokio::test]
async fn a_restart_that_keeps_data_keeps_objects_and_ends_open_watches() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    maps.create(&PostParams::default(), &map("kept"))
        .await
        .expect("create");
    let mut watch = maps
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    assert!(watch.next().await.is_some(), "initial ADDED");
    f.server.handle().restart(true).await.expect("restart");
    let ended = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("watch ends");
    assert!(ended.is_none_or(|e| e.is_err()));
    assert!(maps.get_opt("kept").await.expect("get").is_some());
}

#[tokio::test]
async fn a_restart_that_loses_data_starts_empty_with_the_default_namespaces() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    maps.create(&PostParams::default(), &map("lost"))
        .await
        .expect("create");
    f.server.handle().restart(false).await.expect("restart");
    assert!(maps.get_opt("lost").await.expect("get").is_none());
    assert!(
        maps.create(&PostParams::default(), &map("fresh"))
            .await
            .is_ok(),
        "default namespace exists again"
    );
}

#[tokio::test]
async fn the_admin_endpoint_restarts_the_server() {
    let f = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    maps.create(&PostParams::default(), &map("lost"))
        .await
        .expect("create");
    let (accepted, _) = raw(
        &f.client,
        "POST",
        "/__admin/restart",
        "application/json",
        json!({"keepData": false}),
    )
    .await;
    assert_eq!(accepted, 202);
    let mut gone = false;
    for _ in 0..50 {
        if let Ok(None) = maps.get_opt("lost").await {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the data was dropped by the restart");
}
