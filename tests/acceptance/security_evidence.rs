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
