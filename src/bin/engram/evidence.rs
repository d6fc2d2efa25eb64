//! `engram evidence`: read facts from the running system and write the security-evidence
//! report (report.json, report.md, report.html) for a review. Exits 1 when a control fails.

use clap::Args;
use engram::codec::KeyringDocument;
use engram::codec::lifecycle::LifecyclePolicy;
use engram::evidence::facts::at_rest::Sampling;
use engram::evidence::facts::codec_http::ProbeToken;
use engram::evidence::facts::customer_key;
use engram::evidence::facts::live_objects::{self, KubeTarget};
use engram::evidence::{Inputs, gather, render};
use engram::temporal::TemporalEndpoint;
use std::path::PathBuf;

/// `engram evidence --temporal-address host:7233 --namespace default --keyring k.json
/// --codec-url https://codec:8443 --ca-file ca.pem --out evidence/`.
#[derive(Args)]
pub struct EvidenceArgs {
    /// The Temporal frontend's gRPC address, `host:port`. A frontend with authorization on is
    /// called with the API key or token in TEMPORAL_API_KEY.
    #[arg(long)]
    temporal_address: Option<String>,
    /// A namespace whose workflow histories are sampled (repeat for more).
    #[arg(long = "namespace")]
    namespaces: Vec<String>,
    /// The keyring document (JSON) the payloads are checked against.
    #[arg(long)]
    keyring: Option<PathBuf>,
    /// The codec server's base URL, e.g. `https://codec.example:8443`.
    #[arg(long)]
    codec_url: Option<String>,
    /// PEM CA that signed the codec server's (and, with --temporal-tls, the frontend's)
    /// certificate.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Connect to the frontend over TLS, verified with --ca-file.
    #[arg(long)]
    temporal_tls: bool,
    /// The codec server's audit trail (its stdout, JSON lines) since it started, compared with
    /// the decode traffic its metrics count.
    #[arg(long)]
    audit_log: Option<PathBuf>,
    /// A token that holds no right on --probe-namespace: a decode there with it must be refused
    /// with 403. Read from the environment only, never written into the report.
    #[arg(
        long,
        env = "ENGRAM_EVIDENCE_PROBE_TOKEN",
        hide_env_values = true,
        hide = true
    )]
    probe_token: Option<String>,
    /// The namespace the probe token has no right on.
    #[arg(long, requires = "probe_token")]
    probe_namespace: Option<String>,
    /// Ask the KMS to describe the customer key the keyring names (enabled, newest version),
    /// with the ambient credentials: VAULT_TOKEN for vault_transit, the AWS default chain for
    /// aws_kms, workload identity (AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID,
    /// AZURE_CLIENT_ID) or managed identity for azure_key_vault, the metadata server
    /// (GCE_METADATA_HOST) for gcp_kms.
    #[arg(long)]
    describe_customer_key: bool,
    /// Workflows sampled per namespace, newest first.
    #[arg(long, default_value_t = 20)]
    sample_size: usize,
    /// Workflows sampled per namespace among those started before a week, a month and a
    /// quarter ago each (the newest of each), besides the newest; 0 reads only the newest.
    #[arg(long, default_value_t = 3)]
    older_sample_size: usize,
    /// Events read per history at most.
    #[arg(long, default_value_t = 2000)]
    max_events: usize,
    /// The rotation policy's age, in days, after which the sealing key is due for replacement.
    #[arg(long, default_value_t = LifecyclePolicy::DEFAULT.rotate_after_days)]
    rotate_after_days: i64,
    /// The name of the Temporal cluster (`engram_temporal_cluster`'s `name`) whose live
    /// Kubernetes objects are read: pod security, NetworkPolicies, the codec server's
    /// separation, and the server configuration the pods mount.
    #[arg(long, requires = "kube_namespace")]
    temporal_cluster: Option<String>,
    /// The Kubernetes namespace the Temporal cluster runs in.
    #[arg(long, requires = "temporal_cluster")]
    kube_namespace: Option<String>,
    /// The Kubernetes namespace of its codec server (default: --kube-namespace).
    #[arg(long, requires = "temporal_cluster")]
    codec_namespace: Option<String>,
    /// The kubeconfig of the cluster (default: KUBECONFIG, ~/.kube/config or in-cluster).
    #[arg(long, requires = "temporal_cluster")]
    kubeconfig: Option<PathBuf>,
    /// Where report.json, report.md and report.html are written.
    #[arg(long, default_value = ".")]
    out: PathBuf,
}

fn read(path: &PathBuf, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

/// Gathers the report and writes it; the summary text and whether a control failed.
pub fn run(args: EvidenceArgs) -> Result<(String, bool), String> {
    let ca_pem = args
        .ca_file
        .as_ref()
        .map(|p| read(p, "CA file"))
        .transpose()?;
    if args.temporal_tls && ca_pem.is_none() {
        return Err("--temporal-tls needs --ca-file to verify the frontend's certificate".into());
    }
    let keyring = match &args.keyring {
        Some(path) => {
            let text = read(path, "keyring document")?;
            let doc = KeyringDocument::from_json(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Some((doc, path.display().to_string()))
        }
        None => None,
    };
    let runtime =
        tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
    let kubernetes = match (args.temporal_cluster, args.kube_namespace) {
        (Some(cluster), Some(namespace)) => {
            let (client, server) = runtime
                .block_on(live_objects::connect(args.kubeconfig.as_deref()))
                .map_err(|e| format!("--kubeconfig: {e}"))?;
            Some(KubeTarget {
                client,
                server,
                codec_namespace: args.codec_namespace.unwrap_or_else(|| namespace.clone()),
                namespace,
                cluster,
            })
        }
        _ => None,
    };
    let (kms_environment, vault_token) = customer_key::ambient_credentials();
    let inputs = Inputs {
        kubernetes,
        temporal: args.temporal_address.map(|address| TemporalEndpoint {
            address,
            ca_certificate: if args.temporal_tls {
                ca_pem.clone()
            } else {
                None
            },
            api_key: engram::temporal::api_key_from_environment(),
            ..TemporalEndpoint::default()
        }),
        namespaces: args.namespaces,
        keyring,
        policy: Some(LifecyclePolicy {
            rotate_after_days: args.rotate_after_days,
            ..LifecyclePolicy::DEFAULT
        }),
        codec_url: args.codec_url,
        ca_pem,
        audit_log: args.audit_log,
        describe_customer_key: args.describe_customer_key,
        kms_environment,
        vault_token,
        probe_token: match (args.probe_token, args.probe_namespace) {
            (Some(token), Some(namespace)) => Some(ProbeToken::new(token, namespace)),
            (Some(_), None) => {
                return Err(
                    "ENGRAM_EVIDENCE_PROBE_TOKEN is set: give --probe-namespace, the namespace it holds no right on"
                        .into(),
                );
            }
            _ => None,
        },
        sampling: Sampling {
            workflows_per_namespace: args.sample_size.max(1),
            max_events: args.max_events.max(1),
            older_per_age: args.older_sample_size,
            ..Sampling::default()
        },
    };
    let report = runtime.block_on(gather(&inputs));
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    for (name, text) in [
        ("report.json", report.to_json()),
        ("report.md", render::markdown(&report)),
        ("report.html", render::html(&report)),
    ] {
        let path = args.out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let mut summary = String::new();
    for c in &report.controls {
        summary.push_str(&format!(
            "{:<12} {:<24} {}\n",
            c.status.label(),
            c.id,
            c.summary
        ));
    }
    summary.push_str(&format!(
        "report written to {} (sha256 {})",
        args.out.display(),
        report.sha256
    ));
    let failed = report.failed().next().is_some();
    Ok((summary, failed))
}
