//! `meta.k8s.io/v1` Table responses, which `kubectl get` asks for: a name and an age per row.

use serde_json::{Value, json};
use std::sync::Arc;

/// Whether the Accept header asks for a Table.
pub fn wanted(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

fn age(created: &str) -> String {
    let format = time::format_description::well_known::Rfc3339;
    let Ok(then) = time::OffsetDateTime::parse(created, &format) else {
        return "<unknown>".into();
    };
    let seconds = (time::OffsetDateTime::now_utc() - then)
        .whole_seconds()
        .max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// A Table with one row per object.
pub fn render(objects: &[Arc<Value>], resource_version: u64) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let metadata = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
            let name = metadata.get("name").cloned().unwrap_or(Value::Null);
            let created = metadata
                .get("creationTimestamp")
                .and_then(Value::as_str)
                .unwrap_or_default();
            json!({
                "cells": [name, age(created)],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": metadata,
                },
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0},
            {"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0},
        ],
        "rows": rows,
    })
}
