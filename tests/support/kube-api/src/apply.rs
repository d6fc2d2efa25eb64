//! Server-side apply: merge, conflicts, force, and removal of fields a manager stopped sending.

use crate::fieldpath::{self, Path, PathElement};
use crate::fieldset::FieldSet;
use crate::managed::{self, Entry, Operation};
use crate::merge::merge;
use crate::schema::Shape;
use serde_json::{Map, Value};

/// What an apply is asked to do.
pub struct Request<'a> {
    /// The field manager (`fieldManager`).
    pub manager: &'a str,
    /// `force=true`: take ownership of conflicting fields.
    pub force: bool,
    /// The API version the configuration is written in.
    pub api_version: &'a str,
    /// The time to record on the manager's entry.
    pub now: &'a str,
    /// `Some("status")` when applying to the status subresource.
    pub subresource: Option<&'a str>,
}

/// A field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The other manager.
    pub manager: String,
    /// The API version that manager wrote in.
    pub api_version: String,
    /// The contested field.
    pub path: Path,
}

/// Applies `config` onto `live` (`None` when the object does not exist yet) and returns the new
/// object with its managedFields, or the conflicts when `force` is not set.
pub fn apply(
    live: &Value,
    config: &Value,
    shape: Shape<'_>,
    request: &Request<'_>,
) -> Result<Result<Value, Vec<Conflict>>, String> {
    let mut entries = managed::read(live)?;
    let for_status = request.subresource == Some("status");
    let applied = FieldSet::from_object(config, shape, for_status);
    let merged = merge(live, config, shape);

    let mine = |e: &Entry| e.is(request.manager, Operation::Apply, request.subresource);
    let mut conflicts = Vec::new();
    for entry in entries.iter_mut().filter(|e| !mine(e)) {
        let contested: Vec<Path> = applied
            .intersection(&entry.fields)
            .0
            .into_iter()
            .filter(|path| differs(live, &merged, path))
            .collect();
        if request.force {
            for path in &contested {
                entry.fields.0.remove(path);
            }
        } else {
            conflicts.extend(contested.into_iter().map(|path| Conflict {
                manager: entry.manager.clone(),
                api_version: entry.api_version.clone(),
                path,
            }));
        }
    }
    if !conflicts.is_empty() {
        return Ok(Err(conflicts));
    }

    let previous = entries
        .iter()
        .find(|e| mine(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others = entries
        .iter()
        .filter(|e| !mine(e))
        .fold(FieldSet::default(), |all, e| all.union(&e.fields));
    let mut result = merged;
    let dropped = previous.difference(&applied).difference(&others);
    for path in &dropped.0 {
        if !others.has_prefix(path) && !is_key_field_of_kept_item(path, &others) {
            fieldpath::remove(&mut result, path);
        }
    }
    prune_empty_parents(&mut result, &dropped, &others);

    let entry = Entry {
        manager: request.manager.to_string(),
        operation: Operation::Apply,
        api_version: request.api_version.to_string(),
        time: request.now.to_string(),
        fields: applied,
        subresource: request.subresource.map(str::to_string),
    };
    match entries.iter_mut().find(|e| mine(e)) {
        Some(existing) => *existing = entry,
        None => entries.push(entry),
    }
    managed::write(&mut result, &entries);
    Ok(Ok(result))
}

/// Whether applying changes the value at `path`. Items of lists compare by presence only, since
/// their fields are compared one by one.
fn differs(live: &Value, merged: &Value, path: &[PathElement]) -> bool {
    let before = fieldpath::get(live, path);
    let after = fieldpath::get(merged, path);
    match path.last() {
        Some(PathElement::Key(_) | PathElement::Value(_)) => before.is_some() != after.is_some(),
        _ => before != after,
    }
}

/// A key field (e.g. `name` of a container) stays while another manager keeps its item.
fn is_key_field_of_kept_item(path: &[PathElement], others: &FieldSet) -> bool {
    let Some((PathElement::Field(name), parent)) = path.split_last() else {
        return false;
    };
    let Some(PathElement::Key(key)) = parent.last() else {
        return false;
    };
    let key_fields: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
    key_fields.contains_key(name) && others.has_prefix(parent)
}

/// Removes maps that became empty because their last dropped field went, as the real server does
/// for fields (e.g. `metadata.labels`) a manager no longer sets.
fn prune_empty_parents(object: &mut Value, dropped: &FieldSet, others: &FieldSet) {
    for path in dropped.0.iter().rev() {
        let mut parent: &[PathElement] = path;
        while let Some((_, rest)) = parent.split_last() {
            parent = rest;
            if parent.len() < 2 || others.0.contains(parent) {
                break;
            }
            let empty =
                matches!(fieldpath::get(object, parent), Some(Value::Object(m)) if m.is_empty());
            if !empty {
                break;
            }
            fieldpath::remove(object, parent);
        }
    }
}
