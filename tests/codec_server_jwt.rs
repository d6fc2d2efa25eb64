//! Authorization over HTTPS: the server (TLS from PEM files) verifies bearer JWTs against a JWKS
//! that a stand-in issuer serves on 127.0.0.1 (over TLS from a private CA, trusted with
//! `--jwks-ca-cert`), and checks Temporal-style `<namespace>:<role>` permissions. A token without
//! the namespace permission gets 403 and an audit line with outcome `denied`.
//!
//! And an issuer that misbehaves: one that answers 500 or garbage is asked at most once per
//! refetch interval however many unknown key ids arrive; one that hangs holds up only the checks
//! that need it; through an outage, cached keys verify tokens for the grace period, the outage
//! is logged once; a redirect to another host is not followed.

mod codec_server_common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use codec_server_common::issuer::{Issuer, Mode, Signer};
use codec_server_common::{KeyringFiles, TestServer, body, plain, rustls_server, tls_files};
use engram::codec::server::Settings;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ISSUER: &str = "https://idp.test";
const AUDIENCE: &str = "engram-codec";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(sub: &str, permissions: &[&str]) -> Value {
    json!({"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 300, "iat": now(), "permissions": permissions})
}

/// A codec server with tokens, its client, and a ciphertext it can decode.
struct Secured {
    server: TestServer,
    client: reqwest::Client,
    sealed: String,
    _files: KeyringFiles,
}

impl Secured {
    /// A server verifying tokens against `jwks_url`, over its own TLS; `tweak` adjusts settings.
    async fn start(jwks_url: String, tweak: impl FnOnce(Settings) -> Settings) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let files = KeyringFiles::create("default").await;
        let worker = files.codec(&files.document).await;
        let (cert, key, ca_pem) = tls_files(files.dir.path());
        let settings = Settings {
            insecure_no_auth: false,
            jwks_url: Some(jwks_url),
            jwt_issuer: Some(ISSUER.into()),
            jwt_audiences: vec![AUDIENCE.into()],
            tls_cert: Some(cert),
            tls_key: Some(key),
            ..files.settings()
        };
        let server = TestServer::start(tweak(settings)).await;
        assert!(server.base.starts_with("https://"));
        // Idle connections are dropped before the server's keep-alive limit (the header timeout)
        // closes them, so no request races a closing connection.
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let sealed = body(&worker.encode(vec![plain("for readers only")]).unwrap());
        Self {
            server,
            client,
            sealed,
            _files: files,
        }
    }

    async fn call(&self, path: &str, token: Option<&str>, payload: &str) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.server.base))
            .header("X-Namespace", "default")
            .body(payload.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    async fn decode(&self, token: &str) -> StatusCode {
        self.call("/decode", Some(token), &self.sealed)
            .await
            .status()
    }
}

/// A stand-in issuer over TLS from its own CA, and that CA's file for `--jwks-ca-cert`.
async fn tls_issuer(keys: Vec<Value>) -> (Issuer, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca_pem) = tls_files(dir.path());
    let ca = dir.path().join("issuer-ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let issuer = Issuer::start_with(keys, Some(rustls_server(&cert, &key))).await;
    (issuer, dir, ca)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_verified_and_permissions_enforced_with_denials_audited() {
    let first = Signer::new("key-1");
    let (issuer, _issuer_dir, ca) = tls_issuer(vec![first.jwk.clone()]).await;
    assert!(issuer.base.starts_with("https://"));
    let secured = Secured::start(issuer.jwks_url(), |s| Settings {
        jwks_ca_cert: Some(ca),
        ..s
    })
    .await;
    let server = &secured.server;
    let sealed = secured.sealed.clone();

    let reader = first.token(claims("alice", &["default:read"]));
    let ok = secured.call("/decode", Some(&reader), &sealed).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.text().await.unwrap().contains(&base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "\"for readers only\""
    )));

    let stranger = first.token(claims("mallory", &["orders:admin"]));
    let denied = secured.call("/decode", Some(&stranger), &sealed).await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let text = denied.text().await.unwrap();
    assert!(
        text.contains("`default:read`") && !text.contains("for readers"),
        "{text}"
    );

    let read_only_encode = secured
        .call("/encode", Some(&reader), &body(&[plain("x")]))
        .await;
    assert_eq!(
        read_only_encode.status(),
        StatusCode::FORBIDDEN,
        "encode needs write"
    );
    let writer = first.token(claims("bob", &["default:write"]));
    assert_eq!(
        secured
            .call("/encode", Some(&writer), &body(&[plain("x")]))
            .await
            .status(),
        StatusCode::OK
    );
    let system = first.token(claims("ops", &["temporal-system:admin"]));
    assert_eq!(secured.decode(&system).await, StatusCode::OK);

    let no_token = secured.call("/decode", None, &sealed).await;
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(no_token.headers()["www-authenticate"], "Bearer");
    let mut expired = claims("alice", &["default:read"]);
    expired["exp"] = json!(now() - 3600);
    assert_eq!(
        secured.decode(&first.token(expired)).await,
        StatusCode::UNAUTHORIZED
    );
    let mut wrong_audience = claims("alice", &["default:read"]);
    wrong_audience["aud"] = json!("someone-else");
    let response = secured
        .call("/decode", Some(&first.token(wrong_audience)), &sealed)
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await.unwrap().contains("audience"));
    let mut wrong_issuer = claims("alice", &["default:read"]);
    wrong_issuer["iss"] = json!("https://evil.test");
    assert_eq!(
        secured.decode(&first.token(wrong_issuer)).await,
        StatusCode::UNAUTHORIZED
    );
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims("alice", &["default:read"]),
        &EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    assert_eq!(secured.decode(&hs).await, StatusCode::UNAUTHORIZED);
    let forged = Signer::new("key-1").token(claims("alice", &["default:read"]));
    assert_eq!(secured.decode(&forged).await, StatusCode::UNAUTHORIZED);
    let odd_kid = first.token_naming("card-4111111111111111", claims("alice", &[]));
    let response = secured.call("/decode", Some(&odd_kid), &sealed).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("key id") && !text.contains("4111"),
        "the token's key id is not quoted: {text}"
    );

    // The issuer rotates: a token under a new key id makes the server refetch the key set.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let second = Signer::new("key-2");
    issuer.keys.lock().unwrap().push(second.jwk.clone());
    let rotated = second.token(claims("carol", &["default:read"]));
    assert_eq!(secured.decode(&rotated).await, StatusCode::OK);

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
    assert_eq!(lines.iter().filter(|l| l["outcome"] == "denied").count(), 9);
    assert!(!server.audit.text().contains("4111"));
    let audit = server.audit.text();
    assert!(
        !audit.contains(&reader) && !audit.contains(&stranger),
        "a token leaked into the audit trail"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_that_fails_or_answers_garbage_is_asked_once_per_refetch_interval() {
    let signer = Signer::new("key-1");
    for mode in [Mode::Fail, Mode::Garbage] {
        let issuer = Issuer::start(vec![signer.jwk.clone()]).await;
        issuer.set_mode(mode.clone());
        let secured = Secured::start(issuer.jwks_url(), |s| Settings {
            insecure_jwks_http: true,
            ..s
        })
        .await;
        for i in 0..20 {
            let token = signer.token_naming(&format!("forged-{i}"), claims("mallory", &[]));
            let status = secured.decode(&token).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{mode:?}");
        }
        assert_eq!(
            issuer.requests(),
            1,
            "{mode:?}: one fetch attempt for twenty unknown key ids within ten seconds"
        );
        let metrics = secured
            .client
            .get(format!("{}/metrics", secured.server.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("engram_codec_jwks_fetches_total{result=\"failed\"} 1"),
            "{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_issuer_holds_up_only_the_checks_that_need_it_and_only_one_fetch_runs() {
    let signer = Signer::new("key-1");
    let issuer = Issuer::start(vec![signer.jwk.clone()]).await;
    let secured = Arc::new(
        Secured::start(issuer.jwks_url(), |s| Settings {
            insecure_jwks_http: true,
            jwks_timeout_seconds: Some(120),
            ..s
        })
        .await,
    );
    let known = signer.token(claims("alice", &["default:read"]));
    assert_eq!(secured.decode(&known).await, StatusCode::OK);
    assert_eq!(issuer.requests(), 1);

    issuer.set_mode(Mode::Hang);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let mut waiting = Vec::new();
    for i in 0..5 {
        let secured = secured.clone();
        let token = signer.token_naming(&format!("new-{i}"), claims("bob", &["default:read"]));
        waiting.push(tokio::spawn(async move { secured.decode(&token).await }));
    }
    while issuer.hanging() == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The fetch hangs; a token whose key is cached is checked without waiting for it.
    assert_eq!(secured.decode(&known).await, StatusCode::OK);
    assert_eq!(
        issuer.hanging(),
        1,
        "the check was answered while the fetch was still in flight"
    );
    assert_eq!(issuer.requests(), 2, "five unknown key ids, one fetch");
    issuer.release();
    for waiter in waiting {
        let status = waiter.await.unwrap();
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::SERVICE_UNAVAILABLE,
            "{status}"
        );
    }
}

/// Log lines written while it is installed on this thread.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    fn count(&self, text: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .matches(text)
            .count()
    }
}

// One runtime thread, so the server's tasks log to this thread's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn cached_keys_serve_through_an_outage_for_the_grace_period_and_it_is_logged_once() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let signer = Signer::new("key-1");
    let issuer = Issuer::start(vec![signer.jwk.clone()]).await;
    let secured = Secured::start(issuer.jwks_url(), |s| Settings {
        insecure_jwks_http: true,
        jwks_max_age_seconds: Some(1),
        jwks_grace_seconds: Some(8),
        ..s
    })
    .await;
    let token = signer.token(claims("alice", &["default:read"]));
    assert_eq!(secured.decode(&token).await, StatusCode::OK);

    issuer.set_mode(Mode::Fail);
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            secured.decode(&token).await,
            StatusCode::OK,
            "cached keys serve within the grace period"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(issuer.requests() >= 3, "refetched in the background");
    assert_eq!(
        logs.count("cannot fetch the issuer's signing keys"),
        1,
        "the outage is logged once"
    );

    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        secured.decode(&token).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "past the grace period"
    );
    assert_eq!(logs.count("past their grace period"), 1);

    issuer.set_mode(Mode::Keys);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(secured.decode(&token).await, StatusCode::OK);
    assert_eq!(logs.count("outage over"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_is_not_followed() {
    let signer = Signer::new("key-1");
    let elsewhere = Issuer::start(vec![signer.jwk.clone()]).await;
    let redirecting = Issuer::start(Vec::new()).await;
    let other_host = elsewhere.jwks_url().replace("127.0.0.1", "localhost");
    redirecting.set_mode(Mode::Redirect(other_host));
    let secured = Secured::start(redirecting.jwks_url(), |s| Settings {
        insecure_jwks_http: true,
        ..s
    })
    .await;
    let token = signer.token(claims("alice", &["default:read"]));
    assert_eq!(
        secured.decode(&token).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(redirecting.requests(), 1);
    assert_eq!(elsewhere.requests(), 0, "the other host was never asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_reader_cannot_decode_another_namespaces_payloads_by_any_path_or_header() {
    let signer = Signer::new("key-1");
    let (issuer, _issuer_dir, ca) = tls_issuer(vec![signer.jwk.clone()]).await;
    let secured = Secured::start(issuer.jwks_url(), |s| Settings {
        jwks_ca_cert: Some(ca),
        ..s
    })
    .await;
    // The payload is sealed for `default` under the default keyring, which `sandbox` shares.
    let token = signer.token(claims("sandy", &["sandbox:read"]));
    let attempts = [
        ("/sandbox/decode", None),
        ("/decode", Some("sandbox")),
        ("/sandbox/decode", Some("sandbox")),
        ("/default/decode", None),
        ("/decode", Some("default")),
        ("/sandbox/decode", Some("default")),
        ("/decode", None),
    ];
    for (path, header) in attempts {
        let mut request = secured
            .client
            .post(format!("{}{path}", secured.server.base))
            .bearer_auth(&token)
            .body(secured.sealed.clone());
        if let Some(namespace) = header {
            request = request.header("X-Namespace", namespace);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            [
                StatusCode::BAD_REQUEST,
                StatusCode::FORBIDDEN,
                StatusCode::UNPROCESSABLE_ENTITY
            ]
            .contains(&status),
            "{path} with X-Namespace {header:?}: {status} {text}"
        );
        assert!(!text.contains("for readers only"), "{text}");
    }
    let lines = secured.server.audit.lines();
    let refused: Vec<&Value> = lines
        .iter()
        .filter(|l| l["namespace"] == "sandbox" && l["status"] == 403)
        .collect();
    assert_eq!(refused.len(), 3, "{lines:?}");
    for line in refused {
        let error = line["error"].as_str().unwrap();
        assert!(
            error.contains("sealed for namespace `default`, not `sandbox`"),
            "{error}"
        );
    }
}
