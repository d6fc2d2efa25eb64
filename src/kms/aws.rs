//! AWS KMS through the AWS SDK.
//!
//! `GenerateDataKey` creates each data key inside KMS, `Encrypt`/`Decrypt` wrap and unwrap, and
//! `ReEncrypt` moves a wrapped key to the key's current backing key without the plaintext leaving
//! KMS. Every call carries the [`WrapContext`] as the KMS *encryption context*, so CloudTrail shows
//! which keyring and data key a call was for and a wrapped key only unwraps with the same context.
//! Credentials come from the SDK's default chain (environment, profile, web identity, instance
//! role), optionally with a named profile and an assumed role. The SDK retries throttling and
//! transient errors (safe here: no KMS call used changes server state) within an overall timeout.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeyState};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::kms::{
    Backend, GeneratedKey, KeyDescription, KeyProvider, KmsError, KmsErrorKind, SecretBytes,
    WrapContext, WrappedKey, checked_data_key,
};

/// Where the KMS key is and which credentials reach it.
#[derive(Debug, Clone, Default)]
pub struct AwsKmsConfig {
    /// Key id, ARN, alias name (`alias/...`) or alias ARN.
    pub key_id: String,
    /// The region; the SDK's default chain decides when `None`.
    pub region: Option<String>,
    /// An endpoint override (a VPC endpoint, or a local test server).
    pub endpoint_url: Option<String>,
    /// A named profile from the shared AWS config files.
    pub profile: Option<String>,
    /// A role to assume with the base credentials.
    pub role_arn: Option<String>,
    /// The overall timeout of each operation, retries included.
    pub timeout: Duration,
}

/// A [`KeyProvider`] backed by an AWS KMS symmetric key.
pub struct AwsKms {
    client: Client,
    key_id: String,
    timeout: Duration,
    endpoint: String,
}

impl AwsKms {
    /// Builds the client from `config` and the SDK's credential chain.
    pub async fn new(config: AwsKmsConfig) -> Self {
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client)
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(3));
        if let Some(region) = &config.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &config.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &config.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        // AWS KMS's regional endpoint is `https://kms.<region>.amazonaws.com` (AWS General
        // Reference, "AWS Key Management Service endpoints and quotas").
        let endpoint = config.endpoint_url.clone().unwrap_or_else(|| {
            shared.region().map_or_else(
                || "the regional AWS KMS endpoint (no region is configured)".to_string(),
                |region| format!("https://kms.{region}.amazonaws.com"),
            )
        });
        let mut builder = aws_sdk_kms::config::Builder::from(&shared);
        if let Some(role_arn) = &config.role_arn {
            let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
                .session_name("engram-kms")
                .configure(&shared)
                .build()
                .await;
            builder = builder.credentials_provider(provider);
        }
        Self {
            client: Client::from_conf(builder.build()),
            key_id: config.key_id,
            timeout: config.timeout,
            endpoint,
        }
    }

    fn error<E, R>(&self, error: SdkError<E, R>) -> KmsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let kind = match &error {
            SdkError::TimeoutError(_) => KmsErrorKind::Timeout(self.timeout),
            SdkError::DispatchFailure(failure) => KmsErrorKind::Unavailable(if failure.is_io() {
                format!("connection to {} failed", self.endpoint)
            } else {
                format!("request to {} failed: {failure:?}", self.endpoint)
            }),
            SdkError::ServiceError(service) => {
                let err = service.err();
                let code = err.code().unwrap_or("Unknown");
                let message = format!("{code}: {}", err.message().unwrap_or(""));
                match code {
                    "AccessDeniedException" => KmsErrorKind::PermissionDenied(message),
                    "NotFoundException" => KmsErrorKind::KeyNotFound(message),
                    "DisabledException"
                    | "KMSInvalidStateException"
                    | "KeyUnavailableException" => KmsErrorKind::KeyDisabled(message),
                    "InvalidCiphertextException" | "IncorrectKeyException" => {
                        KmsErrorKind::InvalidCiphertext(message)
                    }
                    "UnrecognizedClientException"
                    | "InvalidSignatureException"
                    | "ExpiredTokenException"
                    | "MissingAuthenticationToken" => KmsErrorKind::Unauthenticated(message),
                    "KMSInternalException"
                    | "DependencyTimeoutException"
                    | "ThrottlingException" => KmsErrorKind::Unavailable(message),
                    _ => KmsErrorKind::InvalidResponse(message),
                }
            }
            other => KmsErrorKind::Unauthenticated(format!(
                "{}; the SDK could not build the request",
                aws_sdk_kms::error::DisplayErrorContext(other)
            )),
        };
        KmsError::new(Backend::AwsKms, &self.key_id, kind)
    }

    fn missing(&self, field: &str) -> KmsError {
        KmsError::new(
            Backend::AwsKms,
            &self.key_id,
            KmsErrorKind::InvalidResponse(format!("response has no {field}")),
        )
    }
}

fn encryption_context(context: &WrapContext) -> std::collections::HashMap<String, String> {
    context
        .pairs()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[async_trait]
impl KeyProvider for AwsKms {
    fn backend(&self) -> Backend {
        Backend::AwsKms
    }

    fn key(&self) -> &str {
        &self.key_id
    }

    async fn generate_data_key(&self, context: &WrapContext) -> Result<GeneratedKey, KmsError> {
        let output = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(encryption_context(context)))
            .send()
            .await
            .map_err(|e| self.error(e))?;
        let wrapped = output
            .ciphertext_blob()
            .ok_or_else(|| self.missing("CiphertextBlob"))?
            .as_ref()
            .to_vec();
        let plaintext = output
            .plaintext
            .ok_or_else(|| self.missing("Plaintext"))?
            .into_inner();
        Ok(GeneratedKey {
            plaintext: checked_data_key(
                Backend::AwsKms,
                &self.key_id,
                SecretBytes::new(plaintext),
            )?,
            wrapped: WrappedKey::new(wrapped),
        })
    }

    async fn wrap(
        &self,
        plaintext: &SecretBytes,
        context: &WrapContext,
    ) -> Result<WrappedKey, KmsError> {
        let output = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext.expose().to_vec()))
            .set_encryption_context(Some(encryption_context(context)))
            .send()
            .await
            .map_err(|e| self.error(e))?;
        let wrapped = output
            .ciphertext_blob
            .ok_or_else(|| self.missing("CiphertextBlob"))?
            .into_inner();
        Ok(WrappedKey::new(wrapped))
    }

    async fn unwrap(
        &self,
        wrapped: &WrappedKey,
        context: &WrapContext,
    ) -> Result<SecretBytes, KmsError> {
        let output = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped.ciphertext.clone()))
            .set_encryption_context(Some(encryption_context(context)))
            .send()
            .await
            .map_err(|e| self.error(e))?;
        let plaintext = output
            .plaintext
            .ok_or_else(|| self.missing("Plaintext"))?
            .into_inner();
        checked_data_key(Backend::AwsKms, &self.key_id, SecretBytes::new(plaintext))
    }

    async fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &WrapContext,
    ) -> Result<WrappedKey, KmsError> {
        let output = self
            .client
            .re_encrypt()
            .ciphertext_blob(Blob::new(wrapped.ciphertext.clone()))
            .source_key_id(&self.key_id)
            .set_source_encryption_context(Some(encryption_context(context)))
            .destination_key_id(&self.key_id)
            .set_destination_encryption_context(Some(encryption_context(context)))
            .send()
            .await
            .map_err(|e| self.error(e))?;
        let wrapped = output
            .ciphertext_blob
            .ok_or_else(|| self.missing("CiphertextBlob"))?
            .into_inner();
        Ok(WrappedKey::new(wrapped))
    }

    async fn describe_key(&self) -> Result<KeyDescription, KmsError> {
        let output = self
            .client
            .describe_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(|e| self.error(e))?;
        let metadata = output
            .key_metadata
            .ok_or_else(|| self.missing("KeyMetadata"))?;
        Ok(KeyDescription {
            backend: Backend::AwsKms,
            key: metadata
                .arn
                .clone()
                .unwrap_or_else(|| metadata.key_id.clone()),
            enabled: metadata.enabled && metadata.key_state == Some(KeyState::Enabled),
            latest_version: None,
            min_decryption_version: None,
        })
    }
}
