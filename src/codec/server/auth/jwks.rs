//! The issuer's signing keys: a JSON Web Key Set fetched over HTTPS and cached, so that a token
//! check costs no request to the issuer, and so that an issuer that fails, hangs or is attacked
//! through forged key ids cannot take token checks down with it.
//!
//! - A fetch never holds the cache: checks whose key is cached go on while a fetch runs.
//! - One fetch at a time (single flight): checks that need the fetch wait for that one.
//! - At most one fetch attempt per [`MIN_REFETCH`] (or per maximum age, if shorter), whatever
//!   its result, so neither a stream of unknown key ids nor an issuer answering 500 turns the
//!   server into a load generator.
//! - A set older than the maximum age is fetched again in the background while it keeps
//!   serving; if the issuer cannot be reached, the cached keys keep verifying tokens for the
//!   grace period past the maximum age, then checks answer 503.
//! - An outage is logged when it starts, when the grace period ends and when it is over, not
//!   once per request; every fetch is counted in `engram_codec_jwks_fetches_total`.
//! - The answer is read up to [`MAX_JWKS_BYTES`] only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{Jwk, JwkSet};

use crate::codec::server::metrics::Metrics;

/// The shortest time between two fetch attempts, successful or not, unless the maximum age is
/// shorter still.
pub const MIN_REFETCH: Duration = Duration::from_secs(10);
/// The largest key set read from the issuer; real ones are a few KiB.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// One usable key from the set.
pub struct SigningKey {
    /// The key, for signature checks.
    pub key: DecodingKey,
    /// The `alg` the set pins the key to, if any.
    pub algorithm: Option<String>,
}

/// One fetched set, swapped in whole.
struct KeySet {
    keys: HashMap<String, Arc<SigningKey>>,
    unnamed: Vec<Arc<SigningKey>>,
    fetched: Instant,
}

/// Why no key could be found.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// No usable set: never fetched, or past its grace period, and the issuer cannot be reached.
    #[error("the issuer's signing keys are not available")]
    Unavailable,
    /// No key has the token's key id, even after a refetch (or a refetch is not due yet).
    #[error("the token's key id (kid) is not in the issuer's key set")]
    UnknownKid,
    /// The token names no key id and the set has not exactly one key.
    #[error("the token names no key id (kid) and the issuer's key set has more than one key")]
    AmbiguousKey,
}

/// How long a set is used.
#[derive(Debug, Clone, Copy)]
pub struct Freshness {
    /// After this age the set is fetched again.
    pub max_age: Duration,
    /// Past `max_age`, how long the set keeps serving while fetches fail.
    pub grace: Duration,
}

/// A cached JWKS.
pub struct Jwks {
    url: String,
    http: reqwest::Client,
    freshness: Freshness,
    metrics: Arc<Metrics>,
    current: RwLock<Option<Arc<KeySet>>>,
    /// Held by the one fetch in flight; holds the time of the last attempt.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    outage: AtomicBool,
    grace_over: AtomicBool,
}

impl Jwks {
    /// A cache for the set at `url`; nothing is fetched yet.
    pub fn new(
        url: String,
        http: reqwest::Client,
        freshness: Freshness,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            url,
            http,
            freshness,
            metrics,
            current: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(None),
            outage: AtomicBool::new(false),
            grace_over: AtomicBool::new(false),
        }
    }

    /// Whether a fetch attempt may start now, given the last one.
    fn due(&self, last_attempt: Option<Instant>) -> bool {
        let spacing = MIN_REFETCH.min(self.freshness.max_age);
        last_attempt.is_none_or(|t| t.elapsed() >= spacing)
    }

    fn current(&self) -> Option<Arc<KeySet>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The set, if it may still verify tokens (within its maximum age plus grace).
    fn usable(&self, set: Option<Arc<KeySet>>) -> Option<Arc<KeySet>> {
        let set = set?;
        if set.fetched.elapsed() < self.freshness.max_age + self.freshness.grace {
            return Some(set);
        }
        if !self.grace_over.swap(true, Ordering::Relaxed) {
            tracing::error!(url = %self.url, grace_seconds = self.freshness.grace.as_secs(), "the issuer's cached keys are past their grace period; tokens cannot be verified until the key set is fetched again");
        }
        None
    }

    /// The key a token signed with `kid` is checked against.
    pub async fn key(self: &Arc<Self>, kid: Option<&str>) -> Result<Arc<SigningKey>, JwksError> {
        let before = self.current();
        if let Some(set) = &before
            && let Some(key) = lookup(set, kid)
        {
            let age = set.fetched.elapsed();
            if age < self.freshness.max_age {
                return Ok(key);
            }
            if age < self.freshness.max_age + self.freshness.grace {
                self.refresh_in_background();
                return Ok(key);
            }
        }
        // The key is not cached, or the set is too old: wait for the fetch in flight, or make
        // one if none ran lately.
        let mut last_attempt = self.fetching.lock().await;
        let fetched_meanwhile = match (&before, self.current()) {
            (Some(a), Some(b)) => !Arc::ptr_eq(a, &b),
            (None, now) => now.is_some(),
            (Some(_), None) => false,
        };
        if !fetched_meanwhile && self.due(*last_attempt) {
            *last_attempt = Some(Instant::now());
            self.fetch().await;
        }
        drop(last_attempt);
        let set = self.usable(self.current()).ok_or(JwksError::Unavailable)?;
        lookup(&set, kid).ok_or(match kid {
            Some(_) => JwksError::UnknownKid,
            None => JwksError::AmbiguousKey,
        })
    }

    /// Fetches the set in a task of its own unless a fetch is in flight or one ran lately.
    fn refresh_in_background(self: &Arc<Self>) {
        let this = self.clone();
        tokio::spawn(async move {
            let Ok(mut last_attempt) = this.fetching.try_lock() else {
                return;
            };
            if this.due(*last_attempt) {
                *last_attempt = Some(Instant::now());
                this.fetch().await;
            }
        });
    }

    /// One fetch: swaps in the new set, or keeps the old one and records the outage.
    async fn fetch(&self) {
        match self.fetch_set().await {
            Ok(set) => {
                let keys = set.keys.len() + set.unnamed.len();
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(set));
                self.metrics.jwks_fetched(true);
                self.grace_over.store(false, Ordering::Relaxed);
                if self.outage.swap(false, Ordering::Relaxed) {
                    tracing::info!(url = %self.url, keys, "the issuer's signing keys are fetched again; outage over");
                } else {
                    tracing::info!(url = %self.url, keys, "fetched the issuer's signing keys");
                }
            }
            Err(reason) => {
                self.metrics.jwks_fetched(false);
                if !self.outage.swap(true, Ordering::Relaxed) {
                    let serving = self.current().map(|s| {
                        (self.freshness.max_age + self.freshness.grace)
                            .saturating_sub(s.fetched.elapsed())
                            .as_secs()
                    });
                    tracing::error!(url = %self.url, error = %reason, cached_keys_serve_for_seconds = serving.unwrap_or(0), "cannot fetch the issuer's signing keys; cached keys keep verifying tokens for their grace period, and fetches are retried at most every {} s", MIN_REFETCH.min(self.freshness.max_age).as_secs());
                } else {
                    tracing::debug!(url = %self.url, error = %reason, "the issuer's signing keys still cannot be fetched");
                }
            }
        }
    }

    async fn fetch_set(&self) -> Result<KeySet, String> {
        let mut response = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(format!("the key set is larger than {MAX_JWKS_BYTES} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| e.without_url().to_string())?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("the key set is larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| {
            format!(
                "not a JSON Web Key Set (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        let mut fetched = KeySet {
            keys: HashMap::new(),
            unnamed: Vec::new(),
            fetched: Instant::now(),
        };
        for jwk in &set.keys {
            let Some(key) = usable(jwk) else {
                continue;
            };
            match &jwk.common.key_id {
                Some(kid) => {
                    fetched.keys.insert(kid.clone(), Arc::new(key));
                }
                None => fetched.unnamed.push(Arc::new(key)),
            }
        }
        Ok(fetched)
    }
}

/// A signing key, unless the JWK is for encryption or a shared secret (never trusted here).
fn usable(jwk: &Jwk) -> Option<SigningKey> {
    use jsonwebtoken::jwk::{AlgorithmParameters, PublicKeyUse};
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    let algorithm = jwk.common.key_algorithm.map(|a| format!("{a:?}"));
    Some(SigningKey { key, algorithm })
}

fn lookup(set: &KeySet, kid: Option<&str>) -> Option<Arc<SigningKey>> {
    match kid {
        Some(kid) => set.keys.get(kid).cloned(),
        None => {
            let mut all = set.keys.values().chain(set.unnamed.iter());
            match (all.next(), all.next()) {
                (Some(only), None) => Some(only.clone()),
                _ => None,
            }
        }
    }
}
