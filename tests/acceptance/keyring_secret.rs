//! `engram_keyring_secret`: a binding's keyring written into two worker namespaces (a development
//! key file stands in for the KMS), applied to the Kubernetes API test server, or to the real
//! cluster that `ENGRAM_TEST_REAL_CLUSTER=1` with `KUBECONFIG` selects. A second plan is empty; a
//! rotation updates both Secrets in place; a person's edit and a deletion show in the plan and
//! apply repairs them; import gives an empty plan; a name another owner holds is refused; an
//! invalid keyring is a plan error on `keyring`.

use crate::terraform::{Version, Workspace, keyring_as_variable, keyring_tfvars};
use base64::Engine as _;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube_api::TestCluster;
use serde_json::json;

const PAYMENTS: &str = "payments-workers";
const ORDERS: &str = "orders-workers";

async fn cluster() -> TestCluster {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    TestCluster::from_env_or_start()
        .await
        .expect("start kube-api or reach the real cluster")
}

async fn client(cluster: &TestCluster) -> kube::Client {
    let file = kube::config::Kubeconfig::read_from(cluster.kubeconfig_path()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Workers' namespaces exist before their Secrets (on a real cluster they may already).
async fn create_namespaces(kube: &kube::Client, names: &[&str]) {
    let namespaces: Api<Namespace> = Api::all(kube.clone());
    for name in names {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        match namespaces.create(&PostParams::default(), &ns).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => panic!("create namespace {name}: {e}"),
        }
    }
}

fn config(cluster: &TestCluster, key_file: &str, name: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    engram = {{ source = "engram/engram" }}
  }}
}}
provider "engram" {{
  default_namespace = "{PAYMENTS}"
  kubernetes {{
    config_path = "{}"
  }}
}}
resource "engram_cmk_binding" "payloads" {{
  scope               = "payloads"
  deletion_protection = false
  local {{
    key_file = "{key_file}"
  }}
}}
resource "engram_keyring_secret" "payments" {{
  name    = "{name}"
  keyring = engram_cmk_binding.payloads.keyring
}}
resource "engram_keyring_secret" "orders" {{
  name      = "{name}"
  namespace = "{ORDERS}"
  keyring   = engram_cmk_binding.payloads.keyring
}}
output "payments_id" {{ value = engram_keyring_secret.payments.id }}
output "orders_id" {{ value = engram_keyring_secret.orders.id }}
"#,
        cluster.kubeconfig_path().display()
    )
}

async fn keyring_in(kube: &kube::Client, namespace: &str, name: &str) -> Option<String> {
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), namespace);
    let secret = secrets.get_opt(name).await.unwrap()?;
    let data = secret.data.unwrap_or_default();
    let keys: Vec<&String> = data.keys().collect();
    assert_eq!(keys, ["keyring.json"], "the Secret holds the keyring only");
    Some(String::from_utf8(data["keyring.json"].0.clone()).unwrap())
}

fn binding_keyring(ws: &Workspace) -> String {
    ws.resource("engram_cmk_binding")["keyring"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A development key file and a workspace (not yet applied) writing the binding's keyring into
/// both worker namespaces as Secret `name` (each test its own, so that on a real cluster tests
/// running at once do not meet).
fn workspace(
    cluster: &TestCluster,
    version: Version,
    key_byte: u8,
    name: &str,
) -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("dev.key");
    std::fs::write(
        &key_file,
        base64::engine::general_purpose::STANDARD.encode([key_byte; 32]),
    )
    .unwrap();
    let ws = Workspace::new(
        version,
        &config(cluster, &key_file.display().to_string(), name),
    );
    (dir, ws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyring_reaches_every_worker_namespace_and_follows_rotation_drift_and_import() {
    let cluster = cluster().await;
    let kube = client(&cluster).await;
    create_namespaces(&kube, &[PAYMENTS, ORDERS]).await;
    const NAME: &str = "engram-keyring";
    let (_dir, ws) = workspace(&cluster, Version::V1_15_5, 11, NAME);

    let plan = ws.ok(&["plan", "-no-color", "-input=false"]);
    assert!(
        plan.stdout.contains(&format!("\"{PAYMENTS}/{NAME}\"")),
        "the id is known at plan:\n{}",
        plan.stdout
    );
    ws.apply();
    let out = ws.outputs();
    assert_eq!(out["payments_id"], format!("{PAYMENTS}/{NAME}"));
    assert_eq!(out["orders_id"], format!("{ORDERS}/{NAME}"));
    let first = binding_keyring(&ws);
    for namespace in [PAYMENTS, ORDERS] {
        assert_eq!(
            keyring_in(&kube, namespace, NAME).await.as_deref(),
            Some(&*first)
        );
    }
    // State holds the wrapped keyring and nothing else of the Secret.
    let attributes = ws.resource("engram_keyring_secret");
    let mut names: Vec<&String> = attributes.as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(
        names,
        ["drift", "id", "keyring", "name", "namespace", "timeouts"]
    );
    assert_eq!(attributes["keyring"], first.as_str());
    ws.assert_no_changes();

    // A rotation changes the keyring: both Secrets are updated in place, not replaced.
    ws.set_env("ENGRAM_NOW", "2099-01-01T00:00:00Z");
    let plan = ws.plan_exit_code();
    assert_eq!(plan.code, 2, "{}", plan.all());
    for resource in ["payments", "orders"] {
        assert!(
            plan.stdout.contains(&format!(
                "engram_keyring_secret.{resource} will be updated in-place"
            )),
            "{}",
            plan.stdout
        );
    }
    assert!(!plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    ws.apply();
    let rotated = binding_keyring(&ws);
    assert_ne!(rotated, first, "the apply rotated the data key");
    for namespace in [PAYMENTS, ORDERS] {
        assert_eq!(
            keyring_in(&kube, namespace, NAME).await.as_deref(),
            Some(&*rotated)
        );
    }
    // The new key is pending for the binding's activation delay (an hour by default); once it
    // has activated the binding records that and plans nothing more.
    ws.set_env("ENGRAM_NOW", "2099-01-01T02:00:00Z");
    ws.apply();
    let rotated = binding_keyring(&ws);
    for namespace in [PAYMENTS, ORDERS] {
        assert_eq!(
            keyring_in(&kube, namespace, NAME).await.as_deref(),
            Some(&*rotated)
        );
    }
    ws.assert_no_changes();

    // A person overwrites the keyring in one Secret and deletes the other: the plan shows both,
    // apply repairs both.
    let secrets = |namespace: &str| -> Api<Secret> { Api::namespaced(kube.clone(), namespace) };
    let person = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..PatchParams::default()
    };
    let stale = base64::engine::general_purpose::STANDARD.encode(first.as_bytes());
    secrets(PAYMENTS)
        .patch(
            NAME,
            &person,
            &Patch::Merge(json!({"data": {"keyring.json": stale}})),
        )
        .await
        .unwrap();
    secrets(ORDERS)
        .delete(NAME, &DeleteParams::default())
        .await
        .unwrap();
    let plan = ws.plan_exit_code();
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert!(
        plan.stdout
            .contains(&format!("Secret {PAYMENTS}/{NAME}: data.keyring.json is")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("engram_keyring_secret.payments will be updated in-place"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("engram_keyring_secret.orders will be created"),
        "a deleted Secret is created again:\n{}",
        plan.stdout
    );
    ws.apply();
    for namespace in [PAYMENTS, ORDERS] {
        assert_eq!(
            keyring_in(&kube, namespace, NAME).await.as_deref(),
            Some(&*rotated)
        );
    }
    ws.assert_no_changes();

    // Import into a fresh state, each Secret by NAMESPACE/NAME: with the same keyring
    // configured, nothing is planned. (The keyring is given as a variable here, so the plan
    // checks these two resources alone.)
    let fresh = Workspace::new(
        Version::V1_15_5,
        &keyring_as_variable(&ws.config(), "payloads"),
    );
    fresh.set_vars(&keyring_tfvars(&rotated));
    for (resource, namespace) in [("payments", PAYMENTS), ("orders", ORDERS)] {
        fresh.ok(&[
            "import",
            "-no-color",
            &format!("engram_keyring_secret.{resource}"),
            &format!("{namespace}/{NAME}"),
        ]);
    }
    let imported = fresh.state();
    let secret_states: Vec<&serde_json::Value> = imported["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "engram_keyring_secret")
        .map(|r| &r["instances"][0]["attributes"])
        .collect();
    assert_eq!(secret_states.len(), 2);
    for attributes in secret_states {
        assert_eq!(attributes["keyring"], rotated.as_str());
        assert_eq!(attributes["name"], NAME);
        assert_eq!(attributes["drift"], json!([]));
    }
    fresh.assert_no_changes();

    // A binding can be imported from a worker namespace's Secret as from the codec server's.
    let adopting = Workspace::new(Version::V1_15_5, &ws.config());
    adopting.set_env("ENGRAM_NOW", "2099-01-01T02:00:00Z");
    adopting.ok(&[
        "import",
        "-no-color",
        "engram_cmk_binding.payloads",
        &format!("secret:{ORDERS}/{NAME}"),
    ]);
    assert_eq!(binding_keyring(&adopting), rotated);

    let refused = fresh.run(&[
        "import",
        "-no-color",
        "engram_keyring_secret.payments",
        PAYMENTS,
    ]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused.all().contains("NAMESPACE/NAME"),
        "{}",
        refused.all()
    );

    // Destroy removes both Secrets.
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    for namespace in [PAYMENTS, ORDERS] {
        assert_eq!(
            keyring_in(&kube, namespace, NAME).await,
            None,
            "{namespace}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_someone_else_holds_is_refused_and_left_alone() {
    let cluster = cluster().await;
    let kube = client(&cluster).await;
    create_namespaces(&kube, &[PAYMENTS, ORDERS]).await;
    const NAME: &str = "team-keyring";
    // A Secret of the same name that engram did not make (a team's own, or another tool's).
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), ORDERS);
    let theirs: Secret = serde_json::from_value(json!({
        "metadata": {"name": NAME, "labels": {"team": "orders"}},
        "type": "Opaque",
        "stringData": {"keyring.json": "{\"theirs\": true}"}
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();

    let (_dir, ws) = workspace(&cluster, Version::V1_15_5, 12, NAME);
    let run = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let out = run.all();
    assert!(
        out.contains(&format!("Secret {ORDERS}/{NAME} already exists")),
        "{out}"
    );
    assert!(out.contains("something other than engram"), "{out}");
    let live = secrets.get(NAME).await.unwrap();
    assert_eq!(
        live.data.unwrap()["keyring.json"].0,
        b"{\"theirs\": true}",
        "their Secret is untouched"
    );
    assert!(
        ws.state()["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"] != "orders"),
        "nothing was created for it"
    );
    // The other namespace's Secret was created; destroy removes it and leaves theirs.
    assert!(keyring_in(&kube, PAYMENTS, NAME).await.is_some());
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(keyring_in(&kube, PAYMENTS, NAME).await, None);
    assert!(secrets.get_opt(NAME).await.unwrap().is_some());
    secrets
        .delete(NAME, &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyring_secret_smoke_on_terraform_1_0_3() {
    let cluster = cluster().await;
    let kube = client(&cluster).await;
    create_namespaces(&kube, &[PAYMENTS, ORDERS]).await;
    const NAME: &str = "smoke-keyring";
    let (_dir, ws) = workspace(&cluster, Version::V1_0_3, 13, NAME);
    ws.apply();
    ws.assert_no_changes();
    let keyring = binding_keyring(&ws);
    for namespace in [PAYMENTS, ORDERS] {
        assert_eq!(
            keyring_in(&kube, namespace, NAME).await.as_deref(),
            Some(&*keyring)
        );
    }
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    for namespace in [PAYMENTS, ORDERS] {
        assert_eq!(keyring_in(&kube, namespace, NAME).await, None);
    }
}

#[test]
fn an_invalid_keyring_or_name_is_a_plan_error_on_its_attribute() {
    let ws = Workspace::new(
        Version::V1_15_5,
        r#"
terraform {
  required_providers {
    engram = { source = "engram/engram" }
  }
}
provider "engram" {}
resource "engram_keyring_secret" "bad" {
  name      = "Engram_Keyring"
  namespace = "payments-workers"
  keyring   = "{\"format\":\"engram-keyring/v9\",\"keys\":[]}"
}
"#,
    );
    let run = ws.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let out = run.all();
    assert!(out.contains("Error: Invalid keyring"), "{out}");
    assert!(
        out.contains("in resource \"engram_keyring_secret\" \"bad\":")
            && out.contains("keyring   = "),
        "the error points at the keyring attribute:\n{out}"
    );
    assert!(out.contains("engram_cmk_binding.<name>.keyring"), "{out}");
    assert!(out.contains("Error: Invalid name"), "{out}");
}
