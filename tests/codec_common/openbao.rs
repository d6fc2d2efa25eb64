//! A real OpenBao dev server (`bao server -dev`) with the Transit engine mounted.

use std::process::{Command, Stdio};
use std::time::Duration;

use engram::kms::SecretBytes;
use engram::kms::vault::{VaultAuth, VaultTransit, VaultTransitConfig};
use serde_json::{Value, json};

use crate::support::{ServerProcess, free_port, tool, wait_for_port};

/// The root token of the dev server.
pub const ROOT_TOKEN: &str = "engram-test-root";

/// A running OpenBao dev server; stopped when dropped.
pub struct OpenBao {
    pub address: String,
    http: reqwest::Client,
    _process: ServerProcess,
}

impl OpenBao {
    /// Starts `bao server -dev` on a free port and mounts Transit at `transit/`.
    pub async fn start() -> Self {
        let port = free_port();
        let mut command = Command::new(tool("bao"));
        command
            .args([
                "server",
                "-dev",
                &format!("-dev-root-token-id={ROOT_TOKEN}"),
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut process = ServerProcess::spawn("bao server -dev", command);
        wait_for_port(port, Duration::from_secs(30), "bao server -dev");
        process.assert_running();
        let bao = Self {
            address: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _process: process,
        };
        bao.wait_unsealed().await;
        bao.request(
            "POST",
            "sys/mounts/transit",
            Some(json!({"type": "transit"})),
        )
        .await;
        bao
    }

    async fn wait_unsealed(&self) {
        // A loaded 2-core machine (a whole suite beside it) can take tens of seconds to start it.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if let Ok(r) = self
                .http
                .get(format!("{}/v1/sys/health", self.address))
                .send()
                .await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("OpenBao dev server did not become healthy");
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
