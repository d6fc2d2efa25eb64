//! The one error type every backend returns: which backend, which key, what went wrong, and
//! what the operator should check.

use std::fmt;

/// The KMS backends this crate speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// AWS KMS.
    AwsKms,
    /// HashiCorp Vault or OpenBao, Transit secrets engine.
    VaultTransit,
    /// Azure Key Vault (or Managed HSM) keys.
    AzureKeyVault,
    /// Google Cloud KMS.
    GcpKms,
    /// A key file on local disk, for development only.
    LocalDevOnly,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::AwsKms => "AWS KMS",
            Backend::VaultTransit => "Vault Transit",
            Backend::AzureKeyVault => "Azure Key Vault",
            Backend::GcpKms => "Google Cloud KMS",
            Backend::LocalDevOnly => "local key file (development only)",
        })
    }
}

/// What went wrong, each with the thing to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsErrorKind {
    /// The backend did not accept the credentials.
    #[error("not authenticated ({0}); check the credentials, token or identity this process uses")]
    Unauthenticated(String),
    /// Authenticated, but not allowed to use the key.
    #[error(
        "permission denied ({0}); check that the key policy or role grants this operation to the identity in use"
    )]
    PermissionDenied(String),
    /// The key does not exist (or is not visible to the caller).
    #[error("key not found ({0}); check the key name or ARN, region, mount and project")]
    KeyNotFound(String),
    /// The key exists but is disabled, scheduled for deletion or otherwise unusable.
    #[error("key is disabled or not usable ({0}); check the key's state in the KMS")]
    KeyDisabled(String),
    /// The wrapped key was sealed under a key version the KMS no longer allows for decryption.
    #[error(
        "wrapped key uses version {version}, below the key's min_decryption_version {min_decryption_version}; rewrap data keys before raising the minimum, or lower it"
    )]
    VersionBelowMinimum {
        /// Version the wrapped key was sealed with.
        version: u64,
        /// The lowest version the KMS still decrypts.
        min_decryption_version: u64,
    },
    /// The KMS could not decrypt the wrapped key under this key and context.
    #[error(
        "the wrapped data key does not decrypt under this key ({0}); check that the keyring document belongs to this key and scope"
    )]
    InvalidCiphertext(String),
    /// The call did not finish within its timeout.
    #[error("no answer within {0:?}; check network reachability of the KMS endpoint")]
    Timeout(std::time::Duration),
    /// The endpoint could not be reached or answered with a server error.
    #[error("endpoint unavailable ({0}); check the endpoint address, TLS and network")]
    Unavailable(String),
    /// The backend answered with something this client cannot use.
    #[error(
        "unexpected response ({0}); check that the endpoint is the right service and API version"
    )]
    InvalidResponse(String),
    /// The client configuration is incomplete or inconsistent.
    #[error("configuration error: {0}")]
    Config(String),
}

/// An error from a KMS backend, naming the backend and the customer key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{backend} key `{key}`: {kind}")]
pub struct KmsError {
    /// Which backend.
    pub backend: Backend,
    /// The customer key (ARN, name, URL) the call was about.
    pub key: String,
    /// What went wrong.
    pub kind: KmsErrorKind,
}

impl KmsError {
    /// An error about `key` on `backend`.
    pub fn new(backend: Backend, key: &str, kind: KmsErrorKind) -> Self {
        Self {
            backend,
            key: key.to_string(),
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_backend_key_and_what_to_check() {
        let err = KmsError::new(
            Backend::VaultTransit,
            "engram",
            KmsErrorKind::VersionBelowMinimum {
                version: 1,
                min_decryption_version: 2,
            },
        );
        let text = err.to_string();
        assert!(text.starts_with("Vault Transit key `engram`:"), "{text}");
        assert!(text.contains("version 1"), "{text}");
        assert!(text.contains("min_decryption_version 2"), "{text}");
    }
}
