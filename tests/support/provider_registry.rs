//! Serves a provider release (the folder `scripts/release` writes) the two ways a team's
//! Terraform can fetch it over the network, on 127.0.0.1 over HTTPS with a throwaway CA:
//!
//! - the provider **network mirror protocol** under `/mirror/`: the release's `mirror/` tree,
//!   `:hostname/:namespace/:type/index.json` and `:version.json` (with `archives` and their
//!   `hashes`) as `application/json`, which Terraform insists on, and the archives beside them;
//! - the **provider registry protocol** at the root: service discovery
//!   (`/.well-known/terraform.json` naming `providers.v1`), `…/versions`, and
//!   `…/:version/download/:os/:arch` naming the zip, the SHA256SUMS, its detached signature and
//!   the GPG public key that signed it, which Terraform verifies before it trusts the sums.
//!
//! Facts read from hashicorp/terraform at v1.15.5 and v1.0.3,
//! `internal/getproviders/http_mirror_source.go` and `registry_client.go`: the mirror's paths,
//! the Content-Type check and URL resolution against the document's own URL; the registry's
//! field names (`protocols`, `os`, `arch`, `filename`, `download_url`, `shasum`, `shasums_url`,
//! `shasums_signature_url`, `signing_keys.gpg_public_keys[].ascii_armor`).
//!
//! Every request's path is recorded, so a test can tell which protocol Terraform used.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What the server publishes: a release folder and the key that signed its sums.
#[derive(Clone)]
pub struct Release {
    /// The folder `scripts/release` wrote (its zips, sums, signature, manifest and `mirror/`).
    pub dir: PathBuf,
    /// The provider's version, e.g. `0.1.0`.
    pub version: String,
    /// The signing key's ASCII-armoured public key.
    pub gpg_public_key: String,
    /// The signing key's id (hex), as a registry reports it.
    pub gpg_key_id: String,
}

struct Shared {
    release: Release,
    requests: Mutex<Vec<String>>,
}

/// A running server; stops when dropped.
pub struct ReleaseServer {
    /// The port on 127.0.0.1.
    pub port: u16,
    ca_pem: String,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl ReleaseServer {
    /// Serves `release` on a free port of 127.0.0.1 with a fresh CA whose certificate
    /// ([`Self::ca_pem`]) names 127.0.0.1 and localhost.
    pub fn start(release: Release) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let (tls, ca_pem) = tls_config();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the release server");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Shared {
            release,
            requests: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(shared.clone());
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        runtime.spawn(accept_loop(listener, acceptor, app));
        Self {
            port,
            ca_pem,
            shared,
            runtime: Some(runtime),
        }
    }

    /// The CA certificate (PEM) that signed the server's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The network mirror's base URL, for `network_mirror { url = … }`.
    pub fn mirror_url(&self) -> String {
        format!("https://127.0.0.1:{}/mirror/", self.port)
    }

    /// The registry's host for a provider source address (`localhost:PORT/engram/engram`).
    pub fn registry_host(&self) -> String {
        format!("localhost:{}", self.port)
    }

    /// Every request path so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }
}

impl Drop for ReleaseServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn tls_config() -> (rustls::ServerConfig, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "engram install-test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("server key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server params")
        .signed_by(&leaf_key, &issuer)
        .expect("server certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .expect("server TLS config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (config, ca.pem())
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: axum::Router,
) {
    loop {
        let Ok((tcp, _peer)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
        });
    }
}

fn json_response(value: Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// A file below `root`, for a request path made of plain segments only.
fn file_below(root: &Path, relative: &str) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for segment in relative.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." || segment.contains('\\') {
            return None;
        }
        path.push(segment);
    }
    path.is_file().then_some(path)
}

fn file_response(path: &Path) -> Response {
    let content_type = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    };
    match std::fs::read(path) {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], Body::from(bytes)).into_response(),
        Err(_) => not_found(),
    }
}

/// The platforms (`os_arch`) the release has a zip for.
fn platforms(release: &Release) -> Vec<String> {
    let prefix = format!("terraform-provider-engram_{}_", release.version);
    let mut out: Vec<String> = std::fs::read_dir(&release.dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|name| {
                    name.strip_prefix(&prefix)?
                        .strip_suffix(".zip")
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The plugin protocol versions the release's manifest declares.
fn protocols(release: &Release) -> Vec<String> {
    let path = release.dir.join(format!(
        "terraform-provider-engram_{}_manifest.json",
        release.version
    ));
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|manifest| {
            serde_json::from_value(manifest["metadata"]["protocol_versions"].clone()).ok()
        })
        .unwrap_or_default()
}

/// The sha256 (hex) the release's SHA256SUMS gives for `filename`.
fn shasum(release: &Release, filename: &str) -> Option<String> {
    let sums = release.dir.join(format!(
        "terraform-provider-engram_{}_SHA256SUMS",
        release.version
    ));
    std::fs::read_to_string(sums)
        .ok()?
        .lines()
        .find_map(|line| {
            let (sum, name) = line.split_once("  ")?;
            (name == filename).then(|| sum.to_string())
        })
}

async fn serve(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    shared.requests.lock().unwrap().push(path.clone());
    let release = &shared.release;
    if request.method() != axum::http::Method::GET {
        return (StatusCode::METHOD_NOT_ALLOWED, "GET only").into_response();
    }
    if path == "/.well-known/terraform.json" {
        return json_response(json!({"providers.v1": "/v1/providers/"}));
    }
    if let Some(rest) = path.strip_prefix("/mirror/") {
        return match file_below(&release.dir.join("mirror"), rest) {
            Some(file) => file_response(&file),
            None => not_found(),
        };
    }
    if let Some(rest) = path.strip_prefix("/releases/") {
        return match file_below(&release.dir, rest) {
            Some(file) => file_response(&file),
            None => not_found(),
        };
    }
    let Some(rest) = path.strip_prefix("/v1/providers/engram/engram/") else {
        return not_found();
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        ["versions"] => {
            let platforms: Vec<Value> = platforms(release)
                .iter()
                .filter_map(|p| p.split_once('_'))
                .map(|(os, arch)| json!({"os": os, "arch": arch}))
                .collect();
            json_response(json!({
                "versions": [{
                    "version": release.version,
                    "protocols": protocols(release),
                    "platforms": platforms,
                }]
            }))
        }
        [version, "download", os, arch] if *version == release.version => {
            let filename = format!("terraform-provider-engram_{version}_{os}_{arch}.zip");
            let Some(shasum) = shasum(release, &filename) else {
                return not_found();
            };
            let sums = format!("terraform-provider-engram_{version}_SHA256SUMS");
            json_response(json!({
                "protocols": protocols(release),
                "os": os,
                "arch": arch,
                "filename": filename,
                "download_url": format!("/releases/{filename}"),
                "shasum": shasum,
                "shasums_url": format!("/releases/{sums}"),
                "shasums_signature_url": format!("/releases/{sums}.sig"),
                "signing_keys": {
                    "gpg_public_keys": [{
                        "key_id": release.gpg_key_id,
                        "ascii_armor": release.gpg_public_key,
                        "trust_signature": "",
                        "source": "",
                        "source_url": null,
                    }]
                },
            }))
        }
        _ => not_found(),
    }
}
