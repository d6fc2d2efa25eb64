//! The encrypted payload format, specified in docs/payload-format.md.
//!
//! Writers produce version 2: `0x02 || salt (16) || nonce (12) || ciphertext || tag (16)`, sealed
//! with AES-256-GCM under a key derived for this payload alone (HKDF-SHA256 of the data key and
//! the salt), with the key id and the namespace the payload was sealed for as authenticated
//! data. Readers also open version 1 (`0x01 || nonce || ciphertext || tag`, AES-256-GCM under
//! the data key itself, the key id authenticated), which earlier releases wrote.
//!
//! The plaintext is the whole original `Payload`, protobuf-serialized, so its metadata (the
//! encoding, say) is hidden too.

use aws_lc_rs::hkdf;
use prost::Message;
use prost::bytes::{Buf, Bytes};
use zeroize::Zeroizing;

use crate::codec::aead::Aes256GcmKey;
use crate::codec::key_id::KeyId;
use crate::codec::namespace::Namespace;
use crate::codec::payload::Payload;

/// Metadata key naming a payload's encoding.
pub const METADATA_ENCODING: &str = "encoding";
/// Metadata key naming the data key an encrypted payload is sealed under.
pub const METADATA_KEY_ID: &str = "encryption-key-id";
/// Metadata key naming the namespace a version 2 payload was sealed for.
pub const METADATA_NAMESPACE: &str = "encryption-namespace";
/// The encoding of an encrypted payload, the name Temporal's own samples use.
pub const ENCODING_ENCRYPTED: &str = "binary/encrypted";
/// The first format version: still opened, no longer written.
pub const FORMAT_V1: u8 = 1;
/// The format version written by this code.
pub const FORMAT_V2: u8 = 2;
/// AES-GCM nonce length in bytes (96 bits).
pub const NONCE_LEN: usize = crate::codec::aead::NONCE_LEN;
/// Version 2's per-payload salt in bytes (128 bits).
pub const SALT_LEN: usize = 16;
/// AES-GCM tag length in bytes.
pub const TAG_LEN: usize = crate::codec::aead::TAG_LEN;
/// Version 1's header: version byte and nonce.
pub const HEADER_V1_LEN: usize = 1 + NONCE_LEN;
/// Version 2's header: version byte, salt and nonce.
pub const HEADER_V2_LEN: usize = 1 + SALT_LEN + NONCE_LEN;

const AAD_LABEL: &[u8] = b"engram-payload:";
const HKDF_SALT: &[u8] = b"engram-payload-v2";
const HKDF_INFO_LABEL: &[u8] = b"engram-payload-key:";

/// One data key in the forms both format versions need: the AES-256-GCM cipher that opens
/// version 1 payloads, and the HKDF pseudorandom key from which each version 2 payload's own key
/// is derived. Neither shows itself in Debug output; the cipher's key schedule is cleared on drop.
pub struct DataKeyCipher {
    v1: Aes256GcmKey,
    prk: hkdf::Prk,
}

impl DataKeyCipher {
    /// Prepares a 32-byte data key; `None` for any other length.
    pub fn new(material: &[u8]) -> Option<Self> {
        if material.len() != 32 {
            return None;
        }
        Some(Self {
            v1: Aes256GcmKey::new(material)?,
            prk: hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(material),
        })
    }

    /// The version 2 payload key for `salt`: HKDF-SHA256 expanded with the info
    /// `engram-payload-key:` and the salt.
    pub fn payload_key(&self, salt: &[u8; SALT_LEN]) -> Result<Zeroizing<[u8; 32]>, FormatError> {
        let mut key = Zeroizing::new([0u8; 32]);
        self.prk
            .expand(&[HKDF_INFO_LABEL, salt], hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(key.as_mut()))
            .map_err(|_| FormatError::TooLarge)?;
        Ok(key)
    }

    /// The AES-256-GCM cipher of one version 2 payload, from its salt.
    fn payload_cipher(&self, salt: &[u8; SALT_LEN]) -> Result<Aes256GcmKey, FormatError> {
        let key = self.payload_key(salt)?;
        Aes256GcmKey::new(key.as_ref()).ok_or(FormatError::TooLarge)
    }
}

/// Never shows key material.
impl std::fmt::Debug for DataKeyCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKeyCipher([redacted])")
    }
}

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
    /// Shorter than its version's header and a tag.
    #[error("encrypted data is {len} bytes, shorter than the {min}-byte minimum of its version")]
    TooShort {
        /// Length received.
        len: usize,
        /// Minimum length of a sealed payload of that version.
        min: usize,
    },
    /// A version byte this code does not know.
    #[error(
        "encrypted data has format version {0}; this codec reads versions {FORMAT_V1} and {FORMAT_V2}"
    )]
    UnsupportedVersion(u8),
    /// The tag did not verify: wrong key, tampered bytes, or a key id or namespace that does not
    /// match.
    #[error(
        "authentication failed under key `{key_id}`: the data was changed, or sealed under another key or for another namespace"
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
    /// A version 2 payload opened without the namespace it is bound to.
    #[error(
        "a format version 2 payload is bound to a namespace; it opens only for a known namespace"
    )]
    NamespaceRequired,
    /// Too large for AES-GCM (over 64 GiB).
    #[error("payload is too large to encrypt")]
    TooLarge,
}

/// Version 1's authenticated data: `engram-payload:\x01:` and the key id.
pub fn associated_data_v1(key_id: &KeyId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 2 + key_id.as_str().len());
    aad.extend_from_slice(AAD_LABEL);
    aad.push(FORMAT_V1);
    aad.push(b':');
    aad.extend_from_slice(key_id.as_str().as_bytes());
    aad
}

/// Version 2's authenticated data: `engram-payload:\x02:`, the key id, `:`, the namespace.
pub fn associated_data_v2(key_id: &KeyId, namespace: &Namespace) -> Vec<u8> {
    let mut aad =
        Vec::with_capacity(AAD_LABEL.len() + 3 + key_id.as_str().len() + namespace.as_str().len());
    aad.extend_from_slice(AAD_LABEL);
    aad.push(FORMAT_V2);
    aad.push(b':');
    aad.extend_from_slice(key_id.as_str().as_bytes());
    aad.push(b':');
    aad.extend_from_slice(namespace.as_str().as_bytes());
    aad
}

/// The length of the data [`seal`] makes of `inner`, known before sealing, so the codec server
/// can refuse an answer that would be too large without spending a seal of the key's budget.
pub fn sealed_len(inner: &Payload) -> usize {
    HEADER_V2_LEN + inner.encoded_len() + TAG_LEN
}

/// Seals `inner` as version 2 under the data key `key_id`, for `namespace`, with the given salt
/// and nonce.
///
/// Both must be fresh random values; [`crate::codec::PayloadCodec`] draws them.
pub fn seal(
    key: &DataKeyCipher,
    key_id: &KeyId,
    namespace: &Namespace,
    salt: &[u8; SALT_LEN],
    nonce: &[u8; NONCE_LEN],
    inner: &Payload,
) -> Result<Vec<u8>, FormatError> {
    let cipher = key.payload_cipher(salt)?;
    let mut out = Vec::with_capacity(sealed_len(inner));
    out.push(FORMAT_V2);
    out.extend_from_slice(salt);
    out.extend_from_slice(nonce);
    inner.encode(&mut out).map_err(|_| FormatError::TooLarge)?;
    let tag = cipher
        .seal_in_place(
            nonce,
            &associated_data_v2(key_id, namespace),
            &mut out[HEADER_V2_LEN..],
        )
        .map_err(|_| FormatError::TooLarge)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// The format version of sealed data, from its first byte.
pub fn version_of(sealed: &[u8]) -> Option<u8> {
    sealed.first().copied()
}

/// Opens `sealed` (an encrypted payload's data) under the data key `key_id`. A version 2 payload
/// needs the namespace it was sealed for; a version 1 payload is bound to none and ignores it.
///
/// Takes the buffer by value and decrypts in place, so a large payload is not copied.
pub fn open(
    key: &DataKeyCipher,
    key_id: &KeyId,
    namespace: Option<&Namespace>,
    mut sealed: Vec<u8>,
) -> Result<Payload, FormatError> {
    let version = version_of(&sealed);
    let (header, aad) = match version {
        Some(FORMAT_V1) => (HEADER_V1_LEN, associated_data_v1(key_id)),
        Some(FORMAT_V2) => {
            let namespace = namespace.ok_or(FormatError::NamespaceRequired)?;
            (HEADER_V2_LEN, associated_data_v2(key_id, namespace))
        }
        Some(other) => return Err(FormatError::UnsupportedVersion(other)),
        None => {
            return Err(FormatError::TooShort {
                len: 0,
                min: HEADER_V2_LEN + TAG_LEN,
            });
        }
    };
    let min = header + TAG_LEN;
    if sealed.len() < min {
        return Err(FormatError::TooShort {
            len: sealed.len(),
            min,
        });
    }
    let tag_at = sealed.len() - TAG_LEN;
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&sealed[header - NONCE_LEN..header]);
    let payload_cipher = if version == Some(FORMAT_V2) {
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&sealed[1..=SALT_LEN]);
        Some(key.payload_cipher(&salt)?)
    } else {
        None
    };
    let cipher = payload_cipher.as_ref().unwrap_or(&key.v1);
    cipher
        .open_in_place(&nonce, &aad, &mut sealed[header..])
        .map_err(|_| FormatError::AuthenticationFailed {
            key_id: key_id.clone(),
        })?;
    // Decoded as `Bytes`, the inner data is a view of the decrypted buffer; once the view is the
    // buffer's only owner, it becomes the payload's Vec by moving the bytes down in place, so a
    // large payload is neither copied into a second allocation nor copied byte by byte.
    let mut body = Bytes::from(sealed);
    body.truncate(tag_at);
    body.advance(header);
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

    fn key(byte: u8) -> DataKeyCipher {
        DataKeyCipher::new(&[byte; 32]).unwrap()
    }

    fn id(text: &str) -> KeyId {
        KeyId::new(text).unwrap()
    }

    fn ns(text: &str) -> Namespace {
        Namespace::new(text).unwrap()
    }

    fn sealed(inner: &Payload) -> Vec<u8> {
        seal(&key(7), &id("k1"), &ns("orders"), &[5; 16], &[3; 12], inner).unwrap()
    }

    #[test]
    fn round_trip() {
        let inner = Payload::new("json/plain", b"{\"a\":1}".to_vec());
        let data = sealed(&inner);
        assert_eq!(data[0], FORMAT_V2);
        assert_eq!(&data[1..17], &[5; 16]);
        assert_eq!(&data[17..29], &[3; 12]);
        assert_eq!(
            open(&key(7), &id("k1"), Some(&ns("orders")), data).unwrap(),
            inner
        );
    }

    #[test]
    fn sealed_len_is_known_before_sealing() {
        for data in [Vec::new(), vec![7; 1], vec![9; 70_000]] {
            let inner = Payload::new("json/plain", data);
            assert_eq!(sealed(&inner).len(), sealed_len(&inner));
        }
    }

    #[test]
    fn the_namespace_is_bound() {
        let data = sealed(&Payload::new("json/plain", b"1".to_vec()));
        assert_eq!(
            open(&key(7), &id("k1"), Some(&ns("sandbox")), data.clone()),
            Err(FormatError::AuthenticationFailed { key_id: id("k1") })
        );
        assert_eq!(
            open(&key(7), &id("k1"), None, data),
            Err(FormatError::NamespaceRequired)
        );
    }

    #[test]
    fn header_byte_flip_fails() {
        let mut data = sealed(&Payload::new("json/plain", b"1".to_vec()));
        data[0] ^= 0x04;
        assert_eq!(
            open(&key(7), &id("k1"), Some(&ns("orders")), data.clone()),
            Err(FormatError::UnsupportedVersion(6))
        );
        data[0] ^= 0x04;
        for at in [3, 20] {
            let mut flipped = data.clone();
            flipped[at] ^= 0x01;
            assert!(matches!(
                open(&key(7), &id("k1"), Some(&ns("orders")), flipped),
                Err(FormatError::AuthenticationFailed { .. })
            ));
        }
    }

    #[test]
    fn key_id_is_bound_even_with_the_same_key_bytes() {
        let data = sealed(&Payload::new("json/plain", b"1".to_vec()));
        assert_eq!(
            open(&key(7), &id("k2"), Some(&ns("orders")), data),
            Err(FormatError::AuthenticationFailed { key_id: id("k2") })
        );
    }

    #[test]
    fn short_input_is_an_error_per_version() {
        assert!(matches!(
            open(&key(1), &id("k"), None, vec![1; 28]),
            Err(FormatError::TooShort { len: 28, min: 29 })
        ));
        assert!(matches!(
            open(&key(1), &id("k"), Some(&ns("a")), vec![2; 44]),
            Err(FormatError::TooShort { len: 44, min: 45 })
        ));
        assert!(matches!(
            open(&key(1), &id("k"), None, Vec::new()),
            Err(FormatError::TooShort { len: 0, .. })
        ));
    }

    #[test]
    fn aad_layouts() {
        assert_eq!(
            associated_data_v1(&id("k-1")),
            b"engram-payload:\x01:k-1".to_vec()
        );
        assert_eq!(
            associated_data_v2(&id("dek-1"), &ns("orders")),
            b"engram-payload:\x02:dek-1:orders".to_vec()
        );
    }
}
