//! The attribute list of a resource's documentation page, written from its schema, so that
//! docs/resources/*.md name every attribute with its description and default. A test compares
//! each page's generated section with the schema; `ENGRAM_UPDATE_DOCS=1` rewrites it.

use crate::framework::schema::{AttributeKind, Block, Nesting};
use crate::framework::{Attribute, Type};

/// Where the generated list starts in a page.
pub const BEGIN: &str = "<!-- schema: written from the provider's schema by `ENGRAM_UPDATE_DOCS=1 cargo test schema_docs` -->";
/// Where it ends.
pub const END: &str = "<!-- /schema -->";

fn type_name(ty: &Type) -> String {
    match ty {
        Type::String => "String".into(),
        Type::Number => "Number".into(),
        Type::Bool => "Boolean".into(),
        Type::Dynamic => "Dynamic".into(),
        Type::List(el) => format!("List of {}", type_name(el)),
        Type::Set(el) => format!("Set of {}", type_name(el)),
        Type::Map(el) => format!("Map of {}", type_name(el)),
        Type::Object(_) | Type::Tuple(_) => "Object".into(),
    }
}

fn kind_name(attr: &Attribute) -> String {
    match &attr.kind {
        AttributeKind::Typed(ty) => type_name(ty),
        AttributeKind::Nested(Nesting::List, _) => "List of Attributes".into(),
        AttributeKind::Nested(Nesting::Set, _) => "Set of Attributes".into(),
        AttributeKind::Nested(Nesting::Map, _) => "Map of Attributes".into(),
        AttributeKind::Nested(_, _) => "Attributes".into(),
    }
}

fn role(attr: &Attribute) -> &'static str {
    match (attr.required, attr.optional, attr.computed) {
        (true, _, _) => "Required",
        (_, true, _) => "Optional",
        _ => "Read-only",
    }
}

fn attribute(attr: &Attribute, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    out.push_str(&format!(
        "{indent}- `{}` ({}, {}) {}\n",
        attr.name,
        kind_name(attr),
        role(attr),
        attr.description.replace('\n', " ")
    ));
    if let AttributeKind::Nested(_, attrs) = &attr.kind {
        for a in attrs {
            attribute(a, depth + 1, out);
        }
    }
}

/// The Markdown list of `block`'s attributes and nested blocks, nested as they are.
pub fn markdown(block: &Block) -> String {
    let mut out = String::new();
    for a in &block.attributes {
        attribute(a, 0, &mut out);
    }
    for b in &block.blocks {
        out.push_str(&format!(
            "- `{}` (Block) {}\n",
            b.name,
            b.block.description.replace('\n', " ")
        ));
        for a in &b.block.attributes {
            attribute(a, 1, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Resource;
    use crate::provider::ProviderSettings;
    use std::path::Path;

    fn pinned(page: &str, resource: &dyn Resource<ProviderSettings>) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(page);
        let text = std::fs::read_to_string(&path).unwrap();
        let (before, rest) = text
            .split_once(BEGIN)
            .unwrap_or_else(|| panic!("{page} has no line `{BEGIN}`"));
        let (section, after) = rest
            .split_once(END)
            .unwrap_or_else(|| panic!("{page} has no line `{END}`"));
        let wanted = format!("\n{}", markdown(&resource.schema().block));
        if std::env::var_os("ENGRAM_UPDATE_DOCS").is_some() {
            std::fs::write(&path, format!("{before}{BEGIN}{wanted}{END}{after}")).unwrap();
        } else {
            assert_eq!(
                section, wanted,
                "{page} differs from the schema; run ENGRAM_UPDATE_DOCS=1 cargo test schema_docs"
            );
        }
    }

    #[test]
    fn the_temporal_cluster_page_lists_every_attribute() {
        pinned(
            "docs/resources/temporal_cluster.md",
            &crate::resources::temporal_cluster::TemporalCluster,
        );
    }

    #[test]
    fn the_codec_server_page_lists_every_attribute() {
        pinned(
            "docs/resources/codec_server.md",
            &crate::resources::codec_server::CodecServer,
        );
    }

    #[test]
    fn nested_attributes_are_listed_under_their_parent() {
        let block = Block::new(
            "",
            vec![
                Attribute::nested(
                    "web_ui",
                    Nesting::Single,
                    vec![
                        Attribute::new("replicas", Type::Number)
                            .optional_computed()
                            .description("Default 2."),
                    ],
                )
                .optional_computed()
                .description("The UI."),
            ],
        );
        assert_eq!(
            markdown(&block),
            "- `web_ui` (Attributes, Optional) The UI.\n  - `replicas` (Number, Optional) Default 2.\n"
        );
    }
}
