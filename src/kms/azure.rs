//! Azure Key Vault (or Managed HSM) keys over the REST API (`wrapKey` / `unwrapKey` / get key).
//!
//! Data keys are drawn from the operating system's random source and wrapped with RSA-OAEP-256
//! under the vault key. The response's key id names the version that wrapped, which is stored
//! beside the ciphertext (`kek_version`) because unwrapping must name it. RSA key wrap takes no
//! associated data, so the [`WrapContext`] is not bound here; the keyring still binds each
//! payload to its data key id. `rewrap` unwraps and wraps again under the current version. The
//! access token is a fixed one, or comes from managed identity (IMDS) or workload identity (a
//! federated service account token exchanged at Microsoft Entra ID).

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::kms::http::{self, Response};
use crate::kms::token::{TokenCache, expires_in};
use crate::kms::{
    Backend, KeyDescription, KeyProvider, KmsError, KmsErrorKind, SecretBytes, WrapContext,
    WrappedKey, checked_data_key,
};

/// The Key Vault REST API version used.
pub const API_VERSION: &str = "7.4";
/// The wrap algorithm.
pub const ALGORITHM: &str = "RSA-OAEP-256";
/// The instance metadata service's token endpoint.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
/// Microsoft Entra ID's public authority.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
const RESOURCE: &str = "https://vault.azure.net";
/// Key Vault answers over HTTPS only ("Azure Key Vault enforces Transport Layer Security",
/// learn.microsoft.com/azure/key-vault/general/basic-concepts, "Encryption of data in
/// transit"); a plain `http://` vault URL
/// would send the access token and the wrapped keys in the clear to whoever answers.
pub const VAULT_URL_HTTPS_ONLY: &str = "the vault URL must start with https:// (Key Vault serves HTTPS only), e.g. https://NAME.vault.azure.net";

/// Where the access token comes from.
#[derive(Debug, Clone)]
pub enum AzureCredential {
    /// A fixed access token for `https://vault.azure.net`.
    AccessToken(SecretBytes),
    /// Managed identity through the instance metadata service.
    ManagedIdentity {
        /// The IMDS token endpoint, normally [`DEFAULT_IMDS_ENDPOINT`].
        endpoint: String,
        /// A user-assigned identity's client id; `None` for the system-assigned identity.
        client_id: Option<String>,
    },
    /// Workload identity: a federated token file exchanged for an access token.
    WorkloadIdentity {
        /// Normally [`DEFAULT_AUTHORITY_HOST`] (AZURE_AUTHORITY_HOST).
        authority_host: String,
        /// AZURE_TENANT_ID.
        tenant_id: String,
        /// AZURE_CLIENT_ID.
        client_id: String,
        /// AZURE_FEDERATED_TOKEN_FILE.
        token_file: PathBuf,
    },
}

impl AzureCredential {
    /// The credential a pod or CI job offers through its environment, as Azure's SDKs pick it:
    /// workload identity when `AZURE_FEDERATED_TOKEN_FILE` is set (AKS sets it with
    /// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_AUTHORITY_HOST`), else managed identity.
    /// `client_id` selects a user-assigned identity and overrides `AZURE_CLIENT_ID`; `env` reads
    /// a variable (`std::env::var` outside tests).
    pub fn from_environment(
        client_id: Option<String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let Some(token_file) = env("AZURE_FEDERATED_TOKEN_FILE") else {
            return Ok(Self::ManagedIdentity {
                endpoint: DEFAULT_IMDS_ENDPOINT.to_string(),
                client_id,
            });
        };
        let tenant_id = env("AZURE_TENANT_ID").ok_or(
            "AZURE_FEDERATED_TOKEN_FILE is set but AZURE_TENANT_ID is not; set the tenant of the workload identity",
        )?;
        let client_id = client_id.or_else(|| env("AZURE_CLIENT_ID")).ok_or(
            "AZURE_FEDERATED_TOKEN_FILE is set but no client id: set AZURE_CLIENT_ID or client_id",
        )?;
        Ok(Self::WorkloadIdentity {
            authority_host: env("AZURE_AUTHORITY_HOST")
                .unwrap_or_else(|| DEFAULT_AUTHORITY_HOST.to_string()),
            tenant_id,
            client_id,
            token_file: PathBuf::from(token_file),
        })
    }
}

/// Which key and how to reach it.
#[derive(Debug, Clone)]
pub struct AzureKeyVaultConfig {
    /// The vault URL, for example `https://my-vault.vault.azure.net`.
    pub vault_url: String,
    /// The key name.
    pub key_name: String,
    /// Where the access token comes from.
    pub credential: AzureCredential,
    /// The timeout of each HTTP call.
    pub timeout: Duration,
}

/// A [`KeyProvider`] backed by an Azure Key Vault RSA key.
pub struct AzureKeyVault {
    config: AzureKeyVaultConfig,
    key: String,
    http: reqwest::Client,
    token: TokenCache,
}

impl AzureKeyVault {
    /// A client for `config`. Nothing is sent until the first call.
    pub fn new(config: AzureKeyVaultConfig) -> Result<Self, KmsError> {
        let key = format!(
            "{}/keys/{}",
            config.vault_url.trim_end_matches('/'),
            config.key_name
        );
        if !config.vault_url.starts_with("https://") {
            return Err(KmsError::new(
                Backend::AzureKeyVault,
                &key,
                KmsErrorKind::Config(VAULT_URL_HTTPS_ONLY.to_string()),
            ));
        }
        let http = http::client(config.timeout)
            .map_err(|e| KmsError::new(Backend::AzureKeyVault, &key, KmsErrorKind::Config(e)))?;
        Ok(Self {
            config,
            key,
            http,
            token: TokenCache::default(),
        })
    }

    fn error(&self, kind: KmsErrorKind) -> KmsError {
        KmsError::new(Backend::AzureKeyVault, &self.key, kind)
    }

    async fn access_token(&self) -> Result<SecretBytes, KmsError> {
        let (request, what): (Box<dyn Fn() -> reqwest::RequestBuilder + Send + Sync>, &str) =
            match &self.config.credential {
                AzureCredential::AccessToken(token) => return Ok(token.clone()),
                AzureCredential::ManagedIdentity {
                    endpoint,
                    client_id,
                } => {
                    let mut query = vec![
                        ("api-version", "2018-02-01".to_string()),
                        ("resource", RESOURCE.to_string()),
                    ];
                    if let Some(id) = client_id {
                        query.push(("client_id", id.clone()));
                    }
                    let http = self.http.clone();
                    let endpoint = endpoint.clone();
                    (
                        Box::new(move || {
                            http.get(&endpoint).query(&query).header("Metadata", "true")
                        }),
                        "managed identity",
                    )
                }
                AzureCredential::WorkloadIdentity {
                    authority_host,
                    tenant_id,
                    client_id,
                    token_file,
                } => {
                    let assertion = tokio::fs::read_to_string(token_file).await.map_err(|e| {
                        self.error(KmsErrorKind::Unauthenticated(format!(
                            "cannot read the federated token file {}: {e}",
                            token_file.display()
                        )))
                    })?;
                    let url = format!(
                        "{}/{tenant_id}/oauth2/v2.0/token",
                        authority_host.trim_end_matches('/')
                    );
                    let form = vec![
                        ("client_id", client_id.clone()),
                        ("scope", format!("{RESOURCE}/.default")),
                        (
                            "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
                        ),
                        ("client_assertion", assertion.trim().to_string()),
                        ("grant_type", "client_credentials".to_string()),
                    ];
                    let http = self.http.clone();
                    (
                        Box::new(move || http.post(&url).form(&form)),
                        "workload identity",
                    )
                }
            };
        self.token
            .get(|| async {
                let response = http::send(Backend::AzureKeyVault, &self.key, self.config.timeout, true, &request).await?;
                if !response.status.is_success() {
                    return Err(self.error(KmsErrorKind::Unauthenticated(format!(
                        "{what} token request answered HTTP {}: {}; check the identity's federation and client id",
                        response.status.as_u16(),
                        String::from_utf8_lossy(&response.body)
                    ))));
                }
                let body: Value = response.json(Backend::AzureKeyVault, &self.key, "token")?;
                let token = body.get("access_token").and_then(Value::as_str).ok_or_else(|| {
                    self.error(KmsErrorKind::InvalidResponse("token response has no access_token".into()))
                })?;
                Ok((SecretBytes::from(token.to_string()), expires_in(&body)))
            })
            .await
    }

    /// Calls `<key>[/<version>]/<operation>?api-version=...`.
    async fn call(
        &self,
        version: Option<&str>,
        operation: &str,
        body: Option<Value>,
    ) -> Result<Value, KmsError> {
        let token = self.access_token().await?;
        let mut url = self.key.clone();
        if let Some(version) = version {
            url.push('/');
            url.push_str(version);
        }
        if !operation.is_empty() {
            url.push('/');
            url.push_str(operation);
        }
        url.push_str(&format!("?api-version={API_VERSION}"));
        http::BearerJsonApi {
            http: &self.http,
            backend: Backend::AzureKeyVault,
            key: &self.key,
            timeout: self.config.timeout,
            status_error,
        }
        .call(&url, &token, body.as_ref(), operation)
        .await
    }

    fn value(&self, body: &Value) -> Result<Vec<u8>, KmsError> {
        body.get("value")
            .and_then(Value::as_str)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).ok())
            .ok_or_else(|| {
                self.error(KmsErrorKind::InvalidResponse(
                    "no base64url `value` in response".into(),
                ))
            })
    }
}

fn status_error(response: &Response) -> KmsErrorKind {
    let error: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let code = error["error"]["code"].as_str().unwrap_or("");
    let message = format!(
        "{code}: {}",
        error["error"]["message"].as_str().unwrap_or("")
    );
    if message.to_ascii_lowercase().contains("disabled") {
        return KmsErrorKind::KeyDisabled(message);
    }
    match code {
        "KeyNotFound" => KmsErrorKind::KeyNotFound(message),
        "Unauthorized" => KmsErrorKind::Unauthenticated(message),
        "Forbidden" => KmsErrorKind::PermissionDenied(message),
        _ => http::status_kind(response.status, message),
    }
}

/// The version segment of a Key Vault key id, `https://<vault>/keys/<name>/<version>`.
fn version_of(kid: &str) -> Option<String> {
    let mut parts = kid.trim_end_matches('/').rsplit('/');
    let version = parts.next()?;
    let _name = parts.next()?;
    (parts.next()? == "keys").then(|| version.to_string())
}

#[async_trait]
impl KeyProvider for AzureKeyVault {
    fn backend(&self) -> Backend {
        Backend::AzureKeyVault
    }

    fn key(&self) -> &str {
        &self.key
    }

    async fn wrap(
        &self,
        plaintext: &SecretBytes,
        _context: &WrapContext,
    ) -> Result<WrappedKey, KmsError> {
        let body = json!({ "alg": ALGORITHM, "value": URL_SAFE_NO_PAD.encode(plaintext.expose()) });
        let answer = self.call(None, "wrapkey", Some(body)).await?;
        let version = answer["kid"].as_str().and_then(version_of).ok_or_else(|| {
            self.error(KmsErrorKind::InvalidResponse(
                "wrapKey response has no versioned kid".into(),
            ))
        })?;
        Ok(WrappedKey {
            ciphertext: self.value(&answer)?,
            kek_version: Some(version),
        })
    }

    async fn unwrap(
        &self,
        wrapped: &WrappedKey,
        _context: &WrapContext,
    ) -> Result<SecretBytes, KmsError> {
        let version = wrapped.kek_version.as_deref().ok_or_else(|| {
            self.error(KmsErrorKind::InvalidCiphertext(
                "the wrapped key does not record the key version that wrapped it".into(),
            ))
        })?;
        let body =
            json!({ "alg": ALGORITHM, "value": URL_SAFE_NO_PAD.encode(&wrapped.ciphertext) });
        let answer = self.call(Some(version), "unwrapkey", Some(body)).await?;
        checked_data_key(
            Backend::AzureKeyVault,
            &self.key,
            SecretBytes::new(self.value(&answer)?),
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
        let answer = self.call(None, "", None).await?;
        let kid = answer["key"]["kid"]
            .as_str()
            .unwrap_or(&self.key)
            .to_string();
        Ok(KeyDescription {
            backend: Backend::AzureKeyVault,
            latest_version: version_of(&kid),
            key: kid,
            enabled: answer["attributes"]["enabled"].as_bool().unwrap_or(false),
            min_decryption_version: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_from_a_key_id() {
        assert_eq!(
            version_of("https://v.vault.azure.net/keys/engram/0a1b2c").as_deref(),
            Some("0a1b2c")
        );
        assert_eq!(version_of("https://v.vault.azure.net/keys/engram"), None);
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn environment_picks_workload_identity_then_managed_identity() {
        let federated = [
            ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"),
            ("AZURE_TENANT_ID", "t1"),
            ("AZURE_CLIENT_ID", "c1"),
        ];
        match AzureCredential::from_environment(None, env(&federated)).unwrap() {
            AzureCredential::WorkloadIdentity {
                authority_host,
                tenant_id,
                client_id,
                token_file,
            } => {
                assert_eq!(authority_host, DEFAULT_AUTHORITY_HOST);
                assert_eq!((tenant_id.as_str(), client_id.as_str()), ("t1", "c1"));
                assert_eq!(token_file, PathBuf::from("/var/run/token"));
            }
            other => panic!("expected workload identity, got {other:?}"),
        }
        match AzureCredential::from_environment(Some("c2".into()), env(&[])).unwrap() {
            AzureCredential::ManagedIdentity { client_id, .. } => {
                assert_eq!(client_id.as_deref(), Some("c2"));
            }
            other => panic!("expected managed identity, got {other:?}"),
        }
        let err = AzureCredential::from_environment(None, env(&federated[..1])).unwrap_err();
        assert!(err.contains("AZURE_TENANT_ID"), "{err}");
    }
}
