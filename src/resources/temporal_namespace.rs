//! `engram_temporal_namespace`: a Temporal namespace with its retention, description, owner and
//! the codec endpoint and key binding its payloads use (recorded in the namespace's data so
//! operators and tools can find them).

use crate::framework::plan_modifiers::{RequiresReplace, UseStateForUnknown};
use crate::framework::validators::IntegerBetween;
use crate::framework::{
    ApplyRequest, Attribute, AttributePath, Block, Context, Diagnostics, Resource, Schema, Type,
    Value,
};
use crate::provider::ProviderSettings;
use crate::temporal::{NamespaceInfo, NamespaceSpec, TemporalClient};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::time::Duration;

/// Data key recording the codec endpoint.
pub const CODEC_ENDPOINT_KEY: &str = "engram.dev/codec-endpoint";
/// Data key recording the key binding.
pub const CMK_BINDING_KEY: &str = "engram.dev/cmk-binding";
/// Temporal's own namespace, which this resource must never manage.
const SYSTEM_NAMESPACE: &str = "temporal-system";
const DAY: u64 = 86_400;

/// The resource.
pub struct TemporalNamespace;

fn spec_from(config: &Value) -> NamespaceSpec {
    let text = |name: &str| config.get(name).as_str().unwrap_or_default().to_string();
    let mut data: BTreeMap<String, String> = match config.get("data") {
        Value::Map(m) => m
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect(),
        _ => BTreeMap::new(),
    };
    for (key, attr) in [
        (CODEC_ENDPOINT_KEY, "codec_endpoint"),
        (CMK_BINDING_KEY, "cmk_binding_id"),
    ] {
        if let Some(v) = config.get(attr).as_str() {
            data.insert(key.to_string(), v.to_string());
        }
    }
    NamespaceSpec {
        name: text("name"),
        description: text("description"),
        owner_email: text("owner_email"),
        retention: Duration::from_secs(
            config.get("retention_days").as_i64().unwrap_or(3).max(0) as u64 * DAY,
        ),
        data,
    }
}

fn state_from(info: &NamespaceInfo) -> Value {
    let mut data = info.spec.data.clone();
    let codec = data.remove(CODEC_ENDPOINT_KEY);
    let binding = data.remove(CMK_BINDING_KEY);
    let opt = |v: Option<String>| v.map_or(Value::Null, Value::String);
    Value::object([
        ("id", Value::string(info.id.clone())),
        ("name", Value::string(info.spec.name.clone())),
        ("description", Value::string(info.spec.description.clone())),
        ("owner_email", Value::string(info.spec.owner_email.clone())),
        (
            "retention_days",
            Value::int((info.spec.retention.as_secs() / DAY) as i64),
        ),
        ("codec_endpoint", opt(codec)),
        ("cmk_binding_id", opt(binding)),
        (
            "data",
            Value::Map(
                data.into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ),
        ),
    ])
}

async fn client<'a>(
    ctx: &'a Context<ProviderSettings>,
    settings: &'a Option<std::sync::Arc<ProviderSettings>>,
    diags: &mut Diagnostics,
) -> Option<&'a TemporalClient> {
    let _ = ctx;
    let settings = settings.as_ref()?;
    match settings.temporal_client().await {
        Ok(c) => Some(c),
        Err(e) => {
            diags.error("Cannot reach Temporal", e.to_string());
            None
        }
    }
}

/// Reads the namespace back after a write, so state holds what the server stored.
async fn read_back(client: &TemporalClient, name: &str, diags: &mut Diagnostics) -> Value {
    match client.describe_namespace(name).await {
        Ok(Some(info)) => state_from(&info),
        Ok(None) => {
            diags.error(
                format!("Namespace {name} vanished"),
                "The namespace was written but could not be read back; run `terraform apply` again.",
            );
            Value::Null
        }
        Err(e) => {
            diags.error(format!("Could not read namespace {name}"), e.to_string());
            Value::Null
        }
    }
}

#[async_trait]
impl Resource<ProviderSettings> for TemporalNamespace {
    fn type_name(&self) -> &'static str {
        "engram_temporal_namespace"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new(
            "A Temporal namespace on the cluster the provider's `temporal` block points at.",
            vec![
                Attribute::new("id", Type::String)
                    .computed()
                    .plan(UseStateForUnknown)
                    .description("The namespace's server-assigned id."),
                Attribute::new("name", Type::String)
                    .required()
                    .plan(RequiresReplace {
                        reason: "Temporal namespaces cannot be renamed: Terraform will delete this namespace, with its workflows and their histories, and register a new one. To keep the workflows, add a second namespace instead.",
                    })
                    .description("The namespace name (letters, digits, `.`, `_`, `-`)."),
                Attribute::new("description", Type::String)
                    .default(Value::string(""))
                    .description("Free text shown in the Web UI."),
                Attribute::new("owner_email", Type::String)
                    .default(Value::string(""))
                    .description("Who to contact about this namespace."),
                Attribute::new("retention_days", Type::Number)
                    .default(Value::int(3))
                    .validate(IntegerBetween { min: 1, max: 3650 })
                    .description("Days closed workflows' histories are kept, 1 to 3650. Default 3."),
                Attribute::new("codec_endpoint", Type::String)
                    .description("The codec server URL that decrypts this namespace's payloads for the Web UI and CLI."),
                Attribute::new("cmk_binding_id", Type::String)
                    .description("The `engram_cmk_binding` whose keys encrypt this namespace's payloads."),
                Attribute::new("data", Type::map(Type::String))
                    .default(Value::Map(BTreeMap::new()))
                    .description("Additional key/value data stored with the namespace."),
            ],
        ))
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(name) = config.get("name").as_str() {
            let valid_chars = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if name.is_empty() || name.len() > 255 || !valid_chars {
                diags.attribute_error(
                    AttributePath::root("name"),
                    "Invalid name",
                    format!("{name:?} is not a namespace name: use 1 to 255 letters, digits, `.`, `_` or `-`."),
                );
            } else if name == SYSTEM_NAMESPACE {
                diags.attribute_error(
                    AttributePath::root("name"),
                    "Reserved namespace",
                    "temporal-system is Temporal's own namespace and cannot be managed; choose another name.",
                );
            }
        }
        if let Some(email) = config.get("owner_email").as_str()
            && !email.is_empty()
            && !email.contains('@')
        {
            diags.attribute_error(
                AttributePath::root("owner_email"),
                "Invalid owner_email",
                format!("{email:?} is not an email address; give one like \"platform@example.com\" or leave it out."),
            );
        }
        if let Some(url) = config.get("codec_endpoint").as_str()
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            diags.attribute_error(
                AttributePath::root("codec_endpoint"),
                "Invalid codec_endpoint",
                format!("{url:?} is not a URL; give the codec server as https://HOST[:PORT]. The Web UI sends access tokens only to https endpoints."),
            );
        }
        if let Value::Map(m) = config.get("data") {
            for key in m.keys().filter(|k| k.starts_with("engram.dev/")) {
                diags.attribute_error(
                    AttributePath::root("data").key(key),
                    "Reserved data key",
                    "Keys under engram.dev/ are set from codec_endpoint and cmk_binding_id; use those attributes.",
                );
            }
        }
    }

    async fn create(
        &self,
        ctx: &Context<ProviderSettings>,
        req: &ApplyRequest<'_>,
        diags: &mut Diagnostics,
    ) -> (Value, Vec<u8>) {
        let settings = ctx.provider(diags);
        let Some(client) = client(ctx, &settings, diags).await else {
            return (Value::Null, Vec::new());
        };
        let spec = spec_from(req.planned);
        if let Err(e) = client.register_namespace(&spec).await {
            let detail = if e.code() == Some(tonic::Code::AlreadyExists) {
                format!(
                    "Namespace {} already exists. Bring it under Terraform with `terraform import engram_temporal_namespace.<name> {}`.",
                    spec.name, spec.name
                )
            } else {
                e.to_string()
            };
            diags.error(
                format!("Could not register namespace {}", spec.name),
                detail,
            );
            return (Value::Null, Vec::new());
        }
        (read_back(client, &spec.name, diags).await, Vec::new())
    }

    async fn read(
        &self,
        ctx: &Context<ProviderSettings>,
        state: &Value,
        private: &[u8],
        diags: &mut Diagnostics,
    ) -> Option<(Value, Vec<u8>)> {
        let settings = ctx.provider(diags);
        let client = client(ctx, &settings, diags).await?;
        let name = state.get("name").as_str().unwrap_or_default();
        match client.describe_namespace(name).await {
            Ok(Some(info)) if info.state != "DELETED" => {
                Some((state_from(&info), private.to_vec()))
            }
            Ok(_) => None,
            Err(e) => {
                diags.error(format!("Could not read namespace {name}"), e.to_string());
                Some((state.clone(), private.to_vec()))
            }
        }
    }

    async fn update(
        &self,
        ctx: &Context<ProviderSettings>,
        req: &ApplyRequest<'_>,
        diags: &mut Diagnostics,
    ) -> (Value, Vec<u8>) {
        let settings = ctx.provider(diags);
        let Some(client) = client(ctx, &settings, diags).await else {
            return (req.prior.clone(), Vec::new());
        };
        let spec = spec_from(req.planned);
        if let Err(e) = client.update_namespace(&spec).await {
            diags.error(
                format!("Could not update namespace {}", spec.name),
                e.to_string(),
            );
            return (req.prior.clone(), Vec::new());
        }
        (read_back(client, &spec.name, diags).await, Vec::new())
    }

    async fn delete(
        &self,
        ctx: &Context<ProviderSettings>,
        prior: &Value,
        _private: &[u8],
        diags: &mut Diagnostics,
    ) {
        let settings = ctx.provider(diags);
        let Some(client) = client(ctx, &settings, diags).await else {
            return;
        };
        let name = prior.get("name").as_str().unwrap_or_default();
        match client.delete_namespace(name).await {
            Ok(()) => {}
            Err(e) if e.code() == Some(tonic::Code::NotFound) => {}
            Err(e) => diags.error(format!("Could not delete namespace {name}"), e.to_string()),
        }
    }

    async fn import(
        &self,
        ctx: &Context<ProviderSettings>,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<Value> {
        let settings = ctx.provider(diags);
        let client = client(ctx, &settings, diags).await?;
        match client.describe_namespace(id).await {
            Ok(Some(info)) => Some(state_from(&info)),
            Ok(None) => {
                diags.error(
                    format!("Namespace {id} not found"),
                    "The import ID is the namespace name; check it with `temporal operator namespace list`.",
                );
                None
            }
            Err(e) => {
                diags.error(format!("Could not read namespace {id}"), e.to_string());
                None
            }
        }
    }
}
