//! NetworkPolicies: every Temporal pod denies ingress by default; the server roles reach each
//! other; the Web UI and admin tools reach the public frontend only (never the internal
//! frontend, whose callers are all treated as the system worker); only the frontend and the Web
//! UI accept traffic from outside the namespace; Prometheus reaches the metrics port from its
//! namespace.

use super::Context;
use super::names::{self, TemporalService};
use super::pod;
use super::server_config::METRICS_PORT;
use super::web::{UI_COMPONENT, UI_PORT};
use crate::deploy::manifest::{Kind, Manifest, Step};
use crate::deploy::spec::PodPeer;
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

fn cluster_pods(ctx: &Context) -> LabelSelector {
    let mut labels = ctx.owner.selector_labels("");
    labels.remove("app.kubernetes.io/component");
    pod::selector(labels)
}

fn component_pods(ctx: &Context, component: &str) -> LabelSelector {
    pod::selector(ctx.owner.selector_labels(component))
}

/// The pods of the Temporal server roles, and no other pod of the cluster.
fn server_pods(ctx: &Context) -> LabelSelector {
    let mut labels = ctx.owner.selector_labels("");
    labels.remove("app.kubernetes.io/component");
    LabelSelector {
        match_labels: Some(labels),
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "app.kubernetes.io/component".into(),
            operator: "In".into(),
            values: Some(
                names::services(ctx.spec)
                    .iter()
                    .map(|s| s.component().to_string())
                    .collect(),
            ),
        }]),
    }
}

/// A rule admitting `from` on every port.
fn from(peer: LabelSelector) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        from: Some(vec![NetworkPolicyPeer {
            pod_selector: Some(peer),
            ..NetworkPolicyPeer::default()
        }]),
        ports: None,
    }
}

fn ports(numbers: &[i32]) -> Vec<NetworkPolicyPort> {
    numbers
        .iter()
        .map(|n| NetworkPolicyPort {
            port: Some(IntOrString::Int(*n)),
            protocol: Some("TCP".into()),
            ..NetworkPolicyPort::default()
        })
        .collect()
}

fn policy(
    ctx: &Context,
    suffix: &str,
    pods: LabelSelector,
    ingress: Vec<NetworkPolicyIngressRule>,
) -> Manifest {
    let name = super::names::object(ctx.spec, suffix);
    let policy = NetworkPolicy {
        metadata: pod::meta(&ctx.owner, &name, "network-policy", &ctx.annotations),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(pods),
            policy_types: Some(vec!["Ingress".into()]),
            // An empty list is omitted by a real server (omitempty); no rule denies all ingress.
            ingress: (!ingress.is_empty()).then_some(ingress),
            ..NetworkPolicySpec::default()
        }),
    };
    Manifest::new(Kind::NetworkPolicy, Step::Foundation, &policy)
}

/// Sources allowed from outside: the configured CIDRs, or any source when none are given.
fn outside(ctx: &Context) -> Option<Vec<NetworkPolicyPeer>> {
    let cidrs = &ctx.spec.network.allowed_cidrs;
    (!cidrs.is_empty()).then(|| {
        cidrs
            .iter()
            .map(|cidr| NetworkPolicyPeer {
                ip_block: Some(IPBlock {
                    cidr: cidr.clone(),
                    except: None,
                }),
                ..NetworkPolicyPeer::default()
            })
            .collect()
    })
}

/// The pods of `peer`'s namespace with its labels (every pod there without labels).
pub fn pod_peer(peer: &PodPeer) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(pod::selector(BTreeMap::from([(
            "kubernetes.io/metadata.name".to_string(),
            peer.namespace.clone(),
        )]))),
        pod_selector: Some(pod::selector(peer.pod_labels.clone())),
        ..NetworkPolicyPeer::default()
    }
}

/// The cluster's NetworkPolicies.
pub fn policies(ctx: &Context) -> Vec<Manifest> {
    if !ctx.spec.network.policies {
        return Vec::new();
    }
    let frontend = TemporalService::Frontend;
    let frontend_ports = [frontend.grpc_port(), frontend.http_port().unwrap_or(7243)];
    let monitoring = BTreeMap::from([(
        "kubernetes.io/metadata.name".to_string(),
        ctx.spec.network.monitoring_namespace.clone(),
    )]);
    let mut out = vec![
        policy(ctx, "deny-ingress", cluster_pods(ctx), Vec::new()),
        policy(
            ctx,
            "allow-internal",
            server_pods(ctx),
            vec![from(server_pods(ctx))],
        ),
        policy(
            ctx,
            "allow-clients",
            component_pods(ctx, frontend.component()),
            vec![NetworkPolicyIngressRule {
                ports: Some(ports(&frontend_ports)),
                ..from(cluster_pods(ctx))
            }],
        ),
        policy(
            ctx,
            "allow-frontend",
            component_pods(ctx, frontend.component()),
            vec![NetworkPolicyIngressRule {
                from: outside(ctx),
                ports: Some(ports(&frontend_ports)),
            }],
        ),
        policy(
            ctx,
            "allow-metrics",
            cluster_pods(ctx),
            vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(pod::selector(monitoring)),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: Some(ports(&[METRICS_PORT])),
            }],
        ),
    ];
    if ctx.spec.web_ui.enabled {
        // With CIDRs, an Ingress's traffic (which comes from the controller's pods) is admitted
        // besides them; without, any source is.
        let from = outside(ctx).map(|mut peers| {
            peers.extend(ctx.spec.network.ingress_controller.iter().map(pod_peer));
            peers
        });
        out.push(policy(
            ctx,
            "allow-web-ui",
            component_pods(ctx, UI_COMPONENT),
            vec![NetworkPolicyIngressRule {
                from,
                ports: Some(ports(&[UI_PORT])),
            }],
        ));
    }
    out
}
