//! Ownership for ordinary writes (create, update, patch): the writer takes every field it changed,
//! other managers lose those fields, and removed fields leave every set. Never conflicts.

use crate::fieldpath::{self, PathElement};
use crate::fieldset::FieldSet;
use crate::managed::{self, Entry, Operation};
use crate::schema::Shape;
use serde_json::Value;

/// Who writes and how the write is recorded.
pub struct Writer<'a> {
    /// The field manager.
    pub manager: &'a str,
    /// The API version of the request.
    pub api_version: &'a str,
    /// The time to record.
    pub now: &'a str,
    /// `Some("status")` for status subresource writes.
    pub subresource: Option<&'a str>,
}

/// Records an update from `old` (Null when creating) to `new` in `new`'s managedFields.
pub fn record_update(
    old: &Value,
    new: &mut Value,
    shape: Shape<'_>,
    writer: &Writer<'_>,
) -> Result<(), String> {
    let mut entries = managed::read(old)?;
    let for_status = writer.subresource == Some("status");
    let before = FieldSet::from_object(old, shape, for_status);
    let after = FieldSet::from_object(new, shape, for_status);
    let changed = FieldSet(
        after
            .0
            .iter()
            .filter(|path| changed(old, new, path))
            .cloned()
            .collect(),
    );
    let gone = FieldSet(
        before
            .0
            .iter()
            .filter(|path| fieldpath::get(new, path).is_none())
            .cloned()
            .collect(),
    );
    for entry in &mut entries {
        entry.fields = entry.fields.difference(&changed).difference(&gone);
    }
    let position = entries
        .iter()
        .position(|e| e.is(writer.manager, Operation::Update, writer.subresource));
    match position {
        Some(index) => {
            let entry = &mut entries[index];
            if !changed.is_empty() {
                entry.time = writer.now.to_string();
                entry.api_version = writer.api_version.to_string();
            }
            entry.fields = entry.fields.union(&changed);
        }
        None => entries.push(Entry {
            manager: writer.manager.to_string(),
            operation: Operation::Update,
            api_version: writer.api_version.to_string(),
            time: writer.now.to_string(),
            fields: changed,
            subresource: writer.subresource.map(str::to_string),
        }),
    }
    managed::write(new, &entries);
    Ok(())
}

fn changed(old: &Value, new: &Value, path: &[PathElement]) -> bool {
    let before = fieldpath::get(old, path);
    let after = fieldpath::get(new, path);
    match path.last() {
        Some(PathElement::Key(_) | PathElement::Value(_)) => before.is_none(),
        _ => before != after,
    }
}
