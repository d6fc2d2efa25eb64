//! Custom resource kinds exist only once their CustomResourceDefinition is installed, as on a real
//! cluster: before, their group answers the plain-text 404 of the apiserver's not-found handler;
//! a POST of the CRD to apiextensions.k8s.io/v1 (or `Handle::install_crd`) serves them at once,
//! discovery lists them, and deleting the CRD deletes its objects and stops serving them.

mod common;

use common::{client_for, raw, raw_text, start_bare};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, PostParams};
use kube::discovery::Discovery;
use kube_api::{KubeApiServer, Options, ResourceType};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const JSON: &str = "application/json";
const APPLY: &str = "application/apply-patch+yaml";
const MONITORS: &str = "/apis/monitoring.coreos.com/v1/namespaces/default/servicemonitors";

fn monitor(name: &str) -> Value {
    json!({
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "temporal"}}, "endpoints": [{"port": "metrics"}]}
    })
}

async fn assert_page_not_found(client: &kube::Client, path: &str) {
    let (code, content_type, body) = raw_text(client, "GET", path).await;
    assert_eq!(
        (code, content_type.as_str(), body.as_str()),
        (404, "text/plain; charset=utf-8", "404 page not found\n"),
        "{path}"
    );
}

async fn groups(client: &kube::Client) -> Vec<String> {
    let (code, body) = raw(client, "GET", "/apis", JSON, Value::Null).await;
    assert_eq!(code, 200);
    body["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["name"].as_str().map(String::from))
        .collect()
}

fn condition<'a>(crd: &'a Value, kind: &str) -> &'a Value {
    crd["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn a_posted_crd_serves_its_kind_and_discovery_lists_it() {
    let f = start_bare().await;
    assert_page_not_found(&f.client, MONITORS).await;
    assert_page_not_found(&f.client, "/apis/monitoring.coreos.com/v1").await;
    assert!(
        !groups(&f.client)
            .await
            .contains(&"monitoring.coreos.com".to_string())
    );

    let crds: Api<CustomResourceDefinition> = Api::all(f.client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(kube_api::crds::service_monitor())
        .expect("the bundled CRD is typed");
    let created = crds
        .create(&PostParams::default(), &crd)
        .await
        .expect("CRD created");
    let created = serde_json::to_value(&created).expect("json");
    assert_eq!(
        created["metadata"]["name"],
        "servicemonitors.monitoring.coreos.com"
    );
    assert_eq!(
        condition(&created, "NamesAccepted")["status"],
        "True",
        "{}",
        created["status"]
    );
    assert_eq!(
        condition(&created, "NamesAccepted")["reason"],
        "NoConflicts"
    );
    assert_eq!(condition(&created, "Established")["status"], "True");
    assert_eq!(
        condition(&created, "Established")["reason"],
        "InitialNamesAccepted"
    );
    assert_eq!(created["status"]["acceptedNames"]["kind"], "ServiceMonitor");
    assert_eq!(created["status"]["storedVersions"], json!(["v1"]));

    assert!(
        groups(&f.client)
            .await
            .contains(&"monitoring.coreos.com".to_string())
    );
    let (code, resources) = raw(
        &f.client,
        "GET",
        "/apis/monitoring.coreos.com/v1",
        JSON,
        Value::Null,
    )
    .await;
    assert_eq!(code, 200);
    let names: Vec<&str> = resources["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, vec!["servicemonitors", "servicemonitors/status"]);
    let discovery = Discovery::new(f.client.clone())
        .run()
        .await
        .expect("discovery");
    assert!(discovery.has_group("monitoring.coreos.com"));

    let (code, body) = raw(&f.client, "POST", MONITORS, JSON, monitor("temporal")).await;
    assert_eq!(code, 201, "{body}");
    let (code, list) = raw(&f.client, "GET", MONITORS, JSON, Value::Null).await;
    assert_eq!(
        (code, list["items"].as_array().map(Vec::len)),
        (200, Some(1))
    );
}

#[tokio::test]
async fn deleting_a_crd_deletes_its_objects_and_stops_serving_them() {
    let f = start_bare().await;
    f.server
        .handle()
        .install_crd(kube_api::crds::service_monitor())
        .expect("installed");
    let (code, _) = raw(&f.client, "POST", MONITORS, JSON, monitor("temporal")).await;
    assert_eq!(code, 201);
    let crds: Api<CustomResourceDefinition> = Api::all(f.client.clone());
    crds.delete(
        "servicemonitors.monitoring.coreos.com",
        &DeleteParams::default(),
    )
    .await
    .expect("deleted");
    assert_page_not_found(&f.client, MONITORS).await;
    assert!(
        !groups(&f.client)
            .await
            .contains(&"monitoring.coreos.com".to_string())
    );
    // Installing it again serves an empty collection: the objects went with the CRD.
    f.server
        .handle()
        .install_crd(kube_api::crds::service_monitor())
        .expect("installed again");
    let (code, list) = raw(&f.client, "GET", MONITORS, JSON, Value::Null).await;
    assert_eq!(
        (code, list["items"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{list}"
    );
}

#[tokio::test]
async fn an_invalid_crd_is_refused() {
    let f = start_bare().await;
    let mut crd = kube_api::crds::certificate();
    crd["metadata"]["name"] = json!("certs.cert-manager.io");
    let (code, body) = raw(
        &f.client,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        JSON,
        crd,
    )
    .await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (422, Some("Invalid")),
        "{body}"
    );
    let cause = &body["details"]["causes"][0];
    assert_eq!(cause["field"], "metadata.name");
    assert_eq!(
        cause["message"],
        "Invalid value: \"certs.cert-manager.io\": must be spec.names.plural+\".\"+spec.group"
    );
    assert_page_not_found(
        &f.client,
        "/apis/cert-manager.io/v1/namespaces/default/certificates",
    )
    .await;
}

#[tokio::test]
async fn a_crd_of_the_tests_own_can_be_installed_through_the_handle() {
    let f = start_bare().await;
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1alpha1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer", "minimum": 1}}}
                }}}
            }]
        }
    });
    let installed = f.server.handle().install_crd(crd).expect("installed");
    assert_eq!(condition(&installed, "Established")["status"], "True");
    let path = "/apis/example.com/v1alpha1/widgets/small";
    let widget = |size: i64| json!({"apiVersion": "example.com/v1alpha1", "kind": "Widget", "metadata": {"name": "small"}, "spec": {"size": size}});
    let (code, body) = raw(
        &f.client,
        "PATCH",
        &format!("{path}?fieldManager=t"),
        APPLY,
        widget(0),
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["details"]["causes"][0]["message"],
        "Invalid value: 0: spec.size in body should be greater than or equal to 1"
    );
    let (code, body) = raw(
        &f.client,
        "PATCH",
        &format!("{path}?fieldManager=t"),
        APPLY,
        widget(2),
    )
    .await;
    assert_eq!(code, 201, "{body}");
}

#[tokio::test]
async fn options_can_install_the_bundled_crds_up_front() {
    let server = KubeApiServer::start_with_bundled_crds()
        .await
        .expect("start");
    let client = client_for(server.kubeconfig_path()).await;
    for path in [
        MONITORS,
        "/apis/monitoring.coreos.com/v1/namespaces/default/prometheusrules",
        "/apis/cert-manager.io/v1/namespaces/default/certificates",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/servicemonitors.monitoring.coreos.com",
    ] {
        let (code, body) = raw(&client, "GET", path, JSON, Value::Null).await;
        assert_eq!(code, 200, "{path}: {body}");
    }
    // The same through Options, and a custom ResourceType becomes a CRD (the bundled schema when
    // it is one of the three kinds, otherwise one that accepts anything).
    let mut options = Options::without_crds();
    options.resources.push(ResourceType::custom(
        "cert-manager.io",
        "v1",
        "Certificate",
        "certificates",
    ));
    options.resources.push(ResourceType::custom(
        "example.com",
        "v1",
        "Gadget",
        "gadgets",
    ));
    let server = KubeApiServer::start_with(options).await.expect("start");
    let client = client_for(server.kubeconfig_path()).await;
    let (code, body) = raw(
        &client,
        "PATCH",
        "/apis/cert-manager.io/v1/namespaces/default/certificates/c?fieldManager=t",
        APPLY,
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "c"}, "spec": {}}),
    )
    .await;
    assert_eq!(
        code, 422,
        "the bundled Certificate schema requires secretName and issuerRef: {body}"
    );
    let (code, body) = raw(
        &client,
        "PATCH",
        "/apis/example.com/v1/namespaces/default/gadgets/g?fieldManager=t",
        APPLY,
        json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {"anything": [1, "two"]}}),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["spec"]["anything"], json!([1, "two"]));
    assert_page_not_found(&client, MONITORS).await;
}

fn kubectl_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    root.join(".tools/bin/kubectl")
}

#[tokio::test]
async fn kubectl_sees_a_kind_once_its_crd_is_installed() {
    let f = start_bare().await;
    let kubectl = |args: &'static [&'static str]| {
        let kubeconfig = f.server.kubeconfig_path().to_path_buf();
        async move {
            tokio::process::Command::new(kubectl_binary())
                .arg("--kubeconfig")
                .arg(kubeconfig)
                .args(args)
                .output()
                .await
                .expect("kubectl runs")
        }
    };
    let before = kubectl(&["get", "servicemonitors"]).await;
    assert!(!before.status.success());
    assert!(
        String::from_utf8_lossy(&before.stderr)
            .contains("the server doesn't have a resource type \"servicemonitors\""),
        "{}",
        String::from_utf8_lossy(&before.stderr)
    );
    f.server.handle().install_bundled_crds().expect("installed");
    let (code, _) = raw(&f.client, "POST", MONITORS, JSON, monitor("temporal")).await;
    assert_eq!(code, 201);
    let after = kubectl(&["get", "servicemonitors", "-o", "name"]).await;
    assert!(
        after.status.success(),
        "{}",
        String::from_utf8_lossy(&after.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&after.stdout),
        "servicemonitor.monitoring.coreos.com/temporal\n"
    );
}

#[tokio::test]
async fn kube_rs_sees_the_plain_text_404_as_an_api_error_with_code_404() {
    let f = start_bare().await;
    let resource = kube::api::ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor"),
        "servicemonitors",
    );
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(f.client.clone(), "default", &resource);
    match api.list(&Default::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 404, "{status:?}"),
        other => panic!("expected a 404, got {other:?}"),
    }
}
