//! Drift: how the live objects differ from what the spec renders, counting only what engram
//! owns. An object whose live state already holds everything the spec sets (and nothing engram
//! applied before and no longer wants) cannot drift and costs no request beyond its kind's LIST.
//! Any other object is server-side applied as a dry run; the fields engram would own afterwards
//! are compared with the live object. Server defaults are not in that set, and
//! fields another manager has taken over (an autoscaler's replica count) are left out of the
//! desired object, so neither shows as drift; a person's edit of an owned field, a deleted
//! object, or an object the spec no longer renders does.

use super::apply::{already_applied, desired_for};
use super::client::Deployer;
use super::error::DeployError;
use super::fields::{self, Segment};
use super::labels::FIELD_MANAGER;
use super::manifest::{Kind, Manifest, ObjectId};
use super::render::{Rendered, server_config};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::Value;
use std::collections::BTreeSet;
use tokio_util::sync::CancellationToken;

/// Dry-run applies in flight at once.
const CONCURRENCY: usize = 8;

/// One difference.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The spec renders the object but the cluster does not have it.
    Missing,
    /// The cluster has an object of this owner that the spec does not render (apply prunes it).
    Unexpected,
    /// A field engram owns has another value (or is absent on one side).
    Field {
        /// The field, e.g. `spec.template.spec.containers[name=history].image`.
        path: String,
        /// What the spec wants; `None` when it wants the field absent.
        desired: Option<Value>,
        /// What is there; `None` when absent. Secret values are never shown.
        live: Option<Value>,
    },
}

/// A difference in one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// The object.
    pub object: ObjectId,
    /// What differs.
    pub change: Change,
}

/// The result of a drift check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DriftReport {
    /// Every difference, by object.
    pub drifts: Vec<Drift>,
    /// The history shard count in the live server configuration, when there is one.
    pub live_shard_count: Option<u32>,
    /// How many objects were compared.
    pub objects_checked: usize,
    /// Requests the check made: one LIST per kind, plus one dry-run apply per object whose
    /// live state did not already match.
    pub requests: usize,
}

impl DriftReport {
    /// Whether the live objects match the spec.
    pub fn is_clean(&self) -> bool {
        self.drifts.is_empty()
    }
}

fn redact(kind: Kind, value: Option<&Value>) -> Option<Value> {
    value.map(|v| {
        if kind == Kind::Secret {
            Value::String("(sensitive)".into())
        } else {
            v.clone()
        }
    })
}

/// Compares the fields engram owns in the dry-run result with the live object.
pub(crate) fn compare(id: &ObjectId, dry_run: &Value, live: &Value) -> Vec<Drift> {
    let Some(owned) = fields::applied_by(dry_run, FIELD_MANAGER) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for path in fields::leaves(owned) {
        let desired = fields::get(dry_run, &path);
        let current = fields::get(live, &path);
        let item = matches!(
            path.last(),
            Some(Segment::Key(_) | Segment::Value(_) | Segment::Index(_))
        );
        let same = match (desired, current) {
            (Some(_), Some(_)) if item => true,
            (Some(Value::Object(_)), Some(Value::Object(_))) => true,
            (d, c) => d == c,
        };
        if !same {
            out.push(Drift {
                object: id.clone(),
                change: Change::Field {
                    path: fields::display(&path),
                    desired: redact(id.kind, desired),
                    live: redact(id.kind, current),
                },
            });
        }
    }
    out
}

fn shard_count(object: &Value) -> Option<u32> {
    object
        .pointer(&format!("/data/{}", server_config::CONFIG_FILE))
        .and_then(Value::as_str)
        .and_then(server_config::shard_count)
}

impl Deployer {
    /// The drift of one live object: a dry-run apply of its manifest, compared with it.
    async fn dry_run_drift(
        &self,
        manifest: &Manifest,
        live: &Value,
        never: &CancellationToken,
    ) -> Result<Vec<Drift>, DeployError> {
        let result = self.apply_object(manifest, Some(live), true, never).await?;
        Ok(compare(&manifest.id(), &result, live))
    }

    /// Reads the owner's objects (one LIST per kind) and compares them with the spec.
    /// A live history shard count that differs from the spec's is an error, never a drift to
    /// repair: the shard count of a cluster cannot change.
    pub async fn drift(&self, rendered: &Rendered) -> Result<DriftReport, DeployError> {
        let inventory = self.inventory(&rendered.owner).await?;
        let config = rendered.objects.iter().find(|m| m.kind == Kind::ConfigMap);
        let live_config = config.and_then(|m| inventory.objects.get(&m.id()));
        let live_shard_count = live_config.and_then(shard_count);
        if let (Some(desired), Some(live)) = (
            config
                .filter(|_| rendered.temporal_version.is_some())
                .and_then(|m| shard_count(&m.object)),
            live_shard_count,
        ) && desired != live
        {
            return Err(DeployError::ShardCountMismatch {
                desired,
                live,
                origin: "the running server configuration",
            });
        }
        let never = CancellationToken::new();
        let present: Vec<(&Manifest, &Value)> = rendered
            .objects
            .iter()
            .filter_map(|m| inventory.objects.get(&m.id()).map(|live| (m, live)))
            .filter(|(m, live)| !already_applied(&desired_for(m, Some(live)), live))
            .collect();
        let dry_runs = present.len();
        let dry_runs_in_order: Vec<_> = present
            .iter()
            .map(|&(manifest, live)| self.dry_run_drift(manifest, live, &never))
            .collect();
        let compared: Vec<Vec<Drift>> = stream::iter(dry_runs_in_order)
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        let mut drifts: Vec<Drift> = rendered
            .objects
            .iter()
            .map(Manifest::id)
            .filter(|id| !inventory.objects.contains_key(id))
            .map(|object| Drift {
                object,
                change: Change::Missing,
            })
            .collect();
        drifts.extend(compared.into_iter().flatten());
        let wanted: BTreeSet<ObjectId> = rendered.objects.iter().map(Manifest::id).collect();
        drifts.extend(
            inventory
                .objects
                .keys()
                .filter(|id| !wanted.contains(*id))
                .map(|object| Drift {
                    object: object.clone(),
                    change: Change::Unexpected,
                }),
        );
        Ok(DriftReport {
            drifts,
            live_shard_count,
            objects_checked: rendered.objects.len(),
            requests: Kind::ALL.len() + dry_runs,
        })
    }
}

/// Checks the shard count a running cluster reports (Temporal's GetClusterInfo, read by the
/// caller through `temporal::TemporalClient::cluster_info`) against the spec.
pub fn check_cluster_shard_count(desired: u32, reported: u32) -> Result<(), DeployError> {
    if desired == reported {
        Ok(())
    } else {
        Err(DeployError::ShardCountMismatch {
            desired,
            live: reported,
            origin: "the running cluster (GetClusterInfo)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cluster_reporting_another_shard_count_is_an_error() {
        assert!(check_cluster_shard_count(512, 512).is_ok());
        let error = check_cluster_shard_count(512, 1).unwrap_err();
        assert!(
            error.to_string().contains("GetClusterInfo") && error.to_string().contains("keep 1"),
            "{error}"
        );
    }

    #[test]
    fn only_owned_fields_count() {
        let id = ObjectId {
            kind: Kind::Deployment,
            namespace: "t".into(),
            name: "x".into(),
        };
        let dry_run = json!({
            "metadata": {"managedFields": [{"manager": "engram", "operation": "Apply",
                "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}}]},
            "spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "a", "image": "one", "terminationMessagePath": "/dev/termination-log"}]}}}
        });
        let mut live = dry_run.clone();
        live["spec"]["replicas"] = json!(7);
        assert!(compare(&id, &dry_run, &live).is_empty());
        live["spec"]["template"]["spec"]["containers"][0]["image"] = json!("two");
        let drifts = compare(&id, &dry_run, &live);
        assert_eq!(drifts.len(), 1);
        assert_eq!(
            drifts[0].change,
            Change::Field {
                path: "spec.template.spec.containers[name=a].image".into(),
                desired: Some(json!("one")),
                live: Some(json!("two")),
            }
        );
    }
}
