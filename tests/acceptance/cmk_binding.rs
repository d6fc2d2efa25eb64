//! `engram_cmk_binding` against a real OpenBao Transit engine: creation, secrets kept out of
//! state and plans, rotation with an injected clock, the decrypt window, re-wrap after a
//! customer key rotation, and deletion protection.

use crate::openbao::{OpenBao, ROOT_TOKEN};
use crate::terraform::{Version, Workspace};
use engram::codec::{Keyring, KeyringDocument, Payload, PayloadCodec};
use engram::kms::KeyProvider;
use engram::kms::vault::VaultTransit;
use std::sync::Arc;

fn config(bao: &OpenBao, extra: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    engram = {{ source = "engram/engram" }}
  }}
}}
provider "engram" {{}}
variable "vault_token" {{
  type      = string
  sensitive = true
  ephemeral = true
}}
resource "engram_cmk_binding" "payments" {{
  scope = "payments"
  vault_transit {{
    address  = "{}"
    key_name = "payments-kek"
    token    = var.vault_token
  }}
{extra}
}}
output "primary" {{ value = engram_cmk_binding.payments.primary_key_id }}
output "keys" {{ value = engram_cmk_binding.payments.key_ids }}
"#,
        bao.address
    )
}

async fn bao_with_key() -> OpenBao {
    let bao = OpenBao::start().await;
    bao.create_key("payments-kek").await;
    bao
}

fn transit(bao: &OpenBao) -> VaultTransit {
    bao.transit("payments-kek")
}

async fn codec(bao: &OpenBao, keyring_json: &str) -> PayloadCodec {
    let doc = KeyringDocument::from_json(keyring_json).unwrap();
    let keyring = Keyring::unwrap_document(&doc, &transit(bao)).await.unwrap();
    PayloadCodec::new(
        Arc::new(keyring),
        engram::codec::Namespace::new("default").unwrap(),
    )
}

/// A workspace for `config`, with the Vault token passed as an ephemeral variable, as a
/// pipeline would.
fn workspace(config: &str) -> Workspace {
    let ws = Workspace::new(Version::V1_15_5, config);
    ws.set_env("TF_VAR_vault_token", ROOT_TOKEN);
    ws
}

/// The KEK versions of the wrapped data keys in a keyring document (`vault:vN:` prefixes).
fn kek_versions(keyring_json: &str) -> Vec<String> {
    let doc = KeyringDocument::from_json(keyring_json).unwrap();
    doc.keys
        .iter()
        .map(|k| {
            let text = String::from_utf8(k.wrapped.ciphertext.clone()).unwrap();
            text.split(':').nth(1).unwrap().to_string()
        })
        .collect()
}

fn rfc3339_days_from_now(days: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::days(days);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn rotation_keeps_old_payloads_decryptable_and_refuses_early_retirement() {
    let bao = bao_with_key().await;
    let ws = workspace(&config(&bao, ""));
    ws.apply();
    ws.assert_no_changes();
    let first = ws.resource("engram_cmk_binding");
    let first_primary = first["primary_key_id"].as_str().unwrap().to_string();
    assert_eq!(first["key_ids"].as_array().unwrap().len(), 1);
    assert_eq!(kek_versions(first["keyring"].as_str().unwrap()), ["v1"]);

    // A payload sealed before the rotation.
    let before = codec(&bao, first["keyring"].as_str().unwrap()).await;
    let sealed = before
        .encode_one(&Payload::new("json/plain", b"\"card 4111\"".to_vec()))
        .unwrap();

    // 91 days later the rotation is due: the plan says so, as an in-place update that adds a
    // pending key, with the time it activates.
    ws.set_env("ENGRAM_NOW", &rfc3339_days_from_now(91));
    let plan = ws.plan_exit_code();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert!(plan.stdout.contains("update in-place"), "{}", plan.all());
    let said = plan.words();
    assert!(said.contains("add a pending data key"), "{said}");
    assert!(said.contains("the new key activates at"), "{said}");
    ws.apply();
    ws.assert_no_changes();

    // Until its activation every writer keeps sealing with the first key; every reader already
    // holds the new one.
    let second = ws.resource("engram_cmk_binding");
    assert_eq!(second["primary_key_id"], first_primary.as_str());
    let pending = second["pending_key_id"].as_str().unwrap().to_string();
    assert_ne!(pending, first_primary);
    assert_eq!(second["key_ids"].as_array().unwrap().len(), 2);
    let after = codec(&bao, second["keyring"].as_str().unwrap()).await;
    let opened = after.decode_one(sealed).unwrap();
    assert_eq!(opened.data, b"\"card 4111\"");
    let in_91_days = time::OffsetDateTime::now_utc().unix_timestamp() + 91 * 86_400;
    let one = Payload::new("json/plain", b"1".to_vec());
    let still_old = after.encode_one_at(&one, in_91_days).unwrap();
    assert_eq!(
        still_old.metadata_str("encryption-key-id"),
        Some(first_primary.as_str())
    );
    let activated = after.encode_one_at(&one, in_91_days + 3_601).unwrap();
    assert_eq!(
        activated.metadata_str("encryption-key-id"),
        Some(pending.as_str())
    );

    // Once the activation time has passed, the next plan records it.
    ws.set_env(
        "ENGRAM_NOW",
        &(time::OffsetDateTime::now_utc() + time::Duration::days(91) + time::Duration::hours(2))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
    );
    let plan = ws.plan_exit_code();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert!(plan.all().contains("record activation"), "{}", plan.all());
    ws.apply();
    ws.assert_no_changes();
    let third = ws.resource("engram_cmk_binding");
    assert_eq!(third["primary_key_id"], pending.as_str());
    assert!(third["pending_key_id"].is_null());
    let history: Vec<String> = KeyringDocument::from_json(third["keyring"].as_str().unwrap())
        .unwrap()
        .history
        .iter()
        .map(|e| format!("{:?}", e.event))
        .collect();
    assert_eq!(history, ["Created", "Activated", "Created", "Activated"]);

    // Retiring the replaced key inside its window is refused, naming the key.
    ws.write_config(&config(
        &bao,
        &format!("  retire_key_ids = [\"{first_primary}\"]"),
    ));
    let refused = ws.run(&["plan", "-no-color"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused.all().contains("Data key cannot be retired yet"),
        "{}",
        refused.all()
    );
    assert!(refused.all().contains(&first_primary), "{}", refused.all());

    // Past the window (400 days after its seal end: 90 days plus the 30-day grace after its
    // activation) it is retired by the plan itself.
    ws.write_config(&config(&bao, ""));
    ws.set_env("ENGRAM_NOW", &rfc3339_days_from_now(120 + 401));
    let plan = ws.plan_exit_code();
    assert!(
        plan.all()
            .contains(&format!("retire data key {first_primary}")),
        "{}",
        plan.all()
    );
}

#[tokio::test]
async fn a_customer_key_rotation_is_offered_as_a_rewrap() {
    let bao = bao_with_key().await;
    let ws = workspace(&config(&bao, ""));
    ws.apply();
    let before = ws.resource("engram_cmk_binding");
    assert_eq!(before["wrapped_under_version"], "1");

    bao.request("POST", "transit/keys/payments-kek/rotate", None)
        .await;
    // Refresh has no configuration, so it reads the customer key with the environment's token.
    ws.set_env("VAULT_TOKEN", ROOT_TOKEN);
    let plan = ws.plan_exit_code();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert!(plan.all().contains("rewrap data keys"), "{}", plan.all());
    ws.apply();
    ws.assert_no_changes();
    let after = ws.resource("engram_cmk_binding");
    assert_eq!(after["wrapped_under_version"], "2");
    assert_eq!(
        after["primary_key_id"], before["primary_key_id"],
        "a rewrap keeps the data keys"
    );
    assert_eq!(kek_versions(after["keyring"].as_str().unwrap()), ["v2"]);
    // Still the same data key: it unwraps to the same material and opens the same payloads.
    let old = codec(&bao, before["keyring"].as_str().unwrap()).await;
    let new = codec(&bao, after["keyring"].as_str().unwrap()).await;
    let sealed = old
        .encode_one(&Payload::new("json/plain", b"42".to_vec()))
        .unwrap();
    assert_eq!(new.decode_one(sealed).unwrap().data, b"42");
}

#[tokio::test]
async fn the_token_never_reaches_state_or_plan() {
    let bao = bao_with_key().await;
    let ws = workspace(&config(&bao, "  rotate_after_days = 30"));
    ws.ok(&["plan", "-out=tfplan", "-no-color"]);
    let plan_json = ws.ok(&["show", "-json", "tfplan"]).stdout;
    assert!(!plan_json.contains(ROOT_TOKEN), "token in plan JSON");
    ws.apply();
    assert!(
        !ws.file("terraform.tfstate").contains(ROOT_TOKEN),
        "token in state"
    );
    let shown = ws.ok(&["show", "-json"]).stdout;
    assert!(!shown.contains(ROOT_TOKEN), "token in show -json");

    // Nor the logs, at the most verbose level, of a rotation that uses it.
    ws.set_env("ENGRAM_NOW", &rfc3339_days_from_now(31));
    ws.set_env("TF_LOG", "TRACE");
    ws.set_env("TF_LOG_PATH", "trace.log");
    ws.apply();
    let log = ws.file("trace.log");
    assert!(
        log.contains("added pending data key"),
        "the provider's own log lines are in the trace"
    );
    assert!(!log.contains(ROOT_TOKEN), "token in the trace log");
}

#[tokio::test]
async fn deletion_protection_refuses_destroy_with_the_way_out() {
    let bao = bao_with_key().await;
    let ws = workspace(&config(&bao, ""));
    ws.apply();
    let run = ws.run(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all().contains("Deletion protection is on"),
        "{}",
        run.all()
    );
    assert!(ws.file("terraform.tfstate").contains("engram_cmk_binding"));

    ws.write_config(&config(&bao, "  deletion_protection = false"));
    ws.apply();
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}

#[test]
fn bad_inputs_are_named_with_the_fix() {
    let ws = Workspace::new(
        Version::V1_15_5,
        r#"
terraform {
  required_providers {
    engram = { source = "engram/engram" }
  }
}
provider "engram" {}
resource "engram_cmk_binding" "bad" {
  scope                     = "has spaces"
  decrypt_window_days       = 20
  namespace_retention_days  = 30
  longest_workflow_run_days = 7
  rotate_after_days         = 0
  vault_transit {
    address  = "vault:8200"
    key_name = "k"
  }
  local {
    key_file = "/tmp/k"
  }
}
"#,
    );
    let run = ws.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1);
    let out = run.all();
    for expected in [
        "Invalid scope",
        "Exactly one key backend",
        "Decrypt window shorter than the data it must read",
        "at least 37",
        "Invalid rotate_after_days",
        "Invalid vault_transit.address",
    ] {
        assert!(out.contains(expected), "{expected} missing:\n{out}");
    }
}

#[tokio::test]
async fn an_unreachable_kms_fails_create_without_state() {
    let ws = workspace(&config(&OpenBao::start().await, "").replace("payments-kek", "missing-key"));
    let run = ws.run(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let out = run.words();
    assert!(out.contains("The customer key cannot be used"), "{out}");
    assert!(out.contains("missing-key"), "names the key: {out}");
    assert!(
        out.contains("tried http://127.0.0.1:"),
        "names the address: {out}"
    );
    assert!(
        !ws.file_exists("terraform.tfstate")
            || !ws.file("terraform.tfstate").contains("engram_cmk_binding")
    );
}

#[test]
fn binding_smoke_on_terraform_1_0_3() {
    // Terraform 1.0 has no write-only attributes: credentials come from the environment, and
    // the development key file needs none.
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("dev.key");
    use base64::Engine as _;
    std::fs::write(
        &key_file,
        base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
    )
    .unwrap();
    let ws = Workspace::new(
        Version::V1_0_3,
        &format!(
            r#"
terraform {{
  required_providers {{
    engram = {{ source = "engram/engram" }}
  }}
}}
provider "engram" {{}}
resource "engram_cmk_binding" "dev" {{
  scope               = "dev"
  deletion_protection = false
  local {{
    key_file = "{}"
  }}
}}
"#,
            key_file.display()
        ),
    );
    ws.apply();
    ws.assert_no_changes();
    let plan = ws.ok(&["plan", "-no-color", "-input=false"]);
    assert!(
        plan.all()
            .contains("DEVELOPMENT ONLY: the customer key is a local file"),
        "the plan itself says it, not only TF_LOG:\n{}",
        plan.all()
    );
    assert_eq!(
        ws.resource("engram_cmk_binding")["key_ids"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn pointing_the_binding_at_another_customer_key_is_refused_and_changes_nothing() {
    let bao = bao_with_key().await;
    bao.create_key("other-kek").await;
    let ws = workspace(&config(&bao, ""));
    ws.apply();
    let before = ws.resource("engram_cmk_binding");

    ws.write_config(&config(&bao, "").replace("payments-kek", "other-kek"));
    let plan = ws.plan_exit_code();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert!(
        plan.all().contains("customer key settings change"),
        "{}",
        plan.all()
    );
    let run = ws.run(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all()
            .contains("The customer key does not unwrap this keyring"),
        "{}",
        run.all()
    );
    assert_eq!(
        ws.resource("engram_cmk_binding")["keyring"],
        before["keyring"],
        "a refused move leaves the keyring as it was"
    );

    // Back on the right key the plan is empty again.
    ws.write_config(&config(&bao, ""));
    ws.assert_no_changes();
}

#[test]
fn a_retention_of_zero_days_is_refused_at_plan() {
    let ws = Workspace::new(
        Version::V1_15_5,
        r#"
terraform {
  required_providers {
    engram = { source = "engram/engram" }
  }
}
provider "engram" {}
resource "engram_cmk_binding" "p" {
  scope                    = "payments"
  namespace_retention_days = 0
  vault_transit {
    address  = "https://vault.example.com:8200"
    key_name = "k"
  }
}
"#,
    );
    let run = ws.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all().contains("Invalid namespace_retention_days"),
        "{}",
        run.all()
    );
}

#[tokio::test]
async fn a_customer_key_refresh_cannot_check_is_said_in_the_plan() {
    let bao = bao_with_key().await;
    let ws = workspace(&config(&bao, ""));
    ws.apply();
    // The write-only token is not in state: refresh has no credential for Vault.
    let plan = ws.ok(&["plan", "-no-color", "-input=false"]);
    let out = plan.all();
    assert!(
        out.contains("Warning: The customer key could not be checked"),
        "{out}"
    );
    assert!(
        out.contains(&bao.address),
        "names the key's address:\n{out}"
    );
    assert!(!out.contains(ROOT_TOKEN));
    ws.set_env("VAULT_TOKEN", ROOT_TOKEN);
    let plan = ws.ok(&["plan", "-no-color", "-input=false"]);
    assert!(
        !plan.all().contains("could not be checked"),
        "{}",
        plan.all()
    );
}

#[tokio::test]
async fn a_customer_key_that_does_not_exist_is_never_created() {
    let bao = bao_with_key().await;
    let ws = workspace(&config(&bao, "").replace("payments-kek", "payments-kek-typo"));
    let run = ws.run(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let out = run.words();
    assert!(out.contains("The customer key cannot be used"), "{out}");
    assert!(out.contains("payments-kek-typo"), "names the key: {out}");
    assert!(
        out.contains("vault write -f transit/keys/"),
        "says how to create it: {out}"
    );
    let transit = bao.transit("payments-kek-typo");
    assert!(
        transit.describe_key().await.is_err(),
        "no Transit key was created under the misspelt name"
    );
}

#[tokio::test]
async fn a_write_only_token_on_terraform_1_0_3_is_a_clear_error() {
    let bao = bao_with_key().await;
    let ws = Workspace::new(
        Version::V1_0_3,
        &config(&bao, "")
            .replace("  ephemeral = true\n", "")
            .replace(
                "variable \"vault_token\" {",
                "variable \"vault_token\" {\n  default = \"t\"",
            ),
    );
    ws.set_env("TF_VAR_vault_token", ROOT_TOKEN);
    let run = ws.run(&["plan", "-no-color", "-input=false"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let out = run.words();
    assert!(
        out.contains("Write-only attribute needs Terraform 1.11"),
        "{out}"
    );
    assert!(out.contains("Terraform 1.0.3"), "{out}");
    assert!(!out.contains("bug in the provider"), "{out}");
    assert!(!out.contains(ROOT_TOKEN), "{out}");
}
