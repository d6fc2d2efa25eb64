//! `engram evidence` over a whole clean system, every control passing, then each control turned
//! to fail by one real change. The parts: `temporal server start-dev` behind a TLS listener, the
//! Python worker (examples/workers/python) sealing every payload under an OpenBao Transit key,
//! the `engram codec-server` binary over TLS checking tokens from an issuer, the Temporal CLI
//! reading a history through it, and the production example applied to the Kubernetes API test
//! server for the facts read from live objects.
//!
//! Stand-ins, said plainly: the dev server has no TLS settings, so a TLS 1.2/1.3 listener
//! (tests/support/frontends.rs) in front of its frontend presents the certificate a TLS
//! frontend would;
//! Kubernetes cannot run here, so deployment isolation, internode mutual TLS, database TLS and
//! the authorizer are read from the test server's live objects, not from the servers that hold
//! the histories.

mod codec_common;
mod codec_server_common;
mod deploy_common;
#[path = "support/frontends.rs"]
mod frontends;
#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codec_common::openbao::{OpenBao, ROOT_TOKEN};
use codec_server_common::issuer::{Issuer, Signer};
use codec_server_common::{Child, rustls_server, tls_files};
use engram::codec::{CustomerKeyLocation, KeyId};
use engram::evidence::{Report, Status, verify};
use support::{ServerProcess, TemporalDevServer, free_port, repo_root, tool};

const ISSUER: &str = "https://idp.test";
const AUDIENCE: &str = "engram-codec";
const SECRET_INPUT: &str = "CleanSystemSecret-2291";

/// The ids of the controls that did not pass, with what they observed, for failure messages.
fn not_passing(report: &Report) -> Vec<(String, Vec<String>)> {
    report
        .controls
        .iter()
        .filter(|c| c.status != Status::Pass)
        .map(|c| {
            let facts = c
                .facts
                .iter()
                .filter(|f| !f.holds)
                .map(|f| f.observed.clone())
                .collect();
            (format!("{} ({:?}): {}", c.id, c.status, c.summary), facts)
        })
        .collect()
}

/// The Python worker's command line against the TLS frontend.
fn worker(frontend: &str, ca: &Path, keyring: &Path, vault: &str) -> Command {
    let mut command = Command::new(tool("worker-python"));
    command
        .current_dir(repo_root().join("examples/workers/python"))
        .env("VAULT_TOKEN", ROOT_TOKEN)
        .arg("worker.py")
        .args(["--address", frontend, "--tls-ca"])
        .arg(ca)
        .args(["--vault-addr", vault, "--vault-key", "engram", "--keyring"])
        .arg(keyring);
    command
}

/// The Temporal CLI against the TLS frontend, trusting `ca` for the codec server too (Go reads
/// SSL_CERT_FILE for its roots).
fn temporal_cli(frontend: &str, ca: &Path, args: &[&str]) -> String {
    let output = Command::new(tool("temporal"))
        .args(args)
        .args(["--address", frontend, "--tls-ca-path"])
        .arg(ca)
        .env("SSL_CERT_FILE", ca)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "temporal {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `engram evidence` with every input, the keyring read from `keyring`; the report and the
/// exit code.
fn evidence(system: &System, keyring: &Path, out: &Path) -> (Report, Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_engram"))
        .args(["evidence", "--temporal-address", &system.frontend])
        .arg("--temporal-tls")
        .arg("--ca-file")
        .arg(&system.ca)
        .args(["--namespace", "default", "--keyring"])
        .arg(keyring)
        .args(["--codec-url", &system.codec_url, "--audit-log"])
        .arg(&system.audit)
        .args(["--probe-namespace", "default", "--describe-customer-key"])
        .args([
            "--temporal-cluster",
            "prod",
            "--kube-namespace",
            "temporal-prod",
        ])
        .arg("--kubeconfig")
        .arg(&system.kubeconfig)
        .arg("--out")
        .arg(out)
        .env("ENGRAM_EVIDENCE_PROBE_TOKEN", &system.stranger_token)
        .env("VAULT_TOKEN", ROOT_TOKEN)
        .output()
        .unwrap();
    let stdout = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let json = std::fs::read_to_string(out.join("report.json"))
        .unwrap_or_else(|e| panic!("no report.json ({e}): {stdout}"));
    assert!(verify(&json).unwrap(), "the report's sha256 verifies");
    for text in [
        json.clone(),
        std::fs::read_to_string(out.join("report.md")).unwrap(),
        std::fs::read_to_string(out.join("report.html")).unwrap(),
    ] {
        for secret in [
            SECRET_INPUT,
            ROOT_TOKEN,
            &system.stranger_token,
            &system.reader_token,
        ] {
            assert!(!text.contains(secret), "a secret reached the report");
        }
    }
    (
        serde_json::from_str(&json).unwrap(),
        output.status.code(),
        stdout,
    )
}

/// What the evidence command is pointed at.
struct System {
    frontend: String,
    ca: std::path::PathBuf,
    codec_url: String,
    audit: std::path::PathBuf,
    kubeconfig: std::path::PathBuf,
    stranger_token: String,
    reader_token: String,
}

/// Waits until the codec server over TLS reports every keyring unwrapped.
async fn wait_ready(client: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(answer) = client.get(format!("{url}/readyz")).send().await
            && answer.status() == 200
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the codec server never got ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_system_passes_every_control_and_each_weakening_fails_its_own() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = support::temp_dir("engram-evidence-clean");
    let (cert, key, ca_pem) = tls_files(dir.path());
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &ca_pem).unwrap();

    // The customer key in OpenBao Transit and a keyring that names it, as engram_cmk_binding
    // writes one.
    let bao = OpenBao::start().await;
    bao.create_key("engram").await;
    let mut document = engram::codec::lifecycle::create(
        KeyId::new("default").unwrap(),
        &engram::codec::lifecycle::LifecyclePolicy::DEFAULT,
        &bao.transit("engram"),
        engram::codec::clock::now_unix(),
        None,
    )
    .await
    .unwrap()
    .document;
    document.customer_key = Some(CustomerKeyLocation {
        backend: "vault_transit".into(),
        settings: [
            ("address", bao.address.as_str()),
            ("mount", "transit"),
            ("key_name", "engram"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    });
    let keyring = dir.path().join("keyring.json");
    std::fs::write(&keyring, document.to_json()).unwrap();

    // The Kubernetes side, as the production example deploys it.
    let (kube, _client) = deploy_common::applied_example("production").await;

    // Temporal with a TLS frontend.
    let temporal = TemporalDevServer::start();
    let frontend = frontends::tls_listener(temporal.address.clone(), rustls_server(&cert, &key));

    // The codec server, checking tokens from an issuer over TLS.
    let signer = Signer::new("key-1");
    let issuer =
        Issuer::start_with(vec![signer.jwk.clone()], Some(rustls_server(&cert, &key))).await;
    let codec_port = free_port();
    let audit = dir.path().join("audit.jsonl");
    let codec_server = |port: u16, audit: &Path, auth: &[&str]| {
        Child(
            Command::new(env!("CARGO_BIN_EXE_engram"))
                .args(["codec-server", "--kms", "vault", "--vault-key", "engram"])
                .args(["--vault-addr", &bao.address])
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .arg("--keyring")
                .arg(&keyring)
                .arg("--tls-cert")
                .arg(&cert)
                .arg("--tls-key")
                .arg(&key)
                .args(auth)
                .env("VAULT_TOKEN", ROOT_TOKEN)
                .stdout(std::fs::File::create(audit).unwrap())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let jwks_ca = ca.display().to_string();
    let jwks_url = issuer.jwks_url();
    let _codec = codec_server(
        codec_port,
        &audit,
        &[
            "--jwks-url",
            &jwks_url,
            "--jwks-ca-cert",
            &jwks_ca,
            "--jwt-issuer",
            ISSUER,
            "--jwt-audience",
            AUDIENCE,
        ],
    );
    let codec_url = format!("https://127.0.0.1:{codec_port}");
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    wait_ready(&https, &codec_url).await;

    let now = engram::codec::clock::now_unix();
    let token = |sub: &str, permissions: &[&str]| {
        signer.token(serde_json::json!({
            "sub": sub, "iss": ISSUER, "aud": AUDIENCE,
            "exp": now + 900, "iat": now, "permissions": permissions,
        }))
    };
    let mut system = System {
        frontend: frontend.clone(),
        ca: ca.clone(),
        codec_url: codec_url.clone(),
        audit: audit.clone(),
        kubeconfig: kube.kubeconfig_path().to_path_buf(),
        stranger_token: token("mallory", &["orders:admin"]),
        reader_token: token("alice", &["default:read"]),
    };

    // Workflows whose every payload the worker sealed, one of them read back through the codec
    // server by a person allowed to.
    let mut running = worker(&frontend, &ca, &keyring, &bao.address);
    running.arg("worker").stdout(Stdio::null());
    let _worker = ServerProcess::spawn("python worker", running);
    for id in ["order-1", "order-2"] {
        let output = worker(&frontend, &ca, &keyring, &bao.address)
            .args(["execute", "--workflow-id", id, "--input", SECRET_INPUT])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "python client {id}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let bearer = format!("Bearer {}", system.reader_token);
    let shown = temporal_cli(
        &frontend,
        &ca,
        &[
            "workflow",
            "show",
            "--workflow-id",
            "order-1",
            "--codec-endpoint",
            &codec_url,
            "--codec-auth",
            &bearer,
        ],
    );
    assert!(
        shown.contains(&format!("Hello, {SECRET_INPUT}!")),
        "the reader sees the plaintext through the codec server:\n{shown}"
    );

    // Clean: every control passes, and the command says so with exit code 0.
    let (report, code, stdout) = evidence(&system, &keyring, &dir.path().join("clean"));
    assert_eq!(
        not_passing(&report),
        Vec::<(String, Vec<String>)>::new(),
        "{stdout}"
    );
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(report.controls.len(), 7);
    let at_rest = report.control("encryption-at-rest").unwrap();
    assert!(
        at_rest.facts.iter().any(|f| f
            .observed
            .starts_with("namespace `default`: 2 workflows sampled")),
        "{at_rest:#?}"
    );

    // A keyring past its rotation date fails rotation, and only rotation.
    let mut overdue = document.clone();
    for key in &mut overdue.keys {
        key.created_unix_seconds -= 100 * 86_400;
        key.activates_unix_seconds -= 100 * 86_400;
    }
    let overdue_file = dir.path().join("overdue.json");
    std::fs::write(&overdue_file, overdue.to_json()).unwrap();
    let (report, code, _) = evidence(&system, &overdue_file, &dir.path().join("overdue"));
    assert_eq!(
        report.failed().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["key-rotation"]
    );
    assert_eq!(code, Some(1));

    // One payload written by a client without the codec fails encryption at rest, naming the
    // workflow and event, and nothing else.
    temporal_cli(
        &frontend,
        &ca,
        &[
            "workflow",
            "start",
            "--type",
            "Greet",
            "--task-queue",
            "no-worker",
            "--workflow-id",
            "plain-order",
            "--input",
            "\"unsealed\"",
        ],
    );
    let (report, code, _) = evidence(&system, &keyring, &dir.path().join("plaintext"));
    assert_eq!(
        report.failed().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["encryption-at-rest"]
    );
    assert_eq!(code, Some(1));
    let at_rest = report.control("encryption-at-rest").unwrap();
    assert!(
        at_rest.facts.iter().any(|f| !f.holds
            && f.observed.contains("workflow `plain-order`")
            && f.observed.contains("event 1,")),
        "{at_rest:#?}"
    );
    assert!(
        !report.to_json().contains("unsealed"),
        "the plaintext payload's content is not in the report"
    );

    // The same system with a codec server open to anyone (over the same TLS) fails access
    // control too.
    let open_port = free_port();
    system.audit = dir.path().join("open-audit.jsonl");
    let _open = codec_server(open_port, &system.audit, &["--insecure-no-auth"]);
    system.codec_url = format!("https://127.0.0.1:{open_port}");
    wait_ready(&https, &system.codec_url).await;
    let (report, code, _) = evidence(&system, &keyring, &dir.path().join("open"));
    assert_eq!(
        report.failed().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["encryption-at-rest", "access-control"]
    );
    assert_eq!(code, Some(1));
}
