//! Shared by the codec server tests: an in-process server on 127.0.0.1 with a fresh keyring
//! (local key file KMS), its audit lines captured, stopped when dropped.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use engram::codec::server::{AuditLog, CodecServer, Settings};
use engram::codec::{KeyId, Keyring, KeyringDocument, Payload, PayloadCodec};
use engram::kms::local::LocalKeyFile;
use serde_json::Value;

/// Audit lines written by the server, captured in memory.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Every audit line so far, parsed.
    pub fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
            .collect()
    }

    /// The raw text, for checks that something never appears.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// A keyring document on disk and the KEK that wraps it.
pub struct KeyringFiles {
    pub dir: tempfile::TempDir,
    pub kek: PathBuf,
    pub keyring: PathBuf,
    pub document: KeyringDocument,
}

impl KeyringFiles {
    /// A fresh KEK file and a keyring with one primary key, scope `scope`.
    pub async fn create(scope: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("engram-codec-server")
            .tempdir()
            .unwrap();
        let kek = dir.path().join("kek");
        let provider = LocalKeyFile::create(&kek).unwrap();
        let document = KeyringDocument::create(KeyId::new(scope).unwrap(), &provider)
            .await
            .unwrap();
        let keyring = dir.path().join(format!("{scope}.json"));
        std::fs::write(&keyring, document.to_json()).unwrap();
        Self {
            dir,
            kek,
            keyring,
            document,
        }
    }

    /// Another keyring wrapped under the same KEK, written beside the first.
    pub async fn another(&self, scope: &str) -> (PathBuf, KeyringDocument) {
        let provider = LocalKeyFile::open(&self.kek).unwrap();
        let document = KeyringDocument::create(KeyId::new(scope).unwrap(), &provider)
            .await
            .unwrap();
        let path = self.dir.path().join(format!("{scope}.json"));
        std::fs::write(&path, document.to_json()).unwrap();
        (path, document)
    }

    /// A codec over `document`, as a worker holding the same keyring would have.
    pub async fn codec(&self, document: &KeyringDocument) -> PayloadCodec {
        let provider = LocalKeyFile::open(&self.kek).unwrap();
        PayloadCodec::new(Arc::new(
            Keyring::unwrap_document(document, &provider).await.unwrap(),
        ))
    }

    /// Settings for a server over these files in insecure mode on a free port.
    pub fn settings(&self) -> Settings {
        Settings {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            keyring: Some(self.keyring.clone()),
            kms: Some("local".into()),
            local_key_file: Some(self.kek.clone()),
            insecure_no_auth: true,
            reload_interval_seconds: Some(1),
            ..Settings::default()
        }
    }
}

/// A running in-process server.
pub struct TestServer {
    pub base: String,
    pub audit: Captured,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    /// Binds and serves `settings`; `https` picks the URL scheme.
    pub async fn start(settings: Settings) -> Self {
        let config = settings.resolve().expect("valid settings");
        let https = config.tls.is_some();
        let audit = Captured::default();
        let insecure = matches!(
            config.auth,
            engram::codec::server::AuthConfig::InsecureNoAuth
        );
        let server = CodecServer::bind(
            config,
            AuditLog::to_writer(Box::new(audit.clone()), insecure),
            None,
        )
        .await
        .expect("server binds");
        let scheme = if https { "https" } else { "http" };
        let base = format!("{scheme}://{}", server.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            audit,
            stop: Some(stop),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A protojson `Payloads` body.
pub fn body(payloads: &[Payload]) -> String {
    serde_json::json!({ "payloads": payloads }).to_string()
}

/// Parses a protojson `Payloads` answer.
pub fn payloads(text: &str) -> Vec<Payload> {
    serde_json::from_str::<engram::codec::Payloads>(text)
        .expect("answer is Payloads")
        .payloads
}

/// A JSON plaintext payload holding `text`.
pub fn plain(text: &str) -> Payload {
    Payload::new("json/plain", serde_json::to_vec(text).unwrap())
}

/// Reads a file for assertions.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// A child process whose pipes the test reads; killed when dropped.
pub struct Child(pub std::process::Child);

impl Child {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_timeout(
        &mut self,
        timeout: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
