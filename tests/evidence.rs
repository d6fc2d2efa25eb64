//! `engram evidence` against real parts: `temporal server start-dev` holding one workflow whose
//! input the Rust codec sealed and one whose input is plaintext, the `engram codec-server`
//! binary in `--insecure-no-auth` mode, and an in-process codec server that checks tokens over
//! TLS. The report names the plaintext payload by workflow id and event id without its content,
//! its hash verifies, the HTML loads nothing from elsewhere, and access control passes or fails
//! with the server's real answer.

mod codec_common;
mod codec_server_common;
#[path = "support/frontends.rs"]
mod frontends;
#[path = "support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use codec_server_common::issuer::{Issuer, Signer};
use codec_server_common::{Child, KeyringFiles, TestServer, body, plain, rustls_server, tls_files};
use engram::codec::Payload;
use engram::codec::server::Settings;
use engram::evidence::facts::codec_http::ProbeToken;
use engram::evidence::{Inputs, Report, Status, gather, render, verify};
use support::{TemporalDevServer, free_port, tool, wait_for_port};

const PLAIN_SECRET: &str = "PlainSecret-7731-evidence";
const SEALED_SECRET: &str = "SealedSecret-4410-evidence";

fn start_workflow(temporal: &TemporalDevServer, id: &str, extra: &[&str]) {
    let out = Command::new(tool("temporal"))
        .args(["workflow", "start", "--address", &temporal.address])
        .args(["--type", "Greet", "--task-queue", "evidence-no-worker"])
        .args(["--workflow-id", id])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "temporal workflow start {id}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Debian's Chromium, as `scripts/tools/chromium` installs it.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Headless Chromium loading `url` with a fresh profile in `dir` and nothing in the background;
/// `what` is `--dump-dom` or `--screenshot=<png>`. Returns stdout; panics when Chromium is
/// missing (with the command that installs it), fails, or takes over two minutes.
fn chromium(dir: &std::path::Path, what: &str, url: &str) -> String {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "Chromium is not installed at {CHROMIUM}; run `scripts/tools/chromium`"
    );
    let profile = tempfile::Builder::new()
        .prefix("chromium-profile")
        .tempdir_in(dir)
        .unwrap();
    let out = dir.join("chromium.out");
    let mut child = Child(
        Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1280,1100",
                "--virtual-time-budget=2000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(what)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let status = child
        .wait_timeout(Duration::from_secs(120))
        .expect("chromium finishes within two minutes");
    assert!(status.success(), "chromium {what} failed: {status}");
    std::fs::read_to_string(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_workflow_and_an_open_codec_server_fail_their_controls() {
    let files = KeyringFiles::create("default").await;
    let codec = files.codec(&files.document).await;
    let temporal = TemporalDevServer::start();

    let sealed = codec
        .encode_one(&Payload::new(
            "json/plain",
            format!("\"{SEALED_SECRET}\"").into_bytes(),
        ))
        .unwrap();
    let key_id = sealed
        .metadata_str("encryption-key-id")
        .unwrap()
        .to_string();
    let data = STANDARD.encode(&sealed.data);
    let key_meta = format!("encryption-key-id={key_id}");
    start_workflow(
        &temporal,
        "sealed-order",
        &[
            "--input-base64",
            "--input",
            &data,
            "--input-meta",
            "encoding=binary/encrypted",
            "--input-meta",
            &key_meta,
            "--input-meta",
            "encryption-namespace=default",
        ],
    );
    let plain_input = format!("\"{PLAIN_SECRET}\"");
    start_workflow(&temporal, "plain-order", &["--input", &plain_input]);

    // The codec server binary, open to anyone, with one request served.
    let port = free_port();
    let audit_file = files.dir.path().join("audit.jsonl");
    let _codec_server = Child(
        Command::new(env!("CARGO_BIN_EXE_engram"))
            .args(["codec-server", "--insecure-no-auth", "--kms", "local"])
            .arg("--local-key-file")
            .arg(&files.kek)
            .arg("--keyring")
            .arg(&files.keyring)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::fs::File::create(&audit_file).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, Duration::from_secs(20), "engram codec-server");
    let codec_url = format!("http://127.0.0.1:{port}");
    let served = reqwest::Client::new()
        .post(format!("{codec_url}/default/encode"))
        .header("content-type", "application/json")
        .header("x-namespace", "default")
        .body(body(&[plain("hello")]))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);

    let out_dir = files.dir.path().join("evidence");
    let output = Command::new(env!("CARGO_BIN_EXE_engram"))
        .args(["evidence", "--temporal-address", &temporal.address])
        .args(["--namespace", "default", "--keyring"])
        .arg(&files.keyring)
        .args([
            "--codec-url",
            &codec_url,
            "--sample-size",
            "10",
            "--audit-log",
        ])
        .arg(&audit_file)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failing control exits 1: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let json = std::fs::read_to_string(out_dir.join("report.json")).unwrap();
    assert!(
        verify(&json).unwrap(),
        "the stored report's sha256 verifies"
    );
    assert!(
        !verify(&json.replacen("plain-order", "plain-ordex", 1)).unwrap(),
        "an edited report does not verify"
    );
    let report: Report = serde_json::from_str(&json).unwrap();

    let at_rest = report.control("encryption-at-rest").unwrap();
    assert_eq!(at_rest.status, Status::Fail, "{at_rest:#?}");
    let offending: Vec<&str> = at_rest
        .facts
        .iter()
        .filter(|f| !f.holds)
        .map(|f| f.observed.as_str())
        .collect();
    assert_eq!(
        offending.len(),
        2,
        "the finding and the namespace line: {offending:#?}"
    );
    let finding = offending
        .iter()
        .find(|o| o.contains("workflow `plain-order`"))
        .expect("the plaintext workflow is named");
    assert!(finding.contains("event 1,"), "{finding}");
    assert!(
        finding.contains("not encrypted (encoding `json/plain`)"),
        "{finding}"
    );
    assert!(
        !at_rest
            .facts
            .iter()
            .any(|f| f.observed.contains("sealed-order")),
        "the sealed workflow is not a finding"
    );
    let namespace_line = offending
        .iter()
        .find(|o| o.starts_with("namespace `default`: 2 workflows sampled"))
        .expect("the namespace line");
    assert!(
        namespace_line.contains(&format!(
            "1 payloads encrypted under a current key (1 under `{key_id}`), 1 not"
        )),
        "{namespace_line}"
    );
    assert!(
        at_rest
            .facts
            .iter()
            .all(|f| f.method.contains(&temporal.address))
    );

    let access = report.control("access-control").unwrap();
    assert_eq!(access.status, Status::Fail, "{access:#?}");
    assert!(access.facts[0].observed.contains("answered HTTP"));
    assert!(!access.facts[0].observed.contains("HTTP 401"));
    let audit = report.control("audit").unwrap();
    assert_eq!(audit.status, Status::Pass, "{audit:#?}");
    assert!(
        audit.facts.iter().any(|f| f.holds
            && f.observed.contains("encode/ok: 1")
            && f.observed.contains("written in --insecure-no-auth mode")),
        "{audit:#?}"
    );
    assert!(
        audit.facts.iter().any(|f| f
            .observed
            .starts_with("1 decode audit lines for 1 decode requests")),
        "the access-control probe is the one decode: {audit:#?}"
    );
    let key_management = report.control("key-management").unwrap();
    assert!(
        key_management
            .facts
            .iter()
            .any(|f| f.holds && f.method == format!("GET {codec_url}/readyz")),
        "{key_management:#?}"
    );
    let in_transit = report.control("encryption-in-transit").unwrap();
    assert_eq!(
        in_transit.status,
        Status::Fail,
        "plain http and a plaintext frontend"
    );
    assert!(
        in_transit
            .facts
            .iter()
            .any(|f| f.observed.contains("plain TCP"))
    );
    assert_eq!(report.control("key-rotation").unwrap().status, Status::Pass);
    // A local key file is no customer-managed key.
    assert_eq!(
        report.control("key-management").unwrap().status,
        Status::Fail
    );

    // No payload content, no key material in any form of the report.
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    let kek = std::fs::read(&files.kek).unwrap();
    let wrapped = STANDARD.encode(&files.document.keys[0].wrapped.ciphertext);
    for text in [&json, &md, &html] {
        assert!(!text.contains(PLAIN_SECRET) && !text.contains(SEALED_SECRET));
        assert!(!text.contains(&STANDARD.encode(&plain_input)));
        assert!(!text.contains(&data));
        assert!(!text.contains(&wrapped));
        assert!(!text.contains(&STANDARD.encode(&kek)));
    }
    assert!(md.contains("| Control | NIST AI RMF | AI-SEC-01 | Status | Summary |"));

    // The HTML page is self-contained: no script, no stylesheet or image from elsewhere, links
    // only within the page.
    assert!(html.contains("<table id=\"summary\">"));
    for banned in ["<script", "<link", "<img", "src=", "url(", "@import"] {
        assert!(!html.contains(banned), "the page has {banned}");
    }
    for href in html.split("href=\"").skip(1) {
        assert!(href.starts_with('#'), "a link out of the page: {href:.40}");
    }
    // The page as a browser renders it: the summary table with one row per control.
    let page = format!("file://{}", out_dir.join("report.html").display());
    let dom = chromium(files.dir.path(), "--dump-dom", &page);
    let summary = dom
        .split("<table id=\"summary\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("the rendered page has the summary table");
    assert_eq!(summary.matches("<tr>").count(), 1 + report.controls.len());
    assert!(summary.contains("<td class=\"fail\">fail</td>"));
    assert!(summary.contains("<td class=\"pass\">pass</td>"));
    let artifacts = support::repo_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join("security-evidence-report.png");
    chromium(
        files.dir.path(),
        &format!("--screenshot={}", png.display()),
        &page,
    );
    assert!(
        std::fs::metadata(&png).unwrap().len() > 1000,
        "a screenshot was taken"
    );

    assert!(
        stdout.contains("fail         encryption-at-rest"),
        "{stdout}"
    );

    // An audit trail that misses the decode traffic the metrics count fails the audit control.
    let empty = files.dir.path().join("empty-audit.jsonl");
    std::fs::write(&empty, "").unwrap();
    let report = gather(&Inputs {
        codec_url: Some(codec_url.clone()),
        audit_log: Some(empty),
        ..Inputs::default()
    })
    .await;
    let audit = report.control("audit").unwrap();
    assert_eq!(audit.status, Status::Fail, "{audit:#?}");
    assert!(
        audit
            .facts
            .iter()
            .any(|f| !f.holds && f.observed.contains("decode traffic without audit lines")),
        "{audit:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_checking_codec_server_over_tls_passes_access_control_and_in_transit() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let signer = Signer::new("key-1");
    let issuer_dir = tempfile::tempdir().unwrap();
    let (issuer_cert, issuer_key, issuer_ca) = tls_files(issuer_dir.path());
    let issuer_ca_file = issuer_dir.path().join("issuer-ca.pem");
    std::fs::write(&issuer_ca_file, issuer_ca).unwrap();
    let issuer = Issuer::start_with(
        vec![signer.jwk.clone()],
        Some(rustls_server(&issuer_cert, &issuer_key)),
    )
    .await;

    let files = KeyringFiles::create("default").await;
    let (cert, key, ca_pem) = tls_files(files.dir.path());
    let server = TestServer::start(Settings {
        insecure_no_auth: false,
        jwks_url: Some(issuer.jwks_url()),
        jwks_ca_cert: Some(issuer_ca_file),
        jwt_issuer: Some("https://idp.test".into()),
        jwt_audiences: vec!["engram-codec".into()],
        tls_cert: Some(cert),
        tls_key: Some(key),
        ..files.settings()
    })
    .await;
    assert!(server.base.starts_with("https://"));

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let stranger = signer.token(serde_json::json!({
        "sub": "mallory", "iss": "https://idp.test", "aud": "engram-codec",
        "exp": now + 300, "iat": now, "permissions": ["orders:admin"],
    }));
    let report = gather(&Inputs {
        codec_url: Some(server.base.clone()),
        ca_pem: Some(ca_pem),
        probe_token: Some(ProbeToken::new(stranger.clone(), "default".into())),
        ..Inputs::default()
    })
    .await;
    let access = report.control("access-control").unwrap();
    assert_eq!(access.status, Status::Pass, "{access:#?}");
    assert!(access.facts[0].observed.contains("HTTP 401"));
    assert!(
        access.facts[1].observed.contains(
            "namespace `default` with a token that holds no right on it was answered HTTP 403"
        ),
        "{access:#?}"
    );
    assert!(
        !report.to_json().contains(&stranger),
        "the token is not in the report"
    );
    assert!(!render::html(&report).contains(&stranger[..20]));
    assert!(
        access.facts[0]
            .method
            .starts_with(&format!("POST {}/default/decode", server.base))
    );

    let in_transit = report.control("encryption-in-transit").unwrap();
    assert_eq!(in_transit.status, Status::Pass, "{in_transit:#?}");
    let observed: Vec<&str> = in_transit
        .facts
        .iter()
        .map(|f| f.observed.as_str())
        .collect();
    assert!(
        observed
            .iter()
            .any(|o| o.contains("accepts TLS 1.3; certificate verified"))
    );
    assert!(observed.iter().any(|o| o.contains("certificate expires")));
    assert!(
        observed
            .iter()
            .any(|o| o.contains("not offered by the checker"))
    );

    // Without a keyring or a frontend those controls are not checked, and none is passed by
    // default.
    for id in ["encryption-at-rest", "key-management", "key-rotation"] {
        assert_eq!(
            report.control(id).unwrap().status,
            Status::NotChecked,
            "{id}"
        );
    }
    assert!(verify(&report.to_json()).unwrap());
    server.stop().await;

    // The hash rule as docs/guides/security-evidence.md states it, run by another implementation.
    let stored = files.dir.path().join("report.json");
    std::fs::write(&stored, report.to_json()).unwrap();
    let python = Command::new("python3")
        .arg("-c")
        .arg(
            "import hashlib, json, sys\n\
report = json.load(open(sys.argv[1]))\n\
stated = report.pop('sha256')\n\
canonical = json.dumps(report, sort_keys=True, separators=(',', ':'), ensure_ascii=False)\n\
sys.exit(0 if hashlib.sha256(canonical.encode()).hexdigest() == stated else 1)",
        )
        .arg(&stored)
        .status()
        .expect("python3 runs (apt-get install python3)");
    assert!(
        python.success(),
        "the documented hash rule reproduces sha256"
    );
}

#[tokio::test]
async fn a_keyring_past_its_rotation_date_fails_rotation() {
    let files = KeyringFiles::create("default").await;
    let mut document = files.document.clone();
    let hundred_days = 100 * 86_400;
    for key in &mut document.keys {
        key.created_unix_seconds -= hundred_days;
        key.activates_unix_seconds -= hundred_days;
    }
    let report = gather(&Inputs {
        keyring: Some((document, "keyring.json".into())),
        ..Inputs::default()
    })
    .await;
    let rotation = report.control("key-rotation").unwrap();
    assert_eq!(rotation.status, Status::Fail, "{rotation:#?}");
    assert!(rotation.summary.starts_with("rotation is overdue since"));
    assert!(
        rotation
            .facts
            .iter()
            .any(|f| !f.holds && f.observed.contains("overdue by 10 days")),
        "{rotation:#?}"
    );
}

#[tokio::test]
async fn an_unreachable_codec_server_fails_naming_the_address() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let report = gather(&Inputs {
        codec_url: Some(url.clone()),
        ..Inputs::default()
    })
    .await;
    for id in ["access-control", "audit"] {
        let c = report.control(id).unwrap();
        assert_eq!(c.status, Status::Fail, "{id}");
        assert!(c.facts[0].observed.contains(&url), "{:?}", c.facts[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kms_describes_the_customer_key_the_keyring_names() {
    let bao = codec_common::openbao::OpenBao::start().await;
    bao.create_key("evidence").await;
    let files = KeyringFiles::create("default").await;
    let mut document = files.document.clone();
    document.customer_key = Some(engram::codec::CustomerKeyLocation {
        backend: "vault_transit".into(),
        settings: [
            ("address".to_string(), bao.address.clone()),
            ("mount".to_string(), "transit".to_string()),
            ("key_name".to_string(), "evidence".to_string()),
        ]
        .into_iter()
        .collect(),
    });
    let token = codec_common::openbao::ROOT_TOKEN;
    let report = gather(&Inputs {
        keyring: Some((document.clone(), "keyring.json".into())),
        describe_customer_key: true,
        vault_token: Some(engram::kms::SecretBytes::new(token.as_bytes().to_vec())),
        ..Inputs::default()
    })
    .await;
    let key_management = report.control("key-management").unwrap();
    assert_eq!(key_management.status, Status::Pass, "{key_management:#?}");
    let described = key_management
        .facts
        .iter()
        .find(|f| f.method.starts_with("KeyProvider::describe_key"))
        .expect("the KMS was asked");
    assert!(
        described.observed.contains("enabled, newest version 1"),
        "{described:?}"
    );
    assert!(
        !report.to_json().contains(token),
        "the Vault token is not in the report"
    );

    // Without a token the KMS is not asked, and the report says why instead of passing on it.
    let report = gather(&Inputs {
        keyring: Some((document, "keyring.json".into())),
        describe_customer_key: true,
        ..Inputs::default()
    })
    .await;
    let key_management = report.control("key-management").unwrap();
    assert!(
        key_management
            .summary
            .contains("the KMS was not asked: describing a vault_transit key needs VAULT_TOKEN"),
        "{key_management:#?}"
    );
    assert!(
        !key_management
            .facts
            .iter()
            .any(|f| f.method.starts_with("KeyProvider::describe_key"))
    );
}

/// A TLS server on 127.0.0.1 that completes handshakes (and nothing else) with `config`.
async fn handshake_server(config: rustls::ServerConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    address
}

fn server_config(
    versions: &[&'static rustls::SupportedProtocolVersion],
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> rustls::ServerConfig {
    rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap()
}

#[tokio::test]
async fn handshakes_show_which_versions_an_endpoint_accepts_and_an_expired_certificate() {
    use engram::evidence::facts::tls::{Target, encryption_in_transit};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    // TLS 1.3 only, a certificate from a CA the checker is given: a pass that says 1.2 is refused.
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca_pem) = tls_files(dir.path());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let only13 = handshake_server(server_config(
        &[&rustls::version::TLS13],
        chain,
        PrivateKeyDer::from_pem_file(&key).unwrap(),
    ))
    .await;
    let now = engram::codec::clock::now_unix();
    let target = Target {
        role: "codec server".into(),
        address: only13.clone(),
        plaintext: false,
        ca_pem: Some(ca_pem),
    };
    let control = encryption_in_transit(std::slice::from_ref(&target), now).await;
    assert_eq!(control.status, Status::Pass, "{control:#?}");
    assert!(
        control.facts.iter().any(
            |f| f.observed.starts_with("the codec server refuses TLS 1.2")
                && f.method.contains("only TLS 1.2")
        ),
        "{control:#?}"
    );

    // A self-signed certificate that expired, and no CA: two findings, nothing claimed verified.
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".into()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let expired = params.self_signed(&key_pair).unwrap();
    let old = handshake_server(server_config(
        &[&rustls::version::TLS13, &rustls::version::TLS12],
        vec![expired.der().clone()],
        PrivateKeyDer::try_from(key_pair.serialize_der()).unwrap(),
    ))
    .await;
    let control = encryption_in_transit(
        &[Target {
            role: "Temporal frontend".into(),
            address: old,
            plaintext: false,
            ca_pem: None,
        }],
        now,
    )
    .await;
    assert_eq!(control.status, Status::Fail);
    let failing: Vec<&str> = control
        .facts
        .iter()
        .filter(|f| !f.holds)
        .map(|f| f.observed.as_str())
        .collect();
    assert_eq!(failing.len(), 2, "{failing:#?}");
    assert!(failing[0].contains("certificate chain not verified (no CA given)"));
    assert!(failing[1].contains("expires 2021-01-01T00:00:00Z: it has expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_plaintext_workflow_is_found_besides_the_newest() {
    use engram::evidence::facts::at_rest::Sampling;
    let files = KeyringFiles::create("default").await;
    let codec = files.codec(&files.document).await;
    let temporal = TemporalDevServer::start();
    start_workflow(&temporal, "old-plain", &["--input", "\"an old order\""]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sealed = codec
        .encode_one(&Payload::new("json/plain", b"\"new\"".to_vec()))
        .unwrap();
    let data = STANDARD.encode(&sealed.data);
    let key_meta = format!(
        "encryption-key-id={}",
        sealed.metadata_str("encryption-key-id").unwrap()
    );
    for id in ["new-sealed-1", "new-sealed-2"] {
        start_workflow(
            &temporal,
            id,
            &[
                "--input-base64",
                "--input",
                &data,
                "--input-meta",
                "encoding=binary/encrypted",
                "--input-meta",
                &key_meta,
                "--input-meta",
                "encryption-namespace=default",
            ],
        );
    }
    let inputs = |older_per_age| Inputs {
        temporal: Some(engram::temporal::TemporalEndpoint {
            address: temporal.address.clone(),
            ..Default::default()
        }),
        namespaces: vec!["default".into()],
        keyring: Some((files.document.clone(), "keyring.json".into())),
        sampling: Sampling {
            workflows_per_namespace: 2,
            older_ages_seconds: &[2],
            older_per_age,
            ..Sampling::default()
        },
        ..Inputs::default()
    };

    let newest_only = gather(&inputs(0)).await;
    let at_rest = newest_only.control("encryption-at-rest").unwrap();
    assert_eq!(at_rest.status, Status::Pass, "{at_rest:#?}");
    assert!(
        at_rest.facts[0]
            .observed
            .contains("2 workflows sampled (2 newest, 0 older")
    );

    let with_older = gather(&inputs(5)).await;
    let at_rest = with_older.control("encryption-at-rest").unwrap();
    assert_eq!(at_rest.status, Status::Fail, "{at_rest:#?}");
    assert!(
        at_rest.facts.iter().any(|f| !f.holds
            && f.observed.contains("workflow `old-plain`")
            && f.observed.contains("not encrypted")),
        "{at_rest:#?}"
    );
    assert!(
        at_rest.facts.iter().any(|f| f
            .observed
            .contains("3 workflows sampled (2 newest, 1 older")),
        "{at_rest:#?}"
    );
    assert!(
        at_rest
            .facts
            .iter()
            .any(|f| f.method.contains("query=StartTime < \"")),
        "{at_rest:#?}"
    );
}

/// Azure Key Vault and Cloud KMS are not reachable from here: STUB servers in their documented
/// response shapes (tests/codec_common/stub.rs) stand in for them and for their token endpoints,
/// so this proves what the check asks and how it reads the answer, not the real services.
#[tokio::test]
async fn azure_and_gcp_customer_keys_are_described_through_stand_ins() {
    use codec_common::stub::{GCP_KEY, Stub, azure_stub_answer, gcp_stub_answer};
    let files = KeyringFiles::create("default").await;
    let located = |backend: &str, settings: &[(&str, &str)]| {
        let mut document = files.document.clone();
        document.customer_key = Some(engram::codec::CustomerKeyLocation {
            backend: backend.into(),
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
        document
    };
    let described = |report: &Report| {
        let key_management = report.control("key-management").unwrap().clone();
        let fact = key_management
            .facts
            .iter()
            .find(|f| f.method.starts_with("KeyProvider::describe_key"))
            .cloned()
            .unwrap_or_else(|| panic!("the KMS was asked: {key_management:#?}"));
        (key_management.status, fact)
    };

    let azure = Stub::start_https(azure_stub_answer).await;
    let token_file = files.dir.path().join("federated-token");
    std::fs::write(&token_file, "federated-jwt").unwrap();
    let azure_env: std::collections::BTreeMap<String, String> = [
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        ("AZURE_TENANT_ID", "tenant-1".into()),
        ("AZURE_CLIENT_ID", "client-1".into()),
        ("AZURE_AUTHORITY_HOST", azure.base_url.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let document = located(
        "azure_key_vault",
        &[("vault_url", &azure.base_url), ("key_name", "engram")],
    );
    let report = gather(&Inputs {
        keyring: Some((document.clone(), "keyring.json".into())),
        describe_customer_key: true,
        kms_environment: azure_env.clone(),
        ..Inputs::default()
    })
    .await;
    let (status, fact) = described(&report);
    assert!(
        fact.holds
            && fact.observed.contains(
                "key `https://stub.vault.azure.net/keys/engram/v7` enabled, newest version v7"
            ),
        "{fact:?}"
    );
    assert_ne!(status, Status::Fail);
    let requests = azure.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.method == "GET" && r.target == "/keys/engram?api-version=7.4"),
        "{requests:#?}"
    );
    assert!(!report.to_json().contains("entra-token"));
    assert!(!report.to_json().contains("federated-jwt"));

    // A disabled key fails key management.
    let disabled = Stub::start_https(|request| {
        if request.target == "/keys/engram?api-version=7.4" {
            return (
                200,
                serde_json::json!({"key": {"kid": "https://stub.vault.azure.net/keys/engram/v7"}, "attributes": {"enabled": false}}).to_string(),
            );
        }
        azure_stub_answer(request)
    })
    .await;
    let mut env = azure_env;
    env.insert("AZURE_AUTHORITY_HOST".into(), disabled.base_url.clone());
    let report = gather(&Inputs {
        keyring: Some((
            located(
                "azure_key_vault",
                &[("vault_url", &disabled.base_url), ("key_name", "engram")],
            ),
            "keyring.json".into(),
        )),
        describe_customer_key: true,
        kms_environment: env,
        ..Inputs::default()
    })
    .await;
    let (status, fact) = described(&report);
    assert_eq!(status, Status::Fail);
    assert!(
        !fact.holds && fact.observed.contains("disabled"),
        "{fact:?}"
    );

    let google = Stub::start(gcp_stub_answer).await;
    let host = google.base_url.trim_start_matches("http://").to_string();
    let report = gather(&Inputs {
        keyring: Some((
            located(
                "gcp_kms",
                &[("key_name", GCP_KEY), ("endpoint", &google.base_url)],
            ),
            "keyring.json".into(),
        )),
        describe_customer_key: true,
        kms_environment: [("GCE_METADATA_HOST".to_string(), host)].into(),
        ..Inputs::default()
    })
    .await;
    let (_, fact) = described(&report);
    assert!(
        fact.holds
            && fact
                .observed
                .contains(&format!("key `{GCP_KEY}` enabled, newest version 3")),
        "{fact:?}"
    );
    assert!(!report.to_json().contains("gke-token"));
}

/// With authorization on at the frontend, `engram evidence` without a token is refused, and the
/// finding says where a token goes; with TEMPORAL_API_KEY the same run reads the workflows. The
/// token is in neither the report nor the output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frontend_with_authorization_on_is_read_with_temporal_api_key() {
    const TOKEN: &str = "evidence-reader-token-5521";
    let files = KeyringFiles::create("default").await;
    let temporal = TemporalDevServer::start();
    start_workflow(&temporal, "plain-order", &["--input", "\"plain\""]);
    let front = frontends::AuthorizingFrontend::start(&temporal.address, TOKEN);

    let evidence = |key: Option<&str>, out: &str| {
        let out_dir = files.dir.path().join(out);
        let mut command = Command::new(env!("CARGO_BIN_EXE_engram"));
        command
            .args(["evidence", "--temporal-address", &front.address])
            .args(["--namespace", "default", "--keyring"])
            .arg(&files.keyring)
            .arg("--out")
            .arg(&out_dir)
            .env_remove("TEMPORAL_API_KEY");
        if let Some(key) = key {
            command.env("TEMPORAL_API_KEY", key);
        }
        let output = command.output().unwrap();
        let json = std::fs::read_to_string(out_dir.join("report.json")).unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!json.contains(TOKEN) && !printed.contains(TOKEN));
        let report: Report = serde_json::from_str(&json).unwrap();
        report.control("encryption-at-rest").unwrap().clone()
    };

    let refused = evidence(None, "without-key");
    assert_eq!(refused.status, Status::Fail, "{refused:#?}");
    let refusal = refused
        .facts
        .iter()
        .find(|f| f.observed.contains("Request unauthorized."))
        .unwrap_or_else(|| panic!("the refusal is a finding: {refused:#?}"));
    assert!(
        refusal
            .observed
            .contains("TEMPORAL_API_KEY for the provider and `engram evidence`"),
        "{}",
        refusal.observed
    );
    assert!(front.refused() > 0);

    let read = evidence(Some(TOKEN), "with-key");
    assert!(
        read.facts
            .iter()
            .all(|f| !f.observed.contains("Request unauthorized.")),
        "{read:#?}"
    );
    assert!(
        read.facts
            .iter()
            .any(|f| f.observed.contains("workflow `plain-order`")),
        "the workflows were read: {read:#?}"
    );
}
