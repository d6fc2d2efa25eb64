//! Fuzzes the decoder: arbitrary bytes as an encrypted payload's data, key id and namespace, as
//! the plaintext inside a correctly sealed payload of either format version (so the inner Payload
//! parser sees them too, past the authentication tag), and as a protojson request body, must
//! produce an error or a payload, never a panic.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use engram::codec::format::{
    DataKeyCipher, FORMAT_V1, FORMAT_V2, NONCE_LEN, SALT_LEN, associated_data_v1,
    associated_data_v2,
};
use engram::codec::{KeyId, KeyTimes, Keyring, Namespace, Payload, PayloadCodec, Payloads};
use engram::kms::SecretBytes;
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [1; 32];

fn encrypted(key_id: &[u8], namespace: &[u8], data: Vec<u8>) -> Payload {
    Payload {
        metadata: BTreeMap::from([
            ("encoding".to_string(), b"binary/encrypted".to_vec()),
            ("encryption-key-id".to_string(), key_id.to_vec()),
            ("encryption-namespace".to_string(), namespace.to_vec()),
        ]),
        data,
        external_payloads: Vec::new(),
    }
}

/// `inner` sealed as `version` under `cipher`: the header, the ciphertext and the tag.
fn sealed(version: u8, header: &[u8], cipher: &Aes256Gcm, aad: &[u8], inner: &[u8]) -> Vec<u8> {
    let nonce = [7u8; NONCE_LEN];
    let mut out = vec![version];
    out.extend_from_slice(header);
    out.extend_from_slice(&nonce);
    let mut body = inner.to_vec();
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), aad, &mut body)
        .expect("small input");
    out.extend_from_slice(&body);
    out.extend_from_slice(&tag);
    out
}

fuzz_target!(|input: &[u8]| {
    let id = KeyId::new("k1").expect("valid id");
    let namespace = Namespace::new("default").expect("valid namespace");
    let ring = Keyring::from_keys([(id.clone(), KeyTimes::ALWAYS, SecretBytes::new(KEY.to_vec()))])
        .expect("one sealing key");
    let codec = PayloadCodec::new(Arc::new(ring), namespace.clone());
    let split = input
        .first()
        .map_or(0, |b| usize::from(*b) % 8)
        .min(input.len());
    let (head, data) = input.split_at(split);
    let _ = codec.decode_one(encrypted(head, head, data.to_vec()));
    let _ = codec.decode_one(encrypted(b"k1", b"default", data.to_vec()));

    let v1 = Aes256Gcm::new_from_slice(&KEY).expect("32-byte key");
    let v1_data = sealed(FORMAT_V1, &[], &v1, &associated_data_v1(&id), input);
    let _ = codec.decode_one(encrypted(b"k1", b"default", v1_data));

    let salt = [9u8; SALT_LEN];
    let payload_key = DataKeyCipher::new(&KEY)
        .expect("32-byte key")
        .payload_key(&salt)
        .expect("32-byte payload key");
    let v2 = Aes256Gcm::new_from_slice(payload_key.as_ref()).expect("32-byte key");
    let v2_data = sealed(FORMAT_V2, &salt, &v2, &associated_data_v2(&id, &namespace), input);
    let _ = codec.decode_one(encrypted(b"k1", b"default", v2_data));

    if let Ok(text) = std::str::from_utf8(input)
        && let Ok(body) = serde_json::from_str::<Payloads>(text)
    {
        let _ = codec.decode(body.payloads);
    }
});
