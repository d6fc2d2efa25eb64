//! A real OpenBao dev server (`bao server -dev`) with the Transit engine mounted.

use std::process::Command;
use std::time::Duration;

use engram::kms::SecretBytes;
use engram::kms::vault::{VaultAuth, VaultTransit, VaultTransitConfig};
use serde_json::{Value, json};

use crate::support::{ServerProcess, free_ports_in_a_row, tool};

/// The root token of the dev server.
pub const ROOT_TOKEN: &str = "engram-test-root";

/// A running OpenBao dev server; stopped when dropped.
pub struct OpenBao {
    pub address: String,
    http: reqwest::Client,
    _process: ServerProcess,
    _log: tempfile::NamedTempFile,
}

/// How many times a dev server that exits before it is healthy is started again on new ports.
const STARTS: usize = 3;

impl OpenBao {
    /// Starts `bao server -dev` on free ports and mounts Transit at `transit/`.
    pub async fn start() -> Self {
        let mut failures = Vec::new();
        for _ in 0..STARTS {
            match Self::start_once().await {
                Ok(bao) => {
                    bao.request(
                        "POST",
                        "sys/mounts/transit",
                        Some(json!({"type": "transit"})),
                    )
                    .await;
                    return bao;
                }
                Err(failure) => failures.push(failure),
            }
        }
        panic!(
            "bao server -dev did not start in {STARTS} tries:\n{}",
            failures.join("\n")
        );
    }

    /// One start: `Err` says why the server is not usable (it exited, or never reported itself
    /// healthy) with the end of its log.
    async fn start_once() -> Result<Self, String> {
        // The dev server opens its cluster listener on the port after its API port.
        let port = free_ports_in_a_row(2);
        let log = tempfile::NamedTempFile::new().expect("a log file for bao");
        let output = log.reopen().expect("bao's log");
        let mut command = Command::new(tool("bao"));
        command
            .args([
                "server",
                "-dev",
                &format!("-dev-root-token-id={ROOT_TOKEN}"),
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .stderr(output.try_clone().expect("bao's log"))
            .stdout(output);
        let mut process = ServerProcess::spawn("bao server -dev", command);
        let address = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        match wait_healthy(&http, &address, &mut process).await {
            Ok(()) => Ok(Self {
                address,
                http,
                _process: process,
                _log: log,
            }),
            Err(why) => {
                let text = std::fs::read_to_string(log.path()).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(10)..].join("\n");
                Err(format!("on port {port}: {why}; its log ends:\n{tail}"))
            }
        }
    }

    /// An API call with the root token; panics unless it succeeds. A freshly started dev server
    /// on a loaded machine may briefly refuse calls (standby, mount not yet routed), so a
    /// failure is retried for a few seconds before the test fails. Returns the JSON body (or
    /// Null).
    pub async fn request(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut last = String::new();
        for _ in 0..50 {
            let mut request = self
                .http
                .request(method.clone(), format!("{}/v1/{path}", self.address))
                .header("X-Vault-Token", ROOT_TOKEN);
            if let Some(body) = &body {
                request = request.json(body);
            }
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    if status.is_success() {
                        return if text.is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_str(&text).unwrap()
                        };
                    }
                    last = format!("{status} {text}");
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{method} {path}: {last}");
    }

    /// A Transit client for key `name`, logged in with the root token.
    pub fn transit(&self, name: &str) -> VaultTransit {
        VaultTransit::new(VaultTransitConfig {
            address: self.address.clone(),
            mount: "transit".into(),
            key_name: name.into(),
            namespace: None,
            auth: VaultAuth::Token(SecretBytes::from(ROOT_TOKEN.to_string())),
            timeout: Duration::from_secs(10),
        })
        .expect("a Transit client")
    }

    /// Creates an aes256-gcm96 Transit key.
    pub async fn create_key(&self, name: &str) {
        self.request("POST", &format!("transit/keys/{name}"), Some(json!({})))
            .await;
    }
}

/// Waits until the dev server `process` at `address` answers its health check (initialized,
/// unsealed, active), or says why not: it exited, or the last answer within a minute.
async fn wait_healthy(
    http: &reqwest::Client,
    address: &str,
    process: &mut ServerProcess,
) -> Result<(), String> {
    // A loaded 2-core machine (a whole suite beside it) can take tens of seconds to start it.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut last = String::from("no answer");
    while std::time::Instant::now() < deadline {
        if let Some(status) = process.exit_status() {
            return Err(format!("it exited with {status}"));
        }
        match http.get(format!("{address}/v1/sys/health")).send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => last = format!("the health check answered {}", response.status()),
            Err(e) => last = format!("the health check failed: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("not healthy within 60 s; last: {last}"))
}
