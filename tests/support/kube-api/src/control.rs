//! What the controllers of a real cluster would write, done on request: workload status,
//! Job completion or failure, controller steps (controllers.rs), and an automatic mode that steps
//! every workload written until its rollout is done.

use crate::controllers::Step;
use crate::resources::ResourceType;
use crate::state::Shared;
use crate::status::{ApiError, Subject};
use crate::store::ObjectKey;
use crate::write::{Outcome, Recording, Write, timestamp};
use serde_json::{Value, json};
use std::sync::{Arc, PoisonError};

/// The manager name status writes are recorded under, as in a real cluster.
const CONTROLLER: &str = "kube-controller-manager";

/// Which object a control operation addresses.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// e.g. `apps/v1`.
    pub api_version: String,
    /// e.g. `Deployment`.
    pub kind: String,
    /// Namespace, empty for cluster-scoped objects.
    #[serde(default)]
    pub namespace: String,
    /// Object name.
    pub name: String,
}

impl ObjectRef {
    /// A reference to a namespaced object.
    pub fn new(api_version: &str, kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

fn locate(shared: &Shared, target: &ObjectRef) -> Result<(Arc<ResourceType>, ObjectKey), ApiError> {
    let index = shared
        .resource_index(&target.api_version, &target.kind)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown kind {} {}",
                target.api_version, target.kind
            ))
        })?;
    let resource = shared.resource(index);
    let key = ObjectKey {
        resource: index,
        namespace: if resource.namespaced {
            target.namespace.clone()
        } else {
            String::new()
        },
        name: target.name.clone(),
    };
    Ok((resource, key))
}

/// Replaces an object's status, as its controller would through the status subresource.
pub fn set_status(shared: &Shared, target: &ObjectRef, status: Value) -> Result<Value, ApiError> {
    update_status(shared, target, |_| Ok(status))
}

fn update_status(
    shared: &Shared,
    target: &ObjectRef,
    make: impl FnOnce(&Value) -> Result<Value, ApiError>,
) -> Result<Value, ApiError> {
    let (resource, key) = locate(shared, target)?;
    let mut store = shared.store();
    let live = store.get(&key).cloned().ok_or_else(|| {
        ApiError::not_found(Subject {
            resource: &resource.plural,
            group: &resource.group,
            name: &key.name,
        })
    })?;
    let mut next = live.clone();
    next["status"] = make(&live)?;
    let write = Write {
        resource: &resource,
        key,
        subresource: resource.has_status.then_some("status"),
        dry_run: false,
        recording: Recording::Updated(CONTROLLER),
    };
    Ok(match write.commit(&mut store, Some(&live), next)? {
        Outcome::Created(v) | Outcome::Updated(v) | Outcome::Unchanged(v) | Outcome::Removed(v) => {
            Arc::unwrap_or_clone(v)
        }
    })
}

fn number(object: &Value, pointer: &str, default: i64) -> i64 {
    object
        .pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or(default)
}

fn condition(kind: &str, reason: &str, message: &str) -> Value {
    let now = timestamp();
    json!({
        "type": kind,
        "status": "True",
        "lastTransitionTime": now,
        "lastUpdateTime": now,
        "reason": reason,
        "message": message,
    })
}

/// Marks a Deployment or StatefulSet fully rolled out and ready at its current generation.
pub fn mark_ready(shared: &Shared, target: &ObjectRef) -> Result<Value, ApiError> {
    let kind = target.kind.clone();
    update_status(shared, target, |live| {
        if let Ok((_, key)) = locate(shared, target) {
            shared
                .workloads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .settle(&key, live, &kind);
        }
        let replicas = number(live, "/spec/replicas", 1);
        let generation = number(live, "/metadata/generation", 1);
        let name = live
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match kind.as_str() {
            "Deployment" => Ok(json!({
                "observedGeneration": generation,
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "conditions": [
                    condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                    condition("Progressing", "NewReplicaSetAvailable", &format!("ReplicaSet \"{name}\" has successfully progressed.")),
                ],
            })),
            "StatefulSet" => Ok(json!({
                "observedGeneration": generation,
                "replicas": replicas,
                "currentReplicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "currentRevision": format!("{name}-{generation}"),
                "updateRevision": format!("{name}-{generation}"),
                "collisionCount": 0,
            })),
            other => Err(ApiError::bad_request(format!(
                "{other} has no readiness to set; use a Job outcome or a status"
            ))),
        }
    })
}

/// How a Job ends.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(tag = "outcome")]
pub enum JobOutcome {
    /// All completions succeeded.
    Complete,
    /// The Job failed (e.g. its backoff limit was exceeded).
    Failed {
        /// The condition's reason, e.g. `BackoffLimitExceeded`.
        reason: String,
        /// The condition's message.
        message: String,
    },
}

/// Finishes a Job with the given outcome, writing the status its controller would.
pub fn finish_job(
    shared: &Shared,
    namespace: &str,
    name: &str,
    outcome: &JobOutcome,
) -> Result<Value, ApiError> {
    let target = ObjectRef::new("batch/v1", "Job", namespace, name);
    update_status(shared, &target, |live| {
        if let Ok((_, key)) = locate(shared, &target) {
            shared
                .workloads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .settle(&key, live, "Job");
        }
        let now = timestamp();
        let start = live
            .pointer("/status/startTime")
            .cloned()
            .unwrap_or_else(|| json!(now));
        Ok(match outcome {
            JobOutcome::Complete => json!({
                "startTime": start,
                "completionTime": now,
                "succeeded": number(live, "/spec/completions", 1),
                "active": 0,
                "ready": 0,
                "terminating": 0,
                "uncountedTerminatedPods": {},
                "conditions": [
                    condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
                    condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
                ],
            }),
            JobOutcome::Failed { reason, message } => json!({
                "startTime": start,
                "failed": number(live, "/spec/backoffLimit", 6) + 1,
                "active": 0,
                "ready": 0,
                "terminating": 0,
                "uncountedTerminatedPods": {},
                "conditions": [
                    condition("FailureTarget", reason, message),
                    condition("Failed", reason, message),
                ],
            }),
        })
    })
}

/// One controller step for one workload; `Ok(true)` when its status changed.
pub fn step_object(shared: &Shared, target: &ObjectRef) -> Result<bool, ApiError> {
    let (resource, key) = locate(shared, target)?;
    step_key(shared, &resource, &key)
}

fn step_key(shared: &Shared, resource: &ResourceType, key: &ObjectKey) -> Result<bool, ApiError> {
    let live = shared.store().get(key).cloned();
    let Some(live) = live else {
        shared
            .workloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .forget(key);
        return Ok(false);
    };
    if live.pointer("/metadata/deletionTimestamp").is_some() {
        return Ok(false);
    }
    let now = timestamp();
    let step = shared
        .workloads
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .step(key, &live, &resource.kind, &now);
    let target = ObjectRef::new(
        &resource.api_version(),
        &resource.kind,
        &key.namespace,
        &key.name,
    );
    match step {
        Step::Idle => Ok(false),
        Step::CompleteJob => {
            finish_job(shared, &key.namespace, &key.name, &JobOutcome::Complete)?;
            Ok(true)
        }
        Step::Status(status) => {
            if live.get("status") == Some(&status) {
                return Ok(false);
            }
            let written = update_status(shared, &target, |_| Ok(status))?;
            Ok(written.get("status") != live.get("status"))
        }
    }
}

/// One controller step for every Deployment, StatefulSet and Job; returns how many changed.
pub fn step_all(shared: &Shared) -> Result<usize, ApiError> {
    let mut keys = Vec::new();
    for (index, resource) in shared.resources().iter().enumerate() {
        if !is_workload(resource) || !resource.served {
            continue;
        }
        let store = shared.store();
        keys.extend(
            store
                .list(index, None)
                .into_iter()
                .map(|(key, _)| (resource.clone(), key.clone())),
        );
    }
    let mut changed = 0;
    for (resource, key) in keys {
        if step_key(shared, &resource, &key)? {
            changed += 1;
        }
    }
    Ok(changed)
}

fn is_workload(resource: &ResourceType) -> bool {
    !resource.is_custom && matches!(resource.kind.as_str(), "Deployment" | "StatefulSet" | "Job")
}

/// Called after each create or update by a client: serves the types of a CustomResourceDefinition,
/// and in the automatic mode keeps stepping a workload's controllers (every configured tick) until
/// a step changes nothing.
pub fn after_write(shared: &Arc<Shared>, resource: &ResourceType, object: &Value) {
    if resource.group == "apiextensions.k8s.io" && resource.kind == "CustomResourceDefinition" {
        shared.register_crd(object);
        return;
    }
    let Some(tick) = shared.auto_ready() else {
        return;
    };
    if !is_workload(resource) {
        return;
    }
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let Some(index) = shared.resource_index(&resource.api_version(), &resource.kind) else {
        return;
    };
    let key = ObjectKey {
        resource: index,
        namespace: text("/metadata/namespace"),
        name: text("/metadata/name"),
    };
    {
        let mut workloads = shared
            .workloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        workloads.dirty.insert(key.clone());
        if !workloads.running.insert(key.clone()) {
            return;
        }
    }
    let shared = shared.clone();
    let resource = resource.clone();
    tokio::spawn(async move {
        loop {
            let delay = shared.auto_ready().unwrap_or(tick);
            tokio::time::sleep(delay).await;
            shared
                .workloads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .dirty
                .remove(&key);
            let changed = match step_key(&shared, &resource, &key) {
                Ok(changed) => changed,
                Err(error) => {
                    tracing::warn!(kind = %resource.kind, name = %key.name, %error, "controller step failed");
                    false
                }
            };
            if changed {
                continue;
            }
            let mut workloads = shared
                .workloads
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if workloads.dirty.contains(&key) && shared.auto_ready().is_some() {
                continue;
            }
            workloads.running.remove(&key);
            break;
        }
    });
}
