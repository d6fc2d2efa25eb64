//! NetworkPolicies: every Temporal pod denies ingress by default; Temporal pods reach each
//! other; only the frontend and the Web UI accept traffic from outside the namespace; Prometheus
//! reaches the metrics port from its namespace.

use super::Context;
use super::names::TemporalService;
use super::pod;
use super::server_config::METRICS_PORT;
use super::web::{UI_COMPONENT, UI_PORT};
use crate::deploy::manifest::{Kind, Manifest, Step};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
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
            ingress: Some(ingress),
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

/// The cluster's NetworkPolicies.
pub fn policies(ctx: &Context) -> Vec<Manifest> {
    if !ctx.spec.network.policies {
        return Vec::new();
    }
    let frontend = TemporalService::Frontend;
    let monitoring = BTreeMap::from([(
        "kubernetes.io/metadata.name".to_string(),
        ctx.spec.network.monitoring_namespace.clone(),
    )]);
    let mut out = vec![
        policy(ctx, "deny-ingress", cluster_pods(ctx), Vec::new()),
        policy(
            ctx,
            "allow-internal",
            cluster_pods(ctx),
            vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(cluster_pods(ctx)),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: None,
            }],
        ),
        policy(
            ctx,
            "allow-frontend",
            component_pods(ctx, frontend.component()),
            vec![NetworkPolicyIngressRule {
                from: outside(ctx),
                ports: Some(ports(&[
                    frontend.grpc_port(),
                    frontend.http_port().unwrap_or(7243),
                ])),
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
        out.push(policy(
            ctx,
            "allow-web-ui",
            component_pods(ctx, UI_COMPONENT),
            vec![NetworkPolicyIngressRule {
                from: outside(ctx),
                ports: Some(ports(&[UI_PORT])),
            }],
        ));
    }
    out
}
