//! Runs the Python worker codec's whole test suite (examples/workers/python: the format's test
//! vectors, the keyring rules, reloading, a fresh-venv install, Vault Transit and AWS KMS against
//! real OpenBao and moto) with its pinned interpreter.
//!
//! Azure Key Vault and Google Cloud KMS are tested against the project's STUB servers
//! (codec_common/stub.rs), not the real services: this test starts them, hands their URLs to
//! pytest (ENGRAM_AZURE_STUB_URL, ENGRAM_GCP_STUB_URL), and afterwards checks the exact requests
//! the Python clients sent, as the services document them.

mod codec_common;
#[path = "support/mod.rs"]
mod support;

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use codec_common::stub::{GCP_KEY, Recorded, Stub, azure_stub_answer, gcp_stub_answer};
use serde_json::Value;

/// The requests that the Python clients sent (not the test's own wrap calls).
fn sent(requests: &[Recorded], pick: impl Fn(&Recorded) -> bool) -> Vec<&Recorded> {
    requests.iter().filter(|r| pick(r)).collect()
}

fn json_keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_codec_tests_pass() {
    let azure = Stub::start_https(azure_stub_answer).await;
    let gcp = Stub::start(gcp_stub_answer).await;
    let python = support::tool("worker-python");
    let (azure_url, gcp_url) = (azure.base_url.clone(), gcp.base_url.clone());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .current_dir(support::repo_root().join("examples/workers/python"))
            .env("ENGRAM_AZURE_STUB_URL", azure_url)
            .env("ENGRAM_GCP_STUB_URL", gcp_url)
            .output()
    })
    .await
    .unwrap()
    .expect("run pytest");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "pytest failed:\n{text}");
    assert!(text.contains(" passed"), "{text}");

    // Azure Key Vault: managed identity (IMDS), once for two unwraps: the token is cached.
    let requests = azure.requests();
    let imds = sent(&requests, |r| r.target.starts_with("/metadata/identity"));
    assert_eq!(imds.len(), 1, "one token for two unwraps: {imds:?}");
    assert_eq!(imds[0].method, "GET");
    assert_eq!(
        imds[0].target,
        "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net&client_id=11111111-aaaa"
    );
    assert_eq!(imds[0].headers["metadata"], "true");
    // Workload identity: the federated token exchanged at Entra ID, as AKS's SDKs do.
    let exchange = sent(&requests, |r| r.target == "/tenant-py/oauth2/v2.0/token");
    assert_eq!(exchange.len(), 1, "{exchange:?}");
    assert_eq!(exchange[0].method, "POST");
    assert_eq!(
        exchange[0].headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        String::from_utf8_lossy(&exchange[0].body),
        "client_id=client-py&scope=https%3A%2F%2Fvault.azure.net%2F.default&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=federated.jwt.python&grant_type=client_credentials"
    );
    // unwrapKey names the key version that wrapped (`kek_version`) and sends only alg and value.
    let unwraps = sent(&requests, |r| {
        r.target.contains("/unwrapkey") && r.headers["authorization"] == "Bearer entra-token"
    });
    assert_eq!(
        unwraps.len(),
        3,
        "two keys by IMDS, one by workload identity"
    );
    for unwrap in unwraps {
        assert_eq!(unwrap.method, "POST");
        assert_eq!(unwrap.target, "/keys/engram/v7/unwrapkey?api-version=7.4");
        assert_eq!(unwrap.headers["content-type"], "application/json");
        let body = unwrap.json();
        assert_eq!(json_keys(&body), ["alg", "value"]);
        assert_eq!(body["alg"], "RSA-OAEP-256");
        let value = body["value"].as_str().unwrap();
        assert!(
            !value.contains('=') && URL_SAFE_NO_PAD.decode(value).is_ok(),
            "base64url without padding: {value}"
        );
    }

    // Google Cloud KMS: the metadata server once (cached), decrypt with the wrap context as AAD.
    let requests = gcp.requests();
    let metadata = sent(&requests, |r| r.target.starts_with("/computeMetadata"));
    assert_eq!(metadata.len(), 1, "one token for two unwraps: {metadata:?}");
    assert_eq!(metadata[0].method, "GET");
    assert_eq!(
        metadata[0].target,
        "/computeMetadata/v1/instance/service-accounts/default/token"
    );
    assert_eq!(metadata[0].headers["metadata-flavor"], "Google");
    let decrypts = sent(&requests, |r| r.target.ends_with(":decrypt"));
    let mut aads = Vec::new();
    for decrypt in &decrypts {
        assert_eq!(decrypt.method, "POST");
        assert_eq!(decrypt.target, format!("/v1/{GCP_KEY}:decrypt"));
        assert_eq!(decrypt.headers["content-type"], "application/json");
        let body = decrypt.json();
        assert_eq!(
            json_keys(&body),
            ["additionalAuthenticatedData", "ciphertext"]
        );
        let aad = STANDARD
            .decode(body["additionalAuthenticatedData"].as_str().unwrap())
            .unwrap();
        aads.push((
            decrypt.headers["authorization"].clone(),
            String::from_utf8(aad).unwrap(),
        ));
    }
    for expected in [
        ("Bearer gke-token", "engram-dek:v1:orders:dek-1"),
        ("Bearer gke-token", "engram-dek:v1:orders:dek-2"),
        ("Bearer gke-token", "engram-dek:v1:payments:dek-1"),
        ("Bearer given-token", "engram-dek:v1:orders:dek-given"),
    ] {
        assert!(
            aads.iter()
                .any(|(a, b)| (a.as_str(), b.as_str()) == expected),
            "no decrypt {expected:?} in {aads:?}"
        );
    }
}
