//! The codec server's protocol over real HTTP on 127.0.0.1: encode and decode, namespaces,
//! every kind of bad request with its status and message, CORS, the audit trail, operations
//! endpoints, keyring reload, and random bodies that must never produce a 5xx.

mod codec_server_common;

use std::time::{Duration, Instant};

use codec_server_common::{KeyringFiles, TestServer, body, payloads, plain};
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
            .contains("metadata `encoding` is not base64")
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
        .body(body(&orders_sealed))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let by_header = client
        .post(format!("{}/decode", server.base))
        .header("X-Namespace", "orders")
        .body(body(&orders_sealed))
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), StatusCode::OK);
    let default_sealed = default_worker.encode(vec![plain("x")]).unwrap();
    let wrong_ring = client
        .post(format!("{}/orders/decode", server.base))
        .body(body(&default_sealed))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_ring.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let other = client
        .post(format!("{}/billing/decode", server.base))
        .body(body(&default_sealed))
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
    assert!(lines[2]["namespace"].is_null());
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
            .contains("keyring document is not valid")
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
    let new_key: KeyId = rotated.add_key(&provider).await.unwrap();
    rotated.promote(&new_key).unwrap();
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
