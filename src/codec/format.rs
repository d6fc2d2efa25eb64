//! The encrypted payload format (version 1), specified in docs/payload-format.md.
//!
//! An encrypted payload's `data` is `version (1 byte) || nonce (12 bytes) || ciphertext || tag
//! (16 bytes)`. The plaintext is the whole original `Payload`, protobuf-serialized, so its
//! metadata (the encoding, say) is hidden too. The AES-256-GCM authenticated data is
//! `"engram-payload:" || version || ":" || key id`: changing the version byte, the key id in the
//! metadata, or moving the data under another key id makes authentication fail.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use prost::Message;
use prost::bytes::{Buf, Bytes};

use crate::codec::key_id::KeyId;
use crate::codec::payload::Payload;

/// Metadata key naming a payload's encoding.
pub const METADATA_ENCODING: &str = "encoding";
/// Metadata key naming the data key an encrypted payload is sealed under.
pub const METADATA_KEY_ID: &str = "encryption-key-id";
/// The encoding of an encrypted payload, the name Temporal's own samples use.
pub const ENCODING_ENCRYPTED: &str = "binary/encrypted";
/// The format version written by this code and the only one it reads.
pub const FORMAT_VERSION: u8 = 1;
/// AES-GCM nonce length in bytes (96 bits).
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag length in bytes.
pub const TAG_LEN: usize = 16;
/// The header: version byte and nonce.
pub const HEADER_LEN: usize = 1 + NONCE_LEN;

const AAD_LABEL: &[u8] = b"engram-payload:";

/// [`Payload`]'s wire shape with `data` as `Bytes`, used only to decode a sealed payload.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
struct InnerPayload {
    #[prost(btree_map = "string, bytes", tag = "1")]
    metadata: std::collections::BTreeMap<String, Vec<u8>>,
    #[prost(bytes = "bytes", tag = "2")]
    data: Bytes,
    #[prost(bytes = "vec", repeated, tag = "3")]
    external_payloads: Vec<Vec<u8>>,
}

/// Never shows the decrypted content.
impl std::fmt::Debug for InnerPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InnerPayload([redacted])")
    }
}

/// Why sealed bytes could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Shorter than a header and a tag.
    #[error("encrypted data is {len} bytes, shorter than the {min}-byte minimum")]
    TooShort {
        /// Length received.
        len: usize,
        /// Minimum length of any sealed payload.
        min: usize,
    },
    /// A version byte this code does not know.
    #[error("encrypted data has format version {0}; this codec reads version {FORMAT_VERSION}")]
    UnsupportedVersion(u8),
    /// The tag did not verify: wrong key, tampered bytes, or a key id that does not match.
    #[error(
        "authentication failed under key `{key_id}`: the data was changed, or sealed under another key"
    )]
    AuthenticationFailed {
        /// The key id the payload claimed.
        key_id: KeyId,
    },
    /// The decrypted bytes are not a protobuf Payload.
    #[error("decrypted data under key `{key_id}` is not a Temporal Payload")]
    InnerPayloadInvalid {
        /// The key id the payload was sealed under.
        key_id: KeyId,
    },
    /// Too large for AES-GCM (over 64 GiB).
    #[error("payload is too large to encrypt")]
    TooLarge,
}

/// The authenticated data for `key_id` under the current format version.
pub fn associated_data(key_id: &KeyId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 2 + key_id.as_str().len());
    aad.extend_from_slice(AAD_LABEL);
    aad.push(FORMAT_VERSION);
    aad.push(b':');
    aad.extend_from_slice(key_id.as_str().as_bytes());
    aad
}

/// The length of the data [`seal`] makes of `inner`, known before sealing, so the codec server
/// can refuse an answer that would be too large without spending a seal of the key's budget.
pub fn sealed_len(inner: &Payload) -> usize {
    HEADER_LEN + inner.encoded_len() + TAG_LEN
}

/// Seals `inner` under `cipher` (the data key `key_id`) with the given nonce.
///
/// The nonce must be fresh for this key; [`crate::codec::PayloadCodec`] draws it at random.
pub fn seal(
    cipher: &Aes256Gcm,
    key_id: &KeyId,
    nonce: &[u8; NONCE_LEN],
    inner: &Payload,
) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::with_capacity(sealed_len(inner));
    out.push(FORMAT_VERSION);
    out.extend_from_slice(nonce);
    inner.encode(&mut out).map_err(|_| FormatError::TooLarge)?;
    let tag = cipher
        .encrypt_in_place_detached(
            Nonce::from_slice(nonce),
            &associated_data(key_id),
            &mut out[HEADER_LEN..],
        )
        .map_err(|_| FormatError::TooLarge)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens `sealed` (an encrypted payload's data) under `cipher`, the data key `key_id`.
///
/// Takes the buffer by value and decrypts in place, so a large payload is not copied.
pub fn open(
    cipher: &Aes256Gcm,
    key_id: &KeyId,
    mut sealed: Vec<u8>,
) -> Result<Payload, FormatError> {
    let min = HEADER_LEN + TAG_LEN;
    if sealed.len() < min {
        return Err(FormatError::TooShort {
            len: sealed.len(),
            min,
        });
    }
    if sealed[0] != FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion(sealed[0]));
    }
    let tag_at = sealed.len() - TAG_LEN;
    let tag = Tag::clone_from_slice(&sealed[tag_at..]);
    let nonce = Nonce::clone_from_slice(&sealed[1..HEADER_LEN]);
    cipher
        .decrypt_in_place_detached(
            &nonce,
            &associated_data(key_id),
            &mut sealed[HEADER_LEN..tag_at],
            &tag,
        )
        .map_err(|_| FormatError::AuthenticationFailed {
            key_id: key_id.clone(),
        })?;
    // Decoded as `Bytes`, the inner data is a view of the decrypted buffer; once the view is the
    // buffer's only owner, it becomes the payload's Vec by moving the bytes down in place, so a
    // large payload is neither copied into a second allocation nor copied byte by byte.
    let mut body = Bytes::from(sealed);
    body.truncate(tag_at);
    body.advance(HEADER_LEN);
    let inner = InnerPayload::decode(body).map_err(|_| FormatError::InnerPayloadInvalid {
        key_id: key_id.clone(),
    })?;
    Ok(Payload {
        metadata: inner.metadata,
        data: Vec::from(inner.data),
        external_payloads: inner.external_payloads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::KeyInit;

    fn cipher(byte: u8) -> Aes256Gcm {
        Aes256Gcm::new(&[byte; 32].into())
    }

    fn id(text: &str) -> KeyId {
        KeyId::new(text).unwrap()
    }

    #[test]
    fn round_trip() {
        let inner = Payload::new("json/plain", b"{\"a\":1}".to_vec());
        let sealed = seal(&cipher(7), &id("k1"), &[3; 12], &inner).unwrap();
        assert_eq!(sealed[0], FORMAT_VERSION);
        assert_eq!(&sealed[1..13], &[3; 12]);
        assert_eq!(open(&cipher(7), &id("k1"), sealed).unwrap(), inner);
    }

    #[test]
    fn sealed_len_is_known_before_sealing() {
        for data in [Vec::new(), vec![7; 1], vec![9; 70_000]] {
            let inner = Payload::new("json/plain", data);
            let sealed = seal(&cipher(7), &id("k1"), &[3; 12], &inner).unwrap();
            assert_eq!(sealed.len(), sealed_len(&inner));
        }
    }

    #[test]
    fn header_byte_flip_fails() {
        let inner = Payload::new("json/plain", b"1".to_vec());
        let mut sealed = seal(&cipher(7), &id("k1"), &[3; 12], &inner).unwrap();
        sealed[0] ^= 0x02;
        assert_eq!(
            open(&cipher(7), &id("k1"), sealed.clone()),
            Err(FormatError::UnsupportedVersion(3))
        );
        sealed[0] ^= 0x02;
        sealed[5] ^= 0x01;
        assert!(matches!(
            open(&cipher(7), &id("k1"), sealed),
            Err(FormatError::AuthenticationFailed { .. })
        ));
    }

    #[test]
    fn key_id_is_bound_even_with_the_same_key_bytes() {
        let inner = Payload::new("json/plain", b"1".to_vec());
        let sealed = seal(&cipher(7), &id("k1"), &[3; 12], &inner).unwrap();
        assert_eq!(
            open(&cipher(7), &id("k2"), sealed),
            Err(FormatError::AuthenticationFailed { key_id: id("k2") })
        );
    }

    #[test]
    fn short_input_is_an_error() {
        assert!(matches!(
            open(&cipher(1), &id("k"), vec![1; 28]),
            Err(FormatError::TooShort { len: 28, min: 29 })
        ));
    }

    #[test]
    fn aad_layout() {
        assert_eq!(
            associated_data(&id("k-1")),
            b"engram-payload:\x01:k-1".to_vec()
        );
    }
}
