//! The `engram` provider: its configuration (how to reach the Kubernetes API and the Temporal
//! frontend) and the settings every resource shares. Nothing connects at configure time; a
//! client is built when an operation first needs it, so a plan with only data sources works
//! with no cluster at all.

mod settings;

pub use settings::{ClientError, KubernetesSettings, ProviderSettings, TemporalSettings};

use crate::data_sources::history_shards::HistoryShards;
use crate::data_sources::security_evidence::SecurityEvidence;
use crate::data_sources::temporal_cluster_info::TemporalClusterInfo;
use crate::framework::validators::NotBlank;
use crate::framework::{
    Attribute, Block, DataSource, Diagnostics, Nesting, Provider, Resource, Schema, Type, Value,
};
use crate::resources::cmk_binding::CmkBinding;
use crate::resources::codec_server::CodecServer;
use crate::resources::keyring_secret::KeyringSecret;
use crate::resources::temporal_cluster::TemporalCluster;
use crate::resources::temporal_namespace::TemporalNamespace;
use async_trait::async_trait;
use std::sync::Arc;

/// The provider's registry address (`required_providers { engram = { source = "engram/engram" } }`).
pub const ADDRESS: &str = "registry.terraform.io/engram/engram";

/// The engram provider.
pub struct EngramProvider;

fn kubernetes_block() -> Block {
    Block::new(
        "How to reach the Kubernetes API. Leave it out to use `KUBECONFIG` or `~/.kube/config` (or the in-cluster service account).",
        vec![
            Attribute::new("config_path", Type::String)
                .description("Path to a kubeconfig file.")
                .validate(NotBlank),
            Attribute::new("config_context", Type::String)
                .description("The kubeconfig context to use; the file's current context when unset.")
                .validate(NotBlank),
            Attribute::new("host", Type::String)
                .description("API server URL, e.g. `https://10.0.0.1:6443`. Use with `token` and `cluster_ca_certificate` instead of a kubeconfig."),
            Attribute::new("token", Type::String)
                .sensitive()
                .description("Bearer token for `host`. Never stored in state."),
            Attribute::new("cluster_ca_certificate", Type::String)
                .description("PEM-encoded CA certificate of the API server at `host`."),
        ],
    )
}

fn temporal_block() -> Block {
    Block::new(
        "How to reach the Temporal frontend for namespace management and live checks (cluster info, shard count).",
        vec![
            Attribute::new("address", Type::String)
                .description("Frontend `host:port`, e.g. `temporal-frontend.temporal:7233`."),
            Attribute::new("ca_certificate", Type::String)
                .description("PEM CA that signed the frontend's certificate; enables TLS."),
            Attribute::new("client_certificate", Type::String)
                .description("PEM client certificate for mutual TLS."),
            Attribute::new("client_key", Type::String)
                .sensitive()
                .description("PEM private key of `client_certificate`. Never stored in state."),
            Attribute::new("server_name", Type::String)
                .description("TLS server name to verify, when it differs from the address's host."),
            Attribute::new("api_key", Type::String)
                .sensitive()
                .description(&format!("API key or bearer token (a JWT from your identity provider) sent as `authorization: Bearer ...` on every call, for a frontend with authorization on. Default: the `{}` environment variable. Never stored in state.", crate::temporal::API_KEY_VARIABLE)),
        ],
    )
}

#[async_trait]
impl Provider for EngramProvider {
    type Data = ProviderSettings;

    fn type_name(&self) -> &'static str {
        "engram"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Deploys self-hosted Temporal on Kubernetes with payloads encrypted under customer-managed keys.",
                vec![Attribute::new("default_namespace", Type::String)
                    .description("Kubernetes namespace for resources that do not name one. Default `temporal`.")
                    .validate(NotBlank)],
            )
            .block("kubernetes", Nesting::List, kubernetes_block(), 1)
            .block("temporal", Nesting::List, temporal_block(), 1),
        )
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        settings::validate(config, diags);
    }

    async fn configure(&self, config: &Value, diags: &mut Diagnostics) -> Option<ProviderSettings> {
        settings::validate(config, diags);
        (!diags.has_errors()).then(|| ProviderSettings::from_config(config))
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<ProviderSettings>>> {
        vec![
            Arc::new(CmkBinding),
            Arc::new(CodecServer),
            Arc::new(KeyringSecret),
            Arc::new(TemporalCluster),
            Arc::new(TemporalNamespace),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<ProviderSettings>>> {
        vec![
            Arc::new(HistoryShards),
            Arc::new(TemporalClusterInfo),
            Arc::new(SecurityEvidence),
        ]
    }
}
