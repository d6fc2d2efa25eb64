//! `engram_cmk_binding` with the `azure_key_vault` and `gcp_kms` blocks, through the real
//! Terraform CLI, against a STUB HTTP server (tests/codec_common/stub.rs) standing in for Azure
//! Key Vault, Microsoft Entra ID, Google Cloud KMS and the GCE metadata server: no cloud account
//! is reachable from the test machine. The stub answers in the services' documented shapes and
//! records the requests, so the tests check what the provider sent and which credential it used.
//! Import from a saved keyring then gives an empty plan (with the defaults, deletion protection
//! on, as an imported binding starts).

use crate::stub::{GCP_KEY, Recorded, Stub, azure_stub_answer, gcp_stub_answer};
use crate::terraform::{Version, Workspace};
use engram::codec::KeyringDocument;

fn config(backend: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    engram = {{ source = "engram/engram" }}
  }}
}}
provider "engram" {{}}
variable "kms_token" {{
  type      = string
  sensitive = true
  ephemeral = true
  default   = null
}}
resource "engram_cmk_binding" "payments" {{
  scope = "payments"
{backend}
}}
"#
    )
}

/// Imports the binding in a fresh workspace from a saved copy of its keyring; the plan after it
/// must be empty.
fn import_from_file(ws: &Workspace, env: &[(&str, String)]) -> serde_json::Value {
    let keyring = ws.resource("engram_cmk_binding")["keyring"]
        .as_str()
        .unwrap()
        .to_string();
    let fresh = Workspace::new(Version::V1_15_5, &ws.config());
    for (k, v) in env {
        fresh.set_env(k, v);
    }
    let saved = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(saved.path(), &keyring).unwrap();
    fresh.ok(&[
        "import",
        "-no-color",
        "engram_cmk_binding.payments",
        &format!("file:{}", saved.path().display()),
    ]);
    fresh.assert_no_changes();
    let imported = fresh.resource("engram_cmk_binding");
    assert_eq!(imported["keyring"].as_str(), Some(keyring.as_str()));
    imported
}

fn paths(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.target))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_key_vault_binding_uses_workload_identity_and_imports() {
    let stub = Stub::start_https(azure_stub_answer).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("azure-identity-token");
    std::fs::write(&token_file, "federated.jwt").unwrap();
    let env = [
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        ("AZURE_TENANT_ID", "tenant-1".to_string()),
        ("AZURE_CLIENT_ID", "client-1".to_string()),
        ("AZURE_AUTHORITY_HOST", stub.base_url.clone()),
    ];
    let ws = Workspace::new(
        Version::V1_15_5,
        &config(&format!(
            "  azure_key_vault {{\n    vault_url = \"{}\"\n    key_name  = \"engram\"\n  }}",
            stub.base_url
        )),
    );
    for (k, v) in &env {
        ws.set_env(k, v);
    }
    ws.apply();
    ws.assert_no_changes();

    let binding = ws.resource("engram_cmk_binding");
    assert_eq!(binding["wrapped_under_version"], "v7");
    let doc = KeyringDocument::from_json(binding["keyring"].as_str().unwrap()).unwrap();
    let location = doc
        .customer_key
        .expect("the keyring names its customer key");
    assert_eq!(location.backend, "azure_key_vault");
    assert_eq!(location.settings["key_name"], "engram");
    assert_eq!(location.settings["vault_url"], stub.base_url);

    let requests = stub.requests();
    let sent = paths(&requests);
    assert!(
        sent.contains(&"POST /tenant-1/oauth2/v2.0/token".to_string()),
        "workload identity exchange expected: {sent:?}"
    );
    let wrap = requests
        .iter()
        .find(|r| r.target == "/keys/engram/wrapkey?api-version=7.4")
        .unwrap_or_else(|| panic!("no wrapKey call: {sent:?}"));
    assert_eq!(wrap.headers["authorization"], "Bearer entra-token");
    assert_eq!(wrap.json()["alg"], "RSA-OAEP-256");

    let imported = import_from_file(&ws, &env);
    assert_eq!(imported["azure_key_vault"][0]["key_name"], "engram");
    assert!(
        paths(&stub.requests()).contains(&"POST /keys/engram/v7/unwrapkey?api-version=7.4".into()),
        "import checks that the customer key unwraps the keyring"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcp_kms_binding_takes_a_write_only_token_and_refreshes_through_the_metadata_server() {
    let stub = Stub::start(gcp_stub_answer).await;
    let metadata_host = stub.base_url.trim_start_matches("http://").to_string();
    let ws = Workspace::new(
        Version::V1_15_5,
        &config(&format!(
            "  gcp_kms {{\n    key_name     = \"{GCP_KEY}\"\n    endpoint     = \"{}\"\n    access_token = var.kms_token\n  }}",
            stub.base_url
        )),
    );
    ws.set_env("TF_VAR_kms_token", "ya29.pipeline-token");
    ws.set_env("GCE_METADATA_HOST", &metadata_host);
    ws.apply();
    ws.assert_no_changes();

    let requests = stub.requests();
    let encrypt = requests
        .iter()
        .find(|r| r.target == format!("/v1/{GCP_KEY}:encrypt"))
        .expect("an encrypt call");
    assert_eq!(
        encrypt.headers["authorization"], "Bearer ya29.pipeline-token",
        "create uses the write-only token"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.target.starts_with("/computeMetadata/")),
        "refresh has no write-only values and uses the metadata server: {:?}",
        paths(&requests)
    );
    let binding = ws.resource("engram_cmk_binding");
    assert_eq!(binding["wrapped_under_version"], "3");
    let shown = ws.ok(&["show", "-json"]).stdout;
    for (what, text) in [
        ("state", ws.file("terraform.tfstate")),
        ("show -json", shown),
    ] {
        assert!(
            !text.contains("ya29.pipeline-token"),
            "the token reached the {what}"
        );
    }

    let imported = import_from_file(&ws, &[("GCE_METADATA_HOST", metadata_host.clone())]);
    assert_eq!(imported["gcp_kms"][0]["key_name"], GCP_KEY);
}

#[test]
fn bad_cloud_key_settings_are_named_with_the_fix() {
    let ws = Workspace::new(
        Version::V1_15_5,
        &config(
            r#"  gcp_kms {
    key_name = "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/2"
    endpoint = "cloudkms.googleapis.com"
  }
  azure_key_vault {
    vault_url = "payments.vault.azure.net"
    key_name  = "engram"
  }"#,
        ),
    );
    let run = ws.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let out = run.all();
    for expected in [
        "Exactly one key backend",
        "found azure_key_vault, gcp_kms",
        "Invalid gcp_kms.key_name",
        "primary version",
        "Invalid gcp_kms.endpoint",
        "Invalid azure_key_vault.vault_url",
        "https://NAME.vault.azure.net",
    ] {
        assert!(out.contains(expected), "{expected} missing:\n{out}");
    }

    // Key Vault serves HTTPS only: a plain http URL is refused at plan, once.
    ws.write_config(&config(
        "  azure_key_vault {\n    vault_url = \"http://payments.vault.azure.net\"\n    key_name  = \"engram\"\n  }",
    ));
    let run = ws.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let out = run.words();
    assert_eq!(
        out.matches("Invalid azure_key_vault.vault_url").count(),
        1,
        "{out}"
    );
    assert!(
        out.contains("must start with https:// (Key Vault serves HTTPS only)"),
        "{out}"
    );
}

#[test]
fn import_ids_that_name_no_keyring_are_refused_with_the_formats() {
    let ws = Workspace::new(
        Version::V1_15_5,
        &config("  local {\n    key_file = \"/nonexistent\"\n  }"),
    );
    for (id, expected) in [
        ("payments", "secret:NAMESPACE/NAME"),
        (
            "file:/nonexistent/keyring.json",
            "Cannot read the keyring file",
        ),
    ] {
        let run = ws.run(&["import", "-no-color", "engram_cmk_binding.payments", id]);
        assert_eq!(run.code, 1, "{}", run.all());
        assert!(run.all().contains(expected), "{id}: {}", run.all());
    }
    let not_a_keyring = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_a_keyring.path(), "{\"format\": \"something-else\"}").unwrap();
    let run = ws.run(&[
        "import",
        "-no-color",
        "engram_cmk_binding.payments",
        &format!("file:{}", not_a_keyring.path().display()),
    ]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all().contains("Not a keyring document"),
        "{}",
        run.all()
    );
    assert!(
        !ws.file_exists("terraform.tfstate")
            || !ws.file("terraform.tfstate").contains("engram_cmk_binding"),
        "a refused import leaves no state"
    );
}
