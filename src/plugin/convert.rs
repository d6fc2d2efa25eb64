//! Translation between the generated tfplugin6 types and the framework's: schemas,
//! diagnostics, attribute paths and dynamic values.

use super::proto::tfplugin6 as pb;
use crate::framework::path::Step;
use crate::framework::schema::{AttributeKind, Nesting};
use crate::framework::{
    Attribute, AttributePath, Block, Diagnostic, Diagnostics, Schema, Severity, Type, Value,
};

/// A framework schema as the protocol carries it.
pub fn schema(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block(&s.block)),
    }
}

fn block(b: &Block) -> pb::schema::Block {
    pb::schema::Block {
        version: 0,
        attributes: b.attributes.iter().map(attribute).collect(),
        block_types: b
            .blocks
            .iter()
            .map(|nb| pb::schema::NestedBlock {
                type_name: nb.name.clone(),
                block: Some(block(&nb.block)),
                nesting: block_nesting(nb.nesting) as i32,
                // Terraform requires single blocks to declare no item bounds.
                min_items: if single(nb.nesting) { 0 } else { nb.min_items },
                max_items: if single(nb.nesting) { 0 } else { nb.max_items },
            })
            .collect(),
        description: b.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: b.deprecated,
        deprecation_message: String::new(),
        computed: false,
    }
}

fn attribute(a: &Attribute) -> pb::schema::Attribute {
    let (ty, nested_type) = match &a.kind {
        AttributeKind::Typed(t) => (t.to_json().to_string().into_bytes(), None),
        AttributeKind::Nested(nesting, attrs) => (
            Vec::new(),
            Some(pb::schema::Object {
                attributes: attrs.iter().map(attribute).collect(),
                nesting: object_nesting(*nesting) as i32,
                ..Default::default()
            }),
        ),
    };
    pb::schema::Attribute {
        name: a.name.clone(),
        r#type: ty,
        nested_type,
        description: a.description.clone(),
        required: a.required,
        optional: a.optional,
        computed: a.declared_computed(),
        sensitive: a.sensitive,
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: a.deprecation.is_some(),
        write_only: a.write_only,
        deprecation_message: a.deprecation.clone().unwrap_or_default(),
    }
}

fn single(n: Nesting) -> bool {
    matches!(n, Nesting::Single | Nesting::Group)
}

fn block_nesting(n: Nesting) -> pb::schema::nested_block::NestingMode {
    use pb::schema::nested_block::NestingMode as M;
    match n {
        Nesting::Single => M::Single,
        Nesting::Group => M::Group,
        Nesting::List => M::List,
        Nesting::Set => M::Set,
        Nesting::Map => M::Map,
    }
}

fn object_nesting(n: Nesting) -> pb::schema::object::NestingMode {
    use pb::schema::object::NestingMode as M;
    match n {
        Nesting::Single | Nesting::Group => M::Single,
        Nesting::List => M::List,
        Nesting::Set => M::Set,
        Nesting::Map => M::Map,
    }
}

/// Framework diagnostics as the protocol carries them.
pub fn diagnostics(d: Diagnostics) -> Vec<pb::Diagnostic> {
    d.into_iter().map(diagnostic).collect()
}

fn diagnostic(d: Diagnostic) -> pb::Diagnostic {
    pb::Diagnostic {
        severity: match d.severity {
            Severity::Error => pb::diagnostic::Severity::Error,
            Severity::Warning => pb::diagnostic::Severity::Warning,
        } as i32,
        summary: d.summary,
        detail: d.detail,
        attribute: d.attribute.as_ref().map(path),
    }
}

/// A framework attribute path as the protocol carries it.
pub fn path(p: &AttributePath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: p
            .steps()
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    Step::Attribute(n) => Selector::AttributeName(n.clone()),
                    Step::Key(k) => Selector::ElementKeyString(k.clone()),
                    Step::Index(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect(),
    }
}

/// Decodes a dynamic value (msgpack, or JSON when that is what was sent); a missing value is
/// null. A malformed one is an error diagnostic.
pub fn decode(
    v: Option<&pb::DynamicValue>,
    ty: &Type,
    what: &str,
    diags: &mut Diagnostics,
) -> Value {
    let Some(v) = v else { return Value::Null };
    let decoded = if !v.msgpack.is_empty() {
        Value::from_msgpack(&v.msgpack, ty)
    } else if !v.json.is_empty() {
        serde_json::from_slice(&v.json)
            .map_err(|e| crate::framework::value::ValueError::Model(e.to_string()))
            .and_then(|j| Value::from_json(&j, ty))
    } else {
        Ok(Value::Null)
    };
    decoded.unwrap_or_else(|e| {
        diags.error(
            format!("Could not decode the {what}"),
            format!("Terraform sent a value this provider cannot read ({e}). Check that Terraform and the provider versions are supported together."),
        );
        Value::Null
    })
}

/// Encodes a value as msgpack for the protocol.
pub fn encode(v: &Value, ty: &Type) -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: v.to_msgpack(ty),
        json: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_only_and_sensitive_flags_reach_the_wire() {
        let s = Schema::new(Block::new(
            "d",
            vec![
                Attribute::new("password", Type::String)
                    .write_only()
                    .sensitive(),
                Attribute::new("old", Type::String).deprecated("use new"),
            ],
        ));
        let pb = schema(&s);
        let attrs = &pb.block.unwrap().attributes;
        assert!(attrs[0].write_only && attrs[0].sensitive);
        assert_eq!(attrs[0].r#type, br#""string""#);
        assert!(attrs[1].deprecated);
        assert_eq!(attrs[1].deprecation_message, "use new");
    }

    #[test]
    fn undecodable_values_become_diagnostics() {
        let mut d = Diagnostics::default();
        let bad = pb::DynamicValue {
            msgpack: vec![0x92, 0x01],
            json: vec![],
        };
        assert_eq!(
            decode(Some(&bad), &Type::String, "configuration", &mut d),
            Value::Null
        );
        assert!(d.has_errors());
    }
}
