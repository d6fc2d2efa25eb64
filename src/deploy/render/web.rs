//! The Temporal Web UI (with its codec endpoint and OIDC sign-in) and the admin tools pod.

use super::names::{self, TemporalService};
use super::servers::{TEMPORAL_USER, disruption_budget};
use super::{Context, tls_secret_name};
use super::{ingress, pod};
use crate::deploy::manifest::{Kind, Manifest, Step};
use crate::deploy::temporal_versions::Release;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, ExecAction, HTTPGetAction, PodSpec, PodTemplateSpec, Probe,
    Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Where the frontend's CA certificate is mounted in the Web UI and admin tools pods.
const FRONTEND_CA_DIR: &str = "/etc/temporal/tls/frontend-ca";
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

/// The frontend's CA certificate alone, for pods that only verify the frontend: the Web UI and
/// the admin tools never see a private key.
fn frontend_ca(ctx: &Context) -> Option<(Volume, VolumeMount)> {
    let spec = ctx.spec;
    spec.tls.frontend.as_ref().map(|source| {
        (
            pod::secret_items_volume(
                "tls-frontend-ca",
                &tls_secret_name(spec, "frontend", source),
                &[("ca.crt", "ca.crt")],
            ),
            pod::mount("tls-frontend-ca", FRONTEND_CA_DIR),
        )
    })
}

/// The Web UI's settings for reaching the frontend, in the variables its config/docker.yaml
/// reads (temporalio/ui server/config/docker.yaml, v2.53.3): `TEMPORAL_TLS_CA` is a file path,
/// and host verification is off unless `TEMPORAL_TLS_ENABLE_HOST_VERIFICATION` is true.
fn ui_frontend_env(ctx: &Context) -> Vec<EnvVar> {
    let spec = ctx.spec;
    let mut env = vec![pod::env("TEMPORAL_ADDRESS", &frontend_address(ctx))];
    if spec.tls.frontend.is_some() {
        env.push(pod::env(
            "TEMPORAL_TLS_CA",
            &format!("{FRONTEND_CA_DIR}/ca.crt"),
        ));
        env.push(pod::env(
            "TEMPORAL_TLS_SERVER_NAME",
            &names::service_host(spec, TemporalService::Frontend),
        ));
        env.push(pod::env("TEMPORAL_TLS_ENABLE_HOST_VERIFICATION", "true"));
    }
    env
}

/// The `temporal` CLI's settings for reaching the frontend, in the variables it reads
/// (temporalio/cli cliext/client.go and the SDK's contrib/envconfig, cli v1.5.1 to v1.8.2):
/// `TEMPORAL_TLS_CA` is a file path; host verification is on unless disabled; the token is
/// `TEMPORAL_API_KEY`.
fn cli_frontend_env(ctx: &Context) -> Vec<EnvVar> {
    let spec = ctx.spec;
    let mut env = vec![pod::env("TEMPORAL_ADDRESS", &frontend_address(ctx))];
    if spec.tls.frontend.is_some() {
        env.push(pod::env("TEMPORAL_TLS", "true"));
        env.push(pod::env(
            "TEMPORAL_TLS_CA",
            &format!("{FRONTEND_CA_DIR}/ca.crt"),
        ));
        env.push(pod::env(
            "TEMPORAL_TLS_SERVER_NAME",
            &names::service_host(spec, TemporalService::Frontend),
        ));
    }
    if let Some(key) = &spec.admin_tools.api_key_secret {
        env.push(pod::secret_env("TEMPORAL_API_KEY", &key.name, &key.key));
    }
    env
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
                    image_pull_secrets: pod::pull_secrets(&spec.images.pull_secrets),
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
    let mut env = ui_frontend_env(ctx);
    let (mut volumes, mut mounts): (Vec<Volume>, Vec<VolumeMount>) =
        frontend_ca(ctx).into_iter().unzip();
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
        image: Some(Release::ui_image(&spec.images)),
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
    out.extend(ui.ingress.as_ref().map(|spec| {
        let backend = ingress::Backend {
            name: &name,
            component: UI_COMPONENT,
            port_name: "http",
        };
        ingress::render(&ctx.owner, spec, &backend, &ctx.annotations)
    }));
    out
}

/// The admin tools Deployment (one pod to `kubectl exec` into for `temporal operator`). It
/// keeps the image's own start command, an init that ends on SIGTERM (`tini -- sleep
/// infinity` in 1.29, `sh -c "trap exit INT HUP TERM; sleep infinity"` from 1.30).
pub fn admin_tools(ctx: &Context, release: &Release) -> Option<Manifest> {
    let spec = ctx.spec;
    if !spec.admin_tools.enabled {
        return None;
    }
    let env = cli_frontend_env(ctx);
    let (mut volumes, mut mounts): (Vec<Volume>, Vec<VolumeMount>) =
        frontend_ca(ctx).into_iter().unzip();
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
        image: Some(release.admin_tools_image(&spec.images)),
        image_pull_policy: Some(spec.images.pull_policy.clone()),
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
