//! Authorization over HTTPS: the server (TLS from PEM files) verifies bearer JWTs against a JWKS
//! this test serves on 127.0.0.1, and checks Temporal-style `<namespace>:<role>` permissions. A
//! token without the namespace permission gets 403 and an audit line with outcome `denied`.

mod codec_server_common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use codec_server_common::{KeyringFiles, TestServer, body, plain};
use engram::codec::server::Settings;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ISSUER: &str = "https://idp.test";
const AUDIENCE: &str = "engram-codec";

/// An ES256 signing key and its public JWK.
struct Signer {
    kid: String,
    key: EncodingKey,
    jwk: Value,
}

impl Signer {
    fn new(kid: &str) -> Self {
        let pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let raw = pair.public_key_raw();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&raw[1..33]), "y": URL_SAFE_NO_PAD.encode(&raw[33..65]),
        });
        let key = EncodingKey::from_ec_der(&pair.serialize_der());
        Self {
            kid: kid.into(),
            key,
            jwk,
        }
    }

    fn token(&self, claims: Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(sub: &str, permissions: &[&str]) -> Value {
    json!({"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 300, "iat": now(), "permissions": permissions})
}

/// Serves whatever key set `keys` holds at http://127.0.0.1:PORT/jwks.
async fn jwks_server(keys: Arc<Mutex<Vec<Value>>>) -> SocketAddr {
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let keys = keys.clone();
            async move { json!({"keys": *keys.lock().unwrap()}).to_string() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A test CA and a server certificate for 127.0.0.1 signed by it, written as PEM files.
fn tls_files(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_verified_and_permissions_enforced_with_denials_audited() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let files = KeyringFiles::create("default").await;
    let worker = files.codec(&files.document).await;
    let first = Signer::new("key-1");
    let keys = Arc::new(Mutex::new(vec![first.jwk.clone()]));
    let jwks = jwks_server(keys.clone()).await;
    let (cert, key, ca_pem) = tls_files(files.dir.path());
    let settings = Settings {
        insecure_no_auth: false,
        jwks_url: Some(format!("http://{jwks}/jwks")),
        jwt_issuer: Some(ISSUER.into()),
        jwt_audiences: vec![AUDIENCE.into()],
        tls_cert: Some(cert),
        tls_key: Some(key),
        ..files.settings()
    };
    let server = TestServer::start(settings).await;
    assert!(server.base.starts_with("https://"));
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let sealed = body(&worker.encode(vec![plain("for readers only")]).unwrap());
    let call = |path: &str, token: Option<String>, payload: String| {
        let mut request = client
            .post(format!("{}{path}", server.base))
            .header("X-Namespace", "default")
            .body(payload);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let reader = first.token(claims("alice", &["default:read"]));
    let ok = call("/decode", Some(reader.clone()), sealed.clone())
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(
        ok.text()
            .await
            .unwrap()
            .contains(&base64::engine::general_purpose::STANDARD.encode("\"for readers only\""))
    );

    let stranger = first.token(claims("mallory", &["orders:admin"]));
    let denied = call("/decode", Some(stranger.clone()), sealed.clone())
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let text = denied.text().await.unwrap();
    assert!(
        text.contains("`default:read`") && !text.contains("for readers"),
        "{text}"
    );

    let read_only_encode = call("/encode", Some(reader.clone()), body(&[plain("x")]))
        .await
        .unwrap();
    assert_eq!(
        read_only_encode.status(),
        StatusCode::FORBIDDEN,
        "encode needs write"
    );
    let writer = first.token(claims("bob", &["default:write"]));
    assert_eq!(
        call("/encode", Some(writer), body(&[plain("x")]))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let system = first.token(claims("ops", &["temporal-system:admin"]));
    assert_eq!(
        call("/decode", Some(system), sealed.clone())
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let no_token = call("/decode", None, sealed.clone()).await.unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(no_token.headers()["www-authenticate"], "Bearer");
    let mut expired = claims("alice", &["default:read"]);
    expired["exp"] = json!(now() - 3600);
    assert_eq!(
        call("/decode", Some(first.token(expired)), sealed.clone())
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let mut wrong_audience = claims("alice", &["default:read"]);
    wrong_audience["aud"] = json!("someone-else");
    let response = call("/decode", Some(first.token(wrong_audience)), sealed.clone())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await.unwrap().contains("audience"));
    let mut wrong_issuer = claims("alice", &["default:read"]);
    wrong_issuer["iss"] = json!("https://evil.test");
    assert_eq!(
        call("/decode", Some(first.token(wrong_issuer)), sealed.clone())
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims("alice", &["default:read"]),
        &EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    assert_eq!(
        call("/decode", Some(hs), sealed.clone())
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let forged = Signer::new("key-1").token(claims("alice", &["default:read"]));
    assert_eq!(
        call("/decode", Some(forged), sealed.clone())
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // The issuer rotates: a token under a new key id makes the server refetch the key set.
    tokio::time::sleep(engram_min_refetch()).await;
    let second = Signer::new("key-2");
    keys.lock().unwrap().push(second.jwk.clone());
    let rotated = call(
        "/decode",
        Some(second.token(claims("carol", &["default:read"]))),
        sealed.clone(),
    )
    .await
    .unwrap();
    assert_eq!(rotated.status(), StatusCode::OK);

    let lines = server.audit.lines();
    let denial = lines
        .iter()
        .find(|l| l["subject"] == "mallory")
        .expect("audit line for the denied token");
    assert_eq!(denial["outcome"], "denied");
    assert_eq!(denial["status"], 403);
    assert_eq!(denial["namespace"], "default");
    assert_eq!(denial["operation"], "decode");
    assert_eq!(denial["insecure_no_auth"], false);
    let allowed = lines.iter().find(|l| l["subject"] == "alice").unwrap();
    assert_eq!(allowed["outcome"], "ok");
    assert_eq!(lines.iter().filter(|l| l["outcome"] == "denied").count(), 8);
    let audit = server.audit.text();
    assert!(
        !audit.contains(&reader) && !audit.contains(&stranger),
        "a token leaked into the audit trail"
    );
}

/// The server refetches the key set at most this often.
fn engram_min_refetch() -> std::time::Duration {
    std::time::Duration::from_secs(10)
}
