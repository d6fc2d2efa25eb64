//! The customer-key backends of `engram_cmk_binding`: one configuration block each, the key
//! provider a block builds, and the block's non-secret settings as the keyring document records
//! them ([`CustomerKeyLocation`]), so an imported keyring gets its block back.

use crate::codec::CustomerKeyLocation;
use crate::framework::validators::NotBlank;
use crate::framework::{Attribute, AttributePath, Block, Diagnostics, Nesting, Type, Value};
use crate::kms::aws::{AwsKms, AwsKmsConfig};
use crate::kms::azure::{AzureCredential, AzureKeyVault, AzureKeyVaultConfig};
use crate::kms::gcp::{self, GcpCredential, GcpKms, GcpKmsConfig};
use crate::kms::local::LocalKeyFile;
use crate::kms::vault::{VaultAuth, VaultTransit, VaultTransitConfig};
use crate::kms::{KeyProvider, SecretBytes};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Timeout of each KMS call.
const KMS_TIMEOUT: Duration = Duration::from_secs(20);

/// One backend block: its name, schema, and the attributes recorded in the keyring.
struct BackendBlock {
    name: &'static str,
    settings: &'static [&'static str],
    block: fn() -> Block,
}

const BACKENDS: [BackendBlock; 5] = [
    BackendBlock {
        name: "vault_transit",
        settings: &["address", "mount", "key_name", "namespace"],
        block: vault_block,
    },
    BackendBlock {
        name: "aws_kms",
        settings: &["key_id", "region", "endpoint", "profile", "role_arn"],
        block: aws_block,
    },
    BackendBlock {
        name: "azure_key_vault",
        settings: &["vault_url", "key_name", "client_id"],
        block: azure_block,
    },
    BackendBlock {
        name: "gcp_kms",
        settings: &["key_name", "endpoint"],
        block: gcp_block,
    },
    BackendBlock {
        name: "local",
        settings: &["key_file"],
        block: local_block,
    },
];

/// The backend block names, for messages.
pub(super) fn names() -> String {
    let names: Vec<&str> = BACKENDS.iter().map(|b| b.name).collect();
    format!(
        "{} or {}",
        names[..names.len() - 1].join(", "),
        names[names.len() - 1]
    )
}

/// `block` with every backend block added (at most one item each).
pub(super) fn add_blocks(mut block: Block) -> Block {
    for backend in &BACKENDS {
        block = block.block(backend.name, Nesting::List, (backend.block)(), 1);
    }
    block
}

fn vault_block() -> Block {
    Block::new(
        "A Vault or OpenBao Transit key. The token comes from `token` (write-only, Terraform 1.11+) or the `VAULT_TOKEN` environment variable.",
        vec![
            Attribute::new("address", Type::String)
                .required()
                .validate(NotBlank)
                .description("Vault's URL, e.g. `https://vault.example.com:8200`."),
            Attribute::new("mount", Type::String)
                .default(Value::string("transit"))
                .description("The Transit mount path. Default `transit`."),
            Attribute::new("key_name", Type::String)
                .required()
                .validate(NotBlank)
                .description("The Transit key name."),
            Attribute::new("namespace", Type::String)
                .description("Vault Enterprise / OpenBao namespace."),
            Attribute::new("token", Type::String)
                .sensitive()
                .write_only()
                .description("A Vault token. Never stored in plan or state."),
        ],
    )
}

fn aws_block() -> Block {
    Block::new(
        "An AWS KMS symmetric key. Credentials come from the AWS SDK's chain (environment, profile, web identity).",
        vec![
            Attribute::new("key_id", Type::String)
                .required()
                .validate(NotBlank)
                .description("Key id, ARN or alias (`alias/...`)."),
            Attribute::new("region", Type::String)
                .description("The key's region; the SDK's default when unset."),
            Attribute::new("endpoint", Type::String)
                .description("An endpoint override (a VPC endpoint)."),
            Attribute::new("profile", Type::String)
                .description("A named profile from the shared AWS config."),
            Attribute::new("role_arn", Type::String)
                .description("A role to assume with the base credentials."),
        ],
    )
}

fn azure_block() -> Block {
    Block::new(
        "An Azure Key Vault (or Managed HSM) RSA key; data keys are wrapped with RSA-OAEP-256. The access token comes from `access_token` (write-only, Terraform 1.11+), else workload identity (`AZURE_FEDERATED_TOKEN_FILE`, `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`), else the VM's managed identity.",
        vec![
            Attribute::new("vault_url", Type::String)
                .required()
                .validate(NotBlank)
                .description("The vault's URL, e.g. `https://payments.vault.azure.net`."),
            Attribute::new("key_name", Type::String)
                .required()
                .validate(NotBlank)
                .description("The key's name in the vault."),
            Attribute::new("client_id", Type::String).description(
                "The client id of a user-assigned managed identity or workload identity; overrides `AZURE_CLIENT_ID`.",
            ),
            Attribute::new("access_token", Type::String)
                .sensitive()
                .write_only()
                .description("An access token for `https://vault.azure.net` (`az account get-access-token --resource https://vault.azure.net`). Never stored in plan or state."),
        ],
    )
}

fn gcp_block() -> Block {
    Block::new(
        "A Google Cloud KMS symmetric key. The access token comes from `access_token` (write-only, Terraform 1.11+), else the metadata server (Workload Identity on GKE; `GCE_METADATA_HOST` overrides its address).",
        vec![
            Attribute::new("key_name", Type::String)
                .required()
                .validate(NotBlank)
                .description("`projects/P/locations/L/keyRings/R/cryptoKeys/K`."),
            Attribute::new("endpoint", Type::String)
                .description("The API endpoint; default `https://cloudkms.googleapis.com` (a Private Service Connect endpoint, for example)."),
            Attribute::new("access_token", Type::String)
                .sensitive()
                .write_only()
                .description("An OAuth access token (`gcloud auth print-access-token`). Never stored in plan or state."),
        ],
    )
}

fn local_block() -> Block {
    Block::new(
        "A key file on local disk. **Development only**: the key is not in a KMS.",
        vec![
            Attribute::new("key_file", Type::String)
                .required()
                .validate(NotBlank)
                .description("Path of a file holding 32 random bytes, base64."),
        ],
    )
}

/// The one item of block `name`, or null.
pub(super) fn block_of<'a>(v: &'a Value, name: &str) -> &'a Value {
    match v.get(name) {
        Value::List(items) => items.first().unwrap_or(&Value::Null),
        _ => &Value::Null,
    }
}

fn text(v: &Value, name: &str) -> Option<String> {
    v.get(name).as_str().map(str::to_string)
}

/// The names of the backend blocks present in `config`.
pub(super) fn configured(config: &Value) -> Vec<&'static str> {
    BACKENDS
        .iter()
        .map(|b| b.name)
        .filter(|name| !block_of(config, name).is_null())
        .collect()
}

/// Whether it is known which backend blocks `config` has (a `dynamic` block may not be yet).
pub(super) fn blocks_known(config: &Value) -> bool {
    BACKENDS.iter().all(|b| !config.get(b.name).is_unknown())
}

/// Whether every backend block of `config` is fully known (no setting computed from another
/// resource).
pub(super) fn known(config: &Value) -> bool {
    BACKENDS.iter().all(|b| config.get(b.name).is_fully_known())
}

/// Checks the URL-shaped and name-shaped settings of the configured block.
pub(super) fn validate(config: &Value, diags: &mut Diagnostics) {
    let url_checks = [
        ("vault_transit", "address", "https://HOST:8200"),
        (
            "azure_key_vault",
            "vault_url",
            "https://NAME.vault.azure.net",
        ),
        ("gcp_kms", "endpoint", "https://cloudkms.googleapis.com"),
        ("aws_kms", "endpoint", "https://kms.REGION.amazonaws.com"),
    ];
    if let Some(url) = text(block_of(config, "azure_key_vault"), "vault_url")
        && url.starts_with("http://")
    {
        diags.attribute_error(
            AttributePath::root("azure_key_vault")
                .index(0)
                .attr("vault_url"),
            "Invalid azure_key_vault.vault_url",
            format!("{url:?}: {}.", crate::kms::azure::VAULT_URL_HTTPS_ONLY),
        );
    }
    for (block, attribute, example) in url_checks {
        if let Some(url) = text(block_of(config, block), attribute)
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            diags.attribute_error(
                AttributePath::root(block).index(0).attr(attribute),
                format!("Invalid {block}.{attribute}"),
                format!("{url:?} is not a URL; give it as {example}."),
            );
        }
    }
    if let Some(name) = text(block_of(config, "gcp_kms"), "key_name")
        && !gcp_key_name_is_valid(&name)
    {
        diags.attribute_error(
            AttributePath::root("gcp_kms").index(0).attr("key_name"),
            "Invalid gcp_kms.key_name",
            format!("{name:?} is not a key's resource name; give it as projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY (without /cryptoKeyVersions/...: data keys are wrapped under the primary version)."),
        );
    }
}

fn gcp_key_name_is_valid(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    parts.len() == 8
        && ["projects", "locations", "keyRings", "cryptoKeys"]
            .iter()
            .enumerate()
            .all(|(i, word)| parts[2 * i] == *word && !parts[2 * i + 1].is_empty())
}

/// Where the configured customer key is, as the keyring document records it. `None` when no
/// backend is configured.
pub(super) fn location(config: &Value) -> Option<CustomerKeyLocation> {
    BACKENDS.iter().find_map(|backend| {
        let block = block_of(config, backend.name);
        (!block.is_null()).then(|| CustomerKeyLocation {
            backend: backend.name.to_string(),
            settings: backend
                .settings
                .iter()
                .filter_map(|s| text(block, s).map(|v| (s.to_string(), v)))
                .collect(),
        })
    })
}

/// The backend blocks of a configuration that `location` describes: its block with the
/// recorded settings, every other block empty. `None` when the backend is not one of ours.
pub(super) fn blocks_for(location: &CustomerKeyLocation) -> Option<BTreeMap<&'static str, Value>> {
    let chosen = BACKENDS.iter().find(|b| b.name == location.backend)?;
    Some(
        BACKENDS
            .iter()
            .map(|backend| {
                let items = if backend.name == chosen.name {
                    let attrs = backend.settings.iter().map(|s| {
                        (
                            *s,
                            location
                                .settings
                                .get(*s)
                                .map_or(Value::Null, |v| Value::string(v.clone())),
                        )
                    });
                    vec![Value::object(attrs)]
                } else {
                    Vec::new()
                };
                (backend.name, Value::List(items))
            })
            .collect(),
    )
}

/// Builds the key provider the configuration names. `config` carries write-only credentials;
/// on refresh and import it is the state, and credentials come from the environment.
pub(super) async fn key_provider(config: &Value) -> Result<Box<dyn KeyProvider>, String> {
    let env = |name: &str| std::env::var(name).ok();
    let vault = block_of(config, "vault_transit");
    if !vault.is_null() {
        let token = text(vault, "token")
            .or_else(|| env("VAULT_TOKEN"))
            .ok_or("No Vault token: set vault_transit.token (Terraform 1.11+) or the VAULT_TOKEN environment variable.")?;
        let provider = VaultTransit::new(VaultTransitConfig {
            address: text(vault, "address").unwrap_or_default(),
            mount: text(vault, "mount").unwrap_or_else(|| "transit".into()),
            key_name: text(vault, "key_name").unwrap_or_default(),
            namespace: text(vault, "namespace"),
            auth: VaultAuth::Token(SecretBytes::new(token.into_bytes())),
            timeout: KMS_TIMEOUT,
        })
        .map_err(|e| e.to_string())?;
        return Ok(Box::new(provider));
    }
    let aws = block_of(config, "aws_kms");
    if !aws.is_null() {
        return Ok(Box::new(
            AwsKms::new(AwsKmsConfig {
                key_id: text(aws, "key_id").unwrap_or_default(),
                region: text(aws, "region"),
                endpoint_url: text(aws, "endpoint"),
                profile: text(aws, "profile"),
                role_arn: text(aws, "role_arn"),
                timeout: KMS_TIMEOUT,
            })
            .await,
        ));
    }
    let azure = block_of(config, "azure_key_vault");
    if !azure.is_null() {
        let credential = match text(azure, "access_token") {
            Some(token) => AzureCredential::AccessToken(SecretBytes::new(token.into_bytes())),
            None => AzureCredential::from_environment(text(azure, "client_id"), env)
                .map_err(|e| format!("azure_key_vault: {e}."))?,
        };
        return AzureKeyVault::new(AzureKeyVaultConfig {
            vault_url: text(azure, "vault_url").unwrap_or_default(),
            key_name: text(azure, "key_name").unwrap_or_default(),
            credential,
            timeout: KMS_TIMEOUT,
        })
        .map(|p| Box::new(p) as Box<dyn KeyProvider>)
        .map_err(|e| e.to_string());
    }
    let google = block_of(config, "gcp_kms");
    if !google.is_null() {
        let credential = match text(google, "access_token") {
            Some(token) => GcpCredential::AccessToken(SecretBytes::new(token.into_bytes())),
            None => GcpCredential::from_environment(env),
        };
        return GcpKms::new(GcpKmsConfig {
            key_name: text(google, "key_name").unwrap_or_default(),
            endpoint: text(google, "endpoint").unwrap_or_else(|| gcp::DEFAULT_ENDPOINT.into()),
            credential,
            timeout: KMS_TIMEOUT,
        })
        .map(|p| Box::new(p) as Box<dyn KeyProvider>)
        .map_err(|e| e.to_string());
    }
    let local = block_of(config, "local");
    if !local.is_null() {
        let path = text(local, "key_file").unwrap_or_default();
        return LocalKeyFile::open(Path::new(&path))
            .map(|p| Box::new(p) as Box<dyn KeyProvider>)
            .map_err(|e| e.to_string());
    }
    Err(format!(
        "No key backend configured: add one of {}.",
        names()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcp_key_names_are_checked_segment_by_segment() {
        assert!(gcp_key_name_is_valid(
            "projects/p/locations/global/keyRings/r/cryptoKeys/k"
        ));
        for bad in [
            "projects/p/locations/global/keyRings/r",
            "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
            "projects//locations/global/keyRings/r/cryptoKeys/k",
            "keys/k",
        ] {
            assert!(!gcp_key_name_is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn a_location_gives_its_block_back() {
        let recorded = CustomerKeyLocation {
            backend: "vault_transit".into(),
            settings: BTreeMap::from([
                ("address".to_string(), "https://vault:8200".to_string()),
                ("key_name".to_string(), "payments".to_string()),
                ("mount".to_string(), "transit".to_string()),
            ]),
        };
        let blocks = blocks_for(&recorded).unwrap();
        let config = Value::object(blocks.iter().map(|(k, v)| (*k, v.clone())));
        assert_eq!(configured(&config), vec!["vault_transit"]);
        assert_eq!(location(&config), Some(recorded.clone()));
        assert!(
            blocks_for(&CustomerKeyLocation {
                backend: "hsm".into(),
                settings: BTreeMap::new()
            })
            .is_none()
        );
    }
}
