//! `engram_codec_server` wired to an `engram_cmk_binding` (a development key file stands in for
//! the KMS here; the KMS backends have their own tests), applied to the Kubernetes API test
//! server: the keyring lands in a Secret, a second plan is empty, a rotation updates the
//! Secret in place, and import gives an empty plan.

use crate::terraform::{Version, Workspace};
use base64::Engine as _;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, PostParams};
use kube_api::{KubeApiServer, Options};
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
    let server = kube_server().await;
    create_namespace(&server, "temporal").await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("dev.key");
    std::fs::write(
        &key_file,
        base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
    )
    .unwrap();
    let ws = Workspace::new(
        Version::V1_15_5,
        &config(&server, &key_file.display().to_string()),
    );
    ws.apply();
    assert_eq!(ws.outputs()["endpoint"], "https://codec.temporal.svc:8443");
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
    assert_eq!(imported["endpoint"], "https://codec.temporal.svc:8443");
    assert_eq!(imported["cors_origins"][0], "https://temporal.example.com");
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
  oidc = {
    issuer    = "https://login.example.com"
    jwks_url  = "https://login.example.com/keys"
    audiences = ["codec"]
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
    ] {
        assert!(out.contains(expected), "{expected} missing:\n{out}");
    }
}
