//! `engram_temporal_cluster_info`: what a running Temporal cluster says about itself, above all
//! its real history shard count, so a configuration can check it against what it expects.

use crate::framework::{Attribute, Block, Context, DataSource, Diagnostics, Schema, Type, Value};
use crate::provider::ProviderSettings;
use async_trait::async_trait;

/// The data source.
pub struct TemporalClusterInfo;

fn computed(name: &str, ty: Type, description: &str) -> Attribute {
    Attribute::new(name, ty).computed().description(description)
}

#[async_trait]
impl DataSource<ProviderSettings> for TemporalClusterInfo {
    fn type_name(&self) -> &'static str {
        "engram_temporal_cluster_info"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new(
            "Reads the cluster the provider's `temporal` block points at (Temporal's GetClusterInfo).",
            vec![
                computed(
                    "server_version",
                    Type::String,
                    "The Temporal server version.",
                ),
                computed("cluster_name", Type::String, "The cluster's name."),
                computed("cluster_id", Type::String, "The cluster's unique id."),
                computed(
                    "history_shard_count",
                    Type::Number,
                    "The history shard count the cluster was created with. It never changes.",
                ),
                computed(
                    "persistence_store",
                    Type::String,
                    "The persistence store, e.g. `postgres12`.",
                ),
                computed("visibility_store", Type::String, "The visibility store."),
            ],
        ))
    }

    async fn read(
        &self,
        ctx: &Context<ProviderSettings>,
        _config: &Value,
        diags: &mut Diagnostics,
    ) -> Value {
        let Some(settings) = ctx.provider(diags) else {
            return Value::Null;
        };
        let info = match settings.temporal_client().await {
            Ok(client) => client.cluster_info().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match info {
            Ok(i) => Value::object([
                ("server_version", Value::string(i.server_version)),
                ("cluster_name", Value::string(i.cluster_name)),
                ("cluster_id", Value::string(i.cluster_id)),
                (
                    "history_shard_count",
                    Value::int(i.history_shard_count.into()),
                ),
                ("persistence_store", Value::string(i.persistence_store)),
                ("visibility_store", Value::string(i.visibility_store)),
            ]),
            Err(e) => {
                diags.error("Cannot read Temporal cluster info", e);
                Value::Null
            }
        }
    }
}
