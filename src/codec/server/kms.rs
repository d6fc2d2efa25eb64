//! Builds the [`KeyProvider`] the keyrings are unwrapped through, from [`KmsConfig`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::codec::server::config::KmsConfig;
use crate::kms::aws::{AwsKms, AwsKmsConfig};
use crate::kms::azure::{AzureCredential, AzureKeyVault, AzureKeyVaultConfig};
use crate::kms::gcp::{GcpCredential, GcpKms, GcpKmsConfig};
use crate::kms::local::LocalKeyFile;
use crate::kms::vault::{VaultAuth, VaultTransit, VaultTransitConfig};
use crate::kms::{KeyProvider, KmsError, SecretBytes};

/// Where Kubernetes mounts a pod's service account token.
const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Why no KMS client could be built.
#[derive(Debug, thiserror::Error)]
pub enum KmsSetupError {
    /// The backend refused the configuration.
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// kms=azure found no usable identity in the environment.
    #[error("kms=azure: {0}")]
    AzureIdentity(String),
    /// kms=vault without Kubernetes auth needs a token.
    #[error("kms=vault: set VAULT_TOKEN, or give --vault-kubernetes-role to log in as the pod")]
    NoVaultToken,
}

/// A client for the configured KMS. `vault_token` is VAULT_TOKEN, read by the caller.
pub async fn provider(
    config: &KmsConfig,
    timeout: Duration,
    vault_token: Option<String>,
) -> Result<Arc<dyn KeyProvider>, KmsSetupError> {
    Ok(match config {
        KmsConfig::Local { key_file } => Arc::new(LocalKeyFile::open(key_file)?),
        KmsConfig::Vault {
            address,
            mount,
            key,
            namespace,
            kubernetes_role,
        } => {
            let auth = match kubernetes_role {
                Some(role) => VaultAuth::Kubernetes {
                    mount: "kubernetes".into(),
                    role: role.clone(),
                    jwt_path: PathBuf::from(SERVICE_ACCOUNT_TOKEN),
                },
                None => VaultAuth::Token(SecretBytes::from(
                    vault_token.ok_or(KmsSetupError::NoVaultToken)?,
                )),
            };
            Arc::new(VaultTransit::new(VaultTransitConfig {
                address: address.clone(),
                mount: mount.clone(),
                key_name: key.clone(),
                namespace: namespace.clone(),
                auth,
                timeout,
            })?)
        }
        KmsConfig::Aws {
            key,
            region,
            endpoint_url,
        } => Arc::new(
            AwsKms::new(AwsKmsConfig {
                key_id: key.clone(),
                region: region.clone(),
                endpoint_url: endpoint_url.clone(),
                timeout,
                ..AwsKmsConfig::default()
            })
            .await,
        ),
        KmsConfig::Azure {
            vault_url,
            key_name,
            client_id,
        } => Arc::new(AzureKeyVault::new(AzureKeyVaultConfig {
            vault_url: vault_url.clone(),
            key_name: key_name.clone(),
            credential: AzureCredential::from_environment(client_id.clone(), |name| {
                std::env::var(name).ok()
            })
            .map_err(KmsSetupError::AzureIdentity)?,
            timeout,
        })?),
        KmsConfig::Gcp { key, endpoint } => Arc::new(GcpKms::new(GcpKmsConfig {
            key_name: key.clone(),
            endpoint: endpoint.clone(),
            credential: GcpCredential::from_environment(|name| std::env::var(name).ok()),
            timeout,
        })?),
    })
}
