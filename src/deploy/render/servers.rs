//! The Temporal server roles: one Deployment, Service and PodDisruptionBudget per service, the
//! shared ServiceAccount and the ConfigMap with the server configuration.

use super::names::{self, TemporalService};
use super::pod;
use super::server_config::{
    self, CONFIG_DIR, CONFIG_FILE, DEFAULT_PASSWORD_ENV, DYNAMIC_CONFIG_DIR, DYNAMIC_CONFIG_FILE,
    FRONTEND_TLS_DIR, INTERNODE_TLS_DIR, METRICS_PORT, VISIBILITY_PASSWORD_ENV,
};
use super::{Context, tls_secret_name};
use crate::deploy::labels::CONFIG_HASH_ANNOTATION;
use crate::deploy::manifest::{Kind, Manifest, Step};
use crate::deploy::spec::{ServiceSpec, SqlStoreSpec, TemporalClusterSpec};
use crate::deploy::temporal_versions::Release;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerPort, EnvVar, EnvVarSource, ObjectFieldSelector, PodSpec,
    PodTemplateSpec, Service, ServiceAccount, ServicePort, ServiceSpec as KubeServiceSpec, Volume,
    VolumeMount,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The user every Temporal pod runs as: the images' own unprivileged user, whose files they
/// are (they need no writable path but the mounted scratch space).
pub const TEMPORAL_USER: i64 = crate::deploy::temporal_versions::IMAGE_USER;

/// The ServiceAccount of every Temporal pod; it gets no API token.
pub fn service_account(ctx: &Context) -> Manifest {
    let spec = ctx.spec;
    let account = ServiceAccount {
        metadata: pod::meta(
            &ctx.owner,
            &names::object(spec, "temporal"),
            "server",
            &ctx.annotations,
        ),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    };
    Manifest::new(Kind::ServiceAccount, Step::Foundation, &account)
}

/// The ConfigMap holding the server configuration. It also carries the non-secret spec and the
/// Temporal version, which import and the upgrade check read back.
pub fn config_map(ctx: &Context, config: &str) -> Manifest {
    let spec = ctx.spec;
    let mut annotations = ctx.annotations.clone();
    annotations.insert(
        crate::deploy::labels::SPEC_ANNOTATION.into(),
        serde_json::to_string(spec).unwrap_or_default(),
    );
    annotations.insert(
        crate::deploy::labels::VERSION_ANNOTATION.into(),
        spec.version.clone(),
    );
    let map = ConfigMap {
        metadata: pod::meta(&ctx.owner, &config_map_name(spec), "config", &annotations),
        data: Some(BTreeMap::from([(
            CONFIG_FILE.to_string(),
            config.to_string(),
        )])),
        ..ConfigMap::default()
    };
    Manifest::new(Kind::ConfigMap, Step::Foundation, &map)
}

/// The ConfigMap holding the dynamic configuration, apart from the engram-owned one so that
/// its content is the spec's `dynamic_config` and nothing else.
pub fn dynamic_config_map(ctx: &Context, dynamic: &str) -> Manifest {
    let spec = ctx.spec;
    let map = ConfigMap {
        metadata: pod::meta(
            &ctx.owner,
            &dynamic_config_map_name(spec),
            "config",
            &ctx.annotations,
        ),
        data: Some(BTreeMap::from([(
            DYNAMIC_CONFIG_FILE.to_string(),
            dynamic.to_string(),
        )])),
        ..ConfigMap::default()
    };
    Manifest::new(Kind::ConfigMap, Step::Foundation, &map)
}

/// The name of the dynamic configuration ConfigMap.
pub fn dynamic_config_map_name(spec: &TemporalClusterSpec) -> String {
    names::object(spec, "dynamic-config")
}

/// The name of the configuration ConfigMap.
pub fn config_map_name(spec: &TemporalClusterSpec) -> String {
    names::object(spec, "config")
}

/// The ports a role listens on in this release, by name.
fn ports(release: &Release, service: TemporalService) -> Vec<(String, i32)> {
    let mut ports = Vec::new();
    if release.listens_on_grpc(service) {
        ports.push(("grpc".to_string(), service.grpc_port()));
    }
    ports.push(("membership".to_string(), service.membership_port()));
    ports.push(("metrics".to_string(), METRICS_PORT));
    if let Some(http) = service.http_port() {
        ports.push(("http".to_string(), http));
    }
    ports
}

/// The port the probes check: gRPC where the role serves it, else membership, which every role
/// opens once it runs.
fn probe_port(release: &Release, service: TemporalService) -> &'static str {
    if release.listens_on_grpc(service) {
        "grpc"
    } else {
        "membership"
    }
}

/// The Service of a Temporal role. History, matching and the internal frontend are headless:
/// peers find each other through membership, and clients of the frontend need one address.
pub fn service(ctx: &Context, release: &Release, service: TemporalService) -> Manifest {
    let spec = ctx.spec;
    let component = service.component();
    let headless = service != TemporalService::Frontend;
    let object = Service {
        metadata: pod::meta(
            &ctx.owner,
            &names::object(spec, component),
            component,
            &ctx.annotations,
        ),
        spec: Some(KubeServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: headless.then(|| "None".to_string()),
            publish_not_ready_addresses: headless.then_some(true),
            selector: Some(ctx.owner.selector_labels(component)),
            ports: Some(
                ports(release, service)
                    .into_iter()
                    .map(|(name, port)| ServicePort {
                        name: Some(name.clone()),
                        port,
                        target_port: Some(IntOrString::String(name)),
                        protocol: Some("TCP".into()),
                        app_protocol: None,
                        ..ServicePort::default()
                    })
                    .collect(),
            ),
            ..KubeServiceSpec::default()
        }),
        ..Service::default()
    };
    Manifest::new(Kind::Service, Step::Foundation, &object)
}

/// A PodDisruptionBudget for a component with more than one replica.
pub fn disruption_budget(
    ctx: &Context,
    component: &str,
    name: &str,
    replicas: i32,
    enabled: bool,
    max_unavailable: i32,
) -> Option<Manifest> {
    if !enabled || replicas < 2 {
        return None;
    }
    let budget = PodDisruptionBudget {
        metadata: pod::meta(&ctx.owner, name, component, &ctx.annotations),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(max_unavailable)),
            selector: Some(pod::selector(ctx.owner.selector_labels(component))),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    };
    Some(Manifest::new(
        Kind::PodDisruptionBudget,
        Step::Foundation,
        &budget,
    ))
}

/// Adds the volume and mount of a store's CA bundle, when it has one.
pub(crate) fn store_ca(
    store: &SqlStoreSpec,
    name: &str,
    volumes: &mut Vec<Volume>,
    mounts: &mut Vec<VolumeMount>,
) {
    let Some(ca) = store.tls.ca.as_ref().filter(|_| store.tls.enabled) else {
        return;
    };
    let volume = format!("sql-ca-{name}");
    let items = Some(vec![k8s_openapi::api::core::v1::KeyToPath {
        key: ca.key.clone(),
        path: "ca.crt".into(),
        ..Default::default()
    }]);
    let mut v = if ca.kind == "Secret" {
        pod::secret_volume(&volume, &ca.name)
    } else {
        pod::config_map_volume(&volume, &ca.name)
    };
    if let Some(secret) = v.secret.as_mut() {
        secret.items = items;
    } else if let Some(map) = v.config_map.as_mut() {
        map.items = items;
    }
    volumes.push(v);
    mounts.push(pod::mount(&volume, &server_config::sql_ca_dir(name)));
}

/// Volumes and mounts a Temporal server container needs: configuration, scratch space,
/// certificates and database CAs. Every role mounts both key pairs: Temporal builds the
/// certificate provider of every TLS group in every role and, with a refresh interval, reloads
/// each group's files (common/rpc/encryption/local_store_tls_provider.go and
/// local_store_cert_provider.go `refreshCerts`, v1.29.1), logging an error for a missing one.
pub fn server_volumes(spec: &TemporalClusterSpec) -> (Vec<Volume>, Vec<VolumeMount>) {
    let (tmp_volume, tmp_mount) = pod::tmp();
    let mut volumes = vec![
        pod::config_map_volume("config", &config_map_name(spec)),
        pod::config_map_volume("dynamic-config", &dynamic_config_map_name(spec)),
        tmp_volume,
    ];
    let mut mounts = vec![
        pod::mount("config", CONFIG_DIR),
        pod::mount("dynamic-config", DYNAMIC_CONFIG_DIR),
        tmp_mount,
    ];
    for (source, volume, dir) in [
        (&spec.tls.internode, "tls-internode", INTERNODE_TLS_DIR),
        (&spec.tls.frontend, "tls-frontend", FRONTEND_TLS_DIR),
    ] {
        if let Some(source) = source {
            let which = volume.trim_start_matches("tls-");
            volumes.push(pod::secret_volume(
                volume,
                &tls_secret_name(spec, which, source),
            ));
            mounts.push(pod::mount(volume, dir));
        }
    }
    store_ca(
        &spec.persistence.default,
        "default",
        &mut volumes,
        &mut mounts,
    );
    store_ca(
        &spec.persistence.visibility,
        "visibility",
        &mut volumes,
        &mut mounts,
    );
    (volumes, mounts)
}

/// The database passwords, from their Secrets.
pub fn password_env(spec: &TemporalClusterSpec) -> Vec<EnvVar> {
    let d = &spec.persistence.default.password_secret;
    let v = &spec.persistence.visibility.password_secret;
    vec![
        pod::secret_env(DEFAULT_PASSWORD_ENV, &d.name, &d.key),
        pod::secret_env(VISIBILITY_PASSWORD_ENV, &v.name, &v.key),
    ]
}

/// The Deployment of a Temporal role.
pub fn deployment(
    ctx: &Context,
    release: &Release,
    service: TemporalService,
    settings: &ServiceSpec,
    config_hash: &str,
) -> Manifest {
    let spec = ctx.spec;
    let component = service.component();
    let selector_labels = ctx.owner.selector_labels(component);
    let mut pod_labels = ctx.owner.labels(component);
    pod_labels.extend(selector_labels.clone());
    let (volumes, mounts) = server_volumes(spec);
    let mut env = vec![EnvVar {
        name: "POD_IP".into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: "status.podIP".into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }];
    env.extend(password_env(spec));
    let container = Container {
        name: component.to_string(),
        image: Some(release.server_image(&spec.images)),
        image_pull_policy: Some(spec.images.pull_policy.clone()),
        command: Some(vec!["temporal-server".into()]),
        args: Some(release.server_args(CONFIG_DIR, CONFIG_FILE, service)),
        env: Some(env),
        ports: Some(
            ports(release, service)
                .into_iter()
                .map(|(name, port)| ContainerPort {
                    name: Some(name),
                    container_port: port,
                    protocol: Some("TCP".into()),
                    ..ContainerPort::default()
                })
                .collect(),
        ),
        readiness_probe: Some(pod::tcp_probe(probe_port(release, service), 10, 10)),
        liveness_probe: Some(pod::tcp_probe(probe_port(release, service), 150, 20)),
        resources: Some(pod::resources(&settings.resources)),
        security_context: Some(pod::container_security(TEMPORAL_USER)),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    let mut template_annotations =
        BTreeMap::from([(CONFIG_HASH_ANNOTATION.to_string(), config_hash.to_string())]);
    template_annotations.extend(ctx.annotations.clone());
    let deployment = Deployment {
        metadata: pod::meta(
            &ctx.owner,
            &names::object(spec, component),
            component,
            &ctx.annotations,
        ),
        spec: DeploymentSpec {
            replicas: Some(settings.replicas),
            revision_history_limit: Some(5),
            selector: pod::selector(selector_labels.clone()),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(template_annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(names::object(spec, "temporal")),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(pod::pod_security(TEMPORAL_USER)),
                    priority_class_name: settings
                        .priority_class_name
                        .clone()
                        .or_else(|| spec.priority_class_name.clone()),
                    topology_spread_constraints: Some(pod::spread(
                        &settings.spread,
                        &selector_labels,
                    )),
                    node_selector: pod::node_selector(&settings.node_selector),
                    tolerations: pod::tolerations(&settings.tolerations),
                    affinity: pod::affinity(settings.node_affinity.as_ref()),
                    image_pull_secrets: pod::pull_secrets(&spec.images.pull_secrets),
                    termination_grace_period_seconds: Some(60),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    };
    Manifest::new(Kind::Deployment, service.step(), &deployment)
}
