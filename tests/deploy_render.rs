//! Rendering: deterministic output, labels and annotations on every object, restricted Pod
//! Security on every pod, passwords never inline, Temporal's configuration as the server reads
//! it, input checks that name the field, and `engram render` output accepted by
//! kubernetes-validate and checkov.
//!
//! checkov exceptions, each for a reason:
//! - CKV_K8S_35 (secrets as files rather than environment variables): Temporal expands the
//!   database passwords from environment variables in its configuration template,
//!   `temporal-sql-tool` reads `SQL_PASSWORD`, and the Web UI reads its OIDC client secret from
//!   `TEMPORAL_AUTH_CLIENT_SECRET`; none of them can read these from a file.
//! - CKV_K8S_43 (images pinned by digest): images are pinned by the Temporal version tag, which
//!   the upgrade rules depend on; pin digests with a registry mirror or an admission policy.

#[path = "support/mod.rs"]
mod support;

use engram::deploy::{
    KEYRING_KEY, KeyringSecretSpec, Kind, SHARD_COUNT_ANNOTATION, SPEC_ANNOTATION, SpecFile, Step,
    history_shard_count_in_config, render_codec_server, render_keyring_secret,
    render_temporal_cluster,
};
use proptest::prelude::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> SpecFile {
    let path = support::repo_root().join(format!("examples/deploy/{name}.yaml"));
    SpecFile::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn pod_specs(object: &Value) -> Vec<&Value> {
    object.pointer("/spec/template/spec").into_iter().collect()
}

#[test]
fn rendering_is_deterministic_and_ordered_by_step() {
    let file = example("production");
    let first = file.render().unwrap();
    let second = file.render().unwrap();
    assert_eq!(first, second);
    for rendered in &first {
        let steps: Vec<Step> = rendered.objects.iter().map(|m| m.step).collect();
        let mut sorted = steps.clone();
        sorted.sort();
        assert_eq!(steps, sorted);
        assert_eq!(
            rendered.to_yaml(),
            second[0..]
                .iter()
                .find(|r| r.owner == rendered.owner)
                .unwrap()
                .to_yaml()
        );
    }
}

#[test]
fn every_object_is_labelled_and_temporal_objects_carry_the_shard_count() {
    for rendered in example("production").render().unwrap() {
        for manifest in &rendered.objects {
            let labels = manifest.object.pointer("/metadata/labels").unwrap();
            for key in [
                "app.kubernetes.io/name",
                "app.kubernetes.io/instance",
                "app.kubernetes.io/component",
                "app.kubernetes.io/part-of",
                "app.kubernetes.io/managed-by",
                "engram.dev/cluster",
            ] {
                assert!(labels.get(key).is_some(), "{} lacks {key}", manifest.id());
            }
            assert_eq!(labels["app.kubernetes.io/managed-by"], "engram");
            assert_eq!(labels["engram.dev/cluster"], "prod");
            if rendered.temporal_version.is_some() {
                let shards = manifest
                    .object
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(SHARD_COUNT_ANNOTATION));
                assert_eq!(shards, Some(&Value::from("2048")), "{}", manifest.id());
            }
        }
    }
}

#[test]
fn every_pod_meets_the_restricted_pod_security_standard() {
    for rendered in example("production").render().unwrap() {
        for manifest in &rendered.objects {
            for pod in pod_specs(&manifest.object) {
                assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
                assert_eq!(
                    pod["securityContext"]["seccompProfile"]["type"],
                    "RuntimeDefault"
                );
                let containers = pod["containers"].as_array().unwrap().iter().chain(
                    pod.get("initContainers")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten(),
                );
                for c in containers {
                    let s = &c["securityContext"];
                    assert_eq!(s["allowPrivilegeEscalation"], false, "{}", manifest.id());
                    assert_eq!(s["readOnlyRootFilesystem"], true, "{}", manifest.id());
                    assert_eq!(s["capabilities"]["drop"], serde_json::json!(["ALL"]));
                    assert!(c["resources"]["limits"]["memory"].is_string());
                }
            }
        }
    }
}

#[test]
fn the_server_configuration_has_the_shards_stores_tls_and_authorization_and_no_password() {
    let rendered = example("production").render().unwrap().remove(0);
    let config_map = rendered
        .objects
        .iter()
        .find(|m| m.kind == Kind::ConfigMap)
        .unwrap();
    let text = config_map.object["data"]["docker.yaml"].as_str().unwrap();
    assert!(text.starts_with("# enable-template\n"));
    assert_eq!(history_shard_count_in_config(text), Some(2048));
    let expanded = text
        .replace(
            "{{ env \"TEMPORAL_DEFAULT_STORE_PASSWORD\" | quote }}",
            "\"x\"",
        )
        .replace(
            "{{ env \"TEMPORAL_VISIBILITY_STORE_PASSWORD\" | quote }}",
            "\"x\"",
        )
        .replace("{{ env \"POD_IP\" }}", "10.0.0.1");
    let config: Value = serde_yaml_ng::from_str(&expanded).unwrap();
    let persistence = &config["persistence"];
    assert_eq!(persistence["numHistoryShards"], 2048);
    assert_eq!(persistence["defaultStore"], "default");
    assert_eq!(persistence["visibilityStore"], "visibility");
    for store in ["default", "visibility"] {
        let sql = &persistence["datastores"][store]["sql"];
        assert_eq!(sql["pluginName"], "postgres12");
        assert_eq!(sql["connectAddr"], "temporal-db.example.internal:5432");
        assert_eq!(sql["tls"]["enabled"], true);
        assert_eq!(sql["tls"]["enableHostVerification"], true);
        assert_eq!(
            sql["tls"]["caFile"],
            format!("/etc/temporal/tls/sql-{store}/ca.crt")
        );
    }
    let global = &config["global"];
    assert_eq!(
        global["authorization"]["permissionsClaimName"],
        "permissions"
    );
    assert_eq!(global["authorization"]["authorizer"], "default");
    assert_eq!(global["authorization"]["claimMapper"], "default");
    assert!(global["authorization"]["jwtKeyProvider"]["keySourceURIs"][0].is_string());
    assert_eq!(
        global["tls"]["internode"]["server"]["requireClientAuth"],
        true
    );
    assert!(global["tls"]["frontend"]["server"]["certFile"].is_string());
    assert_eq!(
        global["metrics"]["prometheus"]["listenAddress"],
        "0.0.0.0:9090"
    );
    for (service, port) in [
        ("frontend", 7233),
        ("history", 7234),
        ("matching", 7235),
        ("internal-frontend", 7236),
        ("worker", 7239),
    ] {
        assert_eq!(config["services"][service]["rpc"]["grpcPort"], port);
    }
    let yaml = rendered.to_yaml();
    assert!(!yaml.contains("password: x"), "no password may be inline");
    assert!(yaml.contains("secretKeyRef"));
}

#[test]
fn invalid_input_names_the_field_and_what_to_do() {
    let mut spec = example("quickstart").temporal_cluster.unwrap();
    spec.history_shard_count = 0;
    spec.persistence.default.tls.mode = "require".into();
    spec.services.history.resources.memory_request = "lots".into();
    let error = render_temporal_cluster(&spec).unwrap_err();
    let fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "history_shard_count",
            "services.history.resources.memory_request",
            "persistence.default.tls.mode"
        ]
    );
    assert!(error.to_string().contains("engram shard-calc"), "{error}");
    let mut codec = example("production").codec_server.unwrap();
    codec.oidc = None;
    codec.cors_origins = vec!["https://temporal.example.com/ui".into()];
    codec.kms.env.insert("VAULT_TOKEN".into(), "s.x".into());
    let error = render_codec_server(&codec).unwrap_err();
    let fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["kms.env.VAULT_TOKEN", "cors_origins[0]", "oidc"]);
}

proptest! {
    #[test]
    fn any_valid_size_renders_and_round_trips_its_shard_count(
        shards in 1u32..=16_384,
        history in 1i32..=20,
        frontend in 1i32..=20,
    ) {
        let mut spec = example("quickstart").temporal_cluster.unwrap();
        spec.history_shard_count = shards;
        spec.services.history.replicas = history;
        spec.services.frontend.replicas = frontend;
        let rendered = render_temporal_cluster(&spec).unwrap();
        let config = rendered.objects.iter().find(|m| m.kind == Kind::ConfigMap).unwrap();
        let text = config.object["data"]["docker.yaml"].as_str().unwrap();
        prop_assert_eq!(history_shard_count_in_config(text), Some(shards));
        let budgets = rendered.objects.iter().filter(|m| m.kind == Kind::PodDisruptionBudget).count();
        prop_assert!(budgets >= 2);
    }
}

fn render_examples() -> PathBuf {
    let dir = tempfile::tempdir().unwrap().keep();
    for name in ["quickstart", "production"] {
        let output = Command::new(env!("CARGO_BIN_EXE_engram"))
            .args(["render", "-f"])
            .arg(support::repo_root().join(format!("examples/deploy/{name}.yaml")))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::write(dir.join(format!("{name}.yaml")), &output.stdout).unwrap();
    }
    dir
}

#[test]
fn rendered_examples_pass_kubernetes_validate() {
    let dir = render_examples();
    for name in ["quickstart", "production"] {
        let output = Command::new(support::tool("kubernetes-validate"))
            .args(["--strict", "--kubernetes-version", "1.37.0"])
            .arg(dir.join(format!("{name}.yaml")))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{name}: {text}");
        for line in text.lines().filter(|l| !l.starts_with("INFO")) {
            let custom = ["Certificate", "ServiceMonitor", "PrometheusRule"]
                .iter()
                .any(|kind| line.contains(&format!("Couldn't find schema for kind {kind} ")));
            assert!(
                custom,
                "{name}: only custom resources may lack a schema: {line}"
            );
        }
    }
}

#[test]
fn rendered_examples_pass_checkov_with_documented_exceptions() {
    let dir = render_examples();
    let output = Command::new(support::tool("checkov"))
        .args([
            "--framework",
            "kubernetes",
            "--compact",
            "--quiet",
            "--skip-check",
            "CKV_K8S_35,CKV_K8S_43",
            "-d",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "checkov failed:\n{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!text.contains("FAILED"), "{text}");
}

fn objects_of(rendered: &engram::deploy::Rendered) -> Vec<&Value> {
    rendered.objects.iter().map(|m| &m.object).collect()
}

#[test]
fn metrics_objects_carry_the_labels_prometheus_selects_and_can_be_left_out() {
    let mut spec = example("production").temporal_cluster.unwrap();
    let rendered = render_temporal_cluster(&spec).unwrap();
    for kind in [Kind::ServiceMonitor, Kind::PrometheusRule] {
        let object = &rendered
            .objects
            .iter()
            .find(|m| m.kind == kind)
            .unwrap()
            .object;
        assert_eq!(
            object["metadata"]["labels"]["release"], "kube-prometheus-stack",
            "{kind:?}"
        );
    }
    spec.metrics.service_monitor = false;
    spec.metrics.prometheus_rule = false;
    let rendered = render_temporal_cluster(&spec).unwrap();
    assert!(
        rendered
            .objects
            .iter()
            .all(|m| !m.kind.is_custom() || m.kind == Kind::Certificate),
        "no Prometheus Operator object without its CRDs"
    );
    spec.metrics.labels.insert("bad key!".into(), "x".into());
    spec.metrics.scrape_interval = "1.5m".into();
    let error = render_temporal_cluster(&spec).unwrap_err();
    let fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        ["metrics.scrape_interval", "metrics.labels.bad key!"]
    );
}

#[test]
fn dynamic_config_has_its_own_config_map_and_a_change_rolls_the_servers() {
    let mut spec = example("quickstart").temporal_cluster.unwrap();
    let hash = |spec: &engram::deploy::TemporalClusterSpec| -> (String, String, String) {
        let rendered = render_temporal_cluster(spec).unwrap();
        let objects = objects_of(&rendered);
        let map = |name: &str| {
            objects
                .iter()
                .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == name)
                .unwrap_or_else(|| panic!("no ConfigMap {name}"))["data"]
                .to_string()
        };
        let history = objects
            .iter()
            .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "temporal-history")
            .unwrap();
        (
            map("temporal-config"),
            map("temporal-dynamic-config"),
            history["spec"]["template"]["metadata"]["annotations"]["engram.dev/config-hash"]
                .to_string(),
        )
    };
    let (config, dynamic, rollout) = hash(&spec);
    let config_keys: Value = serde_json::from_str(&config).unwrap();
    assert_eq!(
        config_keys.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["docker.yaml"],
        "the engram-owned ConfigMap holds no dynamic configuration"
    );
    spec.dynamic_config.insert(
        "frontend.namespaceRPS".into(),
        vec![serde_yaml_ng::from_str("{value: 500, constraints: {namespace: payments}}").unwrap()],
    );
    let (config_after, dynamic_after, rollout_after) = hash(&spec);
    assert_eq!(
        config, config_after,
        "the engram-owned configuration is unchanged"
    );
    assert_ne!(dynamic, dynamic_after);
    assert!(
        dynamic_after.contains("frontend.namespaceRPS"),
        "{dynamic_after}"
    );
    assert_ne!(
        rollout, rollout_after,
        "servers roll to read the new values"
    );
    spec.dynamic_config.insert(
        "matching.numTaskqueueReadPartitions".into(),
        vec![serde_yaml_ng::from_str("{value: 8, constraints: {taskqueue: orders}}").unwrap()],
    );
    let error = render_temporal_cluster(&spec).unwrap_err();
    assert_eq!(
        error.problems[0].field,
        "dynamic_config.matching.numTaskqueueReadPartitions[0].constraints.taskqueue"
    );
}

#[test]
fn the_codec_server_admits_the_ingress_controller_and_client_networks_only() {
    let mut codec = example("production").codec_server.unwrap();
    let rendered = render_codec_server(&codec).unwrap();
    let policy = &rendered
        .objects
        .iter()
        .find(|m| m.kind == Kind::NetworkPolicy)
        .unwrap()
        .object;
    let peers = policy["spec"]["ingress"][0]["from"].as_array().unwrap();
    assert_eq!(peers.len(), 2, "{peers:?}");
    assert_eq!(
        peers[0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "ingress-nginx"
    );
    assert_eq!(
        peers[0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "ingress-nginx"
    );
    assert_eq!(peers[1]["ipBlock"]["cidr"], "10.20.0.0/16");
    assert!(
        !policy.to_string().contains("web-ui"),
        "the browser, not the UI's pods, calls the codec server"
    );
    codec.client_cidrs.clear();
    codec.ingress_controller = None;
    let rendered = render_codec_server(&codec).unwrap();
    let policy = &rendered
        .objects
        .iter()
        .find(|m| m.kind == Kind::NetworkPolicy)
        .unwrap()
        .object;
    assert!(
        policy["spec"].get("ingress").is_none(),
        "with no peer, no rule (an empty `from` would admit everyone)"
    );
    assert_eq!(
        policy["spec"]["policyTypes"],
        serde_json::json!(["Ingress"])
    );
}

#[test]
fn inputs_a_real_api_server_refuses_are_refused_before_any_request() {
    let mut spec = example("production").temporal_cluster.unwrap();
    spec.name = "1prod".into();
    spec.services.frontend.resources.cpu_request = "4".into();
    spec.services.frontend.resources.cpu_limit = "2".into();
    spec.network.allowed_cidrs = vec!["10.0.0.0/33".into()];
    spec.metrics.scrape_interval = "30".into();
    let error = render_temporal_cluster(&spec).unwrap_err();
    let fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "name",
            "services.frontend.resources.cpu_request",
            "metrics.scrape_interval",
            "network.allowed_cidrs[0]"
        ]
    );
    assert!(
        error.problems[0]
            .reason
            .contains("must start with a letter")
    );
    let mut codec = example("production").codec_server.unwrap();
    codec.name = "9codec".into();
    codec.client_cidrs = vec!["10.20.0.0".into()];
    let error = render_codec_server(&codec).unwrap_err();
    let fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["name", "client_cidrs[0]"]);
}

#[test]
fn a_role_given_in_part_keeps_its_role_defaults() {
    let file = SpecFile::parse(
        &std::fs::read_to_string(support::repo_root().join("examples/deploy/quickstart.yaml"))
            .unwrap()
            .replace(
                "  history_shard_count: 512\n",
                "  history_shard_count: 512\n  services:\n    history: { replicas: 5 }\n    frontend: { resources: { cpu_request: 750m } }\n  web_ui: { resources: { memory_limit: 512Mi } }\n",
            ),
    )
    .unwrap();
    let spec = file.temporal_cluster.unwrap();
    let defaults = engram::deploy::Services::default();
    assert_eq!(spec.services.history.replicas, 5);
    assert_eq!(spec.services.history.resources, defaults.history.resources);
    assert_eq!(spec.services.frontend.resources.cpu_request, "750m");
    assert_eq!(
        spec.services.frontend.resources.memory_limit,
        defaults.frontend.resources.memory_limit
    );
    assert_eq!(spec.services.frontend.replicas, defaults.frontend.replicas);
    assert_eq!(spec.web_ui.resources.memory_limit, "512Mi");
    assert_eq!(
        spec.web_ui.resources.cpu_request, "100m",
        "the UI's own default"
    );
}

fn codec_env(rendered: &engram::deploy::Rendered) -> Vec<(String, String)> {
    let deployment = rendered
        .objects
        .iter()
        .find(|m| m.kind == Kind::Deployment)
        .unwrap();
    deployment.object["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `engram codec-server`'s own settings, as its container reads them.
#[derive(clap::Parser)]
struct CodecServerCommand {
    #[command(flatten)]
    settings: engram::codec::server::Settings,
}

/// The container's environment read the way `engram codec-server` reads it: each variable must
/// be the environment name of one of its settings (clap `env = ...`), here given as that
/// setting's flag so the test does not depend on the test process's own environment.
fn codec_settings(env: &[(String, String)]) -> engram::codec::server::ServerConfig {
    use clap::{CommandFactory, Parser};
    let command = CodecServerCommand::command();
    let mut argv = vec!["codec-server".to_string()];
    for (name, value) in env {
        let arg = command
            .get_arguments()
            .find(|a| a.get_env().is_some_and(|e| e == name.as_str()))
            .unwrap_or_else(|| panic!("{name} is not a setting of engram codec-server"));
        argv.push(format!("--{}", arg.get_long().unwrap()));
        argv.push(value.clone());
    }
    CodecServerCommand::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
        .settings
        .resolve()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
}

#[test]
fn accepted_source_namespaces_reach_the_codec_server_as_its_own_setting() {
    let mut codec = example("production").codec_server.unwrap();
    let rendered = render_codec_server(&codec).unwrap();
    let env = codec_env(&rendered);
    assert!(
        !env.iter()
            .any(|(n, _)| n == "ENGRAM_CODEC_ACCEPT_SOURCE_NAMESPACES"),
        "none by default: {env:?}"
    );
    assert!(codec_settings(&env).keyrings.accepted_sources.is_empty());
    let annotation = |rendered: &engram::deploy::Rendered| {
        rendered
            .objects
            .iter()
            .find(|m| m.kind == Kind::Deployment)
            .unwrap()
            .object["metadata"]["annotations"][SPEC_ANNOTATION]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        !annotation(&rendered).contains("accepted_source_namespaces"),
        "an empty map is left out, so Deployments applied before it existed stay equal"
    );

    codec.accepted_source_namespaces = [
        ("payments", vec!["orders", "billing"]),
        ("audit", vec!["payments"]),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), s.into_iter().map(String::from).collect()))
    .collect();
    let rendered = render_codec_server(&codec).unwrap();
    let env = codec_env(&rendered);
    let accepted: Vec<&str> = env
        .iter()
        .filter(|(n, _)| n == "ENGRAM_CODEC_ACCEPT_SOURCE_NAMESPACES")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        accepted,
        ["audit=payments,payments=orders,payments=billing"]
    );
    let config = codec_settings(&env);
    let sources: Vec<(String, Vec<String>)> = config
        .keyrings
        .accepted_sources
        .iter()
        .map(|(n, s)| {
            (
                n.as_str().to_string(),
                s.iter().map(|s| s.as_str().to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        sources,
        [
            ("audit".to_string(), vec!["payments".to_string()]),
            (
                "payments".to_string(),
                vec!["billing".to_string(), "orders".to_string()]
            ),
        ]
    );
    // Import rebuilds the spec from the annotation: the map comes back.
    let imported: engram::deploy::CodecServerSpec =
        serde_json::from_str(&annotation(&rendered)).unwrap();
    assert_eq!(
        imported.accepted_source_namespaces,
        codec.accepted_source_namespaces
    );

    codec.accepted_source_namespaces = [(
        "payments".to_string(),
        vec!["orders/../billing".to_string()],
    )]
    .into();
    codec.kms.env.insert(
        "ENGRAM_CODEC_ACCEPT_SOURCE_NAMESPACES".into(),
        "payments=sandbox".into(),
    );
    let error = render_codec_server(&codec).unwrap_err();
    let fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "kms.env.ENGRAM_CODEC_ACCEPT_SOURCE_NAMESPACES",
            "accepted_source_namespaces"
        ]
    );
    assert!(
        error.problems[1].reason.contains("Temporal namespace name"),
        "{error}"
    );
}

/// The codec server's token settings in its Deployment.
fn codec_jwt(rendered: &engram::deploy::Rendered) -> engram::codec::server::JwtConfig {
    match codec_settings(&codec_env(rendered)).auth {
        engram::codec::server::AuthConfig::Jwt(jwt) => jwt,
        other => panic!("the rendered server checks no tokens: {other:?}"),
    }
}

#[test]
fn the_token_leeway_and_a_private_jwks_ca_reach_the_codec_server_as_its_own_settings() {
    let mut codec = example("production").codec_server.unwrap();
    let rendered = render_codec_server(&codec).unwrap();
    let env = codec_env(&rendered);
    assert!(
        !env.iter().any(
            |(n, _)| n == "ENGRAM_CODEC_JWT_LEEWAY_SECONDS" || n == "ENGRAM_CODEC_JWKS_CA_CERT"
        ),
        "at the defaults neither is set, so Deployments from before them stay equal: {env:?}"
    );
    let jwt = codec_jwt(&rendered);
    assert_eq!(jwt.leeway, std::time::Duration::from_secs(60));
    assert_eq!(jwt.ca_cert, None);

    let oidc = codec.oidc.as_mut().unwrap();
    oidc.leeway_seconds = 120;
    oidc.jwks_ca_config_map = Some("idp-ca".into());
    let rendered = render_codec_server(&codec).unwrap();
    let jwt = codec_jwt(&rendered);
    assert_eq!(jwt.leeway, std::time::Duration::from_secs(120));
    let pod = &rendered
        .objects
        .iter()
        .find(|m| m.kind == Kind::Deployment)
        .unwrap()
        .object["spec"]["template"]["spec"];
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["configMap"]["name"] == "idp-ca")
        .expect("the ConfigMap is a volume");
    let mount = pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume["name"])
        .expect("and is mounted");
    assert_eq!(mount["readOnly"], true);
    assert_eq!(
        jwt.ca_cert.unwrap(),
        std::path::Path::new(mount["mountPath"].as_str().unwrap()).join("ca.crt"),
        "the server reads the ConfigMap's ca.crt"
    );

    let oidc = codec.oidc.as_mut().unwrap();
    oidc.leeway_seconds = 301;
    oidc.jwks_ca_config_map = Some("IdP CA".into());
    // Before the attribute, the leeway could only be passed through `kms.env`.
    codec
        .kms
        .env
        .insert("ENGRAM_CODEC_JWT_LEEWAY_SECONDS".into(), "120".into());
    let error = render_codec_server(&codec).unwrap_err();
    let fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "kms.env.ENGRAM_CODEC_JWT_LEEWAY_SECONDS",
            "oidc.leeway_seconds",
            "oidc.jwks_ca_config_map"
        ]
    );
    assert!(
        error.problems[0]
            .reason
            .contains("is set from `oidc.leeway_seconds`; set that instead"),
        "{error}"
    );
    assert!(error.problems[1].reason.contains("at most 300"), "{error}");
}

#[test]
fn every_variable_the_codec_server_deployment_sets_is_a_codec_server_setting() {
    let rendered = render_codec_server(&example("production").codec_server.unwrap()).unwrap();
    let config = codec_settings(&codec_env(&rendered));
    assert_eq!(config.cors_origins, ["https://temporal.example.com"]);
}

fn keyring_document() -> String {
    example("production").codec_server.unwrap().keyring
}

#[test]
fn a_keyring_secret_is_one_labelled_secret_holding_the_keyring_only() {
    use base64::Engine as _;
    let spec = KeyringSecretSpec {
        name: "payments-keyring".into(),
        namespace: "payments".into(),
        keyring: keyring_document(),
    };
    let rendered = render_keyring_secret(&spec).unwrap();
    assert_eq!(rendered, render_keyring_secret(&spec).unwrap());
    assert_eq!(rendered.objects.len(), 1);
    let secret = &rendered.objects[0];
    assert_eq!(secret.kind, Kind::Secret);
    assert_eq!(secret.id().to_string(), "Secret payments/payments-keyring");
    let object = &secret.object;
    assert_eq!(object["type"], "Opaque");
    let data = object["data"].as_object().unwrap();
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        [KEYRING_KEY],
        "nothing but the keyring"
    );
    let stored = base64::engine::general_purpose::STANDARD
        .decode(data[KEYRING_KEY].as_str().unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(stored).unwrap(), spec.keyring);
    assert!(object.get("stringData").is_none());
    assert!(object["metadata"].get("annotations").is_none());
    let labels = object["metadata"]["labels"].as_object().unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "engram");
    assert_eq!(labels["engram.dev/stack"], "keyring-secret");
    assert_eq!(labels["app.kubernetes.io/instance"], "payments-keyring");
    assert!(
        labels.get("engram.dev/cluster").is_none(),
        "a keyring Secret belongs to no one Temporal cluster"
    );
    // Inventory, drift, prune and destroy find it by the owner's selector.
    for term in rendered.owner.selector().split(',') {
        let (key, value) = term.split_once('=').unwrap();
        assert_eq!(labels[key], value, "{term}");
    }

    let bad = KeyringSecretSpec {
        name: "Payments_Keyring".into(),
        namespace: "payments".into(),
        keyring: "{}".into(),
    };
    let error = render_keyring_secret(&bad).unwrap_err();
    let fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["name", "keyring"]);
    assert!(
        error.problems[1]
            .reason
            .contains("keyring document of an engram_cmk_binding"),
        "{error}"
    );
}

#[test]
fn pull_secrets_reach_every_pod_and_scheduling_reaches_its_role() {
    let mut spec = example("production").temporal_cluster.unwrap();
    spec.images.pull_secrets = vec!["registry-credentials".into()];
    let history = &mut spec.services.history;
    history
        .node_selector
        .insert("node.example.com/pool".into(), "temporal-history".into());
    history.tolerations = vec![engram::deploy::Toleration {
        key: Some("dedicated".into()),
        operator: "Equal".into(),
        value: Some("temporal".into()),
        effect: Some("NoSchedule".into()),
        toleration_seconds: None,
    }];
    let rendered = render_temporal_cluster(&spec).unwrap();
    let mut pods = 0;
    for object in &rendered.objects {
        for pod in pod_specs(&object.object) {
            pods += 1;
            assert_eq!(
                pod["imagePullSecrets"],
                serde_json::json!([{ "name": "registry-credentials" }]),
                "{}",
                object.id()
            );
            let name = object.object["metadata"]["name"].as_str().unwrap();
            if name == "prod-history" {
                assert_eq!(
                    pod["nodeSelector"]["node.example.com/pool"],
                    "temporal-history"
                );
                assert_eq!(
                    pod["tolerations"],
                    serde_json::json!([{ "key": "dedicated", "operator": "Equal", "value": "temporal", "effect": "NoSchedule" }])
                );
            } else {
                assert!(pod.get("nodeSelector").is_none(), "{name}");
                assert!(pod.get("tolerations").is_none(), "{name}");
            }
        }
    }
    assert!(
        pods >= 6,
        "servers, UI, admin tools and schema jobs: {pods}"
    );
}

#[test]
fn tolerations_and_pull_secrets_a_real_api_server_refuses_are_refused() {
    let mut spec = example("production").temporal_cluster.unwrap();
    spec.images.pull_secrets = vec!["Registry Credentials".into()];
    let toleration =
        |key: Option<&str>, operator: &str, value: Option<&str>, effect: Option<&str>, seconds| {
            engram::deploy::Toleration {
                key: key.map(Into::into),
                operator: operator.into(),
                value: value.map(Into::into),
                effect: effect.map(Into::into),
                toleration_seconds: seconds,
            }
        };
    spec.services.matching.tolerations = vec![
        toleration(None, "Equal", Some("x"), None, None),
        toleration(Some("dedicated"), "Exists", Some("x"), None, None),
        toleration(Some("dedicated"), "Gt", Some("1"), None, None),
        toleration(Some("dedicated"), "Exists", None, Some("NoRun"), None),
        toleration(
            Some("dedicated"),
            "Exists",
            None,
            Some("NoSchedule"),
            Some(60),
        ),
        toleration(None, "Exists", None, None, None),
        toleration(Some("bad key!"), "Exists", None, None, None),
        toleration(Some("dedicated"), "Equal", Some("not a value"), None, None),
    ];
    spec.services
        .matching
        .node_selector
        .insert("pool".into(), "not a value".into());
    let error = render_temporal_cluster(&spec).unwrap_err();
    let fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "images.pull_secrets[0]",
            "services.matching.node_selector.pool",
            "services.matching.tolerations[0].operator",
            "services.matching.tolerations[1].value",
            "services.matching.tolerations[2].operator",
            "services.matching.tolerations[3].effect",
            "services.matching.tolerations[4].toleration_seconds",
            "services.matching.tolerations[6].key",
            "services.matching.tolerations[7].value",
        ]
    );
}

/// The one Ingress among rendered objects.
fn ingress_of(rendered: &engram::deploy::Rendered) -> &Value {
    &rendered
        .objects
        .iter()
        .find(|m| m.kind == Kind::Ingress)
        .expect("an Ingress is rendered")
        .object
}

#[test]
fn ingresses_route_their_host_to_a_port_the_service_serves_and_the_endpoint_is_the_host() {
    let file = example("production");
    let cluster = render_temporal_cluster(file.temporal_cluster.as_ref().unwrap()).unwrap();
    let codec_spec = file.codec_server.clone().unwrap();
    let codec = render_codec_server(&codec_spec).unwrap();
    for (rendered, host, secret) in [
        (&cluster, "temporal.example.com", "temporal-ui-tls"),
        (&codec, "codec.temporal.example.com", "codec-public-tls"),
    ] {
        let ingress = ingress_of(rendered);
        assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
        assert_eq!(
            ingress["spec"]["tls"],
            serde_json::json!([{"hosts": [host], "secretName": secret}])
        );
        let rule = &ingress["spec"]["rules"][0];
        assert_eq!(rule["host"], host);
        let path = &rule["http"]["paths"][0];
        assert_eq!(
            (&path["path"], &path["pathType"]),
            (&"/".into(), &"Prefix".into())
        );
        let backend = &path["backend"]["service"];
        let service = objects_of(rendered)
            .into_iter()
            .find(|o| o["kind"] == "Service" && o["metadata"]["name"] == backend["name"])
            .expect("the backend Service is rendered");
        let port_names: Vec<&Value> = service["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["name"])
            .collect();
        assert!(
            port_names.contains(&&backend["port"]["name"]),
            "{port_names:?}"
        );
    }
    assert_eq!(
        ingress_of(&codec)["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"],
        "HTTPS"
    );
    assert_eq!(
        engram::deploy::codec_endpoint(&codec_spec),
        "https://codec.temporal.example.com"
    );
    assert_eq!(
        file.temporal_cluster
            .as_ref()
            .unwrap()
            .web_ui
            .codec_endpoint
            .as_deref(),
        Some("https://codec.temporal.example.com"),
        "the example's UI calls the codec server's Ingress"
    );
}

#[test]
fn without_an_ingress_the_codec_endpoint_is_the_service_on_the_port_it_serves() {
    let mut spec = example("production").codec_server.unwrap();
    spec.ingress = None;
    let rendered = render_codec_server(&spec).unwrap();
    assert!(rendered.objects.iter().all(|m| m.kind != Kind::Ingress));
    let service = objects_of(&rendered)
        .into_iter()
        .find(|o| o["kind"] == "Service")
        .unwrap();
    assert_eq!(
        service["spec"]["ports"][0]["port"], 443,
        "https's default port"
    );
    assert_eq!(
        engram::deploy::codec_endpoint(&spec),
        format!("https://{}.{}.svc", spec.name, spec.namespace)
    );
}
