//! How long-running operations tell their caller what is happening: the Terraform resource logs
//! these lines (TF_LOG) and `engram apply` prints them.

use super::manifest::{ObjectId, Step};

/// A workload's rollout state at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadStatus {
    /// The Deployment or Job.
    pub object: ObjectId,
    /// Ready replicas (Jobs: succeeded pods).
    pub ready: i32,
    /// Desired replicas (Jobs: completions).
    pub desired: i32,
    /// Its conditions, as `Type=Status (Reason: message)`.
    pub conditions: Vec<String>,
}

/// What was done to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did not exist and was created.
    Created,
    /// It existed and changed.
    Updated,
    /// It existed and nothing changed.
    Unchanged,
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// A step of the apply order begins.
    Step(Step),
    /// An object was written.
    Applied(ObjectId, Outcome),
    /// A workload is being waited for.
    Waiting(WorkloadStatus),
    /// A workload is ready (or a Job complete).
    Ready(ObjectId),
    /// An object the spec no longer renders was deleted.
    Pruned(ObjectId),
    /// An object was deleted by destroy.
    Deleted(ObjectId),
}

/// Receives progress events. Must be cheap: it is called on the apply path.
pub trait Progress: Send + Sync {
    /// Called once per event.
    fn report(&self, event: &ProgressEvent);
}

/// Ignores every event.
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&self, _event: &ProgressEvent) {}
}

impl<F: Fn(&ProgressEvent) + Send + Sync> Progress for F {
    fn report(&self, event: &ProgressEvent) {
        self(event)
    }
}
