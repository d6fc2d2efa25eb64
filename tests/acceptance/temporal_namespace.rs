//! `engram_temporal_namespace` and `engram_temporal_cluster_info` against a real
//! `temporal server start-dev`.

use crate::frontends::AuthorizingFrontend;
use crate::support::TemporalDevServer;
use crate::terraform::{Version, Workspace};

fn config(address: &str, resources: &str) -> String {
    config_with_temporal(&format!("address = \"{address}\""), resources)
}

const PAYMENTS: &str = r#"
resource "engram_temporal_namespace" "payments" {
  name           = "payments"
  description    = "Payment workflows"
  owner_email    = "payments@example.com"
  retention_days = 7
  codec_endpoint = "https://codec.example.com"
  data = {
    team = "payments"
  }
}
output "id" { value = engram_temporal_namespace.payments.id }
"#;

#[test]
fn namespace_lifecycle_create_update_drift_import_destroy() {
    let temporal = TemporalDevServer::start();
    let ws = Workspace::new(Version::V1_15_5, &config(&temporal.address, PAYMENTS));
    ws.apply();
    ws.assert_no_changes();

    let described = temporal.cli(&[
        "operator",
        "namespace",
        "describe",
        "--namespace",
        "payments",
        "--output",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&described).unwrap();
    assert_eq!(json["namespaceInfo"]["description"], "Payment workflows");
    assert_eq!(json["config"]["workflowExecutionRetentionTtl"], "604800s");
    assert_eq!(
        json["namespaceInfo"]["data"]["engram.dev/codec-endpoint"],
        "https://codec.example.com"
    );

    // A change in place.
    ws.write_config(&config(
        &temporal.address,
        &PAYMENTS.replace("retention_days = 7", "retention_days = 14"),
    ));
    let plan = ws.plan_exit_code();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert!(
        plan.stdout.contains("~ retention_days = 7 -> 14"),
        "{}",
        plan.stdout
    );
    ws.apply();
    ws.assert_no_changes();

    // Someone edits the description outside Terraform: the plan shows it and apply repairs it.
    temporal.cli(&[
        "operator",
        "namespace",
        "update",
        "--namespace",
        "payments",
        "--description",
        "edited by hand",
    ]);
    let drift = ws.plan_exit_code();
    assert_eq!(drift.code, 2, "{}", drift.all());
    assert!(
        drift
            .stdout
            .contains("\"edited by hand\" -> \"Payment workflows\""),
        "{}",
        drift.stdout
    );
    ws.apply();
    ws.assert_no_changes();

    // Import into a fresh state gives the same state: an empty plan.
    let fresh = Workspace::new(Version::V1_15_5, &ws.config());
    fresh.ok(&[
        "import",
        "-no-color",
        "engram_temporal_namespace.payments",
        "payments",
    ]);
    fresh.assert_no_changes();

    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    let list = temporal.cli(&["operator", "namespace", "list", "--output", "json"]);
    let deleted = !list.contains("\"payments\"") || list.contains("NAMESPACE_STATE_DELETED");
    assert!(deleted, "namespace still registered after destroy: {list}");
}

#[test]
fn renaming_a_namespace_plans_a_replacement_with_the_reason() {
    let temporal = TemporalDevServer::start();
    let ws = Workspace::new(Version::V1_15_5, &config(&temporal.address, PAYMENTS));
    ws.apply();
    ws.write_config(&config(
        &temporal.address,
        &PAYMENTS.replace("name           = \"payments\"", "name = \"billing\""),
    ));
    let plan = ws.plan_exit_code();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    assert!(plan.all().contains("cannot be renamed"), "{}", plan.all());
}

#[test]
fn an_existing_namespace_is_not_overwritten() {
    let temporal = TemporalDevServer::start();
    temporal.cli(&["operator", "namespace", "create", "--namespace", "payments"]);
    let ws = Workspace::new(Version::V1_15_5, &config(&temporal.address, PAYMENTS));
    let run = ws.run(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(run.code, 1);
    let out = run.all();
    assert!(out.contains("Namespace payments already exists"), "{out}");
    assert!(out.contains("import engram_temporal_namespace"), "{out}");
    assert!(
        !ws.file("terraform.tfstate").contains("\"payments\""),
        "a failed create wrote state"
    );
}

#[test]
fn bad_namespace_inputs_are_named() {
    let ws = Workspace::new(
        Version::V1_15_5,
        &config(
            "127.0.0.1:1",
            r#"
resource "engram_temporal_namespace" "bad" {
  name           = "has space"
  owner_email    = "nobody"
  retention_days = 0
  codec_endpoint = "codec:8080"
  data = { "engram.dev/x" = "y" }
}
"#,
        ),
    );
    let run = ws.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1);
    let out = run.all();
    for summary in [
        "Invalid name",
        "Invalid owner_email",
        "Invalid retention_days",
        "Invalid codec_endpoint",
        "Reserved data key",
    ] {
        assert!(out.contains(summary), "{summary} missing:\n{out}");
    }
}

#[test]
fn cluster_info_reports_the_live_shard_count() {
    let temporal = TemporalDevServer::start();
    let ws = Workspace::new(
        Version::V1_15_5,
        &config(
            &temporal.address,
            r#"
data "engram_temporal_cluster_info" "live" {}
output "shards" { value = data.engram_temporal_cluster_info.live.history_shard_count }
output "version" { value = data.engram_temporal_cluster_info.live.server_version }
"#,
        ),
    );
    ws.apply();
    let out = ws.outputs();
    // The dev server runs with a single history shard.
    assert_eq!(out["shards"], 1);
    assert!(
        out["version"].as_str().unwrap().starts_with("1."),
        "{}",
        out["version"]
    );
}

#[test]
fn an_unreachable_frontend_is_a_clear_error() {
    let ws = Workspace::new(
        Version::V1_15_5,
        &config(
            "127.0.0.1:1",
            "data \"engram_temporal_cluster_info\" \"live\" {}\n",
        ),
    );
    let run = ws.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1);
    assert!(
        run.all()
            .contains("could not connect to the Temporal frontend at 127.0.0.1:1"),
        "{}",
        run.all()
    );
}

#[test]
fn namespace_smoke_on_terraform_1_0_3() {
    let temporal = TemporalDevServer::start();
    let ws = Workspace::new(Version::V1_0_3, &config(&temporal.address, PAYMENTS));
    ws.apply();
    ws.assert_no_changes();
    let described = temporal.cli(&[
        "operator",
        "namespace",
        "describe",
        "--namespace",
        "payments",
        "--output",
        "json",
    ]);
    assert!(described.contains("Payment workflows"), "{described}");
}

/// A frontend with authorization on refuses the provider without a token and admits it with
/// `api_key` or `TEMPORAL_API_KEY`; the key reaches neither the state nor the plan nor the logs.
#[test]
fn a_frontend_with_authorization_on_is_called_with_the_api_key() {
    const KEY: &str = "eyJhbGciOiJSUzI1NiJ9.api-key-5512.signature";
    let temporal = TemporalDevServer::start();
    let front = AuthorizingFrontend::start(&temporal.address, KEY);
    let resources = format!(
        "{PAYMENTS}\ndata \"engram_temporal_cluster_info\" \"live\" {{}}\noutput \"shards\" {{ value = data.engram_temporal_cluster_info.live.history_shard_count }}\n"
    );

    let ws = Workspace::new(Version::V1_15_5, &config(&front.address, &resources));
    let refused = ws.run(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    let text = refused.words();
    assert!(
        text.contains("Temporal GetClusterInfo failed")
            && text.contains("does not have permission")
            && text.contains("Request unauthorized."),
        "{text}"
    );
    assert!(
        text.contains(
            "(`api_key` in the provider's `temporal` block, or TEMPORAL_API_KEY for the provider and `engram evidence`)"
        ),
        "{text}"
    );
    assert!(front.refused() > 0);

    // The key in the provider block, from a variable as a secret would come.
    let with_key = config_with_temporal(
        &format!(
            "address = \"{}\"\n    api_key = var.temporal_api_key",
            front.address
        ),
        &resources,
    ) + "variable \"temporal_api_key\" {\n  type      = string\n  sensitive = true\n}\n";
    ws.write_config(&with_key);
    ws.set_env("TF_VAR_temporal_api_key", KEY);
    ws.set_env("TF_LOG", "DEBUG");
    let applied = ws.apply();
    assert!(
        applied.all().contains("temporal.api_key over plain TCP"),
        "a key without TLS is warned about: {}",
        applied.all()
    );
    assert_eq!(ws.outputs()["shards"], 1);
    assert!(front.passed() > 0, "the calls went through the front");
    ws.assert_no_changes();
    let state = ws.file("terraform.tfstate");
    for (what, text) in [
        ("state", state.as_str()),
        ("apply output and logs", &applied.all()),
    ] {
        assert!(!text.contains("api-key-5512"), "the key is in the {what}");
    }
    let described = temporal.cli(&[
        "operator",
        "namespace",
        "describe",
        "--namespace",
        "payments",
    ]);
    assert!(described.contains("Payment workflows"), "{described}");

    // The same from the environment, as the Temporal CLI reads it.
    ws.write_config(&config(&front.address, &resources));
    ws.set_env("TF_VAR_temporal_api_key", "");
    ws.set_env("TEMPORAL_API_KEY", KEY);
    ws.assert_no_changes();

    // A wrong key is refused on the first call, with the same advice.
    ws.set_env("TEMPORAL_API_KEY", "not-the-key");
    let wrong = ws.run(&["plan", "-no-color"]);
    assert_eq!(wrong.code, 1, "{}", wrong.all());
    let text = wrong.words();
    assert!(
        text.contains("Temporal GetSystemInfo failed")
            && text.contains("`api_key` in the provider's `temporal` block"),
        "{text}"
    );
    assert!(!text.contains("not-the-key"), "the key is not echoed");
}

/// A frontend that requires a client certificate (mutual TLS, as Temporal's frontend with
/// `requireClientAuth`): the provider's `client_certificate`/`client_key` get it through, and
/// without them the handshake is refused with an error naming the address. The key is in
/// neither the state nor the output.
#[test]
fn a_frontend_requiring_client_certificates_admits_the_provider_with_one() {
    use rustls::pki_types::pem::PemObject as _;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let temporal = TemporalDevServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca_pem) = crate::codec_server_common::tls_files(dir.path());
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .unwrap();
    let chain = rustls::pki_types::CertificateDer::pem_file_iter(&cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            chain,
            rustls::pki_types::PrivateKeyDer::from_pem_file(&key).unwrap(),
        )
        .unwrap();
    let frontend = crate::frontends::tls_listener(temporal.address.clone(), config);

    let pem = |path: &std::path::Path| std::fs::read_to_string(path).unwrap();
    let block = |client: bool| {
        let mut block =
            format!("address        = \"{frontend}\"\n    ca_certificate = <<EOT\n{ca_pem}EOT\n");
        if client {
            block.push_str(&format!(
                "    client_certificate = <<EOT\n{}EOT\n    client_key = <<EOT\n{}EOT\n",
                pem(&cert),
                pem(&key)
            ));
        }
        config_with_temporal(&block, PAYMENTS)
    };
    let ws = Workspace::new(Version::V1_15_5, &block(false));
    let refused = ws.run(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused.all().contains(&format!(
            "could not connect to the Temporal frontend at {frontend}"
        )),
        "{}",
        refused.all()
    );

    ws.write_config(&block(true));
    let applied = ws.apply();
    ws.assert_no_changes();
    let described = temporal.cli(&[
        "operator",
        "namespace",
        "describe",
        "--namespace",
        "payments",
    ]);
    assert!(described.contains("Payment workflows"), "{described}");
    let key_body: String = pem(&key)
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let state = ws.file("terraform.tfstate");
    for text in [&state, &applied.all()] {
        assert!(!text.contains(&key_body[..40]), "the client key leaked");
    }
}

/// [`config`] with the `temporal` block's body given whole.
fn config_with_temporal(block: &str, resources: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    engram = {{ source = "engram/engram" }}
  }}
}}
provider "engram" {{
  temporal {{
    {block}
  }}
}}
{resources}
"#
    )
}
