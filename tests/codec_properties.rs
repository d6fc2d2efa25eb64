//! Property tests of the payload codec: every payload round-trips, every tamper fails, and no
//! input (random bytes, random metadata) makes decoding panic.

use std::collections::BTreeMap;
use std::sync::Arc;

use engram::codec::{KeyId, Keyring, Payload, PayloadCodec};
use engram::kms::SecretBytes;
use proptest::prelude::*;

fn codec() -> PayloadCodec {
    let ring = Keyring::from_keys([
        (
            KeyId::new("k1").unwrap(),
            engram::codec::KeyTimes::ALWAYS,
            SecretBytes::new(vec![1; 32]),
        ),
        (
            KeyId::new("k2").unwrap(),
            engram::codec::KeyTimes::DECRYPT_ONLY,
            SecretBytes::new(vec![2; 32]),
        ),
    ])
    .unwrap();
    PayloadCodec::new(
        Arc::new(ring),
        engram::codec::Namespace::new("default").unwrap(),
    )
}

fn payload() -> impl Strategy<Value = Payload> {
    (
        prop::collection::btree_map(".{0,12}", prop::collection::vec(any::<u8>(), 0..24), 0..4),
        prop::collection::vec(any::<u8>(), 0..2048),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 0..2),
    )
        .prop_map(|(metadata, data, external_payloads)| Payload {
            metadata,
            data,
            external_payloads,
        })
}

proptest! {
    #[test]
    fn round_trip(original in payload()) {
        let codec = codec();
        let encoded = codec.encode_one(&original).unwrap();
        prop_assert_eq!(codec.decode_one(encoded).unwrap(), original);
    }

    #[test]
    fn any_bit_flip_in_data_fails(original in payload(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let codec = codec();
        let mut encoded = codec.encode_one(&original).unwrap();
        let i = at.index(encoded.data.len());
        encoded.data[i] ^= 1 << bit;
        prop_assert!(codec.decode_one(encoded).is_err());
    }

    #[test]
    fn truncation_fails(original in payload(), keep in any::<prop::sample::Index>()) {
        let codec = codec();
        let mut encoded = codec.encode_one(&original).unwrap();
        let len = keep.index(encoded.data.len());
        encoded.data.truncate(len);
        prop_assert!(codec.decode_one(encoded).is_err());
    }

    #[test]
    fn moving_to_another_held_key_id_fails(original in payload()) {
        let codec = codec();
        let mut encoded = codec.encode_one(&original).unwrap();
        encoded.metadata.insert("encryption-key-id".into(), b"k2".to_vec());
        prop_assert!(codec.decode_one(encoded).is_err());
    }

    #[test]
    fn random_encrypted_payloads_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..512),
        key_id in prop::collection::vec(any::<u8>(), 0..80),
        version_one in any::<bool>(),
    ) {
        let codec = codec();
        let mut data = data;
        if version_one && !data.is_empty() {
            data[0] = 1;
        }
        let metadata = BTreeMap::from([
            ("encoding".to_string(), b"binary/encrypted".to_vec()),
            ("encryption-key-id".to_string(), key_id),
        ]);
        let outcome = codec.decode_one(Payload {
            metadata,
            data,
            external_payloads: Vec::new(),
        });
        prop_assert!(outcome.is_err());
    }

    #[test]
    fn random_protojson_never_panics(text in ".{0,200}") {
        let _ = serde_json::from_str::<engram::codec::Payloads>(&text);
    }
}
