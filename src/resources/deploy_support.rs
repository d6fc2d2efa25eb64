//! What the Kubernetes-backed resources share: turning attribute values into deploy specs and
//! back, spec problems into attribute diagnostics, drift into plan-readable lines, and rollout
//! progress into log lines Terraform shows under TF_LOG.

use crate::deploy::{
    ApplyOptions, Change, Deployer, DriftReport, Owner, Progress, ProgressEvent, Rendered,
    SpecError,
};
use crate::framework::path::Step;
use crate::framework::{AttributePath, Diagnostics, Type, Value};
use crate::provider::ProviderSettings;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long deleting a failed create's objects may take.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(120);
/// How often rollouts and deletions are polled.
const POLL: Duration = Duration::from_secs(1);

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

/// The attribute values a spec corresponds to (defaults included), typed by the schema. A whole
/// number the spec holds as a float (`100.0`) becomes the integer Terraform sends back (`100`),
/// so a plan compares equal to the state it came from.
pub fn value_from_spec<T: Serialize>(spec: &T, ty: &Type) -> Value {
    fn whole_numbers(json: &mut Json) {
        match json {
            Json::Number(n) => {
                if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0)
                    && f.abs() < 2f64.powi(53)
                {
                    *json = Json::from(f as i64);
                }
            }
            Json::Object(m) => m.values_mut().for_each(whole_numbers),
            Json::Array(items) => items.iter_mut().for_each(whole_numbers),
            _ => {}
        }
    }
    serde_json::to_value(spec)
        .ok()
        .and_then(|mut j| {
            whole_numbers(&mut j);
            Value::from_json(&j, ty).ok()
        })
        .unwrap_or_default()
}

/// Each spec problem as an error on its attribute, the spec's field (`a.b[2].c`, or
/// `metrics.labels.app.kubernetes.io/name` where a map key holds dots) read against the
/// resource's type `ty`.
pub fn spec_problems(error: &SpecError, ty: &Type, diags: &mut Diagnostics) {
    for p in &error.problems {
        diags.attribute_error(
            AttributePath::from_steps(field_steps(&p.field, ty)),
            format!("Invalid {}", p.field),
            p.reason.clone(),
        );
    }
}

/// The attribute path of a spec field: attribute names where `ty` has objects, the rest of the
/// field as one key where it has a map, list positions from `[i]`; a dynamic value is named as
/// a whole.
fn field_steps(field: &str, ty: &Type) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut rest = field;
    let mut ty = ty;
    while !rest.is_empty() {
        rest = rest.strip_prefix('.').unwrap_or(rest);
        if let Some(after) = rest.strip_prefix('[') {
            let Some((index, tail)) = after.split_once(']') else {
                break;
            };
            let (Ok(i), Type::List(el) | Type::Set(el)) = (index.parse::<i64>(), ty) else {
                break;
            };
            steps.push(Step::Index(i));
            ty = el;
            rest = tail;
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        match ty {
            Type::Object(attrs) => {
                let Some(attr) = attrs.get(&rest[..end]) else {
                    break;
                };
                steps.push(Step::Attribute(rest[..end].to_string()));
                ty = attr;
                rest = &rest[end..];
            }
            Type::Map(el) => {
                let end = rest.find('[').unwrap_or(rest.len());
                steps.push(Step::Key(rest[..end].to_string()));
                ty = el;
                rest = &rest[end..];
            }
            _ => break,
        }
    }
    steps
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

/// The shared Kubernetes client, or an error diagnostic.
pub async fn deployer<'a>(
    settings: &'a ProviderSettings,
    diags: &mut Diagnostics,
) -> Option<&'a Deployer> {
    match settings.deployer().await {
        Ok(d) => Some(d),
        Err(e) => {
            diags.error("Cannot reach Kubernetes", e.to_string());
            None
        }
    }
}

/// Applies `rendered` and waits for it. On a failed create (`cleanup`), deletes what was
/// created so nothing is orphaned. Returns whether the apply succeeded.
pub async fn apply(
    settings: &ProviderSettings,
    rendered: &Rendered,
    timeout: Duration,
    cancel: &CancellationToken,
    cleanup: bool,
    diags: &mut Diagnostics,
) -> bool {
    let Some(deployer) = deployer(settings, diags).await else {
        return false;
    };
    let options = ApplyOptions {
        timeout,
        ..ApplyOptions::default()
    };
    let Err(e) = deployer
        .apply(rendered, &options, &LogProgress, cancel)
        .await
    else {
        return true;
    };
    let what = format!("{}/{}", rendered.owner.namespace, rendered.owner.instance);
    let detail = if cleanup {
        let never = CancellationToken::new();
        match deployer
            .destroy(&rendered.owner, CLEANUP_TIMEOUT, POLL, &LogProgress, &never)
            .await
        {
            Ok(_) => format!(
                "{e}\n\nThe objects created so far were deleted, so nothing is left behind. Fix the cause and apply again."
            ),
            Err(c) => format!(
                "{e}\n\nCleaning up the objects created so far also failed ({c}); they carry the labels {} and the next apply adopts them.",
                rendered.owner.selector()
            ),
        }
    } else {
        format!(
            "{e}\n\nThe objects already applied stay; the next plan shows what still differs and apply continues from there."
        )
    };
    diags.error(format!("Could not deploy {what}"), detail);
    false
}

/// Reads drift. `None` when it could not be read (an error diagnostic says why), `Some(None)`
/// when every object is gone (the resource no longer exists).
pub async fn drift(
    settings: &ProviderSettings,
    rendered: &Rendered,
    diags: &mut Diagnostics,
) -> Option<Option<DriftReport>> {
    let report = match deployer(settings, diags).await?.drift(rendered).await {
        Ok(r) => r,
        Err(e) => {
            diags.error("Cannot read the deployment", e.to_string());
            return None;
        }
    };
    let missing = report
        .drifts
        .iter()
        .filter(|d| matches!(d.change, Change::Missing))
        .count();
    let gone = report.objects_checked > 0 && missing == report.objects_checked;
    Some((!gone).then_some(report))
}

/// Deletes every object of `owner`.
pub async fn destroy(
    settings: &ProviderSettings,
    owner: &Owner,
    timeout: Duration,
    cancel: &CancellationToken,
    diags: &mut Diagnostics,
) {
    let Some(deployer) = deployer(settings, diags).await else {
        return;
    };
    if let Err(e) = deployer
        .destroy(owner, timeout, POLL, &LogProgress, cancel)
        .await
    {
        diags.error(
            format!("Could not delete {}/{}", owner.namespace, owner.instance),
            e.to_string(),
        );
    }
}

/// Drift lines as a Terraform list.
pub fn drift_value(report: &DriftReport) -> Value {
    Value::List(drift_lines(report).into_iter().map(Value::String).collect())
}

/// `value` with every unknown replaced by a placeholder of its type, so a spec can be built
/// at plan time while other resources' outputs are still unknown.
pub fn known_or_placeholder(value: &Value, ty: &Type) -> Value {
    match (value, ty) {
        (Value::Unknown, Type::String) => Value::string(""),
        (Value::Unknown, Type::Number) => Value::int(0),
        (Value::Unknown, Type::Bool) => Value::Bool(false),
        (Value::Unknown, Type::List(_) | Type::Set(_) | Type::Tuple(_)) => Value::List(Vec::new()),
        (Value::Unknown, Type::Map(_)) => Value::Map(Default::default()),
        (Value::Unknown, Type::Object(attrs)) => Value::Object(
            attrs
                .iter()
                .map(|(k, t)| (k.clone(), known_or_placeholder(&Value::Unknown, t)))
                .collect(),
        ),
        (Value::Object(m), Type::Object(attrs)) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        attrs
                            .get(k)
                            .map_or(v.clone(), |t| known_or_placeholder(v, t)),
                    )
                })
                .collect(),
        ),
        (Value::List(items), Type::List(t) | Type::Set(t)) => {
            Value::List(items.iter().map(|v| known_or_placeholder(v, t)).collect())
        }
        (Value::Set(items), Type::List(t) | Type::Set(t)) => {
            Value::Set(items.iter().map(|v| known_or_placeholder(v, t)).collect())
        }
        (Value::Map(m), Type::Map(t)) => Value::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), known_or_placeholder(v, t)))
                .collect(),
        ),
        (Value::Unknown, Type::Dynamic) => Value::Null,
        (v, _) => v.clone(),
    }
}

/// Marks unknown in `planned` every value that is unknown in `config`.
pub fn overlay_unknowns(planned: &mut Value, config: &Value) {
    match (planned, config) {
        (p, Value::Unknown) => *p = Value::Unknown,
        (Value::Object(p), Value::Object(c)) => {
            for (k, cv) in c {
                if let Some(pv) = p.get_mut(k) {
                    overlay_unknowns(pv, cv);
                }
            }
        }
        (Value::List(p) | Value::Set(p), Value::List(c) | Value::Set(c)) if p.len() == c.len() => {
            p.iter_mut()
                .zip(c)
                .for_each(|(pv, cv)| overlay_unknowns(pv, cv));
        }
        (Value::Map(p), Value::Map(c)) => {
            for (k, cv) in c {
                if let Some(pv) = p.get_mut(k) {
                    overlay_unknowns(pv, cv);
                }
            }
        }
        _ => {}
    }
}

/// For tests that pin a resource's attributes to its spec's fields.
#[cfg(test)]
pub(crate) mod coverage {
    use super::*;
    use std::collections::BTreeSet;

    /// Where a value has fields: `a.b`, `a.*` for a map's entries, `a[]` for a list's.
    pub fn json_paths(json: &Json, ty: &Type, at: &str, out: &mut BTreeSet<String>) {
        match (ty, json) {
            (Type::Object(attrs), Json::Object(m)) => {
                for (k, v) in m {
                    let path = format!("{at}.{k}");
                    out.insert(path.clone());
                    let attr = attrs
                        .get(k)
                        .unwrap_or_else(|| panic!("spec field {path} has no attribute"));
                    json_paths(v, attr, &path, out);
                }
            }
            (Type::Map(el), Json::Object(m)) => {
                for v in m.values() {
                    json_paths(v, el, &format!("{at}.*"), out);
                }
            }
            (Type::List(el), Json::Array(items)) => {
                for v in items {
                    json_paths(v, el, &format!("{at}[]"), out);
                }
            }
            _ => {}
        }
    }

    /// Where a type has fields, named as `json_paths` names them.
    pub fn type_paths(ty: &Type, at: &str, out: &mut BTreeSet<String>) {
        match ty {
            Type::Object(attrs) => {
                for (k, t) in attrs {
                    out.insert(format!("{at}.{k}"));
                    type_paths(t, &format!("{at}.{k}"), out);
                }
            }
            Type::Map(el) => type_paths(el, &format!("{at}.*"), out),
            Type::List(el) => type_paths(el, &format!("{at}[]"), out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty() -> Type {
        Type::Object(
            [
                (
                    "metrics".to_string(),
                    Type::Object(
                        [("labels".to_string(), Type::map(Type::String))]
                            .into_iter()
                            .collect(),
                    ),
                ),
                (
                    "network".to_string(),
                    Type::Object(
                        [("allowed_cidrs".to_string(), Type::list(Type::String))]
                            .into_iter()
                            .collect(),
                    ),
                ),
                ("dynamic_config".to_string(), Type::Dynamic),
            ]
            .into_iter()
            .collect(),
        )
    }

    #[test]
    fn whole_floats_are_planned_as_the_integers_terraform_returns() {
        let value = value_from_spec(
            &serde_json::json!({"budget": 100.0, "half": 0.5}),
            &Type::Object(
                [
                    ("budget".to_string(), Type::Number),
                    ("half".to_string(), Type::Number),
                ]
                .into_iter()
                .collect(),
            ),
        );
        assert_eq!(value.get("budget"), &Value::int(100));
        assert_eq!(value.get("half").as_f64(), Some(0.5));
    }

    #[test]
    fn spec_fields_become_terraform_paths() {
        assert_eq!(
            field_steps("network.allowed_cidrs[1]", &ty()),
            vec![
                Step::Attribute("network".into()),
                Step::Attribute("allowed_cidrs".into()),
                Step::Index(1)
            ]
        );
        assert_eq!(
            field_steps("metrics.labels.app.kubernetes.io/name", &ty()),
            vec![
                Step::Attribute("metrics".into()),
                Step::Attribute("labels".into()),
                Step::Key("app.kubernetes.io/name".into())
            ]
        );
        assert_eq!(
            field_steps("dynamic_config.frontend.rps[0].constraints.x", &ty()),
            vec![Step::Attribute("dynamic_config".into())]
        );
    }
}

/// The `ingress` attribute of the Web UI and of the codec server (the deploy module's
/// `IngressSpec`): `what` names what it publishes and what the host becomes.
pub fn ingress_attribute(what: &str) -> crate::framework::Attribute {
    use crate::framework::validators::NotBlank;
    use crate::framework::{Attribute, Nesting};
    let string = |name: &str, description: &str| {
        Attribute::new(name, Type::String)
            .optional_computed()
            .description(description)
    };
    Attribute::nested(
        "ingress",
        Nesting::Single,
        vec![
            Attribute::new("host", Type::String)
                .required()
                .validate(NotBlank)
                .description("The host name people reach it at, e.g. `temporal.example.com` (a DNS name: no wildcard, no IP address)."),
            string("class_name", "The IngressClass (`spec.ingressClassName`), e.g. `nginx`; the cluster's default class when unset."),
            string("tls_secret_name", "A Secret with `tls.crt` and `tls.key`, in the same namespace, the ingress controller terminates TLS with for the host; the controller's default certificate when unset."),
            Attribute::new("annotations", Type::map(Type::String))
                .optional_computed()
                .description("Annotations for the ingress controller, e.g. `{ \"cert-manager.io/cluster-issuer\" = \"letsencrypt\" }`. Default none."),
        ],
    )
    .optional_computed()
    .description(&format!("A `networking.k8s.io/v1` Ingress that {what}. None when unset."))
}

/// The `ingress_controller` attribute (the deploy module's `PodPeer`): the ingress controller
/// whose pods a NetworkPolicy admits; `why` says what reaches the pods through it.
pub fn ingress_controller_attribute(why: &str) -> crate::framework::Attribute {
    use crate::framework::validators::NotBlank;
    use crate::framework::{Attribute, Nesting};
    Attribute::nested(
        "ingress_controller",
        Nesting::Single,
        vec![
            Attribute::new("namespace", Type::String)
                .required()
                .validate(NotBlank)
                .description("The ingress controller's namespace."),
            Attribute::new("pod_labels", Type::map(Type::String))
                .optional_computed()
                .description("Labels of the controller's pods; every pod of the namespace when empty (default)."),
        ],
    )
    .optional_computed()
    .description(&format!("The ingress controller whose pods forward {why}. None when unset."))
}
