//! A key file on local disk standing in for a KMS. **For development only**: the key-encryption
//! key sits on the same disk as everything else, so it protects nothing against anyone who can
//! read that disk. Every use logs a warning saying so.
//!
//! The file holds 32 random bytes, base64-encoded (`head -c 32 /dev/urandom | base64`). Data keys
//! are wrapped with AES-256-GCM under it: `nonce (12 bytes) || ciphertext || tag`, with the
//! [`WrapContext`] as authenticated data.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use zeroize::Zeroizing;

use crate::codec::aead::{self, Aes256GcmKey};
use crate::kms::{
    Backend, DATA_KEY_LEN, KeyDescription, KeyProvider, KmsError, KmsErrorKind, SecretBytes,
    WrapContext, WrappedKey, checked_data_key,
};

const NONCE_LEN: usize = aead::NONCE_LEN;

/// A development-only key provider backed by a key file.
pub struct LocalKeyFile {
    path: String,
    cipher: Aes256GcmKey,
}

impl LocalKeyFile {
    /// Reads the key file at `path`.
    pub fn open(path: &Path) -> Result<Self, KmsError> {
        let shown = path.display().to_string();
        let config =
            |msg: String| KmsError::new(Backend::LocalDevOnly, &shown, KmsErrorKind::Config(msg));
        let text = std::fs::read_to_string(path)
            .map_err(|e| config(format!("cannot read the key file: {e}")))?;
        let key = SecretBytes::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| config("the key file is not base64".into()))?,
        );
        if key.len() != DATA_KEY_LEN {
            return Err(config(format!(
                "the key file holds {} bytes; it must hold {DATA_KEY_LEN} random bytes, base64-encoded",
                key.len()
            )));
        }
        let cipher = Aes256GcmKey::new(key.expose())
            .ok_or_else(|| config("the key has the wrong length".into()))?;
        warn_dev_only(&shown);
        Ok(Self {
            path: shown,
            cipher,
        })
    }

    /// Writes a new random key file at `path` (mode 0600 on Unix) and opens it.
    pub fn create(path: &Path) -> Result<Self, KmsError> {
        let shown = path.display().to_string();
        let io = |e: std::io::Error| {
            KmsError::new(
                Backend::LocalDevOnly,
                &shown,
                KmsErrorKind::Config(format!("cannot write the key file: {e}")),
            )
        };
        let key = random_key(&shown)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        std::io::Write::write_all(&mut file, STANDARD.encode(key.expose()).as_bytes())
            .map_err(io)?;
        Self::open(&PathBuf::from(path))
    }

    fn error(&self, kind: KmsErrorKind) -> KmsError {
        KmsError::new(Backend::LocalDevOnly, &self.path, kind)
    }
}

fn warn_dev_only(path: &str) {
    tracing::warn!(
        key_file = path,
        "DEVELOPMENT ONLY: data keys are wrapped by a local key file, not a KMS; anyone who can read this file can decrypt every payload"
    );
}

fn random_key(path: &str) -> Result<SecretBytes, KmsError> {
    SecretBytes::random(DATA_KEY_LEN).map_err(|e| {
        KmsError::new(
            Backend::LocalDevOnly,
            path,
            KmsErrorKind::Config(format!("no randomness from the operating system: {e}")),
        )
    })
}

#[async_trait]
impl KeyProvider for LocalKeyFile {
    fn backend(&self) -> Backend {
        Backend::LocalDevOnly
    }

    fn key(&self) -> &str {
        &self.path
    }

    async fn wrap(
        &self,
        plaintext: &SecretBytes,
        context: &WrapContext,
    ) -> Result<WrappedKey, KmsError> {
        warn_dev_only(&self.path);
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|e| self.error(KmsErrorKind::Config(format!("no randomness: {e}"))))?;
        let aad = context.associated_data();
        // Cleared on drop in case sealing fails while the buffer still holds the plaintext.
        let mut ciphertext = Zeroizing::new(Vec::with_capacity(
            NONCE_LEN + plaintext.len() + aead::TAG_LEN,
        ));
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(plaintext.expose());
        let tag = self
            .cipher
            .seal_in_place(&nonce, &aad, &mut ciphertext[NONCE_LEN..])
            .map_err(|_| self.error(KmsErrorKind::Config("data key too large".into())))?;
        ciphertext.extend_from_slice(&tag);
        Ok(WrappedKey::new(std::mem::take(&mut *ciphertext)))
    }

    async fn unwrap(
        &self,
        wrapped: &WrappedKey,
        context: &WrapContext,
    ) -> Result<SecretBytes, KmsError> {
        warn_dev_only(&self.path);
        let invalid = || {
            self.error(KmsErrorKind::InvalidCiphertext(
                "authentication failed under the local key file".into(),
            ))
        };
        if wrapped.ciphertext.len() < NONCE_LEN {
            return Err(invalid());
        }
        let (nonce, sealed) = wrapped.ciphertext.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| invalid())?;
        let aad = context.associated_data();
        let mut plaintext = Zeroizing::new(sealed.to_vec());
        let len = self
            .cipher
            .open_in_place(&nonce, &aad, &mut plaintext)
            .map_err(|_| invalid())?;
        plaintext.truncate(len);
        checked_data_key(
            Backend::LocalDevOnly,
            &self.path,
            SecretBytes::new(std::mem::take(&mut *plaintext)),
        )
    }

    async fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &WrapContext,
    ) -> Result<WrappedKey, KmsError> {
        let plaintext = self.unwrap(wrapped, context).await?;
        self.wrap(&plaintext, context).await
    }

    async fn describe_key(&self) -> Result<KeyDescription, KmsError> {
        Ok(KeyDescription {
            backend: Backend::LocalDevOnly,
            key: self.path.clone(),
            enabled: true,
            latest_version: None,
            min_decryption_version: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wraps_and_unwraps_bound_to_context() {
        let dir = tempfile::tempdir().unwrap();
        let provider = LocalKeyFile::create(&dir.path().join("kek")).unwrap();
        let ctx = WrapContext::new("ns", "dek-1");
        let generated = provider.generate_data_key(&ctx).await.unwrap();
        let unwrapped = provider.unwrap(&generated.wrapped, &ctx).await.unwrap();
        assert_eq!(unwrapped, generated.plaintext);

        let other = WrapContext::new("ns", "dek-2");
        let err = provider
            .unwrap(&generated.wrapped, &other)
            .await
            .unwrap_err();
        assert!(
            matches!(err.kind, KmsErrorKind::InvalidCiphertext(_)),
            "{err}"
        );

        let rewrapped = provider.rewrap(&generated.wrapped, &ctx).await.unwrap();
        assert_ne!(rewrapped, generated.wrapped);
        assert_eq!(
            provider.unwrap(&rewrapped, &ctx).await.unwrap(),
            generated.plaintext
        );
    }

    #[test]
    fn rejects_a_short_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        std::fs::write(&path, STANDARD.encode([0u8; 16])).unwrap();
        let err = LocalKeyFile::open(&path).err().unwrap();
        assert!(err.to_string().contains("16 bytes"), "{err}");
    }
}
