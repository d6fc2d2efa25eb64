//! Field paths as server-side apply records them in `managedFields` (`fieldsV1`), resolved
//! against objects. Drift and the replica hand-over both ask "which fields does engram own,
//! and what is there now?".

use serde_json::{Map, Value};
use std::fmt::Write as _;

/// One step of a field path.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// A struct field or map key (`f:name`).
    Field(String),
    /// A list item picked by its key fields (`k:{"name":"x"}`).
    Key(Map<String, Value>),
    /// A set item picked by value (`v:...`).
    Value(Value),
    /// A list item by position (`i:3`).
    Index(usize),
}

/// A path from the object's root.
pub type FieldPath = Vec<Segment>;

fn parse(segment: &str) -> Option<Segment> {
    let (tag, rest) = segment.split_once(':')?;
    match tag {
        "f" => Some(Segment::Field(rest.to_string())),
        "k" => serde_json::from_str(rest).ok().map(Segment::Key),
        "v" => serde_json::from_str(rest).ok().map(Segment::Value),
        "i" => rest.parse().ok().map(Segment::Index),
        _ => None,
    }
}

/// Every leaf of a `fieldsV1` set. A list item's own presence (`.`) is a leaf too.
pub fn leaves(fields: &Value) -> Vec<FieldPath> {
    let mut out = Vec::new();
    walk(fields, &mut Vec::new(), &mut out);
    out
}

fn walk(node: &Value, path: &mut FieldPath, out: &mut Vec<FieldPath>) {
    let Some(children) = node.as_object() else {
        return;
    };
    if children.is_empty() && !path.is_empty() {
        out.push(path.clone());
        return;
    }
    for (name, child) in children {
        if name == "." {
            out.push(path.clone());
            continue;
        }
        let Some(segment) = parse(name) else {
            continue;
        };
        path.push(segment);
        walk(child, path, out);
        path.pop();
    }
}

/// The value at a path, if present.
pub fn get<'a>(object: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    let mut current = object;
    for segment in path {
        current = match segment {
            Segment::Field(name) => current.as_object()?.get(name)?,
            Segment::Index(index) => current.as_array()?.get(*index)?,
            Segment::Value(value) => current.as_array()?.iter().find(|v| *v == value)?,
            Segment::Key(key) => current.as_array()?.iter().find(|item| {
                key.iter()
                    .all(|(field, wanted)| item.get(field) == Some(wanted))
            })?,
        };
    }
    Some(current)
}

/// The path written as people read it: `spec.template.spec.containers[name=history].image`.
pub fn display(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Field(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Segment::Key(key) => {
                let parts: Vec<String> = key
                    .iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => format!("{k}={s}"),
                        other => format!("{k}={other}"),
                    })
                    .collect();
                let _ = write!(out, "[{}]", parts.join(","));
            }
            Segment::Value(value) => {
                let _ = write!(out, "[{value}]");
            }
            Segment::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
        }
    }
    out
}

/// Whether a `fieldsV1` set contains the path (as a leaf or a prefix).
pub fn contains(fields: &Value, path: &[Segment]) -> bool {
    let mut node = fields;
    for segment in path {
        let name = match segment {
            Segment::Field(name) => format!("f:{name}"),
            Segment::Index(index) => format!("i:{index}"),
            Segment::Value(value) => format!("v:{value}"),
            Segment::Key(key) => format!("k:{}", Value::Object(key.clone())),
        };
        match node.get(&name) {
            Some(child) => node = child,
            None => return false,
        }
    }
    true
}

/// The managers (other than `manager`) whose recorded fields include the path.
pub fn other_owners(object: &Value, manager: &str, path: &[Segment]) -> Vec<String> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e.get("manager").and_then(Value::as_str) != Some(manager))
                .filter(|e| e.get("fieldsV1").is_some_and(|f| contains(f, path)))
                .filter_map(|e| e.get("manager").and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The `fieldsV1` set that `manager` applied (operation `Apply`, main resource).
pub fn applied_by<'a>(object: &'a Value, manager: &str) -> Option<&'a Value> {
    object
        .pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|e| {
            e.get("manager").and_then(Value::as_str) == Some(manager)
                && e.get("operation").and_then(Value::as_str) == Some("Apply")
                && e.get("subresource")
                    .is_none_or(|s| s.as_str().unwrap_or("").is_empty())
        })?
        .get("fieldsV1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaves_resolve_through_keyed_lists() {
        let fields = json!({
            "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"history\"}": {".": {}, "f:image": {}, "f:name": {}}
            }}}}
        });
        let object = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "other", "image": "x"}, {"name": "history", "image": "temporalio/server:1.29.1"}
        ]}}}});
        let paths = leaves(&fields);
        assert_eq!(paths.len(), 4);
        let image = paths
            .iter()
            .find(|p| display(p).ends_with(".image"))
            .unwrap();
        assert_eq!(
            display(image),
            "spec.template.spec.containers[name=history].image"
        );
        assert_eq!(
            get(&object, image),
            Some(&json!("temporalio/server:1.29.1"))
        );
        assert!(contains(
            &fields,
            &[
                Segment::Field("spec".into()),
                Segment::Field("replicas".into())
            ]
        ));
    }
}
