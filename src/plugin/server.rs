//! The tfplugin6 `Provider` gRPC service: decodes each request against the right schema, calls
//! the framework provider, and encodes the answer. Types this provider does not offer (list
//! resources, state stores, actions, functions) answer `Unimplemented`; Terraform only calls
//! them for types a provider announces.

use super::convert::{decode, diagnostics, encode, path, schema};
use super::proto::tfplugin6 as pb;
use super::proto::tfplugin6::provider_server::Provider as ProviderRpc;
use crate::framework::plan::plan_attributes;
use crate::framework::validators::validate_block;
use crate::framework::{
    ApplyRequest, Context, DataSource, Diagnostics, EphemeralResource, PlanRequest, Provider,
    Resource, Schema, Type, Value,
};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

type Rpc<T> = Result<Response<T>, Status>;
type EmptyStream<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;

/// A type's implementation with its schema computed once.
struct Typed<T: ?Sized> {
    imp: Arc<T>,
    schema: Schema,
    ty: Type,
}

impl<T: ?Sized> Typed<T> {
    fn new(imp: Arc<T>, schema: Schema) -> Self {
        let ty = schema.value_type();
        Self { imp, schema, ty }
    }
}

/// Serves one framework provider over tfplugin6.
pub struct ProviderService<P: Provider> {
    provider: P,
    provider_schema: Schema,
    resources: BTreeMap<String, Typed<dyn Resource<P::Data>>>,
    data_sources: BTreeMap<String, Typed<dyn DataSource<P::Data>>>,
    ephemeral: BTreeMap<String, Typed<dyn EphemeralResource<P::Data>>>,
    configured: RwLock<Option<Arc<P::Data>>>,
    /// The version of Terraform that configured the provider (ConfigureProvider tells it).
    terraform_version: RwLock<Option<String>>,
    stop: Mutex<CancellationToken>,
}

/// Write-only attributes are understood from Terraform 1.11; an older Terraform treats them as
/// ordinary attributes and would keep their values in state.
const WRITE_ONLY_SINCE: (u32, u32) = (1, 11);

/// Whether a Terraform version (`1.0.3`) predates write-only attributes.
fn before_write_only(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) < WRITE_ONLY_SINCE,
        _ => false,
    }
}

impl<P: Provider> ProviderService<P> {
    /// Collects the provider's types and schemas.
    pub fn new(provider: P) -> Self {
        let resources = provider
            .resources()
            .into_iter()
            .map(|r| (r.type_name().to_string(), Typed::new(r.clone(), r.schema())))
            .collect();
        let data_sources = provider
            .data_sources()
            .into_iter()
            .map(|d| (d.type_name().to_string(), Typed::new(d.clone(), d.schema())))
            .collect();
        let ephemeral = provider
            .ephemeral_resources()
            .into_iter()
            .map(|e| (e.type_name().to_string(), Typed::new(e.clone(), e.schema())))
            .collect();
        Self {
            provider_schema: provider.schema(),
            provider,
            resources,
            data_sources,
            ephemeral,
            configured: RwLock::new(None),
            terraform_version: RwLock::new(None),
            stop: Mutex::new(CancellationToken::new()),
        }
    }

    fn context(&self) -> Context<P::Data> {
        Context {
            provider: self.configured.read().expect("provider data lock").clone(),
            cancel: self.stop.lock().expect("stop token lock").clone(),
        }
    }

    fn resource(&self, name: &str) -> Result<&Typed<dyn Resource<P::Data>>, Status> {
        self.resources.get(name).ok_or_else(|| {
            Status::not_found(format!("this provider has no resource type {name:?}"))
        })
    }

    fn data_source(&self, name: &str) -> Result<&Typed<dyn DataSource<P::Data>>, Status> {
        self.data_sources
            .get(name)
            .ok_or_else(|| Status::not_found(format!("this provider has no data source {name:?}")))
    }

    fn ephemeral(&self, name: &str) -> Result<&Typed<dyn EphemeralResource<P::Data>>, Status> {
        self.ephemeral.get(name).ok_or_else(|| {
            Status::not_found(format!("this provider has no ephemeral resource {name:?}"))
        })
    }

    fn capabilities() -> pb::ServerCapabilities {
        pb::ServerCapabilities {
            plan_destroy: true,
            get_provider_schema_optional: false,
            move_resource_state: false,
            generate_resource_config: false,
        }
    }
}

/// Decodes a configuration and runs the schema's validators, then the type's own checks, which
/// see the validators' findings (so they can keep to one error per wrong value).
fn validate_config(
    config: Option<&pb::DynamicValue>,
    schema: &Schema,
    ty: &Type,
    what: &str,
    check: impl FnOnce(&Value, &mut Diagnostics),
) -> Vec<pb::Diagnostic> {
    let mut diags = Diagnostics::default();
    let config = decode(config, ty, &format!("{what} configuration"), &mut diags);
    if !diags.has_errors() {
        validate_block(&schema.block, &config, None, &mut diags);
        check(&config, &mut diags);
    }
    diagnostics(diags)
}

#[tonic::async_trait]
impl<P: Provider> ProviderRpc for ProviderService<P> {
    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Rpc<pb::get_metadata::Response> {
        use pb::get_metadata as m;
        Ok(Response::new(m::Response {
            server_capabilities: Some(Self::capabilities()),
            resources: self
                .resources
                .keys()
                .map(|n| m::ResourceMetadata {
                    type_name: n.clone(),
                })
                .collect(),
            data_sources: self
                .data_sources
                .keys()
                .map(|n| m::DataSourceMetadata {
                    type_name: n.clone(),
                })
                .collect(),
            ephemeral_resources: self
                .ephemeral
                .keys()
                .map(|n| m::EphemeralMetadata {
                    type_name: n.clone(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Rpc<pb::get_provider_schema::Response> {
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(schema(&self.provider_schema)),
            resource_schemas: self
                .resources
                .iter()
                .map(|(n, t)| (n.clone(), schema(&t.schema)))
                .collect(),
            data_source_schemas: self
                .data_sources
                .iter()
                .map(|(n, t)| (n.clone(), schema(&t.schema)))
                .collect(),
            ephemeral_resource_schemas: self
                .ephemeral
                .iter()
                .map(|(n, t)| (n.clone(), schema(&t.schema)))
                .collect(),
            server_capabilities: Some(Self::capabilities()),
            ..Default::default()
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Rpc<pb::get_resource_identity_schemas::Response> {
        Ok(Response::new(Default::default()))
    }

    async fn get_functions(
        &self,
        _: Request<pb::get_functions::Request>,
    ) -> Rpc<pb::get_functions::Response> {
        Ok(Response::new(Default::default()))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Rpc<pb::validate_provider_config::Response> {
        let req = req.into_inner();
        let s = &self.provider_schema;
        let diagnostics = validate_config(
            req.config.as_ref(),
            s,
            &s.value_type(),
            "provider",
            |c, d| self.provider.validate(c, d),
        );
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics,
        }))
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Rpc<pb::validate_resource_config::Response> {
        let req = req.into_inner();
        let r = self.resource(&req.type_name)?;
        let diagnostics =
            validate_config(req.config.as_ref(), &r.schema, &r.ty, "resource", |c, d| {
                r.imp.validate(c, d)
            });
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics,
        }))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Rpc<pb::validate_data_resource_config::Response> {
        let req = req.into_inner();
        let t = self.data_source(&req.type_name)?;
        let diagnostics = validate_config(
            req.config.as_ref(),
            &t.schema,
            &t.ty,
            "data source",
            |c, d| t.imp.validate(c, d),
        );
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics,
        }))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Rpc<pb::validate_ephemeral_resource_config::Response> {
        let req = req.into_inner();
        let t = self.ephemeral(&req.type_name)?;
        let diagnostics = validate_config(
            req.config.as_ref(),
            &t.schema,
            &t.ty,
            "ephemeral resource",
            |c, d| t.imp.validate(c, d),
        );
        Ok(Response::new(
            pb::validate_ephemeral_resource_config::Response { diagnostics },
        ))
    }

    async fn validate_list_resource_config(
        &self,
        _: Request<pb::validate_list_resource_config::Request>,
    ) -> Rpc<pb::validate_list_resource_config::Response> {
        Err(Status::unimplemented("this provider has no list resources"))
    }

    async fn validate_state_store_config(
        &self,
        _: Request<pb::validate_state_store::Request>,
    ) -> Rpc<pb::validate_state_store::Response> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn validate_action_config(
        &self,
        _: Request<pb::validate_action_config::Request>,
    ) -> Rpc<pb::validate_action_config::Response> {
        Err(Status::unimplemented("this provider has no actions"))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Rpc<pb::upgrade_resource_state::Response> {
        let req = req.into_inner();
        let r = self.resource(&req.type_name)?;
        let mut diags = Diagnostics::default();
        let raw = req.raw_state.map(|s| s.json).unwrap_or_default();
        let upgraded = match serde_json::from_slice::<serde_json::Value>(&raw) {
            Ok(json) => r.imp.upgrade_state(req.version, json, &mut diags),
            Err(e) => {
                diags.error(
                    "Stored state is not JSON",
                    format!("The state of this {} could not be read ({e}); remove it from state and import it.", req.type_name),
                );
                None
            }
        };
        let state = upgraded.and_then(|j| match Value::from_json(&j, &r.ty) {
            Ok(v) => Some(v),
            Err(e) => {
                diags.error(
                    "Stored state does not match the schema",
                    format!("{e}. Remove the resource from state and import it again."),
                );
                None
            }
        });
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state: state.map(|s| encode(&s, &r.ty)),
            diagnostics: diagnostics(diags),
        }))
    }

    async fn upgrade_resource_identity(
        &self,
        _: Request<pb::upgrade_resource_identity::Request>,
    ) -> Rpc<pb::upgrade_resource_identity::Response> {
        Err(Status::unimplemented(
            "this provider's resources have no identity schema",
        ))
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Rpc<pb::configure_provider::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::default();
        let config = decode(
            req.config.as_ref(),
            &self.provider_schema.value_type(),
            "provider configuration",
            &mut diags,
        );
        tracing::info!(terraform_version = %req.terraform_version, "configuring provider");
        *self
            .terraform_version
            .write()
            .expect("terraform version lock") = Some(req.terraform_version.clone());
        if !diags.has_errors()
            && let Some(data) = self.provider.configure(&config, &mut diags).await
        {
            *self.configured.write().expect("provider data lock") = Some(Arc::new(data));
        }
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: diagnostics(diags),
        }))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Rpc<pb::read_resource::Response> {
        let req = req.into_inner();
        let r = self.resource(&req.type_name)?;
        let mut diags = Diagnostics::default();
        let state = decode(
            req.current_state.as_ref(),
            &r.ty,
            "resource state",
            &mut diags,
        );
        let (new_state, private) = if state.is_null() || diags.has_errors() {
            (state, req.private)
        } else {
            match r
                .imp
                .read(&self.context(), &state, &req.private, &mut diags)
                .await
            {
                Some((s, p)) if !diags.has_errors() => (s, p),
                Some(_) => (state, req.private),
                None => (Value::Null, Vec::new()),
            }
        };
        Ok(Response::new(pb::read_resource::Response {
            new_state: Some(encode(&new_state, &r.ty)),
            diagnostics: diagnostics(diags),
            private,
            ..Default::default()
        }))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Rpc<pb::plan_resource_change::Response> {
        let req = req.into_inner();
        tracing::debug!(type_name = %req.type_name, "PlanResourceChange");
        let r = self.resource(&req.type_name)?;
        let mut diags = Diagnostics::default();
        let prior = decode(req.prior_state.as_ref(), &r.ty, "prior state", &mut diags);
        let proposed = decode(
            req.proposed_new_state.as_ref(),
            &r.ty,
            "proposed state",
            &mut diags,
        );
        let config = decode(req.config.as_ref(), &r.ty, "configuration", &mut diags);
        if diags.has_errors() {
            return Ok(Response::new(pb::plan_resource_change::Response {
                diagnostics: diagnostics(diags),
                ..Default::default()
            }));
        }
        let (mut planned, mut requires_replace) = if proposed.is_null() {
            (Value::Null, Vec::new())
        } else {
            let change = plan_attributes(&r.schema, &prior, &proposed, &config);
            diags.extend(change.diagnostics);
            (change.planned, change.requires_replace)
        };
        let plan_req = PlanRequest {
            prior: &prior,
            config: &config,
            private: &req.prior_private,
        };
        r.imp
            .modify_plan(
                &self.context(),
                &plan_req,
                &mut planned,
                &mut requires_replace,
                &mut diags,
            )
            .await;
        let old_terraform = self
            .terraform_version
            .read()
            .expect("terraform version lock")
            .clone()
            .filter(|v| before_write_only(v));
        if let Some(version) = old_terraform {
            for attribute in r.schema.block.write_only_set(&config, None) {
                diags.attribute_error(
                    attribute.clone(),
                    "Write-only attribute needs Terraform 1.11",
                    format!(
                        "Terraform {version} does not know write-only attributes (they arrived in Terraform 1.11) and would keep `{attribute}` in its state. Remove it and give the credential through the environment instead, as the attribute's documentation describes, or use Terraform 1.11 or newer."
                    ),
                );
            }
        }
        r.schema.block.clear_write_only(&mut planned);
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_state: Some(encode(&planned, &r.ty)),
            requires_replace: requires_replace.iter().map(path).collect(),
            planned_private: req.prior_private,
            diagnostics: diagnostics(diags),
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Rpc<pb::apply_resource_change::Response> {
        let req = req.into_inner();
        tracing::debug!(type_name = %req.type_name, "ApplyResourceChange");
        let r = self.resource(&req.type_name)?;
        let mut diags = Diagnostics::default();
        let prior = decode(req.prior_state.as_ref(), &r.ty, "prior state", &mut diags);
        let planned = decode(
            req.planned_state.as_ref(),
            &r.ty,
            "planned state",
            &mut diags,
        );
        let config = decode(req.config.as_ref(), &r.ty, "configuration", &mut diags);
        if diags.has_errors() {
            return Ok(Response::new(pb::apply_resource_change::Response {
                new_state: Some(encode(&prior, &r.ty)),
                private: req.planned_private,
                diagnostics: diagnostics(diags),
                ..Default::default()
            }));
        }
        let ctx = self.context();
        let (mut new_state, private) = if planned.is_null() {
            r.imp
                .delete(&ctx, &prior, &req.planned_private, &mut diags)
                .await;
            if diags.has_errors() {
                (prior.clone(), req.planned_private)
            } else {
                (Value::Null, Vec::new())
            }
        } else {
            let apply = ApplyRequest {
                prior: &prior,
                planned: &planned,
                config: &config,
                private: &req.planned_private,
            };
            if prior.is_null() {
                r.imp.create(&ctx, &apply, &mut diags).await
            } else {
                r.imp.update(&ctx, &apply, &mut diags).await
            }
        };
        if !new_state.is_fully_known() {
            if !diags.has_errors() {
                diags.error(
                    format!("{} left values unknown after apply", req.type_name),
                    "This is a bug in the provider; please report it with the plan output.",
                );
            }
            new_state = prior;
        }
        r.schema.block.clear_write_only(&mut new_state);
        Ok(Response::new(pb::apply_resource_change::Response {
            new_state: Some(encode(&new_state, &r.ty)),
            private,
            diagnostics: diagnostics(diags),
            ..Default::default()
        }))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Rpc<pb::import_resource_state::Response> {
        let req = req.into_inner();
        let r = self.resource(&req.type_name)?;
        let mut diags = Diagnostics::default();
        let state = r.imp.import(&self.context(), &req.id, &mut diags).await;
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources: state
                .filter(|_| !diags.has_errors())
                .map(|s| pb::import_resource_state::ImportedResource {
                    type_name: req.type_name.clone(),
                    state: Some(encode(&s, &r.ty)),
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            diagnostics: diagnostics(diags),
            ..Default::default()
        }))
    }

    async fn move_resource_state(
        &self,
        _: Request<pb::move_resource_state::Request>,
    ) -> Rpc<pb::move_resource_state::Response> {
        Err(Status::unimplemented(
            "this provider does not move state between resource types",
        ))
    }

    async fn generate_resource_config(
        &self,
        _: Request<pb::generate_resource_config::Request>,
    ) -> Rpc<pb::generate_resource_config::Response> {
        Err(Status::unimplemented(
            "this provider does not generate configuration",
        ))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Rpc<pb::read_data_source::Response> {
        let req = req.into_inner();
        let d = self.data_source(&req.type_name)?;
        let mut diags = Diagnostics::default();
        let config = decode(
            req.config.as_ref(),
            &d.ty,
            "data source configuration",
            &mut diags,
        );
        let state = if diags.has_errors() {
            Value::Null
        } else {
            d.imp.read(&self.context(), &config, &mut diags).await
        };
        Ok(Response::new(pb::read_data_source::Response {
            state: (!diags.has_errors()).then(|| encode(&state, &d.ty)),
            diagnostics: diagnostics(diags),
            ..Default::default()
        }))
    }

    async fn open_ephemeral_resource(
        &self,
        req: Request<pb::open_ephemeral_resource::Request>,
    ) -> Rpc<pb::open_ephemeral_resource::Response> {
        let req = req.into_inner();
        let e = self.ephemeral(&req.type_name)?;
        let mut diags = Diagnostics::default();
        let config = decode(
            req.config.as_ref(),
            &e.ty,
            "ephemeral resource configuration",
            &mut diags,
        );
        let (result, private) = if diags.has_errors() {
            (Value::Null, Vec::new())
        } else {
            e.imp.open(&self.context(), &config, &mut diags).await
        };
        Ok(Response::new(pb::open_ephemeral_resource::Response {
            result: Some(encode(&result, &e.ty)),
            private: Some(private),
            diagnostics: diagnostics(diags),
            ..Default::default()
        }))
    }

    async fn renew_ephemeral_resource(
        &self,
        req: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Rpc<pb::renew_ephemeral_resource::Response> {
        let req = req.into_inner();
        Ok(Response::new(pb::renew_ephemeral_resource::Response {
            private: req.private,
            ..Default::default()
        }))
    }

    async fn close_ephemeral_resource(
        &self,
        req: Request<pb::close_ephemeral_resource::Request>,
    ) -> Rpc<pb::close_ephemeral_resource::Response> {
        let req = req.into_inner();
        let e = self.ephemeral(&req.type_name)?;
        let mut diags = Diagnostics::default();
        e.imp
            .close(
                &self.context(),
                req.private.as_deref().unwrap_or_default(),
                &mut diags,
            )
            .await;
        Ok(Response::new(pb::close_ephemeral_resource::Response {
            diagnostics: diagnostics(diags),
        }))
    }

    type ListResourceStream = EmptyStream<pb::list_resource::Event>;

    async fn list_resource(
        &self,
        _: Request<pb::list_resource::Request>,
    ) -> Rpc<Self::ListResourceStream> {
        Err(Status::unimplemented("this provider has no list resources"))
    }

    async fn call_function(
        &self,
        _: Request<pb::call_function::Request>,
    ) -> Rpc<pb::call_function::Response> {
        Err(Status::unimplemented("this provider has no functions"))
    }

    async fn configure_state_store(
        &self,
        _: Request<pb::configure_state_store::Request>,
    ) -> Rpc<pb::configure_state_store::Response> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    type ReadStateBytesStream = EmptyStream<pb::read_state_bytes::Response>;

    async fn read_state_bytes(
        &self,
        _: Request<pb::read_state_bytes::Request>,
    ) -> Rpc<Self::ReadStateBytesStream> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn write_state_bytes(
        &self,
        _: Request<tonic::Streaming<pb::write_state_bytes::RequestChunk>>,
    ) -> Rpc<pb::write_state_bytes::Response> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn lock_state(
        &self,
        _: Request<pb::lock_state::Request>,
    ) -> Rpc<pb::lock_state::Response> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn unlock_state(
        &self,
        _: Request<pb::unlock_state::Request>,
    ) -> Rpc<pb::unlock_state::Response> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn get_states(
        &self,
        _: Request<pb::get_states::Request>,
    ) -> Rpc<pb::get_states::Response> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn delete_state(
        &self,
        _: Request<pb::delete_state::Request>,
    ) -> Rpc<pb::delete_state::Response> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn plan_action(
        &self,
        _: Request<pb::plan_action::Request>,
    ) -> Rpc<pb::plan_action::Response> {
        Err(Status::unimplemented("this provider has no actions"))
    }

    type InvokeActionStream = EmptyStream<pb::invoke_action::Event>;

    async fn invoke_action(
        &self,
        _: Request<pb::invoke_action::Request>,
    ) -> Rpc<Self::InvokeActionStream> {
        Err(Status::unimplemented("this provider has no actions"))
    }

    async fn stop_provider(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Rpc<pb::stop_provider::Response> {
        let previous = std::mem::take(&mut *self.stop.lock().expect("stop token lock"));
        previous.cancel();
        tracing::info!("stop requested: cancelled operations in flight");
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{Attribute, Block};
    use std::time::Duration;

    /// A provider whose one data source waits until it is cancelled.
    struct Waiting;

    struct Slow;

    #[tonic::async_trait]
    impl DataSource<()> for Slow {
        fn type_name(&self) -> &'static str {
            "test_slow"
        }

        fn schema(&self) -> Schema {
            Schema::new(Block::new(
                "",
                vec![Attribute::new("id", Type::String).computed()],
            ))
        }

        async fn read(&self, ctx: &Context<()>, _config: &Value, diags: &mut Diagnostics) -> Value {
            tokio::select! {
                _ = ctx.cancel.cancelled() => {
                    diags.error("Cancelled", "Terraform asked the provider to stop.");
                    Value::Null
                }
                _ = tokio::time::sleep(Duration::from_secs(30)) => Value::object([("id", Value::string("late"))]),
            }
        }
    }

    #[tonic::async_trait]
    impl Provider for Waiting {
        type Data = ();

        fn type_name(&self) -> &'static str {
            "test"
        }

        fn schema(&self) -> Schema {
            Schema::default()
        }

        async fn configure(&self, _config: &Value, _diags: &mut Diagnostics) -> Option<()> {
            Some(())
        }

        fn resources(&self) -> Vec<Arc<dyn Resource<()>>> {
            Vec::new()
        }

        fn data_sources(&self) -> Vec<Arc<dyn DataSource<()>>> {
            vec![Arc::new(Slow)]
        }
    }

    fn read_request() -> Request<pb::read_data_source::Request> {
        Request::new(pb::read_data_source::Request {
            type_name: "test_slow".into(),
            ..Default::default()
        })
    }

    #[tokio::test]
    async fn stop_cancels_work_in_flight_and_the_server_keeps_serving() {
        let service = Arc::new(ProviderService::new(Waiting));
        let reading = {
            let service = service.clone();
            tokio::spawn(async move { service.read_data_source(read_request()).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        service
            .stop_provider(Request::new(pb::stop_provider::Request {}))
            .await
            .unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), reading)
            .await
            .expect("the read ended after stop")
            .unwrap()
            .expect("a complete response, not a transport error")
            .into_inner();
        assert_eq!(answer.diagnostics[0].summary, "Cancelled");
        assert!(answer.state.is_none());

        // A later call gets a fresh token: it is not cancelled by the earlier stop.
        assert!(!service.context().cancel.is_cancelled());
    }

    #[tokio::test]
    async fn unknown_types_are_a_clear_status() {
        let service = ProviderService::new(Waiting);
        let err = service
            .read_data_source(Request::new(pb::read_data_source::Request {
                type_name: "test_missing".into(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        assert!(err.message().contains("test_missing"));
    }

    #[tokio::test]
    async fn schemas_and_metadata_list_every_type() {
        let service = ProviderService::new(Waiting);
        let meta = service
            .get_metadata(Request::new(pb::get_metadata::Request {}))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(meta.data_sources[0].type_name, "test_slow");
        assert!(meta.server_capabilities.unwrap().plan_destroy);
        let schemas = service
            .get_provider_schema(Request::new(pb::get_provider_schema::Request {}))
            .await
            .unwrap()
            .into_inner();
        assert!(schemas.data_source_schemas.contains_key("test_slow"));
    }
}
