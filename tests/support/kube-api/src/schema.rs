//! The structure server-side apply needs from each kind's schema.
//!
//! The data in `openapi-list-types.json` is extracted from Kubernetes' published OpenAPI
//! definitions by `scripts/extract-list-types.py`: struct fields, and for lists and maps the
//! `x-kubernetes-list-type`, `x-kubernetes-list-map-keys` and `x-kubernetes-map-type` annotations.
//! Kinds without a schema (custom resources) use the shape structured-merge-diff deduces from the
//! value itself: objects merge field by field and lists are atomic.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const DATA: &str = include_str!("openapi-list-types.json");

#[derive(Debug, Deserialize)]
struct Data {
    kinds: BTreeMap<String, String>,
    types: BTreeMap<String, StructType>,
}

#[derive(Debug, Deserialize)]
struct StructType {
    fields: BTreeMap<String, Descriptor>,
    #[serde(default)]
    atomic: bool,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "t")]
pub(crate) enum Descriptor {
    #[serde(rename = "s")]
    Scalar,
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

/// A position in a schema: what shape the value at some field path has.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape<'a> {
    /// A leaf value, replaced as a whole.
    Scalar,
    /// No schema: objects merge field by field, lists are atomic.
    Deduced,
    /// A struct with known fields; `atomic` when `x-kubernetes-map-type: atomic`.
    Struct(&'a str),
    /// A list with item shape and list type.
    List(&'a Descriptor, ListKind<'a>),
    /// A map of string keys; atomic when `x-kubernetes-map-type: atomic`.
    Map(&'a Descriptor, bool),
}

fn shape_of(descriptor: &Descriptor) -> Shape<'_> {
    match descriptor {
        Descriptor::Scalar => Shape::Scalar,
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
    /// The root shape of a kind, `Deduced` when the kind has no schema.
    pub(crate) fn for_kind(api_version: &str, kind: &str) -> Shape<'static> {
        let key = format!("{api_version}/{kind}");
        match data().kinds.get(&key) {
            Some(root) => Shape::Struct(root),
            None => Shape::Deduced,
        }
    }

    /// Whether the value here is replaced as a whole rather than merged.
    pub(crate) fn is_atomic(&self) -> bool {
        match self {
            Shape::Scalar => true,
            Shape::Deduced => false,
            Shape::Struct(name) => data().types.get(*name).is_none_or(|t| t.atomic),
            Shape::List(_, kind) => *kind == ListKind::Atomic,
            Shape::Map(_, atomic) => *atomic,
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
            _ => Shape::Deduced,
        }
    }

    /// The shape of this list's items.
    pub(crate) fn item(&self) -> Shape<'a> {
        match self {
            Shape::List(element, _) => shape_of(element),
            _ => Shape::Deduced,
        }
    }

    /// This list's type, `Atomic` for anything that is not a list with a schema.
    pub(crate) fn list_kind(&self) -> ListKind<'a> {
        match self {
            Shape::List(_, kind) => *kind,
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
}
