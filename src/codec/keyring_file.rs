//! [`KeyringFile`]: a keyring kept current from its document file, for workers.
//!
//! Workers read the keyring document from a mounted Kubernetes Secret. When `engram_cmk_binding`
//! adds a pending key, the Secret changes (Kubernetes swaps the volume's `..data` link, so the
//! file's content is compared, not its time), and the worker must hold the new key before its
//! activation. The file is re-read every reload interval; a changed document is unwrapped
//! through the KMS and swapped in whole. A document that does not load leaves the previous
//! keyring in place, with one log line per distinct problem (never the document's content).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::codec::keyring::{Keyring, KeyringDocument};
use crate::codec::namespace::Namespace;
use crate::codec::payload_codec::PayloadCodec;
use crate::kms::KeyProvider;

/// Why a keyring document did not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file cannot be read.
    #[error("cannot read the keyring document: {0}")]
    Unreadable(String),
    /// The file is not a valid keyring document.
    #[error("the keyring document is not valid: {0}")]
    Invalid(String),
    /// The KMS did not unwrap its keys.
    #[error("the keyring's data keys did not unwrap: {0}")]
    NotUnwrapped(String),
}

/// Parses `document` and unwraps it through `provider`.
pub(crate) async fn unwrap_bytes(
    document: &[u8],
    provider: &dyn KeyProvider,
) -> Result<Keyring, LoadError> {
    let text = std::str::from_utf8(document)
        .map_err(|_| LoadError::Invalid("the document is not UTF-8".into()))?;
    let document =
        KeyringDocument::from_json(text).map_err(|e| LoadError::Invalid(e.to_string()))?;
    Keyring::unwrap_document(&document, provider)
        .await
        .map_err(|e| LoadError::NotUnwrapped(e.to_string()))
}

/// A keyring loaded from a file and reloaded when the file changes.
pub struct KeyringFile {
    path: PathBuf,
    provider: Arc<dyn KeyProvider>,
    current: RwLock<Arc<Keyring>>,
    document: Mutex<Vec<u8>>,
    last_problem: Mutex<Option<LoadError>>,
}

impl KeyringFile {
    /// Loads the document at `path`; it must load, since there is no previous keyring to keep.
    pub async fn open(path: &Path, provider: Arc<dyn KeyProvider>) -> Result<Arc<Self>, LoadError> {
        let document = tokio::fs::read(path)
            .await
            .map_err(|e| LoadError::Unreadable(format!("{}: {e}", path.display())))?;
        let keyring = unwrap_bytes(&document, provider.as_ref()).await?;
        Ok(Arc::new(Self {
            path: path.to_path_buf(),
            provider,
            current: RwLock::new(Arc::new(keyring)),
            document: Mutex::new(document),
            last_problem: Mutex::new(None),
        }))
    }

    /// The keyring in use now.
    pub fn current(&self) -> Arc<Keyring> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A codec for `namespace` over the keyring in use now.
    pub fn codec(&self, namespace: Namespace) -> PayloadCodec {
        PayloadCodec::new(self.current(), namespace)
    }

    /// Re-reads the file; swaps in its keyring when the document changed and loads. Returns
    /// whether it swapped. On failure the previous keyring stays in use.
    pub async fn reload(&self) -> Result<bool, LoadError> {
        let result = self.try_reload().await;
        let mut last = self.last_problem.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Err(problem) if last.as_ref() != Some(problem) => {
                tracing::warn!(path = %self.path.display(), error = %problem, "keyring reload failed; still using the previous keyring");
                *last = Some(problem.clone());
            }
            Err(_) => {}
            Ok(_) => *last = None,
        }
        result
    }

    async fn try_reload(&self) -> Result<bool, LoadError> {
        let document = tokio::fs::read(&self.path)
            .await
            .map_err(|e| LoadError::Unreadable(format!("{}: {e}", self.path.display())))?;
        if *self.document.lock().unwrap_or_else(|p| p.into_inner()) == document {
            return Ok(false);
        }
        let keyring = unwrap_bytes(&document, self.provider.as_ref()).await?;
        tracing::info!(path = %self.path.display(), keys = keyring.key_ids().count(), "keyring reloaded");
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keyring);
        *self.document.lock().unwrap_or_else(|p| p.into_inner()) = document;
        Ok(true)
    }

    /// Reloads every `interval` until the returned task is aborted.
    pub fn watch(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                // A failure is logged once by `reload` and the previous keyring stays in use.
                let _ = this.reload().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::KeyId;
    use crate::codec::lifecycle::{self, LifecyclePolicy, Observed};
    use crate::kms::local::LocalKeyFile;

    const POLICY: LifecyclePolicy = LifecyclePolicy {
        rotate_after_days: 1,
        decrypt_window_days: 1,
        seal_grace_days: 1,
        activation_delay_seconds: 60,
    };

    #[tokio::test]
    async fn a_changed_document_is_swapped_in_and_a_broken_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let provider = Arc::new(LocalKeyFile::create(&dir.path().join("kek")).unwrap());
        let doc = lifecycle::create(
            KeyId::new("orders").unwrap(),
            &POLICY,
            provider.as_ref(),
            0,
            None,
        )
        .await
        .unwrap()
        .document;
        let path = dir.path().join("keyring.json");
        std::fs::write(&path, doc.to_json()).unwrap();
        let file = KeyringFile::open(&path, provider.clone()).await.unwrap();
        assert_eq!(file.reload().await, Ok(false));

        let rotated = lifecycle::advance(
            &doc,
            &POLICY,
            provider.as_ref(),
            &Observed {
                now: 86_400,
                ..Observed::default()
            },
        )
        .await
        .unwrap()
        .document;
        std::fs::write(&path, rotated.to_json()).unwrap();
        assert_eq!(file.reload().await, Ok(true));
        let pending = &rotated.keys[1].id;
        assert!(file.current().key_for_opening(pending).is_some());

        std::fs::write(&path, "{ not a keyring").unwrap();
        assert!(matches!(file.reload().await, Err(LoadError::Invalid(_))));
        assert!(file.current().key_for_opening(pending).is_some());
    }
}
