//! The typed conversion server-side apply makes of an applied configuration before merging it.
//!
//! structured-merge-diff v6.4.2 typed/validate.go and helpers.go (the version apimachinery
//! v0.37.0-beta.0 uses): a field the schema does not declare is "field not declared in schema" (only
//! the first one of each object is reported), a scalar of the wrong type is "expected string, got
//! ...", "expected numeric (int or float), got string", a list or map where the other is expected
//! "expected list, got ..."/"expected map, got ...", and two items of an associative list with the
//! same key "duplicate entries for key [name=\"app\"]". The apply handler reports any of these as
//! `failed to create typed patch object (<ns>/<name>; <gvk>): <errors>` with status 500
//! (managedfields/internal/structuredmerge.go, apiserver responsewriters/status.go).

use crate::fieldpath::{canonical, item_key};
use crate::schema::{ListKind, ScalarKind, Shape, ShapeKind};
use serde_json::Value;

/// One validation error: a path in structured-merge-diff notation and a message.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeError {
    /// e.g. `.spec.template.spec.containers[name="app"].image`.
    pub path: String,
    /// e.g. `expected string, got &value.valueUnstructured{Value:3}`.
    pub message: String,
}

/// Go's `%#v` of a `value.Value` wrapping an unstructured value.
fn go_value(value: &Value) -> String {
    format!("&value.valueUnstructured{{Value:{}}}", go_syntax(value))
}

fn go_syntax(value: &Value) -> String {
    match value {
        Value::Null => "interface {}(nil)".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(items) => format!(
            "[]interface {{}}{{{}}}",
            items.iter().map(go_syntax).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => {
            // fmt prints map keys sorted.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            format!(
                "map[string]interface {{}}{{{}}}",
                keys.iter()
                    .map(|k| format!(
                        "{}:{}",
                        Value::String((*k).clone()),
                        go_syntax(&map[k.as_str()])
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }
}

/// Go's `%v` of a `value.Value` wrapping an unstructured value: a pointer to a struct prints as
/// `&{...}` with the wrapped value in `%v` form (typed/helpers.go `listValue`/`mapValue`,
/// typed/validate.go `validateScalar` for booleans).
fn go_pointer_value(value: &Value) -> String {
    format!("&{{{}}}", go_plain(value))
}

/// Go's `%v` of an unstructured value: `map[k:v k:v]` with sorted keys, `[a b]`, strings bare.
fn go_plain(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_plain).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            format!(
                "map[{}]",
                keys.iter()
                    .map(|k| format!("{k}:{}", go_plain(&map[k.as_str()])))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

/// An integer prints as its digits; a float as Go's `%v` (`strconv.FormatFloat(f, 'g', -1, 64)`:
/// the shortest digits, with an exponent when it is below -4 or at least 6).
fn go_number(n: &serde_json::Number) -> String {
    let Some(f) = n.as_f64().filter(|_| n.is_f64()) else {
        return n.to_string();
    };
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        format!("{f}")
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// Go's `%T` of an unstructured value.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// A path element as structured-merge-diff prints it (fieldpath/element.go).
fn key_element(key: &str) -> String {
    let parsed: serde_json::Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
    let parts: Vec<String> = parsed.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("[{}]", parts.join(","))
}

struct Checker {
    errors: Vec<TypeError>,
}

impl Checker {
    fn error(&mut self, path: &str, message: String) {
        self.errors.push(TypeError {
            path: path.to_string(),
            message,
        });
    }

    fn check(&mut self, value: &Value, shape: Shape<'_>, path: &str) {
        match shape.kind() {
            ShapeKind::Untyped => {}
            ShapeKind::Scalar(kind) => self.scalar(value, kind, path),
            ShapeKind::Struct { open } => {
                let Some(map) = (match value {
                    Value::Null => return,
                    Value::Object(map) => Some(map),
                    other => {
                        self.error(
                            path,
                            format!("expected map, got {}", go_pointer_value(other)),
                        );
                        None
                    }
                }) else {
                    return;
                };
                for (name, child) in map {
                    let child_path = format!("{path}.{name}");
                    if !open && !shape.declares(name) {
                        self.error(&child_path, "field not declared in schema".into());
                        return;
                    }
                    self.check(child, shape.field(name), &child_path);
                }
            }
            ShapeKind::Map => match value {
                Value::Null => {}
                Value::Object(map) => {
                    for (name, child) in map {
                        self.check(child, shape.field(name), &format!("{path}.{name}"));
                    }
                }
                other => self.error(
                    path,
                    format!("expected map, got {}", go_pointer_value(other)),
                ),
            },
            ShapeKind::List => match value {
                Value::Null => {}
                Value::Array(items) => self.list(items, shape, path),
                other => self.error(
                    path,
                    format!("expected list, got {}", go_pointer_value(other)),
                ),
            },
        }
    }

    fn list(&mut self, items: &[Value], shape: Shape<'_>, path: &str) {
        let mut seen: Vec<String> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let element = match shape.list_kind() {
                ListKind::Atomic => format!("[{i}]"),
                ListKind::Set => {
                    if item.is_object() {
                        self.error(
                            path,
                            format!("element {i}: associative list without keys has an element that's a map type"),
                        );
                        return;
                    }
                    let value = canonical(item);
                    if seen.contains(&value) {
                        self.error(path, format!("duplicate entries for key [={value}]"));
                    }
                    seen.push(value.clone());
                    format!("[={value}]")
                }
                ListKind::Map(keys) => {
                    if !item.is_object() {
                        let detail = if item.is_null() {
                            "associative list with keys may not have a null element"
                        } else {
                            "associative list with keys may not have non-map elements"
                        };
                        self.error(path, format!("element {i}: {detail}"));
                        return;
                    }
                    let Some(key) = item_key(item, keys) else {
                        self.error(
                            path,
                            format!(
                                "element {i}: associative list with keys has an element that omits all key fields [{}] (and doesn't have default values for any key fields)",
                                keys.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(" ")
                            ),
                        );
                        return;
                    };
                    let element = key_element(&key);
                    if seen.contains(&key) {
                        self.error(path, format!("duplicate entries for key {element}"));
                    }
                    seen.push(key);
                    element
                }
            };
            self.check(item, shape.item(), &format!("{path}{element}"));
        }
    }

    fn scalar(&mut self, value: &Value, kind: ScalarKind, path: &str) {
        if value.is_null() {
            return;
        }
        let is_scalar = matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_));
        match kind {
            ScalarKind::String | ScalarKind::Bytes | ScalarKind::Time => {
                if !value.is_string() {
                    self.error(path, format!("expected string, got {}", go_value(value)));
                }
            }
            ScalarKind::Int32 | ScalarKind::Int64 | ScalarKind::Number => {
                if !value.is_number() {
                    self.error(
                        path,
                        format!("expected numeric (int or float), got {}", go_type(value)),
                    );
                }
            }
            ScalarKind::Boolean => {
                if !value.is_boolean() {
                    self.error(
                        path,
                        format!("expected boolean, got {}", go_pointer_value(value)),
                    );
                }
            }
            ScalarKind::IntOrString | ScalarKind::Quantity | ScalarKind::Any => {
                if !is_scalar {
                    self.error(
                        path,
                        format!("expected any scalar, got {}", go_pointer_value(value)),
                    );
                }
            }
        }
    }
}

/// The typed conversion of an applied configuration; empty when it converts.
pub fn check(config: &Value, shape: Shape<'_>) -> Vec<TypeError> {
    let mut checker = Checker { errors: Vec::new() };
    checker.check(config, shape, "");
    checker.errors
}

/// structured-merge-diff `ValidationErrors.Error()`.
pub fn describe(errors: &[TypeError]) -> String {
    let one = |e: &TypeError| {
        if e.path.is_empty() {
            e.message.clone()
        } else {
            format!("{}: {}", e.path, e.message)
        }
    };
    match errors {
        [single] => one(single),
        many => {
            let mut lines = vec!["errors:".to_string()];
            lines.extend(many.iter().map(|e| format!("  {}", one(e))));
            lines.join("\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Shape<'static> {
        Shape::for_kind("apps/v1", "Deployment")
    }

    #[test]
    fn unknown_fields_wrong_types_and_duplicate_keys() {
        let config = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": "3", "template": {"spec": {"containers": [
                {"name": "app", "image": "x", "env": [{"name": "A"}, {"name": "A"}]},
                {"name": "app", "image": "y"}
            ]}}}
        });
        let errors = check(&config, deployment());
        let text = describe(&errors);
        assert!(
            text.contains(".spec.replicas: expected numeric (int or float), got string"),
            "{text}"
        );
        assert!(text.contains(".spec.template.spec.containers[name=\"app\"].env: duplicate entries for key [name=\"A\"]"), "{text}");
        assert!(
            text.contains(
                ".spec.template.spec.containers: duplicate entries for key [name=\"app\"]"
            ),
            "{text}"
        );
        let wrong = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"},
            "spec": {"paused": "no", "selector": ["x"], "template": {"spec": {"containers": {"b": 2.5, "a": 1e7}}}}});
        let text = describe(&check(&wrong, deployment()));
        assert!(
            text.contains(".spec.paused: expected boolean, got &{no}"),
            "{text}"
        );
        assert!(
            text.contains(".spec.selector: expected map, got &{[x]}"),
            "{text}"
        );
        assert!(
            text.contains(
                ".spec.template.spec.containers: expected list, got &{map[a:1e+07 b:2.5]}"
            ),
            "{text}"
        );
        let unknown = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "dataa": {}});
        assert_eq!(
            describe(&check(&unknown, Shape::for_kind("v1", "ConfigMap"))),
            ".dataa: field not declared in schema"
        );
    }
}
