//! The deployment-isolation control, judged from live objects ([`Snapshot`]): the namespaces
//! enforce the `restricted` Pod Security Standard, every Temporal and codec server pod is
//! selected by an ingress NetworkPolicy, and the codec server (which holds the keys' use) runs
//! in its own Deployment under its own ServiceAccount, with Secrets no Temporal pod mounts.

use super::live_objects::{Snapshot, request};
use super::selector;
use crate::evidence::report::{Control, Fact, RmfFunction};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use std::collections::{BTreeMap, BTreeSet};

/// The label the Pod Security admission controller enforces
/// (kubernetes.io/docs/concepts/security/pod-security-admission, "Pod Security Admission labels
/// for namespaces").
pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
/// The level every pod of the deployment needs.
pub const RESTRICTED: &str = "restricted";

/// A new control of this id, not checked.
pub fn control() -> Control {
    Control::new(
        "deployment-isolation",
        "Deployment isolation: restricted pods, network policies, the codec server apart from Temporal",
        &[RmfFunction::Govern, RmfFunction::Manage],
        "Access control (RBAC + SSO): key use isolated from the servers that store payloads",
    )
}

fn name(d: &Deployment) -> String {
    d.metadata.name.clone().unwrap_or_default()
}

fn pod_labels(d: &Deployment) -> BTreeMap<String, String> {
    d.spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

/// The ServiceAccount a Deployment's pods run as (`default` when the template names none, as
/// the API server defaults it).
pub fn service_account(d: &Deployment) -> String {
    d.spec
        .template
        .spec
        .as_ref()
        .and_then(|p| p.service_account_name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

/// Every Secret a Deployment's pods can read: volumes (projected ones included), and the
/// environment of every container.
pub fn secrets(d: &Deployment) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Some(pod) = d.spec.template.spec.as_ref() else {
        return out;
    };
    for volume in pod.volumes.iter().flatten() {
        out.extend(volume.secret.as_ref().and_then(|s| s.secret_name.clone()));
        for source in volume
            .projected
            .iter()
            .flat_map(|p| p.sources.iter().flatten())
        {
            out.extend(source.secret.as_ref().map(|s| s.name.clone()));
        }
    }
    let containers = pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten());
    for container in containers {
        for env in container.env.iter().flatten() {
            out.extend(
                env.value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref())
                    .map(|s| s.name.clone()),
            );
        }
        for from in container.env_from.iter().flatten() {
            out.extend(from.secret_ref.as_ref().map(|s| s.name.clone()));
        }
    }
    out
}

/// Whether a policy restricts the ingress of the pods labelled `labels` (Ingress is among its
/// types whenever `policyTypes` is empty: networking/v1 NetworkPolicySpec).
fn isolates(policy: &NetworkPolicy, labels: &BTreeMap<String, String>) -> bool {
    let Some(spec) = &policy.spec else {
        return false;
    };
    let ingress = spec
        .policy_types
        .as_ref()
        .is_none_or(|t| t.is_empty() || t.iter().any(|t| t == "Ingress"));
    ingress
        && spec
            .pod_selector
            .as_ref()
            .is_none_or(|s| selector::matches(s, labels))
}

/// Whether a policy has an ingress rule that admits any source (no `from`, or an IP block of
/// the whole address space).
fn admits_anyone(policy: &NetworkPolicy) -> bool {
    policy
        .spec
        .iter()
        .flat_map(|s| s.ingress.iter().flatten())
        .any(|rule| match &rule.from {
            None => true,
            Some(peers) if peers.is_empty() => true,
            Some(peers) => peers.iter().any(|p| {
                p.ip_block
                    .as_ref()
                    .is_some_and(|b| matches!(b.cidr.as_str(), "0.0.0.0/0" | "::/0"))
            }),
        })
}

fn pod_security(control: &mut Control, snapshot: &Snapshot) {
    for (ns, namespace) in &snapshot.namespaces {
        let labels = namespace.metadata.labels.clone().unwrap_or_default();
        let level = |mode: &str| {
            labels
                .get(&format!("pod-security.kubernetes.io/{mode}"))
                .cloned()
        };
        let enforce = level("enforce");
        let others: Vec<String> = ["enforce-version", "audit", "warn"]
            .iter()
            .filter_map(|m| level(m).map(|v| format!("{m} `{v}`")))
            .collect();
        let observed = match &enforce {
            Some(level) => format!(
                "namespace `{ns}` enforces the Pod Security level `{level}`{}",
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", others.join(", "))
                }
            ),
            None => format!(
                "namespace `{ns}` has no {ENFORCE_LABEL} label: the cluster's default Pod Security level applies, not `{RESTRICTED}`"
            ),
        };
        control.fact(Fact::now(
            observed,
            request(&snapshot.server, &format!("/api/v1/namespaces/{ns}")),
            enforce.as_deref() == Some(RESTRICTED),
        ));
    }
}

fn network_policies(control: &mut Control, snapshot: &Snapshot, what: &str, pods: &[Deployment]) {
    let Some(first) = pods.first() else {
        return;
    };
    let ns = first.metadata.namespace.clone().unwrap_or_default();
    let policies = snapshot.policies.get(&ns).map(Vec::as_slice).unwrap_or(&[]);
    let mut open = BTreeSet::new();
    let mut uncovered = Vec::new();
    let mut lines = Vec::new();
    for d in pods {
        let labels = pod_labels(d);
        let selecting: Vec<&NetworkPolicy> =
            policies.iter().filter(|p| isolates(p, &labels)).collect();
        if selecting.is_empty() {
            uncovered.push(name(d));
        }
        for p in &selecting {
            if admits_anyone(p) {
                open.insert(p.metadata.name.clone().unwrap_or_default());
            }
        }
        let names: Vec<String> = selecting
            .iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect();
        lines.push(format!(
            "`{}` ({})",
            name(d),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
    }
    let mut observed = format!(
        "ingress NetworkPolicies selecting the pods of each {what} Deployment in `{ns}`: {}",
        lines.join("; ")
    );
    if !uncovered.is_empty() {
        observed.push_str(&format!(
            "; no policy restricts the ingress of {}: any pod or address can reach them",
            uncovered.join(", ")
        ));
    }
    if !open.is_empty() {
        observed.push_str(&format!(
            "; rules admitting any source: {}",
            open.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    control.fact(Fact::now(
        observed,
        request(
            &snapshot.server,
            &format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies"),
        ),
        uncovered.is_empty(),
    ));
}

fn separation(control: &mut Control, snapshot: &Snapshot, codec_method: &str) {
    let temporal_accounts: BTreeSet<String> =
        snapshot.temporal.iter().map(service_account).collect();
    let temporal_secrets: BTreeSet<String> = snapshot.temporal.iter().flat_map(secrets).collect();
    for codec in &snapshot.codec {
        let account = service_account(codec);
        // ServiceAccounts are namespaced: only one of the same namespace is the same account.
        let shared = snapshot.temporal.iter().any(|t| {
            t.metadata.namespace == codec.metadata.namespace && service_account(t) == account
        });
        let observed = if account == "default" {
            format!(
                "the codec server `{}` runs as the namespace's `default` ServiceAccount, which every pod without one shares",
                name(codec)
            )
        } else if shared {
            format!(
                "the codec server `{}` runs as ServiceAccount `{account}`, which Temporal's pods also use",
                name(codec)
            )
        } else {
            format!(
                "the codec server `{}` runs in its own Deployment as ServiceAccount `{account}`; Temporal's pods run as {}",
                name(codec),
                temporal_accounts
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        control.fact(Fact::now(
            observed,
            codec_method,
            account != "default" && !shared,
        ));
        let same_namespace = snapshot
            .temporal
            .first()
            .is_some_and(|t| t.metadata.namespace == codec.metadata.namespace);
        let mine = secrets(codec);
        let common: Vec<String> = if same_namespace {
            mine.intersection(&temporal_secrets).cloned().collect()
        } else {
            Vec::new()
        };
        control.fact(Fact::now(
            if common.is_empty() {
                format!(
                    "no Temporal pod mounts or reads the codec server `{}`'s Secrets ({})",
                    name(codec),
                    mine.iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                format!(
                    "Temporal's pods can read the codec server `{}`'s Secrets {}",
                    name(codec),
                    common
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            codec_method,
            common.is_empty(),
        ));
    }
}

/// The control over `snapshot`, read with the label selectors `temporal` and `codec` (named in
/// the facts when nothing matched).
pub fn isolation(snapshot: &Snapshot, temporal: (&str, &str), codec: (&str, &str)) -> Control {
    let mut control = control();
    pod_security(&mut control, snapshot);
    let method = |(ns, selector): (&str, &str)| {
        request(
            &snapshot.server,
            &format!("/apis/apps/v1/namespaces/{ns}/deployments?labelSelector={selector}"),
        )
    };
    for (what, pods, at) in [
        ("Temporal", &snapshot.temporal, temporal),
        ("codec server", &snapshot.codec, codec),
    ] {
        if pods.is_empty() {
            control.fact(Fact::now(
                format!(
                    "no {what} Deployment in namespace `{}` carries the labels {}: nothing to show",
                    at.0, at.1
                ),
                method(at),
                false,
            ));
        }
        network_policies(&mut control, snapshot, what, pods);
    }
    separation(&mut control, snapshot, &method(codec));
    let failed = control.facts.iter().filter(|f| !f.holds).count();
    control.conclude(if failed == 0 {
        "restricted Pod Security, ingress NetworkPolicies on every pod, and the codec server apart from Temporal under its own ServiceAccount".to_string()
    } else {
        format!("{failed} findings in the live Kubernetes objects")
    });
    control
}
