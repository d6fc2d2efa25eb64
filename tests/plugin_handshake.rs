//! The plugin binary as Terraform starts it: the go-plugin handshake, AutoMTLS that refuses a
//! client without Terraform's certificate, `--debug` reattach output, and a person running it
//! by hand.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const PLUGIN: &str = env!("CARGO_BIN_EXE_terraform-provider-engram");

struct Plugin {
    child: Child,
    socket: PathBuf,
    server_cert: CertificateDer<'static>,
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client certificate like the one Terraform generates for each plugin.
fn client_identity() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    (
        cert.pem(),
        cert.der().clone(),
        PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    )
}

fn start(client_cert_pem: &str) -> Plugin {
    let mut child = Command::new(PLUGIN)
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_CLIENT_CERT", client_cert_pem)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let parts: Vec<&str> = line.trim().split('|').collect();
    assert_eq!(parts[..3], ["1", "6", "unix"], "handshake line: {line}");
    assert_eq!(parts[4], "grpc");
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(parts[5])
        .unwrap();
    Plugin {
        child,
        socket: PathBuf::from(parts[3]),
        server_cert: CertificateDer::from(der),
    }
}

fn tls_client(
    plugin: &Plugin,
    identity: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(plugin.server_cert.clone()).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => builder.with_client_auth_cert(vec![cert], key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// Connects, sends the HTTP/2 preface and returns what the server answered (its SETTINGS
/// frame when the connection is accepted), or the error.
async fn talk(plugin: &Plugin, connector: TlsConnector) -> Result<Vec<u8>, String> {
    let tcp = UnixStream::connect(&plugin.socket)
        .await
        .map_err(|e| e.to_string())?;
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), tls.read(&mut buf))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err("connection closed".into());
    }
    buf.truncate(n);
    Ok(buf)
}

#[tokio::test]
async fn terraforms_certificate_is_accepted_and_speaks_http2() {
    let (pem, cert, key) = client_identity();
    let plugin = start(&pem);
    let answer = talk(&plugin, tls_client(&plugin, Some((cert, key))))
        .await
        .unwrap();
    // An HTTP/2 frame header: type 0x4 is SETTINGS.
    assert_eq!(answer[3], 0x4, "expected a SETTINGS frame, got {answer:?}");
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let (pem, _, _) = client_identity();
    let plugin = start(&pem);
    let result = talk(&plugin, tls_client(&plugin, None)).await;
    assert!(
        result.is_err(),
        "connection without a client certificate was served"
    );
}

#[tokio::test]
async fn a_client_with_another_certificate_is_refused() {
    let (pem, cert, key) = client_identity();
    let (_, other_cert, other_key) = client_identity();
    let plugin = start(&pem);
    let result = talk(&plugin, tls_client(&plugin, Some((other_cert, other_key)))).await;
    assert!(
        result.is_err(),
        "connection with a foreign certificate was served"
    );
    // The plugin survives the refused connection and still serves Terraform's certificate.
    assert!(
        talk(&plugin, tls_client(&plugin, Some((cert, key))))
            .await
            .is_ok()
    );
}

#[test]
fn a_person_running_the_binary_gets_one_line_and_exit_1() {
    let out = Command::new(PLUGIN)
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("plugin for Terraform"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unsupported_protocol_offer_is_explained() {
    let out = Command::new(PLUGIN)
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "4,5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("speaks plugin protocol 6"));
}

#[test]
fn debug_mode_prints_reattach_settings() {
    let mut child = Command::new(PLUGIN)
        .arg("--debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reader = BufReader::new(child.stdout.take().unwrap());
    let line = reader
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("TF_REATTACH_PROVIDERS="))
        .expect("reattach line");
    let _ = child.kill();
    let _ = child.wait();
    let json = line.split_once('=').unwrap().1.trim_matches('\'');
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let entry = &value["registry.terraform.io/engram/engram"];
    assert_eq!(entry["ProtocolVersion"], 6);
    assert_eq!(entry["Addr"]["Network"], "unix");
    assert_eq!(entry["Pid"], child.id());
}
