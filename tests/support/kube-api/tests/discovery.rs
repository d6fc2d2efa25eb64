//! Discovery and routes: what kube-rs discovery and kubectl read before any request.

mod common;

use kube::discovery::{Discovery, Scope};

#[tokio::test]
async fn version_reports_kubernetes_1_37() {
    let f = common::start().await;
    let info = f.client.apiserver_version().await.expect("version");
    assert_eq!((info.major.as_str(), info.minor.as_str()), ("1", "37"));
}

#[tokio::test]
async fn discovery_lists_every_kind_the_provider_uses_with_its_scope() {
    let f = common::start_with_crds().await;
    let discovery = Discovery::new(f.client.clone())
        .run()
        .await
        .expect("discovery runs");
    let expected = [
        ("", "Namespace", false),
        ("", "ConfigMap", true),
        ("", "Secret", true),
        ("", "Service", true),
        ("", "ServiceAccount", true),
        ("apps", "Deployment", true),
        ("apps", "StatefulSet", true),
        ("batch", "Job", true),
        ("networking.k8s.io", "NetworkPolicy", true),
        ("networking.k8s.io", "Ingress", true),
        ("policy", "PodDisruptionBudget", true),
        ("rbac.authorization.k8s.io", "Role", true),
        ("rbac.authorization.k8s.io", "RoleBinding", true),
        ("apiextensions.k8s.io", "CustomResourceDefinition", false),
        ("monitoring.coreos.com", "ServiceMonitor", true),
        ("monitoring.coreos.com", "PrometheusRule", true),
        ("cert-manager.io", "Certificate", true),
    ];
    for (group, kind, namespaced) in expected {
        let found = discovery
            .groups()
            .flat_map(|g| g.recommended_resources())
            .find(|(ar, _)| ar.group == group && ar.kind == kind);
        let (_, caps) = found.unwrap_or_else(|| panic!("{group}/{kind} is discovered"));
        let scope = if namespaced {
            Scope::Namespaced
        } else {
            Scope::Cluster
        };
        assert_eq!(caps.scope, scope, "{kind} scope");
    }
}

#[tokio::test]
async fn status_subresources_are_listed_for_workloads() {
    let f = common::start().await;
    let list = f
        .client
        .list_api_group_resources("apps/v1")
        .await
        .expect("apps/v1 resources");
    let names: Vec<&str> = list.resources.iter().map(|r| r.name.as_str()).collect();
    assert!(names.contains(&"deployments/status"), "{names:?}");
    assert!(names.contains(&"statefulsets/status"), "{names:?}");
}

#[tokio::test]
async fn unknown_groups_answer_the_plain_text_404_of_the_not_found_handler() {
    let f = common::start_bare().await;
    for path in [
        "/apis/example.com/v1/things",
        "/apis/example.com",
        "/apis/monitoring.coreos.com/v1/namespaces/default/servicemonitors",
        "/apis/apps/v2/deployments",
    ] {
        let (code, content_type, body) = common::raw_text(&f.client, "GET", path).await;
        assert_eq!(
            (code, content_type.as_str(), body.as_str()),
            (404, "text/plain; charset=utf-8", "404 page not found\n"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn unknown_resources_of_a_served_group_answer_a_404_status() {
    let f = common::start().await;
    let request = http::Request::get("/api/v1/namespaces/default/widgets")
        .body(Vec::new())
        .expect("request");
    let result = f.client.request::<serde_json::Value>(request).await;
    let error = common::api_error(result);
    assert_eq!(
        (error.code, error.reason.as_str(), error.message.as_str()),
        (
            404,
            "NotFound",
            "the server could not find the requested resource"
        )
    );
}
