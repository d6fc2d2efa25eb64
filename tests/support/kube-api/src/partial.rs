//! `meta.k8s.io/v1` PartialObjectMetadata responses, for clients that ask for metadata only
//! (kube-rs `get_metadata`, `list_metadata`).

use serde_json::{Value, json};
use std::sync::Arc;

/// Whether the Accept header asks for metadata only.
pub fn wanted(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=PartialObjectMetadata"))
}

/// One object's metadata.
pub fn object(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A list of objects' metadata.
pub fn list(objects: &[Arc<Value>], resource_version: u64) -> Value {
    let items: Vec<Value> = objects.iter().map(|o| object(o)).collect();
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "items": items,
    })
}
