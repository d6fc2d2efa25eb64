//! Waiting for workloads: Deployments until every replica of the current generation is ready,
//! Jobs until they complete (or fail, which stops the apply with the Job's reason).

use super::client::{Deployer, retry};
use super::error::DeployError;
use super::manifest::{Kind, ObjectId};
use super::progress::{Progress, ProgressEvent, WorkloadStatus};
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Where a workload stands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum State {
    /// Still rolling out.
    Pending(WorkloadStatus),
    /// Done.
    Ready,
}

fn number(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn conditions(object: &Value) -> Vec<String> {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|c| {
                    let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
                    format!(
                        "{}={} ({}: {})",
                        text("type"),
                        text("status"),
                        text("reason"),
                        text("message")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

fn text(condition: &Value, key: &str) -> String {
    condition
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Evaluates a live Deployment or Job.
pub(crate) fn evaluate(id: &ObjectId, object: &Value) -> Result<State, DeployError> {
    let as_i32 = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
    if id.kind == Kind::Job {
        if let Some(failed) = condition(object, "Failed").filter(|c| text(c, "status") == "True") {
            return Err(DeployError::SchemaJobFailed {
                job: id.clone(),
                reason: text(failed, "reason"),
                message: text(failed, "message"),
            });
        }
        if condition(object, "Complete").is_some_and(|c| text(c, "status") == "True") {
            return Ok(State::Ready);
        }
        return Ok(State::Pending(WorkloadStatus {
            object: id.clone(),
            ready: as_i32(number(object, "/status/succeeded")),
            desired: as_i32(number(object, "/spec/completions").max(1)),
            conditions: conditions(object),
        }));
    }
    // The rule `kubectl rollout status` applies (kubectl pkg/polymorphichelpers/rollout_status.go
    // `DeploymentStatusViewer.Status`, v1.37): only a status of the current generation counts;
    // then every desired replica is updated, no old replica is left (`replicas` counts pods
    // still terminating), and every updated replica is available.
    let current =
        number(object, "/status/observedGeneration") >= number(object, "/metadata/generation");
    if current
        && let Some(progressing) = condition(object, "Progressing")
            .filter(|c| text(c, "reason") == "ProgressDeadlineExceeded")
    {
        return Err(DeployError::RolloutFailed {
            object: id.clone(),
            reason: text(progressing, "reason"),
            message: text(progressing, "message"),
        });
    }
    // An unset `spec.replicas` defaults to 1 (apps/v1 SetDefaults_Deployment).
    let desired = object
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let replicas = number(object, "/status/replicas");
    let updated = number(object, "/status/updatedReplicas");
    let available = number(object, "/status/availableReplicas");
    let done = current && updated >= desired && replicas <= updated && available >= updated;
    if done {
        return Ok(State::Ready);
    }
    Ok(State::Pending(WorkloadStatus {
        object: id.clone(),
        ready: as_i32(number(object, "/status/readyReplicas")),
        desired: as_i32(desired),
        conditions: conditions(object),
    }))
}

/// The first wait before polling a rollout again; it doubles up to the poll interval, so a quick
/// rollout is seen at once and a slow one costs a GET per interval.
const FIRST_POLL_DELAY: Duration = Duration::from_millis(100);

impl Deployer {
    /// Waits until every workload is ready, polling after [`FIRST_POLL_DELAY`] and then at
    /// doubling delays up to `interval`, until `deadline`.
    pub(crate) async fn wait_ready(
        &self,
        workloads: &[ObjectId],
        interval: Duration,
        started: Instant,
        deadline: Instant,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<(), DeployError> {
        let mut pending: Vec<ObjectId> = workloads.to_vec();
        let mut last: Vec<Option<WorkloadStatus>> = vec![None; pending.len()];
        let mut delay = FIRST_POLL_DELAY.min(interval);
        loop {
            let mut still = Vec::new();
            let mut still_last = Vec::new();
            for (id, previous) in pending.iter().zip(last) {
                let api = self.api_for(id);
                let object = retry(|| api.get(&id.name))
                    .await
                    .map_err(|e| self.api_error("read", id, &e))?;
                let value = serde_json::to_value(&object).unwrap_or_default();
                match evaluate(id, &value)? {
                    State::Ready => progress.report(&ProgressEvent::Ready(id.clone())),
                    State::Pending(status) => {
                        if previous.as_ref() != Some(&status) {
                            progress.report(&ProgressEvent::Waiting(status.clone()));
                        }
                        still.push(id.clone());
                        still_last.push(Some(status));
                    }
                }
            }
            if still.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let status = still_last.into_iter().flatten().next();
                let (object, ready, desired, conditions) = match status {
                    Some(s) => (s.object, s.ready, s.desired, s.conditions.join("; ")),
                    None => (still[0].clone(), 0, 0, String::new()),
                };
                return Err(DeployError::RolloutTimeout {
                    object,
                    ready,
                    desired,
                    conditions: if conditions.is_empty() {
                        "none reported".into()
                    } else {
                        conditions
                    },
                    waited_seconds: started.elapsed().as_secs(),
                });
            }
            pending = still;
            last = still_last;
            tokio::select! {
                _ = cancel.cancelled() => {
                    return Err(DeployError::Cancelled { during: format!("the rollout of {}", pending[0]) });
                }
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(interval);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(kind: Kind) -> ObjectId {
        ObjectId {
            kind,
            namespace: "t".into(),
            name: "x".into(),
        }
    }

    #[test]
    fn deployment_is_ready_only_at_its_current_generation() {
        let stale = json!({"metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}});
        assert!(matches!(
            evaluate(&id(Kind::Deployment), &stale),
            Ok(State::Pending(_))
        ));
        let mut fresh = stale.clone();
        fresh["status"]["observedGeneration"] = json!(2);
        assert_eq!(
            evaluate(&id(Kind::Deployment), &fresh).unwrap(),
            State::Ready
        );
    }

    #[test]
    fn an_old_replica_still_terminating_keeps_the_rollout_pending() {
        let terminating = json!({"metadata": {"generation": 3}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 3, "replicas": 4, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3, "unavailableReplicas": 1}});
        assert!(matches!(
            evaluate(&id(Kind::Deployment), &terminating),
            Ok(State::Pending(_))
        ));
        let mut unavailable = terminating.clone();
        unavailable["status"]["replicas"] = json!(3);
        unavailable["status"]["availableReplicas"] = json!(2);
        assert!(matches!(
            evaluate(&id(Kind::Deployment), &unavailable),
            Ok(State::Pending(_))
        ));
        unavailable["status"]["availableReplicas"] = json!(3);
        assert_eq!(
            evaluate(&id(Kind::Deployment), &unavailable).unwrap(),
            State::Ready
        );
    }

    #[test]
    fn failed_job_reports_its_reason() {
        let job = json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
        let error = evaluate(&id(Kind::Job), &job).unwrap_err();
        assert!(
            error.to_string().contains("BackoffLimitExceeded"),
            "{error}"
        );
    }
}
