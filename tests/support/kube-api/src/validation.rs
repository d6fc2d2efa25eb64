//! The validation the provider can run into: object names, selectors that must match their
//! template, and fields the real server refuses to change.

use crate::status::Cause;
use serde_json::Value;

fn invalid(field: &str, value: &Value, detail: &str) -> Cause {
    Cause {
        kind: "FieldValueInvalid".into(),
        message: format!("Invalid value: {}: {detail}", short(value)),
        field: field.into(),
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 200 {
        format!("{}...", &text[..text.floor_char_boundary(200)])
    } else {
        text
    }
}

/// Whether `name` is a lowercase RFC 1123 subdomain.
fn is_dns_subdomain(name: &str) -> bool {
    let valid_label = |label: &str| {
        !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    name.len() <= 253 && name.split('.').all(valid_label)
}

/// Checks an object about to be created or updated.
pub fn validate(kind: &str, object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if name.is_empty() {
        causes.push(Cause {
            kind: "FieldValueRequired".into(),
            message: "Required value: name or generateName is required".into(),
            field: "metadata.name".into(),
        });
    } else if !is_dns_subdomain(name) {
        causes.push(invalid(
            "metadata.name",
            &Value::String(name.into()),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        ));
    }
    if matches!(kind, "Deployment" | "StatefulSet") {
        causes.extend(selector_matches_template(object));
    }
    causes
}

fn selector_matches_template(object: &Value) -> Option<Cause> {
    let Some(selector) = object.pointer("/spec/selector") else {
        return Some(Cause {
            kind: "FieldValueRequired".into(),
            message: "Required value".into(),
            field: "spec.selector".into(),
        });
    };
    let labels = object.pointer("/spec/template/metadata/labels");
    let wanted = selector.get("matchLabels").and_then(Value::as_object)?;
    let matches = wanted
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
    (!matches).then(|| {
        invalid(
            "spec.template.metadata.labels",
            labels.unwrap_or(&Value::Null),
            "`selector` does not match template `labels`",
        )
    })
}

/// Fields that may not change on update, per kind.
pub fn immutable(kind: &str, old: &Value, new: &Value) -> Vec<Cause> {
    let changed = |pointer: &str| old.pointer(pointer) != new.pointer(pointer);
    let value = |pointer: &str| new.pointer(pointer).cloned().unwrap_or(Value::Null);
    let mut causes = Vec::new();
    let mut immutable_field = |pointer: &str, field: &str| {
        if changed(pointer) {
            causes.push(invalid(field, &value(pointer), "field is immutable"));
        }
    };
    match kind {
        "Deployment" => immutable_field("/spec/selector", "spec.selector"),
        "Job" => {
            immutable_field("/spec/selector", "spec.selector");
            immutable_field("/spec/template", "spec.template");
            immutable_field("/spec/completions", "spec.completions");
        }
        "Service" => {
            let old_ip = old.pointer("/spec/clusterIP");
            if old_ip.is_some() && changed("/spec/clusterIP") {
                immutable_field("/spec/clusterIP", "spec.clusterIP");
            }
        }
        "StatefulSet" => causes.extend(stateful_set_spec(old, new)),
        "ConfigMap" | "Secret" => causes.extend(immutable_data(old, new)),
        _ => {}
    }
    causes
}

const STATEFUL_SET_MUTABLE: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

fn stateful_set_spec(old: &Value, new: &Value) -> Option<Cause> {
    let fixed = |object: &Value| {
        let mut spec = object.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(map) = spec.as_object_mut() {
            map.retain(|k, _| !STATEFUL_SET_MUTABLE.contains(&k.as_str()));
        }
        spec
    };
    (fixed(old) != fixed(new)).then(|| Cause {
        kind: "FieldValueForbidden".into(),
        message: "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".into(),
        field: "spec".into(),
    })
}

fn immutable_data(old: &Value, new: &Value) -> Vec<Cause> {
    if old.get("immutable") != Some(&Value::Bool(true)) {
        return Vec::new();
    }
    ["data", "binaryData", "immutable"]
        .into_iter()
        .filter(|field| old.get(field) != new.get(field))
        .map(|field| Cause {
            kind: "FieldValueForbidden".into(),
            message: "Forbidden: field is immutable when `immutable` is set".into(),
            field: field.into(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_must_be_dns_subdomains() {
        assert!(is_dns_subdomain("web-1.example"));
        assert!(!is_dns_subdomain("Web"));
        assert!(!is_dns_subdomain("-web"));
    }

    #[test]
    fn statefulset_replicas_may_change_but_service_name_may_not() {
        let old = json!({"spec": {"replicas": 1, "serviceName": "a"}});
        assert!(
            immutable(
                "StatefulSet",
                &old,
                &json!({"spec": {"replicas": 3, "serviceName": "a"}})
            )
            .is_empty()
        );
        assert_eq!(
            immutable(
                "StatefulSet",
                &old,
                &json!({"spec": {"replicas": 1, "serviceName": "b"}})
            )
            .len(),
            1
        );
    }
}
