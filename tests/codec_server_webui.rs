//! The codec server with Temporal's Web UI (2.54, served by `temporal server start-dev`) in
//! headless Debian Chromium: a Python worker (examples/workers/python) encrypts a workflow's input
//! through OpenBao Transit; the UI, configured with `--ui-codec-endpoint`, has the browser send
//! the payloads to `engram codec-server`, and the rendered workflow page shows the plaintext.
//!
//! The browser calls the codec server itself (a cross-origin `fetch` from the UI's page), so this
//! also proves the CORS answer for the UI's exact origin. The UI sends access tokens only to
//! https endpoints, so this test runs the codec server over plain http on 127.0.0.1 with
//! `--insecure-no-auth` and no token; token checks are covered by `codec_server_jwt.rs`.
//!
//! A screenshot of the page is kept at `target/test-artifacts/codec-server-webui.png`.

mod codec_common;
mod codec_server_common;
#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use codec_common::openbao::{OpenBao, ROOT_TOKEN};
use codec_server_common::Child;
use engram::codec::KeyId;
use serde_json::Value;
use support::{
    DevServerOptions, ServerProcess, TemporalDevServer, free_port, repo_root, tool, wait_for_port,
};

/// Debian's Chromium, as `scripts/tools/chromium` installs it.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The metadata encoding of an encrypted payload; the decoded page must not show it.
const CIPHERTEXT_MARKER: &str = "binary/encrypted";

/// Chromium's path; panics with the install command when it is missing, so the test never
/// passes without a browser.
fn chromium() -> PathBuf {
    let path = PathBuf::from(CHROMIUM);
    assert!(
        path.exists(),
        "Chromium is not installed at {CHROMIUM}; run `scripts/tools/chromium` \
         (it runs `apt-get install chromium wrk fonts-dejavu-core`)"
    );
    path
}

/// A headless Chromium with a fresh profile in `profile`, nothing running in the background, that
/// loads `url` and lets the page run for `budget_ms` of virtual time (the budget ends early when
/// the page is idle, and waits while requests are in flight).
fn browser(profile: &Path, budget_ms: u32) -> Command {
    let mut command = Command::new(chromium());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1440,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Runs `command`, killing it if it takes longer than two minutes; panics unless it succeeds.
fn run_bounded(what: &str, mut command: Command) {
    let mut child = Child(
        command
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {what}: {e}")),
    );
    let status = child
        .wait_timeout(Duration::from_secs(120))
        .unwrap_or_else(|| panic!("{what} did not finish within two minutes"));
    assert!(status.success(), "{what} failed with {status}");
}

/// The rendered DOM of `url` after the page settled, through `--dump-dom`.
fn rendered_dom(dir: &Path, url: &str, budget_ms: u32) -> String {
    let out = dir.join("dom.html");
    let profile = tempfile::Builder::new()
        .prefix("chromium-profile")
        .tempdir_in(dir)
        .unwrap();
    let mut command = browser(profile.path(), budget_ms);
    command
        .arg("--dump-dom")
        .arg(url)
        .stdout(std::fs::File::create(&out).unwrap());
    run_bounded("chromium --dump-dom", command);
    support::read(&out)
}

/// A PNG of `url` after the page settled, written to `png`.
fn screenshot(dir: &Path, url: &str, png: &Path) {
    let profile = tempfile::Builder::new()
        .prefix("chromium-profile")
        .tempdir_in(dir)
        .unwrap();
    let mut command = browser(profile.path(), 10_000);
    command
        .arg(format!("--screenshot={}", png.display()))
        .arg(url)
        .stdout(Stdio::null());
    run_bounded("chromium --screenshot", command);
    assert!(png.exists(), "no screenshot at {}", png.display());
}

fn worker(address: &str, keyring: &Path, vault: &str) -> Command {
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

/// The run id of the latest run of `workflow_id`.
fn run_id(address: &str, workflow_id: &str) -> String {
    let output = Command::new(tool("temporal"))
        .args(["workflow", "describe", "--output", "json", "--address"])
        .args([address, "--workflow-id", workflow_id])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "temporal workflow describe: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let described: Value = serde_json::from_slice(&output.stdout).unwrap();
    described["workflowExecutionInfo"]["execution"]["runId"]
        .as_str()
        .unwrap_or_else(|| panic!("no run id in {described}"))
        .to_string()
}

/// The audit lines the codec server wrote so far.
fn audit_lines(path: &Path) -> Vec<Value> {
    support::read(path)
        .lines()
        .map(|line| serde_json::from_str(line).expect("audit line is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ui_in_chromium_shows_the_input_decoded_by_the_codec_server() {
    chromium();
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
    let primary = document.keys.last().unwrap().id.as_str().to_string();
    let dir = support::temp_dir("engram-codec-server-webui");
    let keyring = dir.path().join("keyring.json");
    std::fs::write(&keyring, document.to_json()).unwrap();

    let (ui_port, codec_port) = (free_port(), free_port());
    let ui_origin = format!("http://127.0.0.1:{ui_port}");
    let endpoint = format!("http://127.0.0.1:{codec_port}");

    // No token: the Web UI passes access tokens only to https codec endpoints.
    let audit = dir.path().join("audit.jsonl");
    let codec = Command::new(env!("CARGO_BIN_EXE_engram"))
        .args([
            "codec-server",
            "--insecure-no-auth",
            "--kms",
            "vault",
            "--vault-key",
            "engram",
        ])
        .args(["--vault-addr", &bao.address, "--cors-origin", &ui_origin])
        .args(["--listen", &format!("127.0.0.1:{codec_port}")])
        .arg("--keyring")
        .arg(&keyring)
        .env("VAULT_TOKEN", ROOT_TOKEN)
        .stdout(std::fs::File::create(&audit).unwrap())
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

    let temporal = TemporalDevServer::start_with(DevServerOptions {
        web_ui: true,
        ui_port: Some(ui_port),
        ui_codec_endpoint: Some(endpoint.clone()),
        ..DevServerOptions::default()
    });
    let address = temporal.address.clone();

    let mut running = worker(&address, &keyring, &bao.address);
    running.arg("worker").stdout(Stdio::null());
    let _worker = ServerProcess::spawn("python worker", running);
    let secret = "WebUiSecret-5500-0000";
    let output = worker(&address, &keyring, &bao.address)
        .args(["execute", "--workflow-id", "webui-proof", "--input", secret])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python client: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let run = run_id(&address, "webui-proof");
    let page = format!("{ui_origin}/namespaces/default/workflows/webui-proof/{run}/history");
    // A loaded machine may not finish rendering within the first budget; give it more each time.
    let mut dom = String::new();
    for budget_ms in [10_000, 20_000, 40_000] {
        dom = rendered_dom(dir.path(), &page, budget_ms);
        if dom.contains(secret) {
            break;
        }
    }
    assert!(
        dom.contains(&format!("\"{secret}\"")),
        "the workflow page does not show the decoded input; rendered DOM:\n{dom}"
    );
    assert!(
        dom.contains(&format!("Hello, {secret}!")),
        "the workflow page does not show the decoded result"
    );
    assert!(
        !dom.contains(CIPHERTEXT_MARKER),
        "the workflow page still shows an encrypted payload"
    );

    // Only the browser calls the codec server in this test, so every decode line is the UI's.
    let decodes: Vec<Value> = audit_lines(&audit)
        .into_iter()
        .filter(|line| line["operation"] == "decode")
        .collect();
    assert!(!decodes.is_empty(), "no decode in the audit log");
    let decoded = decodes
        .iter()
        .find(|line| {
            line["key_ids"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|id| id == primary.as_str()))
        })
        .unwrap_or_else(|| panic!("no audited decode names key `{primary}`: {decodes:?}"));
    assert_eq!(decoded["outcome"], "ok", "{decoded}");
    assert_eq!(decoded["namespace"], "default", "{decoded}");
    assert_eq!(decoded["insecure_no_auth"], true, "{decoded}");
    assert!(
        decoded["client"]
            .as_str()
            .is_some_and(|client| client.starts_with("127.0.0.1:")),
        "{decoded}"
    );
    assert!(
        !support::read(&audit).contains(secret),
        "an audit line holds payload content"
    );

    // The browser's requests carried the UI's origin, and the codec server allows exactly it.
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{endpoint}/decode"))
        .header("Origin", &ui_origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type,x-namespace")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        ui_origin.as_str()
    );

    let artifacts = repo_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    screenshot(dir.path(), &page, &artifacts.join("codec-server-webui.png"));
}
