//! GET of one object and LIST with label and field selectors.

use crate::api::{Call, json};
use crate::request::Target;
use crate::resources::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::state::Shared;
use crate::status::{ApiError, Subject};
use crate::store::ObjectKey;
use crate::{partial, table};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

/// GET one object (also through `/status`, which returns the whole object).
pub fn get(shared: &Arc<Shared>, target: &Target, call: &Call) -> Result<Response, ApiError> {
    let resource = shared.resource(target.resource);
    let name = target.name.clone().unwrap_or_default();
    let key = ObjectKey {
        resource: target.resource,
        namespace: if resource.namespaced {
            target.namespace.clone().unwrap_or_default()
        } else {
            String::new()
        },
        name: name.clone(),
    };
    let store = shared.store();
    let object = store.get_shared(&key).ok_or_else(|| {
        ApiError::not_found(Subject {
            resource: &resource.plural,
            group: &resource.group,
            name: &name,
        })
    })?;
    let version = store.resource_version();
    drop(store);
    if table::wanted(&call.accept) {
        return Ok(json(StatusCode::OK, table::render(&[object], version)));
    }
    if partial::wanted(&call.accept) {
        return Ok(json(StatusCode::OK, partial::object(&object)));
    }
    Ok(json(StatusCode::OK, object))
}

/// The objects a collection request selects, and the list's resourceVersion.
pub fn select(
    shared: &Shared,
    target: &Target,
    call: &Call,
) -> Result<(Vec<Arc<Value>>, u64), ApiError> {
    let labels = LabelSelector::parse(call.query.get("labelSelector").unwrap_or_default())?;
    let fields = FieldSelector::parse(call.query.get("fieldSelector").unwrap_or_default())?;
    let store = shared.store();
    let items = store
        .list(target.resource, target.namespace.as_deref())
        .into_iter()
        .map(|(_, object)| object)
        .filter(|object| labels.matches(object) && fields.matches(object))
        .cloned()
        .collect();
    Ok((items, store.resource_version()))
}

/// The items of a LIST response. Items of built-in kinds carry no `apiVersion` and `kind`: the
/// server encodes a typed list whose items' TypeMeta is empty; custom resources are unstructured
/// and keep theirs.
pub fn list_items(resource: &ResourceType, items: &[Arc<Value>]) -> Vec<Value> {
    items
        .iter()
        .map(|item| {
            let mut item = Value::clone(item);
            if !resource.is_custom
                && let Some(map) = item.as_object_mut()
            {
                map.remove("apiVersion");
                map.remove("kind");
            }
            item
        })
        .collect()
}

/// LIST: every matching object, with the store's current resourceVersion.
pub fn list(shared: &Arc<Shared>, target: &Target, call: &Call) -> Result<Response, ApiError> {
    let resource = shared.resource(target.resource);
    let (items, version) = select(shared, target, call)?;
    if table::wanted(&call.accept) {
        return Ok(json(StatusCode::OK, table::render(&items, version)));
    }
    if partial::wanted(&call.accept) {
        return Ok(json(StatusCode::OK, partial::list(&items, version)));
    }
    Ok(json(
        StatusCode::OK,
        json!({
            "kind": format!("{}List", resource.kind),
            "apiVersion": resource.api_version(),
            "metadata": {"resourceVersion": version.to_string()},
            "items": list_items(&resource, &items),
        }),
    ))
}
