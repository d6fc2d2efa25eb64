//! Built-in objects as a real server reads and stores them: decoded into their Go struct and
//! encoded again.
//!
//! Decoding follows sigs.k8s.io/json (the case-sensitive encoding/json fork the API server
//! uses): a value of the wrong JSON type is an `UnmarshalTypeError` ("json: cannot unmarshal
//! string into Go struct field DeploymentSpec.spec.replicas of type int32"), a field the struct
//! does not have is dropped and reported as a strict error (`unknown field "spec.foo"`,
//! kubernetes_patch.go), Quantity, IntOrString and Time parse with their own UnmarshalJSON
//! (apimachinery v0.37.0-beta.0). Encoding follows Go's encoding/json over the field list of
//! `go-json-tags.json`: declaration order, sorted map keys, `omitempty` dropping false, 0, "",
//! nil pointers and empty slices and maps (never struct values), `omitzero` dropping zero values,
//! and Quantities in canonical form.

use crate::quantity;
use crate::schema::{Descriptor, GoField, GoKind, ScalarKind, go_fields, struct_type};
use base64::Engine;
use serde_json::{Map, Value};

/// The result of a round trip: the stored form and the strict-decoding errors (unknown fields).
pub struct Decoded {
    /// The object as encoding the decoded struct gives it.
    pub object: Value,
    /// Paths of fields the struct does not have, e.g. `spec.template.spec.containers[0].foo`.
    pub unknown: Vec<String>,
}

struct Decoder {
    error: Option<String>,
    unknown: Vec<String>,
    /// JSON field names from the root, without list indexes (Go's errorContext.FieldStack).
    fields: Vec<String>,
    /// The strict path (with list indexes).
    strict: Vec<String>,
    /// The innermost Go struct being decoded.
    structs: Vec<String>,
}

fn go_type(descriptor: &Descriptor) -> String {
    match descriptor {
        Descriptor::Scalar { st } => match st.as_str() {
            "string" => "string".into(),
            "int32" => "int32".into(),
            "int64" => "int64".into(),
            "number" => "float64".into(),
            "boolean" => "bool".into(),
            "bytes" => "[]uint8".into(),
            "quantity" => "resource.Quantity".into(),
            "int-or-string" => "intstr.IntOrString".into(),
            "time" => "v1.Time".into(),
            _ => "interface {}".into(),
        },
        Descriptor::Untyped => "interface {}".into(),
        Descriptor::Struct { r } => short_name(r),
        Descriptor::List { e, .. } => format!("[]{}", go_type(e)),
        Descriptor::Map { e, .. } => format!("map[string]{}", go_type(e)),
    }
}

/// `io.k8s.api.core.v1.PodSpec` → `v1.PodSpec`.
fn short_name(openapi: &str) -> String {
    let mut parts = openapi.rsplit('.');
    let name = parts.next().unwrap_or_default();
    let package = parts.next().unwrap_or_default();
    format!("{package}.{name}")
}

fn struct_name(openapi: &str) -> String {
    openapi.rsplit('.').next().unwrap_or_default().to_string()
}

fn json_kind(value: &Value) -> String {
    match value {
        Value::String(_) => "string".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
        Value::Null => "null".into(),
    }
}

impl Decoder {
    fn fail(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(message);
        }
    }

    /// An UnmarshalTypeError at the current field.
    fn type_error(&mut self, value: String, target: String) {
        let message = match (self.structs.last(), self.fields.is_empty()) {
            (Some(owner), false) => format!(
                "json: cannot unmarshal {value} into Go struct field {owner}.{} of type {target}",
                self.fields.join(".")
            ),
            _ => format!("json: cannot unmarshal {value} into Go value of type {target}"),
        };
        self.fail(message);
    }

    fn strict_path(&self, name: &str) -> String {
        let mut path = self.strict.concat();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(name);
        path
    }

    fn push_field(&mut self, name: &str) {
        self.fields.push(name.to_string());
        if self.strict.is_empty() {
            self.strict.push(name.to_string());
        } else {
            self.strict.push(format!(".{name}"));
        }
    }

    fn pop_field(&mut self) {
        self.fields.pop();
        self.strict.pop();
    }

    /// Decodes and encodes a struct value (absent and null are the zero struct).
    fn structure(&mut self, value: Option<&Value>, type_name: &str) -> Value {
        let empty = Map::new();
        let map = match value {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(map)) => map,
            Some(other) => {
                self.type_error(json_kind(other), short_name(type_name));
                &empty
            }
        };
        let Some(fields) = go_fields(type_name) else {
            return Value::Object(map.clone());
        };
        let openapi = struct_type(type_name);
        self.structs.push(struct_name(type_name));
        for key in map.keys() {
            if !fields.iter().any(|f| f.name == *key) {
                let path = self.strict_path(key);
                self.unknown.push(path);
            }
        }
        let mut out = Map::new();
        for field in fields {
            let descriptor = openapi.and_then(|t| t.fields.get(&field.name));
            self.push_field(&field.name);
            let encoded = match descriptor {
                Some(descriptor) => self.field(map.get(&field.name), field, descriptor),
                None => map.get(&field.name).cloned(),
            };
            self.pop_field();
            if let Some(encoded) = encoded {
                out.insert(field.name.clone(), encoded);
            }
        }
        self.structs.pop();
        Value::Object(out)
    }

    fn field(
        &mut self,
        input: Option<&Value>,
        field: &GoField,
        descriptor: &Descriptor,
    ) -> Option<Value> {
        let input = input.filter(|v| !v.is_null());
        match field.kind {
            GoKind::Value => {
                let value = match input {
                    None => zero(descriptor),
                    Some(value) => self.value(value, descriptor),
                };
                (!(field.omitempty && is_zero(&value))).then_some(value)
            }
            GoKind::Pointer => match input {
                None => (!field.omitempty).then_some(Value::Null),
                Some(value) => Some(self.value(value, descriptor)),
            },
            GoKind::Slice | GoKind::Map => match input {
                None => (!field.omitempty).then_some(Value::Null),
                Some(value) => {
                    let decoded = self.value(value, descriptor);
                    let empty = match &decoded {
                        Value::Array(items) => items.is_empty(),
                        Value::Object(map) => map.is_empty(),
                        Value::Null => true,
                        _ => false,
                    };
                    (!(field.omitempty && empty)).then_some(decoded)
                }
            },
            GoKind::Struct => match descriptor {
                Descriptor::Struct { r } => Some(self.structure(input, r)),
                other => input.map(|v| self.value(v, other)),
            },
            GoKind::Custom => match input {
                None => {
                    if field.omitzero {
                        None
                    } else {
                        Some(custom_zero(descriptor))
                    }
                }
                Some(value) => Some(self.value(value, descriptor)),
            },
        }
    }

    /// Decodes and encodes a value of a descriptor that is present (pointees, items, values).
    fn value(&mut self, value: &Value, descriptor: &Descriptor) -> Value {
        match descriptor {
            Descriptor::Untyped => value.clone(),
            Descriptor::Struct { r } => self.structure(Some(value), r),
            Descriptor::Scalar { st } => self.scalar(value, st, descriptor),
            Descriptor::List { e, .. } => match value {
                Value::Null => Value::Null,
                Value::Array(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        self.strict.push(format!("[{i}]"));
                        let decoded = match item {
                            Value::Null => zero_item(e),
                            item => self.value(item, e),
                        };
                        self.strict.pop();
                        out.push(decoded);
                    }
                    Value::Array(out)
                }
                other => {
                    self.type_error(json_kind(other), go_type(descriptor));
                    Value::Null
                }
            },
            Descriptor::Map { e, .. } => match value {
                Value::Null => Value::Null,
                Value::Object(map) => {
                    let mut keys: Vec<&String> = map.keys().collect();
                    keys.sort();
                    let mut out = Map::new();
                    for key in keys {
                        self.push_field(key);
                        let decoded = match &map[key] {
                            Value::Null => zero_item(e),
                            item => self.value(item, e),
                        };
                        self.pop_field();
                        out.insert(key.clone(), decoded);
                    }
                    Value::Object(out)
                }
                other => {
                    self.type_error(json_kind(other), go_type(descriptor));
                    Value::Null
                }
            },
        }
    }

    fn scalar(&mut self, value: &Value, st: &str, descriptor: &Descriptor) -> Value {
        let kind = scalar_kind(st);
        match kind {
            ScalarKind::String => match value {
                Value::String(_) => value.clone(),
                other => {
                    self.type_error(json_kind(other), go_type(descriptor));
                    Value::String(String::new())
                }
            },
            ScalarKind::Int32 | ScalarKind::Int64 => {
                let (lo, hi) = if kind == ScalarKind::Int32 {
                    (i64::from(i32::MIN), i64::from(i32::MAX))
                } else {
                    (i64::MIN, i64::MAX)
                };
                match value {
                    Value::Number(n) if n.as_i64().is_some_and(|v| (lo..=hi).contains(&v)) => {
                        value.clone()
                    }
                    Value::Number(n) => {
                        self.type_error(format!("number {n}"), go_type(descriptor));
                        Value::from(0)
                    }
                    other => {
                        self.type_error(json_kind(other), go_type(descriptor));
                        Value::from(0)
                    }
                }
            }
            ScalarKind::Number => match value {
                Value::Number(_) => value.clone(),
                other => {
                    self.type_error(json_kind(other), go_type(descriptor));
                    Value::from(0)
                }
            },
            ScalarKind::Boolean => match value {
                Value::Bool(_) => value.clone(),
                other => {
                    self.type_error(json_kind(other), go_type(descriptor));
                    Value::Bool(false)
                }
            },
            ScalarKind::Bytes => match value {
                Value::String(text) => {
                    if let Err(error) = base64::engine::general_purpose::STANDARD.decode(text) {
                        let offset = match error {
                            base64::DecodeError::InvalidByte(offset, _)
                            | base64::DecodeError::InvalidLastSymbol(offset, _) => offset,
                            _ => text.len(),
                        };
                        self.fail(format!("illegal base64 data at input byte {offset}"));
                    }
                    value.clone()
                }
                other => {
                    self.type_error(json_kind(other), go_type(descriptor));
                    Value::Null
                }
            },
            ScalarKind::Quantity => match quantity::from_json(value) {
                Ok(q) => Value::String(q.canonical()),
                Err(message) => {
                    self.fail(message.to_string());
                    Value::String("0".into())
                }
            },
            ScalarKind::IntOrString => match value {
                Value::String(_) => value.clone(),
                Value::Number(n) if n.as_i64().is_some_and(|v| i32::try_from(v).is_ok()) => {
                    value.clone()
                }
                Value::Number(n) => {
                    self.fail(format!(
                        "json: cannot unmarshal number {n} into Go value of type int32"
                    ));
                    Value::from(0)
                }
                other => {
                    self.fail(format!(
                        "json: cannot unmarshal {} into Go value of type int32",
                        json_kind(other)
                    ));
                    Value::from(0)
                }
            },
            ScalarKind::Time => match value {
                Value::String(text) => match time::OffsetDateTime::parse(
                    text,
                    &time::format_description::well_known::Rfc3339,
                ) {
                    Ok(parsed) => {
                        let format = time::macros::format_description!(
                            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
                        );
                        let utc = parsed.to_offset(time::UtcOffset::UTC);
                        Value::String(utc.format(&format).unwrap_or_else(|_| text.clone()))
                    }
                    Err(_) => {
                        self.fail(format!(
                            "parsing time {} as \"2006-01-02T15:04:05Z07:00\": cannot parse {} as \"2006\"",
                            Value::String(text.clone()),
                            Value::String(text.clone())
                        ));
                        Value::Null
                    }
                },
                Value::Null => Value::Null,
                other => {
                    self.type_error(json_kind(other), "v1.Time".into());
                    Value::Null
                }
            },
            ScalarKind::Any => value.clone(),
        }
    }
}

fn scalar_kind(st: &str) -> ScalarKind {
    match st {
        "string" => ScalarKind::String,
        "int32" => ScalarKind::Int32,
        "int64" => ScalarKind::Int64,
        "number" => ScalarKind::Number,
        "boolean" => ScalarKind::Boolean,
        "int-or-string" => ScalarKind::IntOrString,
        "quantity" => ScalarKind::Quantity,
        "time" => ScalarKind::Time,
        "bytes" => ScalarKind::Bytes,
        _ => ScalarKind::Any,
    }
}

/// The encoding of a scalar value's zero.
fn zero(descriptor: &Descriptor) -> Value {
    match descriptor {
        Descriptor::Scalar { st } => match scalar_kind(st) {
            ScalarKind::String => Value::String(String::new()),
            ScalarKind::Int32 | ScalarKind::Int64 | ScalarKind::Number => Value::from(0),
            ScalarKind::Boolean => Value::Bool(false),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

/// The encoding of an item or map value that was null.
fn zero_item(descriptor: &Descriptor) -> Value {
    match descriptor {
        Descriptor::Scalar { .. } => custom_or_zero(descriptor),
        _ => Value::Null,
    }
}

fn custom_or_zero(descriptor: &Descriptor) -> Value {
    match zero(descriptor) {
        Value::Null => custom_zero(descriptor),
        other => other,
    }
}

/// What the zero value of a type with its own MarshalJSON encodes to.
fn custom_zero(descriptor: &Descriptor) -> Value {
    match descriptor {
        Descriptor::Scalar { st } => match scalar_kind(st) {
            ScalarKind::Quantity => Value::String("0".into()),
            ScalarKind::IntOrString => Value::from(0),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false,
    }
}

/// Decodes a built-in object of the given OpenAPI root type and encodes it back. The error is
/// the decoder's first error, worded as Go words it.
pub fn round_trip(value: &Value, root: &str) -> Result<Decoded, String> {
    let mut decoder = Decoder {
        error: None,
        unknown: Vec::new(),
        fields: Vec::new(),
        strict: Vec::new(),
        structs: Vec::new(),
    };
    if !value.is_object() {
        return Err(format!(
            "json: cannot unmarshal {} into Go value of type {}",
            json_kind(value),
            short_name(root)
        ));
    }
    let object = decoder.structure(Some(value), root);
    match decoder.error {
        Some(error) => Err(error),
        None => Ok(Decoded {
            object,
            unknown: decoder.unknown,
        }),
    }
}

/// The stored form of an object's metadata alone (`ObjectMeta`), for custom resources, whose
/// metadata the server coerces through ObjectMeta (apiextensions schema/objectmeta/coerce.go).
pub fn round_trip_metadata(metadata: &Value) -> Result<Decoded, String> {
    let mut decoder = Decoder {
        error: None,
        unknown: Vec::new(),
        fields: vec!["metadata".into()],
        strict: vec!["metadata".into()],
        structs: Vec::new(),
    };
    let object = decoder.structure(
        Some(metadata),
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
    );
    match decoder.error {
        Some(error) => Err(error),
        None => Ok(Decoded {
            object,
            unknown: decoder.unknown,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";

    #[test]
    fn omitempty_drops_empty_lists_maps_strings_and_false() {
        let object = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {}},
            "spec": {"template": {"spec": {"containers": [{
                "name": "app", "image": "x", "env": [], "workingDir": "",
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp", "readOnly": false}],
                "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}}
            }]}}}
        });
        let stored = round_trip(&object, DEPLOYMENT)
            .map(|d| d.object)
            .expect("decodes");
        let container = &stored["spec"]["template"]["spec"]["containers"][0];
        assert!(container.get("env").is_none());
        assert!(container.get("workingDir").is_none());
        assert_eq!(
            container["volumeMounts"][0],
            json!({"name": "tmp", "mountPath": "/tmp"})
        );
        assert_eq!(
            container["resources"]["limits"],
            json!({"cpu": "500m", "memory": "1Gi"})
        );
        assert!(stored["metadata"].get("annotations").is_none());
        assert_eq!(stored["spec"]["template"]["metadata"], json!({}));
        assert_eq!(stored["status"], json!({}));
        let keys: Vec<&String> = stored
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            vec!["kind", "apiVersion", "metadata", "spec", "status"]
        );
    }

    #[test]
    fn wrong_types_are_go_unmarshal_errors_and_unknown_fields_are_reported() {
        let bad = json!({"spec": {"replicas": "3"}});
        assert_eq!(
            round_trip(&bad, DEPLOYMENT).err().as_deref(),
            Some(
                "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
            )
        );
        let unknown = json!({"spec": {"replicaz": 3, "template": {"spec": {"containers": [{"name": "a", "imagee": "x"}]}}}});
        let decoded = round_trip(&unknown, DEPLOYMENT).expect("decodes");
        assert_eq!(
            decoded.unknown,
            vec!["spec.replicaz", "spec.template.spec.containers[0].imagee"]
        );
    }
}
