//! `engram_codec_server`: deploys the codec server (the one place outside workers with key
//! access) with a binding's keyring in a Secret, so the Web UI and CLI can read payloads for
//! authorized users. A keyring change (a rotation) rolls out as a Secret update that the
//! server reloads without failing requests.

use super::deploy_support::{self as support, value_from_spec};
use super::stack::{self, DeployedStack};
use crate::codec::{KeyringDocument, MAX_NAMESPACE_LEN, Namespace};
use crate::deploy::{self, CodecServerSpec, Rendered, SpecError};
use crate::framework::plan_modifiers::{RequiresReplace, UseStateForUnknown};
use crate::framework::timeouts;
use crate::framework::validators::{IntegerBetween, NotBlank, OneOf, Validator};
use crate::framework::{
    ApplyRequest, Attribute, AttributePath, Block, Context, Diagnostics, Nesting, PlanRequest,
    Resource, Schema, Type, Value,
};
use crate::provider::ProviderSettings;
use async_trait::async_trait;
use std::time::Duration;

/// The resource.
#[derive(Default)]
pub struct CodecServer;

/// The keyring is planned as configured: the spec must not replace it with a default.
const KEYRING: &str = "keyring";
/// Planned as configured too: null (unset) and an empty map both mean "none", and the spec,
/// which leaves an empty map out, must not turn one into the other.
const ACCEPTED_SOURCES: &str = "accepted_source_namespaces";

/// Every key and every listed source of `accepted_source_namespaces` is a Temporal namespace.
struct TemporalNamespaces;

impl Validator for TemporalNamespaces {
    fn validate(&self, path: &AttributePath, value: &Value, diags: &mut Diagnostics) {
        let Value::Map(entries) = value else {
            return;
        };
        let bad = |name: &str| Namespace::new(name).is_err();
        for (namespace, sources) in entries {
            let listed: Vec<&str> = match sources {
                Value::List(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            let wrong: Vec<&str> = std::iter::once(namespace.as_str())
                .filter(|n| bad(n))
                .chain(listed.into_iter().filter(|s| bad(s)))
                .collect();
            if !wrong.is_empty() {
                diags.attribute_error(
                    path.clone(),
                    format!("Invalid {path}"),
                    format!(
                        "{} in `{path}` {} not a Temporal namespace name: 1 to {MAX_NAMESPACE_LEN} letters, digits, `-`, `_` or `.`, with at least one letter or digit. Write `{{ <handler namespace> = [<caller namespace>, ...] }}`.",
                        wrong.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>().join(", "),
                        if wrong.len() == 1 { "is" } else { "are" },
                    ),
                );
            }
        }
    }
}

impl DeployedStack for CodecServer {
    type Spec = CodecServerSpec;
    const SPEC_ATTRIBUTES: &'static [&'static str] = &[
        "name",
        "namespace",
        "temporal_cluster",
        "create_namespace",
        "image",
        "replicas",
        KEYRING,
        "kms",
        "tls_secret_name",
        "tls_min_version",
        "cors_origins",
        "oidc",
        ACCEPTED_SOURCES,
        "resources",
        "client_cidrs",
        "ingress_controller",
        "ingress",
    ];
    const APPLY_TIMEOUT: Duration = Duration::from_secs(10 * 60);
    const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

    fn render_spec(spec: &CodecServerSpec) -> Result<Rendered, SpecError> {
        deploy::render_codec_server(spec)
    }

    fn applied_state(planned: &Value, spec: &CodecServerSpec) -> Value {
        let mut state = planned.clone();
        let from_spec = value_from_spec(spec, &CodecServer.schema().value_type());
        for name in Self::SPEC_ATTRIBUTES.iter().filter(|n| **n != KEYRING) {
            if *name == ACCEPTED_SOURCES && !planned.get(name).is_null() {
                continue;
            }
            state.set(name, from_spec.get(name).clone());
        }
        state.set(
            "id",
            Value::string(format!("{}/{}", spec.namespace, spec.name)),
        );
        state.set("endpoint", Value::string(deploy::codec_endpoint(spec)));
        state.set("drift", Value::List(Vec::new()));
        state
    }
}

#[async_trait]
impl Resource<ProviderSettings> for CodecServer {
    fn type_name(&self) -> &'static str {
        "engram_codec_server"
    }

    fn schema(&self) -> Schema {
        let computed = |name: &str, d: &str| {
            Attribute::new(name, Type::String)
                .computed()
                .plan(UseStateForUnknown)
                .description(d)
        };
        let block = Block::new(
            "The codec server: decrypts payloads for Temporal's Web UI and CLI, for authorized users only, with an audit line per request.",
            vec![
                computed("id", "`namespace/name`."),
                Attribute::new("name", Type::String)
                    .required()
                    .validate(NotBlank)
                    .plan(RequiresReplace { reason: "The name prefixes every object of the codec server; renaming deploys a new one and deletes this one." })
                    .description("The codec server's name."),
                Attribute::new("namespace", Type::String)
                    .optional_computed()
                    .plan(RequiresReplace { reason: "Moving the codec server to another namespace deploys a new one there and deletes this one." })
                    .description("Kubernetes namespace; the provider's `default_namespace` when unset."),
                Attribute::new("temporal_cluster", Type::String)
                    .required()
                    .validate(NotBlank)
                    .description("The `engram_temporal_cluster` name whose UI and users it serves."),
                Attribute::new("create_namespace", Type::Bool)
                    .optional_computed()
                    .description("Create (and on destroy, delete) `namespace`, labelled for restricted Pod Security. For a codec server applied before its cluster, when the cluster's `web_ui.codec_endpoint` names this server's `endpoint`: the cluster then sets `create_namespace = false` and is destroyed first. Default false."),
                Attribute::new("image", Type::String).optional_computed().description("Container image. Default: this provider's release."),
                Attribute::new("replicas", Type::Number)
                    .optional_computed()
                    .validate(IntegerBetween { min: 1, max: 100 })
                    .description("Pod count. Default 2."),
                Attribute::new("keyring", Type::String)
                    .required()
                    .description("The keyring document: `engram_cmk_binding.<name>.keyring`. Wrapped keys only; the pods unwrap them through the KMS."),
                Attribute::nested(
                    "kms",
                    Nesting::Single,
                    vec![
                        Attribute::new("provider", Type::String)
                            .required()
                            .validate(OneOf(&["aws", "vault", "azure", "gcp", "local"]))
                            .description("`aws`, `vault`, `azure`, `gcp`, or `local` (development only)."),
                        Attribute::new("env", Type::map(Type::String))
                            .optional_computed()
                            .description("Non-secret settings for the pods, e.g. `VAULT_ADDR`, `ENGRAM_CODEC_AZURE_VAULT_URL`, `ENGRAM_CODEC_GCP_KMS_KEY` (the variables of `engram codec-server --help`)."),
                        Attribute::nested(
                            "workload_identity",
                            Nesting::Single,
                            vec![
                                Attribute::new("aws_role_arn", Type::String).description("IRSA role."),
                                Attribute::new("azure_client_id", Type::String).description("Azure workload identity client id."),
                                Attribute::new("gcp_service_account", Type::String).description("GKE workload identity service account."),
                            ],
                        )
                        .optional_computed()
                        .description("Cloud identity of the pods' service account, so no static credential is needed."),
                    ],
                )
                .required()
                .description("How the pods reach the customer's key."),
                Attribute::new("tls_secret_name", Type::String)
                    .required()
                    .validate(NotBlank)
                    .description("Secret with `tls.crt`/`tls.key`: the Web UI sends access tokens only to https endpoints."),
                Attribute::new("tls_min_version", Type::String)
                    .optional_computed()
                    .validate(OneOf(&["1.2", "1.3"]))
                    .description("The oldest TLS version the server accepts: `1.2` (default) or `1.3` (TLS 1.3 only; every current browser and the `temporal` CLI speak it)."),
                Attribute::new("cors_origins", Type::list(Type::String))
                    .optional_computed()
                    .description("Exact Web UI origins allowed to call the codec server."),
                Attribute::new(ACCEPTED_SOURCES, Type::map(Type::list(Type::String)))
                    .validate(TemporalNamespaces)
                    .description("Temporal namespace → the namespaces whose payloads it may also open (format version 2 payloads are bound to the namespace they were sealed for): for Nexus operations, whose payloads cross namespaces on purpose. E.g. `{ payments = [\"orders\"] }` lets readers of `payments` open what `orders` sealed. Unset: none."),
                Attribute::nested(
                    "oidc",
                    Nesting::Single,
                    vec![
                        Attribute::new("issuer", Type::String).required().description("Token issuer."),
                        Attribute::new("jwks_url", Type::String).required().description("The issuer's JWKS URL."),
                        Attribute::new("audiences", Type::list(Type::String)).required().description("Accepted audiences."),
                        Attribute::new("permissions_claim", Type::String).optional_computed().description("Claim with `namespace:role` permissions. Default `permissions`."),
                        Attribute::new("leeway_seconds", Type::Number).optional_computed().validate(IntegerBetween { min: 0, max: crate::codec::server::MAX_LEEWAY_SECONDS as i64 }).description("Clock skew tolerated on a token's `exp` and `nbf`, in seconds, at most 300. Default `60`."),
                        Attribute::new("jwks_ca_config_map", Type::String).validate(NotBlank).description("For an issuer with a private CA: a ConfigMap in `namespace` whose `ca.crt` holds the CA certificates (PEM) that signed `jwks_url`'s certificate, trusted besides the public roots. The server reads it when it starts: after changing the certificates in the ConfigMap, restart its pods (`kubectl rollout restart`)."),
                    ],
                )
                .required()
                .description("SSO: who may decode (reader) and encode (writer), per namespace. Without it anyone who reaches the server could decrypt."),
                Attribute::nested(
                    "resources",
                    Nesting::Single,
                    vec![
                        Attribute::new("cpu_request", Type::String).optional_computed().description("CPU request. Default `250m`."),
                        Attribute::new("memory_request", Type::String).optional_computed().description("Memory request. Default `512Mi`."),
                        Attribute::new("cpu_limit", Type::String).optional_computed().description("CPU limit. Default `1`."),
                        Attribute::new("memory_limit", Type::String).optional_computed().description("Memory limit. Default `1Gi`."),
                    ],
                )
                .optional_computed()
                .description("CPU and memory requests and limits (Kubernetes quantities); a part given keeps the defaults for the rest."),
                Attribute::new("client_cidrs", Type::list(Type::String))
                    .optional_computed()
                    .description("CIDRs of people's networks allowed to reach the pods directly (the `temporal` CLI, browsers without an ingress). Default none."),
                support::ingress_controller_attribute("browsers' calls (the Web UI runs in the browser, so its calls arrive through the ingress, never from the UI's pods)"),
                support::ingress_attribute("publishes the server to people's browsers (the Web UI calls it from the browser); `endpoint` is then `https://<host>`. The backend speaks TLS on the Service's `https` port: tell the controller so (for ingress-nginx, `nginx.ingress.kubernetes.io/backend-protocol = \"HTTPS\"`)"),
                computed("endpoint", "The URL to give the Web UI (`web_ui.codec_endpoint`) and `temporal --codec-endpoint`: `https://<ingress.host>` with an ingress, otherwise the Service's in-cluster `https://<name>.<namespace>.svc`."),
                Attribute::new("drift", Type::list(Type::String))
                    .computed()
                    .description("Differences between the live objects and the spec found at the last refresh."),
            ],
        );
        Schema::new(timeouts::add_block(block, &["create", "update", "delete"]))
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(keyring) = config.get("keyring").as_str()
            && let Err(e) = KeyringDocument::from_json(keyring)
        {
            diags.attribute_error(
                AttributePath::root("keyring"),
                "Invalid keyring",
                format!("{e}. Pass engram_cmk_binding.<name>.keyring unchanged."),
            );
        }
        if let Value::List(origins) = config.get("cors_origins") {
            for origin in origins.iter().filter_map(Value::as_str) {
                if origin == "*"
                    || !(origin.starts_with("https://") || origin.starts_with("http://"))
                {
                    diags.attribute_error(
                        AttributePath::root("cors_origins"),
                        "Invalid cors_origins",
                        format!("{origin:?} is not an origin; list the Web UI's exact origins such as \"https://temporal.example.com\" (no wildcard: the UI sends credentials)."),
                    );
                }
            }
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
        let Some(spec) = stack::plan(self, ctx, req, planned, &[KEYRING, ACCEPTED_SOURCES], diags)
        else {
            return;
        };
        let mut address = Value::string(deploy::codec_endpoint(&spec));
        for name in ["name", "namespace", "ingress"] {
            if !req.config.get(name).is_fully_known() {
                address = Value::Unknown;
            }
        }
        planned.set("endpoint", address);
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
        let (namespace, name) = stack::import_id(id, "temporal/codec", diags)?;
        let deployer = support::deployer(&settings, diags).await?;
        match deployer.import_codec_server(namespace, name).await {
            Ok(spec) => {
                let mut state = Self::applied_state(&Value::Object(Default::default()), &spec);
                state.set(KEYRING, Value::string(spec.keyring.clone()));
                Some(state)
            }
            Err(e) => {
                diags.error(format!("Cannot import codec server {id}"), e.to_string());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::deploy_support::coverage::{json_paths, type_paths};
    use std::collections::BTreeSet;

    /// A spec that sets every field.
    const EVERY_FIELD: &str = r#"
name: codec
namespace: temporal-prod
temporal_cluster: prod
create_namespace: true
image: ghcr.io/engram-dev/engram:0.1.0
replicas: 3
resources: { cpu_request: 500m }
keyring: '{}'
kms:
  provider: aws
  env: { AWS_REGION: eu-west-1 }
  workload_identity:
    aws_role_arn: arn:aws:iam::123456789012:role/codec
    azure_client_id: 00000000-0000-0000-0000-000000000000
    gcp_service_account: codec@project.iam.gserviceaccount.com
tls_secret_name: codec-tls
tls_min_version: "1.3"
cors_origins: [https://temporal.example.com]
oidc: { issuer: https://login.example.com, jwks_url: https://login.example.com/keys, audiences: [ui], jwks_ca_config_map: idp-ca }
accepted_source_namespaces: { payments: [orders] }
client_cidrs: [10.20.0.0/16]
ingress_controller: { namespace: ingress-nginx, pod_labels: { app: nginx } }
ingress:
  host: codec.example.com
  class_name: nginx
  tls_secret_name: codec-public-tls
  annotations: { nginx.ingress.kubernetes.io/backend-protocol: HTTPS }
"#;

    #[test]
    fn every_spec_field_is_an_attribute_of_the_same_name_and_nothing_else_is() {
        let spec: CodecServerSpec = serde_yaml_ng::from_str(EVERY_FIELD).unwrap();
        let ty = CodecServer.schema().value_type();
        let mut from_spec = BTreeSet::new();
        json_paths(
            &serde_json::to_value(&spec).unwrap(),
            &ty,
            "",
            &mut from_spec,
        );
        let mut from_schema = BTreeSet::new();
        type_paths(&ty, "", &mut from_schema);
        let not_spec = [".id", ".endpoint", ".drift", ".timeouts"];
        from_schema.retain(|p| !not_spec.iter().any(|n| p.starts_with(n)));
        assert_eq!(from_spec, from_schema);
    }
}
