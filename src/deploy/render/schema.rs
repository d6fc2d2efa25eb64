//! The schema Jobs. The setup Job runs, per store, `temporal-sql-tool create-database` (when
//! `create_database` is on; it is a no-op for a database that exists) and `setup-schema -v 0.0`
//! (which only creates the schema version tables when missing); the update Job then moves both
//! schemas to the version the target server needs. Each Job is applied and waited for before
//! any server rolls out.
//!
//! A Job's pod template cannot change once created, and it carries connection settings (host,
//! CA, password Secret, priority class). So each Job is named after the version *and* a digest
//! of its template: any change renders a Job with a new name, the old one is pruned, and an
//! unchanged spec re-applies as a no-op.

use super::Context;
use super::pod;
use super::server_config::{connect_host, sql_ca_dir};
use super::servers::{TEMPORAL_USER, store_ca};
use crate::deploy::labels::digest;
use crate::deploy::manifest::{Kind, Manifest, Step};
use crate::deploy::spec::SqlStoreSpec;
use crate::deploy::temporal_versions::{self, Release};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The global flags of `temporal-sql-tool` that say where the database is and how to reach it
/// (tools/sql/main.go); the password comes from `SQL_PASSWORD`.
fn connection_args(store: &SqlStoreSpec, name: &str) -> Vec<String> {
    let mut args = vec![
        "--plugin".to_string(),
        temporal_versions::SQL_PLUGIN.into(),
        "--endpoint".into(),
        connect_host(&store.host),
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
    }
    args
}

/// One run of `temporal-sql-tool` against one store.
fn tool_container(
    ctx: &Context,
    release: &Release,
    store_name: &str,
    store: &SqlStoreSpec,
    step: &str,
    action: &[&str],
) -> Container {
    let spec = ctx.spec;
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    store_ca(store, store_name, &mut volumes, &mut mounts);
    let mut args = connection_args(store, store_name);
    args.extend(action.iter().map(|a| a.to_string()));
    Container {
        name: format!("{store_name}-{step}"),
        image: Some(release.admin_tools_image(&spec.images)),
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
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        ..Container::default()
    }
}

/// The volumes the Job's containers mount: only the stores' CA bundles.
fn job_volumes(ctx: &Context) -> Vec<k8s_openapi::api::core::v1::Volume> {
    let persistence = &ctx.spec.persistence;
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    store_ca(&persistence.default, "default", &mut volumes, &mut mounts);
    store_ca(
        &persistence.visibility,
        "visibility",
        &mut volumes,
        &mut mounts,
    );
    volumes
}

/// A Job running `containers` one after the other: all but the last as init containers.
fn job(ctx: &Context, base_name: &str, step: Step, mut containers: Vec<Container>) -> Manifest {
    let spec = ctx.spec;
    let component = "schema";
    let mut labels = ctx.owner.labels(component);
    labels.extend(ctx.owner.selector_labels(component));
    let last = containers
        .pop()
        .expect("a schema Job runs at least one step");
    let volumes = job_volumes(ctx);
    let template = PodTemplateSpec {
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
            image_pull_secrets: pod::pull_secrets(&spec.images.pull_secrets),
            init_containers: (!containers.is_empty()).then_some(containers),
            containers: vec![last],
            volumes: (!volumes.is_empty()).then_some(volumes),
            ..PodSpec::default()
        }),
    };
    let template_digest = digest(&serde_json::to_string(&template).unwrap_or_default());
    let name = format!("{base_name}-{}", &template_digest[..8]);
    let job = Job {
        metadata: pod::meta(&ctx.owner, &name, component, &ctx.annotations),
        spec: Some(JobSpec {
            backoff_limit: Some(3),
            active_deadline_seconds: Some(1800),
            template,
            ..JobSpec::default()
        }),
        ..Job::default()
    };
    Manifest::new(Kind::Job, step, &job)
}

/// The setup Job: creates the databases where asked, then Temporal's schema version tables.
pub fn setup(ctx: &Context, release: &Release) -> Manifest {
    let persistence = &ctx.spec.persistence;
    let mut containers = Vec::new();
    for (name, store) in [
        ("default", &persistence.default),
        ("visibility", &persistence.visibility),
    ] {
        if store.create_database {
            containers.push(tool_container(
                ctx,
                release,
                name,
                store,
                "create",
                &["create-database"],
            ));
        }
        containers.push(tool_container(
            ctx,
            release,
            name,
            store,
            "setup",
            &["setup-schema", "-v", "0.0"],
        ));
    }
    let name = format!("{}-schema-setup-{}", ctx.spec.name, release.version.slug());
    job(ctx, &name, Step::SchemaSetup, containers)
}

/// The update Job: moves both schemas to the version the target server needs.
pub fn update(ctx: &Context, release: &Release) -> Manifest {
    let persistence = &ctx.spec.persistence;
    let containers = [
        ("default", &persistence.default),
        ("visibility", &persistence.visibility),
    ]
    .into_iter()
    .map(|(name, store)| {
        let dir = release.schema_dir(name);
        tool_container(
            ctx,
            release,
            name,
            store,
            "update",
            &["update-schema", "-d", &dir],
        )
    })
    .collect();
    let name = format!("{}-schema-update-{}", ctx.spec.name, release.version.slug());
    job(ctx, &name, Step::SchemaUpdate, containers)
}
