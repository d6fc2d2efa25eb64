//! What the Deployment, ReplicaSet, StatefulSet and Job controllers and the kubelet do to a
//! workload, one deterministic step at a time.
//!
//! No pods exist as objects; each workload keeps, here, the replica sets and pods its controllers
//! would have. One step runs, in order: the kubelet (terminating pods go, pending pods become ready
//! and, with minReadySeconds 0, available), the ReplicaSet controller (creates or deletes pods to
//! match each replica set, then records its status), and the workload's controller, which writes
//! the workload's status. For Deployments the arithmetic is kubernetes/kubernetes
//! pkg/controller/deployment: rolling.go (`reconcileNewReplicaSet`, `reconcileOldReplicaSets`,
//! `cleanupUnhealthyReplicas`, `scaleDownOldReplicaSetsForRollingUpdate`), sync.go
//! (`calculateStatus`: `replicas`, `updatedReplicas`, `readyReplicas`, `availableReplicas` from the
//! replica sets' status, `unavailableReplicas` = the sum of their spec replicas minus available),
//! progress.go (conditions) and util/deployment_util.go (`NewRSNewReplicas`, `ResolveFenceposts`,
//! `MaxUnavailable`). The status of a step uses the replica set status of that step, so a status
//! can show more replicas than desired while an old pod is still counted, as on a real cluster.

use crate::store::ObjectKey;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A pod's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pod {
    Pending,
    Ready,
    Terminating,
}

/// A replica set as its controller knows it.
#[derive(Debug, Clone, PartialEq)]
struct ReplicaSet {
    template: String,
    hash: String,
    revision: i64,
    replicas: i64,
    pods: Vec<Pod>,
    status_replicas: i64,
    status_ready: i64,
    status_available: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct DeploymentState {
    sets: Vec<ReplicaSet>,
}

#[derive(Debug, Clone, PartialEq)]
struct SetPod {
    revision: String,
    phase: Pod,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct StatefulSetState {
    pods: BTreeMap<i64, SetPod>,
    current_revision: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum JobPhase {
    #[default]
    New,
    Active,
    Ready,
    Finished,
}

#[derive(Debug, Clone, PartialEq)]
enum Workload {
    Deployment(DeploymentState),
    StatefulSet(StatefulSetState),
    Job(JobPhase),
}

/// The controllers' memory of every workload, and the automatic-mode bookkeeping.
#[derive(Default)]
pub struct Workloads {
    states: HashMap<ObjectKey, (String, Workload)>,
    /// Objects with an automatic stepping task.
    pub(crate) running: HashSet<ObjectKey>,
    /// Objects written since their task last stepped.
    pub(crate) dirty: HashSet<ObjectKey>,
}

fn number(object: &Value, pointer: &str, default: i64) -> i64 {
    object
        .pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or(default)
}

fn text<'v>(object: &'v Value, pointer: &str) -> &'v str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A stable hash of a pod template, written with the alphabet of apimachinery
/// `rand.SafeEncodeString` as ReplicaSet names are.
fn template_hash(template: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in template.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut out = String::new();
    for _ in 0..10 {
        out.push(ALPHABET[(hash % ALPHABET.len() as u64) as usize] as char);
        hash /= ALPHABET.len() as u64;
    }
    out
}

/// intstr `GetScaledValueFromIntOrPercent`.
fn scaled(value: Option<&Value>, total: i64, round_up: bool) -> i64 {
    match value {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => {
            let percent: f64 = s.trim_end_matches('%').parse().unwrap_or(0.0);
            let v = percent * total as f64 / 100.0;
            if round_up {
                v.ceil() as i64
            } else {
                v.floor() as i64
            }
        }
        _ => 0,
    }
}

/// deployment_util.go `ResolveFenceposts` and `MaxUnavailable`: (maxSurge, maxUnavailable).
fn fenceposts(deployment: &Value, replicas: i64) -> (i64, i64) {
    if text(deployment, "/spec/strategy/type") != "RollingUpdate" {
        return (0, 0);
    }
    let rolling = deployment.pointer("/spec/strategy/rollingUpdate");
    let surge = scaled(rolling.and_then(|r| r.get("maxSurge")), replicas, true);
    let mut unavailable = scaled(
        rolling.and_then(|r| r.get("maxUnavailable")),
        replicas,
        false,
    );
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    if replicas == 0 {
        unavailable = 0;
    }
    (surge, unavailable.min(replicas))
}

fn canonical_template(object: &Value) -> String {
    crate::fieldpath::canonical(object.pointer("/spec/template").unwrap_or(&Value::Null))
}

fn kubelet(pods: &mut Vec<Pod>) {
    pods.retain(|p| *p != Pod::Terminating);
    for pod in pods.iter_mut() {
        *pod = Pod::Ready;
    }
}

fn replica_set_controller(set: &mut ReplicaSet) {
    let active = set.pods.iter().filter(|p| **p != Pod::Terminating).count() as i64;
    if active < set.replicas {
        for _ in active..set.replicas {
            set.pods.push(Pod::Pending);
        }
    } else if active > set.replicas {
        // Pods are deleted not-ready first (controller.ActivePods ordering).
        let mut excess = active - set.replicas;
        for wanted in [Pod::Pending, Pod::Ready] {
            for pod in set.pods.iter_mut().rev() {
                if excess > 0 && *pod == wanted {
                    *pod = Pod::Terminating;
                    excess -= 1;
                }
            }
        }
    }
    set.status_replicas = set.pods.iter().filter(|p| **p != Pod::Terminating).count() as i64;
    set.status_ready = set.pods.iter().filter(|p| **p == Pod::Ready).count() as i64;
    set.status_available = set.status_ready;
}

fn condition(
    previous: &Value,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
) -> Value {
    let old = previous
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        });
    let same = old.is_some_and(|c| {
        c.get("status").and_then(Value::as_str) == Some(status)
            && c.get("reason").and_then(Value::as_str) == Some(reason)
            && c.get("message").and_then(Value::as_str) == Some(message)
    });
    let same_status = old.is_some_and(|c| c.get("status").and_then(Value::as_str) == Some(status));
    let keep = |field: &str| {
        old.and_then(|c| c.get(field))
            .cloned()
            .unwrap_or_else(|| json!(now))
    };
    json!({
        "type": kind,
        "status": status,
        "lastUpdateTime": if same { keep("lastUpdateTime") } else { json!(now) },
        "lastTransitionTime": if same_status { keep("lastTransitionTime") } else { json!(now) },
        "reason": reason,
        "message": message,
    })
}

impl DeploymentState {
    fn step(&mut self, deployment: &Value, now: &str) -> Value {
        let name = text(deployment, "/metadata/name");
        let replicas = number(deployment, "/spec/replicas", 1);
        let (surge, max_unavailable) = fenceposts(deployment, replicas);
        let template = canonical_template(deployment);
        for set in &mut self.sets {
            kubelet(&mut set.pods);
        }
        for set in &mut self.sets {
            replica_set_controller(set);
        }
        let paused = deployment.pointer("/spec/paused") == Some(&json!(true));
        let new_index = match self.sets.iter().position(|s| s.template == template) {
            Some(index) => index,
            None => {
                let revision = self.sets.iter().map(|s| s.revision).max().unwrap_or(0) + 1;
                self.sets.push(ReplicaSet {
                    hash: template_hash(&template),
                    template: template.clone(),
                    revision,
                    replicas: 0,
                    pods: Vec::new(),
                    status_replicas: 0,
                    status_ready: 0,
                    status_available: 0,
                });
                self.sets.len() - 1
            }
        };
        let old_active = self
            .sets
            .iter()
            .enumerate()
            .any(|(i, s)| i != new_index && (s.replicas > 0 || !s.pods.is_empty()));
        if !paused {
            if !old_active {
                self.sets[new_index].replicas = replicas;
            } else if text(deployment, "/spec/strategy/type") == "Recreate" {
                let old_replicas: i64 = self
                    .sets
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != new_index)
                    .map(|(_, s)| s.replicas)
                    .sum();
                if old_replicas > 0 {
                    for (i, set) in self.sets.iter_mut().enumerate() {
                        if i != new_index {
                            set.replicas = 0;
                        }
                    }
                }
            } else if !self.reconcile_new(new_index, replicas, surge) {
                self.reconcile_old(new_index, replicas, max_unavailable);
            }
        }
        self.status(deployment, new_index, replicas, max_unavailable, name, now)
    }

    /// rolling.go `reconcileNewReplicaSet` with `NewRSNewReplicas`.
    fn reconcile_new(&mut self, new_index: usize, replicas: i64, surge: i64) -> bool {
        let current = self.sets[new_index].replicas;
        if current == replicas {
            return false;
        }
        if current > replicas {
            self.sets[new_index].replicas = replicas;
            return true;
        }
        let all: i64 = self.sets.iter().map(|s| s.replicas).sum();
        let max_total = replicas + surge;
        if all >= max_total {
            return false;
        }
        let up = (max_total - all).min(replicas - current);
        self.sets[new_index].replicas = current + up;
        up > 0
    }

    /// rolling.go `reconcileOldReplicaSets`.
    fn reconcile_old(&mut self, new_index: usize, replicas: i64, max_unavailable: i64) -> bool {
        let old: Vec<usize> = (0..self.sets.len()).filter(|i| *i != new_index).collect();
        let old_count: i64 = old.iter().map(|i| self.sets[*i].replicas).sum();
        if old_count == 0 {
            return false;
        }
        let all: i64 = self.sets.iter().map(|s| s.replicas).sum();
        let min_available = replicas - max_unavailable;
        let new = &self.sets[new_index];
        let new_unavailable = new.replicas - new.status_available;
        let max_scaled_down = all - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        let mut order = old.clone();
        order.sort_by_key(|i| self.sets[*i].revision);
        let mut cleaned = 0;
        for &i in &order {
            if cleaned >= max_scaled_down {
                break;
            }
            let set = &mut self.sets[i];
            if set.replicas == 0 || set.replicas == set.status_available {
                continue;
            }
            let down = (max_scaled_down - cleaned).min(set.replicas - set.status_available);
            set.replicas -= down;
            cleaned += down;
        }
        let available: i64 = self.sets.iter().map(|s| s.status_available).sum();
        let mut scaled_down = 0;
        if available > min_available {
            let wanted = available - min_available;
            for &i in &order {
                if scaled_down >= wanted {
                    break;
                }
                let set = &mut self.sets[i];
                if set.replicas == 0 {
                    continue;
                }
                let down = set.replicas.min(wanted - scaled_down);
                set.replicas -= down;
                scaled_down += down;
            }
        }
        cleaned + scaled_down > 0
    }

    /// sync.go `calculateStatus` and progress.go conditions.
    fn status(
        &mut self,
        deployment: &Value,
        new_index: usize,
        replicas: i64,
        max_unavailable: i64,
        name: &str,
        now: &str,
    ) -> Value {
        let available: i64 = self.sets.iter().map(|s| s.status_available).sum();
        let total: i64 = self.sets.iter().map(|s| s.replicas).sum();
        let status_replicas: i64 = self.sets.iter().map(|s| s.status_replicas).sum();
        let ready: i64 = self.sets.iter().map(|s| s.status_ready).sum();
        let new = &self.sets[new_index];
        let updated = new.status_replicas;
        let set_name = format!("{name}-{}", new.hash);
        let generation = number(deployment, "/metadata/generation", 1);
        let complete = updated == replicas && status_replicas == replicas && available == replicas;
        let available_condition = if available >= replicas - max_unavailable {
            condition(
                deployment,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
            )
        } else {
            condition(
                deployment,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
            )
        };
        let progressing = if complete {
            condition(
                deployment,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                &format!("ReplicaSet \"{set_name}\" has successfully progressed."),
                now,
            )
        } else {
            condition(
                deployment,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                &format!("ReplicaSet \"{set_name}\" is progressing."),
                now,
            )
        };
        if complete {
            // cleanupDeployment: old replica sets with nothing left go.
            let keep = new.template.clone();
            self.sets
                .retain(|s| s.template == keep || s.replicas > 0 || !s.pods.is_empty());
        }
        let mut status = json!({
            "observedGeneration": generation,
            "replicas": status_replicas,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "unavailableReplicas": (total - available).max(0),
            "conditions": [available_condition, progressing],
        });
        if let Some(count) = deployment.pointer("/status/collisionCount") {
            status["collisionCount"] = count.clone();
        }
        status
    }

    /// Every replica of the current template ready, nothing else left.
    fn settle(&mut self, deployment: &Value) {
        let replicas = number(deployment, "/spec/replicas", 1);
        let template = canonical_template(deployment);
        let revision = self.sets.iter().map(|s| s.revision).max().unwrap_or(0) + 1;
        self.sets = vec![ReplicaSet {
            hash: template_hash(&template),
            template,
            revision,
            replicas,
            pods: vec![Pod::Ready; replicas.max(0) as usize],
            status_replicas: replicas,
            status_ready: replicas,
            status_available: replicas,
        }];
    }
}

impl StatefulSetState {
    fn revision_name(set: &Value) -> String {
        format!(
            "{}-{}",
            text(set, "/metadata/name"),
            template_hash(&canonical_template(set))
        )
    }

    /// One step of the StatefulSet controller with OrderedReady pod management: one pod is
    /// created, deleted or replaced at a time, and only while every other pod is ready.
    fn step(&mut self, set: &Value) -> Value {
        let update = Self::revision_name(set);
        if self.current_revision.is_empty() {
            self.current_revision = update.clone();
        }
        self.pods.retain(|_, p| p.phase != Pod::Terminating);
        for pod in self.pods.values_mut() {
            pod.phase = Pod::Ready;
        }
        let replicas = number(set, "/spec/replicas", 1);
        let partition = number(set, "/spec/updateStrategy/rollingUpdate/partition", 0);
        let rolling = text(set, "/spec/updateStrategy/type") != "OnDelete";
        let all_ready = self.pods.values().all(|p| p.phase == Pod::Ready);
        if all_ready {
            if let Some(missing) = (0..replicas).find(|o| !self.pods.contains_key(o)) {
                let revision = if missing < partition {
                    self.current_revision.clone()
                } else {
                    update.clone()
                };
                self.pods.insert(
                    missing,
                    SetPod {
                        revision,
                        phase: Pod::Pending,
                    },
                );
            } else if let Some((&last, _)) = self
                .pods
                .iter()
                .next_back()
                .filter(|(o, _)| **o >= replicas)
            {
                if let Some(pod) = self.pods.get_mut(&last) {
                    pod.phase = Pod::Terminating;
                }
            } else if rolling
                && let Some((_, pod)) = self
                    .pods
                    .iter_mut()
                    .rev()
                    .find(|(o, p)| **o >= partition && p.revision != update)
            {
                pod.phase = Pod::Terminating;
            }
        }
        let updated = self
            .pods
            .values()
            .filter(|p| p.revision == update && p.phase != Pod::Terminating)
            .count() as i64;
        let counted =
            |f: &dyn Fn(&SetPod) -> bool| self.pods.values().filter(|p| f(p)).count() as i64;
        let ready = counted(&|p| p.phase == Pod::Ready);
        // completeRollingUpdate: the current revision becomes the update revision once every
        // replica is updated and ready (pkg/controller/statefulset/stateful_set_control.go,
        // kubernetes v1.37).
        if rolling && updated == replicas && self.pods.len() as i64 == replicas && ready == replicas
        {
            self.current_revision = update.clone();
        }
        json!({
            "observedGeneration": number(set, "/metadata/generation", 1),
            "replicas": counted(&|p| p.phase != Pod::Terminating),
            "readyReplicas": ready,
            "currentReplicas": counted(&|p| p.revision == self.current_revision && p.phase != Pod::Terminating),
            "updatedReplicas": updated,
            "availableReplicas": ready,
            "currentRevision": self.current_revision,
            "updateRevision": update,
            "collisionCount": 0,
        })
    }

    fn settle(&mut self, set: &Value) {
        let update = Self::revision_name(set);
        let replicas = number(set, "/spec/replicas", 1);
        self.pods = (0..replicas)
            .map(|o| {
                (
                    o,
                    SetPod {
                        revision: update.clone(),
                        phase: Pod::Ready,
                    },
                )
            })
            .collect();
        self.current_revision = update;
    }
}

/// What one step did to a workload.
pub(crate) enum Step {
    /// The workload's status as its controller would now write it.
    Status(Value),
    /// The Job is to finish (Complete).
    CompleteJob,
    /// Nothing to do.
    Idle,
}

impl Workloads {
    fn state(&mut self, key: &ObjectKey, object: &Value, kind: &str) -> Option<&mut Workload> {
        let uid = text(object, "/metadata/uid").to_string();
        let fresh = || match kind {
            "Deployment" => Some(Workload::Deployment(DeploymentState::default())),
            "StatefulSet" => Some(Workload::StatefulSet(StatefulSetState::default())),
            "Job" => Some(Workload::Job(JobPhase::New)),
            _ => None,
        };
        let reset = self.states.get(key).is_none_or(|(u, _)| *u != uid);
        if reset {
            self.states.insert(key.clone(), (uid, fresh()?));
        }
        self.states.get_mut(key).map(|(_, w)| w)
    }

    /// One controller step for a workload; `now` stamps new conditions.
    pub(crate) fn step(&mut self, key: &ObjectKey, object: &Value, kind: &str, now: &str) -> Step {
        let Some(state) = self.state(key, object, kind) else {
            return Step::Idle;
        };
        match state {
            Workload::Deployment(d) => Step::Status(d.step(object, now)),
            Workload::StatefulSet(s) => Step::Status(s.step(object)),
            Workload::Job(phase) => {
                let finished = object
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|c| {
                        c.iter().any(|c| {
                            matches!(
                                c.get("type").and_then(Value::as_str),
                                Some("Complete" | "Failed")
                            ) && c.get("status").and_then(Value::as_str) == Some("True")
                        })
                    });
                if finished {
                    *phase = JobPhase::Finished;
                }
                if object.pointer("/spec/suspend") == Some(&json!(true)) {
                    return Step::Idle;
                }
                let parallelism = number(object, "/spec/parallelism", 1)
                    .min(number(object, "/spec/completions", 1))
                    .max(0);
                let start = object
                    .pointer("/status/startTime")
                    .cloned()
                    .unwrap_or_else(|| json!(now));
                let running = |ready: i64| {
                    json!({
                        "startTime": start,
                        "active": parallelism,
                        "ready": ready,
                        "terminating": 0,
                        "uncountedTerminatedPods": {},
                    })
                };
                match *phase {
                    JobPhase::New => {
                        *phase = JobPhase::Active;
                        Step::Status(running(0))
                    }
                    JobPhase::Active => {
                        *phase = JobPhase::Ready;
                        Step::Status(running(parallelism))
                    }
                    JobPhase::Ready => {
                        *phase = JobPhase::Finished;
                        Step::CompleteJob
                    }
                    JobPhase::Finished => Step::Idle,
                }
            }
        }
    }

    /// Makes a workload fully rolled out (or a Job finished) in the controllers' memory.
    pub(crate) fn settle(&mut self, key: &ObjectKey, object: &Value, kind: &str) {
        match self.state(key, object, kind) {
            Some(Workload::Deployment(d)) => d.settle(object),
            Some(Workload::StatefulSet(s)) => s.settle(object),
            Some(Workload::Job(phase)) => *phase = JobPhase::Finished,
            None => {}
        }
    }

    /// Forgets everything (a restart that loses the stored objects).
    pub(crate) fn clear(&mut self) {
        self.states.clear();
    }

    /// Forgets one workload.
    pub(crate) fn forget(&mut self, key: &ObjectKey) {
        self.states.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(image: &str, generation: i64) -> Value {
        json!({
            "metadata": {"name": "web", "uid": "u", "generation": generation},
            "spec": {"replicas": 3, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                     "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}
        })
    }

    fn counts(status: &Value) -> [i64; 5] {
        [
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
        ]
        .map(|f| status[f].as_i64().unwrap_or(-1))
    }

    #[test]
    fn a_surge_one_rollout_passes_through_the_controller_states() {
        let mut state = DeploymentState::default();
        let v1 = deployment("a", 1);
        let mut last = json!(null);
        for _ in 0..4 {
            last = state.step(&v1, "t");
        }
        assert_eq!(counts(&last), [3, 3, 3, 3, 0]);
        let v2 = deployment("b", 2);
        let mut seen = Vec::new();
        for _ in 0..12 {
            seen.push(counts(&state.step(&v2, "t")));
        }
        assert!(seen.contains(&[4, 3, 3, 3, 1]), "{seen:?}");
        assert_eq!(seen.last(), Some(&[3, 3, 3, 3, 0]));
        assert!(
            seen.iter().all(|c| c[0] <= 4),
            "never more than replicas + maxSurge: {seen:?}"
        );
        assert!(
            seen.iter().all(|c| c[3] >= 3),
            "never fewer available than replicas - maxUnavailable: {seen:?}"
        );
    }
}
