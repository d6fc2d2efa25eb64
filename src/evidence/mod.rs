//! Security evidence: a report for a security review (NIST AI RMF, AI-SEC-01 "Data
//! Encryption") in which every control is proved by facts read from the live system — the
//! histories Temporal stores, TLS handshakes, the codec server's answers, metrics and pod logs,
//! the keyring document, the live Kubernetes objects and the server configuration the Temporal
//! pods mount — never from configuration alone. No Terraform here.
//!
//! [`gather`] runs the checks its [`Inputs`] allow and returns a [`Report`]; a check without its
//! input is reported "not checked", never passed. docs/guides/security-evidence.md maps the
//! controls and documents the JSON schema and its hash.

pub mod facts;
pub mod render;
pub mod report;

pub use report::{Control, Fact, Report, RmfFunction, SCHEMA, Status, content_hash, verify};

use crate::codec::KeyringDocument;
use crate::codec::lifecycle::LifecyclePolicy;
use crate::temporal::TemporalEndpoint;

/// What the checks read from.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The Temporal frontend, for encryption at rest and in transit.
    pub temporal: Option<TemporalEndpoint>,
    /// The namespaces whose histories are sampled.
    pub namespaces: Vec<String>,
    /// The keyring document and where it was read from.
    pub keyring: Option<(KeyringDocument, String)>,
    /// The rotation policy the keyring is judged against.
    pub policy: Option<LifecyclePolicy>,
    /// The codec server's base URL (`https://host:port`).
    pub codec_url: Option<String>,
    /// PEM CA for the codec server's and the frontend's certificates.
    pub ca_pem: Option<String>,
    /// Ask the KMS to describe the customer key the keyring names (enabled, newest version).
    pub describe_customer_key: bool,
    /// The variables that locate Azure and GCP credentials
    /// ([`facts::customer_key::CREDENTIAL_VARIABLES`]), for describing such a customer key.
    pub kms_environment: std::collections::BTreeMap<String, String>,
    /// VAULT_TOKEN, for describing a vault_transit customer key.
    pub vault_token: Option<crate::kms::SecretBytes>,
    /// A token without rights on a namespace, for the 403 probe.
    pub probe_token: Option<facts::codec_http::ProbeToken>,
    /// The codec server's audit trail (its stdout, JSON lines) since it started.
    pub audit_log: Option<std::path::PathBuf>,
    /// Bounds of the history sampling.
    pub sampling: facts::at_rest::Sampling,
    /// The Kubernetes cluster the deployment runs in, for the facts read from its live objects.
    pub kubernetes: Option<facts::live_objects::KubeTarget>,
}

/// What was read from the live Kubernetes objects: the snapshot (or the error of reading it)
/// and the server configuration the pods mount.
struct Live {
    snapshot: Result<facts::live_objects::Snapshot, String>,
    config: facts::live_config::LiveConfig,
}

async fn live(target: &facts::live_objects::KubeTarget) -> Live {
    match facts::live_objects::read(target).await {
        Ok(snapshot) => {
            let config = facts::live_config::read(target, &snapshot).await;
            Live {
                snapshot: Ok(snapshot),
                config,
            }
        }
        Err(e) => {
            let fact = Fact::now(
                e.clone(),
                format!("Kubernetes API {}", target.server),
                false,
            );
            Live {
                snapshot: Err(e),
                config: facts::live_config::LiveConfig {
                    transit: vec![fact.clone()],
                    access: vec![fact],
                },
            }
        }
    }
}

fn note(facts: &[Fact], good: &str, bad: &str) -> String {
    if facts.iter().all(|f| f.holds) {
        good.to_string()
    } else {
        bad.to_string()
    }
}

fn missing(id: &str, title: &str, functions: &[RmfFunction], item: &str, why: &str) -> Control {
    let mut c = Control::new(id, title, functions, item);
    c.not_checked(why);
    c
}

/// `host:port` of a URL, and whether it is plain `http://`.
fn host_port(url: &str) -> Option<(String, bool)> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    let port = parsed.port_or_known_default()?;
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Some((format!("{host}:{port}"), parsed.scheme() == "http"))
}

/// Runs every check `inputs` allow, in a fixed order, and returns the sealed report.
pub async fn gather(inputs: &Inputs) -> Report {
    let now = crate::codec::clock::now_unix();
    let mut controls = Vec::new();
    let live = match &inputs.kubernetes {
        Some(target) => Some(live(target).await),
        None => None,
    };

    controls.push(match (&inputs.temporal, &inputs.keyring) {
        (Some(endpoint), Some((doc, _))) if !inputs.namespaces.is_empty() => {
            facts::at_rest::encryption_at_rest(endpoint, &inputs.namespaces, doc, inputs.sampling)
                .await
        }
        _ => missing(
            "encryption-at-rest",
            "Encryption at rest: stored workflow payloads are encrypted",
            &[RmfFunction::Measure, RmfFunction::Manage],
            "Encryption at rest (every workflow payload encrypted)",
            "not checked: needs the Temporal address, at least one namespace and the keyring",
        ),
    });

    let mut targets = Vec::new();
    if let Some(url) = &inputs.codec_url
        && let Some((address, plaintext)) = host_port(url)
    {
        targets.push(facts::tls::Target {
            role: "codec server".into(),
            address,
            plaintext,
            ca_pem: inputs.ca_pem.clone(),
        });
    }
    if let Some(endpoint) = &inputs.temporal {
        targets.push(facts::tls::Target {
            role: "Temporal frontend".into(),
            address: endpoint.address.clone(),
            plaintext: endpoint.ca_certificate.is_none(),
            ca_pem: endpoint.ca_certificate.clone(),
        });
    }
    let mut in_transit = if targets.is_empty() {
        missing(
            "encryption-in-transit",
            "Encryption in transit: TLS 1.3 on every endpoint",
            &[RmfFunction::Measure, RmfFunction::Manage],
            "Encryption in transit (TLS 1.3)",
            "not checked: no endpoint was given",
        )
    } else {
        facts::tls::encryption_in_transit(&targets, now).await
    };
    if let Some(live) = &live {
        let facts = live.config.transit.clone();
        let note = note(
            &facts,
            "the live server configuration has internode mutual TLS and TLS to every database",
            "the live server configuration lacks internode mutual TLS or database TLS, or could not be read",
        );
        in_transit.extend(facts, &note);
    }
    controls.push(in_transit);

    match &inputs.keyring {
        Some((doc, source)) => {
            let mut key_management = facts::keyring::key_management(doc, source, now);
            if inputs.describe_customer_key {
                match &doc.customer_key {
                    Some(location) => {
                        match facts::customer_key::provider(
                            location,
                            inputs.vault_token.as_ref(),
                            &inputs.kms_environment,
                        )
                        .await
                        {
                            Ok(provider) => {
                                facts::keyring::describe_customer_key(
                                    &mut key_management,
                                    provider.as_ref(),
                                )
                                .await
                            }
                            Err(e) => key_management
                                .summary
                                .push_str(&format!("; the KMS was not asked: {e}")),
                        }
                    }
                    None => key_management
                        .summary
                        .push_str("; the KMS was not asked: the keyring names no customer key"),
                }
            }
            controls.push(key_management);
            let policy = inputs.policy.unwrap_or(LifecyclePolicy::DEFAULT);
            controls.push(facts::keyring::rotation(doc, source, &policy, now));
        }
        None => {
            controls.push(missing(
                "key-management",
                "Key management: data keys wrapped under a customer-managed key",
                &[RmfFunction::Govern, RmfFunction::Manage],
                "Key management through customer-managed keys",
                "not checked: no keyring document was given",
            ));
            controls.push(missing(
                "key-rotation",
                "Key rotation: data keys rotate on schedule",
                &[RmfFunction::Manage, RmfFunction::Measure],
                "Automated key rotation",
                "not checked: no keyring document was given",
            ));
        }
    }

    let client = inputs
        .codec_url
        .as_ref()
        .map(|_| facts::codec_http::client(inputs.ca_pem.as_deref()));
    match (&inputs.codec_url, client) {
        (Some(url), Some(Ok(client))) => {
            if inputs.keyring.is_some()
                && let Some(key_management) = controls.iter_mut().find(|c| c.id == "key-management")
            {
                facts::codec_http::readiness(key_management, &client, url).await;
            }
            controls.push(with_authorizer(
                facts::codec_http::access_control(&client, url, inputs.probe_token.as_ref()).await,
                live.as_ref(),
            ));
            controls.push(
                facts::codec_http::audit(
                    &client,
                    url,
                    inputs.audit_log.as_deref(),
                    inputs.kubernetes.as_ref(),
                )
                .await,
            );
        }
        (url, client) => {
            let why = match (url, client) {
                (Some(_), Some(Err(e))) => format!("not checked: {e}"),
                _ => "not checked: no codec server URL was given".to_string(),
            };
            controls.push(with_authorizer(
                missing(
                    "access-control",
                    "Access control: the codec server refuses the unauthenticated",
                    &[RmfFunction::Govern, RmfFunction::Manage],
                    "Access control (RBAC + SSO): decryption only for authenticated callers",
                    &why,
                ),
                live.as_ref(),
            ));
            controls.push(missing(
                "audit",
                "Audit: every codec request leaves an audit line",
                &[RmfFunction::Measure, RmfFunction::Govern],
                "Audit logs of key access",
                &why,
            ));
        }
    }
    controls.push(match (&inputs.kubernetes, &live) {
        (Some(target), Some(live)) => match &live.snapshot {
            Ok(snapshot) => facts::deployment::isolation(
                snapshot,
                (&target.namespace, &target.temporal_selector()),
                (&target.codec_namespace, &target.codec_selector()),
            ),
            Err(e) => {
                let mut control = facts::deployment::control();
                control.fact(Fact::now(
                    e.clone(),
                    format!("Kubernetes API {}", target.server),
                    false,
                ));
                control.conclude("the live Kubernetes objects could not be read");
                control
            }
        },
        _ => {
            let mut control = facts::deployment::control();
            control.not_checked(
                "not checked: needs the Kubernetes cluster, the Temporal cluster's name and namespace",
            );
            control
        }
    });
    Report::new(controls)
}

/// The access-control control with the authorizer and claim mapper of the live configuration;
/// without the codec server's probes, the summary says they were not made.
fn with_authorizer(mut control: Control, live: Option<&Live>) -> Control {
    let Some(live) = live else {
        return control;
    };
    let facts = live.config.access.clone();
    let mut text = note(
        &facts,
        "the live Temporal configuration checks every call's claims (authorizer and claim mapper `default`)",
        "the live Temporal configuration does not check callers' claims, or could not be read",
    );
    if control.facts.is_empty() {
        text.push_str(&format!("; the codec server was {}", control.summary));
    }
    control.extend(facts, &text);
    control
}
