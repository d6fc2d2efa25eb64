//! JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.
//!
//! Strategic merge patch is modelled as a merge patch whose lists merge by the keys the schema
//! declares for them (the same keys the real patch-merge-key annotations name for the kinds served
//! here); `$patch` and `$retainKeys` directives are not supported.

use crate::fieldpath::item_key;
use crate::schema::{ListKind, Shape};
use crate::status::ApiError;
use serde_json::Value;

/// The patch formats a PATCH request can carry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PatchType {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml`.
    Apply,
}

impl PatchType {
    /// The patch type a Content-Type names.
    pub fn from_content_type(content_type: &str) -> Result<Self, ApiError> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        match media {
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(PatchType::Apply),
            other => Err(ApiError::unsupported_media_type(other)),
        }
    }
}

/// Applies a merge, JSON or strategic patch to `target`.
pub fn patch(
    target: &Value,
    body: &[u8],
    kind: PatchType,
    shape: Shape<'_>,
) -> Result<Value, ApiError> {
    let parse_error =
        |e: serde_json::Error| ApiError::bad_request(format!("error decoding patch: {e}"));
    match kind {
        PatchType::Json => {
            let operations: json_patch::Patch =
                serde_json::from_slice(body).map_err(parse_error)?;
            let mut result = target.clone();
            json_patch::patch(&mut result, &operations).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
            Ok(result)
        }
        PatchType::Merge => {
            let patch: Value = serde_json::from_slice(body).map_err(parse_error)?;
            let mut result = target.clone();
            json_patch::merge(&mut result, &patch);
            Ok(result)
        }
        PatchType::Strategic => {
            let patch: Value = serde_json::from_slice(body).map_err(parse_error)?;
            Ok(strategic(target, &patch, shape))
        }
        PatchType::Apply => Err(ApiError::bad_request(
            "apply patches are handled by server-side apply",
        )),
    }
}

fn strategic(target: &Value, patch: &Value, shape: Shape<'_>) -> Value {
    match (target, patch) {
        (Value::Object(live), Value::Object(changes)) => {
            let mut out = live.clone();
            for (name, change) in changes {
                if change.is_null() {
                    out.remove(name);
                    continue;
                }
                let merged = match live.get(name) {
                    Some(existing) => strategic(existing, change, shape.field(name)),
                    None => change.clone(),
                };
                out.insert(name.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(live), Value::Array(changes)) => match shape.list_kind() {
            ListKind::Map(keys) => {
                let mut out = live.clone();
                for change in changes {
                    let key = item_key(change, keys);
                    match out
                        .iter()
                        .position(|i| key.is_some() && item_key(i, keys) == key)
                    {
                        Some(index) => out[index] = strategic(&out[index], change, shape.item()),
                        None => out.push(change.clone()),
                    }
                }
                Value::Array(out)
            }
            _ => patch.clone(),
        },
        _ => patch.clone(),
    }
}
