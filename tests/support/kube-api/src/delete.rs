//! DELETE: finalizers, propagation to dependents, and namespaces that take their contents along.
//!
//! No garbage collector or namespace controller runs, so their outcome is applied at once:
//! dependents (by `ownerReferences`) are deleted with the owner unless `propagationPolicy=Orphan`,
//! which removes the owner reference instead; a deleted namespace deletes what is in it and goes
//! away when it is empty (objects still waiting on finalizers keep it `Terminating`).

use crate::api::{Call, json};
use crate::read;
use crate::request::Options as WriteOptions;
use crate::request::Target;
use crate::resources::ResourceType;
use crate::state::Shared;
use crate::status::{self, ApiError, Subject};
use crate::store::{ObjectKey, Store};
use crate::write::timestamp;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

/// How dependents are treated.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Propagation {
    Orphan,
    Cascade,
}

/// The result of deleting one object.
enum Removal {
    /// Finalizers are pending: the object stays with a deletionTimestamp.
    Pending(Value),
    /// The object is gone.
    Gone,
}

struct Options {
    propagation: Propagation,
    dry_run: bool,
    uid: Option<String>,
    resource_version: Option<String>,
}

fn options(call: &Call) -> Result<Options, ApiError> {
    let body: Value = if call.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&call.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
    };
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
    let policy = call
        .query
        .get("propagationPolicy")
        .or_else(|| text("/propagationPolicy"));
    let propagation = match policy {
        Some("Orphan") => Propagation::Orphan,
        Some("Background" | "Foreground") | None => Propagation::Cascade,
        Some(other) => {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!(
                    "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
                ),
            ));
        }
    };
    let dry_run = call.query.dry_run()
        || body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok(Options {
        propagation,
        dry_run,
        uid: text("/preconditions/uid").map(str::to_string),
        resource_version: text("/preconditions/resourceVersion").map(str::to_string),
    })
}

fn key_of(shared: &Shared, target: &Target, name: String) -> ObjectKey {
    let namespaced = shared.resource(target.resource).namespaced;
    ObjectKey {
        resource: target.resource,
        namespace: if namespaced {
            target.namespace.clone().unwrap_or_default()
        } else {
            String::new()
        },
        name,
    }
}

fn check_preconditions(
    object: &Value,
    options: &Options,
    subject: Subject<'_>,
) -> Result<(), ApiError> {
    let actual = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    if let Some(uid) = options
        .uid
        .as_deref()
        .filter(|u| *u != actual("/metadata/uid"))
    {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                subject.resource,
                subject.name,
                actual("/metadata/uid")
            ),
        ));
    }
    if let Some(version) = options
        .resource_version
        .as_deref()
        .filter(|v| *v != actual("/metadata/resourceVersion"))
    {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": Precondition failed: ResourceVersion in precondition: {version}, ResourceVersion in object meta: {}",
                subject.resource,
                subject.name,
                actual("/metadata/resourceVersion")
            ),
        ));
    }
    Ok(())
}

/// DELETE one object: 404 when absent; the object with a deletionTimestamp while finalizers are
/// pending; a `Status` of success once it is gone.
pub fn delete(shared: &Arc<Shared>, target: &Target, call: &Call) -> Result<Response, ApiError> {
    let resource = shared.resource(target.resource);
    call.query.validate(WriteOptions::Delete)?;
    let options = options(call)?;
    let name = target.name.clone().unwrap_or_default();
    let key = key_of(shared, target, name.clone());
    let subject = Subject {
        resource: &resource.plural,
        group: &resource.group,
        name: &name,
    };
    let mut store = shared.store();
    let object = store
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(subject))?;
    check_preconditions(&object, &options, subject)?;
    let uid = object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if options.dry_run {
        return Ok(json(StatusCode::OK, status::deleted(subject, &uid)));
    }
    match remove(&mut store, shared, &key, options.propagation) {
        Removal::Pending(object) => Ok(json(StatusCode::OK, object)),
        Removal::Gone => Ok(json(StatusCode::OK, status::deleted(subject, &uid))),
    }
}

/// DELETE on a collection: deletes every selected object and returns them as a list.
pub fn delete_collection(
    shared: &Arc<Shared>,
    target: &Target,
    call: &Call,
) -> Result<Response, ApiError> {
    let resource = shared.resource(target.resource);
    call.query.validate(WriteOptions::Delete)?;
    let options = options(call)?;
    let (items, version) = read::select(shared, target, call)?;
    if !options.dry_run {
        let mut store = shared.store();
        for item in &items {
            let name = item
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let namespace = item
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let key = ObjectKey {
                resource: target.resource,
                namespace,
                name,
            };
            remove(&mut store, shared, &key, options.propagation);
        }
    }
    Ok(json(
        StatusCode::OK,
        json!({
            "kind": format!("{}List", resource.kind),
            "apiVersion": resource.api_version(),
            "metadata": {"resourceVersion": version.to_string()},
            "items": read::list_items(&resource, &items),
        }),
    ))
}

fn is_namespace(resource: &ResourceType) -> bool {
    resource.group.is_empty() && resource.kind == "Namespace"
}

fn is_crd(resource: &ResourceType) -> bool {
    resource.group == "apiextensions.k8s.io" && resource.kind == "CustomResourceDefinition"
}

fn remove(
    store: &mut Store,
    shared: &Shared,
    key: &ObjectKey,
    propagation: Propagation,
) -> Removal {
    let Some(mut object) = store.get(key).cloned() else {
        return Removal::Gone;
    };
    if is_crd(&shared.resource(key.resource)) {
        // The CRD finalizer deletes every custom resource of the type, then the CRD goes
        // (apiextensions pkg/controller/finalizer/crd_finalizer.go), here at once.
        if let Some(index) = shared.custom_index(&key.name) {
            let instances: Vec<ObjectKey> = store
                .list(index, None)
                .into_iter()
                .map(|(k, _)| k.clone())
                .collect();
            for instance in instances {
                store.remove(&instance);
            }
        }
        shared.unregister_crd(&key.name);
        store.remove(key);
        return Removal::Gone;
    }
    let has_finalizers = object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    let namespace = is_namespace(&shared.resource(key.resource));
    if has_finalizers || namespace {
        if object.pointer("/metadata/deletionTimestamp").is_none() {
            object["metadata"]["deletionTimestamp"] = json!(timestamp());
            object["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            if namespace {
                object["status"] = json!({"phase": "Terminating"});
            }
            object = Arc::unwrap_or_clone(store.put(key.clone(), object));
        }
        if !namespace {
            return Removal::Pending(object);
        }
        for inner in store.keys_in_namespace(&key.name) {
            remove(store, shared, &inner, Propagation::Cascade);
        }
        finish_namespace_if_empty(store, &key.name);
        return match store.get(key) {
            Some(pending) => Removal::Pending(pending.clone()),
            None => Removal::Gone,
        };
    }
    let Some(removed) = store.remove(key) else {
        return Removal::Gone;
    };
    let uid = removed
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    for dependent in store.dependents_of(&uid) {
        match propagation {
            Propagation::Cascade => {
                remove(store, shared, &dependent, Propagation::Cascade);
            }
            Propagation::Orphan => orphan(store, &dependent, &uid),
        }
    }
    finish_namespace_if_empty(store, &key.namespace);
    Removal::Gone
}

fn orphan(store: &mut Store, key: &ObjectKey, owner_uid: &str) {
    let Some(mut object) = store.get(key).cloned() else {
        return;
    };
    if let Some(Value::Array(refs)) = object.pointer_mut("/metadata/ownerReferences") {
        refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(owner_uid));
    }
    store.put(key.clone(), object);
}

/// Removes a terminating namespace once nothing is left in it.
pub fn finish_namespace_if_empty(store: &mut Store, namespace: &str) {
    if namespace.is_empty() || !store.keys_in_namespace(namespace).is_empty() {
        return;
    }
    let key = ObjectKey {
        resource: crate::resources::NAMESPACES,
        namespace: String::new(),
        name: namespace.to_string(),
    };
    let terminating = store
        .get(&key)
        .is_some_and(|ns| ns.pointer("/metadata/deletionTimestamp").is_some());
    if terminating {
        store.remove(&key);
    }
}
