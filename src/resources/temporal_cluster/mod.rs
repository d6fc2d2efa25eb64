//! `engram_temporal_cluster`: a whole Temporal deployment on Kubernetes (servers, Web UI, schema
//! jobs, policies, monitoring) from the deploy module's spec. `history_shard_count` can never
//! change for a cluster's database, so changing it replaces the cluster, and the plan says what
//! that means. Refresh compares the live objects with the spec (only fields engram owns), so a
//! person's edit shows as drift while server defaults and autoscalers do not.

use super::deploy_support::{self as support, value_from_spec};
use super::stack::{self, DeployedStack, Refresh};
use crate::deploy::{self, Rendered, SpecError, TemporalClusterSpec};
use crate::framework::plan_modifiers::{RequiresReplace, UseStateForUnknown};
use crate::framework::timeouts;
use crate::framework::validators::{IntegerBetween, NotBlank};
use crate::framework::{
    ApplyRequest, Attribute, AttributePath, Block, Context, Diagnostics, PlanRequest, Resource,
    Schema, Type, Value,
};
use crate::provider::ProviderSettings;
use async_trait::async_trait;
use std::time::Duration;

mod schema;

/// The resource.
#[derive(Default)]
pub struct TemporalCluster;

/// Planned as configured: a dynamic value whose type Terraform keeps (a `constraints = {}` or a
/// `1.0` the spec would write differently must not change the plan).
const DYNAMIC_CONFIG: &str = "dynamic_config";

const SHARD_REPLACEMENT: &str = "Temporal fixes numHistoryShards when a cluster's database is first initialized. A different count needs a new cluster: Terraform will delete this one and create an empty one; workflow histories are not migrated. If this is not intended, keep the old value. To size a new cluster, see the engram_history_shards data source and docs/guides/shard-sizing.md.";

fn computed(name: &str, ty: Type, description: &str) -> Attribute {
    Attribute::new(name, ty)
        .computed()
        .plan(UseStateForUnknown)
        .description(description)
}

impl DeployedStack for TemporalCluster {
    type Spec = TemporalClusterSpec;
    const SPEC_ATTRIBUTES: &'static [&'static str] = &[
        "name",
        "namespace",
        "version",
        "history_shard_count",
        "create_namespace",
        "images",
        "services",
        "web_ui",
        "admin_tools",
        "persistence",
        "authorization",
        "tls",
        "metrics",
        "network",
        "priority_class_name",
        DYNAMIC_CONFIG,
    ];
    const APPLY_TIMEOUT: Duration = Duration::from_secs(30 * 60);
    const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

    fn render_spec(spec: &TemporalClusterSpec) -> Result<Rendered, SpecError> {
        deploy::render_temporal_cluster(spec)
    }

    fn applied_state(planned: &Value, spec: &TemporalClusterSpec) -> Value {
        let mut state = planned.clone();
        let from_spec = value_from_spec(spec, &TemporalCluster.schema().value_type());
        for name in Self::SPEC_ATTRIBUTES {
            if *name == DYNAMIC_CONFIG {
                continue;
            }
            state.set(name, from_spec.get(name).clone());
        }
        state.set(
            "id",
            Value::string(format!("{}/{}", spec.namespace, spec.name)),
        );
        state.set(
            "frontend_address",
            Value::string(format!(
                "{}-frontend.{}.svc:7233",
                spec.name, spec.namespace
            )),
        );
        state.set("drift", Value::List(Vec::new()));
        state.set(
            "live_history_shard_count",
            Value::int(spec.history_shard_count.into()),
        );
        if state.get("deletion_protection").is_null() {
            state.set("deletion_protection", Value::Bool(true));
        }
        state
    }
}

/// Refuses at plan time a version change Temporal cannot take (a skipped minor, a downgrade),
/// with the path to take, instead of letting apply find out.
fn check_version_step(prior: &Value, planned: &Value, diags: &mut Diagnostics) {
    let parse = |v: &Value| v.get("version").as_str().and_then(|s| s.parse().ok());
    if let (Some(from), Some(to)) = (parse(prior), parse(planned))
        && let Err(e) = deploy::check_upgrade(from, to)
    {
        diags.attribute_error(
            AttributePath::root("version"),
            "Unsupported Temporal version change",
            e.to_string(),
        );
    }
}

/// Checks the shard count the running cluster reports, when the provider can reach it.
async fn check_live_shards(
    settings: &ProviderSettings,
    spec: &TemporalClusterSpec,
    diags: &mut Diagnostics,
) {
    let Ok(client) = settings.temporal_client().await else {
        return;
    };
    match client.cluster_info().await {
        // The rendered configuration names the cluster after the resource
        // (`clusterMetadata.currentClusterName`), which GetClusterInfo reports back: another
        // name is another cluster, whose shard count says nothing about this one.
        Ok(info) if info.cluster_name != spec.name => diags.attribute_warning(
            AttributePath::root("history_shard_count"),
            "Shard count not checked against the running cluster",
            format!(
                "The provider's `temporal` block reaches the Temporal cluster `{}`, not `{}`, so its shard count ({}) was not compared. Point `temporal.address` at this cluster's frontend, `{}-frontend.{}.svc:7233`, for the check.",
                info.cluster_name,
                spec.name,
                info.history_shard_count,
                spec.name,
                spec.namespace
            ),
        ),
        Ok(info) => {
            let reported = u32::try_from(info.history_shard_count).unwrap_or_default();
            if let Err(e) = deploy::check_cluster_shard_count(spec.history_shard_count, reported) {
                diags.attribute_error(
                    AttributePath::root("history_shard_count"),
                    "Shard count mismatch",
                    e.to_string(),
                );
            }
        }
        Err(e) => {
            tracing::info!(error = %e, "Temporal frontend not reachable; shard count checked from the configuration only")
        }
    }
}

#[async_trait]
impl Resource<ProviderSettings> for TemporalCluster {
    fn type_name(&self) -> &'static str {
        "engram_temporal_cluster"
    }

    fn schema(&self) -> Schema {
        let identity = vec![
                computed("id", Type::String, "`namespace/name`."),
                Attribute::new("name", Type::String)
                    .required()
                    .validate(NotBlank)
                    .plan(RequiresReplace { reason: "The cluster's name prefixes every object; renaming creates a new cluster and deletes this one." })
                    .description("The cluster's name: prefix of every object."),
                Attribute::new("namespace", Type::String)
                    .optional_computed()
                    .plan(RequiresReplace { reason: "Moving a cluster to another namespace creates a new cluster there and deletes this one." })
                    .description("Kubernetes namespace; the provider's `default_namespace` when unset."),
                Attribute::new("version", Type::String)
                    .required()
                    .description("Temporal server version, e.g. `1.29.1`. Upgrades run the schema update first and go one minor version at a time."),
                Attribute::new("history_shard_count", Type::Number)
                    .required()
                    .validate(IntegerBetween { min: 1, max: 16384 })
                    .plan(RequiresReplace { reason: SHARD_REPLACEMENT })
                    .description("Temporal's numHistoryShards. **Fixed for the life of the cluster**: changing it replaces the cluster. Size it with `engram_history_shards`."),
            ];
        let computed_and_guards = vec![
                Attribute::new("deletion_protection", Type::Bool)
                    .default(Value::Bool(true))
                    .description("While true, destroy and replacement are refused. Default true."),
                computed("frontend_address", Type::String, "The frontend's in-cluster gRPC address."),
                Attribute::new("drift", Type::list(Type::String))
                    .computed()
                    .description("Differences between the live objects and the spec found at the last refresh, one line each; apply repairs them."),
                Attribute::new("live_history_shard_count", Type::Number)
                    .computed()
                    .description("The shard count in the running server configuration."),
            ];
        let block = Block::new(
            "A Temporal cluster on Kubernetes: frontend, history, matching and worker services, Web UI, schema jobs, network policies, Pod Security and monitoring rules, applied with server-side apply.",
            identity
                .into_iter()
                .chain(schema::spec_attributes())
                .chain(computed_and_guards)
                .collect(),
        );
        Schema::new(timeouts::add_block(block, &["create", "update", "delete"]))
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(count) = config
            .get("history_shard_count")
            .as_i64()
            .and_then(|n| u64::try_from(n).ok())
            && count > 0
            && !count.is_power_of_two()
        {
            diags.attribute_warning(
                AttributePath::root("history_shard_count"),
                "Shard count is not a power of two",
                format!(
                    "{count} shards is accepted, but the count can never change later, and engram_history_shards recommends powers of two, which divide evenly among history pods as they are added; {} or {} would be the usual choice.",
                    count.next_power_of_two() / 2,
                    count.next_power_of_two()
                ),
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
        requires_replace: &mut Vec<AttributePath>,
        diags: &mut Diagnostics,
    ) {
        let protected = req.prior.get("deletion_protection").as_bool() == Some(true);
        if planned.is_null() || !requires_replace.is_empty() {
            if protected && !req.prior.is_null() {
                diags.error(
                    "Deletion protection is on",
                    format!(
                        "This plan would {} the Temporal cluster {}, deleting its servers; a new cluster starts with an empty history. If that is intended, set deletion_protection = false, apply, then run this change again.",
                        if planned.is_null() { "destroy" } else { "replace" },
                        req.prior.get("id").as_str().unwrap_or_default()
                    ),
                );
            }
            if planned.is_null() {
                return;
            }
        }
        let planned_spec = stack::plan(self, ctx, req, planned, &[DYNAMIC_CONFIG], diags);
        if planned_spec.is_none() || req.prior.is_null() {
            return;
        }
        check_version_step(req.prior, planned, diags);
        let spec_changed = Self::SPEC_ATTRIBUTES
            .iter()
            .any(|a| planned.get(a) != req.prior.get(a));
        if spec_changed {
            planned.set("live_history_shard_count", Value::Unknown);
        }
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
        match stack::refresh::<Self>(ctx, state, diags).await {
            Refresh::Gone => None,
            Refresh::Unread => Some((state.clone(), private.to_vec())),
            Refresh::Found {
                settings,
                spec,
                report,
            } => {
                check_live_shards(&settings, &spec, diags).await;
                let mut new_state = state.clone();
                new_state.set("drift", support::drift_value(&report));
                new_state.set(
                    "live_history_shard_count",
                    report
                        .live_shard_count
                        .map_or(Value::Null, |n| Value::int(n.into())),
                );
                Some((new_state, private.to_vec()))
            }
        }
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
        if prior.get("deletion_protection").as_bool() == Some(true) {
            diags.error(
                "Deletion protection is on",
                "Set deletion_protection = false and apply before destroying this cluster.",
            );
            return;
        }
        stack::delete::<Self>(ctx, prior, diags).await;
    }

    async fn import(
        &self,
        ctx: &Context<ProviderSettings>,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<Value> {
        let settings = ctx.provider(diags)?;
        let (namespace, name) = stack::import_id(id, "temporal/prod", diags)?;
        let deployer = support::deployer(&settings, diags).await?;
        match deployer.import_temporal_cluster(namespace, name).await {
            Ok(spec) => {
                let mut state = Self::applied_state(&Value::Object(Default::default()), &spec);
                if !spec.dynamic_config.is_empty() {
                    let from_spec = value_from_spec(&spec, &self.schema().value_type());
                    state.set(DYNAMIC_CONFIG, from_spec.get(DYNAMIC_CONFIG).clone());
                }
                Some(state)
            }
            Err(e) => {
                diags.error(
                    format!("Cannot import Temporal cluster {id}"),
                    e.to_string(),
                );
                None
            }
        }
    }
}
