//! A client for the customer key a keyring document names (`customer_key`), so the KMS itself
//! can say whether the key is enabled and which version is newest. Built from the document's
//! non-secret location and the caller's ambient credentials (VAULT_TOKEN, the AWS default
//! chain, Azure workload or managed identity, the GCP metadata server); a backend this check
//! cannot reach is said so, not guessed.

use crate::codec::CustomerKeyLocation;
use crate::kms::aws::{AwsKms, AwsKmsConfig};
use crate::kms::azure::{AzureCredential, AzureKeyVault, AzureKeyVaultConfig};
use crate::kms::gcp::{self, GcpCredential, GcpKms, GcpKmsConfig};
use crate::kms::local::LocalKeyFile;
use crate::kms::vault::{VaultAuth, VaultTransit, VaultTransitConfig};
use crate::kms::{KeyProvider, SecretBytes};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The timeout of each KMS call.
pub const KMS_CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// The environment variables that locate Azure and GCP credentials (none holds a secret: the
/// federated token is read from the file AZURE_FEDERATED_TOKEN_FILE names).
pub const CREDENTIAL_VARIABLES: [&str; 5] = [
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_AUTHORITY_HOST",
    "GCE_METADATA_HOST",
];

/// The [`CREDENTIAL_VARIABLES`] set in this process's environment, and `VAULT_TOKEN`: the
/// ambient credentials `engram evidence --describe-customer-key` and the data source's
/// `describe_customer_key` ask the KMS with.
pub fn ambient_credentials() -> (BTreeMap<String, String>, Option<SecretBytes>) {
    let env = CREDENTIAL_VARIABLES
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect();
    let vault_token = std::env::var("VAULT_TOKEN")
        .ok()
        .map(|t| SecretBytes::new(t.into_bytes()));
    (env, vault_token)
}

/// A KMS client for `location`. `vault_token` authenticates to Vault/OpenBao Transit; `env`
/// holds the [`CREDENTIAL_VARIABLES`] that are set.
pub async fn provider(
    location: &CustomerKeyLocation,
    vault_token: Option<&SecretBytes>,
    env: &BTreeMap<String, String>,
) -> Result<Arc<dyn KeyProvider>, String> {
    let var = |k: &str| env.get(k).cloned();
    let get = |k: &str| location.settings.get(k).cloned();
    let need = |k: &str| {
        get(k).ok_or_else(|| {
            format!(
                "the keyring's customer_key ({}) has no `{k}` setting",
                location.backend
            )
        })
    };
    match location.backend.as_str() {
        "local" => {
            let path = need("key_file")?;
            Ok(Arc::new(
                LocalKeyFile::open(std::path::Path::new(&path)).map_err(|e| e.to_string())?,
            ))
        }
        "vault_transit" => {
            let token = vault_token.ok_or(
                "describing a vault_transit key needs VAULT_TOKEN in the environment".to_string(),
            )?;
            let client = VaultTransit::new(VaultTransitConfig {
                address: need("address")?,
                mount: get("mount").unwrap_or_else(|| "transit".into()),
                key_name: need("key_name")?,
                namespace: get("namespace"),
                auth: VaultAuth::Token(token.clone()),
                timeout: KMS_CALL_TIMEOUT,
            })
            .map_err(|e| e.to_string())?;
            Ok(Arc::new(client))
        }
        "aws_kms" => Ok(Arc::new(
            AwsKms::new(AwsKmsConfig {
                key_id: need("key_id")?,
                region: get("region"),
                endpoint_url: get("endpoint"),
                profile: get("profile"),
                role_arn: get("role_arn"),
                timeout: KMS_CALL_TIMEOUT,
            })
            .await,
        )),
        "azure_key_vault" => {
            let credential = AzureCredential::from_environment(get("client_id"), var)
                .map_err(|e| format!("describing an azure_key_vault key: {e}"))?;
            let client = AzureKeyVault::new(AzureKeyVaultConfig {
                vault_url: need("vault_url")?,
                key_name: need("key_name")?,
                credential,
                timeout: KMS_CALL_TIMEOUT,
            })
            .map_err(|e| e.to_string())?;
            Ok(Arc::new(client))
        }
        "gcp_kms" => {
            let client = GcpKms::new(GcpKmsConfig {
                key_name: need("key_name")?,
                endpoint: get("endpoint").unwrap_or_else(|| gcp::DEFAULT_ENDPOINT.into()),
                credential: GcpCredential::from_environment(var),
                timeout: KMS_CALL_TIMEOUT,
            })
            .map_err(|e| e.to_string())?;
            Ok(Arc::new(client))
        }
        other => Err(format!(
            "describing a `{other}` customer key is not supported by this check yet"
        )),
    }
}
