//! The provider block: wrong values are named, and nothing connects when nothing needs to.

use crate::terraform::{Version, Workspace};

fn with_provider(provider_body: &str) -> Workspace {
    Workspace::new(
        Version::V1_15_5,
        &format!(
            r#"
terraform {{
  required_providers {{
    engram = {{ source = "engram/engram" }}
  }}
}}
provider "engram" {{
{provider_body}
}}
data "engram_history_shards" "s" {{
  peak_workflows_per_second = 50
}}
output "count" {{ value = data.engram_history_shards.s.history_shard_count }}
"#
        ),
    )
}

fn plan_fails(ws: &Workspace) -> String {
    let run = ws.run(&["plan", "-no-color", "-input=false"]);
    assert_eq!(run.code, 1, "plan should fail:\n{}", run.all());
    run.all()
}

#[test]
fn data_sources_need_no_cluster_even_when_one_is_configured() {
    // Port 1 on loopback: nothing listens there. Configure must not try.
    let ws = with_provider(
        r#"  kubernetes {
    host  = "https://127.0.0.1:1"
    token = "not-used"
  }
  temporal {
    address = "127.0.0.1:1"
  }"#,
    );
    ws.apply();
    assert_eq!(ws.outputs()["count"], 512);
    ws.assert_no_changes();
}

#[test]
fn kubernetes_host_must_be_a_url() {
    let out = plan_fails(&with_provider(
        "  kubernetes {\n    host = \"10.0.0.1\"\n  }",
    ));
    assert!(out.contains("Invalid kubernetes.host"), "{out}");
    assert!(out.contains("https://HOST:PORT"), "{out}");
}

#[test]
fn kubeconfig_and_host_conflict() {
    let out = plan_fails(&with_provider(
        "  kubernetes {\n    host = \"https://k:6443\"\n    config_path = \"~/.kube/config\"\n  }",
    ));
    assert!(out.contains("Conflicting Kubernetes settings"), "{out}");
}

#[test]
fn temporal_address_needs_a_port() {
    let out = plan_fails(&with_provider(
        "  temporal {\n    address = \"temporal-frontend\"\n  }",
    ));
    assert!(out.contains("Invalid temporal.address"), "{out}");
    assert!(out.contains("host:port"), "{out}");
}

#[test]
fn half_a_client_certificate_is_rejected() {
    let out = plan_fails(&with_provider(
        "  temporal {\n    address = \"t:7233\"\n    client_certificate = \"x\"\n  }",
    ));
    assert!(
        out.contains("Incomplete Temporal client certificate"),
        "{out}"
    );
}

#[test]
fn blank_default_namespace_is_rejected() {
    let out = plan_fails(&with_provider("  default_namespace = \"\""));
    assert!(out.contains("default_namespace"), "{out}");
    assert!(out.contains("must not be empty"), "{out}");
}

#[test]
fn the_kubernetes_token_never_reaches_state() {
    let ws = with_provider(
        "  kubernetes {\n    host = \"https://127.0.0.1:1\"\n    token = \"tok-9f8e7d6c5b4a\"\n  }",
    );
    ws.apply();
    assert!(!ws.file("terraform.tfstate").contains("tok-9f8e7d6c5b4a"));
}

#[test]
fn provider_settings_are_checked_at_plan_one_error_each() {
    let out = plan_fails(&with_provider(
        r#"  default_namespace = "Temporal_Prod"
  kubernetes {
    token = "tok-0a1b2c"
  }
  temporal {
    address        = "https://frontend.example.com:7233"
    ca_certificate = "not a certificate"
  }"#,
    ));
    for expected in [
        "Error: Invalid default_namespace",
        "Error: Token without a host",
        "Error: Invalid temporal.address",
        "Error: Invalid temporal.ca_certificate",
    ] {
        assert_eq!(out.matches(expected).count(), 1, "{expected}:\n{out}");
    }
    assert!(!out.contains("tok-0a1b2c"), "the token is never shown");
}

#[test]
fn import_ids_are_checked_as_ids_first() {
    let ws = Workspace::new(
        Version::V1_15_5,
        r#"
terraform {
  required_providers {
    engram = { source = "engram/engram" }
  }
}
provider "engram" {
  kubernetes {
    host  = "https://127.0.0.1:1"
    token = "x"
  }
}
import {
  to = engram_temporal_cluster.prod
  id = "a/b/c"
}
resource "engram_temporal_cluster" "prod" {
  name                = "prod"
  version             = "1.32.0"
  history_shard_count = 512
  persistence = {
    default    = { host = "h", database = "t", user = "u", password_secret = { name = "s", key = "p" } }
    visibility = { host = "h", database = "v", user = "u", password_secret = { name = "s", key = "p" } }
  }
}
"#,
    );
    let out = plan_fails(&ws);
    assert!(out.contains("Invalid import ID"), "{out}");
    assert!(out.contains("NAMESPACE/NAME"), "{out}");
    assert!(!out.contains("was not found"), "{out}");
    assert!(!out.contains("127.0.0.1:1"), "no request was made:\n{out}");
}

#[test]
fn an_unreachable_api_server_is_named_in_the_error() {
    let port = crate::support::free_port();
    let ws = Workspace::new(
        Version::V1_15_5,
        &format!(
            r#"
terraform {{
  required_providers {{
    engram = {{ source = "engram/engram" }}
  }}
}}
provider "engram" {{
  kubernetes {{
    host  = "https://127.0.0.1:{port}"
    token = "x"
  }}
}}
resource "engram_temporal_cluster" "prod" {{
  name                = "prod"
  version             = "1.32.0"
  history_shard_count = 512
  persistence = {{
    default    = {{ host = "h", database = "t", user = "u", password_secret = {{ name = "s", key = "p" }} }}
    visibility = {{ host = "h", database = "v", user = "u", password_secret = {{ name = "s", key = "p" }} }}
  }}
  timeouts {{
    create = "30s"
  }}
}}
"#
        ),
    );
    let run = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert_ne!(run.code, 0, "{}", run.all());
    let out = run.words();
    assert!(
        out.contains(&format!(
            "the API server at https://127.0.0.1:{port}/ could not be reached"
        )),
        "{out}"
    );
}
