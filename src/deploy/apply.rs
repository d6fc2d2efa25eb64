//! Server-side apply of a rendered deployment, in dependency order: namespace; identities,
//! configuration and policies; the schema Jobs, each waited for; history, matching, frontends
//! and worker, each waited for; then the Web UI, admin tools, codec server and monitoring. Last,
//! objects the spec no longer renders are pruned.
//!
//! Every object carries the owner's labels from its first write, so an apply that fails part way
//! leaves nothing that the next apply (which converges) or a destroy (which deletes by label)
//! cannot find.

use super::client::{Deployer, is_not_found, retry};
use super::error::DeployError;
use super::fields::{self, Segment, other_owners};
use super::inventory::Inventory;
use super::labels::{FIELD_MANAGER, VERSION_ANNOTATION};
use super::manifest::{Kind, Manifest, ObjectId, Step};
use super::progress::{Outcome, Progress, ProgressEvent};
use super::render::{Rendered, server_config};
use super::version::{TemporalVersion, check_upgrade};
use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How an apply behaves.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The whole apply, rollouts included, must finish within this.
    pub timeout: Duration,
    /// How often rollouts are checked.
    pub poll_interval: Duration,
    /// Delete objects of this owner that the spec no longer renders.
    pub prune: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15 * 60),
            poll_interval: Duration::from_secs(2),
            prune: true,
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Every rendered object and what happened to it, in apply order.
    pub outcomes: Vec<(ObjectId, Outcome)>,
    /// Objects deleted because the spec no longer renders them.
    pub pruned: Vec<ObjectId>,
}

impl ApplyReport {
    /// Whether the apply changed anything.
    pub fn changed(&self) -> bool {
        !self.pruned.is_empty() || self.outcomes.iter().any(|(_, o)| *o != Outcome::Unchanged)
    }
}

/// The path of a Deployment's replica count.
fn replicas_path() -> [Segment; 2] {
    [
        Segment::Field("spec".into()),
        Segment::Field("replicas".into()),
    ]
}

/// The object to send: the rendered one, without `spec.replicas` when another manager (an
/// autoscaler) has taken that field over, so apply never fights it.
pub(crate) fn desired_for(manifest: &Manifest, live: Option<&Value>) -> Value {
    let mut object = manifest.object.clone();
    if manifest.kind == Kind::Deployment
        && let Some(live) = live
        && !other_owners(live, FIELD_MANAGER, &replicas_path()).is_empty()
        && let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.remove("replicas");
    }
    object
}

/// Whether `desired` is contained in `live`: every field it sets has the same value there,
/// lists have the same items in the same order.
fn contained(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d
            .iter()
            .all(|(k, v)| l.get(k).is_some_and(|lv| contained(v, lv))),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(a, b)| contained(a, b))
        }
        (d, l) => d == l,
    }
}

/// Whether applying `desired` would leave `live` as it is: everything it sets is already there,
/// and every field engram applied before is still wanted. Such an object is not written at all,
/// which keeps a repeated apply free of writes.
pub(crate) fn already_applied(desired: &Value, live: &Value) -> bool {
    let Some(owned) = fields::applied_by(live, FIELD_MANAGER) else {
        return false;
    };
    contained(desired, live)
        && fields::leaves(owned)
            .iter()
            .all(|path| fields::get(desired, path).is_some())
}

/// Refuses changes Temporal cannot take: skipping minor versions, going back, or a different
/// history shard count than the running configuration's.
pub(crate) fn preflight(rendered: &Rendered, inventory: &Inventory) -> Result<(), DeployError> {
    let Some(to) = rendered.temporal_version else {
        return Ok(());
    };
    let Some(desired) = rendered
        .objects
        .iter()
        .find(|m| m.kind == Kind::ConfigMap)
        .map(Manifest::id)
    else {
        return Ok(());
    };
    let Some(live) = inventory.objects.get(&desired) else {
        return Ok(());
    };
    let running = live
        .pointer(&format!(
            "/metadata/annotations/{}",
            VERSION_ANNOTATION.replace('/', "~1")
        ))
        .and_then(Value::as_str)
        .and_then(|v| v.parse::<TemporalVersion>().ok());
    if let Some(from) = running {
        check_upgrade(from, to)?;
    }
    let shards = |object: &Value| {
        object
            .pointer(&format!("/data/{}", server_config::CONFIG_FILE))
            .and_then(Value::as_str)
            .and_then(server_config::shard_count)
    };
    let wanted = rendered
        .objects
        .iter()
        .find(|m| m.kind == Kind::ConfigMap)
        .and_then(|m| shards(&m.object));
    if let (Some(desired), Some(live)) = (wanted, shards(live))
        && desired != live
    {
        return Err(DeployError::ShardCountMismatch {
            desired,
            live,
            origin: "the running server configuration",
        });
    }
    Ok(())
}

fn operator_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Certificate => "cert-manager",
        _ => "the Prometheus Operator",
    }
}

impl Deployer {
    /// Server-side applies one object as `engram` (taking back fields a person changed) and
    /// says whether it was created, changed or left as it was.
    pub(crate) async fn apply_object(
        &self,
        manifest: &Manifest,
        live: Option<&Value>,
        dry_run: bool,
        cancel: &CancellationToken,
    ) -> Result<Value, DeployError> {
        let id = manifest.id();
        let api = self.api_for(&id);
        let desired = desired_for(manifest, live);
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        if dry_run {
            params = params.dry_run();
        }
        let patch = Patch::Apply(&desired);
        let request = retry(|| api.patch(&id.name, &params, &patch));
        let result = tokio::select! {
            _ = cancel.cancelled() => return Err(DeployError::Cancelled { during: format!("the apply of {id}") }),
            result = request => result,
        };
        match result {
            Ok(object) => Ok(serde_json::to_value(&object).unwrap_or_default()),
            Err(error) if manifest.kind.is_custom() && is_not_found(&error) => {
                Err(DeployError::MissingKind {
                    object: id,
                    kind: manifest.kind.name(),
                    operator: operator_of(manifest.kind),
                })
            }
            Err(error) => Err(self.api_error("apply", &id, &error)),
        }
    }

    /// Applies a rendered deployment in order, waiting for each step's workloads, then prunes.
    pub async fn apply(
        &self,
        rendered: &Rendered,
        options: &ApplyOptions,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<ApplyReport, DeployError> {
        let started = Instant::now();
        let deadline = started + options.timeout;
        let inventory = self.inventory(&rendered.owner).await?;
        preflight(rendered, &inventory)?;
        let mut report = ApplyReport::default();
        let steps: BTreeSet<Step> = rendered.objects.iter().map(|m| m.step).collect();
        for step in steps {
            progress.report(&ProgressEvent::Step(step));
            let mut workloads = Vec::new();
            for manifest in rendered.objects.iter().filter(|m| m.step == step) {
                let id = manifest.id();
                let live = inventory.objects.get(&id);
                let outcome = match live {
                    Some(live) if already_applied(&desired_for(manifest, Some(live)), live) => {
                        Outcome::Unchanged
                    }
                    _ => {
                        let result = self.apply_object(manifest, live, false, cancel).await?;
                        let version = |o: &Value| o.pointer("/metadata/resourceVersion").cloned();
                        match live {
                            None => Outcome::Created,
                            Some(before) if version(before) == version(&result) => {
                                Outcome::Unchanged
                            }
                            Some(_) => Outcome::Updated,
                        }
                    }
                };
                progress.report(&ProgressEvent::Applied(id.clone(), outcome));
                report.outcomes.push((id.clone(), outcome));
                if matches!(manifest.kind, Kind::Deployment | Kind::Job) {
                    workloads.push(id);
                }
            }
            self.wait_ready(
                &workloads,
                options.poll_interval,
                started,
                deadline,
                progress,
                cancel,
            )
            .await?;
        }
        if options.prune {
            report.pruned = self.prune(rendered, &inventory, progress, cancel).await?;
        }
        Ok(report)
    }

    /// Deletes the owner's objects that the spec no longer renders. A namespace that still
    /// holds rendered objects is never pruned.
    async fn prune(
        &self,
        rendered: &Rendered,
        inventory: &Inventory,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<Vec<ObjectId>, DeployError> {
        let wanted: BTreeSet<ObjectId> = rendered.objects.iter().map(Manifest::id).collect();
        let in_use: BTreeSet<&str> = wanted.iter().map(|id| id.namespace.as_str()).collect();
        let mut stale: Vec<&ObjectId> = inventory
            .objects
            .keys()
            .filter(|id| !wanted.contains(*id))
            .filter(|id| !(id.kind == Kind::Namespace && in_use.contains(id.name.as_str())))
            .collect();
        stale.sort_by_key(|id| std::cmp::Reverse(id.kind));
        let mut pruned = Vec::new();
        for id in stale {
            self.delete_object(id, cancel).await?;
            progress.report(&ProgressEvent::Pruned(id.clone()));
            pruned.push(id.clone());
        }
        Ok(pruned)
    }

    /// Deletes one object with its dependents (pods of a Job or Deployment); gone already is fine.
    pub(crate) async fn delete_object(
        &self,
        id: &ObjectId,
        cancel: &CancellationToken,
    ) -> Result<(), DeployError> {
        let api = self.api_for(id);
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        let request = retry(|| api.delete(&id.name, &params));
        let result = tokio::select! {
            _ = cancel.cancelled() => return Err(DeployError::Cancelled { during: format!("the deletion of {id}") }),
            result = request => result,
        };
        match result {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(self.api_error("delete", id, &error)),
        }
    }
}
