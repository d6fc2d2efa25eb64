//! Field paths as managedFields names them, and reading or removing the value a path points at.
//!
//! A path is a list of elements: `f:name` (a struct or map field), `k:{"name":"app"}` (an item of
//! an associative list, by its key fields), `v:"x"` (an item of a set, by value). Keys and values
//! are kept as canonical JSON text (keys sorted), the form FieldsV1 uses, so paths compare and sort
//! as plain strings.

use serde_json::{Map, Value};
use std::fmt;

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A field of a struct or a key of a map.
    Field(String),
    /// An item of an associative list, named by its key fields as canonical JSON.
    Key(String),
    /// An item of a set list, named by its value as canonical JSON.
    Value(String),
}

/// A path from the object's root.
pub type Path = Vec<PathElement>;

/// Canonical JSON: object keys sorted, no whitespace.
pub fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", parts.join(","))
        }
        other => other.to_string(),
    }
}

/// The default the real server gives a list-map key field that an item leaves out.
fn key_default(field: &str) -> Option<Value> {
    (field == "protocol").then(|| Value::String("TCP".into()))
}

/// The key of an associative list item: its key fields, with the defaults the server adds.
pub fn item_key(item: &Value, keys: &[String]) -> Option<String> {
    let object = item.as_object()?;
    let mut key = Map::new();
    for field in keys {
        match object.get(field).cloned().or_else(|| key_default(field)) {
            Some(value) => {
                key.insert(field.clone(), value);
            }
            None => continue,
        }
    }
    if key.is_empty() {
        return None;
    }
    Some(canonical(&Value::Object(key)))
}

/// The position of the list item a `Key` or `Value` element names.
fn find_item(items: &[Value], element: &PathElement) -> Option<usize> {
    match element {
        PathElement::Key(key) => {
            let wanted: Map<String, Value> = serde_json::from_str(key).ok()?;
            let fields: Vec<String> = wanted.keys().cloned().collect();
            items
                .iter()
                .position(|item| item_key(item, &fields).as_deref() == Some(key.as_str()))
        }
        PathElement::Value(value) => items.iter().position(|item| canonical(item) == *value),
        PathElement::Field(_) => None,
    }
}

/// The value a path points at, if present.
pub fn get<'v>(root: &'v Value, path: &[PathElement]) -> Option<&'v Value> {
    let mut current = root;
    for element in path {
        current = match (element, current) {
            (PathElement::Field(name), Value::Object(map)) => map.get(name)?,
            (_, Value::Array(items)) => &items[find_item(items, element)?],
            _ => return None,
        };
    }
    Some(current)
}

/// Removes the value a path points at; returns whether something was removed.
pub fn remove(root: &mut Value, path: &[PathElement]) -> bool {
    let Some((last, parent_path)) = path.split_last() else {
        return false;
    };
    let mut current = root;
    for element in parent_path {
        current = match (element, current) {
            (PathElement::Field(name), Value::Object(map)) => match map.get_mut(name) {
                Some(next) => next,
                None => return false,
            },
            (_, Value::Array(items)) => match find_item(items, element) {
                Some(index) => &mut items[index],
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, current) {
        (PathElement::Field(name), Value::Object(map)) => map.remove(name).is_some(),
        (_, Value::Array(items)) => match find_item(items, last) {
            Some(index) => {
                items.remove(index);
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// Formats a path the way conflict messages print it: `.spec.containers[name="app"].image`.
pub struct Display<'p>(pub &'p [PathElement]);

impl fmt::Display for Display<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in self.0 {
            match element {
                PathElement::Field(name) => write!(f, ".{name}")?,
                PathElement::Key(key) => {
                    let parsed: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
                    let parts: Vec<String> =
                        parsed.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    write!(f, "[{}]", parts.join(","))?;
                }
                PathElement::Value(value) => write!(f, "[={value}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_sorts_keys() {
        assert_eq!(canonical(&json!({"b": 1, "a": "x"})), r#"{"a":"x","b":1}"#);
    }

    #[test]
    fn ports_key_defaults_protocol() {
        let key = item_key(
            &json!({"containerPort": 80}),
            &["containerPort".into(), "protocol".into()],
        );
        assert_eq!(
            key.as_deref(),
            Some(r#"{"containerPort":80,"protocol":"TCP"}"#)
        );
    }

    #[test]
    fn get_and_remove_follow_keys() {
        let mut object =
            json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}});
        let path = vec![
            PathElement::Field("spec".into()),
            PathElement::Field("containers".into()),
            PathElement::Key(r#"{"name":"a"}"#.into()),
            PathElement::Field("image".into()),
        ];
        assert_eq!(get(&object, &path), Some(&json!("x")));
        assert_eq!(
            Display(&path).to_string(),
            r#".spec.containers[name="a"].image"#
        );
        assert!(remove(&mut object, &path[..3]));
        assert_eq!(object, json!({"spec": {"containers": [{"name": "b"}]}}));
    }
}
