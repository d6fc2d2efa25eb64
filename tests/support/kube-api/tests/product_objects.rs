//! Everything the provider renders for a Temporal deployment is accepted by the validation, the
//! typed apply conversion and the CRD schemas, and applying it twice changes nothing. The fixtures
//! are `engram render -f examples/deploy/{production,quickstart}.yaml` at the time of writing,
//! converted to JSON; they are test data for the server, not for the renderer.

mod common;

use common::{raw, start_with_crds};
use serde_json::Value;

const APPLY: &str = "application/apply-patch+yaml";

fn path_of(object: &Value) -> String {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = object["metadata"]["namespace"].as_str();
    let plural = match kind {
        "NetworkPolicy" => "networkpolicies".to_string(),
        "Ingress" => "ingresses".to_string(),
        "PrometheusRule" => "prometheusrules".to_string(),
        other => format!("{}s", other.to_lowercase()),
    };
    let base = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    match namespace {
        Some(ns) => format!("{base}/namespaces/{ns}/{plural}/{name}"),
        None => format!("{base}/{plural}/{name}"),
    }
}

async fn apply_all(fixture: &str) {
    let f = start_with_crds().await;
    let objects: Vec<Value> = serde_json::from_str(fixture).expect("fixture");
    let mut versions = Vec::new();
    for object in &objects {
        let path = format!("{}?fieldManager=engram&force=true", path_of(object));
        let (code, body) = raw(&f.client, "PATCH", &path, APPLY, object.clone()).await;
        assert!(
            code == 200 || code == 201,
            "{} {}: {code} {body}",
            object["kind"],
            object["metadata"]["name"]
        );
        versions.push(body["metadata"]["resourceVersion"].clone());
    }
    for (object, version) in objects.iter().zip(&versions) {
        let path = format!("{}?fieldManager=engram&force=true", path_of(object));
        let (code, body) = raw(&f.client, "PATCH", &path, APPLY, object.clone()).await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(
            &body["metadata"]["resourceVersion"], version,
            "re-applying {} {} changed it",
            object["kind"], object["metadata"]["name"]
        );
    }
}

#[tokio::test]
async fn the_production_example_is_accepted_and_reapplies_as_a_no_op() {
    apply_all(include_str!("fixtures/rendered-production.json")).await;
}

#[tokio::test]
async fn the_quickstart_example_is_accepted_and_reapplies_as_a_no_op() {
    apply_all(include_str!("fixtures/rendered-quickstart.json")).await;
}
