//! The structure server-side apply, decoding and validation need from each kind's schema.
//!
//! Built-in kinds: the data in `openapi-list-types.json` is extracted from Kubernetes' published
//! OpenAPI definitions by `scripts/extract-list-types.py`: struct fields, the JSON type of scalars, and for lists and maps the `x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys` and `x-kubernetes-map-type` annotations. `go-json-tags.json`
//! (`scripts/extract-go-json-tags.py`, from the Go types) adds each field's json tag and Go kind,
//! so objects can be stored as a Go round trip would store them.
//!
//! Custom resources: the `openAPIV3Schema` of their CustomResourceDefinition, parsed into
//! [`SchemaNode`]s (see `crd.rs`). Kinds without any schema use the shape structured-merge-diff
//! deduces from the value itself: objects merge field by field and lists are atomic.

use crate::crd::{NodeType, SchemaNode};
use crate::resources::ResourceType;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const DATA: &str = include_str!("openapi-list-types.json");
const GO_DATA: &str = include_str!("go-json-tags.json");

#[derive(Debug, Deserialize)]
struct Data {
    kinds: BTreeMap<String, String>,
    types: BTreeMap<String, StructType>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct StructType {
    pub(crate) fields: BTreeMap<String, Descriptor>,
    #[serde(default)]
    atomic: bool,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "t")]
pub(crate) enum Descriptor {
    #[serde(rename = "s")]
    Scalar {
        #[serde(default)]
        st: String,
    },
    #[serde(rename = "u")]
    Untyped,
    #[serde(rename = "r")]
    Struct { r: String },
    #[serde(rename = "l")]
    List {
        e: Box<Descriptor>,
        lt: String,
        #[serde(default)]
        k: Vec<String>,
    },
    #[serde(rename = "m")]
    Map { e: Box<Descriptor>, mt: String },
}

fn data() -> &'static Data {
    static DATA_CELL: OnceLock<Data> = OnceLock::new();
    DATA_CELL.get_or_init(|| match serde_json::from_str(DATA) {
        Ok(data) => data,
        Err(error) => unreachable!("embedded openapi-list-types.json does not parse: {error}"),
    })
}

/// The Go kind of a struct field (see scripts/extract-go-json-tags.py).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GoKind {
    /// A scalar value: string, number, bool, or []byte.
    Value,
    /// A struct value (never dropped by omitempty).
    Struct,
    /// A pointer.
    Pointer,
    /// A slice.
    Slice,
    /// A map.
    Map,
    /// A value with its own JSON form (Quantity, IntOrString, Time, ...).
    Custom,
}

/// One field of a Go struct, in declaration order.
#[derive(Debug, Clone)]
pub(crate) struct GoField {
    pub(crate) name: String,
    pub(crate) kind: GoKind,
    pub(crate) omitempty: bool,
    pub(crate) omitzero: bool,
}

#[derive(Deserialize)]
struct GoData {
    types: BTreeMap<String, Vec<(String, String)>>,
}

fn go_data() -> &'static BTreeMap<String, Vec<GoField>> {
    static GO_CELL: OnceLock<BTreeMap<String, Vec<GoField>>> = OnceLock::new();
    GO_CELL.get_or_init(|| {
        let parsed: GoData = match serde_json::from_str(GO_DATA) {
            Ok(data) => data,
            Err(error) => unreachable!("embedded go-json-tags.json does not parse: {error}"),
        };
        parsed
            .types
            .into_iter()
            .map(|(name, fields)| {
                let fields = fields
                    .into_iter()
                    .map(|(name, flags)| {
                        let kind = match flags.chars().next() {
                            Some('t') => GoKind::Struct,
                            Some('p') => GoKind::Pointer,
                            Some('s') => GoKind::Slice,
                            Some('m') => GoKind::Map,
                            Some('x') => GoKind::Custom,
                            _ => GoKind::Value,
                        };
                        GoField {
                            name,
                            kind,
                            omitempty: flags.contains('o'),
                            omitzero: flags.contains('z'),
                        }
                    })
                    .collect();
                (name, fields)
            })
            .collect()
    })
}

/// The Go fields of a built-in struct type, in declaration order.
pub(crate) fn go_fields(type_name: &str) -> Option<&'static [GoField]> {
    go_data().get(type_name).map(Vec::as_slice)
}

/// A built-in struct type by its OpenAPI name.
pub(crate) fn struct_type(type_name: &str) -> Option<&'static StructType> {
    data().types.get(type_name)
}

/// How a list's items are identified when merging.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ListKind<'a> {
    /// Replaced as a whole (`x-kubernetes-list-type: atomic`, and the default).
    Atomic,
    /// A set of scalars, merged by value.
    Set,
    /// A map keyed by the listed fields of each item.
    Map(&'a [String]),
}

/// The JSON type a scalar must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScalarKind {
    /// A JSON string.
    String,
    /// A JSON number without fraction that fits int32.
    Int32,
    /// A JSON number without fraction that fits int64.
    Int64,
    /// Any JSON number.
    Number,
    /// true or false.
    Boolean,
    /// A string or an integer (IntOrString, x-kubernetes-int-or-string).
    IntOrString,
    /// A quantity: a string or a number.
    Quantity,
    /// An RFC 3339 time string (or null).
    Time,
    /// A base64 string ([]byte).
    Bytes,
    /// Any scalar.
    Any,
}

impl ScalarKind {
    fn from_name(name: &str) -> ScalarKind {
        match name {
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
}

/// A position in a schema: what shape the value at some field path has.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape<'a> {
    /// A leaf value, replaced as a whole.
    Scalar(ScalarKind),
    /// No schema: objects merge field by field, lists are atomic.
    Deduced,
    /// A built-in struct with known fields; atomic when `x-kubernetes-map-type: atomic`.
    Struct(&'a str),
    /// A built-in list with item shape and list type.
    List(&'a Descriptor, ListKind<'a>),
    /// A built-in map of string keys; atomic when `x-kubernetes-map-type: atomic`.
    Map(&'a Descriptor, bool),
    /// A node of a CustomResourceDefinition schema.
    Crd(&'a SchemaNode),
    /// The root of a custom resource: `metadata` is ObjectMeta, the rest is the CRD schema.
    CrdRoot(&'a SchemaNode),
}

/// What kind of value a shape describes, for typed checks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ShapeKind {
    /// An object with declared fields; `open` when undeclared fields are kept.
    Struct { open: bool },
    /// An object whose keys are free.
    Map,
    /// A list.
    List,
    /// A scalar of this kind.
    Scalar(ScalarKind),
    /// Anything.
    Untyped,
}

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

fn shape_of(descriptor: &Descriptor) -> Shape<'_> {
    match descriptor {
        Descriptor::Scalar { st } => Shape::Scalar(ScalarKind::from_name(st)),
        Descriptor::Untyped => Shape::Deduced,
        Descriptor::Struct { r } => Shape::Struct(r),
        Descriptor::List { e, lt, k } => {
            let kind = match lt.as_str() {
                "set" => ListKind::Set,
                "map" => ListKind::Map(k),
                _ => ListKind::Atomic,
            };
            Shape::List(e, kind)
        }
        Descriptor::Map { e, mt } => Shape::Map(e, mt == "atomic"),
    }
}

impl<'a> Shape<'a> {
    /// The root shape of a built-in kind, `Deduced` when the kind has no schema.
    pub(crate) fn for_kind(api_version: &str, kind: &str) -> Shape<'static> {
        let key = format!("{api_version}/{kind}");
        match data().kinds.get(&key) {
            Some(root) => Shape::Struct(root),
            None => Shape::Deduced,
        }
    }

    /// The root shape of a resource type: its CRD schema, its built-in schema, or none.
    pub(crate) fn for_resource(resource: &'a ResourceType) -> Shape<'a> {
        match resource.custom_schema() {
            Some(schema) => Shape::CrdRoot(schema),
            None => Shape::for_kind(&resource.api_version(), &resource.kind),
        }
    }

    /// The OpenAPI type name of a built-in struct shape.
    pub(crate) fn struct_name(&self) -> Option<&'a str> {
        match self {
            Shape::Struct(name) => Some(name),
            _ => None,
        }
    }

    /// What kind of value this shape describes.
    pub(crate) fn kind(&self) -> ShapeKind {
        match self {
            Shape::Scalar(kind) => ShapeKind::Scalar(*kind),
            Shape::Deduced => ShapeKind::Untyped,
            Shape::Struct(_) => ShapeKind::Struct { open: false },
            // The root of a custom resource: ObjectMeta and type meta plus the schema's fields;
            // open when the schema keeps unknown fields (kube-openapi schemaconv gives such a map
            // an untyped element type).
            Shape::CrdRoot(node) => ShapeKind::Struct {
                open: match &node.node_type {
                    NodeType::Object {
                        preserve_unknown,
                        additional,
                        ..
                    } => *preserve_unknown || additional.is_some(),
                    NodeType::Untyped => true,
                    _ => false,
                },
            },
            Shape::List(..) => ShapeKind::List,
            Shape::Map(..) => ShapeKind::Map,
            Shape::Crd(node) => match &node.node_type {
                NodeType::Object {
                    properties,
                    additional,
                    preserve_unknown,
                    ..
                } => {
                    if additional.is_some() && properties.is_empty() {
                        ShapeKind::Map
                    } else if *preserve_unknown && properties.is_empty() {
                        ShapeKind::Untyped
                    } else {
                        ShapeKind::Struct {
                            open: *preserve_unknown || additional.is_some(),
                        }
                    }
                }
                NodeType::Array { .. } => ShapeKind::List,
                NodeType::String => ShapeKind::Scalar(ScalarKind::String),
                NodeType::Integer => ShapeKind::Scalar(ScalarKind::Int64),
                NodeType::Number => ShapeKind::Scalar(ScalarKind::Number),
                NodeType::Boolean => ShapeKind::Scalar(ScalarKind::Boolean),
                NodeType::IntOrString => ShapeKind::Scalar(ScalarKind::Any),
                NodeType::Untyped => ShapeKind::Untyped,
            },
        }
    }

    /// Whether the value here is replaced as a whole rather than merged.
    pub(crate) fn is_atomic(&self) -> bool {
        match self {
            Shape::Scalar(_) => true,
            Shape::Deduced | Shape::CrdRoot(_) => false,
            Shape::Struct(name) => data().types.get(*name).is_none_or(|t| t.atomic),
            Shape::List(_, kind) => *kind == ListKind::Atomic,
            Shape::Map(_, atomic) => *atomic,
            Shape::Crd(node) => match &node.node_type {
                NodeType::Object { map_atomic, .. } => *map_atomic,
                NodeType::Array { .. } => self.list_kind() == ListKind::Atomic,
                NodeType::Untyped => false,
                _ => true,
            },
        }
    }

    /// Whether this struct declares a field of that name.
    pub(crate) fn declares(&self, name: &str) -> bool {
        match self {
            Shape::Struct(type_name) => data()
                .types
                .get(*type_name)
                .is_some_and(|t| t.fields.contains_key(name)),
            Shape::CrdRoot(node) => {
                matches!(name, "apiVersion" | "kind" | "metadata")
                    || Shape::Crd(node).declares(name)
            }
            Shape::Crd(node) => match &node.node_type {
                NodeType::Object { properties, .. } => properties.contains_key(name),
                _ => false,
            },
            _ => false,
        }
    }

    /// The shape of a field of this struct or map; `Deduced` for unknown fields.
    pub(crate) fn field(&self, name: &str) -> Shape<'a> {
        match self {
            Shape::Struct(type_name) => data()
                .types
                .get(*type_name)
                .and_then(|t| t.fields.get(name))
                .map(shape_of)
                .unwrap_or(Shape::Deduced),
            Shape::Map(element, _) => shape_of(element),
            Shape::CrdRoot(node) => match name {
                "metadata" => Shape::Struct(OBJECT_META),
                "apiVersion" | "kind" => Shape::Scalar(ScalarKind::String),
                _ => Shape::Crd(node).field(name),
            },
            Shape::Crd(node) => match &node.node_type {
                NodeType::Object {
                    properties,
                    additional,
                    ..
                } => match properties.get(name) {
                    Some(child) => Shape::Crd(child),
                    None => match additional {
                        Some(child) => Shape::Crd(child),
                        None => Shape::Deduced,
                    },
                },
                _ => Shape::Deduced,
            },
            _ => Shape::Deduced,
        }
    }

    /// The shape of this list's items.
    pub(crate) fn item(&self) -> Shape<'a> {
        match self {
            Shape::List(element, _) => shape_of(element),
            Shape::Crd(node) => match &node.node_type {
                NodeType::Array { items, .. } => Shape::Crd(items),
                _ => Shape::Deduced,
            },
            _ => Shape::Deduced,
        }
    }

    /// This list's type, `Atomic` for anything that is not a list with a schema.
    pub(crate) fn list_kind(&self) -> ListKind<'a> {
        match self {
            Shape::List(_, kind) => *kind,
            Shape::Crd(node) => match &node.node_type {
                NodeType::Array {
                    list_type, keys, ..
                } => match list_type.as_str() {
                    "set" => ListKind::Set,
                    "map" => ListKind::Map(keys),
                    _ => ListKind::Atomic,
                },
                _ => ListKind::Atomic,
            },
            _ => ListKind::Atomic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn containers() -> Shape<'static> {
        Shape::for_kind("apps/v1", "Deployment")
            .field("spec")
            .field("template")
            .field("spec")
            .field("containers")
    }

    #[test]
    fn containers_are_a_map_keyed_by_name() {
        assert_eq!(
            containers().list_kind(),
            ListKind::Map(&["name".to_string()])
        );
    }

    #[test]
    fn args_are_atomic_and_selector_is_atomic() {
        let args = containers().item().field("args");
        assert_eq!(args.list_kind(), ListKind::Atomic);
        let selector = Shape::for_kind("apps/v1", "Deployment")
            .field("spec")
            .field("selector");
        assert!(selector.is_atomic());
    }

    #[test]
    fn kinds_without_schema_are_deduced() {
        assert!(matches!(
            Shape::for_kind("monitoring.coreos.com/v1", "ServiceMonitor"),
            Shape::Deduced
        ));
    }

    #[test]
    fn scalars_know_their_json_type() {
        let spec = Shape::for_kind("apps/v1", "Deployment").field("spec");
        assert!(matches!(
            spec.field("replicas"),
            Shape::Scalar(ScalarKind::Int32)
        ));
        let limits = containers()
            .item()
            .field("resources")
            .field("limits")
            .field("cpu");
        assert!(matches!(limits, Shape::Scalar(ScalarKind::Quantity)));
    }

    #[test]
    fn every_struct_has_its_go_fields() {
        for (name, entry) in &data().types {
            if name.starts_with("io.k8s.apiextensions-apiserver.") {
                continue;
            }
            let fields = go_fields(name).unwrap_or_else(|| panic!("no Go fields for {name}"));
            for field in entry.fields.keys() {
                assert!(fields.iter().any(|f| f.name == *field), "{name}.{field}");
            }
        }
    }
}
