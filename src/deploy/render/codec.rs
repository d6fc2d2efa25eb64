//! The codec server's objects: a ServiceAccount bound to the cloud identity that may call the
//! KMS, the keyring Secret (wrapped keys only), the Deployment running `engram codec-server`,
//! its Service, PodDisruptionBudget and a NetworkPolicy that admits only the ingress controller
//! (browsers running the Web UI call the codec server directly, through the ingress) and the
//! people's networks in `client_cidrs`.

use super::{ingress, pod};
use crate::deploy::labels::{Owner, SPEC_ANNOTATION, Stack};
use crate::deploy::manifest::{Kind, Manifest, Step};
use crate::deploy::spec::CodecServerSpec;
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, HTTPGetAction, PodSpec, PodTemplateSpec, Probe, Secret, Service,
    ServiceAccount, ServicePort, ServiceSpec,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The component label of the codec server's objects.
pub const COMPONENT: &str = "codec-server";
/// The port the server listens on (TLS).
pub const PORT: i32 = 8443;
/// The port its Service serves, in front of [`PORT`]: the https default, so URLs need none.
pub const SERVICE_PORT: i32 = 443;
/// The key of the keyring document in its Secret.
pub const KEYRING_KEY: &str = "keyring.json";
/// The environment variables the Deployment sets from the spec's own fields, each with the
/// attribute it comes from (none for the listen address, which is the Deployment's own).
/// `kms.env` may not name them: server-side apply refuses a second entry of one name.
pub const OWN_ENV: [(&str, &str); 14] = [
    ("ENGRAM_CODEC_LISTEN", ""),
    ("ENGRAM_CODEC_KEYRING", "keyring"),
    ("ENGRAM_CODEC_KMS", "kms.provider"),
    ("ENGRAM_CODEC_TLS_CERT", "tls_secret_name"),
    ("ENGRAM_CODEC_TLS_KEY", "tls_secret_name"),
    ("ENGRAM_CODEC_TLS_MIN_VERSION", "tls_min_version"),
    ("ENGRAM_CODEC_CORS_ORIGINS", "cors_origins"),
    (
        "ENGRAM_CODEC_ACCEPT_SOURCE_NAMESPACES",
        "accepted_source_namespaces",
    ),
    ("ENGRAM_CODEC_JWKS_URL", "oidc.jwks_url"),
    ("ENGRAM_CODEC_JWT_ISSUER", "oidc.issuer"),
    ("ENGRAM_CODEC_JWT_AUDIENCES", "oidc.audiences"),
    ("ENGRAM_CODEC_PERMISSIONS_CLAIM", "oidc.permissions_claim"),
    ("ENGRAM_CODEC_JWT_LEEWAY_SECONDS", "oidc.leeway_seconds"),
    ("ENGRAM_CODEC_JWKS_CA_CERT", "oidc.jwks_ca_config_map"),
];
/// The user the server runs as (the distroless `nonroot` user).
const USER: i64 = 65532;
const KEYRING_DIR: &str = "/etc/engram/keyring";
const TLS_DIR: &str = "/etc/engram/tls";
/// Where the JWKS URL's CA ConfigMap is mounted; the image has nothing under /etc/engram.
const JWKS_CA_DIR: &str = "/etc/engram/jwks-ca";
/// The ConfigMap key holding the CA certificates, as cert-manager's trust-manager and the
/// `kube-root-ca.crt` ConfigMap name theirs.
const JWKS_CA_KEY: &str = "ca.crt";

/// The owner of a codec server's objects.
pub fn owner(spec: &CodecServerSpec) -> Owner {
    Owner {
        stack: Stack::CodecServer,
        namespace: spec.namespace.clone(),
        instance: spec.name.clone(),
        cluster: spec.temporal_cluster.clone(),
    }
}

/// The address its clients call: `https://<host>` through the Ingress when there is one,
/// otherwise the Service's in-cluster name (the Service serves the https default port, so the
/// URL names none; `tls_secret_name` is required, so the server always speaks TLS).
pub fn endpoint(spec: &CodecServerSpec) -> String {
    match &spec.ingress {
        Some(ingress) => format!("https://{}", ingress.host),
        None => format!("https://{}.{}.svc", spec.name, spec.namespace),
    }
}

/// The name of the keyring Secret.
pub fn keyring_secret_name(spec: &CodecServerSpec) -> String {
    format!("{}-keyring", spec.name)
}

fn env(spec: &CodecServerSpec) -> Vec<k8s_openapi::api::core::v1::EnvVar> {
    let mut env = vec![
        pod::env("ENGRAM_CODEC_LISTEN", &format!("0.0.0.0:{PORT}")),
        pod::env(
            "ENGRAM_CODEC_KEYRING",
            &format!("{KEYRING_DIR}/{KEYRING_KEY}"),
        ),
        pod::env("ENGRAM_CODEC_KMS", &spec.kms.provider),
    ];
    env.extend(spec.kms.env.iter().map(|(k, v)| pod::env(k, v)));
    if spec.tls_secret_name.is_some() {
        env.push(pod::env(
            "ENGRAM_CODEC_TLS_CERT",
            &format!("{TLS_DIR}/tls.crt"),
        ));
        env.push(pod::env(
            "ENGRAM_CODEC_TLS_KEY",
            &format!("{TLS_DIR}/tls.key"),
        ));
        // At the default the variable is left out, so Deployments from before it existed stay
        // unchanged.
        if spec.tls_min_version != "1.2" {
            env.push(pod::env(
                "ENGRAM_CODEC_TLS_MIN_VERSION",
                &spec.tls_min_version,
            ));
        }
    }
    if !spec.cors_origins.is_empty() {
        env.push(pod::env(
            "ENGRAM_CODEC_CORS_ORIGINS",
            &spec.cors_origins.join(","),
        ));
    }
    let accepted: Vec<String> = spec
        .accepted_source_namespaces
        .iter()
        .flat_map(|(namespace, sources)| sources.iter().map(move |s| format!("{namespace}={s}")))
        .collect();
    if !accepted.is_empty() {
        env.push(pod::env(
            "ENGRAM_CODEC_ACCEPT_SOURCE_NAMESPACES",
            &accepted.join(","),
        ));
    }
    if let Some(oidc) = &spec.oidc {
        env.push(pod::env("ENGRAM_CODEC_JWKS_URL", &oidc.jwks_url));
        env.push(pod::env("ENGRAM_CODEC_JWT_ISSUER", &oidc.issuer));
        env.push(pod::env(
            "ENGRAM_CODEC_JWT_AUDIENCES",
            &oidc.audiences.join(","),
        ));
        env.push(pod::env(
            "ENGRAM_CODEC_PERMISSIONS_CLAIM",
            &oidc.permissions_claim,
        ));
        // At the default the variable is left out, so Deployments from before it existed stay
        // unchanged.
        if oidc.leeway_seconds != crate::codec::server::DEFAULT_LEEWAY_SECONDS {
            env.push(pod::env(
                "ENGRAM_CODEC_JWT_LEEWAY_SECONDS",
                &oidc.leeway_seconds.to_string(),
            ));
        }
        if oidc.jwks_ca_config_map.is_some() {
            env.push(pod::env(
                "ENGRAM_CODEC_JWKS_CA_CERT",
                &format!("{JWKS_CA_DIR}/{JWKS_CA_KEY}"),
            ));
        }
    }
    env
}

fn probe(path: &str, initial: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("https".into()),
            scheme: Some("HTTPS".into()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(initial),
        period_seconds: Some(10),
        timeout_seconds: Some(3),
        ..Probe::default()
    }
}

/// Every object of a codec server, in apply order.
pub fn render(spec: &CodecServerSpec) -> Vec<Manifest> {
    let owner = owner(spec);
    let none = BTreeMap::new();
    let meta = |name: &str| pod::meta(&owner, name, COMPONENT, &none);
    let identity = &spec.kms.workload_identity;
    let identity_annotations: BTreeMap<String, String> = [
        ("eks.amazonaws.com/role-arn", &identity.aws_role_arn),
        (
            "azure.workload.identity/client-id",
            &identity.azure_client_id,
        ),
        (
            "iam.gke.io/gcp-service-account",
            &identity.gcp_service_account,
        ),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
    .collect();
    let vault_login = spec
        .kms
        .env
        .contains_key("ENGRAM_CODEC_VAULT_KUBERNETES_ROLE");
    let account = ServiceAccount {
        metadata: pod::meta(&owner, &spec.name, COMPONENT, &identity_annotations),
        automount_service_account_token: Some(vault_login),
        ..ServiceAccount::default()
    };
    let secret = Secret {
        metadata: meta(&keyring_secret_name(spec)),
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(
            KEYRING_KEY.to_string(),
            ByteString(spec.keyring.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    };
    let selector_labels = owner.selector_labels(COMPONENT);
    let mut pod_labels = owner.labels(COMPONENT);
    pod_labels.extend(selector_labels.clone());
    if identity.azure_client_id.is_some() {
        pod_labels.insert("azure.workload.identity/use".into(), "true".into());
    }
    let (tmp_volume, tmp_mount) = pod::tmp();
    let mut volumes = vec![
        pod::secret_volume("keyring", &keyring_secret_name(spec)),
        tmp_volume,
    ];
    let mut mounts = vec![pod::mount("keyring", KEYRING_DIR), tmp_mount];
    if let Some(tls) = &spec.tls_secret_name {
        volumes.push(pod::secret_volume("tls", tls));
        mounts.push(pod::mount("tls", TLS_DIR));
    }
    if let Some(config_map) = spec
        .oidc
        .as_ref()
        .and_then(|o| o.jwks_ca_config_map.as_ref())
    {
        volumes.push(pod::config_map_volume("jwks-ca", config_map));
        mounts.push(pod::mount("jwks-ca", JWKS_CA_DIR));
    }
    let container = Container {
        name: COMPONENT.into(),
        image: Some(spec.image.clone()),
        image_pull_policy: Some("Always".into()),
        args: Some(vec!["codec-server".into()]),
        env: Some(env(spec)),
        ports: Some(vec![ContainerPort {
            name: Some("https".into()),
            container_port: PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(probe("/readyz", 2)),
        liveness_probe: Some(probe("/healthz", 10)),
        resources: Some(pod::resources(&spec.resources)),
        security_context: Some(pod::container_security(USER)),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    let mut spec_annotation = spec.clone();
    spec_annotation.keyring.clear();
    let deployment = Deployment {
        metadata: pod::meta(
            &owner,
            &spec.name,
            COMPONENT,
            &BTreeMap::from([(
                SPEC_ANNOTATION.to_string(),
                serde_json::to_string(&spec_annotation).unwrap_or_default(),
            )]),
        ),
        spec: DeploymentSpec {
            replicas: Some(spec.replicas),
            revision_history_limit: Some(5),
            selector: pod::selector(selector_labels.clone()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(spec.name.clone()),
                    automount_service_account_token: Some(vault_login),
                    enable_service_links: Some(false),
                    security_context: Some(pod::pod_security(USER)),
                    topology_spread_constraints: Some(pod::spread(
                        &Default::default(),
                        &selector_labels,
                    )),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    };
    let service = Service {
        metadata: meta(&spec.name),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(selector_labels.clone()),
            ports: Some(vec![ServicePort {
                name: Some("https".into()),
                port: SERVICE_PORT,
                target_port: Some(IntOrString::String("https".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let mut peers: Vec<NetworkPolicyPeer> = spec
        .ingress_controller
        .iter()
        .map(super::network::pod_peer)
        .collect();
    peers.extend(spec.client_cidrs.iter().map(|cidr| NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: cidr.clone(),
            except: None,
        }),
        ..NetworkPolicyPeer::default()
    }));
    let policy = NetworkPolicy {
        metadata: meta(&spec.name),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(pod::selector(selector_labels.clone())),
            policy_types: Some(vec!["Ingress".into()]),
            // A rule with no peers would admit every source: with none given, no rule at all
            // (and no `ingress` list, which a real server omits when empty).
            ingress: (!peers.is_empty()).then(|| {
                vec![NetworkPolicyIngressRule {
                    from: Some(peers),
                    ports: Some(vec![NetworkPolicyPort {
                        port: Some(IntOrString::Int(PORT)),
                        protocol: Some("TCP".into()),
                        ..NetworkPolicyPort::default()
                    }]),
                }]
            }),
            ..NetworkPolicySpec::default()
        }),
    };
    let mut out = vec![
        Manifest::new(Kind::ServiceAccount, Step::Foundation, &account),
        Manifest::new(Kind::Secret, Step::Foundation, &secret),
        Manifest::new(Kind::Service, Step::Foundation, &service),
        Manifest::new(Kind::NetworkPolicy, Step::Foundation, &policy),
    ];
    if spec.replicas > 1 {
        let budget = PodDisruptionBudget {
            metadata: meta(&spec.name),
            spec: Some(PodDisruptionBudgetSpec {
                max_unavailable: Some(IntOrString::Int(1)),
                selector: Some(pod::selector(selector_labels)),
                ..PodDisruptionBudgetSpec::default()
            }),
            ..PodDisruptionBudget::default()
        };
        out.push(Manifest::new(
            Kind::PodDisruptionBudget,
            Step::Foundation,
            &budget,
        ));
    }
    out.push(Manifest::new(Kind::Deployment, Step::Edge, &deployment));
    out.extend(spec.ingress.as_ref().map(|ingress_spec| {
        let backend = ingress::Backend {
            name: &spec.name,
            component: COMPONENT,
            port_name: "https",
        };
        ingress::render(&owner, ingress_spec, &backend, &none)
    }));
    out
}
