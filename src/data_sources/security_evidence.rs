//! `engram_security_evidence`: the security-evidence report (crate::evidence) read during a
//! plan, so a pipeline can archive it and, with `fail_on_failure`, a plan fails when a control
//! fails. The Temporal frontend is the provider's `temporal` block.

use crate::codec::KeyringDocument;
use crate::codec::lifecycle::LifecyclePolicy;
use crate::evidence::facts::codec_http::ProbeToken;
use crate::evidence::facts::live_objects::KubeTarget;
use crate::evidence::{Inputs, gather, render};
use crate::framework::{
    Attribute, AttributePath, Block, Context, DataSource, Diagnostics, Schema, Type, Value,
};
use crate::provider::ProviderSettings;
use async_trait::async_trait;

/// The data source.
pub struct SecurityEvidence;

fn optional(name: &str, ty: Type, description: &str) -> Attribute {
    Attribute::new(name, ty).description(description)
}

fn computed(name: &str, ty: Type, description: &str) -> Attribute {
    Attribute::new(name, ty).computed().description(description)
}

#[async_trait]
impl DataSource<ProviderSettings> for SecurityEvidence {
    fn type_name(&self) -> &'static str {
        "engram_security_evidence"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new(
            "Reads facts from the running system and reports each security control (see the security-evidence guide).",
            vec![
                optional(
                    "namespaces",
                    Type::List(Box::new(Type::String)),
                    "Namespaces whose workflow histories (the newest, and some older) are sampled for encryption at rest.",
                ),
                optional(
                    "keyring_json",
                    Type::String,
                    "The keyring document (e.g. `engram_cmk_binding`'s `keyring_json`).",
                ),
                optional(
                    "codec_url",
                    Type::String,
                    "The codec server's base URL, e.g. `https://codec.example:8443`.",
                ),
                optional(
                    "ca_certificate",
                    Type::String,
                    "PEM CA of the codec server's certificate.",
                ),
                optional(
                    "probe_token",
                    Type::String,
                    "A token that holds no right on `probe_namespace`: a decode there with it must be refused with 403. Used for the probe only: never written into the state or the report.",
                )
                .sensitive(),
                optional(
                    "probe_namespace",
                    Type::String,
                    "The namespace `probe_token` holds no right on.",
                ),
                optional(
                    "audit_log_path",
                    Type::String,
                    "A file holding the codec server's audit trail (its stdout, JSON lines) since it started, compared with the decode traffic its metrics count.",
                ),
                optional(
                    "temporal_cluster",
                    Type::String,
                    "The Temporal cluster (`engram_temporal_cluster`'s `name`) whose live Kubernetes objects are read, through the provider's `kubernetes` block: pod security, NetworkPolicies, the codec server's separation, and the server configuration the pods mount.",
                ),
                optional(
                    "kubernetes_namespace",
                    Type::String,
                    "The Kubernetes namespace the Temporal cluster runs in; required with `temporal_cluster`.",
                ),
                optional(
                    "codec_namespace",
                    Type::String,
                    "The Kubernetes namespace of its codec server (default: `kubernetes_namespace`).",
                ),
                optional(
                    "sample_size",
                    Type::Number,
                    "Workflows sampled per namespace (default 20).",
                ),
                optional(
                    "older_sample_size",
                    Type::Number,
                    "Workflows sampled per namespace among those started before a week, a month and a quarter ago each, besides the newest (default 3; 0 reads only the newest).",
                ),
                optional(
                    "rotate_after_days",
                    Type::Number,
                    "The rotation policy the keyring is judged against (default 90).",
                ),
                optional(
                    "describe_customer_key",
                    Type::Bool,
                    "Ask the KMS to describe the customer key the keyring names (enabled, newest version), with the provider process's ambient credentials: `VAULT_TOKEN` for Vault/OpenBao Transit, the AWS default chain, Azure workload or managed identity, the GCE metadata server (default false).",
                ),
                optional(
                    "fail_on_failure",
                    Type::Bool,
                    "Fail the plan when a control fails (default false).",
                ),
                computed(
                    "report_json",
                    Type::String,
                    "The report, JSON, schema engram.security-evidence/v1.",
                ),
                computed("report_markdown", Type::String, "The report as Markdown."),
                computed("report_html", Type::String, "The report as one HTML page."),
                computed("sha256", Type::String, "The report's content hash."),
                computed(
                    "statuses",
                    Type::Map(Box::new(Type::String)),
                    "Each control's status by id: pass, fail or not-checked.",
                ),
                computed(
                    "failed_controls",
                    Type::List(Box::new(Type::String)),
                    "The ids of the controls that failed.",
                ),
            ],
        ))
    }

    async fn read(
        &self,
        ctx: &Context<ProviderSettings>,
        config: &Value,
        diags: &mut Diagnostics,
    ) -> Value {
        let Some(settings) = ctx.provider(diags) else {
            return Value::Null;
        };
        let text = |name: &str| config.get(name).as_str().map(str::to_string);
        let keyring = match text("keyring_json") {
            Some(json) => match KeyringDocument::from_json(&json) {
                Ok(doc) => Some((doc, "keyring_json".to_string())),
                Err(e) => {
                    diags.error("keyring_json is not a keyring document", e.to_string());
                    return Value::Null;
                }
            },
            None => None,
        };
        let namespaces = match config.get("namespaces") {
            Value::List(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let probe_token = match (text("probe_token"), text("probe_namespace")) {
            (Some(token), Some(namespace)) => Some(ProbeToken::new(token, namespace)),
            (None, None) => None,
            (Some(_), None) => {
                diags.attribute_error(
                    AttributePath::root("probe_namespace"),
                    "probe_namespace is missing",
                    "probe_token is set: set probe_namespace to the namespace the token holds no right on.",
                );
                return Value::Null;
            }
            (None, Some(_)) => {
                diags.attribute_error(
                    AttributePath::root("probe_token"),
                    "probe_token is missing",
                    "probe_namespace is set: set probe_token to a token that holds no right on it, or remove probe_namespace.",
                );
                return Value::Null;
            }
        };
        let kubernetes = match (text("temporal_cluster"), text("kubernetes_namespace")) {
            (Some(cluster), Some(namespace)) => match settings.kubernetes_client().await {
                Ok((client, server)) => Some(KubeTarget {
                    client,
                    server,
                    codec_namespace: text("codec_namespace").unwrap_or_else(|| namespace.clone()),
                    namespace,
                    cluster,
                }),
                Err(e) => {
                    diags.error(
                        "Cannot reach Kubernetes for the security evidence",
                        format!("{e}. Check the provider's `kubernetes` block, or remove temporal_cluster."),
                    );
                    return Value::Null;
                }
            },
            (None, None) => None,
            (Some(_), None) => {
                diags.attribute_error(
                    AttributePath::root("kubernetes_namespace"),
                    "kubernetes_namespace is missing",
                    "temporal_cluster is set: set kubernetes_namespace to the Kubernetes namespace the cluster runs in.",
                );
                return Value::Null;
            }
            (None, Some(_)) => {
                diags.attribute_error(
                    AttributePath::root("temporal_cluster"),
                    "temporal_cluster is missing",
                    "kubernetes_namespace is set: set temporal_cluster to the Temporal cluster's name, or remove kubernetes_namespace.",
                );
                return Value::Null;
            }
        };
        let mut sampling = crate::evidence::facts::at_rest::Sampling::default();
        if let Some(n) = config.get("sample_size").as_i64() {
            sampling.workflows_per_namespace = usize::try_from(n.max(1)).unwrap_or(1);
        }
        if let Some(n) = config.get("older_sample_size").as_i64() {
            sampling.older_per_age = usize::try_from(n.max(0)).unwrap_or(0);
        }
        let (kms_environment, vault_token) =
            crate::evidence::facts::customer_key::ambient_credentials();
        let inputs = Inputs {
            temporal: settings.temporal.as_ref().map(|t| t.endpoint()),
            namespaces,
            keyring,
            policy: Some(LifecyclePolicy {
                rotate_after_days: config
                    .get("rotate_after_days")
                    .as_i64()
                    .unwrap_or(LifecyclePolicy::DEFAULT.rotate_after_days),
                ..LifecyclePolicy::DEFAULT
            }),
            codec_url: text("codec_url"),
            probe_token,
            kubernetes,
            audit_log: text("audit_log_path").map(std::path::PathBuf::from),
            ca_pem: text("ca_certificate"),
            sampling,
            describe_customer_key: config.get("describe_customer_key").as_bool() == Some(true),
            kms_environment,
            vault_token,
        };
        let report = gather(&inputs).await;
        let failed: Vec<String> = report.failed().map(|c| c.id.clone()).collect();
        if config.get("fail_on_failure").as_bool() == Some(true) && !failed.is_empty() {
            let details: Vec<String> = report
                .failed()
                .map(|c| format!("{}: {}", c.id, c.summary))
                .collect();
            diags.error(
                "Security controls failed",
                format!(
                    "{}. The report's facts say what was read; fix the system, or set fail_on_failure = false to only record the report.",
                    details.join("; ")
                ),
            );
            return Value::Null;
        }
        let mut out = config.clone();
        // The token served the probe; the state keeps no copy.
        out.set("probe_token", Value::Null);
        out.set("report_json", Value::string(report.to_json()));
        out.set("report_markdown", Value::string(render::markdown(&report)));
        out.set("report_html", Value::string(render::html(&report)));
        out.set("sha256", Value::string(report.sha256.clone()));
        out.set(
            "statuses",
            Value::Map(
                report
                    .controls
                    .iter()
                    .map(|c| (c.id.clone(), Value::string(c.status.label())))
                    .collect(),
            ),
        );
        out.set(
            "failed_controls",
            Value::List(failed.into_iter().map(Value::string).collect()),
        );
        out
    }
}
