//! The codec server's protocol over real HTTP on 127.0.0.1: encode and decode, namespaces,
//! every kind of bad request with its status and message, CORS, the audit trail, operations
//! endpoints, keyring reload; and hostile requests: bodies that amplify, bodies that never
//! arrive, quoted content, HTTP/2 where HTTP/1.1 was negotiated, DNS-rebinding shapes, an audit
//! trail that cannot be written.

mod codec_server_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use codec_server_common::{
    FailingWriter, GatedWriter, KeyringFiles, TestServer, body, payloads, plain, raw_exchange,
    read_head, tls_files,
};
use engram::codec::server::Settings;
use engram::codec::{KeyId, Payload};
use engram::kms::local::LocalKeyFile;
use reqwest::StatusCode;
use serde_json::Value;

async fn post(url: &str, body: String) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-namespace", "default")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn message(response: reqwest::Response) -> String {
    let json: Value = response.json().await.unwrap();
    json["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn encode_then_decode_round_trips_on_every_path() {
    let files = KeyringFiles::create("default").await;
    let server = TestServer::start(files.settings()).await;
    let original = vec![plain("card 4111"), Payload::new("binary/null", Vec::new())];
    let encoded = post(&format!("{}/encode", server.base), body(&original)).await;
    assert_eq!(encoded.status(), StatusCode::OK);
    let encoded = payloads(&encoded.text().await.unwrap());
    assert_eq!(encoded.len(), 2);
    for p in &encoded {
        assert_eq!(p.metadata_str("encoding"), Some("binary/encrypted"));
        assert!(!String::from_utf8_lossy(&p.data).contains("4111"));
    }
    for path in [
        "/decode",
        "/default/decode",
        "/decode?preserveStorageRefs=true",
        "/default/decode?preserveStorageRefs=true",
    ] {
        let decoded = post(&format!("{}{path}", server.base), body(&encoded)).await;
        assert_eq!(decoded.status(), StatusCode::OK, "{path}");
        assert_eq!(payloads(&decoded.text().await.unwrap()), original, "{path}");
    }
    let via_path = post(&format!("{}/default/encode", server.base), body(&original)).await;
    assert_eq!(via_path.status(), StatusCode::OK);
}

#[tokio::test]
async fn decodes_what_a_worker_encrypted_and_passes_plain_payloads_through() {
    let files = KeyringFiles::create("default").await;
    let worker = files.codec(&files.document).await;
    let server = TestServer::start(files.settings()).await;
    let sealed = worker.encode(vec![plain("from the worker")]).unwrap();
    let mixed = vec![sealed[0].clone(), plain("already plain")];
    let response = post(&format!("{}/decode", server.base), body(&mixed)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        payloads(&response.text().await.unwrap()),
        vec![plain("from the worker"), plain("already plain")]
    );
    let empty = post(&format!("{}/decode", server.base), "{}".into()).await;
    assert_eq!(empty.status(), StatusCode::OK);
    assert_eq!(empty.text().await.unwrap(), r#"{"payloads":[]}"#);
}

#[tokio::test]
async fn wrong_method_unknown_path_bad_json_and_bad_base64() {
    let files = KeyringFiles::create("default").await;
    let server = TestServer::start(files.settings()).await;
    let client = reqwest::Client::new();

    let get = client
        .get(format!("{}/decode", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.headers()["allow"], "POST");
    assert!(message(get).await.contains("use POST"));
    let put = client
        .put(format!("{}/ns/encode", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::METHOD_NOT_ALLOWED);
    let post_health = client
        .post(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(post_health.status(), StatusCode::METHOD_NOT_ALLOWED);

    for path in ["/", "/decrypt", "/a/b/decode", "/decode/extra"] {
        let missing = client
            .post(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(message(missing).await.contains("/{namespace}/decode"));
    }

    let not_json = post(&format!("{}/decode", server.base), "payloads please".into()).await;
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert!(message(not_json).await.contains("not a protojson Payloads"));
    let wrong_shape = post(
        &format!("{}/decode", server.base),
        r#"{"payloads":{"data":"AA=="}}"#.into(),
    )
    .await;
    assert_eq!(wrong_shape.status(), StatusCode::BAD_REQUEST);
    let bad_data = post(
        &format!("{}/decode", server.base),
        r#"{"payloads":[{"data":"!!!"}]}"#.into(),
    )
    .await;
    assert_eq!(bad_data.status(), StatusCode::BAD_REQUEST);
    assert!(message(bad_data).await.contains("data is not base64"));
    let bad_metadata = post(
        &format!("{}/encode", server.base),
        r#"{"payloads":[{"metadata":{"encoding":"%%"}}]}"#.into(),
    )
    .await;
    assert_eq!(bad_metadata.status(), StatusCode::BAD_REQUEST);
    assert!(
        message(bad_metadata)
            .await
            .contains("a value of payloads[0].metadata is not base64")
    );
}

#[tokio::test]
async fn oversize_bodies_get_413_with_the_limit() {
    let files = KeyringFiles::create("default").await;
    let server = TestServer::start(Settings {
        max_body_bytes: Some(1024),
        ..files.settings()
    })
    .await;
    let big = body(&[plain(&"x".repeat(2000))]);
    let response = post(&format!("{}/encode", server.base), big).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message(response).await.contains("1024-byte limit"));
    let small = post(&format!("{}/encode", server.base), body(&[plain("ok")])).await;
    assert_eq!(small.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_payload_that_fails_authentication_is_422_naming_its_key_and_nothing_is_returned() {
    let files = KeyringFiles::create("default").await;
    let worker = files.codec(&files.document).await;
    let key_id = files.document.keys[0].id.to_string();
    let server = TestServer::start(files.settings()).await;
    let mut sealed = worker
        .encode(vec![plain("good"), plain("tampered")])
        .unwrap();
    let last = sealed[1].data.len() - 1;
    sealed[1].data[last] ^= 1;
    let response = post(&format!("{}/decode", server.base), body(&sealed)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = response.text().await.unwrap();
    assert!(text.contains(&format!("`{key_id}`")), "{text}");
    assert!(
        !text.contains("\"payloads\"") && !text.contains("good"),
        "partial answer: {text}"
    );

    let mut unknown = worker.encode(vec![plain("x")]).unwrap();
    unknown[0]
        .metadata
        .insert("encryption-key-id".into(), b"k-gone".to_vec());
    let response = post(&format!("{}/decode", server.base), body(&unknown)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(response).await.contains("`k-gone`"));
    let audit = server.audit.lines();
    let last = audit.last().unwrap();
    assert_eq!(last["outcome"], "error");
    assert_eq!(last["key_ids"], serde_json::json!(["k-gone"]));
}

#[tokio::test]
async fn namespaces_select_their_own_keyring_and_must_agree() {
    let files = KeyringFiles::create("default").await;
    let (orders_path, orders_doc) = files.another("orders").await;
    let orders_worker = files.codec(&orders_doc).await;
    let default_worker = files.codec(&files.document).await;
    let settings = Settings {
        namespace_keyrings: vec![format!("orders={}", orders_path.display())],
        ..files.settings()
    };
    let server = TestServer::start(settings).await;
    let client = reqwest::Client::new();
    let orders_sealed = orders_worker.encode(vec![plain("order 1")]).unwrap();
    let ok = client
        .post(format!("{}/orders/decode", server.base))
        .header("content-type", "application/json")
        .body(body(&orders_sealed))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let by_header = client
        .post(format!("{}/decode", server.base))
        .header("content-type", "application/json")
        .header("X-Namespace", "orders")
        .body(body(&orders_sealed))
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), StatusCode::OK);
    let default_sealed = default_worker.encode(vec![plain("x")]).unwrap();
    let wrong_ring = client
        .post(format!("{}/orders/decode", server.base))
        .header("content-type", "application/json")
        .body(body(&default_sealed))
        .send()
        .await
        .unwrap();
    assert_eq!(
        wrong_ring.status(),
        StatusCode::FORBIDDEN,
        "a payload sealed for another namespace is refused"
    );
    let billing_worker = files.codec_in(&files.document, "billing").await;
    let billing_sealed = billing_worker.encode(vec![plain("invoice")]).unwrap();
    let other = client
        .post(format!("{}/billing/decode", server.base))
        .header("content-type", "application/json")
        .body(body(&billing_sealed))
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "namespaces without their own keyring use the default"
    );
    let conflict = client
        .post(format!("{}/orders/decode", server.base))
        .header("content-type", "application/json")
        .header("X-Namespace", "billing")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(conflict.status(), StatusCode::BAD_REQUEST);
    assert!(
        message(conflict)
            .await
            .contains("X-Namespace names `billing`")
    );
    let bad_name = client
        .post(format!("{}/decode", server.base))
        .header("content-type", "application/json")
        .header("X-Namespace", "no spaces")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_name.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn cors_allows_exactly_the_configured_origin_with_credentials() {
    let files = KeyringFiles::create("default").await;
    let origin = "http://127.0.0.1:8233";
    let server = TestServer::start(Settings {
        cors_origins: vec![origin.into()],
        ..files.settings()
    })
    .await;
    let client = reqwest::Client::new();
    let preflight = client
        .request(reqwest::Method::OPTIONS, format!("{}/decode", server.base))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,authorization-extras,content-type,x-namespace",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], origin);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "authorization",
        "authorization-extras",
        "content-type",
        "x-namespace",
    ] {
        assert!(allowed.contains(h), "{allowed}");
    }
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );

    let actual = client
        .post(format!("{}/decode", server.base))
        .header("Origin", origin)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(actual.headers()["access-control-allow-origin"], origin);

    let stranger = client
        .request(reqwest::Method::OPTIONS, format!("{}/decode", server.base))
        .header("Origin", "http://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        stranger
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn every_codec_request_gets_one_audit_line_without_content() {
    let files = KeyringFiles::create("default").await;
    let key_id = files.document.keys[0].id.to_string();
    let server = TestServer::start(files.settings()).await;
    let secret = "SECRET-4111-1111-1111";
    let encoded = post(
        &format!("{}/encode", server.base),
        body(&[plain(secret), plain(secret)]),
    )
    .await;
    let encoded = encoded.text().await.unwrap();
    let decoded = post(&format!("{}/orders/decode", server.base), encoded.clone()).await;
    assert_eq!(
        decoded.status(),
        StatusCode::BAD_REQUEST,
        "path and header disagree"
    );
    let decoded = reqwest::Client::new()
        .post(format!("{}/decode", server.base))
        .header("content-type", "application/json")
        .header("x-namespace", "default")
        .body(encoded)
        .send()
        .await
        .unwrap();
    assert_eq!(decoded.status(), StatusCode::OK);
    let _ = reqwest::Client::new()
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();

    let lines = server.audit.lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let encode = &lines[0];
    assert_eq!(encode["operation"], "encode");
    assert_eq!(encode["namespace"], "default");
    assert_eq!(encode["payloads"], 2);
    assert_eq!(encode["key_ids"], serde_json::json!([key_id]));
    assert_eq!(encode["outcome"], "ok");
    assert_eq!(encode["status"], 200);
    assert_eq!(encode["insecure_no_auth"], true);
    assert!(encode["subject"].is_null());
    assert!(encode["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(encode["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(encode["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lines[1]["outcome"], "error");
    assert_eq!(lines[1]["status"], 400);
    assert_eq!(lines[2]["operation"], "decode");
    assert_eq!(lines[2]["namespace"], "default");
    assert_eq!(encode["format_versions"], serde_json::json!([2]));
    assert_eq!(lines[2]["format_versions"], serde_json::json!([2]));
    let text = server.audit.text();
    assert!(
        !text.contains(secret) && !text.contains("SECRET"),
        "payload content in audit: {text}"
    );
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let files = KeyringFiles::create("default").await;
    let server = TestServer::start(files.settings()).await;
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    post(
        &format!("{}/encode", server.base),
        body(&[plain("a"), plain("b")]),
    )
    .await;
    post(&format!("{}/decode", server.base), "nope".into()).await;
    let metrics = client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("engram_codec_requests_total{operation=\"encode\",outcome=\"ok\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("engram_codec_errors_total{operation=\"decode\",status=\"400\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("engram_codec_payloads_total{operation=\"encode\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("engram_codec_request_duration_seconds_count{operation=\"encode\"} 1"),
        "{text}"
    );
    assert!(text.contains("engram_codec_ready 1"));
}

#[tokio::test]
async fn not_ready_until_the_keyring_unwraps_then_ready_without_restart() {
    let files = KeyringFiles::create("default").await;
    let good = std::fs::read(&files.keyring).unwrap();
    std::fs::write(&files.keyring, b"{ not a keyring").unwrap();
    let server = TestServer::start(files.settings()).await;
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        ready
            .text()
            .await
            .unwrap()
            .contains("not a valid keyring document")
    );
    let refused = post(&format!("{}/decode", server.base), "{}".into()).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    std::fs::write(&files.keyring, good).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        post(&format!("{}/decode", server.base), "{}".into())
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_keyring_takes_effect_without_a_failed_request() {
    let files = KeyringFiles::create("default").await;
    let old_worker = files.codec(&files.document).await;
    let old_key = files.document.keys[0].id.clone();
    let server = TestServer::start(files.settings()).await;
    let sealed_old = body(&old_worker.encode(vec![plain("before rotation")]).unwrap());

    let base = server.base.clone();
    let traffic = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut count = 0;
        let deadline = Instant::now() + Duration::from_secs(4);
        while Instant::now() < deadline {
            let response = client
                .post(format!("{base}/decode"))
                .header("content-type", "application/json")
                .header("x-namespace", "default")
                .body(sealed_old.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "a request failed during rotation"
            );
            let encoded = client
                .post(format!("{base}/encode"))
                .header("content-type", "application/json")
                .header("x-namespace", "default")
                .body(body(&[plain("x")]))
                .send()
                .await
                .unwrap();
            assert_eq!(
                encoded.status(),
                StatusCode::OK,
                "a request failed during rotation"
            );
            count += 1;
        }
        count
    });

    tokio::time::sleep(Duration::from_millis(500)).await;
    let provider = LocalKeyFile::open(&files.kek).unwrap();
    let mut rotated = files.document.clone();
    let now = engram::codec::clock::now_unix();
    let activates_now = engram::codec::KeyTimes {
        activates: now,
        seal_until: None,
    };
    let new_key: KeyId = rotated
        .add_key(&provider, now, activates_now)
        .await
        .unwrap();
    std::fs::write(&files.keyring, rotated.to_json()).unwrap();

    assert!(traffic.await.unwrap() > 10);
    let encoded = post(&format!("{}/encode", server.base), body(&[plain("after")])).await;
    let encoded = payloads(&encoded.text().await.unwrap());
    assert_eq!(
        encoded[0].metadata_str("encryption-key-id"),
        Some(new_key.as_str()),
        "new primary in use"
    );
    assert_ne!(new_key, old_key);
    let metrics = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("engram_codec_keyring_reloads_total{result=\"ok\"} 1"),
        "{metrics}"
    );
}

async fn metrics_text(server: &TestServer) -> String {
    reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn wait_for_status(url: &str, wanted: StatusCode) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = reqwest::get(url).await.unwrap();
        if response.status() == wanted {
            return response.text().await.unwrap();
        }
        assert!(Instant::now() < deadline, "{url} never answered {wanted}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_body_of_a_million_empty_payloads_is_refused_and_every_answer_is_bounded() {
    let files = KeyringFiles::create("default").await;
    let worker = files.codec(&files.document).await;
    let server = TestServer::start(Settings {
        max_response_bytes: Some(4096),
        ..files.settings()
    })
    .await;
    let flood = format!(r#"{{"payloads":[{}{{}}]}}"#, "{},".repeat(1_390_000));
    assert!(flood.len() < engram::codec::server::DEFAULT_MAX_BODY_BYTES);
    let refused = post(&format!("{}/encode", server.base), flood).await;
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let text = refused.text().await.unwrap();
    assert!(text.len() < 300, "a small answer: {} bytes", text.len());
    assert!(
        text.contains("more than 1000 payloads (max-payloads)"),
        "{text}"
    );

    let many = body(&vec![plain(&"x".repeat(300)); 20]);
    let too_big = post(&format!("{}/encode", server.base), many).await;
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message(too_big).await.contains("max-response-bytes"));
    let sealed = body(&worker.encode(vec![plain(&"y".repeat(300)); 12]).unwrap());
    let decoded = post(&format!("{}/decode", server.base), sealed).await;
    assert_eq!(decoded.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let small = post(&format!("{}/encode", server.base), body(&[plain("ok")])).await;
    assert_eq!(small.status(), StatusCode::OK);

    let lines = server.audit.lines();
    assert_eq!(lines[0]["status"], 413);
    assert!(lines[0]["error"].as_str().unwrap().contains("max-payloads"));
    let metrics = metrics_text(&server).await;
    assert!(
        metrics.contains("engram_codec_memory_reserved_bytes 0"),
        "every reservation is returned: {metrics}"
    );
}

#[tokio::test]
async fn error_replies_and_audit_lines_describe_the_shape_and_never_quote_the_request() {
    let files = KeyringFiles::create("default").await;
    let worker = files.codec(&files.document).await;
    let server = TestServer::start(files.settings()).await;
    let card = "4111111111111111";
    let long = format!("{}{card}", "A".repeat(1 << 20));
    let bodies = [
        format!(r#"{{"payloads":"{long}"}}"#),
        format!(r#"{{"payloads":[{{"data":{{"x":"{card}"}}}}]}}"#),
        format!(r#"{{"payloads":[{{"metadata":{{"{card}":"!!"}}}}]}}"#),
        format!(r#"{{"payloads":[{{"data":"{card}!"}}]}}"#),
        format!(r#"["{card}"]"#),
        format!(r#"{{"payloads":[{card}"#),
    ];
    for bad in &bodies {
        let response = post(&format!("{}/decode", server.base), bad.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let text = response.text().await.unwrap();
        assert!(text.len() < 400, "{} bytes", text.len());
        assert!(!text.contains(card) && !text.contains("AAAA"), "{text}");
    }
    let mut sealed = worker.encode(vec![plain("x")]).unwrap();
    sealed[0].metadata.insert(
        "encryption-key-id".into(),
        format!("card {card}").into_bytes(),
    );
    let response = post(&format!("{}/decode", server.base), body(&sealed)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!response.text().await.unwrap().contains(card));
    let namespace = reqwest::Client::new()
        .post(format!("{}/decode", server.base))
        .header("content-type", "application/json")
        .header("x-namespace", format!("card {card}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(namespace.status(), StatusCode::BAD_REQUEST);
    assert!(!namespace.text().await.unwrap().contains(card));

    let lines = server.audit.lines();
    assert_eq!(lines.len(), bodies.len() + 2);
    let undecryptable = &lines[bodies.len()];
    assert_eq!(undecryptable["status"], 422);
    assert_eq!(
        undecryptable["key_ids"],
        serde_json::json!([]),
        "only valid key ids are recorded"
    );
    let audit = server.audit.text();
    assert!(!audit.contains(card) && !audit.contains("AAAA"), "{audit}");
}

#[tokio::test]
async fn namespaces_of_dots_and_a_repeated_namespace_header_are_refused() {
    let files = KeyringFiles::create("default").await;
    let server = TestServer::start(files.settings()).await;
    let client = reqwest::Client::new();
    for name in [".", "..", "..."] {
        let response = client
            .post(format!("{}/decode", server.base))
            .header("content-type", "application/json")
            .header("x-namespace", name)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
    }
    let dots = post(&format!("{}/.../decode", server.base), "{}".into()).await;
    assert_eq!(dots.status(), StatusCode::BAD_REQUEST);
    let mut twice = reqwest::header::HeaderMap::new();
    twice.append("x-namespace", "default".parse().unwrap());
    twice.append("x-namespace", "orders".parse().unwrap());
    let response = client
        .post(format!("{}/decode", server.base))
        .header("content-type", "application/json")
        .headers(twice)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(message(response).await.contains("more than once"));
}

#[tokio::test]
async fn a_huge_content_length_gets_413_at_once_and_a_body_that_never_arrives_gets_408() {
    let files = KeyringFiles::create("default").await;
    let server = TestServer::start(Settings {
        request_timeout_seconds: Some(1),
        ..files.settings()
    })
    .await;
    let host = server.addr;
    let huge = format!(
        "POST /decode HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n"
    );
    let answer = raw_exchange(server.addr, huge.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let partial = format!(
        "POST /decode HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"payloads\""
    );
    let answer = raw_exchange(server.addr, partial.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let lines = server.audit.lines();
    assert_eq!(lines[0]["status"], 413);
    assert_eq!(lines[1]["status"], 408);
}

/// The HTTP/2 connection preface and an empty SETTINGS frame (RFC 9113, sections 3.4 and 6.5).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Whether `answer` is an HTTP/2 frame (a server's first frame is SETTINGS, type 4).
fn is_http2(answer: &str) -> bool {
    answer.as_bytes().get(3) == Some(&0x04) && !answer.starts_with("HTTP/")
}

#[tokio::test]
async fn http2_is_not_spoken_where_http1_was_negotiated() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let files = KeyringFiles::create("default").await;
    let plain_server = TestServer::start(files.settings()).await;
    let answer = raw_exchange(plain_server.addr, H2_PREFACE).await;
    assert!(!is_http2(&answer), "h2c was spoken: {answer:?}");

    let (cert, key, ca_pem) = tls_files(files.dir.path());
    let tls_server = TestServer::start(Settings {
        tls_cert: Some(cert),
        tls_key: Some(key),
        ..files.settings()
    })
    .await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::pem::PemObject::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let connect = |alpn: Vec<Vec<u8>>| {
        let mut config = rustls::ClientConfig::builder()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = alpn;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let addr = tls_server.addr;
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            connector
                .connect("localhost".try_into().unwrap(), tcp)
                .await
        }
    };
    let mut tls = connect(vec![b"http/1.1".to_vec()]).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    tokio::io::AsyncWriteExt::write_all(&mut tls, H2_PREFACE)
        .await
        .unwrap();
    let answer = read_head(&mut tls).await;
    assert!(!is_http2(&answer), "HTTP/2 after ALPN http/1.1: {answer:?}");
    assert!(
        connect(vec![b"h2".to_vec()]).await.is_err(),
        "a client that offers only h2 is refused in the handshake"
    );
}

#[tokio::test]
async fn without_token_checks_a_request_must_name_this_server_and_be_json() {
    let files = KeyringFiles::create("default").await;
    let server = TestServer::start(Settings {
        cors_origins: vec!["http://127.0.0.1:8233".into()],
        ..files.settings()
    })
    .await;
    let addr = server.addr;
    let request = |host: &str, extra: &str, content_type: &str| {
        format!(
            "POST /decode HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Type: {content_type}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        )
    };
    let json = "application/json";
    for (raw, expected) in [
        (request("rebind.evil.test:8888", "", json), "403"),
        (
            request(
                &addr.to_string(),
                "Origin: http://rebind.evil.test\r\n",
                json,
            ),
            "403",
        ),
        (request(&addr.to_string(), "", "text/plain"), "415"),
        (request(&addr.to_string(), "", json), "200"),
        (
            request(&format!("localhost:{}", addr.port()), "", json),
            "200",
        ),
        (
            request(&addr.to_string(), "Origin: http://127.0.0.1:8233\r\n", json),
            "200",
        ),
    ] {
        let answer = raw_exchange(addr, raw.as_bytes()).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {expected}")),
            "{raw}\n{answer}"
        );
    }
    let lines = server.audit.lines();
    assert_eq!(lines[0]["outcome"], "denied");
    assert_eq!(lines[2]["status"], 415);
}

#[tokio::test]
async fn a_keyring_document_that_breaks_on_disk_makes_the_server_unready_without_details() {
    let files = KeyringFiles::create("default").await;
    let worker = files.codec(&files.document).await;
    let good = std::fs::read(&files.keyring).unwrap();
    let server = TestServer::start(files.settings()).await;
    let ready = format!("{}/readyz", server.base);
    wait_for_status(&ready, StatusCode::OK).await;
    let sealed = body(&worker.encode(vec![plain("still readable")]).unwrap());

    std::fs::write(&files.keyring, b"{\"format\": 7}").unwrap();
    let reasons = wait_for_status(&ready, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(reasons.contains("default keyring"), "{reasons}");
    assert!(
        reasons.contains("not a valid keyring document"),
        "{reasons}"
    );
    let dir = files.dir.path().display().to_string();
    assert!(
        !reasons.contains(&dir) && !reasons.contains("format"),
        "{reasons}"
    );
    let still = post(&format!("{}/decode", server.base), sealed.clone()).await;
    assert_eq!(
        still.status(),
        StatusCode::OK,
        "the previous keyring serves"
    );

    std::fs::remove_file(&files.keyring).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reasons = reqwest::get(&ready).await.unwrap().text().await.unwrap();
        if reasons.contains("cannot be read") {
            assert!(!reasons.contains(&dir), "{reasons}");
            break;
        }
        assert!(Instant::now() < deadline, "{reasons}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::write(&files.keyring, good).unwrap();
    wait_for_status(&ready, StatusCode::OK).await;
    assert!(metrics_text(&server).await.contains("engram_codec_ready 1"));
}

#[tokio::test]
async fn wrong_methods_and_requests_cut_at_shutdown_get_audit_lines() {
    let files = KeyringFiles::create("default").await;
    let server = TestServer::start(Settings {
        shutdown_grace_seconds: Some(1),
        request_timeout_seconds: Some(120),
        ..files.settings()
    })
    .await;
    let get = reqwest::get(format!("{}/decode", server.base))
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);

    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /decode HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        server.addr
    );
    tokio::io::AsyncWriteExt::write_all(&mut slow, head.as_bytes())
        .await
        .unwrap();
    // The request is in the handler once it holds part of the memory budget.
    let deadline = Instant::now() + Duration::from_secs(15);
    while metrics_text(&server)
        .await
        .contains("engram_codec_memory_reserved_bytes 0")
    {
        assert!(Instant::now() < deadline, "the slow request never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let audit = server.audit.clone();
    server.stop().await;
    let lines = audit.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["status"], 405);
    assert_eq!(lines[0]["operation"], "decode");
    assert_eq!(lines[1]["outcome"], "error");
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("shutdown grace period"),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_trail_that_cannot_be_written_withholds_plaintext_and_makes_the_server_unready() {
    let files = KeyringFiles::create("default").await;
    let worker = files.codec(&files.document).await;
    let sealed = body(&worker.encode(vec![plain("SECRET-PLAINTEXT")]).unwrap());
    let secret_b64 = STANDARD.encode("\"SECRET-PLAINTEXT\"");
    let server = TestServer::start_with_audit(files.settings(), Box::new(FailingWriter)).await;
    for _ in 0..2 {
        let response = post(&format!("{}/decode", server.base), sealed.clone()).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let text = response.text().await.unwrap();
        assert!(
            !text.contains(&secret_b64),
            "plaintext without an audit line"
        );
        assert!(text.contains("audit line"), "{text}");
    }
    let refused = post(&format!("{}/decode", server.base), "nope".into()).await;
    assert_eq!(
        refused.status(),
        StatusCode::BAD_REQUEST,
        "refusals are still told"
    );
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready.text().await.unwrap().contains("audit trail"));
    let metrics = metrics_text(&server).await;
    assert!(
        metrics.contains("engram_codec_audit_failures_total 3"),
        "{metrics}"
    );
    assert!(metrics.contains("engram_codec_ready 0"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_trail_that_blocks_stalls_no_request_thread_and_recovers() {
    let files = KeyringFiles::create("default").await;
    let worker = files.codec(&files.document).await;
    let sealed = body(&worker.encode(vec![plain("SECRET-PLAINTEXT")]).unwrap());
    let gate = GatedWriter::default();
    let server = TestServer::start_with_audit(
        Settings {
            audit_timeout_seconds: Some(1),
            ..files.settings()
        },
        Box::new(gate.clone()),
    )
    .await;
    // A stalled server fails these calls instead of hanging the test.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let decode = {
        let (client, url) = (client.clone(), format!("{}/default/decode", server.base));
        move |sealed: String| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(sealed)
                    .send()
                    .await
                    .expect("answered, not stalled")
                    .status()
            }
        }
    };
    let waiting: Vec<_> = (0..6)
        .map(|_| tokio::spawn(decode(sealed.clone())))
        .collect();
    for _ in 0..5 {
        let health = client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .expect("the runtime is not blocked");
        assert_eq!(health.status(), StatusCode::OK);
    }
    for request in waiting {
        assert_eq!(request.await.unwrap(), StatusCode::SERVICE_UNAVAILABLE);
    }
    wait_for_status(
        &format!("{}/readyz", server.base),
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_eq!(
        decode(sealed.clone()).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "withheld at once while the trail is known to fail"
    );

    gate.open();
    wait_for_status(&format!("{}/readyz", server.base), StatusCode::OK).await;
    assert_eq!(decode(sealed).await, StatusCode::OK);
    let lines = gate.written.lines();
    assert_eq!(lines.last().unwrap()["status"], 200);
    assert!(
        lines.iter().any(|l| l["status"] == 503),
        "withheld answers are recorded"
    );
}

#[tokio::test]
async fn a_namespace_opens_another_namespaces_payloads_only_where_the_operator_accepts_it() {
    let files = KeyringFiles::create("default").await;
    let caller = files.codec_in(&files.document, "orders").await;
    let settings = Settings {
        accept_source_namespaces: vec!["handlers=orders".into()],
        ..files.settings()
    };
    let server = TestServer::start(settings).await;
    let sealed = body(&caller.encode(vec![plain("nexus input")]).unwrap());
    let at = |namespace: &str| {
        let url = format!("{}/{namespace}/decode", server.base);
        let sealed = sealed.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .body(sealed)
                .send()
                .await
                .unwrap()
        }
    };
    let handler = at("handlers").await;
    assert_eq!(handler.status(), StatusCode::OK);
    let expected = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "\"nexus input\"",
    );
    assert!(handler.text().await.unwrap().contains(&expected));
    assert_eq!(at("orders").await.status(), StatusCode::OK);
    let sandbox = at("sandbox").await;
    assert_eq!(sandbox.status(), StatusCode::FORBIDDEN);
    assert!(
        message(sandbox)
            .await
            .contains("sealed for namespace `orders`")
    );
}

/// `--tls-min-version 1.3` refuses a TLS 1.2 handshake and accepts 1.3; the default accepts
/// both; anything else, or the setting without TLS, is refused at start naming the flag.
#[tokio::test]
async fn the_oldest_tls_version_accepted_is_a_setting() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let files = KeyringFiles::create("default").await;
    let (cert, key, ca_pem) = tls_files(files.dir.path());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::pem::PemObject::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let handshake = |addr: std::net::SocketAddr,
                     version: &'static rustls::SupportedProtocolVersion| {
        let config = rustls::ClientConfig::builder_with_protocol_versions(&[version])
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            connector
                .connect("localhost".try_into().unwrap(), tcp)
                .await
                .is_ok()
        }
    };
    let tls = |min: Option<&str>| Settings {
        tls_cert: Some(cert.clone()),
        tls_key: Some(key.clone()),
        tls_min_version: min.map(str::to_string),
        ..files.settings()
    };
    let default = TestServer::start(tls(None)).await;
    assert!(handshake(default.addr, &rustls::version::TLS12).await);
    assert!(handshake(default.addr, &rustls::version::TLS13).await);
    let strict = TestServer::start(tls(Some("1.3"))).await;
    assert!(
        !handshake(strict.addr, &rustls::version::TLS12).await,
        "TLS 1.2 refused"
    );
    assert!(handshake(strict.addr, &rustls::version::TLS13).await);

    let error = tls(Some("1.1")).resolve().unwrap_err().to_string();
    assert!(
        error.contains("--tls-min-version") && error.contains("1.2 or 1.3"),
        "{error}"
    );
    let error = Settings {
        tls_min_version: Some("1.3".into()),
        ..files.settings()
    }
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(error.contains("give --tls-cert and --tls-key"), "{error}");
}
