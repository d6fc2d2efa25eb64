//! Sets of field paths and their FieldsV1 form.
//!
//! A set holds the paths a manager owns. It is computed from an object and its schema the way
//! structured-merge-diff does for apply: every leaf, every item of an associative list or set, and
//! every atomic struct, map or list as one path. Empty objects count as leaves.

use crate::fieldpath::{Path, PathElement, canonical, item_key};
use crate::schema::{ListKind, Shape};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The fields a manager owns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(pub BTreeSet<Path>);

/// Top-level fields that are never owned: identity and server-managed metadata.
const UNTRACKED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "generateName",
];

impl FieldSet {
    /// The fields an object sets, as apply computes them. `apiVersion`, `kind`, identity metadata
    /// and (when `include_status` is false) `status` are left out.
    pub fn from_object(object: &Value, shape: Shape<'_>, include_status: bool) -> Self {
        let mut set = BTreeSet::new();
        if let Value::Object(map) = object {
            for (name, value) in map {
                let skip = match name.as_str() {
                    "apiVersion" | "kind" => true,
                    "status" => !include_status,
                    _ => false,
                };
                if skip {
                    continue;
                }
                let mut path = vec![PathElement::Field(name.clone())];
                if name == "metadata" {
                    walk_metadata(value, shape.field(name), &mut path, &mut set);
                } else {
                    walk(value, shape.field(name), &mut path, &mut set);
                }
            }
        }
        FieldSet(set)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// Paths in `self` but not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    /// Whether some path in the set starts with `prefix` (including `prefix` itself).
    pub fn has_prefix(&self, prefix: &[PathElement]) -> bool {
        self.0
            .range(prefix.to_vec()..)
            .next()
            .is_some_and(|path| path.starts_with(prefix))
    }

    /// The FieldsV1 JSON form: nested `f:`/`k:`/`v:` objects, `.` marking an owned inner node.
    pub fn to_fields_v1(&self) -> Value {
        let mut root = Map::new();
        for path in &self.0 {
            let mut node = &mut root;
            for element in path {
                let entry = node
                    .entry(encode(element))
                    .or_insert_with(|| Value::Object(Map::new()));
                let Value::Object(child) = entry else {
                    break;
                };
                node = child;
            }
        }
        mark_inner_members(&mut root, &self.0, &mut Vec::new());
        Value::Object(root)
    }

    /// Parses the FieldsV1 JSON form. Unknown prefixes are an error.
    pub fn from_fields_v1(value: &Value) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        let Value::Object(map) = value else {
            return Err("fieldsV1 must be an object".into());
        };
        parse_node(map, &mut Vec::new(), &mut set)?;
        Ok(FieldSet(set))
    }
}

fn encode(element: &PathElement) -> String {
    match element {
        PathElement::Field(name) => format!("f:{name}"),
        PathElement::Key(key) => format!("k:{key}"),
        PathElement::Value(value) => format!("v:{value}"),
    }
}

fn decode(text: &str) -> Result<PathElement, String> {
    match text.split_at_checked(2) {
        Some(("f:", name)) => Ok(PathElement::Field(name.to_string())),
        Some(("k:", key)) => Ok(PathElement::Key(reencode(key)?)),
        Some(("v:", value)) => Ok(PathElement::Value(reencode(value)?)),
        _ => Err(format!("unknown fieldsV1 path element {text:?}")),
    }
}

fn reencode(text: &str) -> Result<String, String> {
    serde_json::from_str::<Value>(text)
        .map(|v| canonical(&v))
        .map_err(|e| format!("invalid fieldsV1 key {text:?}: {e}"))
}

fn parse_node(
    map: &Map<String, Value>,
    path: &mut Path,
    set: &mut BTreeSet<Path>,
) -> Result<(), String> {
    if (map.is_empty() || map.contains_key(".")) && !path.is_empty() {
        set.insert(path.clone());
    }
    for (name, child) in map {
        if name == "." {
            continue;
        }
        let Value::Object(child) = child else {
            return Err(format!("fieldsV1 entry {name:?} must be an object"));
        };
        path.push(decode(name)?);
        parse_node(child, path, set)?;
        path.pop();
    }
    Ok(())
}

/// Adds `.` to inner nodes that are themselves members (their children were added later).
fn mark_inner_members(node: &mut Map<String, Value>, set: &BTreeSet<Path>, path: &mut Path) {
    let names: Vec<String> = node.keys().filter(|k| *k != ".").cloned().collect();
    for name in names {
        let Ok(element) = decode(&name) else {
            continue;
        };
        path.push(element);
        if let Some(Value::Object(child)) = node.get_mut(&name) {
            if !child.is_empty() && !child.contains_key(".") && set.contains(path) {
                child.insert(".".into(), Value::Object(Map::new()));
            }
            mark_inner_members(child, set, path);
        }
        path.pop();
    }
}

fn walk_metadata(value: &Value, shape: Shape<'_>, path: &mut Path, set: &mut BTreeSet<Path>) {
    let Value::Object(map) = value else {
        return;
    };
    for (name, child) in map {
        if UNTRACKED_METADATA.contains(&name.as_str()) {
            continue;
        }
        path.push(PathElement::Field(name.clone()));
        walk(child, shape.field(name), path, set);
        path.pop();
    }
}

fn walk(value: &Value, shape: Shape<'_>, path: &mut Path, set: &mut BTreeSet<Path>) {
    match value {
        Value::Object(map) if !shape.is_atomic() && !map.is_empty() => {
            for (name, child) in map {
                path.push(PathElement::Field(name.clone()));
                walk(child, shape.field(name), path, set);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match shape.list_kind() {
            ListKind::Atomic => {
                set.insert(path.clone());
            }
            ListKind::Set => {
                for item in items {
                    path.push(PathElement::Value(canonical(item)));
                    set.insert(path.clone());
                    path.pop();
                }
            }
            ListKind::Map(keys) => {
                for item in items {
                    let Some(key) = item_key(item, keys) else {
                        continue;
                    };
                    path.push(PathElement::Key(key));
                    set.insert(path.clone());
                    walk(item, shape.item(), path, set);
                    path.pop();
                }
            }
        },
        _ => {
            set.insert(path.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_apply_set_matches_the_real_fields_v1() {
        let object = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "app", "image": "nginx", "args": ["a"]}]}}
            }
        });
        let set = FieldSet::from_object(&object, Shape::for_kind("apps/v1", "Deployment"), false);
        let expected = json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
                    ".": {}, "f:args": {}, "f:image": {}, "f:name": {}
                }}}}
            }
        });
        assert_eq!(set.to_fields_v1(), expected);
        assert_eq!(FieldSet::from_fields_v1(&expected), Ok(set));
    }
}
