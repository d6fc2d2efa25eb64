//! Captures every log event (at every level) emitted while keys are generated, unwrapped and
//! used, and checks that no plaintext key or payload content appears in any of them.

use std::sync::{Arc, Mutex};

use engram::codec::{KeyId, Keyring, Payload, PayloadCodec};
use engram::kms::local::LocalKeyFile;
use engram::kms::{KeyProvider, WrapContext};
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Writes every event's fields, with `{:?}`, into one shared string.
struct Capture(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut line = String::new();
        event.record(&mut Fields(&mut line));
        let mut all = self.0.lock().unwrap();
        all.push_str(&line);
        all.push('\n');
    }
}

#[tokio::test]
async fn no_key_or_payload_in_logs() {
    let captured = Arc::new(Mutex::new(String::new()));
    let subscriber = tracing_subscriber::registry().with(Capture(captured.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let provider = LocalKeyFile::create(&dir.path().join("kek")).unwrap();
    let doc = engram::codec::lifecycle::create(
        KeyId::new("orders").unwrap(),
        &engram::codec::lifecycle::LifecyclePolicy::DEFAULT,
        &provider,
        engram::codec::clock::now_unix(),
        None,
    )
    .await
    .unwrap()
    .document;
    let ring = Keyring::unwrap_document(&doc, &provider).await.unwrap();
    tracing::debug!(keyring = ?ring, "loaded");
    let codec = PayloadCodec::new(
        Arc::new(ring),
        engram::codec::Namespace::new("default").unwrap(),
    );
    let secret_value = "SSN-078-05-1120";
    let original = Payload::new("json/plain", format!("\"{secret_value}\"").into_bytes());
    let encoded = codec.encode(vec![original.clone()]).unwrap();
    tracing::debug!(payload = ?original, encoded = ?encoded, "encoded");
    codec.decode(encoded).unwrap();

    let context = WrapContext::new("orders", "dek-x");
    let generated = provider.generate_data_key(&context).await.unwrap();
    tracing::debug!(generated = ?generated, "generated");
    provider.unwrap(&generated.wrapped, &context).await.unwrap();

    let logs = captured.lock().unwrap().clone();
    assert!(
        logs.contains("DEVELOPMENT ONLY"),
        "the local key file warns: {logs}"
    );
    assert!(logs.contains("[redacted]"), "{logs}");
    assert!(
        !logs.contains(secret_value),
        "payload content leaked: {logs}"
    );
    let key = generated.plaintext.expose();
    for needle in [
        format!("{key:?}"),
        hex::encode(key),
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key),
    ] {
        assert!(!logs.contains(&needle), "key material leaked: {logs}");
    }
    let key_file = std::fs::read_to_string(dir.path().join("kek")).unwrap();
    assert!(!logs.contains(key_file.trim()), "key file content leaked");
}
