//! `engram_keyring_secret`: writes a binding's keyring document into a namespace where workers
//! run, as a Secret in the codec server's layout (`keyring.json`), so the workers mount it and
//! reload it when a rotation changes it. One per worker namespace; every reader then has a new
//! key while it is still pending, before any writer seals with it.

use super::deploy_support::{self as support, value_from_spec};
use super::stack::{self, DeployedStack};
use crate::codec::KeyringDocument;
use crate::deploy::{self, KeyringSecretSpec, ObjectId, Rendered, SpecError};
use crate::framework::plan_modifiers::{RequiresReplace, UseStateForUnknown};
use crate::framework::timeouts;
use crate::framework::validators::NotBlank;
use crate::framework::{
    ApplyRequest, Attribute, AttributePath, Block, Context, Diagnostics, PlanRequest, Resource,
    Schema, Type, Value,
};
use crate::provider::ProviderSettings;
use async_trait::async_trait;
use std::time::Duration;

/// The resource.
#[derive(Default)]
pub struct KeyringSecret;

const KEYRING: &str = "keyring";

impl DeployedStack for KeyringSecret {
    type Spec = KeyringSecretSpec;
    const SPEC_ATTRIBUTES: &'static [&'static str] = &["name", "namespace", KEYRING];
    const APPLY_TIMEOUT: Duration = Duration::from_secs(5 * 60);
    const DELETE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

    fn render_spec(spec: &KeyringSecretSpec) -> Result<Rendered, SpecError> {
        deploy::render_keyring_secret(spec)
    }

    fn applied_state(planned: &Value, spec: &KeyringSecretSpec) -> Value {
        let mut state = planned.clone();
        let from_spec = value_from_spec(spec, &KeyringSecret.schema().value_type());
        for name in Self::SPEC_ATTRIBUTES {
            state.set(name, from_spec.get(name).clone());
        }
        state.set("id", Value::string(id(spec)));
        state.set("drift", Value::List(Vec::new()));
        state
    }

    fn already_held(object: &ObjectId, holder: &str) -> (AttributePath, String, String) {
        (
            AttributePath::root("name"),
            format!("{object} already exists"),
            format!(
                "It belongs to {holder}; a keyring Secret does not take over an object that only shares its name. Choose another name (a codec server already keeps its own `<name>-keyring` Secret in its namespace), or delete that Secret first."
            ),
        )
    }
}

fn id(spec: &KeyringSecretSpec) -> String {
    format!("{}/{}", spec.namespace, spec.name)
}

#[async_trait]
impl Resource<ProviderSettings> for KeyringSecret {
    fn type_name(&self) -> &'static str {
        "engram_keyring_secret"
    }

    fn schema(&self) -> Schema {
        let block = Block::new(
            "A binding's keyring document in a Secret (key `keyring.json`) in a namespace where workers run, for them to mount and reload. Wrapped data keys only: the workers unwrap them through the KMS.",
            vec![
                Attribute::new("id", Type::String)
                    .computed()
                    .plan(UseStateForUnknown)
                    .description("`namespace/name`."),
                Attribute::new("name", Type::String)
                    .required()
                    .validate(NotBlank)
                    .plan(RequiresReplace { reason: "Workers mount the Secret by name; renaming creates a new Secret and deletes this one, so update the workers' volume to the new name in the same change." })
                    .description("The Secret's name."),
                Attribute::new("namespace", Type::String)
                    .optional_computed()
                    .plan(RequiresReplace { reason: "Moving the Secret to another namespace creates it there and deletes it here; workers still mounting it here stop starting." })
                    .description("The Kubernetes namespace the workers run in (it must exist); the provider's `default_namespace` when unset."),
                Attribute::new(KEYRING, Type::String)
                    .required()
                    .description("The keyring document: `engram_cmk_binding.<name>.keyring`. Wrapped keys only; a change (a rotation) updates the Secret in place."),
                Attribute::new("drift", Type::list(Type::String))
                    .computed()
                    .description("Differences between the live Secret and the configuration found at the last refresh."),
            ],
        );
        Schema::new(timeouts::add_block(block, &["create", "update", "delete"]))
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(keyring) = config.get(KEYRING).as_str()
            && let Err(e) = KeyringDocument::from_json(keyring)
        {
            diags.attribute_error(
                AttributePath::root(KEYRING),
                "Invalid keyring",
                format!("`keyring` is not a keyring document: {e}. Pass engram_cmk_binding.<name>.keyring unchanged."),
            );
        }
        if config.is_fully_known() {
            stack::validate_spec::<Self>(config, diags);
        }
    }

    async fn modify_plan(
        &self,
        ctx: &Context<ProviderSettings>,
        req: &PlanRequest<'_>,
        planned: &mut Value,
        _requires_replace: &mut Vec<AttributePath>,
        diags: &mut Diagnostics,
    ) {
        if planned.is_null() {
            return;
        }
        let Some(spec) = stack::plan(self, ctx, req, planned, &[], diags) else {
            return;
        };
        // The id follows from name and namespace, which never change in place; apply leaves no
        // drift. Neither needs "known after apply".
        let known = ["name", "namespace"]
            .iter()
            .all(|n| planned.get(n).is_fully_known());
        planned.set(
            "id",
            if known {
                Value::string(id(&spec))
            } else {
                Value::Unknown
            },
        );
        planned.set("drift", Value::List(Vec::new()));
    }

    async fn create(
        &self,
        ctx: &Context<ProviderSettings>,
        req: &ApplyRequest<'_>,
        diags: &mut Diagnostics,
    ) -> (Value, Vec<u8>) {
        stack::create_or_update::<Self>(ctx, req, diags).await
    }

    async fn read(
        &self,
        ctx: &Context<ProviderSettings>,
        state: &Value,
        private: &[u8],
        diags: &mut Diagnostics,
    ) -> Option<(Value, Vec<u8>)> {
        stack::read_with_drift::<Self>(ctx, state, private, diags).await
    }

    async fn update(
        &self,
        ctx: &Context<ProviderSettings>,
        req: &ApplyRequest<'_>,
        diags: &mut Diagnostics,
    ) -> (Value, Vec<u8>) {
        stack::create_or_update::<Self>(ctx, req, diags).await
    }

    async fn delete(
        &self,
        ctx: &Context<ProviderSettings>,
        prior: &Value,
        _private: &[u8],
        diags: &mut Diagnostics,
    ) {
        stack::delete::<Self>(ctx, prior, diags).await;
    }

    async fn import(
        &self,
        ctx: &Context<ProviderSettings>,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<Value> {
        let settings = ctx.provider(diags)?;
        let (namespace, name) = stack::import_id(id, "payments/payments-keyring", diags)?;
        let deployer = support::deployer(&settings, diags).await?;
        match deployer.import_keyring_secret(namespace, name).await {
            Ok(spec) => Some(Self::applied_state(
                &Value::Object(Default::default()),
                &spec,
            )),
            Err(e) => {
                diags.error(format!("Cannot import keyring Secret {id}"), e.to_string());
                None
            }
        }
    }
}
