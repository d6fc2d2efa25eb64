//! What the Kubernetes-backed resources share: turning attribute values into deploy specs and
//! back, spec problems into attribute diagnostics, drift into plan-readable lines, and rollout
//! progress into log lines Terraform shows under TF_LOG.

use crate::deploy::{Change, DriftReport, Progress, ProgressEvent, SpecError};
use crate::framework::path::Step;
use crate::framework::{AttributePath, Diagnostics, Type, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

/// Nulls are "not set": removed so the spec's serde defaults apply.
fn strip_nulls(json: &mut Json) {
    match json {
        Json::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Json::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Builds a spec from the named attributes of a plan or state value, with `defaults` for
/// top-level attributes left unset.
pub fn spec_from_value<T: DeserializeOwned>(
    value: &Value,
    attributes: &[&str],
    defaults: &[(&str, &str)],
    diags: &mut Diagnostics,
) -> Option<T> {
    let mut map = serde_json::Map::new();
    for name in attributes {
        match value.get(name).to_json() {
            Ok(j) => {
                map.insert(name.to_string(), j);
            }
            Err(_) => return None,
        }
    }
    let mut json = Json::Object(map);
    strip_nulls(&mut json);
    if let Json::Object(map) = &mut json {
        for (k, v) in defaults {
            map.entry(k.to_string()).or_insert_with(|| Json::from(*v));
        }
    }
    match serde_json::from_value(json) {
        Ok(spec) => Some(spec),
        Err(e) => {
            diags.error(
                "Invalid configuration",
                format!("{e}. Check the attribute's type and spelling against the resource's documentation."),
            );
            None
        }
    }
}

/// The attribute values a spec corresponds to (defaults included), typed by the schema.
pub fn value_from_spec<T: Serialize>(spec: &T, ty: &Type) -> Value {
    serde_json::to_value(spec)
        .ok()
        .and_then(|j| Value::from_json(&j, ty).ok())
        .unwrap_or_default()
}

/// Each spec problem as an error on its attribute.
pub fn spec_problems(error: &SpecError, diags: &mut Diagnostics) {
    for p in &error.problems {
        let steps = p
            .field
            .split('.')
            .map(|s| Step::Attribute(s.to_string()))
            .collect();
        diags.attribute_error(
            AttributePath::from_steps(steps),
            format!("Invalid {}", p.field),
            p.reason.clone(),
        );
    }
}

/// One line per difference, as the plan shows it.
pub fn drift_lines(report: &DriftReport) -> Vec<String> {
    report
        .drifts
        .iter()
        .map(|d| match &d.change {
            Change::Missing => format!("{}: deleted outside Terraform", d.object),
            Change::Unexpected => format!("{}: not in the spec (apply removes it)", d.object),
            Change::Field {
                path,
                desired,
                live,
            } => format!(
                "{}: {path} is {} (wants {})",
                d.object,
                live.as_ref().map_or("unset".to_string(), Json::to_string),
                desired
                    .as_ref()
                    .map_or("unset".to_string(), Json::to_string),
            ),
        })
        .collect()
}

/// Rollout progress as log lines (TF_LOG=INFO shows them while Terraform waits).
pub struct LogProgress;

impl Progress for LogProgress {
    fn report(&self, event: &ProgressEvent) {
        match event {
            ProgressEvent::Step(step) => tracing::info!(step = ?step, "applying step"),
            ProgressEvent::Applied(id, outcome) => {
                tracing::info!(object = %id, outcome = ?outcome, "applied")
            }
            ProgressEvent::Waiting(w) => tracing::info!(
                object = %w.object,
                ready = w.ready,
                desired = w.desired,
                conditions = %w.conditions.join("; "),
                "waiting for rollout"
            ),
            ProgressEvent::Ready(id) => tracing::info!(object = %id, "ready"),
            ProgressEvent::Pruned(id) => tracing::info!(object = %id, "pruned"),
            ProgressEvent::Deleted(id) => tracing::info!(object = %id, "deleted"),
        }
    }
}
