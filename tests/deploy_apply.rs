//! Apply, re-apply, prune, upgrade rules, failures part way, cancellation and destroy, against
//! the Kubernetes API test server.

mod deploy_common;

use deploy_common::*;
use engram::deploy::{
    DeployError, Kind, NoProgress, ObjectId, Outcome, ProgressEvent, render_temporal_cluster,
};
use kube_api::{Effect, Fault};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const LONG: Duration = Duration::from_secs(30);

#[tokio::test]
async fn production_apply_creates_exactly_the_rendered_objects_and_reapply_changes_nothing() {
    let server = server(true).await;
    let deployer = deployer(&server).await;
    let rendered = example("production").render().unwrap();
    let cancel = CancellationToken::new();
    let recorder = Recorder::default();
    for stack in &rendered {
        let report = deployer
            .apply(stack, &fast(LONG), &recorder, &cancel)
            .await
            .unwrap();
        assert!(report.outcomes.iter().all(|(_, o)| *o == Outcome::Created));
    }
    let mut first = Vec::new();
    for stack in &rendered {
        let live = deployer.inventory(&stack.owner).await.unwrap();
        assert_eq!(live_ids(&live), ids(stack), "{:?}", stack.owner);
        first.extend(versions(&live));
    }
    let deployments = |kind| {
        rendered
            .iter()
            .flat_map(|r| r.objects.iter())
            .filter(|m| m.kind == kind)
            .count()
    };
    assert_eq!(
        deployments(Kind::Deployment),
        8,
        "5 Temporal roles, UI, admin tools, codec server"
    );
    assert_eq!(deployments(Kind::Job), 2);
    let events = recorder.0.lock().unwrap().clone();
    let ready: Vec<&ObjectId> = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Ready(id) => Some(id),
            _ => None,
        })
        .collect();
    let position = |name: &str| ready.iter().position(|id| id.name == name).unwrap();
    let [setup, update] = schema_jobs(&rendered[0]);
    assert!(position(&setup.name) < position(&update.name));
    assert!(position(&update.name) < position("prod-history"));
    assert!(position("prod-history") < position("prod-matching"));
    assert!(position("prod-matching") < position("prod-frontend"));
    assert!(position("prod-frontend") < position("prod-worker"));
    assert!(position("prod-worker") < position("prod-web-ui"));

    let mut second = Vec::new();
    for stack in &rendered {
        let report = deployer
            .apply(stack, &fast(LONG), &NoProgress, &cancel)
            .await
            .unwrap();
        assert!(!report.changed(), "{report:?}");
        second.extend(versions(&deployer.inventory(&stack.owner).await.unwrap()));
    }
    assert_eq!(first, second, "a second apply must not touch any object");
}

#[tokio::test]
async fn a_failed_schema_job_stops_the_rollout_with_its_reason() {
    let server = server(false).await;
    let handle = server.handle();
    let deployer = deployer(&server).await;
    let rendered = example("production").render().unwrap();
    let temporal = rendered[0].clone();
    let [setup, _] = schema_jobs(&temporal);
    let failer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if handle
                .fail_job(
                    "temporal-prod",
                    &setup.name,
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                )
                .is_ok()
            {
                return;
            }
        }
    });
    let error = deployer
        .apply(
            &temporal,
            &fast(LONG),
            &NoProgress,
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
    failer.await.unwrap();
    assert!(
        matches!(&error, DeployError::SchemaJobFailed { reason, .. } if reason == "BackoffLimitExceeded"),
        "{error}"
    );
    let live = deployer.inventory(&temporal.owner).await.unwrap();
    assert!(
        live.objects.keys().all(|id| id.kind != Kind::Deployment),
        "no server may roll out after a failed schema job"
    );
}

#[tokio::test]
async fn a_fault_mid_apply_leaves_a_state_the_next_apply_converges_from_and_destroy_clears() {
    let server = server(true).await;
    let handle = server.handle();
    let deployer = deployer(&server).await;
    let temporal = example("production").render().unwrap().remove(0);
    handle.inject_fault(Fault {
        path_prefix: "/apis/apps/v1/namespaces/temporal-prod/deployments/prod-matching".into(),
        method: Some("PATCH".into()),
        count: 10,
        effect: Effect::Status {
            code: 500,
            retry_after_seconds: None,
        },
    });
    let cancel = CancellationToken::new();
    let error = deployer
        .apply(&temporal, &fast(LONG), &NoProgress, &cancel)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            DeployError::Api {
                code: Some(500),
                ..
            }
        ),
        "{error}"
    );
    let partial = deployer.inventory(&temporal.owner).await.unwrap();
    assert!(partial.objects.keys().any(|id| id.name == "prod-history"));
    assert!(
        !partial
            .objects
            .keys()
            .any(|id| id.name == "prod-matching" && id.kind == Kind::Deployment)
    );
    handle.clear_faults();
    deployer
        .apply(&temporal, &fast(LONG), &NoProgress, &cancel)
        .await
        .unwrap();
    let live = deployer.inventory(&temporal.owner).await.unwrap();
    assert_eq!(live_ids(&live), ids(&temporal));
    assert!(deployer.drift(&temporal).await.unwrap().is_clean());

    let deleted = deployer
        .destroy(
            &temporal.owner,
            LONG,
            Duration::from_millis(10),
            &NoProgress,
            &cancel,
        )
        .await
        .unwrap();
    assert_eq!(deleted.len(), ids(&temporal).len());
    assert!(
        deployer
            .inventory(&temporal.owner)
            .await
            .unwrap()
            .objects
            .is_empty()
    );
}

#[tokio::test]
async fn destroy_removes_everything_labelled_for_both_stacks() {
    let server = server(true).await;
    let deployer = deployer(&server).await;
    let rendered = example("production").render().unwrap();
    let cancel = CancellationToken::new();
    for stack in &rendered {
        deployer
            .apply(stack, &fast(LONG), &NoProgress, &cancel)
            .await
            .unwrap();
    }
    for owner in owners(&rendered).iter().rev() {
        deployer
            .destroy(owner, LONG, Duration::from_millis(10), &NoProgress, &cancel)
            .await
            .unwrap();
    }
    for owner in owners(&rendered) {
        assert!(deployer.inventory(&owner).await.unwrap().objects.is_empty());
    }
}

#[tokio::test]
async fn a_stuck_rollout_times_out_naming_the_workload_and_its_conditions() {
    let server = server(false).await;
    let deployer = deployer(&server).await;
    let codec = example("production").render().unwrap().remove(1);
    create_namespace(&server, "temporal-prod").await;
    let error = deployer
        .apply(
            &codec,
            &fast(Duration::from_millis(300)),
            &NoProgress,
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
    let DeployError::RolloutTimeout {
        object,
        ready,
        desired,
        ..
    } = &error
    else {
        panic!("expected a timeout, got {error}");
    };
    assert_eq!(object.name, "codec");
    assert_eq!((*ready, *desired), (0, 2));
    assert!(
        error.to_string().contains("Deployment temporal-prod/codec"),
        "{error}"
    );
}

#[tokio::test]
async fn cancellation_stops_an_apply() {
    let server = server(false).await;
    let deployer = deployer(&server).await;
    let codec = example("production").render().unwrap().remove(1);
    create_namespace(&server, "temporal-prod").await;
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        trigger.cancel();
    });
    let error = deployer
        .apply(&codec, &fast(LONG), &NoProgress, &cancel)
        .await
        .unwrap_err();
    assert!(matches!(error, DeployError::Cancelled { .. }), "{error}");
}

/// The setup and update Jobs of a rendered cluster.
fn schema_jobs(rendered: &engram::deploy::Rendered) -> [ObjectId; 2] {
    let jobs: Vec<ObjectId> = rendered
        .objects
        .iter()
        .filter(|m| m.kind == Kind::Job)
        .map(|m| m.id())
        .collect();
    jobs.try_into().expect("a setup and an update Job")
}

#[tokio::test]
async fn upgrades_go_one_minor_version_at_a_time_and_old_schema_jobs_are_pruned() {
    let server = server(true).await;
    let deployer = deployer(&server).await;
    let mut spec = example("quickstart").temporal_cluster.unwrap();
    spec.version = "1.30.6".into();
    let cancel = CancellationToken::new();
    let apply = |spec| {
        let rendered = render_temporal_cluster(&spec).unwrap();
        let deployer = deployer.clone();
        let cancel = cancel.clone();
        async move {
            deployer
                .apply(&rendered, &fast(LONG), &NoProgress, &cancel)
                .await
        }
    };
    let old_jobs = schema_jobs(&render_temporal_cluster(&spec).unwrap());
    apply(spec.clone()).await.unwrap();
    spec.version = "1.32.0".into();
    let error = apply(spec.clone()).await.unwrap_err();
    assert!(error.to_string().contains("apply 1.31.x first"), "{error}");
    spec.version = "1.31.2".into();
    let [_, new_update] = schema_jobs(&render_temporal_cluster(&spec).unwrap());
    assert!(
        new_update
            .name
            .starts_with("temporal-schema-update-1-31-2-")
    );
    let report = apply(spec.clone()).await.unwrap();
    assert_eq!(report.pruned, old_jobs.to_vec());
    assert!(report.outcomes.contains(&(new_update, Outcome::Created)));
    spec.version = "1.30.6".into();
    assert!(matches!(
        apply(spec).await.unwrap_err(),
        DeployError::Upgrade(engram::deploy::UpgradeError::Downgrade { .. })
    ));
}

#[tokio::test]
async fn a_same_version_change_of_the_database_runs_new_schema_jobs() {
    let server = server(true).await;
    let deployer = deployer(&server).await;
    let mut spec = example("quickstart").temporal_cluster.unwrap();
    let cancel = CancellationToken::new();
    let first = render_temporal_cluster(&spec).unwrap();
    deployer
        .apply(&first, &fast(LONG), &NoProgress, &cancel)
        .await
        .unwrap();
    spec.persistence.default.host = "postgres-new.databases.svc".into();
    spec.persistence.default.password_secret.name = "temporal-postgres-new".into();
    let changed = render_temporal_cluster(&spec).unwrap();
    deployer
        .drift(&changed)
        .await
        .expect("the plan's dry run of a same-version change is accepted");
    let report = deployer
        .apply(&changed, &fast(LONG), &NoProgress, &cancel)
        .await
        .expect("a Job's template never changes in place");
    assert_eq!(report.pruned, schema_jobs(&first).to_vec());
    for job in schema_jobs(&changed) {
        assert!(report.outcomes.contains(&(job, Outcome::Created)));
    }
}

#[tokio::test]
async fn a_different_shard_count_is_a_hard_error_for_apply_and_drift() {
    let server = server(true).await;
    let deployer = deployer(&server).await;
    let mut spec = example("quickstart").temporal_cluster.unwrap();
    let cancel = CancellationToken::new();
    deployer
        .apply(
            &render_temporal_cluster(&spec).unwrap(),
            &fast(LONG),
            &NoProgress,
            &cancel,
        )
        .await
        .unwrap();
    spec.history_shard_count = 1024;
    let changed = render_temporal_cluster(&spec).unwrap();
    for error in [
        deployer
            .apply(&changed, &fast(LONG), &NoProgress, &cancel)
            .await
            .unwrap_err(),
        deployer.drift(&changed).await.unwrap_err(),
    ] {
        assert!(
            matches!(
                error,
                DeployError::ShardCountMismatch {
                    desired: 1024,
                    live: 512,
                    ..
                }
            ),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_cluster_without_the_prometheus_operator_crds_is_told_what_to_install_or_turn_off() {
    let mut options = kube_api::Options::without_crds();
    options.auto_ready = Some(Duration::from_millis(5));
    let server = kube_api::KubeApiServer::start_with(options)
        .await
        .expect("start kube-api");
    let deployer = deployer(&server).await;
    let cancel = CancellationToken::new();
    let mut spec = example("quickstart").temporal_cluster.unwrap();
    let error = deployer
        .apply(
            &render_temporal_cluster(&spec).unwrap(),
            &fast(LONG),
            &NoProgress,
            &cancel,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, DeployError::MissingKind { operator, .. } if operator.contains("Prometheus Operator")),
        "{error}"
    );
    spec.metrics.service_monitor = false;
    spec.metrics.prometheus_rule = false;
    deployer
        .apply(
            &render_temporal_cluster(&spec).unwrap(),
            &fast(LONG),
            &NoProgress,
            &cancel,
        )
        .await
        .expect("with metrics objects off, no CRD is needed");
}
