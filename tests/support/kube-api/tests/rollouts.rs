//! Rollouts take controller steps, as the Deployment, ReplicaSet, StatefulSet and Job controllers
//! take them on a real cluster: `metadata.generation` bumps on every change of `spec`,
//! `status.observedGeneration` lags until the next step, and an update passes through intermediate
//! status. The real kubectl 1.37 (`kubectl rollout status`) agrees with the status at every step.

mod common;

use common::{client_for, deployment, raw, start};
use kube_api::{KubeApiServer, ObjectRef, Options};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const APPLY: &str = "application/apply-patch+yaml";
const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/default/deployments/web";

/// The Deployment the provider renders for a Temporal service: 3 replicas, maxSurge 1,
/// maxUnavailable 0.
fn web(image: &str) -> Value {
    let mut object = deployment("web", image);
    object["spec"]["replicas"] = json!(3);
    object["spec"]["strategy"] = json!({
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}
    });
    object
}

async fn apply(client: &kube::Client, path: &str, object: Value) -> Value {
    let (code, body) = raw(
        client,
        "PATCH",
        &format!("{path}?fieldManager=test&force=true"),
        APPLY,
        object,
    )
    .await;
    assert!(code == 200 || code == 201, "{code} {body}");
    body
}

async fn get(client: &kube::Client, path: &str) -> Value {
    let (code, body) = raw(client, "GET", path, "application/json", Value::Null).await;
    assert_eq!(code, 200, "{body}");
    body
}

fn generation(object: &Value) -> i64 {
    object["metadata"]["generation"].as_i64().unwrap_or(0)
}

fn observed(object: &Value) -> i64 {
    object["status"]["observedGeneration"].as_i64().unwrap_or(0)
}

/// `[replicas, updatedReplicas, readyReplicas, availableReplicas, unavailableReplicas]`; absent
/// counts are 0 (omitempty).
fn counts(object: &Value) -> [i64; 5] {
    let n = |k: &str| object["status"][k].as_i64().unwrap_or(0);
    [
        n("replicas"),
        n("updatedReplicas"),
        n("readyReplicas"),
        n("availableReplicas"),
        n("unavailableReplicas"),
    ]
}

fn web_ref() -> ObjectRef {
    ObjectRef::new("apps/v1", "Deployment", "default", "web")
}

/// kubectl's DeploymentStatusViewer rule (staging/src/k8s.io/kubectl/pkg/polymorphichelpers/
/// rollout_status.go, kubectl v0.37.0-beta.0): the message it prints and whether it is done.
fn deployment_rule(d: &Value) -> (String, bool) {
    let name = d["metadata"]["name"].as_str().unwrap_or_default();
    let desired = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let s = |k: &str| d["status"][k].as_i64().unwrap_or(0);
    if generation(d) <= observed(d) {
        if s("updatedReplicas") < desired {
            return (
                format!(
                    "Waiting for deployment \"{name}\" rollout to finish: {} out of {desired} new replicas have been updated...\n",
                    s("updatedReplicas")
                ),
                false,
            );
        }
        if s("replicas") > s("updatedReplicas") {
            return (
                format!(
                    "Waiting for deployment \"{name}\" rollout to finish: {} old replicas are pending termination...\n",
                    s("replicas") - s("updatedReplicas")
                ),
                false,
            );
        }
        if s("availableReplicas") < s("updatedReplicas") {
            return (
                format!(
                    "Waiting for deployment \"{name}\" rollout to finish: {} of {} updated replicas are available...\n",
                    s("availableReplicas"),
                    s("updatedReplicas")
                ),
                false,
            );
        }
        return (
            format!("deployment \"{name}\" successfully rolled out\n"),
            true,
        );
    }
    (
        "Waiting for deployment spec update to be observed...\n".into(),
        false,
    )
}

/// kubectl's StatefulSetStatusViewer rule (same file). The server defaults
/// `updateStrategy.rollingUpdate.partition` to 0, so the partitioned branch applies.
fn stateful_set_rule(set: &Value) -> (String, bool) {
    let desired = set["spec"]["replicas"].as_i64().unwrap_or(1);
    let s = |k: &str| set["status"][k].as_i64().unwrap_or(0);
    if observed(set) == 0 || generation(set) > observed(set) {
        return (
            "Waiting for statefulset spec update to be observed...\n".into(),
            false,
        );
    }
    if s("readyReplicas") < desired {
        return (
            format!(
                "Waiting for {} pods to be ready...\n",
                desired - s("readyReplicas")
            ),
            false,
        );
    }
    let partition = set["spec"]["updateStrategy"]["rollingUpdate"]["partition"]
        .as_i64()
        .expect("partition defaulted");
    if s("updatedReplicas") < desired - partition {
        return (
            format!(
                "Waiting for partitioned roll out to finish: {} out of {} new pods have been updated...\n",
                s("updatedReplicas"),
                desired - partition
            ),
            false,
        );
    }
    (
        format!(
            "partitioned roll out complete: {} new pods have been updated...\n",
            s("updatedReplicas")
        ),
        true,
    )
}

fn kubectl_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let binary = root.join(".tools/bin/kubectl");
    assert!(
        binary.exists(),
        "kubectl is not installed at {}; run scripts/install-tools",
        binary.display()
    );
    binary
}

/// `kubectl rollout status <target> --watch=false`: its output, and whether it exited 0.
async fn rollout_status(kubeconfig: &Path, target: &str) -> String {
    let output = tokio::process::Command::new(kubectl_binary())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["rollout", "status", target, "--watch=false"])
        .output()
        .await
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "kubectl rollout status failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn an_update_passes_through_intermediate_status_before_it_is_complete() {
    let f = start().await;
    let handle = f.server.handle();
    let created = apply(&f.client, DEPLOYMENT, web("temporal:1")).await;
    assert_eq!(generation(&created), 1);
    assert_eq!(observed(&created), 0, "no controller step yet: {created}");
    let steps = handle.settle(20).expect("settle");
    assert!(steps >= 2, "the first rollout takes steps: {steps}");
    let done = get(&f.client, DEPLOYMENT).await;
    assert_eq!(counts(&done), [3, 3, 3, 3, 0]);
    assert_eq!(observed(&done), 1);

    let updated = apply(&f.client, DEPLOYMENT, web("temporal:2")).await;
    assert_eq!(generation(&updated), 2);
    assert_eq!(
        observed(&updated),
        1,
        "observedGeneration lags until the controller step"
    );
    let mut seen = Vec::new();
    for _ in 0..20 {
        if !handle.step_object(&web_ref()).expect("step") {
            break;
        }
        let now = get(&f.client, DEPLOYMENT).await;
        assert_eq!(observed(&now), 2);
        seen.push(counts(&now));
    }
    assert!(
        seen.contains(&[4, 3, 3, 3, 1]),
        "an old pod terminating: {seen:?}"
    );
    assert!(seen.len() > 2, "{seen:?}");
    assert_eq!(seen.last(), Some(&[3, 3, 3, 3, 0]), "{seen:?}");
    for c in &seen {
        assert!(c[0] <= 4, "never more than replicas + maxSurge: {seen:?}");
        assert!(
            c[3] >= 3,
            "never fewer available than replicas - maxUnavailable: {seen:?}"
        );
    }
    let last = get(&f.client, DEPLOYMENT).await;
    let progressing = last["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Progressing"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable", "{last}");
}

#[tokio::test]
async fn generation_bumps_on_any_change_of_spec_and_only_then() {
    let f = start().await;
    let handle = f.server.handle();
    apply(&f.client, DEPLOYMENT, web("temporal:1")).await;
    handle.settle(20).expect("settle");
    assert_eq!(observed(&get(&f.client, DEPLOYMENT).await), 1);

    // A pod template annotation (what a config checksum does) is a spec change.
    let mut annotated = web("temporal:1");
    annotated["spec"]["template"]["metadata"]["annotations"] = json!({"checksum/config": "abc"});
    let after = apply(&f.client, DEPLOYMENT, annotated.clone()).await;
    assert_eq!((generation(&after), observed(&after)), (2, 1));

    // Labels of the Deployment itself and re-applying the same manifest are not.
    let mut relabelled = annotated.clone();
    relabelled["metadata"]["labels"]["tier"] = json!("backend");
    let after = apply(&f.client, DEPLOYMENT, relabelled.clone()).await;
    assert_eq!(generation(&after), 2);
    let after = apply(&f.client, DEPLOYMENT, relabelled.clone()).await;
    assert_eq!(generation(&after), 2);

    // Replicas are.
    let mut scaled = relabelled.clone();
    scaled["spec"]["replicas"] = json!(5);
    let after = apply(&f.client, DEPLOYMENT, scaled.clone()).await;
    assert_eq!((generation(&after), observed(&after)), (3, 1));

    // The Deployment's own annotations are too, as they are copied to its replica sets
    // (pkg/registry/apps/deployment/strategy.go).
    let mut noted = scaled.clone();
    noted["metadata"]["annotations"] = json!({"owner": "temporal"});
    let after = apply(&f.client, DEPLOYMENT, noted).await;
    assert_eq!((generation(&after), observed(&after)), (4, 1));

    // A status write by the controller is not; one step observes generation 4.
    assert!(handle.step_object(&web_ref()).expect("step"));
    let after = get(&f.client, DEPLOYMENT).await;
    assert_eq!((generation(&after), observed(&after)), (4, 4));
    handle.settle(20).expect("settle");
    let after = get(&f.client, DEPLOYMENT).await;
    assert_eq!(generation(&after), 4);
    assert_eq!(counts(&after), [5, 5, 5, 5, 0]);
}

#[tokio::test]
async fn kubectl_rollout_status_agrees_with_every_step() {
    let f = start().await;
    let handle = f.server.handle();
    let kubeconfig = f.server.kubeconfig_path();
    apply(&f.client, DEPLOYMENT, web("temporal:1")).await;
    let mut messages = Vec::new();
    for round in ["temporal:1", "temporal:2"] {
        if round == "temporal:2" {
            apply(&f.client, DEPLOYMENT, web(round)).await;
        }
        for _ in 0..20 {
            let now = get(&f.client, DEPLOYMENT).await;
            let (expected, done) = deployment_rule(&now);
            let printed = rollout_status(kubeconfig, "deployment/web").await;
            assert_eq!(printed, expected, "status {}", now["status"]);
            messages.push(printed);
            if done {
                break;
            }
            handle.step_object(&web_ref()).expect("step");
        }
        assert_eq!(
            messages.last().map(String::as_str),
            Some("deployment \"web\" successfully rolled out\n")
        );
    }
    for waiting in [
        "Waiting for deployment spec update to be observed...\n",
        "Waiting for deployment \"web\" rollout to finish: 0 out of 3 new replicas have been updated...\n",
        "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination...\n",
    ] {
        assert!(
            messages.iter().any(|m| m == waiting),
            "{waiting:?} never printed: {messages:#?}"
        );
    }
}

#[tokio::test]
async fn kubectl_rollout_status_agrees_for_a_stateful_set() {
    let f = start().await;
    let handle = f.server.handle();
    let kubeconfig = f.server.kubeconfig_path();
    let path = "/apis/apps/v1/namespaces/default/statefulsets/db";
    let set = |image: &str| {
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 2,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "db", "image": image}]}
                }
            }
        })
    };
    let target = ObjectRef::new("apps/v1", "StatefulSet", "default", "db");
    let mut messages = Vec::new();
    for image in ["postgres:16", "postgres:17"] {
        apply(&f.client, path, set(image)).await;
        for _ in 0..20 {
            let now = get(&f.client, path).await;
            let (expected, done) = stateful_set_rule(&now);
            let printed = rollout_status(kubeconfig, "statefulset/db").await;
            assert_eq!(printed, expected, "status {}", now["status"]);
            messages.push(printed);
            if done {
                break;
            }
            handle.step_object(&target).expect("step");
        }
        assert_eq!(
            messages.last().map(String::as_str),
            Some("partitioned roll out complete: 2 new pods have been updated...\n")
        );
    }
    assert!(
        messages
            .iter()
            .any(|m| m == "Waiting for 1 pods to be ready...\n"),
        "pods are replaced one at a time: {messages:#?}"
    );
    let done = get(&f.client, path).await;
    assert_eq!(
        done["status"]["currentRevision"],
        done["status"]["updateRevision"]
    );
}

#[tokio::test]
async fn kubectl_rollout_status_watches_until_the_steps_complete_the_rollout() {
    let f = start().await;
    let handle = f.server.handle();
    apply(&f.client, DEPLOYMENT, web("temporal:1")).await;
    let waiting = tokio::process::Command::new(kubectl_binary())
        .arg("--kubeconfig")
        .arg(f.server.kubeconfig_path())
        .args(["rollout", "status", "deployment/web", "--timeout=60s"])
        .kill_on_drop(true)
        .output();
    let stepper = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            handle.step_object(&web_ref()).expect("step");
        }
    };
    let (output, ()) = tokio::join!(waiting, stepper);
    let output = output.expect("kubectl runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.ends_with("deployment \"web\" successfully rolled out\n"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_job_starts_has_its_pod_ready_and_succeeds_one_step_each() {
    let f = start().await;
    let handle = f.server.handle();
    let path = "/apis/batch/v1/namespaces/default/jobs/schema";
    let job = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "schema"},
        "spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "setup", "image": "temporal-admin-tools:1"}]
        }}}
    });
    apply(&f.client, path, job).await;
    let target = ObjectRef::new("batch/v1", "Job", "default", "schema");
    let mut states = Vec::new();
    while handle.step_object(&target).expect("step") {
        let now = get(&f.client, path).await;
        let complete = now["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Complete" && c["status"] == "True")
        });
        states.push((
            now["status"]["active"].as_i64().unwrap_or(0),
            now["status"]["ready"].as_i64().unwrap_or(0),
            now["status"]["succeeded"].as_i64().unwrap_or(0),
            complete,
        ));
        assert!(states.len() < 10, "{states:?}");
    }
    assert_eq!(
        states,
        vec![(1, 0, 0, false), (1, 1, 0, false), (0, 0, 1, true)]
    );
}

#[tokio::test]
async fn without_the_automatic_mode_nothing_progresses_by_itself() {
    let f = start().await;
    apply(&f.client, DEPLOYMENT, web("temporal:1")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let now = get(&f.client, DEPLOYMENT).await;
    assert_eq!(observed(&now), 0, "{now}");
}

#[tokio::test]
async fn the_automatic_mode_steps_every_tick_until_the_rollout_is_done() {
    let options = Options {
        auto_ready: Some(Duration::from_millis(20)),
        ..Options::default()
    };
    let server = KubeApiServer::start_with(options).await.expect("start");
    let client = client_for(server.kubeconfig_path()).await;
    apply(&client, DEPLOYMENT, web("temporal:1")).await;
    let mut done = false;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = get(&client, DEPLOYMENT).await;
        if deployment_rule(&now).1 {
            done = true;
            break;
        }
    }
    assert!(done, "the rollout finished by itself");
    apply(&client, DEPLOYMENT, web("temporal:2")).await;
    let mut seen = Vec::new();
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = get(&client, DEPLOYMENT).await;
        seen.push(counts(&now));
        if deployment_rule(&now).1 {
            assert_eq!(counts(&now), [3, 3, 3, 3, 0]);
            return;
        }
    }
    panic!("the update did not finish: {seen:?}");
}

#[tokio::test]
async fn the_admin_endpoint_steps_one_workload_or_all() {
    let f = start().await;
    apply(&f.client, DEPLOYMENT, web("temporal:1")).await;
    let target = json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "default", "name": "web"});
    let (code, body) = raw(
        &f.client,
        "POST",
        "/__admin/step",
        "application/json",
        target,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body, json!({"changed": 1}));
    assert_eq!(observed(&get(&f.client, DEPLOYMENT).await), 1);
    let (code, body) = raw(
        &f.client,
        "POST",
        "/__admin/step",
        "application/json",
        Value::Null,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!({"changed": 1}),
        "one workload exists and it progressed"
    );
}
