//! Merging an applied configuration into the live object, as the schema says.
//!
//! Structs and granular maps merge field by field; associative lists merge item by item by their
//! key fields (live items keep their order, new items are appended); sets merge by value; atomic
//! values and scalars are replaced.

use crate::fieldpath::{canonical, item_key};
use crate::schema::{ListKind, Shape};
use serde_json::Value;

/// `live` with `config` merged into it.
pub fn merge(live: &Value, config: &Value, shape: Shape<'_>) -> Value {
    match (live, config) {
        (Value::Object(live_map), Value::Object(config_map)) if !shape.is_atomic() => {
            let mut out = live_map.clone();
            for (name, value) in config_map {
                let merged = match live_map.get(name) {
                    Some(existing) => merge(existing, value, shape.field(name)),
                    None => value.clone(),
                };
                out.insert(name.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(live_items), Value::Array(config_items)) => match shape.list_kind() {
            ListKind::Atomic => config.clone(),
            ListKind::Set => {
                let mut out = live_items.clone();
                for item in config_items {
                    if !out
                        .iter()
                        .any(|existing| canonical(existing) == canonical(item))
                    {
                        out.push(item.clone());
                    }
                }
                Value::Array(out)
            }
            ListKind::Map(keys) => {
                let mut out = live_items.clone();
                for item in config_items {
                    let key = item_key(item, keys);
                    let position = out
                        .iter()
                        .position(|existing| key.is_some() && item_key(existing, keys) == key);
                    match position {
                        Some(index) => out[index] = merge(&out[index], item, shape.item()),
                        None => out.push(item.clone()),
                    }
                }
                Value::Array(out)
            }
        },
        _ => config.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod_spec() -> Shape<'static> {
        Shape::for_kind("apps/v1", "Deployment")
            .field("spec")
            .field("template")
            .field("spec")
    }

    #[test]
    fn containers_merge_by_name_and_args_replace() {
        let live =
            json!({"containers": [{"name": "a", "image": "x", "args": ["1", "2"]}, {"name": "b"}]});
        let config = json!({"containers": [{"name": "a", "args": ["3"]}, {"name": "c"}]});
        let merged = merge(&live, &config, pod_spec());
        assert_eq!(
            merged,
            json!({"containers": [{"name": "a", "image": "x", "args": ["3"]}, {"name": "b"}, {"name": "c"}]})
        );
    }
}
