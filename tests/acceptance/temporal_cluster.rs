//! `engram_temporal_cluster` through Terraform against the Kubernetes API test server
//! (tests/support/kube-api; workloads turn ready on their own): create, an empty second plan,
//! drift from a person's edit and a deleted object (but not from an autoscaler), the shard count
//! replacement guarded by deletion protection, import, and destroy.

use crate::terraform::{Version, Workspace};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube_api::{KubeApiServer, Options};
use serde_json::{Value as Json, json};
use std::time::Duration;

async fn kube_server() -> KubeApiServer {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let options = Options {
        auto_ready: Some(Duration::from_millis(5)),
        ..Options::default()
    };
    KubeApiServer::start_with(options)
        .await
        .expect("start kube-api")
}

async fn client(server: &KubeApiServer) -> kube::Client {
    let file = kube::config::Kubeconfig::read_from(server.kubeconfig_path()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// The `terraform` block and a provider configured for `server`.
fn provider_for(server: &KubeApiServer) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    engram = {{ source = "engram/engram" }}
  }}
}}
provider "engram" {{
  kubernetes {{
    config_path = "{}"
  }}
}}
"#,
        server.kubeconfig_path().display()
    )
}

fn config(server: &KubeApiServer, cluster: &str) -> String {
    format!(
        r#"{}resource "engram_temporal_cluster" "prod" {{
  name                = "prod"
  namespace           = "temporal-prod"
  version             = "1.29.1"
{cluster}
  services = {{
    history  = {{ replicas = 3 }}
    frontend = {{ replicas = 3 }}
  }}
  persistence = {{
    default = {{
      host            = "pg.example.internal"
      database        = "temporal"
      user            = "temporal"
      password_secret = {{ name = "temporal-pg", key = "password" }}
    }}
    visibility = {{
      host            = "pg.example.internal"
      database        = "temporal_visibility"
      user            = "temporal"
      password_secret = {{ name = "temporal-pg", key = "password" }}
    }}
  }}
  authorization = {{
    jwt_key_source_uris = ["https://login.example.com/keys"]
  }}
  tls = {{
    internode = {{ source = "existing_secret", secret_name = "prod-internode-tls" }}
  }}
  admin_tools = {{
    api_key_secret = {{ name = "prod-admin-token", key = "token" }}
  }}
  timeouts {{
    create = "2m"
  }}
}}
output "id" {{ value = engram_temporal_cluster.prod.id }}
output "frontend" {{ value = engram_temporal_cluster.prod.frontend_address }}
"#,
        provider_for(server)
    )
}

const SHARDS_512: &str = "  history_shard_count = 512";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_replan_drift_repair_import_and_destroy() {
    let server = kube_server().await;
    let kube = client(&server).await;
    let ws = Workspace::new(Version::V1_15_5, &config(&server, SHARDS_512));
    ws.apply();
    let out = ws.outputs();
    assert_eq!(out["id"], "temporal-prod/prod");
    assert_eq!(out["frontend"], "prod-frontend.temporal-prod.svc:7233");
    let deployments: Api<Deployment> = Api::namespaced(kube.clone(), "temporal-prod");
    let names: Vec<String> = deployments
        .list(&ListParams::default().labels("engram.dev/cluster=prod"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|d| d.metadata.name)
        .collect();
    for service in [
        "prod-frontend",
        "prod-history",
        "prod-matching",
        "prod-worker",
    ] {
        assert!(
            names.iter().any(|n| n == service),
            "{service} missing from {names:?}"
        );
    }
    ws.assert_no_changes();

    // An autoscaler changes replicas: not drift.
    let autoscaler = PatchParams {
        field_manager: Some("horizontal-pod-autoscaler".into()),
        ..PatchParams::default()
    };
    deployments
        .patch(
            "prod-history",
            &autoscaler,
            &Patch::Merge(json!({"spec": {"replicas": 6}})),
        )
        .await
        .unwrap();
    ws.assert_no_changes();

    // A person changes an image and deletes a Service: the plan shows both, apply repairs.
    let person = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..PatchParams::default()
    };
    deployments
        .patch(
            "prod-frontend",
            &person,
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "frontend", "image": "temporalio/server:1.29.0-hotfix"}
            ]}}}})),
        )
        .await
        .unwrap();
    let services: Api<Service> = Api::namespaced(kube.clone(), "temporal-prod");
    services
        .delete("prod-matching", &DeleteParams::default())
        .await
        .unwrap();
    let plan = ws.plan_exit_code();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert!(
        plan.stdout.contains("temporalio/server:1.29.0-hotfix"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("prod-matching: deleted outside Terraform"),
        "{}",
        plan.stdout
    );
    ws.apply();
    ws.assert_no_changes();
    let frontend = deployments.get("prod-frontend").await.unwrap();
    let image = serde_json::to_value(&frontend).unwrap()["spec"]["template"]["spec"]["containers"]
        [0]["image"]
        .clone();
    assert_eq!(image, "temporalio/server:1.29.1");
    assert!(services.get("prod-matching").await.is_ok());

    // Import into a fresh state: the plan is empty. Timeouts are Terraform-only settings that
    // no import can recover, so the importing configuration leaves them out.
    let without_timeouts = ws
        .config()
        .replace("  timeouts {\n    create = \"2m\"\n  }\n", "");
    assert_ne!(without_timeouts, ws.config());
    let fresh = Workspace::new(Version::V1_15_5, &without_timeouts);
    fresh.ok(&[
        "import",
        "-no-color",
        "engram_temporal_cluster.prod",
        "temporal-prod/prod",
    ]);
    fresh.assert_no_changes();

    // Destroy is refused while protected, then removes everything.
    let refused = ws.run(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused.all().contains("Deletion protection is on"),
        "{}",
        refused.all()
    );
    ws.write_config(&config(
        &server,
        &format!("{SHARDS_512}\n  deletion_protection = false"),
    ));
    ws.apply();
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    let left = deployments
        .list(&ListParams::default().labels("engram.dev/cluster=prod"))
        .await
        .unwrap();
    assert!(left.items.is_empty(), "objects left after destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_shard_count_is_a_replacement_that_says_why() {
    let server = kube_server().await;
    let ws = Workspace::new(Version::V1_15_5, &config(&server, SHARDS_512));
    ws.apply();

    ws.write_config(&config(&server, "  history_shard_count = 1024"));
    let protected = ws.run(&["plan", "-no-color"]);
    assert_eq!(protected.code, 1, "{}", protected.all());
    assert!(
        protected.all().contains("Deletion protection is on"),
        "{}",
        protected.all()
    );
    assert!(protected.all().contains("replace"), "{}", protected.all());

    ws.write_config(&config(
        &server,
        &format!("{SHARDS_512}\n  deletion_protection = false"),
    ));
    ws.apply();
    ws.write_config(&config(
        &server,
        "  history_shard_count = 1024\n  deletion_protection = false",
    ));
    let plan = ws.plan_exit_code();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    let stdout = plan.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        stdout.contains("history_shard_count = 512 -> 1024 # forces replacement"),
        "{stdout}"
    );
    let all = plan.words();
    assert!(
        all.contains("Changing history_shard_count replaces this resource"),
        "{all}"
    );
    assert!(all.contains("histories are not migrated"), "{all}");
    assert!(all.contains("engram_history_shards"), "{all}");
}

#[test]
fn bad_cluster_inputs_are_named() {
    let ws = Workspace::new(
        Version::V1_15_5,
        r#"
terraform {
  required_providers {
    engram = { source = "engram/engram" }
  }
}
provider "engram" {}
resource "engram_temporal_cluster" "bad" {
  name                = "prod"
  version             = "1.29.1"
  history_shard_count = 0
  services = {
    history  = { replicas = -1 }
    frontend = { resources = { cpu_request = "4", cpu_limit = "2" } }
    matching = { tolerations = [{ key = "dedicated", operator = "Gt", value = "1" }] }
  }
  network = { allowed_cidrs = ["10.0.0.0/33"] }
  persistence = {
    default    = { host = "", database = "t", user = "u", password_secret = { name = "s", key = "p" } }
    visibility = { host = "h", database = "v", user = "u", password_secret = { name = "s", key = "p" }, port = 70000 }
  }
  timeouts {
    create = "soon"
  }
}
"#,
    );
    let run = ws.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1);
    let out = run.all();
    for expected in [
        "Invalid history_shard_count",
        "Invalid services.history.replicas",
        "Invalid services.frontend.resources.cpu_request",
        "Invalid persistence.default.host",
        "Invalid persistence.visibility.port",
        "Invalid services.matching.tolerations[0].operator",
        "Invalid network.allowed_cidrs[0]",
        "Invalid timeouts.create",
    ] {
        assert_eq!(
            out.matches(&format!("Error: {expected}\n")).count(),
            1,
            "one error for each wrong value, `{expected}`:\n{out}"
        );
    }
    for rust_words in ["u32", "u16", "i32", "expected u", "missing field"] {
        assert!(!out.contains(rust_words), "`{rust_words}` in:\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_change_temporal_cannot_take_is_refused_at_plan() {
    let server = kube_server().await;
    let at = |version: &str| {
        config(&server, SHARDS_512).replace("\"1.29.1\"", &format!("\"{version}\""))
    };
    let ws = Workspace::new(Version::V1_15_5, &at("1.30.6"));
    ws.apply();
    for (version, wanted) in [
        ("1.32.0", "apply 1.31.x first"),
        ("1.29.1", "cannot go back"),
    ] {
        ws.write_config(&at(version));
        let run = ws.run(&["plan", "-no-color", "-input=false"]);
        assert_eq!(run.code, 1, "{}", run.all());
        let out = run.all();
        assert!(out.contains("Unsupported Temporal version change"), "{out}");
        assert!(out.contains(wanted), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_smoke_on_terraform_1_0_3() {
    let server = kube_server().await;
    let ws = Workspace::new(Version::V1_0_3, &config(&server, SHARDS_512));
    ws.apply();
    ws.assert_no_changes();
    assert_eq!(ws.outputs()["id"], "temporal-prod/prod");
}

/// Terraform 1.0.3 crashed planning a cluster that leaves optional nested attributes (`services`,
/// `tls`, `admin_tools`, ...) null (hashicorp/terraform#29388); they are declared computed to
/// Terraform so it never descends into a null one, and planned exactly as configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minimal_cluster_applies_and_replans_empty_on_terraform_1_0_3() {
    let server = kube_server().await;
    let config = format!(
        r#"{}resource "engram_temporal_cluster" "minimal" {{
  name                = "minimal"
  namespace           = "temporal-minimal"
  version             = "1.29.1"
  history_shard_count = 512
  persistence = {{
    default    = {{ host = "pg", database = "temporal", user = "temporal", password_secret = {{ name = "pg", key = "password" }} }}
    visibility = {{ host = "pg", database = "temporal_visibility", user = "temporal", password_secret = {{ name = "pg", key = "password" }} }}
  }}
  timeouts {{
    create = "2m"
  }}
}}
"#,
        provider_for(&server)
    );
    let ws = Workspace::new(Version::V1_0_3, &config);
    ws.apply();
    ws.assert_no_changes();
    let cluster = ws.resource("engram_temporal_cluster");
    assert_eq!(cluster["id"], "temporal-minimal/minimal");
    // The attributes left out are planned with their documented defaults.
    assert_eq!(
        cluster["services"]["history"]["resources"]["memory_request"],
        "4Gi"
    );
    assert!(cluster["tls"]["internode"].is_null(), "{cluster}");
}

/// A nested attribute taken out of the configuration is planned away, although Terraform
/// proposes its prior value (it is declared computed, see the 1.0.3 test above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_nested_attribute_plans_its_removal() {
    let server = kube_server().await;
    let ws = Workspace::new(Version::V1_15_5, &config(&server, SHARDS_512));
    ws.apply();
    let without_services = ws.config().replace(
        "  services = {\n    history  = { replicas = 3 }\n    frontend = { replicas = 3 }\n  }\n",
        "",
    );
    assert_ne!(without_services, ws.config(), "the fixture sets services");
    ws.write_config(&without_services);
    let plan = ws.ok(&["plan", "-no-color"]).stdout;
    let plan = plan.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(plan.contains("replicas = 3 -> 2"), "{plan}");
    assert!(plan.contains("1 to change"), "{plan}");
    ws.apply();
    ws.assert_no_changes();
    let cluster = ws.resource("engram_temporal_cluster");
    // Back to the role's documented default.
    assert_eq!(cluster["services"]["frontend"]["replicas"], 2, "{cluster}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_from_a_provider_setting_known_only_at_apply_is_planned_unknown() {
    let server = kube_server().await;
    let config = format!(
        r#"
terraform {{
  required_providers {{
    engram = {{ source = "engram/engram" }}
  }}
}}
resource "terraform_data" "namespace" {{
  input = "temporal-late"
}}
provider "engram" {{
  default_namespace = terraform_data.namespace.output
  kubernetes {{
    config_path = "{}"
  }}
}}
resource "engram_temporal_cluster" "late" {{
  name                = "late"
  version             = "1.32.0"
  history_shard_count = 512
  persistence = {{
    default    = {{ host = "pg", database = "temporal", user = "temporal", password_secret = {{ name = "pg", key = "password" }} }}
    visibility = {{ host = "pg", database = "temporal_visibility", user = "temporal", password_secret = {{ name = "pg", key = "password" }} }}
  }}
}}
output "namespace" {{ value = engram_temporal_cluster.late.namespace }}
"#,
        server.kubeconfig_path().display()
    );
    let ws = Workspace::new(Version::V1_15_5, &config);
    let plan = ws.ok(&["plan", "-no-color", "-input=false"]);
    assert!(
        !plan.all().contains("namespace = \"temporal\""),
        "the plan must not promise the fallback namespace:\n{}",
        plan.all()
    );
    ws.apply();
    assert_eq!(ws.outputs()["namespace"], "temporal-late");
    ws.assert_no_changes();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_of_a_nested_object_keeps_the_rest_at_its_defaults_and_allowed_cidrs_reach_the_policy()
 {
    let server = kube_server().await;
    let kube = client(&server).await;
    let cluster = format!(
        "{SHARDS_512}\n  network = {{ allowed_cidrs = [\"10.0.0.0/8\"] }}\n  metrics = {{ labels = {{ release = \"kube-prometheus-stack\" }} }}"
    );
    let config = config(&server, &cluster)
        .replace(
        "history  = { replicas = 3 }",
        "history  = { replicas = 5, node_selector = { \"node.example.com/pool\" = \"temporal\" }, tolerations = [{ key = \"dedicated\", value = \"temporal\", effect = \"NoSchedule\" }] }",
    );
    assert!(config.contains("replicas = 5"));
    let ws = Workspace::new(Version::V1_15_5, &config);
    ws.apply();
    ws.assert_no_changes();

    let state = ws.resource("engram_temporal_cluster");
    let history = &state["services"]["history"];
    assert_eq!(history["replicas"], 5);
    assert_eq!(
        history["resources"]["memory_request"], "4Gi",
        "history's role default"
    );
    assert_eq!(
        history["resources"]["memory_limit"], "8Gi",
        "history's role default"
    );
    assert_eq!(state["network"]["policies"], true);
    assert_eq!(state["network"]["monitoring_namespace"], "monitoring");
    assert_eq!(state["metrics"]["scrape_interval"], "30s");

    let deployments: Api<Deployment> = Api::namespaced(kube.clone(), "temporal-prod");
    let pod = serde_json::to_value(deployments.get("prod-history").await.unwrap()).unwrap()["spec"]
        ["template"]["spec"]
        .clone();
    assert_eq!(
        pod["containers"][0]["resources"]["requests"]["memory"],
        "4Gi"
    );
    assert_eq!(pod["nodeSelector"]["node.example.com/pool"], "temporal");
    assert_eq!(
        pod["tolerations"],
        json!([{ "key": "dedicated", "operator": "Equal", "value": "temporal", "effect": "NoSchedule" }])
    );

    let policies: Api<NetworkPolicy> = Api::namespaced(kube, "temporal-prod");
    let cidrs: Vec<Json> = policies
        .list(&ListParams::default().labels("engram.dev/cluster=prod"))
        .await
        .unwrap()
        .items
        .into_iter()
        .flat_map(|p| {
            serde_json::to_value(p.spec).unwrap()["ingress"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|rule| rule["from"].as_array().cloned().unwrap_or_default())
        .filter_map(|peer| peer.get("ipBlock").map(|b| b["cidr"].clone()))
        .collect();
    assert!(
        cidrs.contains(&json!("10.0.0.0/8")),
        "no NetworkPolicy admits 10.0.0.0/8: {cidrs:?}"
    );
}

/// The Web UI published through an Ingress while `allowed_cidrs` restricts sources: refused at
/// plan until the ingress controller is named, then applied with a policy that admits the
/// controller's pods beside the CIDRs, and replanned empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_ui_ingress_behind_allowed_cidrs_admits_its_ingress_controller() {
    use k8s_openapi::api::networking::v1::Ingress;
    let server = kube_server().await;
    let kube = client(&server).await;
    let without = format!(
        "{SHARDS_512}\n  network = {{ allowed_cidrs = [\"10.0.0.0/8\"] }}\n  web_ui = {{ ingress = {{ host = \"temporal.example.com\", class_name = \"nginx\", tls_secret_name = \"temporal-ui-tls\" }} }}"
    );
    let ws = Workspace::new(Version::V1_15_5, &config(&server, &without));
    let refused = ws.run(&["plan", "-no-color"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    let text = refused.words();
    assert!(text.contains("network.ingress_controller"), "{text}");
    assert!(
        text.contains("the Ingress's traffic comes from the controller's pods"),
        "{text}"
    );

    let with = without.replace(
        "allowed_cidrs = [\"10.0.0.0/8\"]",
        "allowed_cidrs = [\"10.0.0.0/8\"], ingress_controller = { namespace = \"ingress-nginx\", pod_labels = { \"app.kubernetes.io/name\" = \"ingress-nginx\" } }",
    );
    ws.write_config(&config(&server, &with));
    ws.apply();
    ws.assert_no_changes();

    let ingresses: Api<Ingress> = Api::namespaced(kube.clone(), "temporal-prod");
    let ingress = ingresses
        .list(&ListParams::default().labels("engram.dev/cluster=prod"))
        .await
        .unwrap()
        .items;
    assert_eq!(ingress.len(), 1);
    let spec = serde_json::to_value(&ingress[0].spec).unwrap();
    assert_eq!(spec["ingressClassName"], "nginx");
    assert_eq!(spec["rules"][0]["host"], "temporal.example.com");
    assert_eq!(spec["tls"][0]["secretName"], "temporal-ui-tls");

    let policies: Api<NetworkPolicy> = Api::namespaced(kube, "temporal-prod");
    let web_ui = policies
        .list(&ListParams::default().labels("engram.dev/cluster=prod"))
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|p| {
            p.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.ends_with("allow-web-ui"))
        })
        .expect("the Web UI's policy");
    let from = serde_json::to_value(web_ui.spec).unwrap()["ingress"][0]["from"].clone();
    assert_eq!(
        from,
        json!([
            { "ipBlock": { "cidr": "10.0.0.0/8" } },
            {
                "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "ingress-nginx" } },
                "podSelector": { "matchLabels": { "app.kubernetes.io/name": "ingress-nginx" } }
            }
        ])
    );
}

/// The shard count the running cluster reports is compared on refresh when the provider's
/// `temporal` block reaches this cluster (GetClusterInfo names it), and a mismatch is an error on
/// `history_shard_count`; a frontend of another cluster is said to be one, not compared. The dev
/// server is the cluster `active` with 1 shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_clusters_shard_count_is_checked_when_the_frontend_is_this_cluster() {
    let server = kube_server().await;
    let temporal = crate::support::TemporalDevServer::start();
    let with_frontend = |config: String| {
        config.replace(
            "  kubernetes {\n",
            &format!(
                "  temporal {{\n    address = \"{}\"\n  }}\n  kubernetes {{\n",
                temporal.address
            ),
        )
    };
    let other = with_frontend(config(&server, SHARDS_512));
    assert!(other.contains("temporal {"));
    let ws = Workspace::new(Version::V1_15_5, &other);
    ws.apply();
    let plan = ws.plan_exit_code();
    assert_eq!(plan.code, 0, "{}", plan.all());
    let text = plan.words();
    assert!(
        text.contains("Shard count not checked against the running cluster")
            && text.contains("reaches the Temporal cluster `active`, not `prod`")
            && text.contains("`prod-frontend.temporal-prod.svc:7233`"),
        "{text}"
    );

    // The same frontend as this cluster's own (a cluster named like the dev server's).
    let same = with_frontend(config(&server, SHARDS_512))
        .replace(
            "name                = \"prod\"",
            "name                = \"active\"",
        )
        .replace("temporal-prod", "temporal-active");
    assert!(same.contains("\"active\""));
    let ws = Workspace::new(Version::V1_15_5, &same);
    ws.apply();
    let plan = ws.run(&["plan", "-no-color"]);
    assert_eq!(plan.code, 1, "{}", plan.all());
    let text = plan.words();
    assert!(text.contains("history_shard_count"), "{text}");
    assert!(
        text.contains("512") && text.contains("GetClusterInfo"),
        "{text}"
    );
}

/// Images pulled from a mirror (a registry before every repository, the server under the
/// mirror's own tag) and history pods placed by node affinity: applied, replanned empty, read
/// back from the Deployments; an expression the API server refuses is refused at plan, named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_registry_and_node_affinity_reach_the_deployments() {
    let server = kube_server().await;
    let kube = client(&server).await;
    let cluster = format!(
        "{SHARDS_512}\n  images = {{ registry = \"registry.example.com/mirror\", server_tag = \"1.29.1-mirror\" }}"
    );
    let history = "history  = { replicas = 3, node_affinity = { required = [{ key = \"node.example.com/pool\", operator = \"In\", values = [\"temporal\"] }], preferred = [{ weight = 50, key = \"topology.kubernetes.io/zone\", operator = \"In\", values = [\"eu-west-1a\"] }] } }";
    let config = config(&server, &cluster).replace("history  = { replicas = 3 }", history);
    assert!(config.contains("node_affinity"));
    let ws = Workspace::new(Version::V1_15_5, &config);
    ws.apply();
    ws.assert_no_changes();

    let state = ws.resource("engram_temporal_cluster");
    assert_eq!(state["images"]["registry"], "registry.example.com/mirror");
    assert_eq!(
        state["images"]["server"], "temporalio/server",
        "default kept"
    );
    assert_eq!(
        state["services"]["matching"]["node_affinity"],
        Json::Null,
        "none when unset"
    );

    let deployments: Api<Deployment> = Api::namespaced(kube.clone(), "temporal-prod");
    let pod = |name: &'static str| {
        let deployments = deployments.clone();
        async move {
            serde_json::to_value(deployments.get(name).await.unwrap()).unwrap()["spec"]["template"]
                ["spec"]
                .clone()
        }
    };
    let history_pod = pod("prod-history").await;
    assert_eq!(
        history_pod["containers"][0]["image"],
        "registry.example.com/mirror/temporalio/server:1.29.1-mirror"
    );
    assert_eq!(
        history_pod["affinity"],
        json!({ "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": { "nodeSelectorTerms": [{
                "matchExpressions": [
                    { "key": "node.example.com/pool", "operator": "In", "values": ["temporal"] }
                ]
            }] },
            "preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 50,
                "preference": { "matchExpressions": [
                    { "key": "topology.kubernetes.io/zone", "operator": "In", "values": ["eu-west-1a"] }
                ] }
            }]
        } })
    );
    assert_eq!(pod("prod-matching").await["affinity"], Json::Null);
    let admin = pod("prod-admin-tools").await["containers"][0]["image"].clone();
    assert!(
        admin
            .as_str()
            .unwrap()
            .starts_with("registry.example.com/mirror/temporalio/admin-tools:1.29.1"),
        "{admin}"
    );
    let ui = pod("prod-web-ui").await["containers"][0]["image"].clone();
    assert!(
        ui.as_str()
            .unwrap()
            .starts_with("registry.example.com/mirror/temporalio/ui:"),
        "{ui}"
    );

    ws.write_config(&config.replace(
        "operator = \"In\", values = [\"temporal\"]",
        "operator = \"Exists\", values = [\"temporal\"]",
    ));
    let refused = ws.run(&["plan", "-no-color"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    let text = refused.all();
    assert_eq!(
        text.matches("Error: Invalid services.history.node_affinity.required[0].values\n")
            .count(),
        1,
        "{text}"
    );
    assert!(text.contains("operator = \"Exists\""), "{text}");
}
