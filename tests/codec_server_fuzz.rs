//! Random request bodies against a running codec server: whatever arrives, the answer is a 2xx or
//! a 4xx with a JSON message, never a 5xx, and the server keeps answering (it did not panic).

mod codec_server_common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use codec_server_common::{KeyringFiles, TestServer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Bodies from raw bytes to near-valid protojson with hostile values.
fn bodies(key_id: String) -> impl Strategy<Value = Vec<u8>> {
    let raw = proptest::collection::vec(any::<u8>(), 0..512);
    let text = ".{0,200}".prop_map(String::into_bytes);
    let encrypted = (proptest::collection::vec(any::<u8>(), 0..128), any::<bool>(), "[a-z0-9-]{0,12}").prop_map(
        move |(data, real_id, other_id)| {
            let id = if real_id { key_id.clone() } else { other_id };
            serde_json::json!({"payloads": [{
                "metadata": {"encoding": STANDARD.encode("binary/encrypted"), "encryption-key-id": STANDARD.encode(id)},
                "data": STANDARD.encode(data),
            }]})
            .to_string()
            .into_bytes()
        },
    );
    let shapes = prop_oneof![
        Just(r#"{"payloads":null}"#.to_string()),
        Just(r#"{"payloads":[{"metadata":{"a":1}}]}"#.to_string()),
        Just(r#"{"payloads":[{"data":"===="}]}"#.to_string()),
        Just("[]".to_string()),
        Just(format!(
            r#"{{"payloads":[{{"data":"{}"}}]}}"#,
            "A".repeat(4096)
        )),
        "[\\[\\]{}\":,a-z0-9 ]{0,64}".prop_map(|s| format!(r#"{{"payloads":[{s}]}}"#)),
    ]
    .prop_map(String::into_bytes);
    prop_oneof![raw, text, encrypted, shapes]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bodies_never_get_a_5xx() {
    let files = KeyringFiles::create("default").await;
    let key_id = files.document.keys[0].id.to_string();
    let server = TestServer::start(files.settings()).await;
    let client = reqwest::Client::new();
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 400,
        ..Config::default()
    });
    let paths = ["/decode", "/encode", "/default/decode", "/x/encode"];
    let result = tokio::task::block_in_place(|| {
        runner.run(
            &(bodies(key_id), 0..paths.len(), any::<bool>()),
            |(body, path, namespace)| {
                let status = handle.block_on(async {
                    let mut request = client
                        .post(format!("{}{}", server.base, paths[path]))
                        .header("content-type", "application/json")
                        .body(body);
                    if namespace {
                        request = request.header("X-Namespace", "default");
                    }
                    let response = request.send().await.expect("server answers");
                    let status = response.status();
                    if !status.is_success() {
                        let json: serde_json::Value =
                            response.json().await.expect("errors are JSON");
                        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
                    }
                    status
                });
                prop_assert!(!status.is_server_error(), "status {status}");
                Ok(())
            },
        )
    });
    result.unwrap();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
}
