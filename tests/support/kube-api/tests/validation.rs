//! 422 Invalid for the built-in kinds a Temporal deployment renders, with `details.causes` worded
//! as the real server words them (reason, `field` path, message).

mod common;

use common::{deployment, raw, start};
use serde_json::{Value, json};

const APPLY: &str = "application/apply-patch+yaml";

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

fn causes(body: &Value) -> Vec<(String, String, String)> {
    body["details"]["causes"]
        .as_array()
        .map(|causes| {
            causes
                .iter()
                .map(|c| {
                    (
                        c["reason"].as_str().unwrap_or_default().to_string(),
                        c["field"].as_str().unwrap_or_default().to_string(),
                        c["message"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn cause(reason: &str, field: &str, message: &str) -> (String, String, String) {
    (reason.into(), field.into(), message.into())
}

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

#[tokio::test]
async fn service_names_must_be_dns_1035_labels() {
    let f = start().await;
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1frontend"},
        "spec": {"ports": [{"port": 80}]}});
    let (code, body) = apply(&f, "/api/v1/namespaces/default/services/1frontend", service).await;
    assert_eq!((code, body["reason"].as_str()), (422, Some("Invalid")));
    assert_eq!(
        causes(&body),
        vec![cause(
            "FieldValueInvalid",
            "metadata.name",
            "Invalid value: \"1frontend\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        )]
    );
    assert_eq!(
        body["message"].as_str().map(
            |m| m.starts_with("Service \"1frontend\" is invalid: metadata.name: Invalid value")
        ),
        Some(true)
    );
    // A config map name may start with a digit and have dots (a DNS subdomain).
    let map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "1.config"}});
    let (code, _) = apply(&f, "/api/v1/namespaces/default/configmaps/1.config", map).await;
    assert_eq!(code, 201);
}

#[tokio::test]
async fn namespace_names_are_dns_1123_labels_without_dots() {
    let f = start().await;
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "temporal.prod"}});
    let (code, body) = apply(&f, "/api/v1/namespaces/temporal.prod", namespace).await;
    assert_eq!(code, 422);
    assert_eq!(
        causes(&body),
        vec![cause(
            "FieldValueInvalid",
            "metadata.name",
            "Invalid value: \"temporal.prod\": must not contain dots"
        )]
    );
}

#[tokio::test]
async fn label_keys_and_values_and_the_annotation_size_are_checked() {
    let f = start().await;
    let map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "c",
        "labels": {"app.kubernetes.io/name": "-bad", "a/b/c": "x"},
        "annotations": {"big": "x".repeat(256 * 1024)}
    }});
    let (code, body) = apply(&f, "/api/v1/namespaces/default/configmaps/c", map).await;
    assert_eq!(code, 422);
    let found = causes(&body);
    assert!(found.contains(&cause(
        "FieldValueInvalid",
        "metadata.labels",
        "Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    )), "{found:?}");
    assert!(
        found.iter().any(|(r, field, m)| r == "FieldValueInvalid"
            && field == "metadata.labels"
            && m.starts_with("Invalid value: \"-bad\": a valid label must be an empty string")),
        "{found:?}"
    );
    assert!(
        found.contains(&cause(
            "FieldValueTooLong",
            "metadata.annotations",
            "Too long: may not be more than 262144 bytes"
        )),
        "{found:?}"
    );
}

#[tokio::test]
async fn containers_need_an_image_unique_dns_label_names_and_at_least_one_entry() {
    let f = start().await;
    let mut manifest = deployment("web", "nginx:1");
    manifest["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "app"},
        {"name": "Side_Car", "image": "envoy:1"}
    ]);
    let (code, body) = apply(&f, &format!("{DEPLOYMENTS}/web"), manifest).await;
    assert_eq!(code, 422);
    let found = causes(&body);
    assert!(
        found.contains(&cause(
            "FieldValueRequired",
            "spec.template.spec.containers[0].image",
            "Required value"
        )),
        "{found:?}"
    );
    assert!(
        found.iter().any(|(r, field, m)| r == "FieldValueInvalid"
            && field == "spec.template.spec.containers[1].name"
            && m.starts_with(
                "Invalid value: \"Side_Car\": a lowercase RFC 1123 label must consist of"
            )),
        "{found:?}"
    );
    let mut none = deployment("web", "nginx:1");
    none["spec"]["template"]["spec"]["containers"] = json!([]);
    let (code, body) = apply(&f, &format!("{DEPLOYMENTS}/web"), none).await;
    assert_eq!(code, 422);
    assert!(causes(&body).contains(&cause(
        "FieldValueRequired",
        "spec.template.spec.containers",
        "Required value"
    )));
}

#[tokio::test]
async fn duplicate_container_names_are_refused_on_create() {
    let f = start().await;
    let mut manifest = deployment("web", "nginx:1");
    manifest["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "app", "image": "a"}, {"name": "app", "image": "b"}
    ]);
    // Through POST: server-side apply refuses duplicate keys earlier, in its typed conversion.
    let (code, body) = raw(&f.client, "POST", DEPLOYMENTS, "application/json", manifest).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        causes(&body),
        vec![cause(
            "FieldValueDuplicate",
            "spec.template.spec.containers[1].name",
            "Duplicate value: \"app\""
        )]
    );
}

#[tokio::test]
async fn resource_requests_may_not_exceed_limits_and_quantities_are_stored_canonically() {
    let f = start().await;
    let mut manifest = deployment("web", "nginx:1");
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}});
    let (code, body) = apply(&f, &format!("{DEPLOYMENTS}/web"), manifest).await;
    assert_eq!(code, 422);
    assert_eq!(
        causes(&body),
        vec![cause(
            "FieldValueInvalid",
            "spec.template.spec.containers[0].resources.requests",
            "Invalid value: \"2\": must be less than or equal to cpu limit of 1"
        )]
    );
    let mut fine = deployment("web", "nginx:1");
    fine["spec"]["template"]["spec"]["containers"][0]["resources"] = json!({
        "requests": {"cpu": "0.5", "memory": "1024Mi"},
        "limits": {"cpu": 1, "memory": "2Gi", "ephemeral-storage": "1000M"}
    });
    let (code, body) = apply(&f, &format!("{DEPLOYMENTS}/web"), fine).await;
    assert_eq!(code, 201, "{body}");
    let resources = &body["spec"]["template"]["spec"]["containers"][0]["resources"];
    assert_eq!(
        resources["requests"],
        json!({"cpu": "500m", "memory": "1Gi"})
    );
    assert_eq!(
        resources["limits"],
        json!({"cpu": "1", "ephemeral-storage": "1G", "memory": "2Gi"})
    );
}

#[tokio::test]
async fn quantities_that_do_not_parse_are_refused() {
    let f = start().await;
    let mut manifest = deployment("web", "nginx:1");
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"limits": {"cpu": "one"}});
    let (code, body) = raw(
        &f.client,
        "POST",
        DEPLOYMENTS,
        "application/json",
        manifest.clone(),
    )
    .await;
    assert_eq!((code, body["reason"].as_str()), (400, Some("BadRequest")));
    assert_eq!(
        body["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
    let (code, body) = apply(&f, &format!("{DEPLOYMENTS}/web"), manifest).await;
    assert_eq!(code, 500);
    assert!(
        body["message"].as_str().is_some_and(|m| m.starts_with("failed to convert new object (/web; apps/v1, Kind=Deployment) to proper version (apps/v1): quantities must match")),
        "{body}"
    );
}

#[tokio::test]
async fn job_pods_restart_only_on_failure_or_never() {
    let f = start().await;
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "schema"},
        "spec": {"template": {"spec": {"containers": [{"name": "s", "image": "tool:1"}]}}}});
    let (code, body) = apply(&f, "/apis/batch/v1/namespaces/default/jobs/schema", job).await;
    assert_eq!(code, 422);
    assert_eq!(
        causes(&body),
        vec![cause(
            "FieldValueNotSupported",
            "spec.template.spec.restartPolicy",
            "Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
        )]
    );
}

#[tokio::test]
async fn services_with_several_ports_need_port_names() {
    let f = start().await;
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "frontend"},
        "spec": {"ports": [{"port": 7233}, {"name": "http", "port": 7243}]}});
    let (code, body) = apply(&f, "/api/v1/namespaces/default/services/frontend", service).await;
    assert_eq!(code, 422);
    assert_eq!(
        causes(&body),
        vec![cause(
            "FieldValueRequired",
            "spec.ports[0].name",
            "Required value"
        )]
    );
}

#[tokio::test]
async fn max_surge_and_max_unavailable_may_not_both_be_zero() {
    let f = start().await;
    let mut manifest = deployment("web", "nginx:1");
    manifest["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}});
    let (code, body) = apply(&f, &format!("{DEPLOYMENTS}/web"), manifest).await;
    assert_eq!(code, 422);
    assert_eq!(
        causes(&body),
        vec![cause(
            "FieldValueInvalid",
            "spec.strategy.rollingUpdate.maxUnavailable",
            "Invalid value: 0: may not be 0 when `maxSurge` is 0"
        )]
    );
    assert_eq!(
        body["message"],
        "Deployment.apps \"web\" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"
    );
}

#[tokio::test]
async fn negative_replicas_are_refused() {
    let f = start().await;
    let mut manifest = deployment("web", "nginx:1");
    manifest["spec"]["replicas"] = json!(-1);
    let (code, body) = apply(&f, &format!("{DEPLOYMENTS}/web"), manifest).await;
    assert_eq!(code, 422);
    assert_eq!(
        causes(&body),
        vec![cause(
            "FieldValueInvalid",
            "spec.replicas",
            "Invalid value: -1: must be greater than or equal to 0"
        )]
    );
}

#[tokio::test]
async fn network_policy_cidrs_must_parse_and_excepts_must_lie_inside() {
    let f = start().await;
    let policy = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p"},
    "spec": {"podSelector": {}, "ingress": [{"from": [
        {"ipBlock": {"cidr": "10.0.0.0/33"}},
        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}},
        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}
    ]}]}});
    let (code, body) = apply(
        &f,
        "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/p",
        policy,
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        causes(&body),
        vec![
            cause(
                "FieldValueInvalid",
                "spec.ingress[0].from[0].ipBlock.cidr",
                "Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
            ),
            cause(
                "FieldValueInvalid",
                "spec.ingress[0].from[1].ipBlock.except[0]",
                "Invalid value: \"192.168.0.0/16\": must be a strict subset of `cidr`"
            ),
        ]
    );
}

#[tokio::test]
async fn disruption_budgets_take_min_available_or_max_unavailable_not_both() {
    let f = start().await;
    let pdb = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "b"},
        "spec": {"minAvailable": 1, "maxUnavailable": "200%", "selector": {"matchLabels": {"app": "web"}}}});
    let (code, body) = apply(
        &f,
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets/b",
        pdb,
    )
    .await;
    assert_eq!(code, 422);
    let found = causes(&body);
    assert_eq!(found[0].1, "spec");
    assert!(
        found[0]
            .2
            .ends_with("minAvailable and maxUnavailable cannot be both set"),
        "{found:?}"
    );
    assert!(
        found.contains(&cause(
            "FieldValueInvalid",
            "spec.maxUnavailable",
            "Invalid value: \"200%\": must not be greater than 100%"
        )),
        "{found:?}"
    );
}

#[tokio::test]
async fn volume_mounts_must_name_a_volume() {
    let f = start().await;
    let mut manifest = deployment("web", "nginx:1");
    manifest["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "config", "mountPath": "/etc/app"}]);
    let (code, body) = apply(&f, &format!("{DEPLOYMENTS}/web"), manifest).await;
    assert_eq!(code, 422);
    assert_eq!(
        causes(&body),
        vec![cause(
            "FieldValueNotFound",
            "spec.template.spec.containers[0].volumeMounts[0].name",
            "Not found: \"config\""
        )]
    );
}

#[tokio::test]
async fn several_failures_are_listed_in_one_message() {
    let f = start().await;
    let mut manifest = deployment("web", "nginx:1");
    manifest["spec"]["replicas"] = json!(-2);
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = json!("");
    let (code, body) = apply(&f, &format!("{DEPLOYMENTS}/web"), manifest).await;
    assert_eq!(code, 422);
    assert_eq!(
        body["message"],
        "Deployment.apps \"web\" is invalid: [spec.replicas: Invalid value: -2: must be greater than or equal to 0, spec.template.spec.containers[0].image: Required value]"
    );
}

const INGRESSES: &str = "/apis/networking.k8s.io/v1/namespaces/default/ingresses";

fn ingress(paths: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "ui"},
        "spec": {"ingressClassName": "nginx",
            "tls": [{"hosts": ["ui.example.com"], "secretName": "ui-tls"}],
            "rules": [{"host": "ui.example.com", "http": {"paths": paths}}]}})
}

#[tokio::test]
async fn ingress_paths_need_a_path_type_and_an_absolute_path() {
    let f = start().await;
    let backend = json!({"service": {"name": "web-ui", "port": {"name": "http"}}});
    let bad = ingress(json!([
        {"path": "/", "backend": backend},
        {"path": "ui", "pathType": "Prefix", "backend": backend},
        {"path": "/a//b", "pathType": "Exact", "backend": backend},
        {"path": "/", "pathType": "Regex", "backend": backend},
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web-ui", "port": {}}}},
    ]));
    let (code, body) = apply(&f, &format!("{INGRESSES}/ui"), bad).await;
    assert_eq!((code, body["reason"].as_str()), (422, Some("Invalid")));
    assert_eq!(
        causes(&body),
        vec![
            cause(
                "FieldValueRequired",
                "spec.rules[0].http.paths[0].pathType",
                "Required value: pathType must be specified"
            ),
            cause(
                "FieldValueInvalid",
                "spec.rules[0].http.paths[1].path",
                "Invalid value: \"ui\": must be an absolute path"
            ),
            cause(
                "FieldValueInvalid",
                "spec.rules[0].http.paths[2].path",
                "Invalid value: \"/a//b\": must not contain '//'"
            ),
            cause(
                "FieldValueNotSupported",
                "spec.rules[0].http.paths[3].pathType",
                "Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""
            ),
            cause(
                "FieldValueRequired",
                "spec.rules[0].http.paths[4].backend",
                "Required value: port name or number is required"
            ),
        ]
    );
    let good = ingress(json!([{"path": "/", "pathType": "Prefix", "backend": backend}]));
    let (code, body) = apply(&f, &format!("{INGRESSES}/ui"), good).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["metadata"]["generation"], json!(1));
}

#[tokio::test]
async fn ingress_hosts_are_dns_names_and_the_class_annotation_must_agree() {
    let f = start().await;
    let backend = json!({"service": {"name": "web-ui", "port": {"number": 8080}}});
    let mut bad = ingress(json!([{"path": "/", "pathType": "Prefix", "backend": backend}]));
    bad["metadata"]["annotations"] = json!({"kubernetes.io/ingress.class": "traefik"});
    bad["spec"]["rules"][0]["host"] = json!("10.0.0.1");
    bad["spec"]["tls"][0]["hosts"] = json!(["UI.example.com"]);
    let (code, body) = apply(&f, &format!("{INGRESSES}/ui"), bad).await;
    assert_eq!(code, 422, "{body}");
    let fields: Vec<String> = causes(&body).into_iter().map(|c| c.1).collect();
    assert_eq!(
        fields,
        vec![
            "spec.rules[0].host",
            "spec.tls[0].hosts[0]",
            "annotations.kubernetes.io/ingress.class"
        ]
    );
    let (code, body) = apply(
        &f,
        &format!("{INGRESSES}/ui"),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "ui"}, "spec": {}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        causes(&body),
        vec![cause(
            "FieldValueInvalid",
            "spec",
            "Invalid value: null: either `defaultBackend` or `rules` must be specified"
        )]
    );
}
