//! Unknown fields, wrong types and duplicate list-map keys, for the built-in kinds (from
//! Kubernetes' OpenAPI definitions and Go types) and for the custom resources the product applies
//! (from their published CRD schemas), answered as a real server answers them:
//!
//! - server-side apply: the typed conversion fails, 500 with `failed to create typed patch object
//!   (<ns>/<name>; <gvk>): <errors>` (apimachinery managedfields/internal/structuredmerge.go);
//! - POST and PUT: a type error is 400 `<Kind> in version "v1" cannot be handled as a <Kind>: ...`
//!   (apiserver handlers/rest.go `transformDecodeError`); an unknown field is dropped with a
//!   `Warning` header by default (`fieldValidation=Warn`), refused with 400 under `Strict`
//!   (`strict decoding error: unknown field "..."`) and dropped silently under `Ignore`;
//! - merge patches: the same, as 422 on `patch` (handlers/patch.go `applyPatchToCurrentObject`);
//! - custom resources: unknown fields are pruned, values are checked against the OpenAPI v3 schema
//!   (422, `... in body should match '...'`, apiextensions-apiserver validation).

mod common;

use common::{raw, start, start_with_crds};
use serde_json::{Value, json};

const APPLY: &str = "application/apply-patch+yaml";
const MERGE: &str = "application/merge-patch+json";
const JSON: &str = "application/json";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";
const MONITORS: &str = "/apis/monitoring.coreos.com/v1/namespaces/default/servicemonitors";

fn web() -> Value {
    let mut object = common::deployment("web", "temporal:1");
    object["metadata"]["namespace"] = json!("default");
    object
}

async fn apply(f: &common::Fixture, path: &str, object: Value) -> (u16, Value) {
    raw(
        &f.client,
        "PATCH",
        &format!("{path}?fieldManager=test&force=true"),
        APPLY,
        object,
    )
    .await
}

/// Sends a request and returns the status, the `Warning` headers and the JSON body.
async fn with_warnings(
    f: &common::Fixture,
    method: &str,
    path: &str,
    content_type: &str,
    body: Value,
) -> (u16, Vec<String>, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body.to_string().into_bytes())
        .expect("request");
    let response = f
        .client
        .send(request.map(kube::client::Body::from))
        .await
        .expect("response");
    let status = response.status().as_u16();
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .collect();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        warnings,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn apply_with_an_unknown_field_fails_the_typed_conversion() {
    let f = start().await;
    let mut object = web();
    object["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = json!("Always");
    let (code, body) = apply(&f, &format!("{DEPLOYMENTS}/web"), object).await;
    assert_eq!(code, 500, "{body}");
    assert_eq!(body["status"], "Failure");
    assert!(
        body.get("reason").is_none(),
        "an internal error has no reason: {body}"
    );
    assert_eq!(
        body["message"],
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers[name=\"app\"].imagePullPolcy: field not declared in schema"
    );
    let (code, _) = raw(
        &f.client,
        "GET",
        &format!("{DEPLOYMENTS}/web"),
        JSON,
        Value::Null,
    )
    .await;
    assert_eq!(code, 404, "nothing was stored");
}

#[tokio::test]
async fn apply_with_a_wrong_type_fails_the_typed_conversion() {
    let f = start().await;
    let mut object = web();
    object["spec"]["replicas"] = json!("3");
    let (code, body) = apply(&f, &format!("{DEPLOYMENTS}/web"), object).await;
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body["message"],
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.replicas: expected numeric (int or float), got string"
    );
    let map = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"}, "data": {"port": 7233}});
    let (code, body) = apply(&f, "/api/v1/namespaces/default/configmaps/c", map).await;
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body["message"],
        "failed to create typed patch object (default/c; /v1, Kind=ConfigMap): .data.port: expected string, got &value.valueUnstructured{Value:7233}"
    );
}

#[tokio::test]
async fn apply_with_duplicate_list_map_keys_fails_the_typed_conversion() {
    let f = start().await;
    let mut object = web();
    object["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "app", "image": "a", "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}
    ]);
    let (code, body) = apply(&f, &format!("{DEPLOYMENTS}/web"), object.clone()).await;
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body["message"],
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers[name=\"app\"].env: duplicate entries for key [name=\"A\"]"
    );
    object["spec"]["template"]["spec"]["containers"] =
        json!([{"name": "app", "image": "a"}, {"name": "app", "image": "b"}]);
    let (code, body) = apply(&f, &format!("{DEPLOYMENTS}/web"), object).await;
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body["message"],
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers: duplicate entries for key [name=\"app\"]"
    );
}

#[tokio::test]
async fn several_type_errors_are_listed() {
    let f = start().await;
    let mut object = web();
    object["spec"]["replicas"] = json!("3");
    object["spec"]["paused"] = json!("no");
    let (code, body) = apply(&f, &format!("{DEPLOYMENTS}/web"), object).await;
    assert_eq!(code, 500, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("failed to create typed patch object (default/web; apps/v1, Kind=Deployment): errors:\n  "),
        "{message}"
    );
    assert!(
        message.contains("\n  .spec.replicas: expected numeric (int or float), got string"),
        "{message}"
    );
    assert!(
        message.contains("\n  .spec.paused: expected boolean, got &{no}"),
        "{message}"
    );
}

#[tokio::test]
async fn create_drops_an_unknown_field_with_a_warning_by_default() {
    let f = start().await;
    let mut object = web();
    object["spec"]["replica"] = json!(3);
    let (code, warnings, body) = with_warnings(&f, "POST", DEPLOYMENTS, JSON, object).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        warnings,
        vec!["299 - \"unknown field \\\"spec.replica\\\"\"".to_string()]
    );
    assert!(body["spec"].get("replica").is_none(), "{body}");
    assert_eq!(
        body["spec"]["replicas"], 1,
        "defaulted, the unknown field ignored"
    );
}

#[tokio::test]
async fn strict_field_validation_refuses_an_unknown_field_on_create_and_update() {
    let f = start().await;
    let mut object = web();
    object["spec"]["replica"] = json!(3);
    let (code, body) = raw(
        &f.client,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Strict"),
        JSON,
        object.clone(),
    )
    .await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (400, Some("BadRequest")),
        "{body}"
    );
    assert_eq!(
        body["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replica\""
    );
    let (code, created) = raw(&f.client, "POST", DEPLOYMENTS, JSON, web()).await;
    assert_eq!(code, 201, "{created}");
    let mut update = created.clone();
    update["spec"]["template"]["spec"]["containers"][0]["imagee"] = json!("x");
    let (code, body) = raw(
        &f.client,
        "PUT",
        &format!("{DEPLOYMENTS}/web?fieldValidation=Strict"),
        JSON,
        update.clone(),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.template.spec.containers[0].imagee\""
    );
    // Ignore drops it without a warning.
    let (code, warnings, body) = with_warnings(
        &f,
        "PUT",
        &format!("{DEPLOYMENTS}/web?fieldValidation=Ignore"),
        JSON,
        update,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[tokio::test]
async fn a_wrong_type_on_create_is_a_decoding_error() {
    let f = start().await;
    let mut object = web();
    object["spec"]["replicas"] = json!("3");
    let (code, body) = raw(&f.client, "POST", DEPLOYMENTS, JSON, object).await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (400, Some("BadRequest")),
        "{body}"
    );
    assert_eq!(
        body["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
    );
}

#[tokio::test]
async fn strict_merge_patch_with_an_unknown_field_is_invalid() {
    let f = start().await;
    let (code, _) = raw(&f.client, "POST", DEPLOYMENTS, JSON, web()).await;
    assert_eq!(code, 201);
    let patch = json!({"spec": {"replica": 2}});
    let (code, body) = raw(
        &f.client,
        "PATCH",
        &format!("{DEPLOYMENTS}/web?fieldValidation=Strict"),
        MERGE,
        patch.clone(),
    )
    .await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (422, Some("Invalid")),
        "{body}"
    );
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(" \"\" is invalid: patch: Invalid value: "),
        "{message}"
    );
    assert!(
        message.ends_with(": strict decoding error: unknown field \"spec.replica\""),
        "{message}"
    );
    let (code, warnings, _) =
        with_warnings(&f, "PATCH", &format!("{DEPLOYMENTS}/web"), MERGE, patch).await;
    assert_eq!(code, 200);
    assert_eq!(
        warnings,
        vec!["299 - \"unknown field \\\"spec.replica\\\"\"".to_string()]
    );
}

#[tokio::test]
async fn custom_resources_need_the_shape_of_their_crd_schema() {
    let f = start_with_crds().await;
    let monitor = |interval: &str| {
        json!({
            "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": "temporal", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "temporal"}},
                "endpoints": [{"port": "metrics", "interval": interval}]
            }
        })
    };
    // The Prometheus Operator Duration pattern (pkg/apis/monitoring/v1/types.go v0.93.0).
    let (code, body) = apply(&f, &format!("{MONITORS}/temporal"), monitor("30x")).await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (422, Some("Invalid")),
        "{body}"
    );
    let cause = &body["details"]["causes"][0];
    assert_eq!(cause["reason"], "FieldValueInvalid");
    assert_eq!(cause["field"], "spec.endpoints[0].interval");
    assert_eq!(
        cause["message"],
        "Invalid value: \"30x\": spec.endpoints[0].interval in body should match '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'"
    );
    assert_eq!(body["details"]["group"], "monitoring.coreos.com");
    assert_eq!(body["details"]["kind"], "ServiceMonitor");
    let (code, body) = apply(&f, &format!("{MONITORS}/temporal"), monitor("1m30s")).await;
    assert_eq!(code, 201, "{body}");

    // An unknown field fails the typed conversion built from the CRD schema.
    let mut unknown = monitor("30s");
    unknown["spec"]["endpoints"][0]["intervall"] = json!("30s");
    let (code, body) = apply(&f, &format!("{MONITORS}/temporal"), unknown.clone()).await;
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body["message"],
        "failed to create typed patch object (default/temporal; monitoring.coreos.com/v1, Kind=ServiceMonitor): .spec.endpoints[0].intervall: field not declared in schema"
    );

    // A create prunes it, with a warning.
    unknown["metadata"]["name"] = json!("other");
    let (code, warnings, body) = with_warnings(&f, "POST", MONITORS, JSON, unknown).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        warnings,
        vec!["299 - \"unknown field \\\"spec.endpoints[0].intervall\\\"\"".to_string()]
    );
    assert!(
        body["spec"]["endpoints"][0].get("intervall").is_none(),
        "{body}"
    );

    // A wrong type is a schema violation.
    let mut wrong = monitor("30s");
    wrong["spec"]["endpoints"] = json!({"port": "metrics"});
    wrong["metadata"]["name"] = json!("third");
    let (code, body) = raw(&f.client, "POST", MONITORS, JSON, wrong).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["details"]["causes"][0]["field"], "spec.endpoints");
    assert_eq!(
        body["details"]["causes"][0]["reason"],
        "FieldValueTypeInvalid"
    );
}

#[tokio::test]
async fn certificates_need_their_required_fields() {
    let f = start_with_crds().await;
    let path = "/apis/cert-manager.io/v1/namespaces/default/certificates/frontend";
    let certificate = json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "frontend", "namespace": "default"},
        "spec": {"dnsNames": ["frontend.temporal.svc"]}
    });
    let (code, body) = apply(&f, path, certificate.clone()).await;
    assert_eq!(code, 422, "{body}");
    let fields: Vec<(&str, &str)> = body["details"]["causes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["reason"].as_str().unwrap_or_default(),
                c["field"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        fields.contains(&("FieldValueRequired", "spec.issuerRef")),
        "{body}"
    );
    assert!(
        fields.contains(&("FieldValueRequired", "spec.secretName")),
        "{body}"
    );
    let mut complete = certificate;
    complete["spec"]["secretName"] = json!("frontend-tls");
    complete["spec"]["issuerRef"] = json!({"name": "ca", "kind": "Issuer"});
    let (code, body) = apply(&f, path, complete).await;
    assert_eq!(code, 201, "{body}");
}

#[tokio::test]
async fn prometheus_rules_are_checked_against_their_schema() {
    let f = start_with_crds().await;
    let path = "/apis/monitoring.coreos.com/v1/namespaces/default/prometheusrules/temporal";
    let rule = |group: Value| {
        json!({
            "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "temporal", "namespace": "default"},
            "spec": {"groups": [group]}
        })
    };
    let (code, body) = apply(
        &f,
        path,
        rule(json!({"name": "temporal", "rules": [{"alert": "Down", "expr": "up == 0", "for": "5 minutes"}]})),
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["details"]["causes"][0]["field"],
        "spec.groups[0].rules[0].for"
    );
    let (code, body) = apply(
        &f,
        path,
        rule(json!({"name": "temporal", "rules": [{"alert": "Down", "expr": "up == 0", "for": "5m"}]})),
    )
    .await;
    assert_eq!(code, 201, "{body}");
}

#[tokio::test]
async fn strict_apply_still_fails_the_typed_conversion_first() {
    // patch.go `applyPatcher.applyPatchToCurrentObject`: the field manager's apply (and its typed
    // conversion) runs before the strict YAML decoding, so an unknown field is the same 500.
    let f = start().await;
    let mut object = web();
    object["spec"]["replica"] = json!(3);
    let (code, body) = raw(
        &f.client,
        "PATCH",
        &format!("{DEPLOYMENTS}/web?fieldManager=test&fieldValidation=Strict"),
        APPLY,
        object,
    )
    .await;
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body["message"],
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.replica: field not declared in schema"
    );
}
