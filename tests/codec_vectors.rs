//! The test vectors in docs/payload-format.md, checked against the Rust codec (the Python
//! codec checks the same ones).

use aes_gcm::{Aes256Gcm, KeyInit};
use engram::codec::format::{self, FormatError};
use engram::codec::{KeyId, Payload};
use prost::Message;

struct Vector {
    name: String,
    key: Vec<u8>,
    key_id: KeyId,
    nonce: [u8; 12],
    aad: Vec<u8>,
    inner_payload: Vec<u8>,
    sealed_data: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/payload-format.md"),
    )
    .unwrap();
    let mut out = Vec::new();
    for block in doc.split("```text\n").skip(1) {
        let block = block.split("```").next().unwrap();
        if !block.starts_with("vector:") {
            continue;
        }
        let field = |name: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .unwrap_or_else(|| panic!("vector lacks {name}"))
                .to_string()
        };
        let hex = |name: &str| hex::decode(field(name)).unwrap();
        out.push(Vector {
            name: field("vector"),
            key: hex("key"),
            key_id: KeyId::new(&field("key_id")).unwrap(),
            nonce: hex("nonce").try_into().unwrap(),
            aad: hex("aad"),
            inner_payload: hex("inner_payload"),
            sealed_data: hex("sealed_data"),
        });
    }
    assert!(
        out.len() >= 2,
        "docs/payload-format.md should hold the vectors"
    );
    out
}

#[test]
fn sealing_reproduces_every_vector() {
    for v in vectors() {
        let cipher = Aes256Gcm::new_from_slice(&v.key).unwrap();
        assert_eq!(format::associated_data(&v.key_id), v.aad, "{}", v.name);
        let inner = Payload::decode(v.inner_payload.as_slice()).unwrap();
        assert_eq!(inner.encode_to_vec(), v.inner_payload, "{}", v.name);
        let sealed = format::seal(&cipher, &v.key_id, &v.nonce, &inner).unwrap();
        assert_eq!(
            hex::encode(&sealed),
            hex::encode(&v.sealed_data),
            "{}",
            v.name
        );
    }
}

#[test]
fn opening_every_vector_recovers_the_payload() {
    for v in vectors() {
        let cipher = Aes256Gcm::new_from_slice(&v.key).unwrap();
        let opened = format::open(&cipher, &v.key_id, v.sealed_data.clone()).unwrap();
        assert_eq!(opened.encode_to_vec(), v.inner_payload, "{}", v.name);
    }
}

#[test]
fn every_single_byte_change_and_another_key_id_fail() {
    for v in vectors() {
        let cipher = Aes256Gcm::new_from_slice(&v.key).unwrap();
        for i in 0..v.sealed_data.len() {
            let mut tampered = v.sealed_data.clone();
            tampered[i] ^= 0x01;
            assert!(
                format::open(&cipher, &v.key_id, tampered).is_err(),
                "{}: byte {i}",
                v.name
            );
        }
        let other = KeyId::new("another-key").unwrap();
        assert_eq!(
            format::open(&cipher, &other, v.sealed_data.clone()),
            Err(FormatError::AuthenticationFailed { key_id: other })
        );
    }
}
