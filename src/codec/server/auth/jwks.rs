//! The issuer's signing keys: a JSON Web Key Set fetched over HTTP and cached. An unknown key id
//! triggers a refetch (the issuer rotated its keys), at most once per [`MIN_REFETCH`] so a
//! stream of forged key ids cannot turn the server into a load generator against the issuer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use tokio::sync::RwLock;

/// The shortest time between two fetches.
pub const MIN_REFETCH: Duration = Duration::from_secs(10);
/// How long a fetched set is used before it is fetched again.
pub const MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// One usable key from the set.
pub struct SigningKey {
    /// The key, for signature checks.
    pub key: DecodingKey,
    /// The `alg` the set pins the key to, if any.
    pub algorithm: Option<String>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Arc<SigningKey>>,
    unnamed: Vec<Arc<SigningKey>>,
    fetched: Option<Instant>,
}

/// Why no key could be found.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The set could not be fetched or parsed.
    #[error("cannot fetch the issuer's keys from {url}: {reason}")]
    Fetch {
        /// The JWKS URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// No key has the token's key id, even after a refetch.
    #[error("the token's key id `{0}` is not in the issuer's key set")]
    UnknownKid(String),
    /// The token names no key id and the set has not exactly one key.
    #[error("the token names no key id (kid) and the issuer's key set has more than one key")]
    AmbiguousKey,
}

/// A cached JWKS.
pub struct Jwks {
    url: String,
    http: reqwest::Client,
    cache: RwLock<Cache>,
}

impl Jwks {
    /// A cache for the set at `url`; nothing is fetched yet.
    pub fn new(url: String, http: reqwest::Client) -> Self {
        Self {
            url,
            http,
            cache: RwLock::new(Cache::default()),
        }
    }

    /// The key a token signed with `kid` is checked against.
    pub async fn key(&self, kid: Option<&str>) -> Result<Arc<SigningKey>, JwksError> {
        {
            let cache = self.cache.read().await;
            let fresh = cache.fetched.is_some_and(|t| t.elapsed() < MAX_AGE);
            if fresh && let Some(key) = lookup(&cache, kid) {
                return Ok(key);
            }
        }
        let mut cache = self.cache.write().await;
        let may_fetch = cache.fetched.is_none_or(|t| t.elapsed() >= MIN_REFETCH);
        if may_fetch {
            *cache = self.fetch().await?;
        }
        lookup(&cache, kid).ok_or_else(|| match kid {
            Some(kid) => JwksError::UnknownKid(kid.chars().take(64).collect()),
            None => JwksError::AmbiguousKey,
        })
    }

    async fn fetch(&self) -> Result<Cache, JwksError> {
        let error = |reason: String| JwksError::Fetch {
            url: self.url.clone(),
            reason,
        };
        let response = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| error(e.to_string()))?;
        if !response.status().is_success() {
            return Err(error(format!("HTTP {}", response.status())));
        }
        let set: JwkSet = response.json().await.map_err(|e| error(e.to_string()))?;
        let mut cache = Cache {
            fetched: Some(Instant::now()),
            ..Cache::default()
        };
        for jwk in &set.keys {
            let Some(key) = usable(jwk) else {
                continue;
            };
            match &jwk.common.key_id {
                Some(kid) => {
                    cache.keys.insert(kid.clone(), Arc::new(key));
                }
                None => cache.unnamed.push(Arc::new(key)),
            }
        }
        tracing::info!(url = %self.url, keys = cache.keys.len() + cache.unnamed.len(), "fetched the issuer's signing keys");
        Ok(cache)
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

fn lookup(cache: &Cache, kid: Option<&str>) -> Option<Arc<SigningKey>> {
    match kid {
        Some(kid) => cache.keys.get(kid).cloned(),
        None => {
            let mut all = cache.keys.values().chain(cache.unnamed.iter());
            match (all.next(), all.next()) {
                (Some(only), None) => Some(only.clone()),
                _ => None,
            }
        }
    }
}
