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

    /// With `Some(delay)`, every Deployment and StatefulSet written becomes ready, and every Job
    /// completes, after `delay`; `None` turns this off.
    pub fn set_auto_ready(&self, delay: Option<Duration>) {
        self.shared.set_auto_ready(delay);
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
