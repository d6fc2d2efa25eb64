//! Lists and stored objects as a real server returns them: the items of a LIST of a built-in kind
//! carry no `apiVersion`/`kind` (the typed list is encoded as a whole and only the list has type
//! meta), items of custom resources do (they are unstructured); empty values are dropped on
//! storage as Go's `omitempty` drops them, while empty structs without a pointer stay.

mod common;

use common::{deployment, raw, start_with_crds};
use serde_json::{Value, json};

const APPLY: &str = "application/apply-patch+yaml";
const JSON: &str = "application/json";

async fn apply(f: &common::Fixture, path: &str, object: Value) -> Value {
    let (code, body) = raw(
        &f.client,
        "PATCH",
        &format!("{path}?fieldManager=test&force=true"),
        APPLY,
        object,
    )
    .await;
    assert!(code == 200 || code == 201, "{code} {body}");
    body
}

async fn get(f: &common::Fixture, path: &str) -> Value {
    let (code, body) = raw(&f.client, "GET", path, JSON, Value::Null).await;
    assert_eq!(code, 200, "{body}");
    body
}

#[tokio::test]
async fn items_of_built_in_kinds_carry_no_type_meta() {
    let f = start_with_crds().await;
    apply(
        &f,
        "/apis/apps/v1/namespaces/default/deployments/web",
        deployment("web", "temporal:1"),
    )
    .await;
    apply(
        &f,
        "/api/v1/namespaces/default/configmaps/settings",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "b"}}),
    )
    .await;
    for (path, list_kind, api_version) in [
        (
            "/apis/apps/v1/namespaces/default/deployments",
            "DeploymentList",
            "apps/v1",
        ),
        ("/apis/apps/v1/deployments", "DeploymentList", "apps/v1"),
        (
            "/api/v1/namespaces/default/configmaps",
            "ConfigMapList",
            "v1",
        ),
    ] {
        let list = get(&f, path).await;
        assert_eq!(list["kind"], list_kind);
        assert_eq!(list["apiVersion"], api_version);
        assert!(list["metadata"]["resourceVersion"].is_string(), "{list}");
        let items = list["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{list}");
        assert!(items[0].get("apiVersion").is_none(), "{path}: {}", items[0]);
        assert!(items[0].get("kind").is_none(), "{path}: {}", items[0]);
        assert!(items[0]["metadata"]["name"].is_string());
    }
    // A GET of one object does carry them.
    let one = get(&f, "/apis/apps/v1/namespaces/default/deployments/web").await;
    assert_eq!(
        (one["apiVersion"].as_str(), one["kind"].as_str()),
        (Some("apps/v1"), Some("Deployment"))
    );
    // So does kube-rs's typed list, which fills them in itself.
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(f.client.clone(), "default");
    let listed = deployments.list(&Default::default()).await.expect("list");
    assert_eq!(listed.items.len(), 1);
}

#[tokio::test]
async fn items_of_custom_resources_carry_their_type_meta() {
    let f = start_with_crds().await;
    let path = "/apis/monitoring.coreos.com/v1/namespaces/default/servicemonitors";
    apply(
        &f,
        &format!("{path}/temporal"),
        json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": "temporal"},
            "spec": {"selector": {}, "endpoints": [{"port": "metrics"}]}}),
    )
    .await;
    let list = get(&f, path).await;
    assert_eq!(list["kind"], "ServiceMonitorList");
    assert_eq!(list["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(list["items"][0]["kind"], "ServiceMonitor");
    assert_eq!(list["items"][0]["apiVersion"], "monitoring.coreos.com/v1");
}

#[tokio::test]
async fn empty_values_are_dropped_on_storage_as_omitempty_drops_them() {
    let f = start_with_crds().await;
    let mut object = deployment("web", "temporal:1");
    object["metadata"]["annotations"] = json!({});
    object["spec"]["paused"] = json!(false);
    object["spec"]["template"]["spec"]["containers"][0]["env"] = json!([]);
    object["spec"]["template"]["spec"]["containers"][0]["args"] = json!([]);
    object["spec"]["template"]["spec"]["containers"][0]["workingDir"] = json!("");
    object["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "config", "mountPath": "/etc/temporal", "readOnly": false}]);
    object["spec"]["template"]["spec"]["volumes"] =
        json!([{"name": "config", "configMap": {"name": "settings", "items": []}}]);
    object["spec"]["template"]["spec"]["nodeSelector"] = json!({});
    let stored = apply(
        &f,
        "/apis/apps/v1/namespaces/default/deployments/web",
        object,
    )
    .await;
    let container = &stored["spec"]["template"]["spec"]["containers"][0];
    assert!(
        stored["metadata"].get("annotations").is_none(),
        "{}",
        stored["metadata"]
    );
    assert!(stored["spec"].get("paused").is_none(), "{}", stored["spec"]);
    for field in ["env", "args", "workingDir"] {
        assert!(container.get(field).is_none(), "{field}: {container}");
    }
    assert_eq!(
        container["volumeMounts"],
        json!([{"name": "config", "mountPath": "/etc/temporal"}])
    );
    assert!(
        stored["spec"]["template"]["spec"]
            .get("nodeSelector")
            .is_none()
    );
    let volume = &stored["spec"]["template"]["spec"]["volumes"][0];
    assert_eq!(
        volume["configMap"],
        json!({"name": "settings", "defaultMode": 420})
    );
    // A struct that is not a pointer is always encoded, even empty.
    assert_eq!(container["resources"], json!({}));
    assert_eq!(
        stored["spec"]["template"]["spec"]["securityContext"],
        json!({})
    );
    // The same object read back, and listed, is the same.
    let read = get(&f, "/apis/apps/v1/namespaces/default/deployments/web").await;
    assert_eq!(read["spec"], stored["spec"]);
    // Re-applying the same manifest (with its empty values) changes nothing.
    let mut again = deployment("web", "temporal:1");
    again["metadata"]["annotations"] = json!({});
    let (code, body) = raw(
        &f.client,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=test&force=true",
        APPLY,
        again,
    )
    .await;
    assert_eq!(code, 200, "{body}");
}

#[tokio::test]
async fn empty_maps_and_lists_of_config_maps_and_services_are_dropped() {
    let f = start_with_crds().await;
    let map = apply(
        &f,
        "/api/v1/namespaces/default/configmaps/empty",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "empty", "labels": {}}, "data": {}}),
    )
    .await;
    assert!(map.get("data").is_none(), "{map}");
    assert!(map["metadata"].get("labels").is_none(), "{map}");
    let service = apply(
        &f,
        "/api/v1/namespaces/default/services/frontend",
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "frontend"},
            "spec": {"selector": {"app": "frontend"}, "ports": [{"port": 7233}], "externalIPs": []}}),
    )
    .await;
    assert!(service["spec"].get("externalIPs").is_none(), "{service}");
    assert_eq!(
        service["spec"]["ports"][0]["targetPort"], 7233,
        "defaulted to the port"
    );
    assert_eq!(service["spec"]["ports"][0]["protocol"], "TCP");
}

#[tokio::test]
async fn quantities_are_stored_in_canonical_form() {
    let f = start_with_crds().await;
    let mut object = deployment("web", "temporal:1");
    object["spec"]["template"]["spec"]["containers"][0]["resources"] = json!({
        "requests": {"cpu": "0.5", "memory": "1024Mi"},
        "limits": {"cpu": "1000m", "memory": "2048Mi", "ephemeral-storage": "1e3"}
    });
    let stored = apply(
        &f,
        "/apis/apps/v1/namespaces/default/deployments/web",
        object,
    )
    .await;
    assert_eq!(
        stored["spec"]["template"]["spec"]["containers"][0]["resources"],
        json!({
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "1e3"}
        })
    );
}
