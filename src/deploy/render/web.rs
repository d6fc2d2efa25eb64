//! The Temporal Web UI (with its codec endpoint and OIDC sign-in) and the admin tools pod.

use super::names::{self, TemporalService};
use super::pod;
use super::server_config::FRONTEND_TLS_DIR;
use super::servers::{TEMPORAL_USER, disruption_budget};
use super::{Context, tls_secret_name};
use crate::deploy::manifest::{Kind, Manifest, Step};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, ExecAction, HTTPGetAction, PodSpec, PodTemplateSpec, Probe,
    Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The UI's HTTP port.
pub const UI_PORT: i32 = 8080;
/// The UI component label.
pub const UI_COMPONENT: &str = "web-ui";

fn frontend_address(ctx: &Context) -> String {
    format!(
        "{}:{}",
        names::service_host(ctx.spec, TemporalService::Frontend),
        TemporalService::Frontend.grpc_port()
    )
}

/// Environment for clients of the frontend: its address and, with frontend TLS, the CA and
/// name to verify.
fn frontend_client_env(ctx: &Context) -> (Vec<EnvVar>, Vec<Volume>, Vec<VolumeMount>) {
    let spec = ctx.spec;
    let mut env = vec![pod::env("TEMPORAL_ADDRESS", &frontend_address(ctx))];
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    if let Some(source) = &spec.tls.frontend {
        env.push(pod::env(
            "TEMPORAL_TLS_CA",
            &format!("{FRONTEND_TLS_DIR}/ca.crt"),
        ));
        env.push(pod::env(
            "TEMPORAL_TLS_SERVER_NAME",
            &names::service_host(spec, TemporalService::Frontend),
        ));
        env.push(pod::env("TEMPORAL_TLS_ENABLE_HOST_VERIFICATION", "true"));
        volumes.push(pod::secret_volume(
            "tls-frontend",
            &tls_secret_name(spec, "frontend", source),
        ));
        mounts.push(pod::mount("tls-frontend", FRONTEND_TLS_DIR));
    }
    (env, volumes, mounts)
}

fn deployment(
    ctx: &Context,
    component: &str,
    replicas: i32,
    container: Container,
    volumes: Vec<Volume>,
) -> Manifest {
    let spec = ctx.spec;
    let selector_labels = ctx.owner.selector_labels(component);
    let mut pod_labels = ctx.owner.labels(component);
    pod_labels.extend(selector_labels.clone());
    let deployment = Deployment {
        metadata: pod::meta(
            &ctx.owner,
            &names::object(spec, component),
            component,
            &ctx.annotations,
        ),
        spec: DeploymentSpec {
            replicas: Some(replicas),
            revision_history_limit: Some(5),
            selector: pod::selector(selector_labels.clone()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(names::object(spec, "temporal")),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(pod::pod_security(TEMPORAL_USER)),
                    priority_class_name: spec.priority_class_name.clone(),
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
    Manifest::new(Kind::Deployment, Step::Edge, &deployment)
}

/// The Web UI's Deployment, Service and PodDisruptionBudget.
pub fn web_ui(ctx: &Context) -> Vec<Manifest> {
    let spec = ctx.spec;
    let ui = &spec.web_ui;
    if !ui.enabled {
        return Vec::new();
    }
    let (mut env, mut volumes, mut mounts) = frontend_client_env(ctx);
    env.push(pod::env("TEMPORAL_UI_PORT", &UI_PORT.to_string()));
    if let Some(endpoint) = &ui.codec_endpoint {
        env.push(pod::env("TEMPORAL_CODEC_ENDPOINT", endpoint));
        env.push(pod::env(
            "TEMPORAL_CODEC_PASS_ACCESS_TOKEN",
            &ui.codec_pass_access_token.to_string(),
        ));
        env.push(pod::env(
            "TEMPORAL_CODEC_INCLUDE_CREDENTIALS",
            &ui.codec_include_credentials.to_string(),
        ));
    }
    if let Some(oidc) = &ui.oidc {
        env.push(pod::env("TEMPORAL_AUTH_ENABLED", "true"));
        env.push(pod::env("TEMPORAL_AUTH_PROVIDER_URL", &oidc.provider_url));
        env.push(pod::env("TEMPORAL_AUTH_CLIENT_ID", &oidc.client_id));
        env.push(pod::secret_env(
            "TEMPORAL_AUTH_CLIENT_SECRET",
            &oidc.client_secret.name,
            &oidc.client_secret.key,
        ));
        env.push(pod::env("TEMPORAL_AUTH_CALLBACK_URL", &oidc.callback_url));
        env.push(pod::env("TEMPORAL_AUTH_SCOPES", &oidc.scopes.join(",")));
    }
    let (tmp_volume, tmp_mount) = pod::tmp();
    volumes.push(tmp_volume);
    mounts.push(tmp_mount);
    volumes.push(Volume {
        name: "ui-config".into(),
        empty_dir: Some(Default::default()),
        ..Volume::default()
    });
    mounts.push(VolumeMount {
        name: "ui-config".into(),
        mount_path: "/home/ui-server/config".into(),
        ..VolumeMount::default()
    });
    let http_probe = |initial| Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/healthz".into()),
            port: IntOrString::String("http".into()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(initial),
        period_seconds: Some(10),
        timeout_seconds: Some(5),
        ..Probe::default()
    };
    let container = Container {
        name: UI_COMPONENT.into(),
        image: Some(format!("{}:{}", spec.images.ui, spec.images.ui_version)),
        image_pull_policy: Some(spec.images.pull_policy.clone()),
        env: Some(env),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: UI_PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(http_probe(5)),
        liveness_probe: Some(http_probe(30)),
        resources: Some(pod::resources(&ui.resources)),
        security_context: Some(pod::container_security(TEMPORAL_USER)),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    let name = names::object(spec, UI_COMPONENT);
    let service = Service {
        metadata: pod::meta(&ctx.owner, &name, UI_COMPONENT, &ctx.annotations),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(ctx.owner.selector_labels(UI_COMPONENT)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: UI_PORT,
                target_port: Some(IntOrString::String("http".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let mut out = vec![
        Manifest::new(Kind::Service, Step::Foundation, &service),
        deployment(ctx, UI_COMPONENT, ui.replicas, container, volumes),
    ];
    out.extend(disruption_budget(
        ctx,
        UI_COMPONENT,
        &name,
        ui.replicas,
        true,
        1,
    ));
    out
}

/// The admin tools Deployment (one pod to `kubectl exec` into for `temporal operator`).
pub fn admin_tools(ctx: &Context) -> Option<Manifest> {
    let spec = ctx.spec;
    if !spec.admin_tools.enabled {
        return None;
    }
    let (env, mut volumes, mut mounts) = frontend_client_env(ctx);
    let (tmp_volume, tmp_mount) = pod::tmp();
    volumes.push(tmp_volume);
    mounts.push(tmp_mount);
    let exec_probe = |initial| Probe {
        exec: Some(ExecAction {
            command: Some(vec!["temporal".into(), "--version".into()]),
        }),
        initial_delay_seconds: Some(initial),
        period_seconds: Some(30),
        timeout_seconds: Some(5),
        ..Probe::default()
    };
    let container = Container {
        name: "admin-tools".into(),
        image: Some(format!("{}:{}", spec.images.admin_tools, spec.version)),
        image_pull_policy: Some(spec.images.pull_policy.clone()),
        command: Some(vec!["sleep".into(), "infinity".into()]),
        env: Some(env),
        readiness_probe: Some(exec_probe(5)),
        liveness_probe: Some(exec_probe(30)),
        resources: Some(pod::resources(&Default::default())),
        security_context: Some(pod::container_security(TEMPORAL_USER)),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    Some(deployment(ctx, "admin-tools", 1, container, volumes))
}
