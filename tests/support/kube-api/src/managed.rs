//! `metadata.managedFields`: who owns which fields, read from and written back to an object.

use crate::fieldset::FieldSet;
use serde_json::{Value, json};

/// Whether an entry records applies or ordinary updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Create, update or patch.
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The field manager's name.
    pub manager: String,
    /// Apply or Update.
    pub operation: Operation,
    /// The API version the fields were written in.
    pub api_version: String,
    /// When the entry last changed (RFC 3339).
    pub time: String,
    /// The owned fields.
    pub fields: FieldSet,
    /// `status` when written through the status subresource.
    pub subresource: Option<String>,
}

impl Entry {
    /// Whether this entry belongs to the given manager, operation and subresource.
    pub fn is(&self, manager: &str, operation: Operation, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    fn to_json(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation.as_str(),
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_fields_v1(),
        });
        if let Some(subresource) = &self.subresource {
            entry["subresource"] = json!(subresource);
        }
        entry
    }

    fn from_json(value: &Value) -> Result<Self, String> {
        let text = |name: &str| value.get(name).and_then(Value::as_str).unwrap_or_default();
        let operation = match text("operation") {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            other => return Err(format!("unknown managedFields operation {other:?}")),
        };
        let fields = match value.get("fieldsV1") {
            Some(fields) => FieldSet::from_fields_v1(fields)?,
            None => FieldSet::default(),
        };
        Ok(Entry {
            manager: text("manager").to_string(),
            operation,
            api_version: text("apiVersion").to_string(),
            time: text("time").to_string(),
            fields,
            subresource: value
                .get("subresource")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

/// The entries recorded on an object; unreadable entries are an error message.
pub fn read(object: &Value) -> Result<Vec<Entry>, String> {
    match object.pointer("/metadata/managedFields") {
        Some(Value::Array(entries)) => entries.iter().map(Entry::from_json).collect(),
        Some(Value::Null) | None => Ok(Vec::new()),
        Some(_) => Err("metadata.managedFields must be a list".into()),
    }
}

/// Writes entries onto an object, dropping those that own nothing.
pub fn write(object: &mut Value, entries: &[Entry]) {
    let kept: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(Entry::to_json)
        .collect();
    if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
        if kept.is_empty() {
            metadata.remove("managedFields");
        } else {
            metadata.insert("managedFields".into(), Value::Array(kept));
        }
    }
}

/// Whether two entry lists own the same fields, ignoring timestamps and order.
pub fn same_ownership(a: &[Entry], b: &[Entry]) -> bool {
    let strip = |entries: &[Entry]| -> Vec<Entry> {
        let mut kept: Vec<Entry> = entries
            .iter()
            .filter(|e| !e.fields.is_empty())
            .map(|e| Entry {
                time: String::new(),
                ..e.clone()
            })
            .collect();
        kept.sort_by(|x, y| {
            (&x.manager, x.operation.as_str(), &x.subresource).cmp(&(
                &y.manager,
                y.operation.as_str(),
                &y.subresource,
            ))
        });
        kept
    };
    strip(a) == strip(b)
}
