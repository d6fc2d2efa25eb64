//! The test handle: what a test uses to play the controllers and to inject faults.

use crate::control::{self, JobOutcome, ObjectRef};
use crate::faults::Fault;
use crate::server::Runner;
use crate::state::Shared;
use crate::status::ApiError;
use serde_json::Value;
use std::io;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Controls a running server. Cheap to clone; every method acts at once.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) runner: Weak<Runner>,
}

impl Handle {
    /// Replaces an object's `status`, as its controller would.
    pub fn set_status(&self, target: &ObjectRef, status: Value) -> Result<Value, ApiError> {
        control::set_status(&self.shared, target, status)
    }

    /// Marks a Deployment or StatefulSet rolled out: every replica ready, `observedGeneration`
    /// equal to its generation, and (for Deployments) Available and Progressing conditions.
    pub fn mark_ready(&self, target: &ObjectRef) -> Result<Value, ApiError> {
        control::mark_ready(&self.shared, target)
    }

    /// Appends `text` to the log of `container` in pod `namespace/pod`, as the container writing
    /// it would; `GET .../pods/{pod}/log` serves it once the pod's `status.phase` is `Running`
    /// (set with [`Handle::set_status`]).
    pub fn write_pod_log(&self, namespace: &str, pod: &str, container: &str, text: &str) {
        self.shared.append_log(namespace, pod, container, text);
    }

    /// Marks a Job complete (`Complete` condition, `succeeded` = completions).
    pub fn complete_job(&self, namespace: &str, name: &str) -> Result<Value, ApiError> {
        control::finish_job(&self.shared, namespace, name, &JobOutcome::Complete)
    }

    /// Marks a Job failed with the given reason and message (`Failed` condition).
    pub fn fail_job(
        &self,
        namespace: &str,
        name: &str,
        reason: &str,
        message: &str,
    ) -> Result<Value, ApiError> {
        let outcome = JobOutcome::Failed {
            reason: reason.into(),
            message: message.into(),
        };
        control::finish_job(&self.shared, namespace, name, &outcome)
    }

    /// Makes the next `fault.count` matching requests fail as described.
    pub fn inject_fault(&self, fault: Fault) {
        self.shared.faults().push(fault);
    }

    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// Forgets the watch history, so watches from any earlier resourceVersion get 410 Expired.
    pub fn compact(&self) {
        self.shared.store().compact();
    }

    /// The automatic controller mode: with `Some(tick)`, every Deployment, StatefulSet and Job
    /// written afterwards has its controllers stepped every `tick` until a step changes nothing
    /// (a rollout takes a few ticks; a Job succeeds after three); `None` turns this off.
    pub fn set_auto_ready(&self, delay: Option<Duration>) {
        self.shared.set_auto_ready(delay);
    }

    /// One controller step for every Deployment, StatefulSet and Job (see [`Handle::step_object`]);
    /// returns how many workloads' status changed.
    pub fn step(&self) -> Result<usize, ApiError> {
        control::step_all(&self.shared)
    }

    /// One controller step for one workload: the kubelet (terminating pods go, pending pods become
    /// ready), the ReplicaSet controller (pods created or deleted to match each replica set) and
    /// the workload's controller (scaling as `maxSurge`/`maxUnavailable` allow, then the status,
    /// with `observedGeneration`). A Job starts, has its pod ready, then succeeds, one step each.
    /// `Ok(true)` when the status changed.
    pub fn step_object(&self, target: &ObjectRef) -> Result<bool, ApiError> {
        control::step_object(&self.shared, target)
    }

    /// Steps every workload until a step changes nothing (at most `max_steps` steps); returns the
    /// number of steps that changed something.
    pub fn settle(&self, max_steps: usize) -> Result<usize, ApiError> {
        let mut steps = 0;
        while steps < max_steps && self.step()? > 0 {
            steps += 1;
        }
        Ok(steps)
    }

    /// Installs (creates or replaces) a CustomResourceDefinition, as `kubectl apply` of a CRD
    /// would; its kind is served (and listed by discovery) at once.
    pub fn install_crd(&self, crd: Value) -> Result<Value, ApiError> {
        crate::writes::install_crd(&self.shared, crd)
    }

    /// Installs the three bundled CRDs: ServiceMonitor, PrometheusRule, Certificate.
    pub fn install_bundled_crds(&self) -> Result<(), ApiError> {
        for crd in crate::crd::bundled() {
            self.install_crd(crd)?;
        }
        Ok(())
    }

    /// Stops serving (open connections and watches end), then serves again on the same address,
    /// with the stored objects kept or (with `keep_data = false`) lost.
    pub async fn restart(&self, keep_data: bool) -> io::Result<()> {
        let runner = self
            .runner
            .upgrade()
            .ok_or_else(|| io::Error::other("the server has stopped"))?;
        runner.restart(keep_data).await
    }
}
