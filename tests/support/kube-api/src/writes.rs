//! POST, PUT and PATCH (including server-side apply) on one object.

use crate::api::{Call, json};
use crate::apply::{self, Conflict};
use crate::control;
use crate::fieldpath::Display;
use crate::patch::{PatchType, patch as apply_patch};
use crate::request::Target;
use crate::resources::ResourceType;
use crate::schema::Shape;
use crate::state::Shared;
use crate::status::{ApiError, Cause};
use crate::store::{ObjectKey, Store};
use crate::write::{Outcome, Recording, Write, timestamp};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding the request body: {e}")))
}

/// Apply bodies are YAML; JSON (what kube-rs sends) is valid YAML and takes the faster parser.
fn parse_apply_body(body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_slice(body) {
        Ok(value) => Ok(value),
        Err(_) => serde_yaml_ng::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}"))),
    }
}

fn key_for(shared: &Shared, target: &Target, name: &str) -> ObjectKey {
    let resource = &shared.resources[target.resource];
    ObjectKey {
        resource: target.resource,
        namespace: if resource.namespaced {
            target.namespace.clone().unwrap_or_default()
        } else {
            String::new()
        },
        name: name.to_string(),
    }
}

fn namespace_required(resource: &ResourceType, target: &Target) -> Result<(), ApiError> {
    if resource.namespaced && target.namespace.is_none() {
        return Err(ApiError::no_route(&resource.plural));
    }
    Ok(())
}

/// Checks the body's apiVersion, kind, name and namespace against the URL, as the real server does.
fn check_identity(
    resource: &ResourceType,
    target: &Target,
    name: &str,
    object: &Value,
) -> Result<(), ApiError> {
    let field = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
    if let Some(api_version) = field("/apiVersion").filter(|v| *v != resource.api_version()) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            resource.api_version()
        )));
    }
    if let Some(kind) = field("/kind").filter(|k| *k != resource.kind) {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            resource.kind
        )));
    }
    if let Some(body_name) = field("/metadata/name").filter(|n| *n != name) {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if let (Some(body_ns), Some(url_ns)) = (field("/metadata/namespace"), &target.namespace)
        && body_ns != url_ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

fn respond(outcome: Outcome, shared: &Arc<Shared>, resource: &ResourceType) -> Response {
    match outcome {
        Outcome::Created(object) => {
            control::after_write(shared, resource, &object);
            json(StatusCode::CREATED, object)
        }
        Outcome::Updated(object) => {
            control::after_write(shared, resource, &object);
            json(StatusCode::OK, object)
        }
        Outcome::Unchanged(object) | Outcome::Removed(object) => json(StatusCode::OK, object),
    }
}

/// POST: creates an object; 409 AlreadyExists when the name is taken.
pub fn create(shared: &Arc<Shared>, target: &Target, call: &Call) -> Result<Response, ApiError> {
    let resource = &shared.resources[target.resource];
    namespace_required(resource, target)?;
    let mut object = parse_json(&call.body)?;
    let name = match object.pointer("/metadata/name").and_then(Value::as_str) {
        Some(name) => name.to_string(),
        None => match object
            .pointer("/metadata/generateName")
            .and_then(Value::as_str)
        {
            Some(prefix) => {
                let suffix: String = uuid::Uuid::new_v4().simple().to_string()[..5].to_string();
                format!("{prefix}{suffix}")
            }
            None => String::new(),
        },
    };
    check_identity(resource, target, &name, &object)?;
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    let manager = call.manager.as_deref().unwrap_or(&call.default_manager);
    let write = Write {
        resource,
        key: key_for(shared, target, &name),
        subresource: None,
        dry_run: call.query.dry_run(),
        recording: Recording::Updated(manager),
    };
    let mut store = shared.store();
    if store.get(&write.key).is_some() {
        return Err(ApiError::already_exists(write.subject()));
    }
    let outcome = write.commit(&mut store, None, object)?;
    drop(store);
    Ok(respond(outcome, shared, resource))
}

/// The stored object a PUT or PATCH changes, 404 when absent.
fn existing(store: &Store, write: &Write<'_>) -> Result<Value, ApiError> {
    store
        .get(&write.key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(write.subject()))
}

fn check_resource_version(object: &Value, live: &Value, write: &Write<'_>) -> Result<(), ApiError> {
    let wanted = object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty());
    let current = live
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str);
    match wanted {
        Some(wanted) if Some(wanted) != current => Err(ApiError::stale(write.subject())),
        _ => Ok(()),
    }
}

/// PUT: replaces an object; 409 Conflict when the body's resourceVersion is stale.
pub fn replace(shared: &Arc<Shared>, target: &Target, call: &Call) -> Result<Response, ApiError> {
    let resource = &shared.resources[target.resource];
    let name = target.name.clone().unwrap_or_default();
    let object = parse_json(&call.body)?;
    check_identity(resource, target, &name, &object)?;
    let manager = call.manager.as_deref().unwrap_or(&call.default_manager);
    let write = Write {
        resource,
        key: key_for(shared, target, &name),
        subresource: target.subresource.as_deref(),
        dry_run: call.query.dry_run(),
        recording: Recording::Updated(manager),
    };
    let mut store = shared.store();
    let live = existing(&store, &write)?;
    check_resource_version(&object, &live, &write)?;
    let outcome = write.commit(&mut store, Some(&live), object)?;
    drop(store);
    Ok(respond(outcome, shared, resource))
}

/// PATCH: merge, JSON and strategic patches, and server-side apply.
pub fn patch(shared: &Arc<Shared>, target: &Target, call: &Call) -> Result<Response, ApiError> {
    let kind = PatchType::from_content_type(&call.content_type)?;
    if kind == PatchType::Apply {
        return server_side_apply(shared, target, call);
    }
    let resource = &shared.resources[target.resource];
    let name = target.name.clone().unwrap_or_default();
    let shape = Shape::for_kind(&resource.api_version(), &resource.kind);
    let manager = call.manager.as_deref().unwrap_or(&call.default_manager);
    let write = Write {
        resource,
        key: key_for(shared, target, &name),
        subresource: target.subresource.as_deref(),
        dry_run: call.query.dry_run(),
        recording: Recording::Updated(manager),
    };
    let mut store = shared.store();
    let live = existing(&store, &write)?;
    let patched = apply_patch(&live, &call.body, kind, shape)?;
    check_identity(resource, target, &name, &patched)?;
    check_resource_version(&patched, &live, &write)?;
    let outcome = write.commit(&mut store, Some(&live), patched)?;
    drop(store);
    Ok(respond(outcome, shared, resource))
}

fn server_side_apply(
    shared: &Arc<Shared>,
    target: &Target,
    call: &Call,
) -> Result<Response, ApiError> {
    let resource = &shared.resources[target.resource];
    namespace_required(resource, target)?;
    let name = target.name.clone().unwrap_or_default();
    let manager = call.manager.clone().ok_or_else(|| {
        ApiError::bad_request(
            "PATCH requests with application/apply-patch+yaml require the fieldManager parameter",
        )
    })?;
    let mut config = parse_apply_body(&call.body)?;
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "the apply configuration must be an object",
        ));
    }
    check_identity(resource, target, &name, &config)?;
    for field in ["apiVersion", "kind"] {
        if config.get(field).and_then(Value::as_str).is_none() {
            return Err(ApiError::bad_request(format!(
                "{field} must be set in an apply configuration"
            )));
        }
    }
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let subresource = target.subresource.as_deref();
    restrict_to_subresource(&mut config, resource, subresource);
    let write = Write {
        resource,
        key: key_for(shared, target, &name),
        subresource,
        dry_run: call.query.dry_run(),
        recording: Recording::Applied,
    };
    let mut store = shared.store();
    let live = store.get(&write.key).cloned();
    if let Some(live) = &live {
        check_resource_version(&config, live, &write)?;
    } else if subresource.is_some() {
        return Err(ApiError::not_found(write.subject()));
    }
    if let Some(metadata) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("resourceVersion");
    }
    let base = live.clone().unwrap_or_else(|| {
        json!({"apiVersion": resource.api_version(), "kind": resource.kind, "metadata": {"name": name}})
    });
    let api_version = resource.api_version();
    let request = apply::Request {
        manager: &manager,
        force: call.query.flag("force"),
        api_version: &api_version,
        now: &timestamp(),
        subresource,
    };
    let shape = Shape::for_kind(&api_version, &resource.kind);
    let merged = apply::apply(&base, &config, shape, &request).map_err(ApiError::bad_request)?;
    let merged = merged.map_err(|conflicts| conflict_error(&write, conflicts))?;
    let outcome = write.commit(&mut store, live.as_ref(), merged)?;
    drop(store);
    Ok(respond(outcome, shared, resource))
}

/// The main resource ignores `status` when a status subresource exists; the status subresource
/// takes only `status`.
fn restrict_to_subresource(config: &mut Value, resource: &ResourceType, subresource: Option<&str>) {
    let Some(map) = config.as_object_mut() else {
        return;
    };
    if subresource == Some("status") {
        map.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"));
        if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.retain(|k, _| matches!(k.as_str(), "name" | "namespace" | "resourceVersion"));
        }
    } else if resource.has_status {
        map.remove("status");
    }
}

/// 409 Conflict naming each contested field and its manager, as the real server words it.
fn conflict_error(write: &Write<'_>, conflicts: Vec<Conflict>) -> ApiError {
    let mut by_manager: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let causes: Vec<Cause> = conflicts
        .iter()
        .map(|c| {
            let field = Display(&c.path).to_string();
            by_manager
                .entry((c.manager.clone(), c.api_version.clone()))
                .or_default()
                .push(field.clone());
            Cause {
                kind: "FieldManagerConflict".into(),
                message: format!("conflict with \"{}\" using {}", c.manager, c.api_version),
                field,
            }
        })
        .collect();
    let parts: Vec<String> = by_manager
        .iter()
        .map(|((manager, api_version), fields)| match fields.as_slice() {
            [one] => format!("conflict with \"{manager}\" using {api_version}: {one}"),
            many => format!(
                "conflicts with \"{manager}\" using {api_version}:\n- {}",
                many.join("\n- ")
            ),
        })
        .collect();
    let count = conflicts.len();
    let noun = if count == 1 { "conflict" } else { "conflicts" };
    let message = format!("Apply failed with {count} {noun}: {}", parts.join("\n"));
    ApiError::apply_conflict(write.subject(), message, causes)
}
