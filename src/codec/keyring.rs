//! The keyring: the data keys (DEKs) that seal payloads, in two forms.
//!
//! - [`KeyringDocument`] is the stored form: every DEK *wrapped* under the customer's key, with
//!   its id, state, times and the history of its lifecycle. It holds no plaintext, so it may live
//!   in Terraform state or a Kubernetes Secret.
//! - [`Keyring`] is the in-memory form a codec uses: the same DEKs unwrapped through the KMS,
//!   ready to seal and open, zeroized when dropped.
//!
//! Which key seals is decided by each writer's own clock ([`KeyTimes`]): the newest key whose
//! activation time has passed. A new key enters as *pending* (its activation a delay ahead), so
//! every reader loads it before any writer uses it; and every key has a time after which it no
//! longer seals, so a writer whose document is stale refuses to seal rather than write payloads
//! under a key that will be retired.
//!
//! # Usage bound
//!
//! Format version 2 seals each payload under its own key, derived from the data key and a fresh
//! 128-bit salt (docs/payload-format.md gives the bound). Each keyring still counts seals per key
//! and refuses to seal past [`Keyring::seal_limit`] (2^48 by default), warning at 90%.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::codec::clock;
use crate::codec::format::DataKeyCipher;
use crate::codec::key_id::{InvalidKeyId, KeyId};
use crate::kms::{DATA_KEY_LEN, KeyProvider, KmsError, SecretBytes, WrapContext, WrappedKey};

/// The per-process bound on seals with one data key (a second guard beside the derived keys).
pub const DEFAULT_SEAL_LIMIT: u64 = 1 << 48;

/// The `format` value of a keyring document written by this code.
pub const DOCUMENT_FORMAT: &str = "engram-keyring/v2";

/// The `format` value of a keyring document written by earlier releases; still read.
pub const DOCUMENT_FORMAT_V1: &str = "engram-keyring/v1";

/// What a data key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyState {
    /// Opens payloads, and seals between its activation and its seal end.
    Active,
    /// Kept for the record; opens nothing.
    Retired,
}

/// When a data key seals: from `activates` (inclusive) until `seal_until` (exclusive). A key
/// whose `seal_until` is not after `activates` never seals; `None` means no end (only keys
/// converted from a version 1 document).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTimes {
    /// Unix seconds from which writers seal with the key.
    pub activates: i64,
    /// Unix seconds from which nobody seals with it.
    pub seal_until: Option<i64>,
}

impl KeyTimes {
    /// A key that seals from the beginning of time with no end.
    pub const ALWAYS: Self = Self {
        activates: i64::MIN,
        seal_until: None,
    };

    /// A key that opens payloads and never seals.
    pub const DECRYPT_ONLY: Self = Self {
        activates: i64::MIN,
        seal_until: Some(i64::MIN),
    };

    /// Whether the key seals at all.
    pub fn seals_ever(&self) -> bool {
        self.seal_until.is_none_or(|end| end > self.activates)
    }

    /// Whether the key's activation is still ahead at `now`.
    pub fn pending_at(&self, now: i64) -> bool {
        now < self.activates
    }
}

/// Why no key seals at a given time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealRefused {
    /// Every key that can seal is still pending, or there is none.
    #[error(
        "the keyring has no data key that seals now: every key is pending, decrypt-only or retired; reload the keyring"
    )]
    NoActiveKey,
    /// The newest active key's seal end has passed: the document is stale.
    #[error(
        "data key `{key_id}` stopped sealing at {until} and this keyring names no successor: it is stale; reload the keyring (the current document names the key that seals now)"
    )]
    Stale {
        /// The key that would have sealed.
        key_id: KeyId,
        /// When it stopped, RFC 3339.
        until: String,
    },
    /// The key has sealed as many payloads as it safely may in this process.
    #[error(
        "data key `{key_id}` has sealed {limit} payloads in this process, the most it may seal; rotate the data key"
    )]
    Limit {
        /// The exhausted key.
        key_id: KeyId,
        /// The bound.
        limit: u64,
    },
}

/// The key that seals at `now` among `keys` (id, state, times, in document order): among the
/// active keys that seal at all and whose activation has come, the one activated last (the later
/// one on a tie), refused when its seal end has passed.
pub fn sealing_key_at<'a>(
    keys: impl IntoIterator<Item = (&'a KeyId, KeyState, KeyTimes)>,
    now: i64,
) -> Result<&'a KeyId, SealRefused> {
    let mut chosen: Option<(&KeyId, KeyTimes)> = None;
    for (id, state, times) in keys {
        if state != KeyState::Active || !times.seals_ever() || times.pending_at(now) {
            continue;
        }
        if chosen.is_none_or(|(_, best)| times.activates >= best.activates) {
            chosen = Some((id, times));
        }
    }
    let (id, times) = chosen.ok_or(SealRefused::NoActiveKey)?;
    match times.seal_until {
        Some(end) if end <= now => Err(SealRefused::Stale {
            key_id: id.clone(),
            until: clock::rfc3339(end),
        }),
        _ => Ok(id),
    }
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
    /// When writers start sealing with it.
    pub activates_unix_seconds: i64,
    /// When writers stop sealing with it (absent: no end, only in converted version 1 keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal_until_unix_seconds: Option<i64>,
    /// The key wrapped under the customer's key, bound to the scope and this id.
    pub wrapped: WrappedKey,
}

impl WrappedDataKey {
    /// The key's sealing times.
    pub fn times(&self) -> KeyTimes {
        KeyTimes {
            activates: self.activates_unix_seconds,
            seal_until: self.seal_until_unix_seconds,
        }
    }
}

/// What happened to a data key, as the keyring's history records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyEventKind {
    /// A data key was generated and added (pending unless it is the first).
    Created,
    /// A pending key's activation time passed: writers seal with it.
    Activated,
    /// Every data key was re-wrapped under a newer customer key version.
    Rewrapped,
    /// A key stopped opening payloads.
    Retired,
}

/// One entry of a keyring's history: the evidence of its rotations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEvent {
    /// What happened.
    pub event: KeyEventKind,
    /// The key it happened to (absent for a re-wrap of all keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<KeyId>,
    /// When, in Unix seconds.
    pub at_unix_seconds: i64,
    /// The customer key's version at the time, where the KMS versions keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_key_version: Option<String>,
}

/// The stored keyring: only wrapped data keys. Serialized as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyringDocument {
    /// Always [`DOCUMENT_FORMAT`] once loaded.
    pub format: String,
    /// What the keys are bound to (a Temporal namespace, a deployment): part of every wrap
    /// context, so a wrapped key does not unwrap in another keyring.
    pub scope: KeyId,
    /// How long after it is added a key starts sealing, so every reader holds it first.
    #[serde(default)]
    pub activation_delay_seconds: i64,
    /// The data keys, oldest first.
    pub keys: Vec<WrappedDataKey>,
    /// Every lifecycle event, oldest first.
    #[serde(default)]
    pub history: Vec<KeyEvent>,
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
    #[error(
        "keyring document has format `{0}`; this version reads `{DOCUMENT_FORMAT}` and `{DOCUMENT_FORMAT_V1}`"
    )]
    UnsupportedFormat(String),
    /// An id is not valid.
    #[error(transparent)]
    InvalidId(#[from] InvalidKeyId),
    /// Two keys share an id.
    #[error("keyring has two keys with id `{0}`")]
    DuplicateId(KeyId),
    /// A version 1 document without exactly one primary key.
    #[error("keyring must have exactly one primary key, found {0}")]
    PrimaryCount(usize),
    /// No active key can ever seal.
    #[error("keyring has no active data key that seals")]
    NoSealingKey,
    /// A negative activation delay.
    #[error("keyring document has a negative activation delay")]
    NegativeDelay,
    /// No key with this id.
    #[error("keyring has no key `{0}`")]
    NoSuchKey(KeyId),
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
}

/// The shape of a version 1 document, read only to convert it.
#[derive(Deserialize)]
struct DocumentV1 {
    scope: KeyId,
    keys: Vec<KeyV1>,
    #[serde(default)]
    customer_key: Option<CustomerKeyLocation>,
}

#[derive(Deserialize)]
struct KeyV1 {
    id: KeyId,
    state: StateV1,
    created_unix_seconds: i64,
    wrapped: WrappedKey,
}

#[derive(Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum StateV1 {
    Primary,
    DecryptOnly,
    Retired,
}

impl DocumentV1 {
    /// The version 2 reading of a version 1 document (docs/payload-format.md, "Version 1
    /// documents"): the primary seals from its creation with no end; a decrypt-only key older
    /// than the primary sealed until the next key was created; one newer never sealed.
    fn convert(self) -> Result<KeyringDocument, KeyringError> {
        let primaries: Vec<&KeyV1> = self
            .keys
            .iter()
            .filter(|k| k.state == StateV1::Primary)
            .collect();
        let [primary] = primaries.as_slice() else {
            return Err(KeyringError::PrimaryCount(primaries.len()));
        };
        let primary_at = self.keys.iter().position(|k| k.id == primary.id);
        let next_created: Vec<Option<i64>> = (0..self.keys.len())
            .map(|i| self.keys.get(i + 1).map(|k| k.created_unix_seconds))
            .collect();
        let keys = self
            .keys
            .into_iter()
            .enumerate()
            .map(|(i, k)| {
                let seal_until = match k.state {
                    StateV1::Primary => None,
                    _ if Some(i) < primary_at => {
                        Some(next_created[i].unwrap_or(k.created_unix_seconds))
                    }
                    _ => Some(k.created_unix_seconds),
                };
                WrappedDataKey {
                    id: k.id,
                    state: if k.state == StateV1::Retired {
                        KeyState::Retired
                    } else {
                        KeyState::Active
                    },
                    created_unix_seconds: k.created_unix_seconds,
                    activates_unix_seconds: k.created_unix_seconds,
                    seal_until_unix_seconds: seal_until,
                    wrapped: k.wrapped,
                }
            })
            .collect();
        Ok(KeyringDocument {
            format: DOCUMENT_FORMAT.to_string(),
            scope: self.scope,
            activation_delay_seconds: 0,
            keys,
            history: Vec::new(),
            customer_key: self.customer_key,
        })
    }
}

#[derive(Deserialize)]
struct FormatOnly {
    format: String,
}

impl KeyringDocument {
    /// Parses and validates a JSON keyring document of either version; a version 1 document is
    /// returned in its version 2 reading.
    pub fn from_json(json: &str) -> Result<Self, KeyringError> {
        let format: FormatOnly = serde_json::from_str(json)?;
        let doc = match format.format.as_str() {
            DOCUMENT_FORMAT => serde_json::from_str::<Self>(json)?,
            DOCUMENT_FORMAT_V1 => serde_json::from_str::<DocumentV1>(json)?.convert()?,
            other => return Err(KeyringError::UnsupportedFormat(other.to_string())),
        };
        doc.validate()?;
        Ok(doc)
    }

    /// The document as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A new, empty keyring in `scope`; [`crate::codec::lifecycle`] adds its first key.
    pub fn empty(scope: KeyId, activation_delay_seconds: i64) -> Self {
        Self {
            format: DOCUMENT_FORMAT.to_string(),
            scope,
            activation_delay_seconds,
            keys: Vec::new(),
            history: Vec::new(),
            customer_key: None,
        }
    }

    /// Checks the format, the ids, the delay, and that some active key seals.
    pub fn validate(&self) -> Result<(), KeyringError> {
        if self.format != DOCUMENT_FORMAT {
            return Err(KeyringError::UnsupportedFormat(self.format.clone()));
        }
        if self.activation_delay_seconds < 0 {
            return Err(KeyringError::NegativeDelay);
        }
        let mut seen = std::collections::BTreeSet::new();
        for key in &self.keys {
            if !seen.insert(&key.id) {
                return Err(KeyringError::DuplicateId(key.id.clone()));
            }
        }
        if !self
            .keys
            .iter()
            .any(|k| k.state == KeyState::Active && k.times().seals_ever())
        {
            return Err(KeyringError::NoSealingKey);
        }
        Ok(())
    }

    /// The key that seals at `now`, by the rule every writer follows.
    pub fn sealing_key_at(&self, now: i64) -> Result<&WrappedDataKey, SealRefused> {
        let id = sealing_key_at(self.keys.iter().map(|k| (&k.id, k.state, k.times())), now)?;
        self.keys
            .iter()
            .find(|k| &k.id == id)
            .ok_or(SealRefused::NoActiveKey)
    }

    /// The active key that was added last (pending or not): the one a rotation is measured from.
    pub fn newest_active(&self) -> Option<&WrappedDataKey> {
        self.keys
            .iter()
            .filter(|k| k.state == KeyState::Active && k.times().seals_ever())
            .max_by_key(|k| k.activates_unix_seconds)
    }

    /// Generates a fresh data key through `provider` and adds it with `times`; returns its id.
    pub async fn add_key(
        &mut self,
        provider: &dyn KeyProvider,
        created: i64,
        times: KeyTimes,
    ) -> Result<KeyId, KeyringError> {
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
            state: KeyState::Active,
            created_unix_seconds: created,
            activates_unix_seconds: times.activates,
            seal_until_unix_seconds: times.seal_until,
            wrapped: generated.wrapped,
        });
        Ok(id)
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

    /// The key `id`, for changing its state.
    pub fn key_mut(&mut self, id: &KeyId) -> Result<&mut WrappedDataKey, KeyringError> {
        self.keys
            .iter_mut()
            .find(|k| &k.id == id)
            .ok_or_else(|| KeyringError::NoSuchKey(id.clone()))
    }
}

/// One unwrapped data key, ready to seal and open.
pub struct DataKey {
    id: KeyId,
    times: KeyTimes,
    cipher: DataKeyCipher,
    seals: AtomicU64,
}

impl DataKey {
    /// The key's id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// When the key seals.
    pub fn times(&self) -> KeyTimes {
        self.times
    }

    /// The key in the forms the payload format needs.
    pub(crate) fn cipher(&self) -> &DataKeyCipher {
        &self.cipher
    }
}

/// Shows the id and times only.
impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .field("times", &self.times)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The in-memory keyring a codec uses: the unwrapped keys that are not retired, in document order.
#[derive(Debug)]
pub struct Keyring {
    keys: Vec<DataKey>,
    by_id: BTreeMap<KeyId, usize>,
    seal_limit: u64,
}

impl Keyring {
    /// Builds a keyring from plaintext keys (ids, sealing times and 32-byte keys), oldest first.
    pub fn from_keys(
        keys: impl IntoIterator<Item = (KeyId, KeyTimes, SecretBytes)>,
    ) -> Result<Self, KeyringError> {
        let mut ring = Self {
            keys: Vec::new(),
            by_id: BTreeMap::new(),
            seal_limit: DEFAULT_SEAL_LIMIT,
        };
        for (id, times, material) in keys {
            let cipher =
                DataKeyCipher::new(material.expose()).ok_or_else(|| KeyringError::KeyLength {
                    id: id.clone(),
                    len: material.len(),
                })?;
            if ring.by_id.insert(id.clone(), ring.keys.len()).is_some() {
                return Err(KeyringError::DuplicateId(id));
            }
            ring.keys.push(DataKey {
                id,
                times,
                cipher,
                seals: AtomicU64::new(0),
            });
        }
        if !ring.keys.iter().any(|k| k.times.seals_ever()) {
            return Err(KeyringError::NoSealingKey);
        }
        Ok(ring)
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
            keys.push((entry.id.clone(), entry.times(), material));
        }
        let keyring = Self::from_keys(keys)?;
        tracing::info!(
            scope = %document.scope,
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

    /// The key that seals at `now`, counted against the bound: the key for one new payload.
    pub fn key_for_sealing(&self, now: i64) -> Result<&DataKey, SealRefused> {
        let id = sealing_key_at(
            self.keys.iter().map(|k| (&k.id, KeyState::Active, k.times)),
            now,
        )?;
        let key = &self.keys[self.by_id[id]];
        let used = key.seals.fetch_add(1, Ordering::Relaxed);
        if used >= self.seal_limit {
            key.seals.store(self.seal_limit, Ordering::Relaxed);
            return Err(SealRefused::Limit {
                key_id: key.id.clone(),
                limit: self.seal_limit,
            });
        }
        if used == self.seal_limit / 10 * 9 {
            tracing::warn!(
                key_id = %key.id,
                used,
                limit = self.seal_limit,
                "data key has used 90% of its seal bound in this process; rotate the data key"
            );
        }
        Ok(key)
    }

    /// The key with this id, if it is held (retired keys are not).
    pub fn key_for_opening(&self, id: &KeyId) -> Option<&DataKey> {
        self.by_id.get(id).map(|&i| &self.keys[i])
    }

    /// The id of the key that seals at `now`, without spending a seal; the refusal when none may.
    pub fn sealing_key_id(&self, now: i64) -> Result<&KeyId, SealRefused> {
        sealing_key_at(
            self.keys.iter().map(|k| (&k.id, KeyState::Active, k.times)),
            now,
        )
    }

    /// The ids held, oldest first.
    pub fn key_ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.iter().map(|k| &k.id)
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

    fn at(activates: i64, seal_until: Option<i64>) -> KeyTimes {
        KeyTimes {
            activates,
            seal_until,
        }
    }

    #[test]
    fn the_newest_activated_key_seals_and_a_pending_one_waits() {
        let ring = Keyring::from_keys([
            (id("old"), at(0, Some(1_000)), material(1)),
            (id("new"), at(500, Some(2_000)), material(2)),
        ])
        .unwrap();
        assert_eq!(ring.key_for_sealing(499).unwrap().id(), &id("old"));
        assert_eq!(ring.key_for_sealing(500).unwrap().id(), &id("new"));
        assert_eq!(ring.sealing_key_id(10), Ok(&id("old")));
        assert!(ring.key_for_opening(&id("new")).is_some());
    }

    #[test]
    fn a_stale_keyring_refuses_to_seal_naming_the_key() {
        let ring = Keyring::from_keys([(id("k1"), at(0, Some(1_000)), material(1))]).unwrap();
        let err = ring.key_for_sealing(1_000).unwrap_err();
        assert_eq!(
            err,
            SealRefused::Stale {
                key_id: id("k1"),
                until: "1970-01-01T00:16:40Z".into()
            }
        );
        assert!(err.to_string().contains("reload the keyring"), "{err}");
        let early = Keyring::from_keys([(id("k1"), at(100, None), material(1))]).unwrap();
        assert_eq!(
            early.key_for_sealing(99).unwrap_err(),
            SealRefused::NoActiveKey
        );
    }

    #[test]
    fn decrypt_only_keys_never_seal_and_a_ring_needs_a_sealing_key() {
        let ring = Keyring::from_keys([
            (id("a"), KeyTimes::ALWAYS, material(1)),
            (id("b"), KeyTimes::DECRYPT_ONLY, material(2)),
        ])
        .unwrap();
        assert_eq!(ring.key_for_sealing(5).unwrap().id(), &id("a"));
        let none = Keyring::from_keys([(id("b"), KeyTimes::DECRYPT_ONLY, material(2))]);
        assert!(matches!(none, Err(KeyringError::NoSealingKey)));
        assert!(!format!("{ring:?}").contains("[1, 1"));
    }

    #[test]
    fn seal_limit_is_enforced() {
        let ring = Keyring::from_keys([(id("a"), KeyTimes::ALWAYS, material(1))])
            .unwrap()
            .with_seal_limit(2);
        assert!(ring.key_for_sealing(0).is_ok());
        assert!(ring.key_for_sealing(0).is_ok());
        let err = ring.key_for_sealing(0).unwrap_err();
        assert!(matches!(err, SealRefused::Limit { ref key_id, limit: 2 } if key_id == &id("a")));
        assert!(err.to_string().contains("rotate the data key"));
    }

    const V1: &str = r#"{"format":"engram-keyring/v1","scope":"orders","keys":[
        {"id":"k0","state":"retired","created_unix_seconds":10,"wrapped":{"ciphertext":"AQID"}},
        {"id":"k1","state":"decrypt-only","created_unix_seconds":100,"wrapped":{"ciphertext":"AQID"}},
        {"id":"k2","state":"primary","created_unix_seconds":200,"wrapped":{"ciphertext":"AQID"}},
        {"id":"k3","state":"decrypt-only","created_unix_seconds":300,"wrapped":{"ciphertext":"AQID"}}]}"#;

    #[test]
    fn a_version_1_document_loads_as_specified() {
        let doc = KeyringDocument::from_json(V1).unwrap();
        assert_eq!(doc.format, DOCUMENT_FORMAT);
        let times: Vec<(KeyState, KeyTimes)> =
            doc.keys.iter().map(|k| (k.state, k.times())).collect();
        assert_eq!(
            times,
            vec![
                (KeyState::Retired, at(10, Some(100))),
                (KeyState::Active, at(100, Some(200))),
                (KeyState::Active, at(200, None)),
                (KeyState::Active, at(300, Some(300))),
            ]
        );
        // The primary seals at every time after the rolled-in key's creation too.
        assert_eq!(doc.sealing_key_at(1_000_000).unwrap().id, id("k2"));
        assert_eq!(doc.sealing_key_at(150).unwrap().id, id("k1"));
        // Written back, it is version 2 and reads the same.
        assert_eq!(KeyringDocument::from_json(&doc.to_json()).unwrap(), doc);
    }

    #[tokio::test]
    async fn document_keys_unwrap_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let provider = LocalKeyFile::create(&dir.path().join("kek")).unwrap();
        let mut doc = KeyringDocument::empty(id("orders"), 3_600);
        let first = doc
            .add_key(&provider, 0, at(0, Some(10_000)))
            .await
            .unwrap();
        let second = doc
            .add_key(&provider, 5_000, at(8_600, Some(20_000)))
            .await
            .unwrap();
        doc.rewrap_all(&provider).await.unwrap();
        let json = doc.to_json();
        assert!(json.contains("\"activates_unix_seconds\": 8600"), "{json}");
        let parsed = KeyringDocument::from_json(&json).unwrap();
        assert_eq!(parsed, doc);
        let ring = Keyring::unwrap_document(&parsed, &provider).await.unwrap();
        assert_eq!(ring.sealing_key_id(8_599), Ok(&first));
        assert_eq!(ring.sealing_key_id(8_600), Ok(&second));
    }

    #[tokio::test]
    async fn a_wrapped_key_moved_to_another_scope_does_not_unwrap() {
        let dir = tempfile::tempdir().unwrap();
        let provider = LocalKeyFile::create(&dir.path().join("kek")).unwrap();
        let mut doc = KeyringDocument::empty(id("orders"), 0);
        doc.add_key(&provider, 0, KeyTimes::ALWAYS).await.unwrap();
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
        let bad_id = r#"{"format":"engram-keyring/v2","scope":"a:b","keys":[]}"#;
        assert!(KeyringDocument::from_json(bad_id).is_err());
        let no_key = r#"{"format":"engram-keyring/v2","scope":"a","keys":[]}"#;
        assert!(matches!(
            KeyringDocument::from_json(no_key),
            Err(KeyringError::NoSealingKey)
        ));
    }
}
