//! The keyring: the data keys (DEKs) that seal payloads, in two forms.
//!
//! - [`KeyringDocument`] is the stored form: every DEK *wrapped* under the customer's key, with
//!   its id, state and creation time. It holds no plaintext, so it may live in Terraform state or
//!   a Kubernetes Secret.
//! - [`Keyring`] is the in-memory form a codec uses: the same DEKs unwrapped through the KMS,
//!   ready as AES-256-GCM ciphers, zeroized when dropped.
//!
//! Exactly one key is `primary` and seals new payloads; every key that is not `retired` opens
//! them. A rotation first adds the new key as `decrypt-only` and publishes the document to every
//! reader, then promotes it, so no reader ever meets a key it does not hold.
//!
//! # Usage bound
//!
//! Each payload gets a fresh random 96-bit nonce. NIST SP 800-38D (section 8.3) caps random-nonce
//! use of one AES-GCM key at 2^32 encryptions, which keeps the chance of any nonce repeating
//! below about 2^-33. A repeated nonce under one key would reveal the XOR of two plaintexts and
//! let an attacker forge tags, so the keyring counts seals per key and refuses to seal past
//! [`Keyring::seal_limit`] (2^32 by default; lower it when many processes share one key, since
//! each counts only its own). It warns when 90% of the bound is used, so an operator rotates first.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use aes_gcm::{Aes256Gcm, KeyInit};
use serde::{Deserialize, Serialize};

use crate::codec::key_id::{InvalidKeyId, KeyId};
use crate::kms::{DATA_KEY_LEN, KeyProvider, KmsError, SecretBytes, WrapContext, WrappedKey};

/// The NIST SP 800-38D limit on random-nonce encryptions under one key.
pub const DEFAULT_SEAL_LIMIT: u64 = 1 << 32;

/// The `format` value of a keyring document.
pub const DOCUMENT_FORMAT: &str = "engram-keyring/v1";

/// What a data key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyState {
    /// Seals new payloads and opens old ones. Exactly one key is primary.
    Primary,
    /// Opens payloads only (a key being rolled in, or one rolled out).
    DecryptOnly,
    /// Kept for the record; opens nothing.
    Retired,
}

/// One data key in a keyring document: wrapped, never plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedDataKey {
    /// The id payload metadata names.
    pub id: KeyId,
    /// What the key may do.
    pub state: KeyState,
    /// When the key was created, seconds since the Unix epoch.
    pub created_unix_seconds: i64,
    /// The key wrapped under the customer's key, bound to the scope and this id.
    pub wrapped: WrappedKey,
}

/// The stored keyring: only wrapped data keys. Serialized as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyringDocument {
    /// Always [`DOCUMENT_FORMAT`].
    pub format: String,
    /// What the keys are bound to (a Temporal namespace, a deployment): part of every wrap
    /// context, so a wrapped key does not unwrap in another keyring.
    pub scope: KeyId,
    /// The data keys, oldest first.
    pub keys: Vec<WrappedDataKey>,
    /// Where the customer key that wraps the data keys is, so a document found on its own (a
    /// Secret, a backup) says which KMS unwraps it. Absent in documents written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_key: Option<CustomerKeyLocation>,
}

/// Which customer key wraps a keyring's data keys: the backend and its non-secret settings,
/// named as in `engram_cmk_binding`'s backend blocks (never a credential).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerKeyLocation {
    /// `vault_transit`, `aws_kms`, `azure_key_vault`, `gcp_kms` or `local`.
    pub backend: String,
    /// The backend's settings, e.g. `address` and `key_name` for `vault_transit`.
    pub settings: BTreeMap<String, String>,
}

/// Why a keyring could not be built or changed.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The document is not valid JSON of the right shape.
    #[error("keyring document is not valid: {0}")]
    Document(#[from] serde_json::Error),
    /// The document's format is not one this code reads.
    #[error("keyring document has format `{0}`; this version reads `{DOCUMENT_FORMAT}`")]
    UnsupportedFormat(String),
    /// An id is not valid.
    #[error(transparent)]
    InvalidId(#[from] InvalidKeyId),
    /// Two keys share an id.
    #[error("keyring has two keys with id `{0}`")]
    DuplicateId(KeyId),
    /// Not exactly one key is primary.
    #[error("keyring must have exactly one primary key, found {0}")]
    PrimaryCount(usize),
    /// No key with this id.
    #[error("keyring has no key `{0}`")]
    NoSuchKey(KeyId),
    /// A retired key cannot become primary.
    #[error("key `{0}` is retired and cannot be promoted")]
    PromoteRetired(KeyId),
    /// The primary key cannot be retired.
    #[error("key `{0}` is the primary key; promote another key before retiring it")]
    RetirePrimary(KeyId),
    /// A plaintext data key is not 256 bits.
    #[error("data key `{id}` is {len} bytes, expected {DATA_KEY_LEN}")]
    KeyLength {
        /// The key.
        id: KeyId,
        /// Its length.
        len: usize,
    },
    /// The KMS failed while wrapping or unwrapping key `id`.
    #[error("data key `{id}`: {source}")]
    Kms {
        /// The data key.
        id: KeyId,
        /// The KMS error, naming backend and customer key.
        source: KmsError,
    },
    /// The operating system's random source failed.
    #[error("no randomness from the operating system for a key id")]
    Randomness,
    /// The clock is before 1970.
    #[error("system clock is before the Unix epoch")]
    Clock,
}

impl KeyringDocument {
    /// Parses and validates a JSON keyring document.
    pub fn from_json(json: &str) -> Result<Self, KeyringError> {
        let doc: Self = serde_json::from_str(json)?;
        doc.validate()?;
        Ok(doc)
    }

    /// The document as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A new keyring in `scope` with one fresh primary key from `provider`.
    pub async fn create(scope: KeyId, provider: &dyn KeyProvider) -> Result<Self, KeyringError> {
        let mut doc = Self {
            format: DOCUMENT_FORMAT.to_string(),
            scope,
            keys: Vec::new(),
            customer_key: None,
        };
        let id = doc.add_key(provider).await?;
        doc.keys[0].state = KeyState::Primary;
        tracing::info!(scope = %doc.scope, key_id = %id, "created keyring");
        Ok(doc)
    }

    /// Checks the format, the ids and that exactly one key is primary.
    pub fn validate(&self) -> Result<(), KeyringError> {
        if self.format != DOCUMENT_FORMAT {
            return Err(KeyringError::UnsupportedFormat(self.format.clone()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for key in &self.keys {
            if !seen.insert(&key.id) {
                return Err(KeyringError::DuplicateId(key.id.clone()));
            }
        }
        let primaries = self
            .keys
            .iter()
            .filter(|k| k.state == KeyState::Primary)
            .count();
        if primaries != 1 {
            return Err(KeyringError::PrimaryCount(primaries));
        }
        Ok(())
    }

    /// Adds a fresh data key as `decrypt-only` and returns its id: the first half of a rotation.
    /// Publish the document to every reader, then [`promote`](Self::promote) it.
    pub async fn add_key(&mut self, provider: &dyn KeyProvider) -> Result<KeyId, KeyringError> {
        let id = loop {
            let candidate = KeyId::random().map_err(|_| KeyringError::Randomness)?;
            if !self.keys.iter().any(|k| k.id == candidate) {
                break candidate;
            }
        };
        let context = self.context(&id);
        let generated = provider
            .generate_data_key(&context)
            .await
            .map_err(|source| KeyringError::Kms {
                id: id.clone(),
                source,
            })?;
        self.keys.push(WrappedDataKey {
            id: id.clone(),
            state: KeyState::DecryptOnly,
            created_unix_seconds: now_unix_seconds()?,
            wrapped: generated.wrapped,
        });
        Ok(id)
    }

    /// Makes `id` the primary key; the previous primary becomes `decrypt-only`.
    pub fn promote(&mut self, id: &KeyId) -> Result<(), KeyringError> {
        let target = self.position(id)?;
        if self.keys[target].state == KeyState::Retired {
            return Err(KeyringError::PromoteRetired(id.clone()));
        }
        for key in &mut self.keys {
            if key.state == KeyState::Primary {
                key.state = KeyState::DecryptOnly;
            }
        }
        self.keys[target].state = KeyState::Primary;
        Ok(())
    }

    /// Retires `id`: payloads sealed under it no longer decrypt.
    pub fn retire(&mut self, id: &KeyId) -> Result<(), KeyringError> {
        let target = self.position(id)?;
        if self.keys[target].state == KeyState::Primary {
            return Err(KeyringError::RetirePrimary(id.clone()));
        }
        self.keys[target].state = KeyState::Retired;
        Ok(())
    }

    /// Re-wraps every data key under the customer key's newest version (after a KEK rotation).
    pub async fn rewrap_all(&mut self, provider: &dyn KeyProvider) -> Result<(), KeyringError> {
        for i in 0..self.keys.len() {
            let context = self.context(&self.keys[i].id);
            let rewrapped = provider
                .rewrap(&self.keys[i].wrapped, &context)
                .await
                .map_err(|source| KeyringError::Kms {
                    id: self.keys[i].id.clone(),
                    source,
                })?;
            self.keys[i].wrapped = rewrapped;
        }
        Ok(())
    }

    /// The wrap context of key `id` in this keyring.
    pub fn context(&self, id: &KeyId) -> WrapContext {
        WrapContext::new(self.scope.as_str(), id.as_str())
    }

    fn position(&self, id: &KeyId) -> Result<usize, KeyringError> {
        self.keys
            .iter()
            .position(|k| &k.id == id)
            .ok_or_else(|| KeyringError::NoSuchKey(id.clone()))
    }
}

fn now_unix_seconds() -> Result<i64, KeyringError> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .map_err(|_| KeyringError::Clock)
}

/// One unwrapped data key, ready to seal and open.
pub struct DataKey {
    id: KeyId,
    state: KeyState,
    cipher: Aes256Gcm,
    seals: AtomicU64,
}

impl DataKey {
    /// The key's id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The key's state.
    pub fn state(&self) -> KeyState {
        self.state
    }

    /// The AES-256-GCM cipher (its key schedule is zeroized on drop).
    pub(crate) fn cipher(&self) -> &Aes256Gcm {
        &self.cipher
    }
}

/// Shows the id and state only.
impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The in-memory keyring a codec uses: unwrapped keys by id.
#[derive(Debug)]
pub struct Keyring {
    keys: BTreeMap<KeyId, DataKey>,
    primary: KeyId,
    seal_limit: u64,
}

/// The outcome of asking the keyring for the next seal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "data key `{key_id}` has sealed {limit} payloads, the most one key may seal with random nonces; add and promote a new data key"
)]
pub struct SealLimitReached {
    /// The exhausted key.
    pub key_id: KeyId,
    /// The bound.
    pub limit: u64,
}

impl Keyring {
    /// Builds a keyring from plaintext keys (ids, states and 32-byte keys).
    pub fn from_keys(
        keys: impl IntoIterator<Item = (KeyId, KeyState, SecretBytes)>,
    ) -> Result<Self, KeyringError> {
        let mut map = BTreeMap::new();
        let mut primaries = Vec::new();
        for (id, state, material) in keys {
            let cipher = Aes256Gcm::new_from_slice(material.expose()).map_err(|_| {
                KeyringError::KeyLength {
                    id: id.clone(),
                    len: material.len(),
                }
            })?;
            if state == KeyState::Primary {
                primaries.push(id.clone());
            }
            let key = DataKey {
                id: id.clone(),
                state,
                cipher,
                seals: AtomicU64::new(0),
            };
            if map.insert(id.clone(), key).is_some() {
                return Err(KeyringError::DuplicateId(id));
            }
        }
        match primaries.as_slice() {
            [primary] => Ok(Self {
                primary: primary.clone(),
                keys: map,
                seal_limit: DEFAULT_SEAL_LIMIT,
            }),
            other => Err(KeyringError::PrimaryCount(other.len())),
        }
    }

    /// Unwraps every non-retired key of `document` through `provider`.
    pub async fn unwrap_document(
        document: &KeyringDocument,
        provider: &dyn KeyProvider,
    ) -> Result<Self, KeyringError> {
        document.validate()?;
        let mut keys = Vec::new();
        for entry in &document.keys {
            if entry.state == KeyState::Retired {
                continue;
            }
            let material = provider
                .unwrap(&entry.wrapped, &document.context(&entry.id))
                .await
                .map_err(|source| KeyringError::Kms {
                    id: entry.id.clone(),
                    source,
                })?;
            keys.push((entry.id.clone(), entry.state, material));
        }
        let keyring = Self::from_keys(keys)?;
        tracing::info!(
            scope = %document.scope,
            primary = %keyring.primary,
            keys = keyring.keys.len(),
            backend = %provider.backend(),
            "unwrapped keyring"
        );
        Ok(keyring)
    }

    /// Sets the per-key bound on seals (see the module documentation).
    pub fn with_seal_limit(mut self, limit: u64) -> Self {
        self.seal_limit = limit;
        self
    }

    /// The per-key bound on seals.
    pub fn seal_limit(&self) -> u64 {
        self.seal_limit
    }

    /// The primary key, counted against the bound: the key for one new payload.
    pub fn key_for_sealing(&self) -> Result<&DataKey, SealLimitReached> {
        let key = &self.keys[&self.primary];
        let used = key.seals.fetch_add(1, Ordering::Relaxed);
        if used >= self.seal_limit {
            key.seals.store(self.seal_limit, Ordering::Relaxed);
            return Err(SealLimitReached {
                key_id: key.id.clone(),
                limit: self.seal_limit,
            });
        }
        if used == self.seal_limit / 10 * 9 {
            tracing::warn!(
                key_id = %key.id,
                used,
                limit = self.seal_limit,
                "data key has used 90% of its seal bound; rotate the data key"
            );
        }
        Ok(key)
    }

    /// The key with this id, if it is held and not retired.
    pub fn key_for_opening(&self, id: &KeyId) -> Option<&DataKey> {
        self.keys.get(id).filter(|k| k.state != KeyState::Retired)
    }

    /// The primary key's id.
    pub fn primary_id(&self) -> &KeyId {
        &self.primary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::local::LocalKeyFile;

    fn id(text: &str) -> KeyId {
        KeyId::new(text).unwrap()
    }

    fn material(byte: u8) -> SecretBytes {
        SecretBytes::new(vec![byte; 32])
    }

    #[test]
    fn exactly_one_primary() {
        let none = Keyring::from_keys([(id("a"), KeyState::DecryptOnly, material(1))]);
        assert!(matches!(none, Err(KeyringError::PrimaryCount(0))));
        let two = Keyring::from_keys([
            (id("a"), KeyState::Primary, material(1)),
            (id("b"), KeyState::Primary, material(2)),
        ]);
        assert!(matches!(two, Err(KeyringError::PrimaryCount(2))));
    }

    #[test]
    fn seal_limit_is_enforced() {
        let ring = Keyring::from_keys([(id("a"), KeyState::Primary, material(1))])
            .unwrap()
            .with_seal_limit(2);
        assert!(ring.key_for_sealing().is_ok());
        assert!(ring.key_for_sealing().is_ok());
        let err = ring.key_for_sealing().unwrap_err();
        assert_eq!(err.key_id, id("a"));
        assert!(err.to_string().contains("add and promote a new data key"));
    }

    #[test]
    fn retired_keys_do_not_open() {
        let ring = Keyring::from_keys([
            (id("a"), KeyState::Primary, material(1)),
            (id("b"), KeyState::Retired, material(2)),
            (id("c"), KeyState::DecryptOnly, material(3)),
        ])
        .unwrap();
        assert!(ring.key_for_opening(&id("b")).is_none());
        assert!(ring.key_for_opening(&id("c")).is_some());
        assert!(!format!("{ring:?}").contains("[1, 1"));
    }

    #[tokio::test]
    async fn document_rotation_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let provider = LocalKeyFile::create(&dir.path().join("kek")).unwrap();
        let mut doc = KeyringDocument::create(id("orders"), &provider)
            .await
            .unwrap();
        let first = doc.keys[0].id.clone();
        let second = doc.add_key(&provider).await.unwrap();
        assert_eq!(doc.keys[1].state, KeyState::DecryptOnly);
        doc.promote(&second).unwrap();
        assert_eq!(doc.keys[0].state, KeyState::DecryptOnly);
        assert!(matches!(
            doc.retire(&second),
            Err(KeyringError::RetirePrimary(_))
        ));
        doc.rewrap_all(&provider).await.unwrap();

        let json = doc.to_json();
        assert!(json.contains("\"decrypt-only\""));
        let parsed = KeyringDocument::from_json(&json).unwrap();
        assert_eq!(parsed, doc);

        let ring = Keyring::unwrap_document(&parsed, &provider).await.unwrap();
        assert_eq!(ring.primary_id(), &second);
        assert!(ring.key_for_opening(&first).is_some());
    }

    #[tokio::test]
    async fn a_wrapped_key_moved_to_another_scope_does_not_unwrap() {
        let dir = tempfile::tempdir().unwrap();
        let provider = LocalKeyFile::create(&dir.path().join("kek")).unwrap();
        let mut doc = KeyringDocument::create(id("orders"), &provider)
            .await
            .unwrap();
        doc.scope = id("payments");
        let err = Keyring::unwrap_document(&doc, &provider).await.unwrap_err();
        assert!(matches!(err, KeyringError::Kms { .. }), "{err}");
    }

    #[test]
    fn document_validation() {
        let bad = r#"{"format":"engram-keyring/v9","scope":"a","keys":[]}"#;
        assert!(matches!(
            KeyringDocument::from_json(bad),
            Err(KeyringError::UnsupportedFormat(_))
        ));
        let bad_id = r#"{"format":"engram-keyring/v1","scope":"a:b","keys":[]}"#;
        assert!(KeyringDocument::from_json(bad_id).is_err());
    }
}
