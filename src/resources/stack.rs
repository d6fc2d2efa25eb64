//! The CRUD of resources that are one deployed stack (`engram_temporal_cluster`,
//! `engram_codec_server`, `engram_keyring_secret`): a spec read from the resource's attributes,
//! rendered into Kubernetes objects, applied with a timeout, refreshed as drift, deleted,
//! imported by `NAMESPACE/NAME`. Each resource says only what differs: its spec type, renderer
//! and computed attributes.

use super::deploy_support::{self as support, spec_from_value, value_from_spec};
use crate::deploy::{DriftReport, Kind, ObjectId, Rendered, SpecError};
use crate::framework::timeouts;
use crate::framework::{
    ApplyRequest, AttributePath, Context, Diagnostics, PlanRequest, Resource, Value,
};
use crate::provider::ProviderSettings;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// A resource whose state is one deployed stack.
pub trait DeployedStack: Resource<ProviderSettings> + Default {
    /// The deploy module's spec of the stack.
    type Spec: DeserializeOwned + Serialize + Send + Sync;
    /// Attributes the spec holds (the rest are computed or Terraform-only).
    const SPEC_ATTRIBUTES: &'static [&'static str];
    /// How long create and update may take unless `timeouts` says otherwise.
    const APPLY_TIMEOUT: Duration;
    /// How long delete may take unless `timeouts` says otherwise.
    const DELETE_TIMEOUT: Duration;

    /// The stack's Kubernetes objects.
    fn render_spec(spec: &Self::Spec) -> Result<Rendered, SpecError>;

    /// The state after a successful apply of `spec`: `planned` with the computed attributes.
    fn applied_state(planned: &Value, spec: &Self::Spec) -> Value;

    /// The diagnostic for a create that finds `object` already there, held by `holder`
    /// (something other than engram, or another engram deployment): the attribute that chose
    /// its name, and what to do. A namespace comes from `create_namespace`; anything else from
    /// `name`.
    fn already_held(object: &ObjectId, holder: &str) -> (AttributePath, String, String) {
        if object.kind == Kind::Namespace {
            return (
                AttributePath::root("create_namespace"),
                format!("{object} already exists"),
                format!(
                    "It belongs to {holder}, and a namespace this resource created would be deleted with it on destroy. Set `create_namespace = false` to deploy into the existing namespace."
                ),
            );
        }
        (
            AttributePath::root("name"),
            format!("{object} already exists"),
            format!(
                "It belongs to {holder}; a create does not take over an object that only shares its name. Choose another `name`, delete that object, or `terraform import` it if it is this resource's own."
            ),
        )
    }
}

/// The spec from a plan or state value; problems become diagnostics on their attribute.
pub fn spec<S: DeployedStack>(
    value: &Value,
    default_namespace: &str,
    diags: &mut Diagnostics,
) -> Option<S::Spec> {
    spec_from_value(
        value,
        S::SPEC_ATTRIBUTES,
        &[("namespace", default_namespace)],
        diags,
    )
}

/// Checks a fully known configuration as the spec it becomes, after the schema's validators
/// (whose findings are in `diags`): each spec problem once, on its attribute, unless a validator
/// already named that attribute; a configuration that does not even form a spec is reported only
/// when the validators found nothing (otherwise it is their consequence).
pub fn validate_spec<S: DeployedStack>(config: &Value, diags: &mut Diagnostics) {
    let mut found = Diagnostics::default();
    match spec::<S>(config, "temporal", &mut found) {
        Some(spec) => {
            if let Err(e) = S::render_spec(&spec) {
                support::spec_problems(&e, &S::default().schema().value_type(), &mut found);
            }
            diags.extend_new_errors(found);
        }
        None if !diags.has_errors() => diags.extend(found),
        None => {}
    }
}

/// The spec and its objects for a plan or state value.
pub fn render<S: DeployedStack>(
    value: &Value,
    settings: &ProviderSettings,
    diags: &mut Diagnostics,
) -> Option<(S::Spec, Rendered)> {
    let spec = spec::<S>(value, &settings.default_namespace, diags)?;
    match S::render_spec(&spec) {
        Ok(rendered) => Some((spec, rendered)),
        Err(e) => {
            support::spec_problems(&e, &S::default().schema().value_type(), diags);
            None
        }
    }
}

/// Plans the spec attributes (except `keep`): the configuration with the spec's defaults filled
/// in and other resources' unknown outputs kept unknown, so the plan shows the values apply
/// will use. Clears the drift the last refresh found, since apply repairs it. Returns the spec
/// for the resource's own planning.
pub fn plan<S: DeployedStack>(
    stack: &S,
    ctx: &Context<ProviderSettings>,
    req: &PlanRequest<'_>,
    planned: &mut Value,
    keep: &[&str],
    diags: &mut Diagnostics,
) -> Option<S::Spec> {
    let default_namespace = ctx
        .provider
        .as_ref()
        .map_or_else(|| "temporal".to_string(), |p| p.default_namespace.clone());
    let ty = stack.schema().value_type();
    let config = support::known_or_placeholder(req.config, &ty);
    let spec = spec::<S>(&config, &default_namespace, diags)?;
    let from_spec = value_from_spec(&spec, &ty);
    for name in S::SPEC_ATTRIBUTES.iter().filter(|n| !keep.contains(n)) {
        let mut value = from_spec.get(name).clone();
        support::overlay_unknowns(&mut value, req.config.get(name));
        planned.set(name, value);
    }
    let namespace_from_provider = req.config.get("namespace").is_null()
        && ctx
            .provider
            .as_ref()
            .is_some_and(|p| p.default_namespace_unknown);
    if namespace_from_provider {
        planned.set("namespace", Value::Unknown);
    }
    // A namespace this resource created carries its labels, so destroy would still delete it
    // (and whatever else runs there) after the flag was turned off: refuse the hand-over.
    if req.prior.get("create_namespace").as_bool() == Some(true)
        && planned.get("create_namespace").as_bool() == Some(false)
    {
        diags.attribute_error(
            AttributePath::root("create_namespace"),
            "The namespace cannot be handed over",
            "This resource created its namespace and deletes it on destroy, with everything in it; with create_namespace turned off the namespace would stay labelled as this resource's and still be deleted. Keep create_namespace = true, or deploy into a namespace made elsewhere (another `namespace` replaces the resource).",
        );
    }
    if let Value::List(lines) = req.prior.get("drift")
        && !lines.is_empty()
    {
        planned.set("drift", Value::List(Vec::new()));
    }
    Some(spec)
}

/// Create (when there is no prior state) or update: applies the planned spec and waits for the
/// rollout. A failed create deletes what it made; a failed update keeps the prior state.
pub async fn create_or_update<S: DeployedStack>(
    ctx: &Context<ProviderSettings>,
    req: &ApplyRequest<'_>,
    diags: &mut Diagnostics,
) -> (Value, Vec<u8>) {
    let unchanged = (req.prior.clone(), Vec::new());
    let Some(settings) = ctx.provider(diags) else {
        return unchanged;
    };
    let Some((spec, rendered)) = render::<S>(req.planned, &settings, diags) else {
        return unchanged;
    };
    let creating = req.prior.is_null();
    if creating && !nothing_held::<S>(&settings, &rendered, diags).await {
        return unchanged;
    }
    let operation = if creating { "create" } else { "update" };
    let timeout = timeouts::get(req.config, operation, S::APPLY_TIMEOUT, diags);
    if support::apply(&settings, &rendered, timeout, &ctx.cancel, creating, diags).await {
        (S::applied_state(req.planned, &spec), Vec::new())
    } else {
        unchanged
    }
}

/// Whether none of the objects a create would write exists as someone else's (one GET each);
/// otherwise one diagnostic per such object, and nothing is written.
async fn nothing_held<S: DeployedStack>(
    settings: &ProviderSettings,
    rendered: &Rendered,
    diags: &mut Diagnostics,
) -> bool {
    let Some(deployer) = support::deployer(settings, diags).await else {
        return false;
    };
    match deployer.held_by_others(rendered).await {
        Ok(held) => {
            for (object, holder) in &held {
                let (path, summary, detail) = S::already_held(object, holder);
                diags.attribute_error(path, summary, detail);
            }
            held.is_empty()
        }
        Err(e) => {
            diags.error(
                "Cannot check the objects this resource would create",
                e.to_string(),
            );
            false
        }
    }
}

/// What a refresh found.
pub enum Refresh<Spec> {
    /// Every object is gone: the resource no longer exists.
    Gone,
    /// The live objects could not be read (an error diagnostic says why).
    Unread,
    /// The live objects, compared with the spec in state.
    Found {
        /// The provider's settings, for further checks.
        settings: Arc<ProviderSettings>,
        /// The spec in state.
        spec: Spec,
        /// The differences.
        report: DriftReport,
    },
}

/// A refresh whose only computed result is `drift`: the state with the differences found, or
/// `None` when every object is gone.
pub async fn read_with_drift<S: DeployedStack>(
    ctx: &Context<ProviderSettings>,
    state: &Value,
    private: &[u8],
    diags: &mut Diagnostics,
) -> Option<(Value, Vec<u8>)> {
    match refresh::<S>(ctx, state, diags).await {
        Refresh::Gone => None,
        Refresh::Unread => Some((state.clone(), private.to_vec())),
        Refresh::Found { report, .. } => {
            let mut new_state = state.clone();
            new_state.set("drift", support::drift_value(&report));
            Some((new_state, private.to_vec()))
        }
    }
}

/// Compares the live objects with the spec in `state`.
pub async fn refresh<S: DeployedStack>(
    ctx: &Context<ProviderSettings>,
    state: &Value,
    diags: &mut Diagnostics,
) -> Refresh<S::Spec> {
    let Some(settings) = ctx.provider(diags) else {
        return Refresh::Unread;
    };
    let Some((spec, rendered)) = render::<S>(state, &settings, diags) else {
        return Refresh::Unread;
    };
    match support::drift(&settings, &rendered, diags).await {
        None => Refresh::Unread,
        Some(None) => Refresh::Gone,
        Some(Some(report)) => Refresh::Found {
            settings,
            spec,
            report,
        },
    }
}

/// Deletes every object of the stack in `prior`.
pub async fn delete<S: DeployedStack>(
    ctx: &Context<ProviderSettings>,
    prior: &Value,
    diags: &mut Diagnostics,
) {
    let Some(settings) = ctx.provider(diags) else {
        return;
    };
    let Some((_, rendered)) = render::<S>(prior, &settings, diags) else {
        return;
    };
    let timeout = timeouts::get(prior, "delete", S::DELETE_TIMEOUT, diags);
    support::destroy(&settings, &rendered.owner, timeout, &ctx.cancel, diags).await;
}

/// An import ID `NAMESPACE/NAME`, or an error diagnostic with `example`.
pub fn import_id<'a>(
    id: &'a str,
    example: &str,
    diags: &mut Diagnostics,
) -> Option<(&'a str, &'a str)> {
    let label = |s: &str| crate::deploy::is_dns_label(s, 63);
    match id.split_once('/') {
        Some((namespace, name)) if label(namespace) && label(name) => Some((namespace, name)),
        _ => {
            // The ID's shape only, never its text: it may be anything a person pasted.
            diags.error(
                "Invalid import ID",
                format!(
                    "The import ID must be NAMESPACE/NAME: two Kubernetes names (lower-case letters, digits and '-') separated by one '/', e.g. `{example}`."
                ),
            );
            None
        }
    }
}
