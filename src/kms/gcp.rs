//! Google Cloud KMS over its REST API (`cryptoKeys.encrypt` / `decrypt` / `get`).
//!
//! Data keys are drawn from the operating system's random source and wrapped with `encrypt`,
//! with the [`WrapContext`] as additional authenticated data. The ciphertext names the key
//! version, so after a rotation old wrapped keys still unwrap; `rewrap` decrypts and encrypts
//! again under the primary version (Cloud KMS has no re-encrypt call). The access token is a
//! fixed one, or comes from the metadata server (GKE Workload Identity, Compute Engine).

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::kms::http::{self, Response};
use crate::kms::token::{TokenCache, expires_in};
use crate::kms::{
    Backend, KeyDescription, KeyProvider, KmsError, KmsErrorKind, SecretBytes, WrapContext,
    WrappedKey, checked_data_key,
};

/// The public Cloud KMS endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://cloudkms.googleapis.com";
/// The metadata server inside Google Cloud.
pub const DEFAULT_METADATA_ENDPOINT: &str = "http://metadata.google.internal";

/// Where the access token comes from.
#[derive(Debug, Clone)]
pub enum GcpCredential {
    /// A fixed OAuth access token.
    AccessToken(SecretBytes),
    /// The metadata server's default service account (Workload Identity on GKE).
    MetadataServer {
        /// The metadata server, normally [`DEFAULT_METADATA_ENDPOINT`].
        endpoint: String,
    },
}

impl GcpCredential {
    /// The metadata server's credential (Workload Identity on GKE), at `GCE_METADATA_HOST`
    /// (`host:port`, as Google's client libraries read it) when set; `env` reads a variable.
    pub fn from_environment(env: impl Fn(&str) -> Option<String>) -> Self {
        Self::MetadataServer {
            endpoint: env("GCE_METADATA_HOST").map_or_else(
                || DEFAULT_METADATA_ENDPOINT.to_string(),
                |host| format!("http://{host}"),
            ),
        }
    }
}

/// Which key and how to reach it.
#[derive(Debug, Clone)]
pub struct GcpKmsConfig {
    /// `projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>`.
    pub key_name: String,
    /// The API endpoint, normally [`DEFAULT_ENDPOINT`].
    pub endpoint: String,
    /// Where the access token comes from.
    pub credential: GcpCredential,
    /// The timeout of each HTTP call.
    pub timeout: Duration,
}

/// A [`KeyProvider`] backed by a Cloud KMS symmetric key.
pub struct GcpKms {
    config: GcpKmsConfig,
    http: reqwest::Client,
    token: TokenCache,
}

impl GcpKms {
    /// A client for `config`. Nothing is sent until the first call.
    pub fn new(config: GcpKmsConfig) -> Result<Self, KmsError> {
        let http = http::client(config.timeout).map_err(|e| {
            KmsError::new(Backend::GcpKms, &config.key_name, KmsErrorKind::Config(e))
        })?;
        Ok(Self {
            config,
            http,
            token: TokenCache::default(),
        })
    }

    fn error(&self, kind: KmsErrorKind) -> KmsError {
        KmsError::new(Backend::GcpKms, &self.config.key_name, kind)
    }

    async fn access_token(&self) -> Result<SecretBytes, KmsError> {
        match &self.config.credential {
            GcpCredential::AccessToken(token) => Ok(token.clone()),
            GcpCredential::MetadataServer { endpoint } => {
                self.token
                    .get(|| async {
                        let url = format!(
                            "{}/computeMetadata/v1/instance/service-accounts/default/token",
                            endpoint.trim_end_matches('/')
                        );
                        let response = http::send(Backend::GcpKms, &self.config.key_name, self.config.timeout, true, || {
                            self.http.get(&url).header("Metadata-Flavor", "Google")
                        })
                        .await?;
                        if !response.status.is_success() {
                            return Err(self.error(KmsErrorKind::Unauthenticated(format!(
                                "metadata server answered HTTP {}; check Workload Identity is set up for this service account",
                                response.status.as_u16()
                            ))));
                        }
                        let body: Value =
                            response.json(Backend::GcpKms, &self.config.key_name, "metadata token")?;
                        let token = body
                            .get("access_token")
                            .and_then(Value::as_str)
                            .ok_or_else(|| {
                                self.error(KmsErrorKind::InvalidResponse(
                                    "metadata token response has no access_token".into(),
                                ))
                            })?;
                        Ok((SecretBytes::from(token.to_string()), expires_in(&body)))
                    })
                    .await
            }
        }
    }

    /// Calls `<endpoint>/v1/<name><suffix>` (GET without a body, POST with one).
    async fn call(&self, name: &str, suffix: &str, body: Option<Value>) -> Result<Value, KmsError> {
        let token = self.access_token().await?;
        let url = format!(
            "{}/v1/{name}{suffix}",
            self.config.endpoint.trim_end_matches('/')
        );
        http::BearerJsonApi {
            http: &self.http,
            backend: Backend::GcpKms,
            key: &self.config.key_name,
            timeout: self.config.timeout,
            status_error,
        }
        .call(&url, &token, body.as_ref(), suffix)
        .await
    }

    fn bytes_field(&self, body: &Value, field: &str) -> Result<Vec<u8>, KmsError> {
        body.get(field)
            .and_then(Value::as_str)
            .and_then(|text| STANDARD.decode(text).ok())
            .ok_or_else(|| {
                self.error(KmsErrorKind::InvalidResponse(format!(
                    "no base64 `{field}` in response"
                )))
            })
    }
}

fn status_error(response: &Response) -> KmsErrorKind {
    let error: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let status = error["error"]["status"].as_str().unwrap_or("");
    let message = format!(
        "{status}: {}",
        error["error"]["message"].as_str().unwrap_or("")
    );
    match (response.status, status) {
        (_, "UNAUTHENTICATED") => KmsErrorKind::Unauthenticated(message),
        (_, "PERMISSION_DENIED") => KmsErrorKind::PermissionDenied(message),
        (_, "NOT_FOUND") => KmsErrorKind::KeyNotFound(message),
        (_, "FAILED_PRECONDITION") => KmsErrorKind::KeyDisabled(message),
        (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT") if message.contains("ecrypt") => {
            KmsErrorKind::InvalidCiphertext(message)
        }
        (status, _) => http::status_kind(status, message),
    }
}

#[async_trait]
impl KeyProvider for GcpKms {
    fn backend(&self) -> Backend {
        Backend::GcpKms
    }

    fn key(&self) -> &str {
        &self.config.key_name
    }

    async fn wrap(
        &self,
        plaintext: &SecretBytes,
        context: &WrapContext,
    ) -> Result<WrappedKey, KmsError> {
        let body = json!({
            "plaintext": STANDARD.encode(plaintext.expose()),
            "additionalAuthenticatedData": STANDARD.encode(context.associated_data()),
        });
        let answer = self
            .call(&self.config.key_name, ":encrypt", Some(body))
            .await?;
        Ok(WrappedKey::new(self.bytes_field(&answer, "ciphertext")?))
    }

    async fn unwrap(
        &self,
        wrapped: &WrappedKey,
        context: &WrapContext,
    ) -> Result<SecretBytes, KmsError> {
        let body = json!({
            "ciphertext": STANDARD.encode(&wrapped.ciphertext),
            "additionalAuthenticatedData": STANDARD.encode(context.associated_data()),
        });
        let answer = self
            .call(&self.config.key_name, ":decrypt", Some(body))
            .await?;
        let plaintext = SecretBytes::new(self.bytes_field(&answer, "plaintext")?);
        checked_data_key(Backend::GcpKms, &self.config.key_name, plaintext)
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
        let answer = self.call(&self.config.key_name, "", None).await?;
        let primary = &answer["primary"];
        Ok(KeyDescription {
            backend: Backend::GcpKms,
            key: answer["name"]
                .as_str()
                .unwrap_or(&self.config.key_name)
                .to_string(),
            enabled: primary["state"].as_str() == Some("ENABLED"),
            latest_version: primary["name"]
                .as_str()
                .and_then(|n| n.rsplit('/').next())
                .map(str::to_string),
            min_decryption_version: None,
        })
    }
}
