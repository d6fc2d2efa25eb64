//! `engram_cmk_binding`: binds a customer-managed key (AWS KMS, Vault/OpenBao Transit, Azure Key
//! Vault, Google Cloud KMS, or a local key file for development) to a keyring of data keys.
//! State holds only wrapped data keys. `terraform plan` shows a due rotation as an in-place
//! update, and a rotation of the customer key inside the KMS as a re-wrap; a key is never
//! retired inside its decrypt window.

mod backends;
mod import;

use crate::codec::clock;
use crate::codec::lifecycle::{self, LifecyclePolicy, Observed, Step};
use crate::codec::{KeyId, KeyState, KeyringDocument};
use crate::framework::plan_modifiers::{RequiresReplace, UseStateForUnknown};
use crate::framework::validators::IntegerBetween;
use crate::framework::{
    ApplyRequest, Attribute, AttributePath, Block, Context, Diagnostics, PlanRequest, Resource,
    Schema, Type, Value,
};
use crate::kms::KeyProvider;
use crate::provider::ProviderSettings;
use async_trait::async_trait;

/// The resource.
pub struct CmkBinding;

const DEFAULTS: LifecyclePolicy = LifecyclePolicy::DEFAULT;
const DEFAULT_ROTATE_AFTER_DAYS: i64 = DEFAULTS.rotate_after_days;
const DEFAULT_DECRYPT_WINDOW_DAYS: i64 = DEFAULTS.decrypt_window_days;
const DEFAULT_SEAL_GRACE_DAYS: i64 = DEFAULTS.seal_grace_days;
const DEFAULT_ACTIVATION_DELAY_SECONDS: i64 = DEFAULTS.activation_delay_seconds;
const DEFAULT_RETENTION_DAYS: i64 = 30;
const DEFAULT_RUN_DAYS: i64 = 30;
/// The shortest activation delay: Kubernetes projects a changed Secret into running pods within
/// the kubelet's sync period plus its cache's TTL (about a minute each by default; "Mounted
/// Secrets are updated automatically", kubernetes.io/docs/concepts/configuration/secret), and the
/// codec server and workers then reload within their reload interval (10 s by default).
pub(crate) const MIN_ACTIVATION_DELAY_SECONDS: i64 = 300;
const MAX_ACTIVATION_DELAY_SECONDS: i64 = 7 * 86_400;

/// Why the keyring's record of the customer key changes in this plan, if it does.
fn location_change(doc: &KeyringDocument, planned: &Value) -> Option<String> {
    if !backends::known(planned) {
        return Some(
            "the customer key settings are known only at apply; the keyring records them then"
                .into(),
        );
    }
    let planned_location = backends::location(planned);
    if planned_location == doc.customer_key {
        return None;
    }
    Some(match &doc.customer_key {
        None => format!(
            "record the customer key ({}) in the keyring document, so the document alone says which key unwraps it",
            describe(planned_location.as_ref())
        ),
        Some(_) => format!(
            "customer key settings change from {} to {}: apply first checks that the new settings unwrap the primary data key",
            describe(doc.customer_key.as_ref()),
            describe(planned_location.as_ref())
        ),
    })
}

/// Checks, before any data key is made, that the named customer key exists and can wrap: no
/// backend may create or upsert a customer key (a misspelt Vault key name would otherwise make a
/// new Transit key that nobody set a policy on).
async fn customer_key_usable(provider: &dyn crate::kms::KeyProvider) -> Result<(), String> {
    use crate::kms::{Backend, KmsErrorKind};
    let how_to_create = |backend: Backend| match backend {
        Backend::VaultTransit => {
            "create it with `vault write -f transit/keys/<name>` (type aes256-gcm96) and grant the provider read, encrypt, decrypt and rewrap on it"
        }
        Backend::AwsKms => {
            "create a symmetric ENCRYPT_DECRYPT key (`aws kms create-key`) and name it by ARN or alias"
        }
        Backend::AzureKeyVault => {
            "create an RSA key in the vault (`az keyvault key create`) with wrapKey and unwrapKey permitted"
        }
        Backend::GcpKms => {
            "create a symmetric ENCRYPT_DECRYPT crypto key (`gcloud kms keys create --purpose encryption`)"
        }
        _ => "create it first",
    };
    match provider.describe_key().await {
        Ok(d) if d.enabled => Ok(()),
        Ok(d) => Err(format!(
            "{} reports key {} disabled, or of a type that cannot encrypt: enable it, or name a symmetric encryption key",
            provider.backend(),
            d.key
        )),
        Err(e) if matches!(e.kind, KmsErrorKind::KeyNotFound(_)) => Err(format!(
            "{e}. The key must exist before the binding is created: {}",
            how_to_create(provider.backend())
        )),
        Err(e) => Err(format!(
            "{e}. The key must be readable before the binding is created."
        )),
    }
}

/// `backend { setting = value, ... }` for messages (settings are never secret).
fn describe(location: Option<&crate::codec::CustomerKeyLocation>) -> String {
    location.map_or_else(
        || "not recorded".to_string(),
        |l| {
            let settings: Vec<String> = l
                .settings
                .iter()
                .map(|(k, v)| format!("{k} = {v:?}"))
                .collect();
            format!("{} {{ {} }}", l.backend, settings.join(", "))
        },
    )
}

/// Proves `provider` reaches the customer key that wrapped `doc`'s data keys.
async fn unwraps_primary(doc: &KeyringDocument, provider: &dyn KeyProvider) -> Result<(), String> {
    let primary = doc
        .newest_active()
        .ok_or("the keyring has no active data key")?;
    provider
        .unwrap(&primary.wrapped, &doc.context(&primary.id))
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

fn policy(v: &Value) -> LifecyclePolicy {
    let number = |name: &str, default: i64| v.get(name).as_i64().unwrap_or(default);
    LifecyclePolicy {
        rotate_after_days: number("rotate_after_days", DEFAULT_ROTATE_AFTER_DAYS),
        decrypt_window_days: number("decrypt_window_days", DEFAULT_DECRYPT_WINDOW_DAYS),
        seal_grace_days: number("seal_grace_days", DEFAULT_SEAL_GRACE_DAYS),
        activation_delay_seconds: number(
            "activation_delay_seconds",
            DEFAULT_ACTIVATION_DELAY_SECONDS,
        ),
    }
}

/// The keys named in `retire_key_ids`, valid ones only (invalid ones are reported at validation).
fn requested_retirements(v: &Value) -> Vec<KeyId> {
    match v.get("retire_key_ids") {
        Value::Set(ids) => ids
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|s| KeyId::new(s).ok())
            .collect(),
        _ => Vec::new(),
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
    let now = clock::now_unix();
    let primary = doc
        .sealing_key_at(now)
        .map(|k| k.id.to_string())
        .unwrap_or_default();
    let pending = doc.newest_active().filter(|k| k.times().pending_at(now));
    let version = kms_key_version.map_or(Value::Null, Value::String);
    state.set("id", Value::string(doc.scope.to_string()));
    state.set("keyring", Value::string(doc.to_json()));
    state.set("primary_key_id", Value::string(primary));
    state.set(
        "pending_key_id",
        pending.map_or(Value::Null, |k| Value::string(k.id.to_string())),
    );
    state.set(
        "pending_activates_at",
        pending.map_or(Value::Null, |k| {
            Value::string(clock::rfc3339(k.activates_unix_seconds))
        }),
    );
    state.set(
        "key_ids",
        Value::List(
            doc.keys
                .iter()
                .filter(|k| k.state != KeyState::Retired)
                .map(|k| Value::string(k.id.to_string()))
                .collect(),
        ),
    );
    state.set(
        "next_rotation_at",
        lifecycle::next_rotation_at(doc, &policy(base))
            .map_or(Value::Null, |t| Value::string(clock::rfc3339(t))),
    );
    state.set("wrapped_under_version", version.clone());
    state.set("kms_key_version", version);
    state
}

const KEYRING_OUTPUTS: [&str; 7] = [
    "keyring",
    "primary_key_id",
    "pending_key_id",
    "pending_activates_at",
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
                    .default(Value::int(DEFAULT_ROTATE_AFTER_DAYS))
                    .validate(IntegerBetween { min: 1, max: 3650 })
                    .description("Age at which the primary data key is replaced. Default 90."),
                Attribute::new("decrypt_window_days", Type::Number)
                    .default(Value::int(DEFAULT_DECRYPT_WINDOW_DAYS))
                    .validate(IntegerBetween { min: 1, max: 36500 })
                    .description("How long a replaced data key keeps decrypting before it is retired. At least `namespace_retention_days + longest_workflow_run_days`. Default 400."),
                Attribute::new("namespace_retention_days", Type::Number)
                    .default(Value::int(DEFAULT_RETENTION_DAYS))
                    .validate(IntegerBetween { min: 1, max: 36500 })
                    .description("The longest retention of the namespaces whose payloads these keys seal. Default 30."),
                Attribute::new("longest_workflow_run_days", Type::Number)
                    .default(Value::int(DEFAULT_RUN_DAYS))
                    .validate(IntegerBetween { min: 0, max: 36500 })
                    .description("The longest a workflow run stays open. Default 30."),
                Attribute::new("seal_grace_days", Type::Number)
                    .default(Value::int(DEFAULT_SEAL_GRACE_DAYS))
                    .validate(IntegerBetween { min: 1, max: 365 })
                    .description("How long past its rotation date a data key may still seal, for writers that have not loaded its successor; after that they refuse to seal (and say to reload the keyring). The decrypt window counts from this end. Default 30."),
                Attribute::new("activation_delay_seconds", Type::Number)
                    .default(Value::int(DEFAULT_ACTIVATION_DELAY_SECONDS))
                    .validate(IntegerBetween { min: MIN_ACTIVATION_DELAY_SECONDS, max: MAX_ACTIVATION_DELAY_SECONDS })
                    .description("How long a new data key stays pending (every reader loads it, no writer seals with it) before writers seal with it. Must exceed the time a changed keyring takes to reach every codec server and worker: Kubernetes Secret propagation (about two minutes) plus their reload interval. Default 3600 (one hour)."),
                Attribute::new("retire_key_ids", Type::set(Type::String))
                    .description("Data keys to retire early. Refused for the primary key and for keys inside their decrypt window."),
                Attribute::new("deletion_protection", Type::Bool)
                    .default(Value::Bool(true))
                    .description("While true, destroy is refused: destroying the binding discards the only record of the wrapped data keys. Default true."),
                computed("id", Type::String, "The scope."),
                computed("keyring", Type::String, "The keyring document (JSON): wrapped data keys only, safe to store."),
                computed("primary_key_id", Type::String, "The data key that sealed new payloads at the last apply."),
                computed("pending_key_id", Type::String, "A data key added by a rotation that writers do not seal with yet (null when none)."),
                computed("pending_activates_at", Type::String, "When the pending key starts sealing (RFC 3339; null when none)."),
                computed("key_ids", Type::list(Type::String), "Data keys that still decrypt."),
                computed("next_rotation_at", Type::String, "When the primary key is due for replacement (RFC 3339)."),
                computed("wrapped_under_version", Type::String, "The customer key version the data keys are wrapped under, where the KMS versions keys."),
                Attribute::new("kms_key_version", Type::String).computed().description("The customer key's newest version in the KMS, read at refresh."),
            ],
        );
        Schema::new(backends::add_blocks(block))
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(scope) = config.get("scope").as_str()
            && let Err(e) = KeyId::new(scope)
        {
            diags.attribute_error(AttributePath::root("scope"), "Invalid scope", e.to_string());
        }
        let configured = backends::configured(config);
        if configured.len() != 1 && backends::blocks_known(config) {
            diags.error(
                "Exactly one key backend",
                format!(
                    "Configure exactly one of {}; found {}.",
                    backends::names(),
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
                .or(Some(DEFAULT_DECRYPT_WINDOW_DAYS))
                .filter(|_| !config.get("decrypt_window_days").is_unknown()),
            days("namespace_retention_days")
                .or(Some(DEFAULT_RETENTION_DAYS))
                .filter(|_| !config.get("namespace_retention_days").is_unknown()),
            days("longest_workflow_run_days")
                .or(Some(DEFAULT_RUN_DAYS))
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
        let known_or = |name: &str, default: i64| {
            let v = config.get(name);
            if v.is_unknown() {
                None
            } else {
                Some(v.as_i64().unwrap_or(default))
            }
        };
        if let (Some(grace), Some(delay)) = (
            known_or("seal_grace_days", DEFAULT_SEAL_GRACE_DAYS),
            known_or("activation_delay_seconds", DEFAULT_ACTIVATION_DELAY_SECONDS),
        ) && grace.saturating_mul(86_400) <= delay
        {
            diags.attribute_error(
                AttributePath::root("seal_grace_days"),
                "Seal grace shorter than the activation delay",
                format!("seal_grace_days = {grace} ends a key's sealing before its successor, added when rotation falls due, finishes its activation_delay_seconds = {delay}: writers would have no key to seal with. Set seal_grace_days above the activation delay, in days."),
            );
        }
        backends::validate(config, diags);
        if !backends::block_of(config, "local").is_null() {
            diags.attribute_warning(
                AttributePath::root("local"),
                "DEVELOPMENT ONLY: the customer key is a local file",
                "The `local` key backend keeps the key that wraps the data keys in a file on this machine, outside any KMS: no customer control, no audit, no revocation. Use aws_kms, azure_key_vault, gcp_kms or vault_transit for any data that matters.",
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
        let requested = requested_retirements(planned);
        let observed = Observed {
            now,
            live_version: req.prior.get("kms_key_version").as_str(),
            wrapped_version: req.prior.get("wrapped_under_version").as_str(),
            retire_requested: &requested,
        };
        let steps = match lifecycle::due(&doc, &policy, &observed) {
            Ok(steps) => steps,
            Err(refused) => {
                diags.attribute_error(
                    AttributePath::root("retire_key_ids"),
                    "Data key cannot be retired yet",
                    format!("{refused}. Remove it from retire_key_ids; it is retired automatically when its window ends."),
                );
                return;
            }
        };
        if let Ok(sealing) = doc.sealing_key_at(now)
            && let Some(end) = sealing.seal_until_unix_seconds
            && end <= now
        {
            diags.warning(
                "Writers have stopped sealing",
                format!(
                    "Data key {} stopped sealing at {} and no successor has activated: workers and the codec server refuse to encode until this apply adds a new key and its activation delay ({} s) passes. Apply promptly; rotation fell due on {}.",
                    sealing.id,
                    clock::rfc3339(end),
                    policy.activation_delay_seconds,
                    lifecycle::next_rotation_at(&doc, &policy).map_or_else(String::new, clock::rfc3339)
                ),
            );
        }
        let mut reasons: Vec<String> = steps.iter().map(Step::to_string).collect();
        if doc.activation_delay_seconds != policy.activation_delay_seconds {
            reasons.push(format!(
                "record activation_delay_seconds = {} in the keyring document",
                policy.activation_delay_seconds
            ));
        }
        if let Some(reason) = location_change(&doc, planned) {
            reasons.push(reason);
        }
        if reasons.is_empty() {
            planned.set(
                "next_rotation_at",
                lifecycle::next_rotation_at(&doc, &policy)
                    .map_or(Value::Null, |t| Value::string(clock::rfc3339(t))),
            );
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
        let provider = match backends::key_provider(req.config).await {
            Ok(p) => p,
            Err(e) => {
                diags.error("Cannot use the customer key", e);
                return (Value::Null, Vec::new());
            }
        };
        if let Err(problem) = customer_key_usable(provider.as_ref()).await {
            diags.error("The customer key cannot be used", problem);
            return (Value::Null, Vec::new());
        }
        let version = provider
            .describe_key()
            .await
            .ok()
            .and_then(|d| d.latest_version);
        let created = lifecycle::create(
            scope,
            &policy(req.planned),
            provider.as_ref(),
            clock::now_unix(),
            version.as_deref(),
        )
        .await;
        let mut doc = match created {
            Ok(done) => done.document,
            Err(e) => {
                diags.error("Could not create the first data key", e.to_string());
                return (Value::Null, Vec::new());
            }
        };
        doc.customer_key = backends::location(req.planned);
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
        let unchecked = |diags: &mut Diagnostics, reason: &str| {
            diags.warning(
                "The customer key could not be checked",
                format!(
                    "{} could not be read during refresh: {reason}. This plan cannot tell whether the data keys need re-wrapping under a newer customer key version, or whether the key is still enabled. Make the KMS reachable with credentials at plan time (for example VAULT_TOKEN in the environment) and plan again.",
                    describe(backends::location(&state).as_ref())
                ),
            );
        };
        match backends::key_provider(&state).await {
            Err(e) => unchecked(diags, &e),
            Ok(provider) => match provider.describe_key().await {
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
                Err(e) => unchecked(diags, &e.to_string()),
            },
        }
        Some((state, private.to_vec()))
    }

    async fn update(
        &self,
        _ctx: &Context<ProviderSettings>,
        req: &ApplyRequest<'_>,
        diags: &mut Diagnostics,
    ) -> (Value, Vec<u8>) {
        let Some(doc) = document(req.prior, diags) else {
            return (req.prior.clone(), Vec::new());
        };
        let provider = match backends::key_provider(req.config).await {
            Ok(p) => p,
            Err(e) => {
                diags.error("Cannot use the customer key", e);
                return (req.prior.clone(), Vec::new());
            }
        };
        let location = backends::location(req.planned);
        if location != doc.customer_key
            && let Err(e) = unwraps_primary(&doc, provider.as_ref()).await
        {
            diags.error(
                "The customer key does not unwrap this keyring",
                format!("{e}. The data keys are wrapped under the customer key recorded in the keyring ({}); the new settings must reach that same key (a new address or region for it, not another key). To move to another key, create a new binding and keep this one until the payloads it sealed have expired.", describe(doc.customer_key.as_ref())),
            );
            return (req.prior.clone(), Vec::new());
        }
        let requested = requested_retirements(req.planned);
        let live = req.prior.get("kms_key_version");
        let observed = Observed {
            now: clock::now_unix(),
            live_version: live.as_str(),
            wrapped_version: req.prior.get("wrapped_under_version").as_str(),
            retire_requested: &requested,
        };
        let advanced = match lifecycle::advance(
            &doc,
            &policy(req.planned),
            provider.as_ref(),
            &observed,
        )
        .await
        {
            Ok(advanced) => advanced,
            Err(e) => {
                diags.error(
                        "Could not carry out the key maintenance",
                        format!("{e}. The keyring is unchanged; fix the cause (KMS access, retire_key_ids) and apply again."),
                    );
                return (req.prior.clone(), Vec::new());
            }
        };
        let mut doc = advanced.document;
        doc.customer_key = location;
        let mut state = with_keyring(req.planned, &doc, advanced.wrapped_version);
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

    async fn import(
        &self,
        ctx: &Context<ProviderSettings>,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<Value> {
        let doc = import::document(ctx, id, diags).await?;
        let base = import::configuration(&doc, diags)?;
        let provider = match backends::key_provider(&base).await {
            Ok(p) => p,
            Err(e) => {
                diags.error("Cannot use the customer key", e);
                return None;
            }
        };
        if let Err(e) = unwraps_primary(&doc, provider.as_ref()).await {
            diags.error(
                "The customer key does not unwrap this keyring",
                format!("{e}. Import checks the keyring against the customer key it names ({}); check the credentials in the environment (VAULT_TOKEN, AWS_*, AZURE_*, the metadata server) and that the document is the right one.", describe(doc.customer_key.as_ref())),
            );
            return None;
        }
        let version = provider
            .describe_key()
            .await
            .ok()
            .and_then(|d| d.latest_version);
        Some(with_keyring(&base, &doc, version))
    }
}
