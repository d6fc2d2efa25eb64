//! A bearer token fetched from an identity endpoint (cloud metadata server, OAuth token
//! endpoint) and reused until shortly before it expires.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use crate::kms::{KmsError, SecretBytes};

/// Tokens are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(120);

/// One cached token.
#[derive(Default)]
pub(crate) struct TokenCache {
    cached: Mutex<Option<(SecretBytes, Instant)>>,
}

impl TokenCache {
    /// The cached token, or a fresh one from `fetch` (token and lifetime) when it is missing or
    /// about to expire.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<SecretBytes, KmsError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(SecretBytes, Duration), KmsError>>,
    {
        let mut cached = self.cached.lock().await;
        if let Some((token, renew_at)) = cached.as_ref()
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = fetch().await?;
        let renew_at = Instant::now() + lifetime.saturating_sub(RENEW_BEFORE);
        *cached = Some((token.clone(), renew_at));
        Ok(token)
    }
}

/// An OAuth-style `expires_in`, which some endpoints send as a number and others as a string.
pub(crate) fn expires_in(body: &Value) -> Duration {
    let seconds = match body.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    Duration::from_secs(seconds.unwrap_or(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reuses_a_token_until_it_nears_expiry() {
        let cache = TokenCache::default();
        let first = cache
            .get(|| async {
                Ok((
                    SecretBytes::from("a".to_string()),
                    Duration::from_secs(3600),
                ))
            })
            .await
            .unwrap();
        let second = cache
            .get(|| async {
                Ok((
                    SecretBytes::from("b".to_string()),
                    Duration::from_secs(3600),
                ))
            })
            .await
            .unwrap();
        assert_eq!(first, second);

        let short = TokenCache::default();
        short
            .get(|| async { Ok((SecretBytes::from("a".to_string()), Duration::from_secs(60))) })
            .await
            .unwrap();
        let renewed = short
            .get(|| async { Ok((SecretBytes::from("b".to_string()), Duration::from_secs(60))) })
            .await
            .unwrap();
        assert_eq!(renewed.expose(), b"b");
    }

    #[test]
    fn expires_in_accepts_numbers_and_strings() {
        assert_eq!(
            expires_in(&serde_json::json!({"expires_in": 10})),
            Duration::from_secs(10)
        );
        assert_eq!(
            expires_in(&serde_json::json!({"expires_in": "20"})),
            Duration::from_secs(20)
        );
    }
}
