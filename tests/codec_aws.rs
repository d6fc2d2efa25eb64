//! AWS KMS backend against moto's KMS (`moto_server`, PyPI moto[server]==5.2.5) started by the
//! test on a free port.

mod codec_common;
#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use codec_common::moto::{self, Moto};
use engram::codec::{KeyId, Keyring, KeyringDocument, Payload, PayloadCodec};
use engram::kms::aws::{AwsKms, AwsKmsConfig};
use engram::kms::{KeyProvider, KmsErrorKind, WrapContext};
use support::free_port;

fn set_test_credentials() {
    // SAFETY: set before any thread of this test reads the environment; every test sets the
    // same values, so concurrent tests agree.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", moto::ACCESS_KEY_ID);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", moto::SECRET_ACCESS_KEY);
        std::env::remove_var("AWS_PROFILE");
    }
}

async fn provider(moto: &Moto, key_id: &str) -> AwsKms {
    set_test_credentials();
    AwsKms::new(AwsKmsConfig {
        key_id: key_id.to_string(),
        region: Some("us-east-1".into()),
        endpoint_url: Some(moto.endpoint.clone()),
        timeout: Duration::from_secs(10),
        ..AwsKmsConfig::default()
    })
    .await
}

#[tokio::test]
async fn keyring_through_aws_kms_encrypts_and_decrypts_payloads() {
    let moto = Moto::start();
    let key_id = moto.create_key("us-east-1").await;
    let kms = provider(&moto, &key_id).await;

    let mut doc = engram::codec::lifecycle::create(
        KeyId::new("orders").unwrap(),
        &engram::codec::lifecycle::LifecyclePolicy::DEFAULT,
        &kms,
        engram::codec::clock::now_unix(),
        None,
    )
    .await
    .unwrap()
    .document;
    let now = engram::codec::clock::now_unix();
    let activates_now = engram::codec::KeyTimes {
        activates: now,
        seal_until: None,
    };
    let second = doc.add_key(&kms, now, activates_now).await.unwrap();
    doc.rewrap_all(&kms).await.unwrap();

    let parsed = KeyringDocument::from_json(&doc.to_json()).unwrap();
    let ring = Keyring::unwrap_document(&parsed, &kms).await.unwrap();
    assert_eq!(ring.sealing_key_id(now), Ok(&second));
    let codec = PayloadCodec::new(
        Arc::new(ring),
        engram::codec::Namespace::new("default").unwrap(),
    );
    let original = Payload::new("json/plain", b"{\"amount\":12}".to_vec());
    let encoded = codec.encode(vec![original.clone()]).unwrap();
    assert_eq!(codec.decode(encoded).unwrap(), vec![original]);

    let description = kms.describe_key().await.unwrap();
    assert!(description.enabled);
    assert!(description.key.contains(&key_id), "{description:?}");
}

#[tokio::test]
async fn encryption_context_binds_the_wrapped_key() {
    let moto = Moto::start();
    let key_id = moto.create_key("us-east-1").await;
    let kms = provider(&moto, &key_id).await;
    let context = WrapContext::new("orders", "dek-1");
    let generated = kms.generate_data_key(&context).await.unwrap();
    assert_eq!(generated.plaintext.len(), 32);
    assert_eq!(
        kms.unwrap(&generated.wrapped, &context).await.unwrap(),
        generated.plaintext
    );
    let wrapped = kms.wrap(&generated.plaintext, &context).await.unwrap();
    assert_eq!(
        kms.unwrap(&wrapped, &context).await.unwrap(),
        generated.plaintext
    );
    let err = kms
        .unwrap(&generated.wrapped, &WrapContext::new("payments", "dek-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind, KmsErrorKind::InvalidCiphertext(_)),
        "{err}"
    );
}

#[tokio::test]
async fn unknown_key_is_key_not_found_naming_the_key() {
    let moto = Moto::start();
    let missing = "11111111-2222-3333-4444-555555555555";
    let kms = provider(&moto, missing).await;
    let err = kms
        .generate_data_key(&WrapContext::new("orders", "dek-1"))
        .await
        .unwrap_err();
    assert!(matches!(err.kind, KmsErrorKind::KeyNotFound(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("AWS KMS key `{missing}`")),
        "{text}"
    );
}

#[tokio::test]
async fn unreachable_endpoint_is_reported_as_such() {
    set_test_credentials();
    let port = free_port();
    let kms = AwsKms::new(AwsKmsConfig {
        key_id: "k".into(),
        region: Some("us-east-1".into()),
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        timeout: Duration::from_secs(5),
        ..AwsKmsConfig::default()
    })
    .await;
    let err = kms.describe_key().await.unwrap_err();
    // Nothing listens on the port, so the connection is refused at once.
    assert!(matches!(err.kind, KmsErrorKind::Unavailable(_)), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("http://127.0.0.1:{port}")),
        "the error names the address it tried: {err}"
    );
}
