//! CustomResourceDefinitions: what a CRD's `openAPIV3Schema` makes of the custom resources it
//! serves, and the three CRDs the provider needs (bundled from their published manifests by
//! `scripts/extract-crds.py`).
//!
//! As in k8s.io/apiextensions-apiserver (v0.37.0-beta.0): unknown fields are pruned on create and
//! update (pkg/apiserver/schema/pruning), `default`s are filled in (schema/defaulting), and the
//! schema is validated with kube-openapi, each failure worded as
//! pkg/apiserver/validation/validation.go `kubeOpenAPIResultToFieldErrors` words it (messages from
//! kube-openapi pkg/validation/errors/schema.go). Server-side apply converts the applied
//! configuration with the same schema first (typed.rs), so unknown fields there are an error.

use crate::fieldpath::item_key;
use crate::pattern::Pattern;
use crate::status::Cause;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::OnceLock;

const BUNDLED: &str = include_str!("bundled-crds.json");

/// The value kind a schema node describes.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeType {
    /// `type: object`, with declared `properties` and/or `additionalProperties`.
    Object {
        /// Declared fields.
        properties: BTreeMap<String, SchemaNode>,
        /// The schema of undeclared fields, when they are allowed.
        additional: Option<Box<SchemaNode>>,
        /// `x-kubernetes-preserve-unknown-fields: true`.
        preserve_unknown: bool,
        /// `x-kubernetes-map-type: atomic`.
        map_atomic: bool,
    },
    /// `type: array`.
    Array {
        /// The item schema.
        items: Box<SchemaNode>,
        /// `x-kubernetes-list-type`, `atomic` by default.
        list_type: String,
        /// `x-kubernetes-list-map-keys`.
        keys: Vec<String>,
    },
    /// `type: string`.
    String,
    /// `type: integer`.
    Integer,
    /// `type: number`.
    Number,
    /// `type: boolean`.
    Boolean,
    /// `x-kubernetes-int-or-string: true`.
    IntOrString,
    /// No type: anything (e.g. `x-kubernetes-preserve-unknown-fields` without properties).
    Untyped,
}

/// One node of a CRD's structural schema, with the validation keywords the server enforces.
#[derive(Debug, Clone)]
pub struct SchemaNode {
    /// The value kind.
    pub node_type: NodeType,
    /// `nullable: true`.
    pub nullable: bool,
    /// `required` fields of an object.
    pub required: Vec<String>,
    /// `pattern`, as written and compiled.
    pub pattern: Option<(String, Result<Pattern, String>)>,
    /// `enum`.
    pub enumeration: Option<Vec<Value>>,
    /// `format`.
    pub format: Option<String>,
    /// `minimum`, and whether it is exclusive.
    pub minimum: Option<(f64, bool)>,
    /// `maximum`, and whether it is exclusive.
    pub maximum: Option<(f64, bool)>,
    /// `minLength`.
    pub min_length: Option<u64>,
    /// `maxLength`.
    pub max_length: Option<u64>,
    /// `minItems`.
    pub min_items: Option<u64>,
    /// `maxItems`.
    pub max_items: Option<u64>,
    /// `default`.
    pub default: Option<Value>,
}

impl PartialEq for SchemaNode {
    fn eq(&self, other: &Self) -> bool {
        self.node_type == other.node_type
            && self.required == other.required
            && self.pattern.as_ref().map(|p| &p.0) == other.pattern.as_ref().map(|p| &p.0)
            && self.enumeration == other.enumeration
            && self.default == other.default
    }
}

fn number(value: Option<&Value>) -> Option<u64> {
    value.and_then(Value::as_u64)
}

impl SchemaNode {
    /// Parses an `openAPIV3Schema` (or one of its nodes).
    pub fn parse(schema: &Value) -> SchemaNode {
        let flag = |name: &str| schema.get(name).and_then(Value::as_bool).unwrap_or(false);
        let type_name = schema
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let node_type = if flag("x-kubernetes-int-or-string") {
            NodeType::IntOrString
        } else {
            match type_name {
                "object" => Self::object(schema, flag("x-kubernetes-preserve-unknown-fields")),
                "array" => NodeType::Array {
                    items: Box::new(
                        schema
                            .get("items")
                            .map(SchemaNode::parse)
                            .unwrap_or_else(SchemaNode::untyped),
                    ),
                    list_type: schema
                        .get("x-kubernetes-list-type")
                        .and_then(Value::as_str)
                        .unwrap_or("atomic")
                        .to_string(),
                    keys: schema
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|keys| {
                            keys.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                },
                "string" => NodeType::String,
                "integer" => NodeType::Integer,
                "number" => NodeType::Number,
                "boolean" => NodeType::Boolean,
                _ if schema.get("properties").is_some() => {
                    Self::object(schema, flag("x-kubernetes-preserve-unknown-fields"))
                }
                _ => NodeType::Untyped,
            }
        };
        let bound = |name: &str, exclusive: &str| {
            schema
                .get(name)
                .and_then(Value::as_f64)
                .map(|v| (v, flag(exclusive)))
        };
        SchemaNode {
            node_type,
            nullable: flag("nullable"),
            required: schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            pattern: schema
                .get("pattern")
                .and_then(Value::as_str)
                .map(|p| (p.to_string(), Pattern::new(p))),
            enumeration: schema.get("enum").and_then(Value::as_array).cloned(),
            format: schema
                .get("format")
                .and_then(Value::as_str)
                .map(str::to_string),
            minimum: bound("minimum", "exclusiveMinimum"),
            maximum: bound("maximum", "exclusiveMaximum"),
            min_length: number(schema.get("minLength")),
            max_length: number(schema.get("maxLength")),
            min_items: number(schema.get("minItems")),
            max_items: number(schema.get("maxItems")),
            default: schema.get("default").cloned(),
        }
    }

    fn object(schema: &Value, preserve_unknown: bool) -> NodeType {
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| {
                p.iter()
                    .map(|(name, child)| (name.clone(), SchemaNode::parse(child)))
                    .collect()
            })
            .unwrap_or_default();
        let additional = match schema.get("additionalProperties") {
            Some(Value::Bool(true)) => Some(Box::new(SchemaNode::untyped())),
            Some(child @ Value::Object(_)) => Some(Box::new(SchemaNode::parse(child))),
            _ => None,
        };
        NodeType::Object {
            properties,
            additional,
            preserve_unknown,
            map_atomic: schema.get("x-kubernetes-map-type").and_then(Value::as_str)
                == Some("atomic"),
        }
    }

    /// A node that accepts anything.
    pub fn untyped() -> SchemaNode {
        SchemaNode::parse(&json!({"x-kubernetes-preserve-unknown-fields": true}))
    }
}

/// What the server knows of a CRD-backed resource type.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomInfo {
    /// The CRD's name, `plural.group`.
    pub crd_name: String,
    /// The served version's schema.
    pub schema: SchemaNode,
    /// Whether the version has a `/status` subresource.
    pub status_subresource: bool,
}

/// The three CRDs bundled with the server: ServiceMonitor, PrometheusRule, Certificate.
pub fn bundled() -> Vec<Value> {
    static CELL: OnceLock<Vec<Value>> = OnceLock::new();
    CELL.get_or_init(|| {
        let data: Value = match serde_json::from_str(BUNDLED) {
            Ok(data) => data,
            Err(error) => unreachable!("embedded bundled-crds.json does not parse: {error}"),
        };
        data.get("crds")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    })
    .clone()
}

/// The bundled CRD for a group and kind, if any.
pub fn bundled_for(group: &str, kind: &str) -> Option<Value> {
    bundled().into_iter().find(|crd| {
        crd.pointer("/spec/group").and_then(Value::as_str) == Some(group)
            && crd.pointer("/spec/names/kind").and_then(Value::as_str) == Some(kind)
    })
}

/// A CRD with a schema that keeps every field (`x-kubernetes-preserve-unknown-fields`), for kinds
/// registered with [`crate::ResourceType::custom`] that have no bundled CRD.
pub fn schemaless(group: &str, version: &str, kind: &str, plural: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List")},
            "scope": "Namespaced",
            "versions": [{
                "name": version, "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
            }],
        },
    })
}

fn invalid(field: &str, value: &Value, detail: &str) -> Cause {
    crate::validation::invalid(field, value, detail)
}

/// The checks apiextensions validation makes that the server relies on to serve the CRD
/// (pkg/apis/apiextensions/validation/validation.go, v0.37.0-beta.0).
pub fn validate_definition(crd: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let text = |pointer: &str| {
        crd.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let name = text("/metadata/name");
    let expected = format!("{}.{}", text("/spec/names/plural"), text("/spec/group"));
    if name != expected {
        causes.push(invalid(
            "metadata.name",
            &json!(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    for (field, pointer) in [
        ("spec.group", "/spec/group"),
        ("spec.names.plural", "/spec/names/plural"),
        ("spec.names.kind", "/spec/names/kind"),
    ] {
        if text(pointer).is_empty() {
            causes.push(crate::validation::required(field, ""));
        }
    }
    match text("/spec/scope") {
        "Namespaced" | "Cluster" => {}
        other => causes.push(crate::validation::not_supported(
            "spec.scope",
            &json!(other),
            &["Cluster", "Namespaced"],
        )),
    }
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        causes.push(crate::validation::required(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
    }
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if !versions.is_empty() && storage != 1 {
        causes.push(invalid(
            "spec.versions",
            &Value::Array(versions.clone()),
            "must have exactly one version marked as storage version",
        ));
    }
    for (i, version) in versions.iter().enumerate() {
        if version.pointer("/schema/openAPIV3Schema").is_none() {
            causes.push(crate::validation::required(
                &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                "",
            ));
        }
    }
    causes
}

/// The storage version of a CRD: its name, schema and whether it has a status subresource.
pub fn storage_version(crd: &Value) -> Option<(String, CustomInfo)> {
    let versions = crd.pointer("/spec/versions")?.as_array()?;
    let version = versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))?;
    let name = version.get("name")?.as_str()?.to_string();
    let schema = version
        .pointer("/schema/openAPIV3Schema")
        .map(SchemaNode::parse)
        .unwrap_or_else(SchemaNode::untyped);
    Some((
        name,
        CustomInfo {
            crd_name: crd.pointer("/metadata/name")?.as_str()?.to_string(),
            schema,
            status_subresource: version.pointer("/subresources/status").is_some(),
        },
    ))
}

/// The status the naming and establishing controllers give an accepted CRD
/// (pkg/controller/status/naming_controller.go, pkg/controller/establish).
pub fn accepted_status(crd: &Value, now: &str) -> Value {
    let condition = |kind: &str, reason: &str, message: &str| json!({"type": kind, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message});
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|versions| {
            versions
                .iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    let mut stored_versions = crd
        .pointer("/status/storedVersions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for version in stored {
        if !stored_versions.contains(&version) {
            stored_versions.push(version);
        }
    }
    json!({
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": crd.pointer("/spec/names").cloned().unwrap_or_else(|| json!({})),
        "storedVersions": stored_versions,
    })
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Structural pruning: drops fields the schema does not declare (unless it preserves unknown
/// fields) and records their paths as the decoder's strict errors name them.
pub fn prune(value: &mut Value, node: &SchemaNode, path: &str, pruned: &mut Vec<String>) {
    match (&node.node_type, value) {
        (
            NodeType::Object {
                properties,
                additional,
                preserve_unknown,
                ..
            },
            Value::Object(map),
        ) => {
            let names: Vec<String> = map.keys().cloned().collect();
            for name in names {
                let child_path = join(path, &name);
                match properties.get(&name).or(additional.as_deref()) {
                    Some(child) => {
                        if let Some(child_value) = map.get_mut(&name) {
                            prune(child_value, child, &child_path, pruned);
                        }
                    }
                    None if *preserve_unknown => {}
                    None => {
                        map.remove(&name);
                        pruned.push(child_path);
                    }
                }
            }
        }
        (NodeType::Array { items, .. }, Value::Array(list)) => {
            for (i, item) in list.iter_mut().enumerate() {
                prune(item, items, &format!("{path}[{i}]"), pruned);
            }
        }
        _ => {}
    }
}

fn without_object_meta(schema: &SchemaNode) -> SchemaNode {
    let mut trimmed = schema.clone();
    if let NodeType::Object { properties, .. } = &mut trimmed.node_type {
        properties.remove("metadata");
        properties.remove("apiVersion");
        properties.remove("kind");
    }
    trimmed
        .required
        .retain(|r| !matches!(r.as_str(), "apiVersion" | "kind" | "metadata"));
    trimmed
}

/// Prunes a whole custom resource; `apiVersion`, `kind` and `metadata` (ObjectMeta) are kept.
pub fn prune_object(object: &mut Value, schema: &SchemaNode, pruned: &mut Vec<String>) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let mut kept = Map::new();
    for key in ["apiVersion", "kind", "metadata"] {
        if let Some(value) = map.remove(key) {
            kept.insert(key.to_string(), value);
        }
    }
    let mut body = Value::Object(std::mem::take(map));
    let mut trimmed = without_object_meta(schema);
    if let NodeType::Object {
        preserve_unknown, ..
    } = &mut trimmed.node_type
        && matches!(schema.node_type, NodeType::Untyped)
    {
        *preserve_unknown = true;
    }
    prune(&mut body, &trimmed, "", pruned);
    if let Value::Object(rest) = body {
        kept.extend(rest);
    }
    *map = kept;
}

/// Fills in the schema's defaults in a whole custom resource.
pub fn default_object(object: &mut Value, schema: &SchemaNode) {
    let trimmed = without_object_meta(schema);
    default(object, &trimmed);
}

/// Structural defaulting: fills in `default`s of absent fields of present objects, and drops
/// nulls of fields that are not nullable (schema/defaulting/algorithm.go).
pub fn default(value: &mut Value, node: &SchemaNode) {
    match (&node.node_type, value) {
        (
            NodeType::Object {
                properties,
                additional,
                ..
            },
            Value::Object(map),
        ) => {
            for (name, child) in properties {
                if map.get(name).is_some_and(Value::is_null) && !child.nullable {
                    map.remove(name);
                }
                if !map.contains_key(name)
                    && let Some(default) = &child.default
                {
                    map.insert(name.clone(), default.clone());
                }
                if let Some(child_value) = map.get_mut(name) {
                    self::default(child_value, child);
                }
            }
            if let Some(child) = additional {
                for (_, child_value) in map.iter_mut() {
                    self::default(child_value, child);
                }
            }
        }
        (NodeType::Array { items, .. }, Value::Array(list)) => {
            for item in list {
                self::default(item, items);
            }
        }
        _ => {}
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_invalid(path: &str, expected: &str, actual: &str) -> Cause {
    Cause {
        kind: "FieldValueTypeInvalid".into(),
        message: format!(
            "Invalid value: {}: {path} in body must be of type {expected}: {}",
            Value::String(actual.into()),
            Value::String(actual.into())
        ),
        field: path.into(),
    }
}

fn fmt_number(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// kube-openapi schema validation of a custom resource (without `metadata`, which is ObjectMeta).
pub fn validate(value: &Value, node: &SchemaNode, path: &str, causes: &mut Vec<Cause>) {
    if value.is_null() {
        if !node.nullable && !matches!(node.node_type, NodeType::Untyped) {
            let expected = match &node.node_type {
                NodeType::Object { .. } => "object",
                NodeType::Array { .. } => "array",
                NodeType::String => "string",
                NodeType::Integer => "integer",
                NodeType::Number => "number",
                NodeType::Boolean => "boolean",
                _ => return,
            };
            causes.push(type_invalid(path, expected, "null"));
        }
        return;
    }
    let actual = type_name(value);
    let expected = match &node.node_type {
        NodeType::Object { .. } => Some("object"),
        NodeType::Array { .. } => Some("array"),
        NodeType::String => Some("string"),
        NodeType::Integer => Some("integer"),
        NodeType::Number => (actual != "integer").then_some("number"),
        NodeType::Boolean => Some("boolean"),
        NodeType::IntOrString => {
            if !matches!(actual, "integer" | "string") {
                causes.push(Cause {
                    kind: "FieldValueInvalid".into(),
                    message: format!(
                        "Invalid value: {}: {path} in body must be of type integer,string: {}",
                        Value::String(actual.into()),
                        Value::String(actual.into())
                    ),
                    field: path.into(),
                });
                return;
            }
            None
        }
        NodeType::Untyped => None,
    };
    if let Some(expected) = expected
        && expected != actual
    {
        causes.push(type_invalid(path, expected, actual));
        return;
    }
    if let Some(values) = &node.enumeration
        && !values.contains(value)
    {
        let allowed: Vec<String> = values
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        causes.push(crate::validation::not_supported(path, value, &allowed));
    }
    match value {
        Value::String(text) => {
            if let Some((source, compiled)) = &node.pattern {
                let ok = match compiled {
                    Ok(pattern) => pattern.is_match(text),
                    Err(_) => true,
                };
                if !ok {
                    causes.push(invalid(
                        path,
                        value,
                        &format!("{path} in body should match '{source}'"),
                    ));
                }
            }
            let length = text.chars().count() as u64;
            if let Some(max) = node.max_length
                && length > max
            {
                causes.push(crate::validation::too_long(path, max as usize));
            }
            if let Some(min) = node.min_length
                && length < min
            {
                causes.push(invalid(
                    path,
                    value,
                    &format!("{path} in body should be at least {min} chars long"),
                ));
            }
            if node.format.as_deref() == Some("date-time")
                && time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .is_err()
            {
                causes.push(type_invalid_value(path, "date-time", text));
            }
        }
        Value::Number(n) => {
            let v = n.as_f64().unwrap_or_default();
            if let Some((min, exclusive)) = node.minimum {
                let bad = if exclusive { v <= min } else { v < min };
                if bad {
                    let word = if exclusive {
                        "greater than"
                    } else {
                        "greater than or equal to"
                    };
                    causes.push(invalid(
                        path,
                        value,
                        &format!("{path} in body should be {word} {}", fmt_number(min)),
                    ));
                }
            }
            if let Some((max, exclusive)) = node.maximum {
                let bad = if exclusive { v >= max } else { v > max };
                if bad {
                    let word = if exclusive {
                        "less than"
                    } else {
                        "less than or equal to"
                    };
                    causes.push(invalid(
                        path,
                        value,
                        &format!("{path} in body should be {word} {}", fmt_number(max)),
                    ));
                }
            }
        }
        _ => {}
    }
    match (&node.node_type, value) {
        (
            NodeType::Object {
                properties,
                additional,
                ..
            },
            Value::Object(map),
        ) => {
            for name in &node.required {
                if !map.contains_key(name) {
                    causes.push(crate::validation::required(&join(path, name), ""));
                }
            }
            for (name, child_value) in map {
                if let Some(child) = properties.get(name).or(additional.as_deref()) {
                    validate(child_value, child, &join(path, name), causes);
                }
            }
        }
        (
            NodeType::Array {
                items,
                list_type,
                keys,
            },
            Value::Array(list),
        ) => {
            if let Some(max) = node.max_items
                && list.len() as u64 > max
            {
                causes.push(crate::validation::too_many(path, list.len(), max as usize));
            }
            if let Some(min) = node.min_items
                && (list.len() as u64) < min
            {
                causes.push(invalid(
                    path,
                    value,
                    &format!("{path} in body should have at least {min} items"),
                ));
            }
            if list_type == "map" || list_type == "set" {
                let mut seen = Vec::new();
                for (i, item) in list.iter().enumerate() {
                    let key = if list_type == "map" {
                        item_key(item, keys)
                    } else {
                        Some(crate::fieldpath::canonical(item))
                    };
                    if let Some(key) = key {
                        if seen.contains(&key) {
                            causes
                                .push(crate::validation::duplicate(&format!("{path}[{i}]"), item));
                        }
                        seen.push(key);
                    }
                }
            }
            for (i, item) in list.iter().enumerate() {
                validate(item, items, &format!("{path}[{i}]"), causes);
            }
        }
        _ => {}
    }
}

fn type_invalid_value(path: &str, expected: &str, value: &str) -> Cause {
    Cause {
        kind: "FieldValueTypeInvalid".into(),
        message: format!(
            "Invalid value: {}: {path} in body must be of type {expected}: {}",
            Value::String(value.into()),
            Value::String(value.into())
        ),
        field: path.into(),
    }
}

/// Validates a whole custom resource against its CRD's schema.
pub fn validate_object(object: &Value, schema: &SchemaNode) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(map) = object.as_object() else {
        return causes;
    };
    let mut body = Map::new();
    for (name, value) in map {
        if !matches!(name.as_str(), "apiVersion" | "kind" | "metadata") {
            body.insert(name.clone(), value.clone());
        }
    }
    validate(
        &Value::Object(body),
        &without_object_meta(schema),
        "",
        &mut causes,
    );
    causes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service_monitor() -> SchemaNode {
        let crd = bundled_for("monitoring.coreos.com", "ServiceMonitor").expect("bundled");
        storage_version(&crd).expect("storage version").1.schema
    }

    #[test]
    fn the_bundled_crds_are_the_three_the_provider_applies() {
        let names: Vec<String> = bundled()
            .iter()
            .filter_map(|c| {
                c.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(
            names,
            vec![
                "servicemonitors.monitoring.coreos.com",
                "prometheusrules.monitoring.coreos.com",
                "certificates.cert-manager.io"
            ]
        );
        for crd in bundled() {
            assert!(validate_definition(&crd).is_empty());
        }
    }

    #[test]
    fn endpoint_intervals_must_be_prometheus_durations() {
        let schema = service_monitor();
        let object =
            json!({"spec": {"selector": {}, "endpoints": [{"port": "m", "interval": "30x"}]}});
        let causes = validate_object(&object, &schema);
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert_eq!(causes[0].field, "spec.endpoints[0].interval");
        assert!(causes[0].message.starts_with(
            "Invalid value: \"30x\": spec.endpoints[0].interval in body should match '^(0|"
        ));
    }

    #[test]
    fn pruning_names_the_dropped_fields() {
        let schema = service_monitor();
        let mut object = json!({"spec": {"selector": {}, "bogus": 1, "endpoints": [{"port": "m", "nope": true}]}});
        let mut pruned = Vec::new();
        prune(&mut object, &schema, "", &mut pruned);
        assert_eq!(pruned, vec!["spec.bogus", "spec.endpoints[0].nope"]);
    }
}
