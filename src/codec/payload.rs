//! Temporal's `Payload` message (`temporal.api.common.v1.Payload`), declared by hand with the
//! same field numbers so the codec needs no generated Temporal API code, plus its protojson form.
//!
//! The protojson form (`{"metadata": {"k": "<base64>"}, "data": "<base64>"}`) is what the Temporal
//! Web UI and CLI send to a codec endpoint, so the codec server can hand payloads straight to the
//! codec.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One Temporal payload: encoding metadata and the encoded bytes.
///
/// Metadata is kept in a `BTreeMap` so serialization is deterministic (the test vectors in
/// docs/payload-format.md depend on it).
#[derive(Clone, PartialEq, Eq, prost::Message)]
#[prost(skip_debug)]
pub struct Payload {
    /// Encoding metadata, for example `encoding: json/plain`.
    #[prost(btree_map = "string, bytes", tag = "1")]
    pub metadata: BTreeMap<String, Vec<u8>>,
    /// The encoded value.
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
    /// Temporal's `external_payloads` (field 3, `ExternalPayloadDetails` messages), carried as
    /// their serialized bytes so the codec keeps them inside the ciphertext without needing
    /// their schema. Not part of the protojson form.
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub external_payloads: Vec<Vec<u8>>,
}

impl Payload {
    /// A payload with one metadata entry, the common shape of a converter's output.
    pub fn new(encoding: &str, data: impl Into<Vec<u8>>) -> Self {
        Self {
            metadata: BTreeMap::from([(
                crate::codec::format::METADATA_ENCODING.to_string(),
                encoding.as_bytes().to_vec(),
            )]),
            data: data.into(),
            external_payloads: Vec::new(),
        }
    }

    /// The metadata value under `key` as UTF-8, if present and valid.
    pub fn metadata_str(&self, key: &str) -> Option<&str> {
        self.metadata
            .get(key)
            .and_then(|v| std::str::from_utf8(v).ok())
    }
}

/// Shows metadata keys and the data length only: a payload may hold plaintext, and Debug output
/// ends up in logs.
impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("metadata_keys", &self.metadata.keys().collect::<Vec<_>>())
            .field("data_len", &self.data.len())
            .finish()
    }
}

/// A list of payloads in protojson, the body of a codec endpoint's `/encode` and `/decode`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payloads {
    /// The payloads, in order.
    #[serde(default)]
    pub payloads: Vec<Payload>,
}

/// protojson accepts standard and URL-safe base64, padded or not.
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

/// Decodes a protojson bytes value: standard or URL-safe base64, padded or not.
///
/// Standard base64, what protojson writers emit, goes through base64-simd's vector decoder,
/// several times faster on large payloads; whatever it refuses is decoded by the lenient scalar
/// engines, so what is accepted, and what it decodes to, stays theirs (the test
/// `simd_decoding_accepts_only_what_the_lenient_decoder_accepts` holds them to it).
pub(crate) fn decode_base64(text: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    if let Ok(bytes) = simd_standard(text).decode_to_vec(text) {
        return Ok(bytes);
    }
    decode_base64_lenient(text)
}

/// The scalar decoders that define what a protojson bytes value may be.
fn decode_base64_lenient(text: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD_LENIENT
        .decode(text)
        .or_else(|_| URL_SAFE_LENIENT.decode(text))
}

/// base64-simd's standard alphabet for `text`: padded when its length allows padding, else
/// unpadded.
fn simd_standard(text: &[u8]) -> &'static base64_simd::Base64 {
    if text.len().is_multiple_of(4) {
        &base64_simd::STANDARD
    } else {
        &base64_simd::STANDARD_NO_PAD
    }
}

/// Appends the padded standard base64 of `bytes` to `out`, with base64-simd's vector encoder,
/// writing into `out`'s spare room without zeroing it first.
pub(crate) fn append_base64(bytes: &[u8], out: &mut Vec<u8>) {
    base64_simd::STANDARD.encode_append(bytes, out);
}

/// The protojson shape of a payload, bytes as base64 strings.
#[derive(Serialize, Deserialize)]
struct PayloadJson {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    data: String,
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PayloadJson {
            metadata: self
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), STANDARD.encode(v)))
                .collect(),
            data: STANDARD.encode(&self.data),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let json = PayloadJson::deserialize(deserializer)?;
        let mut metadata = BTreeMap::new();
        for (key, value) in json.metadata {
            let bytes = decode_base64(value.as_bytes())
                .map_err(|_| D::Error::custom("a metadata value is not base64"))?;
            metadata.insert(key, bytes);
        }
        let data = decode_base64(json.data.as_bytes())
            .map_err(|_| D::Error::custom("data is not base64"))?;
        Ok(Self {
            metadata,
            data,
            external_payloads: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn protobuf_field_numbers_match_temporal() {
        let payload = Payload::new("json/plain", b"1".to_vec());
        // field 1 (metadata entry, length-delimited) then field 2 (data, length-delimited)
        let bytes = payload.encode_to_vec();
        assert_eq!(bytes[0], 0x0a);
        assert_eq!(bytes[bytes.len() - 3], 0x12);
        assert_eq!(Payload::decode(bytes.as_slice()).unwrap(), payload);
    }

    #[test]
    fn protojson_round_trip_and_lenient_base64() {
        let payload = Payload::new("json/plain", b"\"hi\"".to_vec());
        let json = serde_json::to_string(&payload).unwrap();
        assert_eq!(
            json,
            r#"{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"ImhpIg=="}"#
        );
        assert_eq!(serde_json::from_str::<Payload>(&json).unwrap(), payload);
        let unpadded: Payload =
            serde_json::from_str(r#"{"metadata":{"encoding":"anNvbi9wbGFpbg"},"data":"ImhpIg"}"#)
                .unwrap();
        assert_eq!(unpadded, payload);
        let url_safe = base64::engine::general_purpose::URL_SAFE.encode([0xfb, 0xff]);
        let p: Payload = serde_json::from_str(&format!(r#"{{"data":"{url_safe}"}}"#)).unwrap();
        assert_eq!(p.data, vec![0xfb, 0xff]);
    }

    proptest::proptest! {
        /// The vector decoder is only a faster path: whatever it accepts, the lenient decoder
        /// accepts too and decodes to the same bytes.
        #[test]
        fn simd_decoding_accepts_only_what_the_lenient_decoder_accepts(
            text in "[A-Za-z0-9+/=_-]{0,40}"
        ) {
            let lenient = decode_base64_lenient(text.as_bytes()).ok();
            if let Ok(fast) = simd_standard(text.as_bytes()).decode_to_vec(text.as_bytes()) {
                proptest::prop_assert_eq!(lenient.as_ref(), Some(&fast));
            }
            proptest::prop_assert_eq!(decode_base64(text.as_bytes()).ok(), lenient);
        }

        /// The vector encoder writes what the scalar one does, and it decodes back.
        #[test]
        fn simd_encoding_matches_the_scalar_encoder(
            prefix in proptest::collection::vec(proptest::num::u8::ANY, 0..4),
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)
        ) {
            let mut out = prefix.clone();
            append_base64(&bytes, &mut out);
            proptest::prop_assert_eq!(&out[..prefix.len()], &prefix[..]);
            let scalar = STANDARD.encode(&bytes);
            proptest::prop_assert_eq!(&out[prefix.len()..], scalar.as_bytes());
            proptest::prop_assert_eq!(decode_base64(&out[prefix.len()..]).unwrap(), bytes);
        }
    }

    #[test]
    fn debug_hides_data() {
        let payload = Payload::new("json/plain", b"top secret".to_vec());
        let shown = format!("{payload:?}");
        assert!(!shown.contains("top secret"), "{shown}");
        assert!(shown.contains("data_len: 10"), "{shown}");
    }

    #[test]
    fn protojson_rejects_bad_base64() {
        let err = serde_json::from_str::<Payload>(r#"{"data":"!!"}"#).unwrap_err();
        assert!(err.to_string().contains("data is not base64"));
    }

    #[test]
    fn payloads_list_parses_empty_body() {
        let list: Payloads = serde_json::from_str("{}").unwrap();
        assert!(list.payloads.is_empty());
    }
}
