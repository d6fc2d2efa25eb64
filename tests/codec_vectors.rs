//! The test vectors in docs/payload-format.md, checked against the Rust codec (the Python
//! codec checks the same ones): version 2 is sealed and opened, version 1 (no longer written)
//! is opened.

use engram::codec::format::{self, DataKeyCipher, FormatError};
use engram::codec::{KeyId, Namespace, Payload};
use prost::Message;

struct Vector {
    name: String,
    version: u8,
    key: Vec<u8>,
    key_id: KeyId,
    namespace: Option<Namespace>,
    salt: Option<[u8; 16]>,
    payload_key: Option<Vec<u8>>,
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
                .map(str::to_string)
        };
        let required = |name: &str| field(name).unwrap_or_else(|| panic!("vector lacks {name}"));
        let hex = |name: &str| hex::decode(required(name)).unwrap();
        let version: u8 = required("version").parse().unwrap();
        out.push(Vector {
            name: required("vector"),
            version,
            key: hex("key"),
            key_id: KeyId::new(&required("key_id")).unwrap(),
            namespace: field("namespace").map(|n| Namespace::new(&n).unwrap()),
            salt: field("salt").map(|s| hex::decode(s).unwrap().try_into().unwrap()),
            payload_key: field("payload_key").map(|s| hex::decode(s).unwrap()),
            nonce: hex("nonce").try_into().unwrap(),
            aad: hex("aad"),
            inner_payload: hex("inner_payload"),
            sealed_data: hex("sealed_data"),
        });
    }
    for version in [1, 2] {
        assert!(
            out.iter().filter(|v| v.version == version).count() >= 2,
            "docs/payload-format.md should hold two vectors of version {version}"
        );
    }
    out
}

#[test]
fn sealing_reproduces_every_version_2_vector() {
    for v in vectors().into_iter().filter(|v| v.version == 2) {
        let key = DataKeyCipher::new(&v.key).unwrap();
        let namespace = v
            .namespace
            .as_ref()
            .expect("a version 2 vector names a namespace");
        let salt = v.salt.expect("a version 2 vector has a salt");
        assert_eq!(
            format::associated_data_v2(&v.key_id, namespace),
            v.aad,
            "{}",
            v.name
        );
        assert_eq!(
            key.payload_key(&salt).unwrap().as_slice(),
            v.payload_key.as_deref().unwrap(),
            "{}",
            v.name
        );
        let inner = Payload::decode(v.inner_payload.as_slice()).unwrap();
        assert_eq!(inner.encode_to_vec(), v.inner_payload, "{}", v.name);
        let sealed = format::seal(&key, &v.key_id, namespace, &salt, &v.nonce, &inner).unwrap();
        assert_eq!(
            hex::encode(&sealed),
            hex::encode(&v.sealed_data),
            "{}",
            v.name
        );
    }
}

#[test]
fn version_1_vectors_keep_their_authenticated_data() {
    for v in vectors().into_iter().filter(|v| v.version == 1) {
        assert_eq!(format::associated_data_v1(&v.key_id), v.aad, "{}", v.name);
        assert_eq!(&v.sealed_data[1..13], &v.nonce, "{}", v.name);
    }
}

#[test]
fn opening_every_vector_recovers_the_payload() {
    for v in vectors() {
        let key = DataKeyCipher::new(&v.key).unwrap();
        let opened =
            format::open(&key, &v.key_id, v.namespace.as_ref(), v.sealed_data.clone()).unwrap();
        assert_eq!(opened.encode_to_vec(), v.inner_payload, "{}", v.name);
    }
}

#[test]
fn every_single_byte_change_another_key_id_and_another_namespace_fail() {
    for v in vectors() {
        let key = DataKeyCipher::new(&v.key).unwrap();
        let namespace = v.namespace.as_ref();
        for i in 0..v.sealed_data.len() {
            let mut tampered = v.sealed_data.clone();
            tampered[i] ^= 0x01;
            assert!(
                format::open(&key, &v.key_id, namespace, tampered).is_err(),
                "{}: byte {i}",
                v.name
            );
        }
        let other = KeyId::new("another-key").unwrap();
        assert_eq!(
            format::open(&key, &other, namespace, v.sealed_data.clone()),
            Err(FormatError::AuthenticationFailed { key_id: other })
        );
        if v.version == 2 {
            let elsewhere = Namespace::new("sandbox").unwrap();
            assert_eq!(
                format::open(&key, &v.key_id, Some(&elsewhere), v.sealed_data.clone()),
                Err(FormatError::AuthenticationFailed {
                    key_id: v.key_id.clone()
                })
            );
        }
    }
}
