//! `engram_codec_server` wired to an `engram_cmk_binding` (a development key file stands in for
//! the KMS here; the KMS backends have their own tests), applied to the Kubernetes API test
//! server: the keyring lands in a Secret, a second plan is empty, a rotation updates the
//! Secret in place without a failed decode request, and import gives an empty plan; accepted
//! source namespaces reach the Deployment, and leaving them out plans nothing.

use crate::terraform::{Version, Workspace, keyring_as_variable, keyring_tfvars};
use base64::Engine as _;
use engram::codec::{Keyring, KeyringDocument, Payload, PayloadCodec, Payloads};
use engram::kms::local::LocalKeyFile;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, PostParams};
use kube_api::{KubeApiServer, Options};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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

fn config(server: &KubeApiServer, key_file: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    engram = {{ source = "engram/engram" }}
  }}
}}
provider "engram" {{
  default_namespace = "temporal"
  kubernetes {{
    config_path = "{}"
  }}
}}
resource "engram_cmk_binding" "payments" {{
  scope               = "payments"
  deletion_protection = false
  local {{
    key_file = "{key_file}"
  }}
}}
resource "engram_codec_server" "codec" {{
  name             = "codec"
  temporal_cluster = "prod"
  keyring          = engram_cmk_binding.payments.keyring
  kms = {{
    provider = "vault"
    env      = {{ VAULT_ADDR = "https://vault.example.com:8200" }}
  }}
  tls_secret_name = "codec-tls"
  cors_origins    = ["https://temporal.example.com"]
  oidc = {{
    issuer    = "https://login.example.com"
    jwks_url  = "https://login.example.com/keys"
    audiences = ["temporal-codec"]
  }}
}}
output "endpoint" {{ value = engram_codec_server.codec.endpoint }}
"#,
        server.kubeconfig_path().display()
    )
}

async fn client(server: &KubeApiServer) -> kube::Client {
    let file = kube::config::Kubeconfig::read_from(server.kubeconfig_path()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// The codec server deploys into an existing namespace (usually the Temporal cluster's).
async fn create_namespace(server: &KubeApiServer, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client(server).await);
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

/// The Kubernetes API test server with the `temporal` namespace, a development key file, and a
/// workspace (not yet applied) for the binding and codec server configuration.
struct Deployed {
    server: KubeApiServer,
    dir: tempfile::TempDir,
    key_file: std::path::PathBuf,
    ws: Workspace,
}

async fn deployed(version: Version, key_byte: u8) -> Deployed {
    let server = kube_server().await;
    create_namespace(&server, "temporal").await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("dev.key");
    std::fs::write(
        &key_file,
        base64::engine::general_purpose::STANDARD.encode([key_byte; 32]),
    )
    .unwrap();
    let ws = Workspace::new(version, &config(&server, &key_file.display().to_string()));
    Deployed {
        server,
        dir,
        key_file,
        ws,
    }
}

async fn keyring_in_secret(server: &KubeApiServer) -> String {
    let secrets: Api<Secret> = Api::namespaced(client(server).await, "temporal");
    let secret = secrets.get("codec-keyring").await.unwrap();
    let json = serde_json::to_value(&secret).unwrap();
    let data = json["data"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyring_reaches_the_secret_and_rotation_updates_it_in_place() {
    let Deployed {
        server,
        dir: _dir,
        key_file: _,
        ws,
    } = deployed(Version::V1_15_5, 7).await;
    ws.apply();
    assert_eq!(ws.outputs()["endpoint"], "https://codec.temporal.svc");
    let binding = ws.resource("engram_cmk_binding");
    assert_eq!(
        keyring_in_secret(&server).await,
        binding["keyring"].as_str().unwrap()
    );
    ws.assert_no_changes();

    // A rotation changes the keyring: the codec server is updated in place, not replaced.
    ws.set_env("ENGRAM_NOW", "2099-01-01T00:00:00Z");
    let plan = ws.plan_exit_code();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert!(
        plan.stdout
            .contains("engram_codec_server.codec will be updated in-place"),
        "{}",
        plan.stdout
    );
    ws.apply();
    let rotated = ws.resource("engram_cmk_binding");
    assert_ne!(rotated["keyring"], binding["keyring"]);
    assert_eq!(
        keyring_in_secret(&server).await,
        rotated["keyring"].as_str().unwrap()
    );
    ws.assert_no_changes();

    let fresh = Workspace::new(Version::V1_15_5, &ws.config());
    fresh.set_env("ENGRAM_NOW", "2099-01-01T00:00:00Z");
    fresh.ok(&[
        "import",
        "-no-color",
        "engram_codec_server.codec",
        "temporal/codec",
    ]);
    let imported = fresh.resource("engram_codec_server");
    assert_eq!(imported["keyring"], rotated["keyring"]);
    assert_eq!(imported["endpoint"], "https://codec.temporal.svc");
    assert_eq!(imported["cors_origins"][0], "https://temporal.example.com");
    // The binding comes back from the codec server's keyring Secret; then nothing is planned.
    fresh.ok(&[
        "import",
        "-no-color",
        "engram_cmk_binding.payments",
        "secret:temporal/codec-keyring",
    ]);
    assert_eq!(
        fresh.resource("engram_cmk_binding")["keyring"],
        rotated["keyring"]
    );
    fresh.write_config(
        &fresh
            .config()
            .replace("  deletion_protection = false\n", ""),
    );
    fresh.assert_no_changes();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codec_server_smoke_on_terraform_1_0_3() {
    let Deployed {
        server,
        dir: _dir,
        key_file: _,
        ws,
    } = deployed(Version::V1_0_3, 5).await;
    ws.apply();
    ws.assert_no_changes();
    assert_eq!(
        keyring_in_secret(&server).await,
        ws.resource("engram_cmk_binding")["keyring"]
            .as_str()
            .unwrap()
    );
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    let secrets: Api<Secret> = Api::namespaced(client(&server).await, "temporal");
    assert!(
        secrets.get_opt("codec-keyring").await.unwrap().is_none(),
        "destroy removes the keyring Secret"
    );
}

/// `ENGRAM_CODEC_ACCEPT_SOURCE_NAMESPACES` of the codec server's container, if set.
async fn accepted_sources_env(server: &KubeApiServer) -> Option<String> {
    let deployments: Api<Deployment> = Api::namespaced(client(server).await, "temporal");
    let deployment = deployments.get("codec").await.unwrap();
    let json = serde_json::to_value(&deployment).unwrap();
    json["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "ENGRAM_CODEC_ACCEPT_SOURCE_NAMESPACES")
        .map(|e| e["value"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_source_namespaces_reach_the_deployment_and_their_absence_plans_nothing() {
    let Deployed {
        server,
        dir: _dir,
        key_file: _,
        ws,
    } = deployed(Version::V1_15_5, 9).await;
    ws.apply();
    ws.assert_no_changes();
    assert_eq!(accepted_sources_env(&server).await, None);
    let tls = "  tls_secret_name = \"codec-tls\"\n";
    let base = ws.config();
    let with = |value: &str| {
        base.replace(
            tls,
            &format!("{tls}  accepted_source_namespaces = {value}\n"),
        )
    };

    ws.write_config(&with(r#"{ payments = ["orders", "billing"] }"#));
    let plan = ws.plan_exit_code();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert!(
        plan.stdout
            .contains("engram_codec_server.codec will be updated in-place"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    ws.apply();
    assert_eq!(
        accepted_sources_env(&server).await.as_deref(),
        Some("payments=orders,payments=billing")
    );
    ws.assert_no_changes();

    // Import brings the map back from the Deployment's spec annotation; with the same
    // configuration nothing is planned (the keyring given as a variable, so the plan checks
    // the codec server alone).
    let fresh = Workspace::new(
        Version::V1_15_5,
        &keyring_as_variable(&ws.config(), "payments"),
    );
    fresh.set_vars(&keyring_tfvars(
        ws.resource("engram_cmk_binding")["keyring"]
            .as_str()
            .unwrap(),
    ));
    fresh.ok(&[
        "import",
        "-no-color",
        "engram_codec_server.codec",
        "temporal/codec",
    ]);
    assert_eq!(
        fresh.resource("engram_codec_server")["accepted_source_namespaces"],
        serde_json::json!({"payments": ["orders", "billing"]})
    );
    fresh.assert_no_changes();

    // An empty map and no attribute both mean none: the variable goes, and neither plans again.
    ws.write_config(&with("{}"));
    ws.apply();
    assert_eq!(accepted_sources_env(&server).await, None);
    ws.assert_no_changes();
    ws.write_config(&base);
    ws.apply();
    ws.assert_no_changes();

    ws.write_config(&with(r#"{ payments = ["orders/../billing"] }"#));
    let run = ws.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all()
            .contains("Error: Invalid accepted_source_namespaces"),
        "{}",
        run.all()
    );
    assert!(
        run.all()
            .contains("\"orders/../billing\" in `accepted_source_namespaces` is not"),
        "{}",
        run.all()
    );
}

/// The endpoint is an address the Service serves, and with an ingress the Ingress's host, which
/// routes every path to the Service's https port; a second plan is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_is_what_the_service_or_the_ingress_serves() {
    let Deployed {
        server,
        dir: _dir,
        key_file: _,
        ws,
    } = deployed(Version::V1_15_5, 9).await;
    ws.apply();
    let services: Api<Service> = Api::namespaced(client(&server).await, "temporal");
    let service = services.get("codec").await.unwrap();
    let port = &service.spec.unwrap().ports.unwrap()[0];
    assert_eq!((port.name.as_deref(), port.port), (Some("https"), 443));
    assert_eq!(ws.outputs()["endpoint"], "https://codec.temporal.svc");

    ws.write_config(&ws.config().replace(
        "  tls_secret_name = \"codec-tls\"\n",
        "  tls_secret_name = \"codec-tls\"\n  ingress = {\n    host            = \"codec.example.com\"\n    class_name      = \"nginx\"\n    tls_secret_name = \"codec-public-tls\"\n    annotations     = { \"nginx.ingress.kubernetes.io/backend-protocol\" = \"HTTPS\" }\n  }\n",
    ));
    let plan = ws.run(&["plan", "-no-color"]);
    assert!(
        plan.stdout.contains("https://codec.example.com"),
        "the plan shows the new endpoint:\n{}",
        plan.all()
    );
    ws.apply();
    assert_eq!(ws.outputs()["endpoint"], "https://codec.example.com");
    let ingresses: Api<Ingress> = Api::namespaced(client(&server).await, "temporal");
    let ingress = serde_json::to_value(ingresses.get("codec").await.unwrap()).unwrap();
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(
        ingress["spec"]["tls"],
        serde_json::json!([{"hosts": ["codec.example.com"], "secretName": "codec-public-tls"}])
    );
    let rule = &ingress["spec"]["rules"][0];
    assert_eq!(rule["host"], "codec.example.com");
    assert_eq!(
        rule["http"]["paths"][0],
        serde_json::json!({"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "codec", "port": {"name": "https"}}}})
    );
    assert_eq!(
        ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"],
        "HTTPS"
    );
    ws.assert_no_changes();
}

#[test]
fn bad_codec_server_inputs_are_named() {
    let ws = Workspace::new(
        Version::V1_15_5,
        r#"
terraform {
  required_providers {
    engram = { source = "engram/engram" }
  }
}
provider "engram" {}
resource "engram_codec_server" "bad" {
  name             = "codec"
  temporal_cluster = "prod"
  keyring          = "{}"
  replicas         = 0
  kms = { provider = "hsm" }
  cors_origins = ["*"]
  tls_secret_name = "codec-tls"
  ingress = {
    host        = "10.0.0.1"
    class_name  = "nginx"
    annotations = { "kubernetes.io/ingress.class" = "traefik" }
  }
  oidc = {
    issuer         = "https://login.example.com"
    jwks_url       = "https://login.example.com/keys"
    audiences      = ["codec"]
    leeway_seconds = 301
  }
}
"#,
    );
    let run = ws.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1);
    let out = run.all();
    for expected in [
        "Invalid keyring",
        "Invalid replicas",
        "Invalid kms.provider",
        "Invalid cors_origins",
        "Invalid ingress.host",
        "must be a DNS name such as temporal.example.com",
        "Invalid ingress.annotations.kubernetes.io/ingress.class",
        "disagrees with class_name `nginx`",
        "Invalid oidc.leeway_seconds",
        "must be a whole number from 0 to 300; got 301",
    ] {
        assert!(out.contains(expected), "{expected} missing:\n{out}");
    }
}

/// `text` sealed as a worker with `keyring_json` would seal it at `at` (Unix seconds).
async fn seal(keyring_json: &str, key_file: &Path, text: &str, at: i64) -> Payload {
    let doc = KeyringDocument::from_json(keyring_json).unwrap();
    let kms = LocalKeyFile::open(key_file).unwrap();
    let keyring = Keyring::unwrap_document(&doc, &kms).await.unwrap();
    PayloadCodec::new(
        Arc::new(keyring),
        engram::codec::Namespace::new("default").unwrap(),
    )
    .encode_one_at(&Payload::new("json/plain", text.as_bytes().to_vec()), at)
    .unwrap()
}

async fn decode(http: &reqwest::Client, port: u16, payload: &Payload) -> Result<Vec<u8>, String> {
    let body = serde_json::to_string(&Payloads {
        payloads: vec![payload.clone()],
    })
    .unwrap();
    let response = http
        .post(format!("http://127.0.0.1:{port}/default/decode"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {text}"));
    }
    let decoded: Payloads = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(decoded.payloads[0].data.clone())
}

/// A rotation made by `terraform apply` reaches a running codec server without one failed decode.
/// The real `engram codec-server` binary runs locally; a copier task keeps its keyring file equal
/// to the Secret on the Kubernetes API test server, which is what the kubelet does for a
/// mounted Secret in a real cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decode_traffic_survives_a_rotation_applied_by_terraform() {
    let Deployed {
        server,
        dir,
        key_file,
        ws,
    } = deployed(Version::V1_15_5, 3).await;
    ws.apply();
    let first = keyring_in_secret(&server).await;
    let mounted = dir.path().join("keyring.json");
    std::fs::write(&mounted, &first).unwrap();

    let port = crate::support::free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_engram"));
    command.args([
        "codec-server",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--keyring",
        &mounted.display().to_string(),
        "--kms",
        "local",
        "--local-key-file",
        &key_file.display().to_string(),
        "--insecure-no-auth",
        "--reload-interval-seconds",
        "1",
    ]);
    let _codec = crate::support::ServerProcess::spawn("engram codec-server", command);
    crate::support::wait_for_http_ok(port, "/readyz", Duration::from_secs(20), "codec server");

    let stop = Arc::new(AtomicBool::new(false));
    let copier = {
        let (stop, mounted) = (stop.clone(), mounted.clone());
        let secrets: Api<Secret> = Api::namespaced(client(&server).await, "temporal");
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(secret) = secrets.get("codec-keyring").await
                    && let Some(data) = secret.data.and_then(|d| d.get("keyring.json").cloned())
                    && std::fs::read(&mounted).ok().as_deref() != Some(&data.0[..])
                {
                    let staged = mounted.with_extension("staged");
                    std::fs::write(&staged, &data.0).unwrap();
                    std::fs::rename(&staged, &mounted).unwrap();
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let now = engram::codec::clock::now_unix();
    let old_payload = seal(&first, &key_file, "\"sealed before the rotation\"", now).await;
    let (succeeded, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let traffic = {
        let (stop, succeeded, failures) = (stop.clone(), succeeded.clone(), failures.clone());
        let payload = old_payload.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut errors = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match decode(&http, port, &payload).await {
                    Ok(data) if data == b"\"sealed before the rotation\"" => {
                        succeeded.fetch_add(1, Ordering::Relaxed);
                    }
                    other => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        errors.push(format!("{other:?}"));
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            errors
        })
    };

    // 91 days on the rotation is due (and no key's decrypt window has ended).
    let rotation_day = time::OffsetDateTime::now_utc() + time::Duration::days(91);
    ws.set_env(
        "ENGRAM_NOW",
        &rotation_day
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
    );
    ws.apply();
    let rotated = ws.resource("engram_cmk_binding")["keyring"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(rotated, first, "the apply rotated the data key");
    // Sealed once the new key has activated (the hour's delay after the rotation): only the
    // rotated keyring holds that key.
    let activated = (rotation_day + time::Duration::hours(2)).unix_timestamp();
    let new_payload = seal(
        &rotated,
        &key_file,
        "\"sealed after the rotation\"",
        activated,
    )
    .await;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while decode(&http, port, &new_payload).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the codec server never loaded the rotated keyring"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let errors = traffic.await.unwrap();
    copier.await.unwrap();
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "failed decodes: {errors:?}"
    );
    assert!(
        succeeded.load(Ordering::Relaxed) >= 20,
        "too little traffic to show anything: {}",
        succeeded.load(Ordering::Relaxed)
    );
}

/// The cluster's Web UI names the codec server's `endpoint` and everything applies in one run:
/// the codec server (which creates the namespace) first, then the cluster into it. With both
/// creating the namespace, the second is refused on `create_namespace`, naming who holds it.
/// Destroy removes everything, the namespace last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_names_the_codec_servers_endpoint_in_one_run() {
    let server = kube_server().await;
    let kube = client(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("dev.key");
    std::fs::write(
        &key_file,
        base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
    )
    .unwrap();
    let codec = config(&server, &key_file.display().to_string())
        .replace(
            "  temporal_cluster = \"prod\"\n",
            "  namespace        = \"temporal-prod\"\n  temporal_cluster = \"prod\"\n  create_namespace = true\n",
        );
    assert!(codec.contains("create_namespace = true"));
    let cluster = |create_namespace: bool| {
        format!(
            r#"
resource "engram_temporal_cluster" "prod" {{
  name                = "prod"
  namespace           = "temporal-prod"
  create_namespace    = {create_namespace}
  version             = "1.29.1"
  history_shard_count = 512
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
  web_ui = {{
    codec_endpoint = engram_codec_server.codec.endpoint
  }}
  deletion_protection = false
}}
"#
        )
    };
    let ws = Workspace::new(Version::V1_15_5, &format!("{codec}{}", cluster(false)));
    ws.apply();
    ws.assert_no_changes();
    let deployments: Api<Deployment> = Api::namespaced(kube.clone(), "temporal-prod");
    let ui = serde_json::to_value(deployments.get("prod-web-ui").await.unwrap()).unwrap();
    let env = ui["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        env.contains(&serde_json::json!({
            "name": "TEMPORAL_CODEC_ENDPOINT",
            "value": "https://codec.temporal-prod.svc"
        })),
        "{env:?}"
    );
    let namespaces: Api<Namespace> = Api::all(kube.clone());
    let namespace = namespaces.get("temporal-prod").await.unwrap();
    let labels = namespace.metadata.labels.unwrap();
    assert_eq!(labels["engram.dev/stack"], "codec-server");
    assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted");

    // The namespace the codec server created cannot be handed over by turning the flag off.
    ws.write_config(&format!(
        "{}{}",
        codec.replace("create_namespace = true", "create_namespace = false"),
        cluster(false)
    ));
    let handed_over = ws.run(&["plan", "-no-color"]);
    assert_eq!(handed_over.code, 1, "{}", handed_over.all());
    assert!(
        handed_over
            .words()
            .contains("The namespace cannot be handed over"),
        "{}",
        handed_over.all()
    );
    ws.write_config(&format!("{codec}{}", cluster(false)));

    // Both creating the namespace: the cluster, applied second, is refused and writes nothing.
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(namespaces.get_opt("temporal-prod").await.unwrap().is_none());
    ws.write_config(&format!("{codec}{}", cluster(true)));
    let refused = ws.run(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    let text = refused.words();
    assert!(
        text.contains("Namespace temporal-prod already exists")
            && text.contains("It belongs to engram's codec-server `codec`")
            && text.contains("Set `create_namespace = false`"),
        "{text}"
    );
    assert!(
        deployments
            .get_opt("prod-frontend")
            .await
            .unwrap()
            .is_none(),
        "nothing of the cluster was written"
    );
}

/// Settings written out at their defaults (`create_namespace = false`, `tls_min_version =
/// "1.2"`) plan and apply as themselves and replan empty; `tls_min_version = "1.3"` reaches the
/// Deployment's environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_written_out_plan_as_configured_and_the_tls_minimum_reaches_the_pods() {
    let Deployed {
        server,
        ws,
        dir: _dir,
        ..
    } = deployed(Version::V1_15_5, 11).await;
    let explicit = ws.config().replace(
        "  tls_secret_name = \"codec-tls\"\n",
        "  tls_secret_name  = \"codec-tls\"\n  tls_min_version  = \"1.2\"\n  create_namespace = false\n",
    );
    assert!(explicit.contains("tls_min_version  = \"1.2\""));
    ws.write_config(&explicit);
    ws.apply();
    ws.assert_no_changes();
    let state = ws.resource("engram_codec_server");
    assert_eq!(state["create_namespace"], false);
    assert_eq!(state["tls_min_version"], "1.2");

    ws.write_config(&explicit.replace("\"1.2\"", "\"1.3\""));
    ws.apply();
    ws.assert_no_changes();
    let deployments: Api<Deployment> = Api::namespaced(client(&server).await, "temporal");
    let codec = serde_json::to_value(deployments.get("codec").await.unwrap()).unwrap();
    let env = codec["spec"]["template"]["spec"]["containers"][0]["env"].clone();
    assert!(
        env.as_array().unwrap().contains(
            &serde_json::json!({ "name": "ENGRAM_CODEC_TLS_MIN_VERSION", "value": "1.3" })
        ),
        "{env}"
    );
}

/// The token leeway and a private CA for the issuer's JWKS: left out, the state holds the
/// default leeway and a replan is empty; set, they reach the pods as the server's own settings
/// and the ConfigMap as a read-only volume; unset again, the volume goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_leeway_and_a_private_jwks_ca_reach_the_pods() {
    let Deployed {
        server,
        ws,
        dir: _dir,
        ..
    } = deployed(Version::V1_15_5, 13).await;
    ws.apply();
    ws.assert_no_changes();
    assert_eq!(
        ws.resource("engram_codec_server")["oidc"]["leeway_seconds"],
        60
    );

    let base = ws.config();
    let oidc = "    audiences = [\"temporal-codec\"]\n";
    assert!(base.contains(oidc));
    ws.write_config(&base.replace(oidc, &format!("{oidc}    leeway_seconds = 60\n")));
    ws.assert_no_changes();

    ws.write_config(&base.replace(
        oidc,
        &format!("{oidc}    leeway_seconds = 120\n    jwks_ca_config_map = \"idp-ca\"\n"),
    ));
    ws.apply();
    ws.assert_no_changes();
    let deployments: Api<Deployment> = Api::namespaced(client(&server).await, "temporal");
    let pod = |deployment: Deployment| {
        serde_json::to_value(deployment).unwrap()["spec"]["template"]["spec"].clone()
    };
    let live = pod(deployments.get("codec").await.unwrap());
    let env = live["containers"][0]["env"].as_array().unwrap().clone();
    for (name, value) in [
        ("ENGRAM_CODEC_JWT_LEEWAY_SECONDS", "120"),
        ("ENGRAM_CODEC_JWKS_CA_CERT", "/etc/engram/jwks-ca/ca.crt"),
    ] {
        assert!(
            env.contains(&serde_json::json!({ "name": name, "value": value })),
            "{name}: {env:?}"
        );
    }
    let volumes = live["volumes"].as_array().unwrap().clone();
    assert!(
        volumes.contains(&serde_json::json!({
            "name": "jwks-ca",
            "configMap": { "name": "idp-ca", "defaultMode": 420 }
        })),
        "{volumes:?}"
    );

    ws.write_config(&base);
    ws.apply();
    ws.assert_no_changes();
    let live = pod(deployments.get("codec").await.unwrap());
    assert!(
        !live["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "jwks-ca"),
        "{live}"
    );
}
