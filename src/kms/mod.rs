//! Customer key providers: one [`KeyProvider`] trait and one file per KMS backend.
//!
//! A provider wraps and unwraps *data keys* under the customer's key (the KEK). The keyring in
//! [`crate::codec`] only ever stores wrapped data keys; plaintext ones exist in memory, in
//! [`SecretBytes`]. Every call has a timeout; only calls that change nothing on the server are
//! retried (all of the ones below: they are pure cryptographic operations or reads).

pub mod aws;
pub mod azure;
mod error;
pub mod gcp;
mod http;
pub mod local;
mod secret;
mod token;
pub mod vault;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

pub use error::{Backend, KmsError, KmsErrorKind};
pub use secret::SecretBytes;

/// Length of a data key in bytes (AES-256).
pub const DATA_KEY_LEN: usize = 32;

/// What a wrapped data key is bound to: the keyring's scope and the data key's id.
///
/// Backends that support it authenticate this with the wrapped key (AWS encryption context,
/// Vault/OpenBao and GCP associated data), so a wrapped key copied into another keyring or
/// under another id does not unwrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapContext {
    /// The keyring's scope (for example the Temporal namespace or deployment name).
    pub scope: String,
    /// The data key's id.
    pub key_id: String,
}

impl WrapContext {
    /// A context for data key `key_id` in keyring `scope`.
    pub fn new(scope: &str, key_id: &str) -> Self {
        Self {
            scope: scope.to_string(),
            key_id: key_id.to_string(),
        }
    }

    /// The context as associated data bytes: `engram-dek:v1:<scope>:<key id>`.
    pub fn associated_data(&self) -> Vec<u8> {
        format!("engram-dek:v1:{}:{}", self.scope, self.key_id).into_bytes()
    }

    /// The context as key/value pairs (the AWS KMS encryption context).
    pub fn pairs(&self) -> [(&'static str, &str); 2] {
        [
            ("engram-scope", self.scope.as_str()),
            ("engram-key-id", self.key_id.as_str()),
        ]
    }
}

/// A data key wrapped (encrypted) under the customer's key. Safe to store anywhere.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    /// The backend's ciphertext, base64 in JSON.
    #[serde(with = "base64_bytes")]
    pub ciphertext: Vec<u8>,
    /// The customer key version that wrapped it, where the backend does not embed it in the
    /// ciphertext (Azure Key Vault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kek_version: Option<String>,
}

impl WrappedKey {
    /// A wrapped key whose ciphertext identifies its KEK version itself.
    pub fn new(ciphertext: Vec<u8>) -> Self {
        Self {
            ciphertext,
            kek_version: None,
        }
    }
}

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WrappedKey")
            .field("ciphertext_len", &self.ciphertext.len())
            .field("kek_version", &self.kek_version)
            .finish()
    }
}

mod base64_bytes {
    use super::*;

    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// A fresh data key: the plaintext (kept in memory only) and its wrapped form (stored).
#[derive(Debug)]
pub struct GeneratedKey {
    /// The plaintext key; zeroized on drop.
    pub plaintext: SecretBytes,
    /// The same key wrapped under the customer's key.
    pub wrapped: WrappedKey,
}

/// What a backend reports about the customer's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDescription {
    /// The backend.
    pub backend: Backend,
    /// The key's identifier as the backend names it (ARN, URL, resource name).
    pub key: String,
    /// Whether the key can be used to wrap and unwrap now.
    pub enabled: bool,
    /// The newest version that wraps, where the backend versions keys.
    pub latest_version: Option<String>,
    /// The oldest version that still unwraps, where the backend exposes it.
    pub min_decryption_version: Option<String>,
}

/// A customer-managed key that wraps and unwraps data keys.
#[async_trait]
pub trait KeyProvider: Send + Sync {
    /// The backend this provider talks to.
    fn backend(&self) -> Backend;

    /// The customer key this provider uses, as configured.
    fn key(&self) -> &str;

    /// Creates a fresh 256-bit data key and returns it both in plaintext and wrapped. By default
    /// the key comes from the operating system's random source and is wrapped with
    /// [`wrap`](Self::wrap); a KMS that generates data keys itself overrides this.
    async fn generate_data_key(&self, context: &WrapContext) -> Result<GeneratedKey, KmsError> {
        let plaintext = SecretBytes::random(DATA_KEY_LEN).map_err(|e| {
            KmsError::new(
                self.backend(),
                self.key(),
                KmsErrorKind::Config(format!("no randomness from the operating system: {e}")),
            )
        })?;
        let wrapped = self.wrap(&plaintext, context).await?;
        Ok(GeneratedKey { plaintext, wrapped })
    }

    /// Wraps a data key under the customer's key.
    async fn wrap(
        &self,
        plaintext: &SecretBytes,
        context: &WrapContext,
    ) -> Result<WrappedKey, KmsError>;

    /// Unwraps a data key previously wrapped under the customer's key with the same context.
    async fn unwrap(
        &self,
        wrapped: &WrappedKey,
        context: &WrapContext,
    ) -> Result<SecretBytes, KmsError>;

    /// Re-wraps a wrapped key under the customer key's newest version, where possible without
    /// exposing the plaintext to this process.
    async fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &WrapContext,
    ) -> Result<WrappedKey, KmsError>;

    /// Reads the customer key's state.
    async fn describe_key(&self) -> Result<KeyDescription, KmsError>;
}

/// A data key from the provider, checked to be 256 bits.
fn checked_data_key(
    backend: Backend,
    key: &str,
    plaintext: SecretBytes,
) -> Result<SecretBytes, KmsError> {
    if plaintext.len() == DATA_KEY_LEN {
        Ok(plaintext)
    } else {
        Err(KmsError::new(
            backend,
            key,
            KmsErrorKind::InvalidResponse(format!(
                "unwrapped data key is {} bytes, expected {DATA_KEY_LEN}",
                plaintext.len()
            )),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_encodings() {
        let ctx = WrapContext::new("payments", "dek-1");
        assert_eq!(ctx.associated_data(), b"engram-dek:v1:payments:dek-1");
        assert_eq!(
            ctx.pairs(),
            [("engram-scope", "payments"), ("engram-key-id", "dek-1")]
        );
    }

    #[test]
    fn wrapped_key_json_is_base64_and_debug_shows_length() {
        let wrapped = WrappedKey::new(vec![1, 2, 3]);
        assert_eq!(
            serde_json::to_string(&wrapped).unwrap(),
            r#"{"ciphertext":"AQID"}"#
        );
        assert_eq!(
            format!("{wrapped:?}"),
            "WrappedKey { ciphertext_len: 3, kek_version: None }"
        );
    }

    #[test]
    fn data_key_length_is_checked() {
        let err =
            checked_data_key(Backend::AwsKms, "k", SecretBytes::new(vec![0; 16])).unwrap_err();
        assert!(err.to_string().contains("16 bytes"));
    }
}
