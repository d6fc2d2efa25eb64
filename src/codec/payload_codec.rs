//! [`PayloadCodec`]: what a worker or the codec server calls to encrypt and decrypt Temporal
//! payloads with a [`Keyring`].

use std::sync::Arc;

use crate::codec::format::{
    self, ENCODING_ENCRYPTED, FormatError, METADATA_ENCODING, METADATA_KEY_ID, NONCE_LEN,
};
use crate::codec::key_id::KeyId;
use crate::codec::keyring::{Keyring, SealLimitReached};
use crate::codec::payload::Payload;

/// Why a payload could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The primary key has sealed as many payloads as it safely may.
    #[error(transparent)]
    SealLimit(#[from] SealLimitReached),
    /// An encrypted payload has no `encryption-key-id`, or one that is not a valid id.
    #[error("encrypted payload has no valid `{METADATA_KEY_ID}` metadata")]
    MissingKeyId,
    /// An encrypted payload names a key this keyring does not hold (or holds as retired).
    #[error(
        "payload is encrypted under data key `{0}`, which this keyring does not hold (unknown or retired); load the current keyring document"
    )]
    UnknownKey(String),
    /// Sealing or opening failed.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The operating system's random source failed.
    #[error("no randomness from the operating system for a nonce")]
    Randomness,
}

/// Encrypts and decrypts payloads under a keyring.
#[derive(Debug, Clone)]
pub struct PayloadCodec {
    keyring: Arc<Keyring>,
}

impl PayloadCodec {
    /// A codec over `keyring`.
    pub fn new(keyring: Arc<Keyring>) -> Self {
        Self { keyring }
    }

    /// The keyring in use.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Encrypts each payload under the primary data key.
    pub fn encode(&self, payloads: Vec<Payload>) -> Result<Vec<Payload>, CodecError> {
        payloads.iter().map(|p| self.encode_one(p)).collect()
    }

    /// Decrypts each encrypted payload; payloads that are not encrypted pass through unchanged.
    pub fn decode(&self, payloads: Vec<Payload>) -> Result<Vec<Payload>, CodecError> {
        payloads.into_iter().map(|p| self.decode_one(p)).collect()
    }

    /// Encrypts one payload under the primary data key with a fresh random nonce.
    pub fn encode_one(&self, payload: &Payload) -> Result<Payload, CodecError> {
        let key = self.keyring.key_for_sealing()?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| CodecError::Randomness)?;
        let data = format::seal(key.cipher(), key.id(), &nonce, payload)?;
        tracing::trace!(key_id = %key.id(), bytes = data.len(), "sealed payload");
        Ok(Payload {
            metadata: [
                (
                    METADATA_ENCODING.to_string(),
                    ENCODING_ENCRYPTED.as_bytes().to_vec(),
                ),
                (
                    METADATA_KEY_ID.to_string(),
                    key.id().as_str().as_bytes().to_vec(),
                ),
            ]
            .into(),
            data,
            external_payloads: Vec::new(),
        })
    }

    /// Decrypts one payload if it is encrypted, or returns it unchanged if it is not.
    pub fn decode_one(&self, payload: Payload) -> Result<Payload, CodecError> {
        if payload.metadata.get(METADATA_ENCODING).map(Vec::as_slice)
            != Some(ENCODING_ENCRYPTED.as_bytes())
        {
            return Ok(payload);
        }
        let key_id = payload
            .metadata_str(METADATA_KEY_ID)
            .ok_or(CodecError::MissingKeyId)
            .and_then(|text| KeyId::new(text).map_err(|_| CodecError::MissingKeyId))?;
        let key = self
            .keyring
            .key_for_opening(&key_id)
            .ok_or_else(|| CodecError::UnknownKey(key_id.to_string()))?;
        let inner = format::open(key.cipher(), &key_id, payload.data)?;
        tracing::trace!(key_id = %key_id, "opened payload");
        Ok(inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::keyring::KeyState;
    use crate::kms::SecretBytes;

    fn codec(keys: &[(&str, KeyState, u8)]) -> PayloadCodec {
        let ring = Keyring::from_keys(keys.iter().map(|(id, state, byte)| {
            (
                KeyId::new(id).unwrap(),
                *state,
                SecretBytes::new(vec![*byte; 32]),
            )
        }))
        .unwrap();
        PayloadCodec::new(Arc::new(ring))
    }

    #[test]
    fn round_trip_hides_metadata_and_data() {
        let codec = codec(&[("k1", KeyState::Primary, 1)]);
        let original = Payload::new("json/plain", b"\"card 4111\"".to_vec());
        let encoded = codec.encode(vec![original.clone()]).unwrap();
        assert_eq!(
            encoded[0].metadata_str("encoding"),
            Some("binary/encrypted")
        );
        assert_eq!(encoded[0].metadata_str("encryption-key-id"), Some("k1"));
        assert!(!encoded[0].data.windows(4).any(|w| w == b"4111"));
        assert_eq!(codec.decode(encoded).unwrap(), vec![original]);
    }

    #[test]
    fn nonces_differ_between_seals() {
        let codec = codec(&[("k1", KeyState::Primary, 1)]);
        let p = Payload::new("json/plain", b"1".to_vec());
        let a = codec.encode_one(&p).unwrap();
        let b = codec.encode_one(&p).unwrap();
        assert_ne!(a.data[1..13], b.data[1..13]);
    }

    #[test]
    fn plain_payloads_pass_through() {
        let codec = codec(&[("k1", KeyState::Primary, 1)]);
        let plain = Payload::new("json/plain", b"1".to_vec());
        assert_eq!(codec.decode_one(plain.clone()).unwrap(), plain);
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let writer = codec(&[("k9", KeyState::Primary, 1)]);
        let reader = codec(&[("k1", KeyState::Primary, 1)]);
        let encoded = writer
            .encode_one(&Payload::new("json/plain", b"1".to_vec()))
            .unwrap();
        let err = reader.decode_one(encoded).unwrap_err();
        assert_eq!(err, CodecError::UnknownKey("k9".into()));
        assert!(err.to_string().contains("`k9`"));
    }

    #[test]
    fn swapping_the_key_id_fails_even_if_both_keys_are_held() {
        let codec = codec(&[
            ("k1", KeyState::Primary, 1),
            ("k2", KeyState::DecryptOnly, 1),
        ]);
        let mut encoded = codec
            .encode_one(&Payload::new("json/plain", b"1".to_vec()))
            .unwrap();
        encoded
            .metadata
            .insert(METADATA_KEY_ID.into(), b"k2".to_vec());
        assert!(matches!(
            codec.decode_one(encoded),
            Err(CodecError::Format(FormatError::AuthenticationFailed { .. }))
        ));
    }

    #[test]
    fn missing_key_id_is_an_error() {
        let codec = codec(&[("k1", KeyState::Primary, 1)]);
        let mut encoded = codec
            .encode_one(&Payload::new("json/plain", b"1".to_vec()))
            .unwrap();
        encoded.metadata.remove(METADATA_KEY_ID);
        assert_eq!(codec.decode_one(encoded), Err(CodecError::MissingKeyId));
    }
}
