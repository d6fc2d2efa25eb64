//! Keys that no reader can miss, with real parts: `temporal server start-dev`, OpenBao Transit, the
//! `engram codec-server` binary, a Rust worker (the Temporal Rust SDK with engram's
//! `WorkerCodec`) and the Python worker (examples/workers/python), each reloading the keyring
//! from its file. Workflows run continuously on both workers while `terraform apply`, with an
//! injected clock, rotates the data key twice and retires the first key. Every workflow completes,
//! no workflow task fails, and every payload of every history that retention keeps decodes through
//! the codec server. A writer whose keyring stayed stale past its key's seal end refuses to write.
//!
//! The clock: Terraform reads `ENGRAM_NOW`; the codec server and both workers read the same time
//! from the file `ENGRAM_NOW_FILE` names, which the test moves forward. The test copies the
//! binding's keyring into the readers' file after each apply, as the kubelet does for a mounted
//! Secret.

#![allow(unreachable_pub)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use engram::codec::{KeyringDocument, KeyringFile, Namespace, WorkerCodec};
use engram::kms::KeyProvider;
use serde_json::Value;
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, UntypedWorkflow, Url,
    WorkflowGetResultOptions, WorkflowStartOptions,
};
use temporalio_common::data_converters::{
    DataConverter, DefaultFailureConverter, PayloadConverter, RawValue,
};
use temporalio_common::protos::temporal::api::common::v1::Payload as SdkPayload;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult,
};

use crate::openbao::{OpenBao, ROOT_TOKEN};
use crate::support::{
    ServerProcess, TemporalDevServer, free_port, repo_root, tool, wait_for_http_ok,
};
use crate::terraform::{Version, Workspace};

const RUST_QUEUE: &str = "engram-rotation-rust";
/// The task queue of examples/workers/python/worker.py.
const PYTHON_QUEUE: &str = "engram-codec-example";
const DAY: i64 = 86_400;
const DELAY: i64 = 300;
/// How often every reader re-reads the keyring file.
const RELOAD: Duration = Duration::from_secs(1);

#[workflow]
#[derive(Default)]
pub struct Shout;

#[workflow_methods]
impl Shout {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, text: String) -> WorkflowResult<String> {
        let loud = ctx
            .execute_activity(
                ShoutActivities::shout,
                text,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(30)),
            )
            .await?;
        Ok(loud)
    }
}

pub struct ShoutActivities;

#[activities]
impl ShoutActivities {
    #[activity]
    pub async fn shout(_ctx: ActivityContext, text: String) -> Result<String, ActivityError> {
        Ok(text.to_uppercase())
    }
}

fn config(bao: &OpenBao) -> String {
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
resource "engram_cmk_binding" "orders" {{
  scope                     = "default"
  rotate_after_days         = 1
  seal_grace_days           = 1
  decrypt_window_days       = 1
  namespace_retention_days  = 1
  longest_workflow_run_days = 0
  activation_delay_seconds  = {DELAY}
  vault_transit {{
    address  = "{}"
    key_name = "orders-kek"
    token    = var.vault_token
  }}
}}
"#,
        bao.address
    )
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// The one clock of Terraform, the codec server and the workers.
struct Clock {
    file: PathBuf,
}

impl Clock {
    fn set(&self, ws: &Workspace, unix: i64) {
        let text = rfc3339(unix);
        std::fs::write(&self.file, &text).unwrap();
        ws.set_env("ENGRAM_NOW", &text);
    }
}

/// Copies the binding's keyring into the readers' file, replacing it whole as the kubelet's
/// symlink swap does, and waits for the readers' reload interval to pass a few times.
fn publish(ws: &Workspace, file: &Path) -> KeyringDocument {
    let json = ws.resource("engram_cmk_binding")["keyring"]
        .as_str()
        .unwrap()
        .to_string();
    let staged = file.with_extension("new");
    std::fs::write(&staged, &json).unwrap();
    std::fs::rename(&staged, file).unwrap();
    std::thread::sleep(RELOAD * 4);
    KeyringDocument::from_json(&json).unwrap()
}

async fn client(address: &str, keyring: Arc<KeyringFile>) -> Client {
    let codec = WorkerCodec::new(keyring, Namespace::new("default").unwrap());
    let converter = DataConverter::new(
        PayloadConverter::default(),
        DefaultFailureConverter::default(),
        codec,
    );
    let options = ConnectionOptions::new(Url::parse(&format!("http://{address}")).unwrap()).build();
    let connection = Connection::connect(options).await.unwrap();
    Client::new(
        connection,
        ClientOptions::new("default")
            .data_converter(converter)
            .build(),
    )
    .unwrap()
}

/// A JSON string payload, as the Python worker's `Greet` workflow takes it.
fn json_string(text: &str) -> RawValue {
    RawValue {
        payloads: vec![SdkPayload {
            metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
            data: serde_json::to_vec(text).unwrap(),
            ..SdkPayload::default()
        }],
    }
}

/// Starts workflows on both workers one after another until `stop`, checking each result;
/// returns the ids of the workflows run.
/// Runs workflows on both workers until `stop`; their ids start with `phase` so no id is used
/// twice in one test. Returns the ids.
async fn drive(client: Client, stop: Arc<AtomicBool>, phase: &'static str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let id = format!("{phase}-rust-{n}");
        let text = format!("order {n}");
        let handle = client
            .start_workflow(
                Shout::run,
                text.clone(),
                WorkflowStartOptions::new(RUST_QUEUE, &id).build(),
            )
            .await
            .unwrap_or_else(|e| panic!("start {id}: {e}"));
        let result = handle
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{id} did not complete: {e}"));
        assert_eq!(result, text.to_uppercase(), "{id}");
        ids.push(id);

        let id = format!("{phase}-python-{n}");
        let handle = client
            .start_workflow(
                UntypedWorkflow::new("Greet"),
                json_string(&text),
                WorkflowStartOptions::new(PYTHON_QUEUE, &id).build(),
            )
            .await
            .unwrap_or_else(|e| panic!("start {id}: {e}"));
        let result = handle
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{id} did not complete: {e}"));
        let greeting: String = serde_json::from_slice(&result.payloads[0].data).unwrap();
        assert_eq!(greeting, format!("Hello, {text}!"), "{id}");
        ids.push(id);
    }
    ids
}

/// Every encrypted payload (`{"metadata": {...}, "data": ...}` with encoding
/// `binary/encrypted`) of a history in `temporal workflow show --output json`.
fn encrypted_payloads(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Object(map) => {
            let encrypted = map
                .get("metadata")
                .and_then(|m| m.get("encoding"))
                .and_then(Value::as_str)
                .and_then(|e| STANDARD.decode(e).ok())
                .is_some_and(|e| e == b"binary/encrypted");
            if encrypted {
                out.push(value.clone());
            } else {
                map.values().for_each(|v| encrypted_payloads(v, out));
            }
        }
        Value::Array(items) => items.iter().for_each(|v| encrypted_payloads(v, out)),
        _ => {}
    }
}

fn key_id(payload: &Value) -> String {
    let id = payload["metadata"]["encryption-key-id"].as_str().unwrap();
    String::from_utf8(STANDARD.decode(id).unwrap()).unwrap()
}

fn history(temporal: &TemporalDevServer, id: &str) -> Value {
    serde_json::from_str(&temporal.cli(&[
        "workflow",
        "show",
        "--workflow-id",
        id,
        "--output",
        "json",
    ]))
    .unwrap()
}

/// The histories of `ids`: that each completed with no failed workflow task, and the key ids of
/// their payloads, checked to decode through the codec server at `codec`.
async fn check_histories(
    temporal: &TemporalDevServer,
    codec: u16,
    ids: &[String],
) -> Vec<(String, BTreeSet<String>)> {
    let http = reqwest::Client::new();
    let mut keys_by_workflow = Vec::new();
    for id in ids {
        let events = history(temporal, id);
        let text = events.to_string();
        assert!(
            !text.contains("WORKFLOW_TASK_FAILED"),
            "{id}: a workflow task failed"
        );
        assert!(
            text.contains("WORKFLOW_EXECUTION_COMPLETED"),
            "{id} did not complete"
        );
        let mut payloads = Vec::new();
        encrypted_payloads(&events, &mut payloads);
        assert!(
            payloads.len() >= 4,
            "{id}: {} encrypted payloads",
            payloads.len()
        );
        let keys: BTreeSet<String> = payloads.iter().map(key_id).collect();
        let body = serde_json::json!({ "payloads": payloads }).to_string();
        let decoded = http
            .post(format!("http://127.0.0.1:{codec}/default/decode"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = decoded.status();
        let answer = decoded.text().await.unwrap();
        assert_eq!(status, 200, "{id}: {answer}");
        assert!(!answer.contains("binary/encrypted"), "{id}: {answer}");
        keys_by_workflow.push((id.clone(), keys));
    }
    keys_by_workflow
}

/// Waits (up to 60 s) until `temporal workflow describe` no longer finds `id`.
fn wait_until_deleted(temporal: &TemporalDevServer, id: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let found = Command::new(tool("temporal"))
            .args(["workflow", "describe", "--workflow-id", id])
            .args(["--address", &temporal.address])
            .output()
            .unwrap()
            .status
            .success();
        if !found {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{id} was not deleted within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn python_worker(address: &str, keyring: &Path, bao: &OpenBao, clock: &Path) -> ServerProcess {
    let mut command = Command::new(tool("worker-python"));
    command
        .current_dir(repo_root().join("examples/workers/python"))
        .env("VAULT_TOKEN", ROOT_TOKEN)
        .env("ENGRAM_NOW_FILE", clock)
        .args([
            "worker.py",
            "worker",
            "--address",
            address,
            "--namespace",
            "default",
        ])
        .arg("--keyring")
        .arg(keyring)
        .args(["--vault-addr", &bao.address, "--vault-key", "orders-kek"])
        .args(["--reload-interval", "1"])
        .stdout(Stdio::null());
    ServerProcess::spawn("python worker", command)
}

fn codec_server(keyring: &Path, bao: &OpenBao, clock: &Path, audit: &Path) -> (ServerProcess, u16) {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_engram"));
    command
        .args(["codec-server", "--insecure-no-auth", "--kms", "vault"])
        .args(["--vault-addr", &bao.address, "--vault-key", "orders-kek"])
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--reload-interval-seconds",
            "1",
        ])
        .arg("--keyring")
        .arg(keyring)
        .env("VAULT_TOKEN", ROOT_TOKEN)
        .env("ENGRAM_NOW_FILE", clock)
        .stdout(std::fs::File::create(audit).unwrap())
        .stderr(Stdio::null());
    let process = ServerProcess::spawn("engram codec-server", command);
    wait_for_http_ok(
        port,
        "/readyz",
        Duration::from_secs(30),
        "engram codec-server",
    );
    (process, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_run_through_two_rotations_and_a_retirement_and_every_history_decodes() {
    let bao = OpenBao::start().await;
    bao.create_key("orders-kek").await;
    let ws = Workspace::new(Version::V1_15_5, &config(&bao));
    ws.set_env("TF_VAR_vault_token", ROOT_TOKEN);
    ws.set_env("VAULT_TOKEN", ROOT_TOKEN);
    let dir = crate::support::temp_dir("engram-rotation-");
    let clock = Clock {
        file: dir.path().join("now"),
    };
    let t0 = time::OffsetDateTime::now_utc().unix_timestamp();
    clock.set(&ws, t0);
    // SAFETY of the environment: the Rust worker and client in this process read the same clock.
    unsafe { std::env::set_var("ENGRAM_NOW_FILE", &clock.file) };

    ws.apply();
    let keyring_path = dir.path().join("keyring.json");
    let first = publish(&ws, &keyring_path);
    let k1 = first.keys[0].id.to_string();
    let stale_path = dir.path().join("stale-keyring.json");
    std::fs::copy(&keyring_path, &stale_path).unwrap();

    let temporal = TemporalDevServer::start();
    let (_codec, codec_port) = codec_server(
        &keyring_path,
        &bao,
        &clock.file,
        &dir.path().join("audit.jsonl"),
    );
    let mut python = python_worker(&temporal.address, &keyring_path, &bao, &clock.file);

    let transit: Arc<dyn KeyProvider> = Arc::new(bao.transit("orders-kek"));
    let keyring = KeyringFile::open(&keyring_path, transit.clone())
        .await
        .unwrap();
    let _watch = keyring.watch(RELOAD);
    let worker_client = client(&temporal.address, keyring.clone()).await;
    let worker_thread = {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let runtime = Runtime::from_current_tokio(Default::default()).unwrap();
                let options = WorkerOptions::new(RUST_QUEUE)
                    .register_workflow::<Shout>()
                    .unwrap()
                    .register_activities(ShoutActivities)
                    .build();
                let mut worker = Worker::new(&runtime, worker_client, options).unwrap();
                tx.send(worker.shutdown_handle()).unwrap();
                worker
                    .run()
                    .await
                    .expect("the Rust worker runs until shut down");
            });
        });
        (thread, rx.recv().unwrap())
    };

    let stop = Arc::new(AtomicBool::new(false));
    let driver = tokio::spawn(drive(
        client(&temporal.address, keyring.clone()).await,
        stop.clone(),
        "rotations",
    ));
    let run_for = |seconds| std::thread::sleep(Duration::from_secs(seconds));
    run_for(4);

    // Rotation 1: a pending key reaches every reader before the clock activates it.
    let rotation_1 = t0 + DAY;
    clock.set(&ws, rotation_1);
    ws.apply();
    let second = publish(&ws, &keyring_path);
    let k2 = second.keys[1].id.to_string();
    run_for(3);
    clock.set(&ws, rotation_1 + DELAY + 1);
    run_for(4);
    ws.apply();
    publish(&ws, &keyring_path);

    // Rotation 2.
    let rotation_2 = rotation_1 + DELAY + DAY + 1;
    clock.set(&ws, rotation_2);
    ws.apply();
    let third = publish(&ws, &keyring_path);
    let k3 = third.keys[2].id.to_string();
    run_for(3);
    clock.set(&ws, rotation_2 + DELAY + 1);
    run_for(4);
    ws.apply();
    publish(&ws, &keyring_path);

    // A writer whose keyring never reloaded is past the first key's seal end: it refuses.
    let stale = KeyringFile::open(&stale_path, transit.clone())
        .await
        .unwrap();
    let stale_client = client(&temporal.address, stale).await;
    let refused = stale_client
        .start_workflow(
            Shout::run,
            "stale".to_string(),
            WorkflowStartOptions::new(RUST_QUEUE, "stale-writer").build(),
        )
        .await;
    let refusal = refused
        .err()
        .expect("a stale keyring refuses to seal")
        .to_string();
    assert!(refusal.contains("reload the keyring"), "{refusal}");
    let listed = temporal.cli(&[
        "workflow",
        "list",
        "--query",
        "WorkflowId = 'stale-writer'",
        "--output",
        "json",
    ]);
    assert!(
        !listed.contains("stale-writer"),
        "the stale writer wrote a workflow: {listed}"
    );

    // Every history so far decodes; the first key's end of decrypt window comes next, so the
    // workflows it sealed are deleted first, as namespace retention would have by then.
    stop.store(true, Ordering::Relaxed);
    let mut ids = driver.await.unwrap();
    let checked = check_histories(&temporal, codec_port, &ids).await;
    let seen: BTreeSet<&String> = checked.iter().flat_map(|(_, k)| k.iter()).collect();
    assert!(
        seen.contains(&k1) && seen.contains(&k2) && seen.contains(&k3),
        "{seen:?} lacks a key"
    );
    for (id, keys) in &checked {
        if keys.contains(&k1) {
            temporal.cli(&["workflow", "delete", "--yes", "--workflow-id", id]);
        }
    }
    // Deletion runs in the background: wait until those histories are gone, as they would be
    // after retention.
    for (id, keys) in &checked {
        if keys.contains(&k1) {
            wait_until_deleted(&temporal, id);
        }
    }
    ids.retain(|id| !checked.iter().any(|(w, k)| w == id && k.contains(&k1)));
    let seen_before = checked.len() - ids.len();

    // The retirement, applied while workflows keep running.
    let stop = Arc::new(AtomicBool::new(false));
    let driver = tokio::spawn(drive(
        client(&temporal.address, keyring.clone()).await,
        stop.clone(),
        "retirement",
    ));
    run_for(2);
    clock.set(&ws, t0 + 3 * DAY + 1);
    let plan = ws.plan_exit_code();
    assert!(
        plan.all().contains(&format!("retire data key {k1}")),
        "{}",
        plan.all()
    );
    ws.apply();
    let last = publish(&ws, &keyring_path);
    assert!(
        last.keys
            .iter()
            .any(|k| k.id.as_str() == k1 && k.state == engram::codec::KeyState::Retired)
    );
    run_for(4);
    stop.store(true, Ordering::Relaxed);
    ids.extend(driver.await.unwrap());
    python.assert_running();
    (worker_thread.1)();
    worker_thread.0.join().unwrap();

    // Afterwards every payload of every history that remains decodes through the codec server.
    let checked = check_histories(&temporal, codec_port, &ids).await;
    assert!(checked.len() >= 12, "only {} workflows ran", checked.len());
    eprintln!(
        "{} workflows ran through the rotations; {} remain after retention, all decoded",
        ids.len() + seen_before,
        checked.len()
    );
    assert!(checked.iter().all(|(_, k)| !k.contains(&k1)));
    let history_events: Vec<String> = last
        .history
        .iter()
        .map(|e| format!("{:?}", e.event))
        .collect();
    assert_eq!(
        history_events,
        [
            "Created",
            "Activated",
            "Created",
            "Activated",
            "Created",
            "Activated",
            "Retired"
        ]
    );
}
