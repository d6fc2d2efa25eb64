//! `engram_security_evidence` through Terraform against a real `temporal server start-dev`
//! holding one plaintext workflow: the report records encryption at rest as failed, and with
//! `fail_on_failure` the plan fails naming the control.

use crate::codec_server_common::KeyringFiles;
use crate::support::{TemporalDevServer, tool};
use crate::terraform::{Version, Workspace};

fn config(address: &str, fail_on_failure: bool) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    engram = {{ source = "engram/engram" }}
  }}
}}
provider "engram" {{
  temporal {{
    address = "{address}"
  }}
}}
data "engram_security_evidence" "e" {{
  namespaces      = ["default"]
  keyring_json    = file("${{path.module}}/keyring.json")
  sample_size     = 5
  describe_customer_key = true
  fail_on_failure = {fail_on_failure}
}}
output "statuses" {{ value = data.engram_security_evidence.e.statuses }}
output "failed" {{ value = data.engram_security_evidence.e.failed_controls }}
output "sha256" {{ value = data.engram_security_evidence.e.sha256 }}
output "report" {{ value = data.engram_security_evidence.e.report_json }}
"#
    )
}

#[test]
fn a_plaintext_workflow_fails_encryption_at_rest_and_can_fail_the_plan() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let files = runtime.block_on(KeyringFiles::create("default"));
    let temporal = TemporalDevServer::start();
    let started = std::process::Command::new(tool("temporal"))
        .args(["workflow", "start", "--address", &temporal.address])
        .args(["--type", "Greet", "--task-queue", "evidence-no-worker"])
        .args([
            "--workflow-id",
            "plain-order",
            "--input",
            "\"AcceptanceSecret-9\"",
        ])
        .output()
        .unwrap();
    assert!(started.status.success());

    let ws = Workspace::new(Version::V1_15_5, &config(&temporal.address, false));
    std::fs::copy(&files.keyring, ws.path().join("keyring.json")).unwrap();
    ws.apply();
    let out = ws.outputs();
    assert_eq!(out["statuses"]["encryption-at-rest"], "fail", "{out}");
    assert_eq!(out["statuses"]["key-rotation"], "pass", "{out}");
    assert_eq!(out["statuses"]["access-control"], "not-checked", "{out}");
    let failed = out["failed"].as_array().unwrap();
    assert!(failed.iter().any(|f| f == "encryption-at-rest"), "{out}");
    let report = out["report"].as_str().unwrap();
    assert!(engram::evidence::verify(report).unwrap());
    assert!(report.contains("workflow `plain-order`"));
    // describe_customer_key reached the report: this keyring (sealed under local key files)
    // names no customer key, and the report says so rather than staying silent.
    assert!(
        report.contains("the KMS was not asked: the keyring names no customer key"),
        "{report}"
    );
    assert!(!report.contains("AcceptanceSecret-9"));
    assert_eq!(
        out["sha256"].as_str().unwrap(),
        serde_json::from_str::<serde_json::Value>(report).unwrap()["sha256"]
    );

    ws.write_config(&config(&temporal.address, true));
    let plan = ws.run(&["plan", "-no-color", "-input=false"]);
    assert_ne!(plan.code, 0, "{}", plan.all());
    let text = plan.all();
    assert!(text.contains("Security controls failed"), "{text}");
    assert!(text.contains("encryption-at-rest:"), "{text}");
}

const PROBE_TOKEN_VARIABLE: &str = r#"
terraform {
  required_providers {
    engram = { source = "engram/engram" }
  }
}
provider "engram" {}
variable "probe_token" {
  type      = string
  sensitive = true
}
variable "codec_url" { type = string }
data "engram_security_evidence" "e" {
  codec_url       = var.codec_url
  ca_certificate  = file("${path.module}/ca.pem")
  probe_token     = var.probe_token
  probe_namespace = "default"
  audit_log_path  = "${path.module}/audit.jsonl"
}
output "statuses" { value = data.engram_security_evidence.e.statuses }
output "report" { value = data.engram_security_evidence.e.report_json }
"#;

#[test]
fn the_probe_token_proves_403_and_stays_out_of_state_plan_and_report() {
    use crate::codec_server_common::issuer::{Issuer, Signer};
    use crate::codec_server_common::{TestServer, rustls_server, tls_files};
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let files = runtime.block_on(KeyringFiles::create("default"));
    let signer = Signer::new("key-1");
    let issuer_dir = tempfile::tempdir().unwrap();
    let (issuer_cert, issuer_key, issuer_ca) = tls_files(issuer_dir.path());
    let issuer_ca_file = issuer_dir.path().join("issuer-ca.pem");
    std::fs::write(&issuer_ca_file, issuer_ca).unwrap();
    let issuer = runtime.block_on(Issuer::start_with(
        vec![signer.jwk.clone()],
        Some(rustls_server(&issuer_cert, &issuer_key)),
    ));
    let (cert, key, ca_pem) = tls_files(files.dir.path());
    let ws = Workspace::new(Version::V1_15_5, PROBE_TOKEN_VARIABLE);
    let audit = ws.path().join("audit.jsonl");
    let server = runtime.block_on(TestServer::start_with_audit(
        engram::codec::server::Settings {
            insecure_no_auth: false,
            jwks_url: Some(issuer.jwks_url()),
            jwks_ca_cert: Some(issuer_ca_file),
            jwt_issuer: Some("https://idp.test".into()),
            jwt_audiences: vec!["engram-codec".into()],
            tls_cert: Some(cert),
            tls_key: Some(key),
            ..files.settings()
        },
        Box::new(std::fs::File::create(&audit).unwrap()),
    ));
    std::fs::write(ws.path().join("ca.pem"), ca_pem).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let stranger = signer.token(serde_json::json!({
        "sub": "mallory", "iss": "https://idp.test", "aud": "engram-codec",
        "exp": now + 600, "iat": now, "permissions": ["orders:admin"],
    }));
    ws.set_vars(&format!(
        "probe_token = \"{stranger}\"\ncodec_url = \"{}\"\n",
        server.base
    ));

    let plan = ws.ok(&["plan", "-no-color", "-input=false", "-out=tfplan"]);
    assert!(!plan.all().contains(&stranger), "{}", plan.all());
    let shown = ws.ok(&["show", "-json", "tfplan"]);
    let planned: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let data = &planned["prior_state"]["values"]["root_module"]["resources"][0]["values"];
    assert_eq!(data["probe_namespace"], "default", "{planned}");
    assert_eq!(data["probe_token"], serde_json::Value::Null, "{data}");
    assert!(
        !serde_json::to_string(&planned["prior_state"])
            .unwrap()
            .contains(&stranger),
        "the token is not in the plan's data source values"
    );
    ws.ok(&[
        "apply",
        "-no-color",
        "-input=false",
        "-auto-approve",
        "tfplan",
    ]);
    let out = ws.outputs();
    assert_eq!(out["statuses"]["access-control"], "pass", "{out}");
    assert_eq!(out["statuses"]["audit"], "pass", "{out}");
    let report = out["report"].as_str().unwrap();
    assert!(report.contains("was answered HTTP 403"), "{report}");
    assert!(report.contains("decode audit lines for"), "{report}");
    assert!(!report.contains(&stranger));
    let state = ws.file("terraform.tfstate");
    assert!(!state.contains(&stranger), "the token is not in the state");
    assert!(
        state.contains("\"probe_namespace\": \"default\""),
        "{state}"
    );

    // The token without its namespace: one error naming the missing input.
    ws.write_config(&PROBE_TOKEN_VARIABLE.replace("  probe_namespace = \"default\"\n", ""));
    let plan = ws.run(&["plan", "-no-color", "-input=false"]);
    assert_ne!(plan.code, 0);
    assert!(
        plan.all().contains("probe_namespace is missing"),
        "{}",
        plan.all()
    );
    assert!(!plan.all().contains(&stranger));
    runtime.block_on(server.stop());
}

fn kubernetes_config(kubeconfig: &std::path::Path, fail_on_failure: bool) -> String {
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
data "engram_security_evidence" "e" {{
  temporal_cluster     = "prod"
  kubernetes_namespace = "temporal-prod"
  fail_on_failure      = {fail_on_failure}
}}
output "statuses" {{ value = data.engram_security_evidence.e.statuses }}
"#,
        kubeconfig.display()
    )
}

#[test]
fn live_kubernetes_objects_prove_isolation_and_a_removed_policy_fails_the_plan() {
    use kube_api::{KubeApiServer, Options, ResourceType};
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut options = Options::default();
    options.resources.push(ResourceType::custom(
        "cert-manager.io",
        "v1",
        "Certificate",
        "certificates",
    ));
    options.auto_ready = Some(std::time::Duration::from_millis(5));
    let server = runtime
        .block_on(KubeApiServer::start_with(options))
        .unwrap();
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/deploy/production.yaml");
    let spec = engram::deploy::SpecFile::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    runtime.block_on(async {
        let deployer = engram::deploy::Deployer::connect(
            Some(server.kubeconfig_path()),
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
        for stack in spec.render().unwrap() {
            deployer
                .apply(
                    &stack,
                    &engram::deploy::ApplyOptions {
                        timeout: std::time::Duration::from_secs(30),
                        poll_interval: std::time::Duration::from_millis(10),
                        prune: true,
                    },
                    &engram::deploy::NoProgress,
                    &tokio_util::sync::CancellationToken::new(),
                )
                .await
                .unwrap();
        }
    });

    let ws = Workspace::new(
        Version::V1_15_5,
        &kubernetes_config(server.kubeconfig_path(), false),
    );
    ws.apply();
    let out = ws.outputs();
    assert_eq!(out["statuses"]["deployment-isolation"], "pass", "{out}");
    assert_eq!(out["statuses"]["encryption-in-transit"], "pass", "{out}");
    assert_eq!(out["statuses"]["access-control"], "pass", "{out}");

    runtime.block_on(async {
        let file = kube::config::Kubeconfig::read_from(server.kubeconfig_path()).unwrap();
        let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
            .await
            .unwrap();
        let policies: kube::Api<k8s_openapi::api::networking::v1::NetworkPolicy> =
            kube::Api::namespaced(kube::Client::try_from(config).unwrap(), "temporal-prod");
        policies.delete("codec", &Default::default()).await.unwrap();
    });
    ws.write_config(&kubernetes_config(server.kubeconfig_path(), true));
    let plan = ws.run(&["plan", "-no-color", "-input=false"]);
    assert_ne!(plan.code, 0, "{}", plan.all());
    let text = plan.all();
    assert!(text.contains("deployment-isolation:"), "{text}");
}
