//! Fuzzes the decoder: arbitrary bytes as an encrypted payload's data and key id, as the
//! plaintext inside a correctly sealed payload (so the inner Payload parser sees them too, past
//! the authentication tag), and as a protojson request body, must produce an error or a payload,
//! never a panic.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use engram::codec::format::{FORMAT_VERSION, NONCE_LEN, associated_data};
use engram::codec::{KeyId, KeyState, Keyring, Payload, PayloadCodec, Payloads};
use engram::kms::SecretBytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let ring = Keyring::from_keys([(
        KeyId::new("k1").expect("valid id"),
        engram::codec::KeyTimes::ALWAYS,
        SecretBytes::new(vec![1; 32]),
    )])
    .expect("one primary key");
    let codec = PayloadCodec::new(Arc::new(ring), engram::codec::Namespace::new("default").unwrap());
    let split = input
        .first()
        .map_or(0, |b| usize::from(*b) % 8)
        .min(input.len());
    let (key_id, data) = input.split_at(split);
    let encrypted = |key_id: &[u8], data: Vec<u8>| Payload {
        metadata: BTreeMap::from([
            ("encoding".to_string(), b"binary/encrypted".to_vec()),
            ("encryption-key-id".to_string(), key_id.to_vec()),
        ]),
        data,
        external_payloads: Vec::new(),
    };
    let _ = codec.decode_one(encrypted(key_id, data.to_vec()));

    let nonce = [7u8; NONCE_LEN];
    let mut sealed = vec![FORMAT_VERSION];
    sealed.extend_from_slice(&nonce);
    let mut body = input.to_vec();
    let tag = Aes256Gcm::new_from_slice(&[1; 32])
        .expect("32-byte key")
        .encrypt_in_place_detached(
            Nonce::from_slice(&nonce),
            &associated_data(&KeyId::new("k1").expect("valid id")),
            &mut body,
        )
        .expect("small input");
    sealed.extend_from_slice(&body);
    sealed.extend_from_slice(&tag);
    let _ = codec.decode_one(encrypted(b"k1", sealed));
    if let Ok(text) = std::str::from_utf8(input)
        && let Ok(body) = serde_json::from_str::<Payloads>(text)
    {
        let _ = codec.decode(body.payloads);
    }
});
