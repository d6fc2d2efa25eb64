//! POST, PUT and PATCH (including server-side apply) on one object.

use crate::api::{Call, json};
use crate::apply::{self, Conflict};
use crate::control;
use crate::decode;
use crate::fieldpath::Display;
use crate::patch::{PatchType, patch as apply_patch};
use crate::request::{FieldValidation, Options, Target};
use crate::resources::ResourceType;
use crate::schema::Shape;
use crate::state::Shared;
use crate::status::{ApiError, Cause};
use crate::store::{ObjectKey, Store};
use crate::typed;
use crate::write::{Outcome, Recording, Write, timestamp};
use axum::http::{HeaderValue, StatusCode};
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
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}"))),
    }
}

fn key_for(resource: &ResourceType, target: &Target, name: &str) -> ObjectKey {
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

/// Adds a `Warning: 299 - "..."` header per warning (apiserver warning recorder).
fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for warning in warnings {
        let text = format!("299 - {}", Value::String(warning.clone()));
        if let Ok(value) = HeaderValue::from_str(&text) {
            response.headers_mut().append("warning", value);
        }
    }
    response
}

fn respond(
    outcome: Outcome,
    shared: &Arc<Shared>,
    resource: &ResourceType,
    warnings: &[String],
) -> Response {
    let response = match outcome {
        Outcome::Created(object) => {
            control::after_write(shared, resource, &object);
            json(StatusCode::CREATED, object)
        }
        Outcome::Updated(object) => {
            control::after_write(shared, resource, &object);
            json(StatusCode::OK, object)
        }
        Outcome::Unchanged(object) | Outcome::Removed(object) => json(StatusCode::OK, object),
    };
    with_warnings(response, warnings)
}

/// How a write came in, which decides how a body that does not decode is reported.
#[derive(Clone, Copy, PartialEq)]
enum Verb {
    /// POST or PUT: 400, `<Kind> in version "<v>" cannot be handled as a <Kind>: ...` (rest.go
    /// `transformDecodeError`).
    CreateOrUpdate,
    /// A merge, JSON or strategic patch: 422 on `patch` (patch.go `applyPatchToCurrentObject`).
    Patch,
}

/// Decodes a body as the server would: type errors are refused, unknown fields are dropped,
/// warned about or refused by `fieldValidation`. Returns the warnings to send.
fn decode_body(
    resource: &ResourceType,
    call: &Call,
    object: &Value,
    verb: Verb,
) -> Result<Vec<String>, ApiError> {
    let (error, unknown) = match resource.custom_schema() {
        Some(schema) => {
            let mut unknown = Vec::new();
            let mut error = None;
            if let Some(metadata) = object.get("metadata") {
                match decode::round_trip_metadata(metadata) {
                    Ok(decoded) => unknown.extend(decoded.unknown),
                    Err(e) => error = Some(e),
                }
            }
            let mut pruned = object.clone();
            crate::crd::prune_object(&mut pruned, schema, &mut unknown);
            (error, unknown)
        }
        None => match Shape::for_kind(&resource.api_version(), &resource.kind).struct_name() {
            Some(root) if resource.kind != "CustomResourceDefinition" => {
                match decode::round_trip(object, root) {
                    Ok(decoded) => (None, decoded.unknown),
                    Err(e) => (Some(e), Vec::new()),
                }
            }
            _ => (None, Vec::new()),
        },
    };
    let strict: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field \"{p}\""))
        .collect();
    let refuse = |detail: String| match verb {
        Verb::CreateOrUpdate => ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {detail}",
            kind = resource.kind,
            version = resource.version
        )),
        Verb::Patch => ApiError::invalid_patch(&object.to_string(), &detail),
    };
    if let Some(error) = error {
        return Err(refuse(error));
    }
    match call.query.field_validation() {
        FieldValidation::Strict if !strict.is_empty() => Err(refuse(format!(
            "strict decoding error: {}",
            strict.join(", ")
        ))),
        FieldValidation::Warn => Ok(strict),
        _ => Ok(Vec::new()),
    }
}

/// POST: creates an object; 409 AlreadyExists when the name is taken.
pub fn create(shared: &Arc<Shared>, target: &Target, call: &Call) -> Result<Response, ApiError> {
    let resource = shared.resource(target.resource);
    call.query.validate(Options::Create)?;
    namespace_required(&resource, target)?;
    let mut object = parse_json(&call.body)?;
    let warnings = decode_body(&resource, call, &object, Verb::CreateOrUpdate)?;
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
    check_identity(&resource, target, &name, &object)?;
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    let manager = call.manager.as_deref().unwrap_or(&call.default_manager);
    let write = Write {
        resource: &resource,
        key: key_for(&resource, target, &name),
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
    Ok(respond(outcome, shared, &resource, &warnings))
}

/// Installs (creates or replaces) a CustomResourceDefinition, as the test handle and the initial
/// CRDs of [`crate::Options`] do; the type it defines is served at once.
pub fn install_crd(shared: &Shared, crd: Value) -> Result<Value, ApiError> {
    let index = shared
        .resource_index("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        .ok_or_else(|| ApiError::bad_request("CustomResourceDefinitions are not served"))?;
    let resource = shared.resource(index);
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let write = Write {
        resource: &resource,
        key: ObjectKey {
            resource: index,
            namespace: String::new(),
            name,
        },
        subresource: None,
        dry_run: false,
        recording: Recording::Updated("kube-api-handle"),
    };
    let mut store = shared.store();
    let live = store.get(&write.key).cloned();
    let mut crd = crd;
    if let Some(metadata) = crd.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("resourceVersion");
        metadata.remove("managedFields");
    }
    let outcome = write.commit(&mut store, live.as_ref(), crd)?;
    drop(store);
    let stored = match outcome {
        Outcome::Created(v) | Outcome::Updated(v) | Outcome::Unchanged(v) | Outcome::Removed(v) => {
            v
        }
    };
    shared.register_crd(&stored);
    Ok(Arc::unwrap_or_clone(stored))
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
    let resource = shared.resource(target.resource);
    call.query.validate(Options::Update)?;
    let name = target.name.clone().unwrap_or_default();
    let object = parse_json(&call.body)?;
    let warnings = decode_body(&resource, call, &object, Verb::CreateOrUpdate)?;
    check_identity(&resource, target, &name, &object)?;
    let manager = call.manager.as_deref().unwrap_or(&call.default_manager);
    let write = Write {
        resource: &resource,
        key: key_for(&resource, target, &name),
        subresource: target.subresource.as_deref(),
        dry_run: call.query.dry_run(),
        recording: Recording::Updated(manager),
    };
    let mut store = shared.store();
    let live = existing(&store, &write)?;
    check_resource_version(&object, &live, &write)?;
    let outcome = write.commit(&mut store, Some(&live), object)?;
    drop(store);
    Ok(respond(outcome, shared, &resource, &warnings))
}

/// PATCH: merge, JSON and strategic patches, and server-side apply.
pub fn patch(shared: &Arc<Shared>, target: &Target, call: &Call) -> Result<Response, ApiError> {
    let kind = PatchType::from_content_type(&call.content_type)?;
    call.query
        .validate(Options::Patch(kind == PatchType::Apply))?;
    if kind == PatchType::Apply {
        return server_side_apply(shared, target, call);
    }
    let resource = shared.resource(target.resource);
    let name = target.name.clone().unwrap_or_default();
    let shape = Shape::for_resource(&resource);
    let manager = call.manager.as_deref().unwrap_or(&call.default_manager);
    let write = Write {
        resource: &resource,
        key: key_for(&resource, target, &name),
        subresource: target.subresource.as_deref(),
        dry_run: call.query.dry_run(),
        recording: Recording::Updated(manager),
    };
    let mut store = shared.store();
    let live = existing(&store, &write)?;
    let patched = apply_patch(&live, &call.body, kind, shape)?;
    let warnings = decode_body(&resource, call, &patched, Verb::Patch)?;
    check_identity(&resource, target, &name, &patched)?;
    check_resource_version(&patched, &live, &write)?;
    let outcome = write.commit(&mut store, Some(&live), patched)?;
    drop(store);
    Ok(respond(outcome, shared, &resource, &warnings))
}

/// `schema.GroupVersionKind.String()`, e.g. `apps/v1, Kind=Deployment` or `/v1, Kind=ConfigMap`.
fn gvk(resource: &ResourceType) -> String {
    format!(
        "{}/{}, Kind={}",
        resource.group, resource.version, resource.kind
    )
}

fn server_side_apply(
    shared: &Arc<Shared>,
    target: &Target,
    call: &Call,
) -> Result<Response, ApiError> {
    let resource = shared.resource(target.resource);
    namespace_required(&resource, target)?;
    let name = target.name.clone().unwrap_or_default();
    let manager = call.manager.clone().unwrap_or_default();
    let mut config = parse_apply_body(&call.body)?;
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "the apply configuration must be an object",
        ));
    }
    check_identity(&resource, target, &name, &config)?;
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
    let shape = Shape::for_resource(&resource);
    let object_id = format!(
        "{}/{}; {}",
        config
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        name,
        gvk(&resource)
    );
    let errors = typed::check(&config, shape);
    if !errors.is_empty() {
        return Err(ApiError::internal(format!(
            "failed to create typed patch object ({object_id}): {}",
            typed::describe(&errors)
        )));
    }
    let subresource = target.subresource.as_deref();
    restrict_to_subresource(&mut config, &resource, subresource);
    let write = Write {
        resource: &resource,
        key: key_for(&resource, target, &name),
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
    let merged = apply::apply(&base, &config, shape, &request).map_err(ApiError::bad_request)?;
    let merged = merged.map_err(|conflicts| conflict_error(&write, conflicts))?;
    if resource.custom_schema().is_none()
        && let Some(root) = Shape::for_kind(&api_version, &resource.kind).struct_name()
        && resource.kind != "CustomResourceDefinition"
        && let Err(error) = decode::round_trip(&merged, root)
    {
        return Err(ApiError::internal(format!(
            "failed to convert new object ({object_id}) to proper version ({api_version}): {error}"
        )));
    }
    let outcome = write.commit(&mut store, live.as_ref(), merged)?;
    drop(store);
    Ok(respond(outcome, shared, &resource, &[]))
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
