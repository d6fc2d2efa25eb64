//! [`PayloadCodec`]: what a worker or the codec server calls to encrypt and decrypt Temporal
//! payloads with a [`Keyring`], for one namespace.
//!
//! Payloads are sealed as format version 2, bound to the codec's namespace. A version 2 payload
//! sealed for another namespace is refused before any decryption unless that namespace is one of
//! the codec's accepted source namespaces (calls that cross namespaces on purpose, such as Nexus
//! operations). Version 1 payloads, bound to no namespace, still open.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::codec::clock;
use crate::codec::format::{
    self, ENCODING_ENCRYPTED, FORMAT_V2, FormatError, METADATA_ENCODING, METADATA_KEY_ID,
    METADATA_NAMESPACE, NONCE_LEN, SALT_LEN,
};
use crate::codec::key_id::KeyId;
use crate::codec::keyring::{Keyring, SealRefused};
use crate::codec::namespace::Namespace;
use crate::codec::payload::Payload;

/// Why a payload could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// No key may seal now: the keyring is stale, has no active key, or the key's bound is used.
    #[error(transparent)]
    Seal(#[from] SealRefused),
    /// Sealing needs the namespace the payload is for.
    #[error("payloads are sealed for a namespace; name the namespace to encode for")]
    NoNamespace,
    /// An encrypted payload has no `encryption-key-id`, or one that is not a valid id.
    #[error("encrypted payload has no valid `{METADATA_KEY_ID}` metadata")]
    MissingKeyId,
    /// A version 2 payload has no `encryption-namespace`, or one that is not a valid name.
    #[error("format version 2 payload has no valid `{METADATA_NAMESPACE}` metadata")]
    MissingNamespace,
    /// A version 2 payload sealed for a namespace this reader does not accept.
    #[error(
        "payload was sealed for namespace `{sealed_for}`, not `{reader}`; a namespace opens only its own payloads and those of the source namespaces it accepts"
    )]
    ForeignNamespace {
        /// The namespace the payload names.
        sealed_for: Namespace,
        /// The reader's namespace (`-` when it has none).
        reader: String,
    },
    /// An encrypted payload names a key this keyring does not hold (or holds as retired).
    #[error(
        "payload is encrypted under data key `{0}`, which this keyring does not hold (unknown or retired); load the current keyring document"
    )]
    UnknownKey(String),
    /// Sealing or opening failed.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The operating system's random source failed.
    #[error("no randomness from the operating system for a salt or nonce")]
    Randomness,
}

/// Encrypts and decrypts payloads under a keyring, for one namespace.
#[derive(Debug, Clone)]
pub struct PayloadCodec {
    keyring: Arc<Keyring>,
    namespace: Option<Namespace>,
    accepted: Arc<BTreeSet<Namespace>>,
}

impl PayloadCodec {
    /// A codec over `keyring` for `namespace`: what a worker uses, with its client's namespace.
    pub fn new(keyring: Arc<Keyring>, namespace: Namespace) -> Self {
        Self {
            keyring,
            namespace: Some(namespace),
            accepted: Arc::default(),
        }
    }

    /// A codec that knows no namespace (a codec server request that names none): it opens
    /// version 1 payloads and payloads of the accepted source namespaces, and seals nothing.
    pub fn without_namespace(keyring: Arc<Keyring>) -> Self {
        Self {
            keyring,
            namespace: None,
            accepted: Arc::default(),
        }
    }

    /// Also opens version 2 payloads sealed for these namespaces.
    pub fn accepting(mut self, sources: Arc<BTreeSet<Namespace>>) -> Self {
        self.accepted = sources;
        self
    }

    /// The keyring in use.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The namespace payloads are sealed for.
    pub fn namespace(&self) -> Option<&Namespace> {
        self.namespace.as_ref()
    }

    /// Encrypts each payload under the key that seals now.
    pub fn encode(&self, payloads: Vec<Payload>) -> Result<Vec<Payload>, CodecError> {
        let now = clock::now_unix();
        payloads
            .iter()
            .map(|p| self.encode_one_at(p, now))
            .collect()
    }

    /// Decrypts each encrypted payload; payloads that are not encrypted pass through unchanged.
    pub fn decode(&self, payloads: Vec<Payload>) -> Result<Vec<Payload>, CodecError> {
        payloads.into_iter().map(|p| self.decode_one(p)).collect()
    }

    /// The id of the key that seals at `now`, before any seal is spent; the refusal when none may.
    pub fn sealing_key_id(&self, now: i64) -> Result<&KeyId, SealRefused> {
        self.keyring.sealing_key_id(now)
    }

    /// Encrypts one payload under the key that seals now.
    pub fn encode_one(&self, payload: &Payload) -> Result<Payload, CodecError> {
        self.encode_one_at(payload, clock::now_unix())
    }

    /// Encrypts one payload under the key that seals at `now`, with a fresh random salt and
    /// nonce. A stale keyring (its newest key past its seal end) refuses and writes nothing.
    pub fn encode_one_at(&self, payload: &Payload, now: i64) -> Result<Payload, CodecError> {
        let namespace = self.namespace.as_ref().ok_or(CodecError::NoNamespace)?;
        let key = self.keyring.key_for_sealing(now)?;
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut salt).map_err(|_| CodecError::Randomness)?;
        getrandom::fill(&mut nonce).map_err(|_| CodecError::Randomness)?;
        let data = format::seal(key.cipher(), key.id(), namespace, &salt, &nonce, payload)?;
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
                (
                    METADATA_NAMESPACE.to_string(),
                    namespace.as_str().as_bytes().to_vec(),
                ),
            ]
            .into(),
            data,
            external_payloads: Vec::new(),
        })
    }

    /// Decrypts one payload if it is encrypted, or returns it unchanged if it is not.
    pub fn decode_one(&self, payload: Payload) -> Result<Payload, CodecError> {
        self.decode_one_reporting(payload).map(|(p, _)| p)
    }

    /// Like [`decode_one`](Self::decode_one), also returning the format version that was
    /// opened (`None` for a payload that was not encrypted), for audit lines.
    pub fn decode_one_reporting(
        &self,
        payload: Payload,
    ) -> Result<(Payload, Option<u8>), CodecError> {
        if payload.metadata.get(METADATA_ENCODING).map(Vec::as_slice)
            != Some(ENCODING_ENCRYPTED.as_bytes())
        {
            return Ok((payload, None));
        }
        let key_id = payload
            .metadata_str(METADATA_KEY_ID)
            .ok_or(CodecError::MissingKeyId)
            .and_then(|text| KeyId::new(text).map_err(|_| CodecError::MissingKeyId))?;
        let version = format::version_of(&payload.data);
        let sealed_for = if version == Some(FORMAT_V2) {
            let named = payload
                .metadata_str(METADATA_NAMESPACE)
                .and_then(|n| Namespace::new(n).ok())
                .ok_or(CodecError::MissingNamespace)?;
            if self.namespace.as_ref() != Some(&named) && !self.accepted.contains(&named) {
                return Err(CodecError::ForeignNamespace {
                    sealed_for: named,
                    reader: self
                        .namespace
                        .as_ref()
                        .map_or_else(|| "-".into(), ToString::to_string),
                });
            }
            Some(named)
        } else {
            None
        };
        let key = self
            .keyring
            .key_for_opening(&key_id)
            .ok_or_else(|| CodecError::UnknownKey(key_id.to_string()))?;
        let inner = format::open(key.cipher(), &key_id, sealed_for.as_ref(), payload.data)?;
        tracing::trace!(key_id = %key_id, "opened payload");
        Ok((inner, version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::keyring::KeyTimes;
    use crate::kms::SecretBytes;

    fn ring(keys: &[(&str, KeyTimes, u8)]) -> Arc<Keyring> {
        Arc::new(
            Keyring::from_keys(keys.iter().map(|(id, times, byte)| {
                (
                    KeyId::new(id).unwrap(),
                    *times,
                    SecretBytes::new(vec![*byte; 32]),
                )
            }))
            .unwrap(),
        )
    }

    fn ns(name: &str) -> Namespace {
        Namespace::new(name).unwrap()
    }

    fn codec(keys: &[(&str, KeyTimes, u8)]) -> PayloadCodec {
        PayloadCodec::new(ring(keys), ns("orders"))
    }

    const ALWAYS: KeyTimes = KeyTimes::ALWAYS;

    #[test]
    fn round_trip_hides_metadata_and_data() {
        let codec = codec(&[("k1", ALWAYS, 1)]);
        let original = Payload::new("json/plain", b"\"card 4111\"".to_vec());
        let encoded = codec.encode(vec![original.clone()]).unwrap();
        assert_eq!(
            encoded[0].metadata_str("encoding"),
            Some("binary/encrypted")
        );
        assert_eq!(encoded[0].metadata_str("encryption-key-id"), Some("k1"));
        assert_eq!(
            encoded[0].metadata_str("encryption-namespace"),
            Some("orders")
        );
        assert_eq!(encoded[0].data[0], FORMAT_V2);
        assert!(!encoded[0].data.windows(4).any(|w| w == b"4111"));
        assert_eq!(codec.decode(encoded).unwrap(), vec![original]);
    }

    #[test]
    fn another_namespace_is_refused_unless_accepted() {
        let keys = ring(&[("k1", ALWAYS, 1)]);
        let writer = PayloadCodec::new(keys.clone(), ns("orders"));
        let sealed = writer
            .encode_one(&Payload::new("json/plain", b"1".to_vec()))
            .unwrap();
        let sandbox = PayloadCodec::new(keys.clone(), ns("sandbox"));
        let err = sandbox.decode_one(sealed.clone()).unwrap_err();
        assert!(matches!(err, CodecError::ForeignNamespace { .. }), "{err}");
        assert!(
            PayloadCodec::without_namespace(keys.clone())
                .decode_one(sealed.clone())
                .is_err()
        );
        let handler =
            PayloadCodec::new(keys, ns("handlers")).accepting(Arc::new([ns("orders")].into()));
        assert!(handler.decode_one(sealed.clone()).is_ok());
        // Rewriting the namespace metadata to the reader's own fails authentication.
        let mut moved = sealed;
        moved
            .metadata
            .insert(METADATA_NAMESPACE.into(), b"sandbox".to_vec());
        assert!(matches!(
            sandbox.decode_one(moved),
            Err(CodecError::Format(FormatError::AuthenticationFailed { .. }))
        ));
    }

    #[test]
    fn salts_and_nonces_differ_between_seals() {
        let codec = codec(&[("k1", ALWAYS, 1)]);
        let p = Payload::new("json/plain", b"1".to_vec());
        let a = codec.encode_one(&p).unwrap();
        let b = codec.encode_one(&p).unwrap();
        assert_ne!(a.data[1..29], b.data[1..29]);
    }

    #[test]
    fn a_stale_keyring_writes_nothing() {
        let codec = codec(&[(
            "k1",
            KeyTimes {
                activates: 0,
                seal_until: Some(100),
            },
            1,
        )]);
        let p = Payload::new("json/plain", b"1".to_vec());
        assert!(codec.encode_one_at(&p, 99).is_ok());
        let err = codec.encode_one_at(&p, 100).unwrap_err();
        assert!(err.to_string().contains("reload the keyring"), "{err}");
    }

    #[test]
    fn plain_payloads_pass_through() {
        let codec = codec(&[("k1", ALWAYS, 1)]);
        let plain = Payload::new("json/plain", b"1".to_vec());
        assert_eq!(codec.decode_one(plain.clone()).unwrap(), plain);
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let writer = codec(&[("k9", ALWAYS, 1)]);
        let reader = codec(&[("k1", ALWAYS, 1)]);
        let encoded = writer
            .encode_one(&Payload::new("json/plain", b"1".to_vec()))
            .unwrap();
        let err = reader.decode_one(encoded).unwrap_err();
        assert_eq!(err, CodecError::UnknownKey("k9".into()));
        assert!(err.to_string().contains("`k9`"));
    }

    #[test]
    fn swapping_the_key_id_fails_even_if_both_keys_are_held() {
        let codec = codec(&[("k1", ALWAYS, 1), ("k2", KeyTimes::DECRYPT_ONLY, 1)]);
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
    fn missing_key_id_or_namespace_is_an_error() {
        let codec = codec(&[("k1", ALWAYS, 1)]);
        let encoded = codec
            .encode_one(&Payload::new("json/plain", b"1".to_vec()))
            .unwrap();
        let mut no_id = encoded.clone();
        no_id.metadata.remove(METADATA_KEY_ID);
        assert_eq!(codec.decode_one(no_id), Err(CodecError::MissingKeyId));
        let mut no_ns = encoded;
        no_ns.metadata.remove(METADATA_NAMESPACE);
        assert_eq!(codec.decode_one(no_ns), Err(CodecError::MissingNamespace));
    }
}
