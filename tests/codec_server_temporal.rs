//! The codec server with real Temporal tools: a Python worker (examples/workers/python) encrypts
//! through OpenBao Transit; `temporal workflow show` without a codec shows only ciphertext, and
//! with `--codec-endpoint` pointing at `engram codec-server` shows the plaintext input.

mod codec_common;
mod codec_server_common;
#[path = "support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codec_common::openbao::{OpenBao, ROOT_TOKEN};
use codec_server_common::Child;
use engram::codec::KeyId;
use support::{ServerProcess, TemporalDevServer, free_port, repo_root, tool, wait_for_port};

fn worker(address: &str, keyring: &std::path::Path, vault: &str) -> Command {
    let mut command = Command::new(tool("worker-python"));
    command
        .current_dir(repo_root().join("examples/workers/python"))
        .env("VAULT_TOKEN", ROOT_TOKEN)
        .arg("worker.py");
    command
        .args(["--address", address, "--vault-addr", vault, "--keyring"])
        .arg(keyring);
    command
}

fn show(address: &str, workflow_id: &str, codec: Option<&str>) -> String {
    let mut command = Command::new(tool("temporal"));
    command.args([
        "workflow",
        "show",
        "--address",
        address,
        "--workflow-id",
        workflow_id,
    ]);
    if let Some(endpoint) = codec {
        command.args(["--codec-endpoint", endpoint]);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "temporal workflow show: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporal_cli_shows_plaintext_only_through_the_codec_server() {
    let bao = OpenBao::start().await;
    bao.create_key("engram").await;
    let transit = bao.transit("engram");
    let document = engram::codec::lifecycle::create(
        KeyId::new("default").unwrap(),
        &engram::codec::lifecycle::LifecyclePolicy::DEFAULT,
        &transit,
        engram::codec::clock::now_unix(),
        None,
    )
    .await
    .unwrap()
    .document;
    let dir = support::temp_dir("engram-codec-server-temporal");
    let keyring = dir.path().join("keyring.json");
    std::fs::write(&keyring, document.to_json()).unwrap();

    let temporal = TemporalDevServer::start();
    let address = temporal.address.clone();

    let codec_port = free_port();
    let codec = Command::new(env!("CARGO_BIN_EXE_engram"))
        .args([
            "codec-server",
            "--insecure-no-auth",
            "--kms",
            "vault",
            "--vault-key",
            "engram",
        ])
        .args([
            "--vault-addr",
            &bao.address,
            "--listen",
            &format!("127.0.0.1:{codec_port}"),
        ])
        .arg("--keyring")
        .arg(&keyring)
        .env("VAULT_TOKEN", ROOT_TOKEN)
        // The server refuses a stdout that would lose its audit lines.
        .stdout(std::fs::File::create(dir.path().join("audit.jsonl")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _codec = Child(codec);
    wait_for_port(codec_port, Duration::from_secs(20), "engram codec-server");
    // Listening comes before the keyring is unwrapped; decoding needs it ready.
    support::wait_for_http_ok(
        codec_port,
        "/readyz",
        Duration::from_secs(30),
        "engram codec-server",
    );

    let mut running = worker(&address, &keyring, &bao.address);
    running.arg("worker").stdout(Stdio::null());
    let _worker = ServerProcess::spawn("python worker", running);
    let secret = "CliSecret-5500-0000";
    let output = worker(&address, &keyring, &bao.address)
        .args(["execute", "--workflow-id", "cli-proof", "--input", secret])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python client: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let without = loop {
        let text = show(&address, "cli-proof", None);
        if text.contains("Completed") || text.contains("COMPLETED") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        !without.contains(secret),
        "plaintext without a codec:\n{without}"
    );
    let with = show(
        &address,
        "cli-proof",
        Some(&format!("http://127.0.0.1:{codec_port}")),
    );
    assert!(
        with.contains(secret),
        "no plaintext through the codec server:\n{with}"
    );
    assert!(with.contains(&format!("Hello, {secret}!")), "{with}");
}
