//! The steps every write shares, in the real server's order: server-set metadata, status kept
//! apart, the Go round trip (built-in kinds) or pruning, metadata coercion and schema defaults
//! (custom resources), defaults, validation, ownership, generation, finalizers, no-op detection,
//! dry run, and storing.

use crate::decode;
use crate::defaults::{self, Context};
use crate::managed;
use crate::ownership::{self, Writer};
use crate::resources::ResourceType;
use crate::schema::Shape;
use crate::status::{ApiError, Subject};
use crate::store::{ObjectKey, Store};
use crate::validation;
use serde_json::{Value, json};
use std::sync::Arc;

/// The current time as the API writes it (RFC 3339, seconds, UTC).
pub fn timestamp() -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// How the write's ownership is recorded.
pub enum Recording<'a> {
    /// Server-side apply already wrote managedFields.
    Applied,
    /// An ordinary write by this field manager.
    Updated(&'a str),
}

/// One write to one object.
pub struct Write<'a> {
    /// The resource type.
    pub resource: &'a ResourceType,
    /// Where the object lives.
    pub key: ObjectKey,
    /// `Some("status")` for status subresource writes.
    pub subresource: Option<&'a str>,
    /// `dryRun=All`: compute the result but do not store it.
    pub dry_run: bool,
    /// How ownership is recorded.
    pub recording: Recording<'a>,
}

/// What a write did.
#[derive(Debug)]
pub enum Outcome {
    /// A new object (201).
    Created(Arc<Value>),
    /// The object changed (200).
    Updated(Arc<Value>),
    /// Nothing changed; the stored object, resourceVersion unchanged (200).
    Unchanged(Arc<Value>),
    /// The last finalizer of an object being deleted was removed, so it is gone (200).
    Removed(Arc<Value>),
}

impl Write<'_> {
    /// The subject of error messages.
    pub fn subject(&self) -> Subject<'_> {
        Subject {
            resource: &self.resource.plural,
            group: &self.resource.group,
            name: &self.key.name,
        }
    }

    /// Writes `new` over `old` (`None` when creating).
    pub fn commit(
        &self,
        store: &mut Store,
        old: Option<&Value>,
        mut new: Value,
    ) -> Result<Outcome, ApiError> {
        let kind = self.resource.kind.as_str();
        if !new.is_object() {
            return Err(ApiError::bad_request("the object must be a JSON object"));
        }
        if new.get("metadata").is_some_and(|m| !m.is_object()) {
            return Err(ApiError::bad_request("metadata must be an object"));
        }
        self.set_identity(&mut new);
        match old {
            Some(old) => self.carry_over(old, &mut new),
            None => self.prepare_create(store, &mut new)?,
        }
        let uid = new
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let cluster_ip = match old.and_then(|o| o.pointer("/spec/clusterIP")) {
            Some(ip) => ip.as_str().unwrap_or_default().to_string(),
            None if kind == "Service" => store.allocate_cluster_ip(),
            None => String::new(),
        };
        let context = Context {
            uid: &uid,
            cluster_ip: &cluster_ip,
        };
        let is_crd = self.is_crd();
        if let Some(schema) = self.resource.custom_schema() {
            store_custom(&mut new, schema);
        } else if !is_crd {
            self.round_trip(&mut new);
            defaults::apply_defaults(kind, &mut new, &context);
            self.round_trip(&mut new);
        }
        if is_crd {
            if old.is_none()
                && let Some(metadata) = new.get_mut("metadata").and_then(Value::as_object_mut)
            {
                metadata
                    .entry("finalizers")
                    .or_insert_with(|| json!(["customresourcecleanup.apiextensions.k8s.io"]));
            }
            let status = crate::crd::accepted_status(&new, &timestamp());
            new["status"] = status;
        }
        let mut causes = match self.resource.custom_schema() {
            Some(schema) => {
                let mut causes = validation::custom_metadata(&new, self.resource.namespaced);
                causes.extend(crate::crd::validate_object(&new, schema));
                causes
            }
            None => validation::validate(kind, &new),
        };
        if let Some(old) = old
            && !self.resource.is_custom
        {
            causes.extend(validation::immutable(kind, old, &new));
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(kind, self.subject(), causes));
        }
        if let Recording::Updated(manager) = self.recording {
            let writer = Writer {
                manager,
                api_version: &self.resource.api_version(),
                now: &timestamp(),
                subresource: self.subresource,
            };
            let shape = Shape::for_kind(&self.resource.api_version(), kind);
            ownership::record_update(old.unwrap_or(&Value::Null), &mut new, shape, &writer)
                .map_err(ApiError::bad_request)?;
        }
        if let Some(old) = old {
            self.bump_generation(old, &mut new);
            if is_unchanged(old, &new) {
                let stored = store
                    .get_shared(&self.key)
                    .unwrap_or_else(|| Arc::new(old.clone()));
                return Ok(Outcome::Unchanged(stored));
            }
        }
        let finished = old.is_some_and(|o| o.pointer("/metadata/deletionTimestamp").is_some())
            && new
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
        if self.dry_run {
            return Ok(match old {
                Some(old) => {
                    if let Some(version) = old.pointer("/metadata/resourceVersion") {
                        new["metadata"]["resourceVersion"] = version.clone();
                    }
                    Outcome::Updated(Arc::new(new))
                }
                None => Outcome::Created(Arc::new(new)),
            });
        }
        if finished {
            store.put(self.key.clone(), new);
            let removed = store
                .remove(&self.key)
                .unwrap_or_else(|| Arc::new(Value::Null));
            crate::delete::finish_namespace_if_empty(store, &self.key.namespace);
            return Ok(Outcome::Removed(removed));
        }
        let stored = store.put(self.key.clone(), new);
        Ok(match old {
            Some(_) => Outcome::Updated(stored),
            None => Outcome::Created(stored),
        })
    }

    fn is_crd(&self) -> bool {
        self.resource.group == "apiextensions.k8s.io"
            && self.resource.kind == "CustomResourceDefinition"
    }

    /// Stores a built-in object as its Go struct encodes it.
    fn round_trip(&self, new: &mut Value) {
        let Some(root) =
            crate::schema::Shape::for_kind(&self.resource.api_version(), &self.resource.kind)
                .struct_name()
        else {
            return;
        };
        if let Ok(decoded) = decode::round_trip(new, root) {
            *new = decoded.object;
        }
    }

    fn set_identity(&self, new: &mut Value) {
        if let Some(map) = new.as_object_mut() {
            map.insert("apiVersion".into(), json!(self.resource.api_version()));
            map.insert("kind".into(), json!(self.resource.kind));
            let metadata = map.entry("metadata").or_insert_with(|| json!({}));
            if let Some(metadata) = metadata.as_object_mut() {
                metadata.insert("name".into(), json!(self.key.name));
                if self.resource.namespaced {
                    metadata.insert("namespace".into(), json!(self.key.namespace));
                }
                metadata.remove("resourceVersion");
            }
        }
    }

    fn carry_over(&self, old: &Value, new: &mut Value) {
        for field in [
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            let pointer = format!("/metadata/{field}");
            if let (Some(value), Some(metadata)) = (
                old.pointer(&pointer),
                new.get_mut("metadata").and_then(Value::as_object_mut),
            ) {
                metadata.insert(field.into(), value.clone());
            }
        }
        if !self.resource.has_status {
            return;
        }
        let Some(map) = new.as_object_mut() else {
            return;
        };
        if self.subresource == Some("status") {
            let status = map.remove("status");
            let mut kept = old.clone();
            if let (Some(kept_map), Some(status)) = (kept.as_object_mut(), status) {
                kept_map.insert("status".into(), status);
            }
            if let (Some(kept_map), Some(Value::Object(metadata))) =
                (kept.as_object_mut(), map.remove("metadata"))
            {
                let mut meta = kept_map
                    .get("metadata")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                if let Some(fields) = metadata.get("managedFields") {
                    meta["managedFields"] = fields.clone();
                }
                kept_map.insert("metadata".into(), meta);
            }
            *new = kept;
        } else {
            match old.get("status") {
                Some(status) => map.insert("status".into(), status.clone()),
                None => map.remove("status"),
            };
        }
    }

    fn prepare_create(&self, store: &Store, new: &mut Value) -> Result<(), ApiError> {
        if self.resource.namespaced {
            check_namespace(store, &self.key, self.resource)?;
        }
        let generation = self.resource.has_generation;
        let clears_status = self.resource.has_status && self.resource.kind != "Namespace";
        if let Some(map) = new.as_object_mut() {
            if clears_status {
                map.remove("status");
            }
            if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
                metadata.insert("creationTimestamp".into(), json!(timestamp()));
                metadata.remove("deletionTimestamp");
                metadata.remove("generation");
                if generation {
                    metadata.insert("generation".into(), json!(1));
                }
            }
        }
        Ok(())
    }

    fn bump_generation(&self, old: &Value, new: &mut Value) {
        if !self.resource.has_generation {
            return;
        }
        // Any change outside metadata and status bumps the generation; for Deployments a change
        // of annotations does too, as they are copied to the replica sets
        // (pkg/registry/apps/deployment/strategy.go `PrepareForUpdate`, kubernetes v1.37).
        let annotations_changed = !self.resource.is_custom
            && self.resource.kind == "Deployment"
            && self.subresource.is_none()
            && old.pointer("/metadata/annotations") != new.pointer("/metadata/annotations");
        if annotations_changed || !equal_except(old, new, &["metadata", "status"], &[]) {
            let next = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            new["metadata"]["generation"] = json!(next);
        }
    }
}

/// Custom resources are stored as unstructured JSON: unknown fields pruned, metadata coerced
/// through ObjectMeta, schema defaults filled in, keys sorted as Go's encoding of a map sorts them.
fn store_custom(object: &mut Value, schema: &crate::crd::SchemaNode) {
    if let Some(map) = object.as_object_mut()
        && let Some(metadata) = map.get("metadata")
        && let Ok(decoded) = decode::round_trip_metadata(metadata)
    {
        map.insert("metadata".into(), decoded.object);
    }
    let mut pruned = Vec::new();
    crate::crd::prune_object(object, schema, &mut pruned);
    crate::crd::default_object(object, schema);
    sort_keys(object);
}

fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, mut child) in entries {
                sort_keys(&mut child);
                map.insert(key, child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// Writes into a namespace that does not exist are 404; into one being deleted, 403.
fn check_namespace(
    store: &Store,
    key: &ObjectKey,
    resource: &ResourceType,
) -> Result<(), ApiError> {
    let namespaces = ObjectKey {
        resource: crate::resources::NAMESPACES,
        namespace: String::new(),
        name: key.namespace.clone(),
    };
    match store.get(&namespaces) {
        None => Err(ApiError::not_found(Subject {
            resource: "namespaces",
            group: "",
            name: &key.namespace,
        })),
        Some(ns) if ns.pointer("/metadata/deletionTimestamp").is_some() => Err(
            ApiError::namespace_terminating(&key.namespace, &resource.plural, &key.name),
        ),
        Some(_) => Ok(()),
    }
}

fn is_unchanged(old: &Value, new: &Value) -> bool {
    if !equal_except(old, new, &[], &["resourceVersion", "managedFields"]) {
        return false;
    }
    match (managed::read(old), managed::read(new)) {
        (Ok(a), Ok(b)) => managed::same_ownership(&a, &b),
        _ => false,
    }
}

/// Whether two objects are equal apart from some top-level fields and some metadata fields,
/// compared in place rather than on copies.
fn equal_except(a: &Value, b: &Value, top: &[&str], metadata: &[&str]) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let kept = |map: &'_ serde_json::Map<String, Value>| {
        map.keys().filter(|k| !top.contains(&k.as_str())).count()
    };
    kept(a) == kept(b)
        && a.iter()
            .filter(|(k, _)| !top.contains(&k.as_str()))
            .all(|(k, x)| match b.get(k) {
                Some(y) if k == "metadata" => equal_except(x, y, metadata, &[]),
                Some(y) => x == y,
                None => false,
            })
}
