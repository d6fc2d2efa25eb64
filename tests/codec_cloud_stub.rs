//! Google Cloud KMS, Azure Key Vault and Vault's Kubernetes login, each against a STUB HTTP
//! server (tests/codec_common/stub.rs), not the real service: no cloud account is reachable
//! from the test machine. The stubs record every request, and the tests assert the exact
//! method, path, query, headers and body the clients send, as the services document them, then
//! answer with canned responses in the services' documented shapes.

mod codec_common;
#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use codec_common::stub::{GCP_KEY, Stub, azure_stub_answer, gcp_stub_answer};
use engram::kms::azure::{AzureCredential, AzureKeyVault, AzureKeyVaultConfig};
use engram::kms::gcp::{GcpCredential, GcpKms, GcpKmsConfig};
use engram::kms::vault::{VaultAuth, VaultTransit, VaultTransitConfig};
use engram::kms::{KeyProvider, KmsErrorKind, SecretBytes, WrapContext};
use serde_json::json;

#[tokio::test]
async fn gcp_kms_sends_the_documented_requests_with_a_workload_identity_token() {
    let stub = Stub::start(gcp_stub_answer).await;
    let kms = GcpKms::new(GcpKmsConfig {
        key_name: GCP_KEY.into(),
        endpoint: stub.base_url.clone(),
        credential: GcpCredential::MetadataServer {
            endpoint: stub.base_url.clone(),
        },
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let context = WrapContext::new("orders", "dek-1");
    let generated = kms.generate_data_key(&context).await.unwrap();
    assert_eq!(
        kms.unwrap(&generated.wrapped, &context).await.unwrap(),
        generated.plaintext
    );
    let err = kms
        .unwrap(&generated.wrapped, &WrapContext::new("orders", "dek-2"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind, KmsErrorKind::InvalidCiphertext(_)),
        "{err}"
    );
    let description = kms.describe_key().await.unwrap();
    assert!(description.enabled);
    assert_eq!(description.latest_version.as_deref(), Some("3"));

    let requests = stub.requests();
    let token_requests: Vec<_> = requests
        .iter()
        .filter(|r| r.target.starts_with("/computeMetadata"))
        .collect();
    assert_eq!(token_requests.len(), 1, "the token is cached");
    assert_eq!(token_requests[0].method, "GET");
    assert_eq!(token_requests[0].headers["metadata-flavor"], "Google");

    let encrypt = requests
        .iter()
        .find(|r| r.target.ends_with(":encrypt"))
        .unwrap();
    assert_eq!(encrypt.method, "POST");
    assert_eq!(encrypt.target, format!("/v1/{GCP_KEY}:encrypt"));
    assert_eq!(encrypt.headers["authorization"], "Bearer gke-token");
    assert_eq!(encrypt.headers["content-type"], "application/json");
    let body = encrypt.json();
    assert_eq!(
        STANDARD
            .decode(body["plaintext"].as_str().unwrap())
            .unwrap(),
        generated.plaintext.expose()
    );
    assert_eq!(
        body["additionalAuthenticatedData"],
        STANDARD.encode(b"engram-dek:v1:orders:dek-1")
    );
    let get = requests
        .iter()
        .find(|r| r.method == "GET" && r.target.starts_with("/v1/"))
        .unwrap();
    assert_eq!(get.target, format!("/v1/{GCP_KEY}"));
}

#[tokio::test]
async fn gcp_kms_errors_name_the_key_and_what_to_check() {
    let stub = Stub::start(|_| {
        (403, json!({"error": {"code": 403, "message": "Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied", "status": "PERMISSION_DENIED"}}).to_string())
    })
    .await;
    let kms = GcpKms::new(GcpKmsConfig {
        key_name: GCP_KEY.into(),
        endpoint: stub.base_url.clone(),
        credential: GcpCredential::AccessToken(SecretBytes::from("t".to_string())),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let err = kms
        .generate_data_key(&WrapContext::new("orders", "dek-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind, KmsErrorKind::PermissionDenied(_)),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(GCP_KEY) && text.contains("Google Cloud KMS"),
        "{text}"
    );
    assert!(
        text.contains("check that the key policy or role grants"),
        "{text}"
    );
}

#[tokio::test]
async fn azure_key_vault_sends_the_documented_requests_with_managed_identity() {
    let stub = Stub::start_https(azure_stub_answer).await;
    let vault = AzureKeyVault::new(AzureKeyVaultConfig {
        vault_url: stub.base_url.clone(),
        key_name: "engram".into(),
        credential: AzureCredential::ManagedIdentity {
            endpoint: format!("{}/metadata/identity/oauth2/token", stub.base_url),
            client_id: Some("11111111-aaaa".into()),
        },
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let context = WrapContext::new("orders", "dek-1");
    let generated = vault.generate_data_key(&context).await.unwrap();
    assert_eq!(generated.wrapped.kek_version.as_deref(), Some("v7"));
    assert_eq!(
        vault.unwrap(&generated.wrapped, &context).await.unwrap(),
        generated.plaintext
    );
    let description = vault.describe_key().await.unwrap();
    assert!(description.enabled);
    assert_eq!(description.latest_version.as_deref(), Some("v7"));

    let requests = stub.requests();
    let token: Vec<_> = requests
        .iter()
        .filter(|r| r.target.starts_with("/metadata"))
        .collect();
    assert_eq!(token.len(), 1, "the token is cached");
    assert_eq!(token[0].method, "GET");
    assert_eq!(
        token[0].target,
        "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net&client_id=11111111-aaaa"
    );
    assert_eq!(token[0].headers["metadata"], "true");

    let wrap = requests
        .iter()
        .find(|r| r.target.contains("/wrapkey"))
        .unwrap();
    assert_eq!(wrap.method, "POST");
    assert_eq!(wrap.headers["authorization"], "Bearer entra-token");
    assert_eq!(
        wrap.json(),
        json!({"alg": "RSA-OAEP-256", "value": URL_SAFE_NO_PAD.encode(generated.plaintext.expose())})
    );
    let unwrap = requests
        .iter()
        .find(|r| r.target.contains("/unwrapkey"))
        .unwrap();
    assert_eq!(unwrap.target, "/keys/engram/v7/unwrapkey?api-version=7.4");
}

#[tokio::test]
async fn azure_workload_identity_exchanges_the_federated_token() {
    let stub = Stub::start_https(azure_stub_answer).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("azure-identity-token");
    std::fs::write(&token_file, "federated.jwt.value\n").unwrap();
    let vault = AzureKeyVault::new(AzureKeyVaultConfig {
        vault_url: stub.base_url.clone(),
        key_name: "engram".into(),
        credential: AzureCredential::WorkloadIdentity {
            authority_host: stub.base_url.clone(),
            tenant_id: "tenant-1".into(),
            client_id: "client-1".into(),
            token_file,
        },
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    vault.describe_key().await.unwrap();
    let requests = stub.requests();
    let exchange = &requests[0];
    assert_eq!(exchange.method, "POST");
    assert_eq!(exchange.target, "/tenant-1/oauth2/v2.0/token");
    assert_eq!(
        exchange.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        String::from_utf8_lossy(&exchange.body),
        "client_id=client-1&scope=https%3A%2F%2Fvault.azure.net%2F.default&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=federated.jwt.value&grant_type=client_credentials"
    );
    assert_eq!(requests[1].headers["authorization"], "Bearer entra-token");
}

#[tokio::test]
async fn azure_disabled_key_is_reported_as_disabled() {
    let stub = Stub::start_https(|_| {
        (403, json!({"error": {"code": "Forbidden", "message": "Operation wrapKey is not allowed on a disabled key."}}).to_string())
    })
    .await;
    let vault = AzureKeyVault::new(AzureKeyVaultConfig {
        vault_url: stub.base_url.clone(),
        key_name: "engram".into(),
        credential: AzureCredential::AccessToken(SecretBytes::from("t".to_string())),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let err = vault
        .generate_data_key(&WrapContext::new("o", "d"))
        .await
        .unwrap_err();
    assert!(matches!(err.kind, KmsErrorKind::KeyDisabled(_)), "{err}");
    assert!(err.to_string().contains("/keys/engram"), "{err}");
}

/// Key Vault serves HTTPS only: a plain http vault URL is refused before anything is sent.
#[tokio::test]
async fn azure_vault_url_over_plain_http_is_refused_before_any_request() {
    let stub = Stub::start(azure_stub_answer).await;
    let refused = AzureKeyVault::new(AzureKeyVaultConfig {
        vault_url: stub.base_url.clone(),
        key_name: "engram".into(),
        credential: AzureCredential::AccessToken(SecretBytes::from("t".to_string())),
        timeout: Duration::from_secs(5),
    });
    let err = refused.err().expect("an http vault URL is refused");
    assert!(matches!(err.kind, KmsErrorKind::Config(_)), "{err}");
    assert!(
        err.to_string().contains("must start with https://"),
        "{err}"
    );
    assert!(stub.requests().is_empty());
}

#[tokio::test]
async fn vault_kubernetes_login_sends_role_and_service_account_token() {
    let stub = Stub::start(|request| {
        if request.target == "/v1/auth/kubernetes/login" {
            return (
                200,
                json!({"auth": {"client_token": "hvs.from-k8s"}}).to_string(),
            );
        }
        if request.target == "/v1/transit/keys/engram" {
            return (
                200,
                json!({"data": {"latest_version": 4, "min_decryption_version": 2}}).to_string(),
            );
        }
        (404, json!({"errors": []}).to_string())
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let jwt_path = dir.path().join("token");
    std::fs::write(&jwt_path, "service.account.jwt").unwrap();
    let transit = VaultTransit::new(VaultTransitConfig {
        address: stub.base_url.clone(),
        mount: "transit".into(),
        key_name: "engram".into(),
        namespace: Some("team-a".into()),
        auth: VaultAuth::Kubernetes {
            mount: "kubernetes".into(),
            role: "engram-worker".into(),
            jwt_path,
        },
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let description = transit.describe_key().await.unwrap();
    assert_eq!(description.latest_version.as_deref(), Some("4"));
    assert_eq!(description.min_decryption_version.as_deref(), Some("2"));

    let requests = stub.requests();
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].target, "/v1/auth/kubernetes/login");
    assert_eq!(requests[0].headers["x-vault-namespace"], "team-a");
    assert_eq!(
        requests[0].json(),
        json!({"role": "engram-worker", "jwt": "service.account.jwt"})
    );
    assert_eq!(requests[1].method, "GET");
    assert_eq!(requests[1].headers["x-vault-token"], "hvs.from-k8s");
}
