//! `engram_cmk_binding`: binds a customer-managed key (AWS KMS, Vault/OpenBao Transit, or a
//! local key file for development) to a keyring of data keys. State holds only wrapped data
//! keys. `terraform plan` shows a due rotation as an in-place update, and a rotation of the
//! customer key inside the KMS as a re-wrap; a key is never retired inside its decrypt window.

use super::clock;
use crate::codec::rotation::{self, RotationPolicy};
use crate::codec::{KeyId, KeyringDocument};
use crate::framework::plan_modifiers::{RequiresReplace, UseStateForUnknown};
use crate::framework::validators::{IntegerBetween, NotBlank};
use crate::framework::{
    ApplyRequest, Attribute, AttributePath, Block, Context, Diagnostics, Nesting, PlanRequest,
    Resource, Schema, Type, Value,
};
use crate::kms::aws::{AwsKms, AwsKmsConfig};
use crate::kms::local::LocalKeyFile;
use crate::kms::vault::{VaultAuth, VaultTransit, VaultTransitConfig};
use crate::kms::{KeyProvider, SecretBytes};
use crate::provider::ProviderSettings;
use async_trait::async_trait;
use std::path::Path;
use std::time::Duration;

/// Timeout of each KMS call.
const KMS_TIMEOUT: Duration = Duration::from_secs(20);

/// The resource.
pub struct CmkBinding;

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

const BACKENDS: [&str; 3] = ["vault_transit", "aws_kms", "local"];

fn block_of<'a>(v: &'a Value, name: &str) -> &'a Value {
    match v.get(name) {
        Value::List(items) => items.first().unwrap_or(&Value::Null),
        _ => &Value::Null,
    }
}

fn text(v: &Value, name: &str) -> Option<String> {
    v.get(name).as_str().map(str::to_string)
}

/// Builds the key provider the configuration names. `config` carries write-only credentials;
/// on refresh it is the state, and credentials come from the environment.
async fn key_provider(config: &Value) -> Result<Box<dyn KeyProvider>, String> {
    let vault = block_of(config, "vault_transit");
    if !vault.is_null() {
        let token = text(vault, "token")
            .or_else(|| std::env::var("VAULT_TOKEN").ok())
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
    let local = block_of(config, "local");
    if !local.is_null() {
        let path = text(local, "key_file").unwrap_or_default();
        return LocalKeyFile::open(Path::new(&path))
            .map(|p| Box::new(p) as Box<dyn KeyProvider>)
            .map_err(|e| e.to_string());
    }
    Err("No key backend configured: add one of vault_transit, aws_kms or local.".into())
}

fn policy(v: &Value) -> RotationPolicy {
    RotationPolicy {
        rotate_after_days: v.get("rotate_after_days").as_i64().unwrap_or(90),
        decrypt_window_days: v.get("decrypt_window_days").as_i64().unwrap_or(400),
    }
}

fn document(state: &Value, diags: &mut Diagnostics) -> Option<KeyringDocument> {
    let json = state.get("keyring").as_str()?;
    match KeyringDocument::from_json(json) {
        Ok(doc) => Some(doc),
        Err(e) => {
            diags.attribute_error(
                AttributePath::root("keyring"),
                "The keyring in state is not valid",
                format!("{e}. Restore the state from a backup; the keyring is the only record of the wrapped data keys."),
            );
            None
        }
    }
}

/// The state for `doc`: configuration plus computed attributes.
fn with_keyring(base: &Value, doc: &KeyringDocument, kms_key_version: Option<String>) -> Value {
    let mut state = base.clone();
    let primary = doc
        .keys
        .iter()
        .find(|k| k.state == crate::codec::KeyState::Primary)
        .map(|k| k.id.to_string())
        .unwrap_or_default();
    let version = kms_key_version.map_or(Value::Null, Value::String);
    state.set("id", Value::string(doc.scope.to_string()));
    state.set("keyring", Value::string(doc.to_json()));
    state.set("primary_key_id", Value::string(primary));
    state.set(
        "key_ids",
        Value::List(
            doc.keys
                .iter()
                .filter(|k| k.state != crate::codec::KeyState::Retired)
                .map(|k| Value::string(k.id.to_string()))
                .collect(),
        ),
    );
    state.set(
        "next_rotation_at",
        Value::string(clock::rfc3339(rotation::next_rotation_at(
            doc,
            &policy(base),
        ))),
    );
    state.set("wrapped_under_version", version.clone());
    state.set("kms_key_version", version);
    state
}

const KEYRING_OUTPUTS: [&str; 5] = [
    "keyring",
    "primary_key_id",
    "key_ids",
    "next_rotation_at",
    "wrapped_under_version",
];

#[async_trait]
impl Resource<ProviderSettings> for CmkBinding {
    fn type_name(&self) -> &'static str {
        "engram_cmk_binding"
    }

    fn schema(&self) -> Schema {
        let computed = |name: &str, ty: Type, d: &str| {
            Attribute::new(name, ty)
                .computed()
                .plan(UseStateForUnknown)
                .description(d)
        };
        let block = Block::new(
            "Binds a customer-managed key to a keyring of data keys that encrypt Temporal payloads. State holds only wrapped keys.",
            vec![
                Attribute::new("scope", Type::String)
                    .required()
                    .plan(RequiresReplace {
                        reason: "Data keys are bound to their scope in every wrap: a new scope means a new keyring with new data keys. Payloads sealed under the old keyring need the old keyring to decrypt; keep a copy of it (the codec server's Secret) before applying.",
                    })
                    .description("What the data keys are bound to, e.g. a namespace or deployment name (letters, digits, `.`, `_`, `-`)."),
                Attribute::new("rotate_after_days", Type::Number)
                    .default(Value::int(90))
                    .validate(IntegerBetween { min: 1, max: 3650 })
                    .description("Age at which the primary data key is replaced. Default 90."),
                Attribute::new("decrypt_window_days", Type::Number)
                    .default(Value::int(400))
                    .validate(IntegerBetween { min: 1, max: 36500 })
                    .description("How long a replaced data key keeps decrypting before it is retired. At least `namespace_retention_days + longest_workflow_run_days`. Default 400."),
                Attribute::new("namespace_retention_days", Type::Number)
                    .default(Value::int(30))
                    .validate(IntegerBetween { min: 0, max: 36500 })
                    .description("The longest retention of the namespaces whose payloads these keys seal. Default 30."),
                Attribute::new("longest_workflow_run_days", Type::Number)
                    .default(Value::int(30))
                    .validate(IntegerBetween { min: 0, max: 36500 })
                    .description("The longest a workflow run stays open. Default 30."),
                Attribute::new("retire_key_ids", Type::set(Type::String))
                    .description("Data keys to retire early. Refused for the primary key and for keys inside their decrypt window."),
                Attribute::new("deletion_protection", Type::Bool)
                    .default(Value::Bool(true))
                    .description("While true, destroy is refused: destroying the binding discards the only record of the wrapped data keys. Default true."),
                computed("id", Type::String, "The scope."),
                computed("keyring", Type::String, "The keyring document (JSON): wrapped data keys only, safe to store."),
                computed("primary_key_id", Type::String, "The data key that seals new payloads."),
                computed("key_ids", Type::list(Type::String), "Data keys that still decrypt."),
                computed("next_rotation_at", Type::String, "When the primary key is due for replacement (RFC 3339)."),
                computed("wrapped_under_version", Type::String, "The customer key version the data keys are wrapped under, where the KMS versions keys."),
                Attribute::new("kms_key_version", Type::String).computed().description("The customer key's newest version in the KMS, read at refresh."),
            ],
        )
        .block("vault_transit", Nesting::List, vault_block(), 1)
        .block("aws_kms", Nesting::List, aws_block(), 1)
        .block("local", Nesting::List, local_block(), 1);
        Schema::new(block)
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(scope) = config.get("scope").as_str()
            && let Err(e) = KeyId::new(scope)
        {
            diags.attribute_error(AttributePath::root("scope"), "Invalid scope", e.to_string());
        }
        let configured: Vec<&str> = BACKENDS
            .iter()
            .copied()
            .filter(|b| {
                !matches!(config.get(b), Value::List(items) if items.is_empty())
                    && !config.get(b).is_null()
            })
            .collect();
        if configured.len() != 1 && BACKENDS.iter().all(|b| !config.get(b).is_unknown()) {
            diags.error(
                "Exactly one key backend",
                format!(
                    "Configure exactly one of vault_transit, aws_kms or local; found {}.",
                    if configured.is_empty() {
                        "none".to_string()
                    } else {
                        configured.join(", ")
                    }
                ),
            );
        }
        let days = |n: &str| config.get(n).as_i64();
        if let (Some(window), Some(retention), Some(run)) = (
            days("decrypt_window_days")
                .or(Some(400))
                .filter(|_| !config.get("decrypt_window_days").is_unknown()),
            days("namespace_retention_days")
                .or(Some(30))
                .filter(|_| !config.get("namespace_retention_days").is_unknown()),
            days("longest_workflow_run_days")
                .or(Some(30))
                .filter(|_| !config.get("longest_workflow_run_days").is_unknown()),
        ) && window < retention + run
        {
            diags.attribute_error(
                AttributePath::root("decrypt_window_days"),
                "Decrypt window shorter than the data it must read",
                format!(
                    "decrypt_window_days = {window}, but a payload sealed on the last day of a key can be read for up to {run} days of its workflow run plus {retention} days of retention = {} days. A shorter window would retire keys that histories still need, making them undecryptable. Set decrypt_window_days to at least {}.",
                    retention + run,
                    retention + run
                ),
            );
        }
        if let Some(url) = text(block_of(config, "vault_transit"), "address")
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            diags.attribute_error(
                AttributePath::root("vault_transit")
                    .index(0)
                    .attr("address"),
                "Invalid vault_transit.address",
                format!("{url:?} is not a URL; give Vault's address as https://HOST:8200."),
            );
        }
    }

    async fn modify_plan(
        &self,
        _ctx: &Context<ProviderSettings>,
        req: &PlanRequest<'_>,
        planned: &mut Value,
        _requires_replace: &mut Vec<AttributePath>,
        diags: &mut Diagnostics,
    ) {
        if planned.is_null() {
            if req.prior.get("deletion_protection").as_bool() != Some(false) {
                diags.error(
                    "Deletion protection is on",
                    "Destroying this binding discards the only record of its wrapped data keys; payloads they sealed could never be decrypted again. Keep a copy of the keyring (output `keyring`), then set deletion_protection = false and apply before destroying.",
                );
            }
            return;
        }
        if req.prior.is_null() {
            return;
        }
        let Some(doc) = document(req.prior, diags) else {
            return;
        };
        let now = clock::now_unix();
        let policy = policy(planned);
        let mut reasons = Vec::new();
        let due = rotation::due(&doc, &policy, now);
        if due.rotate {
            reasons.push(format!(
                "rotate data key: {} is due since {}; it stays decrypt-only for {} days",
                req.prior.get("primary_key_id").as_str().unwrap_or_default(),
                clock::rfc3339(rotation::next_rotation_at(&doc, &policy)),
                policy.decrypt_window_days
            ));
        }
        for id in &due.retire {
            reasons.push(format!(
                "retire data key {id}: its decrypt window has ended"
            ));
        }
        if let Value::Set(ids) = planned.get("retire_key_ids") {
            for id in ids.iter().filter_map(Value::as_str) {
                let refused = KeyId::new(id).map_err(|e| e.to_string()).and_then(|k| {
                    rotation::check_retire(&doc, &k, &policy, now).map_err(|e| e.to_string())
                });
                match refused {
                    Err(e) => diags.attribute_error(
                        AttributePath::root("retire_key_ids"),
                        "Data key cannot be retired yet",
                        format!("{e}. Remove it from retire_key_ids; it is retired automatically when its window ends."),
                    ),
                    Ok(()) if doc.keys.iter().any(|k| k.id.as_str() == id && k.state != crate::codec::KeyState::Retired) => {
                        reasons.push(format!("retire data key {id} (requested)"));
                    }
                    Ok(()) => {}
                }
            }
        }
        let live = req.prior.get("kms_key_version");
        let wrapped = req.prior.get("wrapped_under_version");
        if !live.is_null() && live != wrapped {
            reasons.push(format!(
                "rewrap data keys: the customer key was rotated in the KMS (version {} -> {}); the data keys stay the same",
                wrapped.as_str().unwrap_or("?"),
                live.as_str().unwrap_or("?")
            ));
        }
        if reasons.is_empty() {
            let next = rotation::next_rotation_at(&doc, &policy);
            planned.set("next_rotation_at", Value::string(clock::rfc3339(next)));
        } else {
            for name in KEYRING_OUTPUTS {
                planned.set(name, Value::Unknown);
            }
            diags.warning("Key maintenance planned", reasons.join("\n"));
        }
    }

    async fn create(
        &self,
        _ctx: &Context<ProviderSettings>,
        req: &ApplyRequest<'_>,
        diags: &mut Diagnostics,
    ) -> (Value, Vec<u8>) {
        let scope = match KeyId::new(req.config.get("scope").as_str().unwrap_or_default()) {
            Ok(s) => s,
            Err(e) => {
                diags.attribute_error(AttributePath::root("scope"), "Invalid scope", e.to_string());
                return (Value::Null, Vec::new());
            }
        };
        let provider = match key_provider(req.config).await {
            Ok(p) => p,
            Err(e) => {
                diags.error("Cannot use the customer key", e);
                return (Value::Null, Vec::new());
            }
        };
        let mut doc = match KeyringDocument::create(scope, provider.as_ref()).await {
            Ok(doc) => doc,
            Err(e) => {
                diags.error("Could not create the first data key", e.to_string());
                return (Value::Null, Vec::new());
            }
        };
        // Rotation due dates follow the provider's clock (which tests move forward).
        for key in &mut doc.keys {
            key.created_unix_seconds = clock::now_unix();
        }
        let version = provider
            .describe_key()
            .await
            .ok()
            .and_then(|d| d.latest_version);
        (with_keyring(req.planned, &doc, version), Vec::new())
    }

    async fn read(
        &self,
        _ctx: &Context<ProviderSettings>,
        state: &Value,
        private: &[u8],
        diags: &mut Diagnostics,
    ) -> Option<(Value, Vec<u8>)> {
        let mut state = state.clone();
        if let Ok(provider) = key_provider(&state).await {
            match provider.describe_key().await {
                Ok(d) => {
                    if !d.enabled {
                        diags.warning(
                            "The customer key is disabled",
                            format!("{} reports key {} disabled: new payloads cannot be sealed and the codec server cannot start until it is enabled again.", provider.backend(), d.key),
                        );
                    }
                    state.set(
                        "kms_key_version",
                        d.latest_version.map_or(Value::Null, Value::String),
                    );
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not describe the customer key during refresh")
                }
            }
        }
        Some((state, private.to_vec()))
    }

    async fn update(
        &self,
        _ctx: &Context<ProviderSettings>,
        req: &ApplyRequest<'_>,
        diags: &mut Diagnostics,
    ) -> (Value, Vec<u8>) {
        let Some(mut doc) = document(req.prior, diags) else {
            return (req.prior.clone(), Vec::new());
        };
        let provider = match key_provider(req.config).await {
            Ok(p) => p,
            Err(e) => {
                diags.error("Cannot use the customer key", e);
                return (req.prior.clone(), Vec::new());
            }
        };
        let now = clock::now_unix();
        let policy = policy(req.planned);
        let mut due = rotation::due(&doc, &policy, now);
        if let Value::Set(ids) = req.planned.get("retire_key_ids") {
            for id in ids
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|s| KeyId::new(s).ok())
            {
                let active = doc
                    .keys
                    .iter()
                    .any(|k| k.id == id && k.state != crate::codec::KeyState::Retired);
                if active
                    && rotation::check_retire(&doc, &id, &policy, now).is_ok()
                    && !due.retire.contains(&id)
                {
                    due.retire.push(id);
                }
            }
        }
        let live = req.prior.get("kms_key_version");
        let mut version = req
            .prior
            .get("wrapped_under_version")
            .as_str()
            .map(str::to_string);
        if !live.is_null() && live != req.prior.get("wrapped_under_version") {
            if let Err(e) = doc.rewrap_all(provider.as_ref()).await {
                diags.error(
                    "Could not re-wrap the data keys",
                    format!("{e}. Nothing was changed; fix the KMS access and apply again."),
                );
                return (req.prior.clone(), Vec::new());
            }
            version = live.as_str().map(str::to_string);
        }
        if let Err(e) = rotation::rotate(&mut doc, &due, provider.as_ref(), now).await {
            diags.error(
                "Could not rotate the data key",
                format!("{e}. The keyring is unchanged; apply again once the KMS answers."),
            );
            return (req.prior.clone(), Vec::new());
        }
        let mut state = with_keyring(req.planned, &doc, version);
        state.set("kms_key_version", live.clone());
        (state, Vec::new())
    }

    async fn delete(
        &self,
        _ctx: &Context<ProviderSettings>,
        prior: &Value,
        _private: &[u8],
        diags: &mut Diagnostics,
    ) {
        if prior.get("deletion_protection").as_bool() != Some(false) {
            diags.error(
                "Deletion protection is on",
                "Set deletion_protection = false and apply before destroying this binding.",
            );
        }
    }
}
