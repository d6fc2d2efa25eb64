//! The keyrings the server decrypts with: a default one and any bound to a namespace, each
//! loaded from its document file and unwrapped through the KMS, the plaintext kept in memory only.
//!
//! A watcher re-reads the files every reload interval. When a document changes it is unwrapped
//! in the background and swapped in whole; requests already running keep the keyring they
//! started with, so a rotation fails no request. A document that does not load leaves the
//! previous keyring in place and is retried on the next tick; until it loads (or the file is
//! back as it was), the server reports not ready, so a broken document is noticed, not only
//! logged. Readiness says what kind of problem a keyring has; the file path and the error's
//! text go to the log only, since `/readyz` answers anyone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::codec::keyring_file::unwrap_bytes;
use crate::codec::server::config::KeyringPaths;
use crate::codec::server::error::ApiError;
use crate::codec::server::metrics::Metrics;
use crate::codec::{Keyring, LoadError, Namespace, PayloadCodec};
use crate::kms::KeyProvider;

/// One keyring document and what was loaded from it.
struct Slot {
    label: String,
    path: PathBuf,
    loaded: RwLock<Option<Loaded>>,
    problem: RwLock<Option<Problem>>,
}

/// What is wrong with a keyring's document, as `/readyz` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    Unreadable,
    Invalid,
    NotUnwrapped,
}

impl Problem {
    fn describe(self) -> &'static str {
        match self {
            Self::Unreadable => "its document cannot be read",
            Self::Invalid => "its document is not a valid keyring document",
            Self::NotUnwrapped => "the KMS did not unwrap its keys",
        }
    }
}

struct Loaded {
    keyring: Arc<Keyring>,
    document: Vec<u8>,
}

/// Every keyring the server holds, by namespace.
pub struct Keyrings {
    default: Option<Slot>,
    namespaces: BTreeMap<String, Slot>,
    accepted_sources: BTreeMap<Namespace, Arc<BTreeSet<Namespace>>>,
    provider: Arc<dyn KeyProvider>,
}

impl Keyrings {
    /// Slots for `paths`; nothing is read until [`Keyrings::refresh`].
    pub fn new(paths: &KeyringPaths, provider: Arc<dyn KeyProvider>) -> Self {
        let slot = |label: String, path: &Path| Slot {
            label,
            path: path.to_path_buf(),
            loaded: RwLock::new(None),
            problem: RwLock::new(None),
        };
        Self {
            default: paths
                .default
                .as_deref()
                .map(|p| slot("default keyring".into(), p)),
            namespaces: paths
                .namespaces
                .iter()
                .map(|(ns, p)| (ns.clone(), slot(format!("keyring of namespace `{ns}`"), p)))
                .collect(),
            accepted_sources: paths.accepted_sources.clone(),
            provider,
        }
    }

    fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.default.iter().chain(self.namespaces.values())
    }

    /// The codec for `namespace`: its own keyring if it has one, else the default; sealing for
    /// the namespace and opening its payloads and those of the source namespaces it accepts.
    pub fn codec_for(&self, namespace: Option<&Namespace>) -> Result<PayloadCodec, ApiError> {
        let slot = namespace
            .and_then(|ns| self.namespaces.get(ns.as_str()))
            .or(self.default.as_ref())
            .ok_or_else(|| {
                ApiError::BadNamespace(match namespace {
                    Some(ns) => format!("this codec server holds no keyring for namespace `{ns}`"),
                    None => "this codec server has keyrings per namespace only; send X-Namespace or use /{namespace}/decode".into(),
                })
            })?;
        let loaded = slot.loaded.read().unwrap_or_else(|p| p.into_inner());
        let keyring = loaded.as_ref().map(|l| l.keyring.clone()).ok_or_else(|| {
            ApiError::Unavailable(format!(
                "the {} is not unwrapped yet; see /readyz",
                slot.label
            ))
        })?;
        let codec = match namespace {
            Some(ns) => PayloadCodec::new(keyring, ns.clone()),
            None => PayloadCodec::without_namespace(keyring),
        };
        Ok(
            match namespace.and_then(|ns| self.accepted_sources.get(ns)) {
                Some(sources) => codec.accepting(sources.clone()),
                None => codec,
            },
        )
    }

    /// Whether every keyring is unwrapped and its document on disk is the one in use (or a
    /// newer one that loaded).
    pub fn ready(&self) -> bool {
        self.slots().all(|s| {
            s.loaded.read().unwrap_or_else(|p| p.into_inner()).is_some()
                && s.problem
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_none()
        })
    }

    /// Why the server is not ready: one line per keyring with a problem, naming the keyring and
    /// the kind of problem only.
    pub fn not_ready_reasons(&self) -> Vec<String> {
        self.slots()
            .filter_map(|s| {
                let serving = s.loaded.read().unwrap_or_else(|p| p.into_inner()).is_some();
                let problem = *s.problem.read().unwrap_or_else(|p| p.into_inner());
                match (serving, problem) {
                    (true, None) => None,
                    (false, None) => Some(format!("{}: not loaded yet", s.label)),
                    (true, Some(problem)) => Some(format!(
                        "{}: {}; the previous keyring is still in use",
                        s.label,
                        problem.describe()
                    )),
                    (false, Some(problem)) => Some(format!("{}: {}", s.label, problem.describe())),
                }
            })
            .collect()
    }

    /// Loads every document that is new or changed since it was last loaded.
    pub async fn refresh(&self, metrics: &Metrics) {
        for slot in self.slots() {
            let document = match tokio::fs::read(&slot.path).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    self.failed(
                        slot,
                        Problem::Unreadable,
                        format!("cannot read {}: {e}", slot.path.display()),
                        metrics,
                    );
                    continue;
                }
            };
            let unchanged = slot
                .loaded
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .is_some_and(|l| l.document == document);
            if unchanged {
                let recovered = slot
                    .problem
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .is_some();
                if recovered {
                    tracing::info!(keyring = %slot.label, "keyring document is back to the one in use");
                }
                continue;
            }
            match self.unwrap(&document).await {
                Ok(keyring) => {
                    let first = slot
                        .loaded
                        .read()
                        .unwrap_or_else(|p| p.into_inner())
                        .is_none();
                    tracing::info!(keyring = %slot.label, keys = keyring.key_ids().count(), "keyring loaded");
                    *slot.loaded.write().unwrap_or_else(|p| p.into_inner()) = Some(Loaded {
                        keyring: Arc::new(keyring),
                        document,
                    });
                    *slot.problem.write().unwrap_or_else(|p| p.into_inner()) = None;
                    if !first {
                        metrics.keyring_reloaded(true);
                    }
                }
                Err((problem, reason)) => self.failed(slot, problem, reason, metrics),
            }
        }
    }

    async fn unwrap(&self, document: &[u8]) -> Result<Keyring, (Problem, String)> {
        unwrap_bytes(document, self.provider.as_ref())
            .await
            .map_err(|e| {
                let problem = match e {
                    LoadError::Unreadable(_) => Problem::Unreadable,
                    LoadError::Invalid(_) => Problem::Invalid,
                    LoadError::NotUnwrapped(_) => Problem::NotUnwrapped,
                };
                (problem, e.to_string())
            })
    }

    fn failed(&self, slot: &Slot, problem: Problem, reason: String, metrics: &Metrics) {
        let serving = slot
            .loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        let previous = slot
            .problem
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .replace(problem);
        if previous == Some(problem) {
            tracing::debug!(keyring = %slot.label, path = %slot.path.display(), error = %reason, "keyring still not loadable");
        } else if serving {
            tracing::error!(keyring = %slot.label, path = %slot.path.display(), error = %reason, "keyring reload failed; still serving the previous keyring, not ready");
        } else {
            tracing::error!(keyring = %slot.label, path = %slot.path.display(), error = %reason, "keyring not loaded; not ready");
        }
        if serving {
            metrics.keyring_reloaded(false);
        }
    }

    /// Re-reads the documents every `interval`, for as long as the server runs.
    pub async fn watch(self: Arc<Self>, interval: Duration, metrics: Arc<Metrics>) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            self.refresh(&metrics).await;
        }
    }
}
