//! The schema Jobs: `temporal-sql-tool setup-schema` (which only creates the schema version
//! tables when missing), then `update-schema` to the target version. Each is applied and waited
//! for before any server rolls out; their names carry the version, so an upgrade runs new Jobs
//! (a Job's pod template cannot change) and an unchanged spec re-applies as a no-op.

use super::Context;
use super::pod;
use super::server_config::sql_ca_dir;
use super::servers::{self, TEMPORAL_USER};
use crate::deploy::manifest::{Kind, Manifest, Step};
use crate::deploy::spec::SqlStoreSpec;
use crate::deploy::version::TemporalVersion;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The schema directories in the admin tools image, per store.
fn schema_dir(store: &str) -> String {
    let folder = if store == "default" {
        "temporal"
    } else {
        "visibility"
    };
    format!("/etc/temporal/schema/postgresql/v12/{folder}/versioned")
}

fn connection_args(store: &SqlStoreSpec, name: &str) -> Vec<String> {
    let mut args = vec![
        "--plugin".to_string(),
        "postgres12".into(),
        "--endpoint".into(),
        store.host.clone(),
        "--port".into(),
        store.port.to_string(),
        "--user".into(),
        store.user.clone(),
        "--database".into(),
        store.database.clone(),
    ];
    if store.tls.enabled {
        args.push("--tls".into());
        if store.tls.ca.is_some() {
            args.push("--tls-ca-file".into());
            args.push(format!("{}/ca.crt", sql_ca_dir(name)));
        }
        if store.tls.mode != "verify-full" {
            args.push("--tls-disable-host-verification".into());
        }
        args.push("--tls-server-name".into());
        args.push(
            store
                .tls
                .server_name
                .clone()
                .unwrap_or_else(|| store.host.clone()),
        );
    }
    args
}

fn tool_container(
    ctx: &Context,
    store_name: &str,
    store: &SqlStoreSpec,
    action: &[String],
) -> Container {
    let spec = ctx.spec;
    let (_, mounts) = servers::server_volumes(spec);
    let mut args = connection_args(store, store_name);
    args.extend(action.iter().cloned());
    Container {
        name: format!("{store_name}-store"),
        image: Some(format!("{}:{}", spec.images.admin_tools, spec.version)),
        image_pull_policy: Some(spec.images.pull_policy.clone()),
        command: Some(vec!["temporal-sql-tool".into()]),
        args: Some(args),
        env: Some(vec![pod::secret_env(
            "SQL_PASSWORD",
            &store.password_secret.name,
            &store.password_secret.key,
        )]),
        resources: Some(pod::resources(&Default::default())),
        security_context: Some(pod::container_security(TEMPORAL_USER)),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

fn job(ctx: &Context, name: &str, step: Step, action: impl Fn(&str) -> Vec<String>) -> Manifest {
    let spec = ctx.spec;
    let persistence = &spec.persistence;
    let (volumes, _) = servers::server_volumes(spec);
    let component = "schema";
    let mut labels = ctx.owner.labels(component);
    labels.extend(ctx.owner.selector_labels(component));
    let job = Job {
        metadata: pod::meta(&ctx.owner, name, component, &ctx.annotations),
        spec: Some(JobSpec {
            backoff_limit: Some(3),
            active_deadline_seconds: Some(1800),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    service_account_name: Some(super::names::object(spec, "temporal")),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(pod::pod_security(TEMPORAL_USER)),
                    priority_class_name: spec.priority_class_name.clone(),
                    init_containers: Some(vec![tool_container(
                        ctx,
                        "default",
                        &persistence.default,
                        &action("default"),
                    )]),
                    containers: vec![tool_container(
                        ctx,
                        "visibility",
                        &persistence.visibility,
                        &action("visibility"),
                    )],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    };
    Manifest::new(Kind::Job, step, &job)
}

/// The setup Job: creates Temporal's schema version tables in both databases.
pub fn setup(ctx: &Context, version: &TemporalVersion) -> Manifest {
    let name = format!("{}-schema-setup-{}", ctx.spec.name, version.slug());
    job(ctx, &name, Step::SchemaSetup, |_| {
        vec!["setup-schema".into(), "-v".into(), "0.0".into()]
    })
}

/// The name of the update Job for a version.
pub fn update_job_name(cluster: &str, version: &TemporalVersion) -> String {
    format!("{cluster}-schema-update-{}", version.slug())
}

/// The update Job: moves both schemas to the version the target server needs.
pub fn update(ctx: &Context, version: &TemporalVersion) -> Manifest {
    let name = update_job_name(&ctx.spec.name, version);
    job(ctx, &name, Step::SchemaUpdate, |store| {
        vec!["update-schema".into(), "-d".into(), schema_dir(store)]
    })
}
