//! Shared by the codec server tests: an in-process server on 127.0.0.1 with a fresh keyring
//! (local key file KMS), its audit lines captured, stopped when dropped; TLS files from a test
//! CA; and a stand-in identity provider whose JWKS endpoint can be told to misbehave.
#![allow(dead_code)]

pub mod issuer;

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
        let document = engram::codec::lifecycle::create(
            KeyId::new(scope).unwrap(),
            &engram::codec::lifecycle::LifecyclePolicy::DEFAULT,
            &provider,
            engram::codec::clock::now_unix(),
            None,
        )
        .await
        .unwrap()
        .document;
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
        let document = engram::codec::lifecycle::create(
            KeyId::new(scope).unwrap(),
            &engram::codec::lifecycle::LifecyclePolicy::DEFAULT,
            &provider,
            engram::codec::clock::now_unix(),
            None,
        )
        .await
        .unwrap()
        .document;
        let path = self.dir.path().join(format!("{scope}.json"));
        std::fs::write(&path, document.to_json()).unwrap();
        (path, document)
    }

    /// A codec over `document`, as a worker of the namespace named like the keyring's scope would
    /// have.
    pub async fn codec(&self, document: &KeyringDocument) -> PayloadCodec {
        self.codec_in(document, document.scope.as_str()).await
    }

    /// A codec over `document`, as a worker of `namespace` would have.
    pub async fn codec_in(&self, document: &KeyringDocument, namespace: &str) -> PayloadCodec {
        let provider = LocalKeyFile::open(&self.kek).unwrap();
        PayloadCodec::new(
            Arc::new(Keyring::unwrap_document(document, &provider).await.unwrap()),
            engram::codec::Namespace::new(namespace).unwrap(),
        )
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
    pub addr: std::net::SocketAddr,
    pub audit: Captured,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Binds and serves `settings`, audit lines captured; `https` picks the URL scheme.
    pub async fn start(settings: Settings) -> Self {
        let audit = Captured::default();
        let mut server = Self::start_with_audit(settings, Box::new(audit.clone())).await;
        server.audit = audit;
        server
    }

    /// Binds and serves `settings` with its audit lines going to `out`.
    pub async fn start_with_audit(settings: Settings, out: Box<dyn std::io::Write + Send>) -> Self {
        let config = settings.resolve().expect("valid settings");
        let https = config.tls.is_some();
        let insecure = matches!(
            config.auth,
            engram::codec::server::AuthConfig::InsecureNoAuth
        );
        let server = CodecServer::bind(
            config,
            AuditLog::to_writer(out, insecure).expect("audit writer starts"),
            None,
        )
        .await
        .expect("server binds");
        let scheme = if https { "https" } else { "http" };
        let addr = server.local_addr();
        let base = format!("{scheme}://{addr}");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            addr,
            audit: Captured::default(),
            stop: Some(stop),
            running: Some(running),
        }
    }

    /// Stops the server (SIGTERM's path) and waits until it has finished, the shutdown grace
    /// period and the last audit lines included.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            running.await.expect("the server task ends cleanly");
        }
    }

    /// A POST of `body` to `path` as the codec protocol's clients send it (JSON, namespace
    /// `default`).
    pub async fn post(&self, path: &str, body: String) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("x-namespace", "default")
            .body(body)
            .send()
            .await
            .unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A test CA and a server certificate for 127.0.0.1 and localhost signed by it, written as PEM
/// files in `dir`: (certificate chain, key, CA certificate PEM).
pub fn tls_files(dir: &Path) -> (PathBuf, PathBuf, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let cert = dir.join("tls.crt");
    let key = dir.join("tls.key");
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    (cert, key, ca.pem())
}

/// Reads the peak resident set (VmHWM) of process `pid` in KiB, from /proc.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
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

/// A rustls server configuration for the certificate and key `tls_files` wrote.
pub fn rustls_server(cert: &Path, key: &Path) -> rustls::ServerConfig {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap()
}

/// Sends `request` as is on a new connection to `addr` and returns what comes back up to the
/// end of the answer's head (or the connection's close); panics if nothing ends within 20 s.
pub async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_head(&mut stream).await
}

/// Reads from `stream` up to the end of an HTTP answer's head, or its close, within 20 s.
pub async fn read_head<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), read)
        .await
        .expect("the server answers or closes the connection");
    String::from_utf8_lossy(&answer).into_owned()
}

/// An audit writer that fails every write, as a full disk or a closed pipe does.
pub struct FailingWriter;

impl Write for FailingWriter {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("no space left on device"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Err(std::io::Error::other("no space left on device"))
    }
}

/// An audit writer that blocks every write until opened, as a pipe nobody reads does, then
/// keeps what it is given.
#[derive(Clone, Default)]
pub struct GatedWriter {
    open: Arc<(Mutex<bool>, std::sync::Condvar)>,
    pub written: Captured,
}

impl GatedWriter {
    /// Lets writes through from now on.
    pub fn open(&self) {
        *self.open.0.lock().unwrap() = true;
        self.open.1.notify_all();
    }
}

impl Write for GatedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut open = self.open.0.lock().unwrap();
        while !*open {
            open = self.open.1.wait(open).unwrap();
        }
        self.written.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
