//! The traits a provider implements: the provider itself, and its resources, data sources and
//! ephemeral resources. The plugin layer calls these; they never see the protocol.

use super::diag::Diagnostics;
use super::schema::Schema;
use super::value::Value;
use async_trait::async_trait;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What every call gets: the configured provider data and a token that Terraform's
/// StopProvider (Ctrl-C) cancels.
pub struct Context<D> {
    /// The provider's data from `configure`; `None` before Terraform configured the provider
    /// (validation calls).
    pub provider: Option<Arc<D>>,
    /// Cancelled when Terraform asks the provider to stop; long waits must watch it.
    pub cancel: CancellationToken,
}

impl<D> Context<D> {
    /// The provider data, or an error diagnostic when the provider is not configured.
    pub fn provider(&self, diags: &mut Diagnostics) -> Option<Arc<D>> {
        if self.provider.is_none() {
            diags.error(
                "Provider not configured",
                "Terraform called this operation before configuring the engram provider; this is a bug in the calling tool.",
            );
        }
        self.provider.clone()
    }
}

/// A provider: its configuration schema, how it turns configuration into shared data, and the
/// types it offers.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// What resources share after configuration (clients, defaults).
    type Data: Send + Sync + 'static;

    /// The provider's type name, e.g. `engram`.
    fn type_name(&self) -> &'static str;

    /// The `provider "…" {}` block's schema.
    fn schema(&self) -> Schema;

    /// Checks a provider configuration without connecting anywhere.
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}

    /// Builds the shared data. Must not connect to anything that a plan may not need.
    async fn configure(&self, config: &Value, diags: &mut Diagnostics) -> Option<Self::Data>;

    /// The managed resource types.
    fn resources(&self) -> Vec<Arc<dyn Resource<Self::Data>>>;

    /// The data source types.
    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Self::Data>>>;

    /// The ephemeral resource types.
    fn ephemeral_resources(&self) -> Vec<Arc<dyn EphemeralResource<Self::Data>>> {
        Vec::new()
    }
}

/// A data source: reads something and returns it as state.
#[async_trait]
pub trait DataSource<D>: Send + Sync {
    /// Full type name, e.g. `engram_history_shards`.
    fn type_name(&self) -> &'static str;

    /// Its schema.
    fn schema(&self) -> Schema;

    /// Checks configuration beyond the schema's validators (unknown values may appear).
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}

    /// Reads: returns the state (configuration plus computed attributes).
    async fn read(&self, ctx: &Context<D>, config: &Value, diags: &mut Diagnostics) -> Value;
}

/// What `Resource::create`/`update` receive.
pub struct ApplyRequest<'a> {
    /// The state before (null on create).
    pub prior: &'a Value,
    /// The planned state, with unknowns where values are computed.
    pub planned: &'a Value,
    /// The configuration, including write-only attributes.
    pub config: &'a Value,
    /// Opaque data the resource stored last time.
    pub private: &'a [u8],
}

/// The resource's planning hook: adjust the framework's plan or add diagnostics.
pub struct PlanRequest<'a> {
    /// The state before (null on create).
    pub prior: &'a Value,
    /// The configuration.
    pub config: &'a Value,
    /// Opaque data the resource stored last time.
    pub private: &'a [u8],
}

/// A managed resource. The framework does schema validation and standard planning; the resource
/// adds its own checks and talks to the outside world in CRUD.
#[async_trait]
pub trait Resource<D>: Send + Sync {
    /// Full type name, e.g. `engram_temporal_cluster`.
    fn type_name(&self) -> &'static str;

    /// Its schema.
    fn schema(&self) -> Schema;

    /// Checks configuration beyond the schema's validators (unknown values may appear).
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}

    /// Adjusts the planned state after the framework planned it; `planned` is null for a
    /// destroy. `requires_replace` may be extended.
    async fn modify_plan(
        &self,
        _ctx: &Context<D>,
        _req: &PlanRequest<'_>,
        _planned: &mut Value,
        _requires_replace: &mut Vec<super::path::AttributePath>,
        _diags: &mut Diagnostics,
    ) {
    }

    /// Creates the object; returns the new state and private data.
    async fn create(
        &self,
        ctx: &Context<D>,
        req: &ApplyRequest<'_>,
        diags: &mut Diagnostics,
    ) -> (Value, Vec<u8>);

    /// Reads the live object; `None` when it no longer exists.
    async fn read(
        &self,
        ctx: &Context<D>,
        state: &Value,
        private: &[u8],
        diags: &mut Diagnostics,
    ) -> Option<(Value, Vec<u8>)>;

    /// Updates the object in place; returns the new state and private data.
    async fn update(
        &self,
        ctx: &Context<D>,
        req: &ApplyRequest<'_>,
        diags: &mut Diagnostics,
    ) -> (Value, Vec<u8>);

    /// Deletes the object.
    async fn delete(
        &self,
        ctx: &Context<D>,
        prior: &Value,
        private: &[u8],
        diags: &mut Diagnostics,
    );

    /// Builds a state from an import ID; Terraform then calls `read`.
    async fn import(&self, _ctx: &Context<D>, _id: &str, diags: &mut Diagnostics) -> Option<Value> {
        diags.error(
            format!("{} does not support import", self.type_name()),
            "Create the resource with Terraform instead.",
        );
        None
    }

    /// Upgrades stored state JSON from an older schema version to the current one.
    fn upgrade_state(
        &self,
        version: i64,
        state: serde_json::Value,
        diags: &mut Diagnostics,
    ) -> Option<serde_json::Value> {
        let current = self.schema().version;
        if version == current {
            Some(state)
        } else {
            diags.error(
                format!("Cannot upgrade {} state from version {version}", self.type_name()),
                format!(
                    "This provider's schema version is {current} and it has no upgrade from {version}. Use the provider version that wrote this state, or remove the resource from state and import it."
                ),
            );
            None
        }
    }
}

/// An ephemeral resource: a value that exists only during one Terraform run (a token, a key)
/// and is never stored in plan or state.
#[async_trait]
pub trait EphemeralResource<D>: Send + Sync {
    /// Full type name.
    fn type_name(&self) -> &'static str;

    /// Its schema.
    fn schema(&self) -> Schema;

    /// Checks configuration beyond the schema's validators.
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}

    /// Opens it: returns the result and private data for renew/close.
    async fn open(
        &self,
        ctx: &Context<D>,
        config: &Value,
        diags: &mut Diagnostics,
    ) -> (Value, Vec<u8>);

    /// Releases what `open` acquired.
    async fn close(&self, _ctx: &Context<D>, _private: &[u8], _diags: &mut Diagnostics) {}
}
