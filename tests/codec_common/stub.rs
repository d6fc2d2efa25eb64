//! A STUB HTTP(S) server standing in for a cloud KMS REST API (Azure Key Vault, Google Cloud KMS,
//! their token endpoints); the Key Vault stand-in serves HTTPS only, as Key Vault does. It is not the real service: it records every request so a test can
//! assert the exact method, path, headers and body the client sent, and answers with canned
//! responses the test chooses. Two ready-made answers stand in for Google Cloud KMS and Azure Key
//! Vault in their documented response shapes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// One request as the stub received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// The answer to one request: status and JSON body.
pub type Handler = dyn Fn(&Recorded) -> (u16, String) + Send + Sync;

/// A running stub; it stops with the test's runtime.
pub struct Stub {
    pub base_url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Stub {
    /// Starts a stub on a free port that answers with `handler` over plain HTTP (Cloud KMS, the
    /// instance metadata services and Vault accept http endpoint overrides).
    pub async fn start(
        handler: impl Fn(&Recorded) -> (u16, String) + Send + Sync + 'static,
    ) -> Self {
        Self::serve(handler, None).await
    }

    /// Starts a stub that answers over HTTPS only, as Azure Key Vault does, with a certificate
    /// for 127.0.0.1 signed by this process's stub CA. The first call points `SSL_CERT_FILE` of
    /// this process (and so of every child it starts) at that CA, which the KMS clients trust
    /// besides the public roots (`engram::kms::http::CA_BUNDLE_VARIABLE`).
    pub async fn start_https(
        handler: impl Fn(&Recorded) -> (u16, String) + Send + Sync + 'static,
    ) -> Self {
        Self::serve(handler, Some(stub_ca().acceptor.clone())).await
    }

    async fn serve(
        handler: impl Fn(&Recorded) -> (u16, String) + Send + Sync + 'static,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log = requests.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let handler = handler.clone();
                let log = log.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            // A client that refuses the certificate just goes away.
                            if let Ok(stream) = acceptor.accept(socket).await {
                                answer(stream, &*handler, &log).await;
                            }
                        }
                        None => answer(socket, &*handler, &log).await,
                    }
                });
            }
        });
        Self { base_url, requests }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

/// Reads one request from `stream`, records it and writes `handler`'s answer.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    handler: &Handler,
    log: &Mutex<Vec<Recorded>>,
) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let (status, body) = handler(&request);
    log.lock().unwrap().push(request);
    let response = format!(
        "HTTP/1.1 {status} Stub\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// This process's stub CA (its certificate written to a file that `SSL_CERT_FILE` names): the
/// acceptor serves a certificate for 127.0.0.1 and localhost that it signed.
struct StubCa {
    acceptor: tokio_rustls::TlsAcceptor,
}

fn stub_ca() -> &'static StubCa {
    static CA: OnceLock<StubCa> = OnceLock::new();
    CA.get_or_init(|| {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Distinct names: OpenSSL (Python's client) takes a leaf named like its issuer for a
        // self-signed one.
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "engram KMS stub CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        let ca_file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("stub-ca-{}.pem", std::process::id()));
        std::fs::write(&ca_file, ca.pem()).unwrap();
        // SAFETY: set once, before any stub answers over HTTPS, always to the same value; the
        // tests run one per process under nextest.
        unsafe { std::env::set_var("SSL_CERT_FILE", &ca_file) };
        let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
        StubCa {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        }
    })
}

async fn read_request<S: AsyncRead + Unpin>(socket: &mut S) -> Option<Recorded> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
    };
    let head = String::from_utf8(buffer[..header_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[header_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        method,
        target,
        headers,
        body,
    })
}

/// The Cloud KMS key the GCP answer serves.
pub const GCP_KEY: &str = "projects/p1/locations/global/keyRings/engram/cryptoKeys/payloads";

/// A Cloud KMS stand-in: "ciphertext" is the plaintext prefixed with the AAD length and the AAD,
/// so decrypt can check the AAD like the service does.
pub fn gcp_stub_answer(request: &Recorded) -> (u16, String) {
    let path = request.target.as_str();
    if path == "/computeMetadata/v1/instance/service-accounts/default/token" {
        return (
            200,
            json!({"access_token": "gke-token", "expires_in": 3599, "token_type": "Bearer"})
                .to_string(),
        );
    }
    let body: Value = if request.body.is_empty() {
        Value::Null
    } else {
        request.json()
    };
    if path.ends_with(":encrypt") {
        let plaintext = STANDARD
            .decode(body["plaintext"].as_str().unwrap())
            .unwrap();
        let aad = STANDARD
            .decode(body["additionalAuthenticatedData"].as_str().unwrap())
            .unwrap();
        let mut ciphertext = vec![aad.len() as u8];
        ciphertext.extend_from_slice(&aad);
        ciphertext.extend_from_slice(&plaintext);
        return (200, json!({"name": format!("{GCP_KEY}/cryptoKeyVersions/1"), "ciphertext": STANDARD.encode(ciphertext)}).to_string());
    }
    if path.ends_with(":decrypt") {
        let ciphertext = STANDARD
            .decode(body["ciphertext"].as_str().unwrap())
            .unwrap();
        let aad = STANDARD
            .decode(body["additionalAuthenticatedData"].as_str().unwrap())
            .unwrap();
        let n = ciphertext[0] as usize;
        if ciphertext[1..=n] != aad[..] {
            return (400, json!({"error": {"code": 400, "message": "Decryption failed: the ciphertext is invalid.", "status": "INVALID_ARGUMENT"}}).to_string());
        }
        return (
            200,
            json!({"plaintext": STANDARD.encode(&ciphertext[n + 1..])}).to_string(),
        );
    }
    if path == format!("/v1/{GCP_KEY}") {
        return (200, json!({"name": GCP_KEY, "purpose": "ENCRYPT_DECRYPT", "primary": {"name": format!("{GCP_KEY}/cryptoKeyVersions/3"), "state": "ENABLED"}}).to_string());
    }
    (
        404,
        json!({"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}).to_string(),
    )
}

/// A Key Vault stand-in: "wrapping" reverses the bytes; the kid names version `v7`.
pub fn azure_stub_answer(request: &Recorded) -> (u16, String) {
    let path = request.target.as_str();
    if path.starts_with("/metadata/identity/oauth2/token") || path.ends_with("/oauth2/v2.0/token") {
        return (
            200,
            json!({"access_token": "entra-token", "expires_in": "3599", "token_type": "Bearer"})
                .to_string(),
        );
    }
    let reversed = |body: &Value| {
        let mut bytes = URL_SAFE_NO_PAD
            .decode(body["value"].as_str().unwrap())
            .unwrap();
        bytes.reverse();
        URL_SAFE_NO_PAD.encode(bytes)
    };
    if path == "/keys/engram/wrapkey?api-version=7.4"
        || path == "/keys/engram/v7/unwrapkey?api-version=7.4"
    {
        let body = request.json();
        return (
            200,
            json!({"kid": "https://stub.vault.azure.net/keys/engram/v7", "value": reversed(&body)})
                .to_string(),
        );
    }
    if path == "/keys/engram?api-version=7.4" {
        return (200, json!({"key": {"kid": "https://stub.vault.azure.net/keys/engram/v7", "kty": "RSA"}, "attributes": {"enabled": true}}).to_string());
    }
    (404, json!({"error": {"code": "KeyNotFound", "message": "A key with (name/id) x was not found in this key vault."}}).to_string())
}
