//! Query parameters as the real server parses them.
//!
//! - Booleans (`watch`, `force`) go through apimachinery runtime/conversion.go
//!   `Convert_Slice_string_To_bool` (v0.37.0-beta.0): absent, `0` and any case of `false` are
//!   false; every other value, `f` and the empty string included, is true. (This is not Go's
//!   `strconv.ParseBool`: the real server reads `watch=f` as a watch.)
//! - `fieldManager` is required for apply, `force` is forbidden on other patches, `dryRun` takes
//!   only `All`, `fieldValidation` only `Ignore`/`Warn`/`Strict`: 422 Invalid on the options kind
//!   (meta/v1/validation `ValidatePatchOptions`, `ValidateDryRun`, `ValidateFieldValidation`;
//!   a list value is printed as JSON, util/validation/field/errors.go `ErrorBody`).

mod common;

use common::{raw, start};
use serde_json::{Value, json};
use std::time::Duration;

const APPLY: &str = "application/apply-patch+yaml";
const MERGE: &str = "application/merge-patch+json";
const JSON: &str = "application/json";
const MAPS: &str = "/api/v1/namespaces/default/configmaps";

fn map(name: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": value}})
}

/// GETs a path and tells whether the answer is a watch stream (chunked events that do not end)
/// or a list.
async fn is_watch(client: &kube::Client, path: &str) -> bool {
    let request = http::Request::get(path).body(Vec::new()).expect("request");
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .expect("response");
    assert_eq!(response.status().as_u16(), 200, "{path}");
    let body = http_body_util::BodyExt::collect(response.into_body());
    match tokio::time::timeout(Duration::from_millis(250), body).await {
        // A list ends at once; its body is a ConfigMapList.
        Ok(collected) => {
            let bytes = collected.expect("body").to_bytes();
            let list: Value = serde_json::from_slice(&bytes).expect("a list");
            assert_eq!(list["kind"], "ConfigMapList", "{path}");
            false
        }
        // A watch stays open.
        Err(_) => true,
    }
}

#[tokio::test]
async fn watch_is_a_go_query_boolean() {
    let f = start().await;
    let (code, _) = raw(&f.client, "POST", MAPS, JSON, map("a", "1")).await;
    assert_eq!(code, 201);
    for value in ["1", "true", "True", "TRUE", "t", "T", "f", "yes", ""] {
        assert!(
            is_watch(&f.client, &format!("{MAPS}?watch={value}")).await,
            "watch={value}"
        );
    }
    for value in ["0", "false", "False", "FALSE", "fAlSe"] {
        assert!(
            !is_watch(&f.client, &format!("{MAPS}?watch={value}")).await,
            "watch={value}"
        );
    }
    assert!(!is_watch(&f.client, MAPS).await);
    assert!(
        is_watch(&f.client, &format!("{MAPS}?watch")).await,
        "a bare `watch` is an empty value"
    );
}

#[tokio::test]
async fn a_watch_started_with_watch_1_streams_events() {
    let f = start().await;
    let request = http::Request::get(format!("{MAPS}?watch=1"))
        .body(Vec::new())
        .expect("request");
    let response = f
        .client
        .send(request.map(kube::client::Body::from))
        .await
        .expect("response");
    let mut body = response.into_body();
    let (code, _) = raw(&f.client, "POST", MAPS, JSON, map("a", "1")).await;
    assert_eq!(code, 201);
    let frame = tokio::time::timeout(
        Duration::from_secs(5),
        http_body_util::BodyExt::frame(&mut body),
    )
    .await
    .expect("an event in time")
    .expect("a frame")
    .expect("data");
    let data = frame.into_data().expect("data frame");
    let event: Value = serde_json::from_slice(data.trim_ascii()).expect("an event");
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["metadata"]["name"], "a");
    assert_eq!(
        event["object"]["kind"], "ConfigMap",
        "watch events carry their kind"
    );
}

#[tokio::test]
async fn force_is_a_go_query_boolean() {
    let f = start().await;
    let path = format!("{MAPS}/shared");
    let (code, _) = raw(
        &f.client,
        "PATCH",
        &format!("{path}?fieldManager=a"),
        APPLY,
        map("shared", "a"),
    )
    .await;
    assert_eq!(code, 201);
    for value in ["0", "false", "False"] {
        let (code, body) = raw(
            &f.client,
            "PATCH",
            &format!("{path}?fieldManager=b&force={value}"),
            APPLY,
            map("shared", "b"),
        )
        .await;
        assert_eq!(
            (code, body["reason"].as_str()),
            (409, Some("Conflict")),
            "force={value}"
        );
    }
    let (code, body) = raw(
        &f.client,
        "PATCH",
        &format!("{path}?fieldManager=b&force=1"),
        APPLY,
        map("shared", "b"),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["k"], "b");
}

#[tokio::test]
async fn apply_without_a_field_manager_and_force_on_other_patches_are_invalid() {
    let f = start().await;
    let (code, body) = raw(
        &f.client,
        "PATCH",
        &format!("{MAPS}/x"),
        APPLY,
        map("x", "1"),
    )
    .await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (422, Some("Invalid")),
        "{body}"
    );
    assert_eq!(
        body["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    let (code, _) = raw(&f.client, "POST", MAPS, JSON, map("x", "1")).await;
    assert_eq!(code, 201);
    for force in ["true", "false"] {
        let (code, body) = raw(
            &f.client,
            "PATCH",
            &format!("{MAPS}/x?force={force}"),
            MERGE,
            json!({"data": {"k": "2"}}),
        )
        .await;
        assert_eq!(code, 422, "{body}");
        assert_eq!(
            body["message"],
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
        );
        assert_eq!(
            body["details"]["causes"][0]["reason"],
            "FieldValueForbidden"
        );
    }
}

#[tokio::test]
async fn dry_run_takes_only_all() {
    let f = start().await;
    let (code, body) = raw(
        &f.client,
        "POST",
        &format!("{MAPS}?dryRun=Foo"),
        JSON,
        map("d", "1"),
    )
    .await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (422, Some("Invalid")),
        "{body}"
    );
    assert_eq!(
        body["message"],
        "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: [\"Foo\"]: supported values: \"All\""
    );
    assert_eq!(
        body["details"]["causes"][0]["reason"],
        "FieldValueNotSupported"
    );
    let (code, body) = raw(
        &f.client,
        "POST",
        &format!("{MAPS}?dryRun=All"),
        JSON,
        map("d", "1"),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let (code, _) = raw(&f.client, "GET", &format!("{MAPS}/d"), JSON, Value::Null).await;
    assert_eq!(code, 404, "a dry run stores nothing");
    let (code, body) = raw(
        &f.client,
        "PATCH",
        &format!("{MAPS}/d?fieldManager=m&dryRun=All&dryRun=true"),
        APPLY,
        map("d", "1"),
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: [\"All\",\"true\"]: supported values: \"All\""
    );
}

#[tokio::test]
async fn field_validation_takes_only_its_three_values() {
    let f = start().await;
    let (code, body) = raw(
        &f.client,
        "POST",
        &format!("{MAPS}?fieldValidation=strict"),
        JSON,
        map("v", "1"),
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["message"],
        "CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"strict\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
    );
    for value in ["Ignore", "Warn", "Strict", ""] {
        let name = format!("v{}", value.to_lowercase());
        let (code, body) = raw(
            &f.client,
            "POST",
            &format!("{MAPS}?fieldValidation={value}"),
            JSON,
            map(&name, "1"),
        )
        .await;
        assert_eq!(code, 201, "fieldValidation={value}: {body}");
    }
}
