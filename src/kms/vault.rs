//! Vault or OpenBao, Transit secrets engine, over its HTTP API.
//!
//! Data keys are drawn from the operating system's random source and wrapped with Transit
//! `encrypt`, with the [`WrapContext`] as AES-GCM associated data. The ciphertext
//! (`vault:v<N>:...`) names the Transit key version, so after a key rotation in Vault old wrapped
//! keys still unwrap and `rewrap` moves them to the newest version without the plaintext leaving
//! Vault. Authentication is a token, AppRole, or a Kubernetes service account token; the login
//! token is cached and renewed by logging in again when Vault refuses it.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::kms::http::{self, Response};
use crate::kms::{
    Backend, KeyDescription, KeyProvider, KmsError, KmsErrorKind, SecretBytes, WrapContext,
    WrappedKey, checked_data_key,
};

/// How this process proves who it is to Vault.
#[derive(Debug, Clone)]
pub enum VaultAuth {
    /// A token (VAULT_TOKEN).
    Token(SecretBytes),
    /// AppRole login at `auth/<mount>/login`.
    AppRole {
        /// The auth mount path, usually `approle`.
        mount: String,
        /// The role id.
        role_id: String,
        /// The secret id.
        secret_id: SecretBytes,
    },
    /// Kubernetes login at `auth/<mount>/login` with the pod's service account token.
    Kubernetes {
        /// The auth mount path, usually `kubernetes`.
        mount: String,
        /// The Vault role bound to the service account.
        role: String,
        /// Where the service account token is mounted.
        jwt_path: PathBuf,
    },
}

/// Where the Transit key is and how to reach it.
#[derive(Debug, Clone)]
pub struct VaultTransitConfig {
    /// Vault's address, for example `https://vault.example.com:8200`.
    pub address: String,
    /// The Transit mount path, usually `transit`.
    pub mount: String,
    /// The Transit key name.
    pub key_name: String,
    /// A Vault Enterprise / OpenBao namespace, sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
    /// How to authenticate.
    pub auth: VaultAuth,
    /// The timeout of each HTTP call.
    pub timeout: Duration,
}

/// A [`KeyProvider`] backed by a Vault/OpenBao Transit key.
pub struct VaultTransit {
    config: VaultTransitConfig,
    key: String,
    http: reqwest::Client,
    token: Mutex<Option<SecretBytes>>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    data: Value,
    #[serde(default)]
    auth: Option<AuthBlock>,
}

#[derive(Deserialize)]
struct AuthBlock {
    client_token: String,
}

#[derive(Deserialize)]
struct Errors {
    #[serde(default)]
    errors: Vec<String>,
}

impl VaultTransit {
    /// A client for `config`. Nothing is sent until the first call.
    pub fn new(config: VaultTransitConfig) -> Result<Self, KmsError> {
        let key = format!("{}/keys/{}", config.mount, config.key_name);
        let http = http::client(config.timeout)
            .map_err(|e| KmsError::new(Backend::VaultTransit, &key, KmsErrorKind::Config(e)))?;
        let token = match &config.auth {
            VaultAuth::Token(token) => Some(token.clone()),
            _ => None,
        };
        Ok(Self {
            config,
            key,
            http,
            token: Mutex::new(token),
        })
    }

    fn error(&self, kind: KmsErrorKind) -> KmsError {
        KmsError::new(Backend::VaultTransit, &self.key, kind)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1/{path}", self.config.address.trim_end_matches('/'))
    }

    /// Logs in (AppRole or Kubernetes) and returns the client token. Not retried: a login
    /// creates a token on the server.
    async fn login(&self) -> Result<SecretBytes, KmsError> {
        let (mount, body) = match &self.config.auth {
            VaultAuth::Token(token) => return Ok(token.clone()),
            VaultAuth::AppRole {
                mount,
                role_id,
                secret_id,
            } => (
                mount,
                json!({
                    "role_id": role_id,
                    "secret_id": String::from_utf8_lossy(secret_id.expose()),
                }),
            ),
            VaultAuth::Kubernetes {
                mount,
                role,
                jwt_path,
            } => {
                let jwt = tokio::fs::read_to_string(jwt_path).await.map_err(|e| {
                    self.error(KmsErrorKind::Unauthenticated(format!(
                        "cannot read the service account token at {}: {e}",
                        jwt_path.display()
                    )))
                })?;
                (mount, json!({ "role": role, "jwt": jwt.trim() }))
            }
        };
        let url = self.url(&format!("auth/{mount}/login"));
        let response = http::send(
            Backend::VaultTransit,
            &self.key,
            self.config.timeout,
            false,
            || self.with_namespace(self.http.post(&url)).json(&body),
        )
        .await?;
        if !response.status.is_success() {
            let kind = match self.status_error(&response) {
                KmsErrorKind::PermissionDenied(m) | KmsErrorKind::InvalidResponse(m) => {
                    KmsErrorKind::Unauthenticated(format!("login at auth/{mount} refused: {m}"))
                }
                other => other,
            };
            return Err(self.error(kind));
        }
        let envelope: Envelope =
            response.json(Backend::VaultTransit, &self.key, "login response")?;
        let token = envelope.auth.map(|a| a.client_token).ok_or_else(|| {
            self.error(KmsErrorKind::InvalidResponse(
                "login response has no auth.client_token".into(),
            ))
        })?;
        tracing::debug!(mount = %mount, "logged in to Vault");
        Ok(SecretBytes::from(token))
    }

    fn with_namespace(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.config.namespace {
            Some(ns) => request.header("X-Vault-Namespace", ns),
            None => request,
        }
    }

    async fn token(&self) -> Result<SecretBytes, KmsError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref() {
            return Ok(token.clone());
        }
        let token = self.login().await?;
        *cached = Some(token.clone());
        Ok(token)
    }

    /// Calls `path` with the current token; a refused login token is replaced once.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, KmsError> {
        let url = self.url(path);
        let mut relogged = false;
        loop {
            let token = self.token().await?;
            let response = http::send(
                Backend::VaultTransit,
                &self.key,
                self.config.timeout,
                true,
                || {
                    let request = self
                        .with_namespace(self.http.request(method.clone(), &url))
                        .header(
                            "X-Vault-Token",
                            String::from_utf8_lossy(token.expose()).as_ref(),
                        );
                    match &body {
                        Some(body) => request.json(body),
                        None => request,
                    }
                },
            )
            .await?;
            if response.status == StatusCode::FORBIDDEN
                && !relogged
                && !matches!(self.config.auth, VaultAuth::Token(_))
            {
                *self.token.lock().await = None;
                relogged = true;
                continue;
            }
            if !response.status.is_success() {
                return Err(self.error(self.status_error(&response)));
            }
            let envelope: Envelope = response.json(Backend::VaultTransit, &self.key, path)?;
            return Ok(envelope.data);
        }
    }

    fn status_error(&self, response: &Response) -> KmsErrorKind {
        let message = serde_json::from_slice::<Errors>(&response.body)
            .map(|e| e.errors.join("; "))
            .unwrap_or_else(|_| String::from_utf8_lossy(&response.body).into_owned());
        match response.status {
            StatusCode::FORBIDDEN => KmsErrorKind::PermissionDenied(format!(
                "HTTP 403: {message}; check the token's policy allows this Transit path"
            )),
            StatusCode::BAD_REQUEST if message.contains("message authentication failed") => {
                KmsErrorKind::InvalidCiphertext(format!("HTTP 400: {message}"))
            }
            status => http::status_kind(status, message),
        }
    }

    /// Turns Vault's "version too old" refusal into an error naming the versions.
    async fn explain_version_error(&self, error: KmsError, ciphertext: &str) -> KmsError {
        let KmsErrorKind::InvalidResponse(message) = &error.kind else {
            return error;
        };
        if !message.contains("disallowed by policy") && !message.contains("too old") {
            return error;
        }
        let version = ciphertext_version(ciphertext);
        match (version, self.describe_key().await) {
            (Some(version), Ok(description)) => {
                let min = description
                    .min_decryption_version
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                self.error(KmsErrorKind::VersionBelowMinimum {
                    version,
                    min_decryption_version: min,
                })
            }
            _ => error,
        }
    }

    fn ciphertext_text(&self, wrapped: &WrappedKey) -> Result<String, KmsError> {
        String::from_utf8(wrapped.ciphertext.clone()).map_err(|_| {
            self.error(KmsErrorKind::InvalidCiphertext(
                "wrapped key is not a Transit ciphertext".into(),
            ))
        })
    }

    fn string_field(&self, data: &Value, field: &str) -> Result<String, KmsError> {
        data.get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                self.error(KmsErrorKind::InvalidResponse(format!(
                    "no `{field}` in response"
                )))
            })
    }
}

/// The key version in a Transit ciphertext, `vault:v<N>:...`.
fn ciphertext_version(ciphertext: &str) -> Option<u64> {
    ciphertext
        .strip_prefix("vault:v")?
        .split(':')
        .next()?
        .parse()
        .ok()
}

#[async_trait]
impl KeyProvider for VaultTransit {
    fn backend(&self) -> Backend {
        Backend::VaultTransit
    }

    fn key(&self) -> &str {
        &self.key
    }

    async fn wrap(
        &self,
        plaintext: &SecretBytes,
        context: &WrapContext,
    ) -> Result<WrappedKey, KmsError> {
        let path = format!("{}/encrypt/{}", self.config.mount, self.config.key_name);
        let body = json!({
            "plaintext": STANDARD.encode(plaintext.expose()),
            "associated_data": STANDARD.encode(context.associated_data()),
        });
        let data = self.call(Method::POST, &path, Some(body)).await?;
        let ciphertext = self.string_field(&data, "ciphertext")?;
        Ok(WrappedKey::new(ciphertext.into_bytes()))
    }

    async fn unwrap(
        &self,
        wrapped: &WrappedKey,
        context: &WrapContext,
    ) -> Result<SecretBytes, KmsError> {
        let ciphertext = self.ciphertext_text(wrapped)?;
        let path = format!("{}/decrypt/{}", self.config.mount, self.config.key_name);
        let body = json!({
            "ciphertext": ciphertext,
            "associated_data": STANDARD.encode(context.associated_data()),
        });
        let data = match self.call(Method::POST, &path, Some(body)).await {
            Ok(data) => data,
            Err(error) => return Err(self.explain_version_error(error, &ciphertext).await),
        };
        let encoded = SecretBytes::from(self.string_field(&data, "plaintext")?);
        let plaintext = STANDARD.decode(encoded.expose()).map_err(|_| {
            self.error(KmsErrorKind::InvalidResponse(
                "plaintext is not base64".into(),
            ))
        })?;
        checked_data_key(
            Backend::VaultTransit,
            &self.key,
            SecretBytes::new(plaintext),
        )
    }

    /// Transit's own `rewrap` endpoint takes no associated data, so a key bound to its context
    /// is unwrapped and wrapped again under the newest version; the plaintext stays in a
    /// zeroizing buffer in this process for the moment in between.
    async fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &WrapContext,
    ) -> Result<WrappedKey, KmsError> {
        let plaintext = self.unwrap(wrapped, context).await?;
        self.wrap(&plaintext, context).await
    }

    async fn describe_key(&self) -> Result<KeyDescription, KmsError> {
        let path = format!("{}/keys/{}", self.config.mount, self.config.key_name);
        let data = self.call(Method::GET, &path, None).await?;
        let number = |field: &str| {
            data.get(field)
                .and_then(Value::as_u64)
                .map(|v| v.to_string())
        };
        // A key wraps only when its type encrypts (`supports_encryption` and
        // `supports_decryption` in the read-key answer: false for signing keys such as
        // ed25519; Vault Transit API docs, "Read key").
        let capable = |field: &str| data.get(field).and_then(Value::as_bool).unwrap_or(true);
        Ok(KeyDescription {
            backend: Backend::VaultTransit,
            key: self.key.clone(),
            enabled: capable("supports_encryption") && capable("supports_decryption"),
            latest_version: number("latest_version"),
            min_decryption_version: number("min_decryption_version"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_from_a_transit_ciphertext() {
        assert_eq!(ciphertext_version("vault:v3:abcd"), Some(3));
        assert_eq!(ciphertext_version("vault:vx:abcd"), None);
        assert_eq!(ciphertext_version("other"), None);
    }
}
