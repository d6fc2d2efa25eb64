//! Fuzzes the decoder: arbitrary bytes as an encrypted payload's data and key id, and as a
//! protojson request body, must produce an error or a payload, never a panic.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use engram::codec::{KeyId, KeyState, Keyring, Payload, PayloadCodec, Payloads};
use engram::kms::SecretBytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let ring = Keyring::from_keys([(
        KeyId::new("k1").expect("valid id"),
        KeyState::Primary,
        SecretBytes::new(vec![1; 32]),
    )])
    .expect("one primary key");
    let codec = PayloadCodec::new(Arc::new(ring));
    let split = input
        .first()
        .map_or(0, |b| usize::from(*b) % 8)
        .min(input.len());
    let (key_id, data) = input.split_at(split);
    let metadata = BTreeMap::from([
        ("encoding".to_string(), b"binary/encrypted".to_vec()),
        ("encryption-key-id".to_string(), key_id.to_vec()),
    ]);
    let _ = codec.decode_one(Payload {
        metadata,
        data: data.to_vec(),
        external_payloads: Vec::new(),
    });
    if let Ok(text) = std::str::from_utf8(input)
        && let Ok(body) = serde_json::from_str::<Payloads>(text)
    {
        let _ = codec.decode(body.payloads);
    }
});
