//! Schemas: what a provider, resource or data source accepts and computes. Attributes are built
//! with small chained calls, and carry their own validators and plan modifiers.

use super::path::AttributePath;
use super::plan_modifiers::PlanModifier;
use super::types::Type;
use super::validators::Validator;
use super::value::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A versioned schema. The version increases when stored state must be upgraded.
#[derive(Clone, Default)]
pub struct Schema {
    /// State version; see `Resource::upgrade_state`.
    pub version: i64,
    /// The top-level block.
    pub block: Block,
}

/// A block: attributes and nested blocks.
#[derive(Clone, Default)]
pub struct Block {
    /// Markdown description (shown in docs and language servers).
    pub description: String,
    /// Set when the whole block is deprecated.
    pub deprecated: bool,
    /// Attributes, in declaration order.
    pub attributes: Vec<Attribute>,
    /// Nested blocks, in declaration order.
    pub blocks: Vec<NestedBlock>,
}

/// How a nested block or nested attribute repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// At most one, as an object.
    Single,
    /// Like single, but never null: absent means all attributes null.
    Group,
    /// An ordered list.
    List,
    /// An unordered set.
    Set,
    /// A map by label.
    Map,
}

/// A nested block such as `kubernetes { ... }`.
#[derive(Clone)]
pub struct NestedBlock {
    /// The block type name.
    pub name: String,
    /// How it repeats.
    pub nesting: Nesting,
    /// Its content.
    pub block: Block,
    /// Fewest occurrences.
    pub min_items: i64,
    /// Most occurrences (0: no limit).
    pub max_items: i64,
}

/// What an attribute holds: a value of a type, or nested attributes.
#[derive(Clone)]
pub enum AttributeKind {
    /// A plain typed value.
    Typed(Type),
    /// An object (or collection of objects) with attributes of its own.
    Nested(Nesting, Vec<Attribute>),
}

/// One attribute with everything the framework needs to validate and plan it.
#[derive(Clone)]
pub struct Attribute {
    /// snake_case name.
    pub name: String,
    /// Type or nested attributes.
    pub kind: AttributeKind,
    /// Markdown description.
    pub description: String,
    /// Must be set in configuration.
    pub required: bool,
    /// May be set in configuration.
    pub optional: bool,
    /// The provider may set it.
    pub computed: bool,
    /// Hidden in plan output.
    pub sensitive: bool,
    /// Sent in configuration only, never stored in plan or state.
    pub write_only: bool,
    /// A message when the attribute is deprecated.
    pub deprecation: Option<String>,
    /// The planned value when configuration leaves it null (requires `computed`).
    pub default: Option<Value>,
    /// Checks applied to known configuration values.
    pub validators: Vec<Arc<dyn Validator>>,
    /// Adjustments to the planned value.
    pub plan_modifiers: Vec<Arc<dyn PlanModifier>>,
}

impl Attribute {
    /// An optional attribute of type `ty`.
    pub fn new(name: &str, ty: Type) -> Self {
        Self::with_kind(name, AttributeKind::Typed(ty))
    }

    /// An optional attribute holding nested attributes.
    pub fn nested(name: &str, nesting: Nesting, attributes: Vec<Attribute>) -> Self {
        Self::with_kind(name, AttributeKind::Nested(nesting, attributes))
    }

    fn with_kind(name: &str, kind: AttributeKind) -> Self {
        Self {
            name: name.to_string(),
            kind,
            description: String::new(),
            required: false,
            optional: true,
            computed: false,
            sensitive: false,
            write_only: false,
            deprecation: None,
            default: None,
            validators: Vec::new(),
            plan_modifiers: Vec::new(),
        }
    }

    /// Must be set.
    pub fn required(mut self) -> Self {
        self.required = true;
        self.optional = false;
        self
    }

    /// Set by the provider only.
    pub fn computed(mut self) -> Self {
        self.computed = true;
        self.optional = false;
        self
    }

    /// May be set; the provider fills it when not.
    pub fn optional_computed(mut self) -> Self {
        self.computed = true;
        self.optional = true;
        self
    }

    /// Optional with a default that appears in plan and state.
    pub fn default(mut self, value: Value) -> Self {
        self.default = Some(value);
        self.optional_computed()
    }

    /// Hidden in plan output and logs.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Never stored: Terraform passes it in configuration only (Terraform 1.11 and later).
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }

    /// Markdown description.
    pub fn description(mut self, text: &str) -> Self {
        self.description = text.to_string();
        self
    }

    /// Deprecated, with what to use instead.
    pub fn deprecated(mut self, message: &str) -> Self {
        self.deprecation = Some(message.to_string());
        self
    }

    /// Adds a validator.
    pub fn validate(mut self, v: impl Validator + 'static) -> Self {
        self.validators.push(Arc::new(v));
        self
    }

    /// Adds a plan modifier.
    pub fn plan(mut self, m: impl PlanModifier + 'static) -> Self {
        self.plan_modifiers.push(Arc::new(m));
        self
    }

    /// An optional attribute holding nested attributes, which the provider plans exactly as
    /// configured but declares to Terraform as computed too: Terraform 1.0.0 to 1.0.4 crash
    /// building the proposed state when such an attribute is left null and not computed
    /// (hashicorp/terraform#29388, fixed in v1.0.5 by #29412). Declared computed, a null one
    /// takes the prior value and is never descended into; [`crate::framework::plan`] then plans
    /// the configured value, so the declaration changes nothing a user sees.
    pub fn shielded_nested(&self) -> bool {
        matches!(self.kind, AttributeKind::Nested(..)) && self.optional && !self.computed
    }

    /// Whether Terraform is told the provider may set this attribute: computed ones and
    /// [`Attribute::shielded_nested`] ones.
    pub fn declared_computed(&self) -> bool {
        self.computed || self.shielded_nested()
    }

    /// The attribute's value type.
    pub fn value_type(&self) -> Type {
        match &self.kind {
            AttributeKind::Typed(t) => t.clone(),
            AttributeKind::Nested(nesting, attrs) => {
                let object = Type::Object(
                    attrs
                        .iter()
                        .map(|a| (a.name.clone(), a.value_type()))
                        .collect(),
                );
                wrap(*nesting, object)
            }
        }
    }
}

fn wrap(nesting: Nesting, object: Type) -> Type {
    match nesting {
        Nesting::Single | Nesting::Group => object,
        Nesting::List => Type::list(object),
        Nesting::Set => Type::set(object),
        Nesting::Map => Type::map(object),
    }
}

impl Block {
    /// A block with a description and attributes.
    pub fn new(description: &str, attributes: Vec<Attribute>) -> Self {
        Self {
            description: description.to_string(),
            attributes,
            ..Default::default()
        }
    }

    /// Adds a nested block.
    pub fn block(mut self, name: &str, nesting: Nesting, block: Block, max_items: i64) -> Self {
        self.blocks.push(NestedBlock {
            name: name.to_string(),
            nesting,
            block,
            min_items: 0,
            max_items,
        });
        self
    }

    /// The object type of values of this block.
    pub fn value_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.value_type()))
            .collect();
        for b in &self.blocks {
            attrs.insert(b.name.clone(), wrap(b.nesting, b.block.value_type()));
        }
        Type::Object(attrs)
    }

    /// The paths of write-only attributes that `value` sets, in nested blocks too.
    pub fn write_only_set(&self, value: &Value, at: Option<&AttributePath>) -> Vec<AttributePath> {
        let path = |name: &str| match at {
            Some(p) => p.clone().attr(name),
            None => AttributePath::root(name),
        };
        let mut found: Vec<AttributePath> = self
            .attributes
            .iter()
            .filter(|a| a.write_only && !value.get(&a.name).is_null())
            .map(|a| path(&a.name))
            .collect();
        for nb in &self.blocks {
            if let Value::List(items) | Value::Set(items) = value.get(&nb.name) {
                for (i, item) in items.iter().enumerate() {
                    found.extend(nb.block.write_only_set(
                        item,
                        Some(&path(&nb.name).index(i64::try_from(i).unwrap_or(i64::MAX))),
                    ));
                }
            }
        }
        found
    }

    /// Nulls every write-only attribute, in nested blocks too: write-only values are
    /// configuration only and must never reach a plan or state.
    pub fn clear_write_only(&self, value: &mut Value) {
        let Value::Object(attrs) = value else { return };
        for a in self.attributes.iter().filter(|a| a.write_only) {
            attrs.insert(a.name.clone(), Value::Null);
        }
        for nb in &self.blocks {
            match attrs.get_mut(&nb.name) {
                Some(Value::List(items) | Value::Set(items)) => items
                    .iter_mut()
                    .for_each(|item| nb.block.clear_write_only(item)),
                Some(Value::Map(items)) => items
                    .values_mut()
                    .for_each(|item| nb.block.clear_write_only(item)),
                Some(single @ Value::Object(_)) => nb.block.clear_write_only(single),
                _ => {}
            }
        }
    }
}

impl Schema {
    /// A version-0 schema.
    pub fn new(block: Block) -> Self {
        Self { version: 0, block }
    }

    /// The object type of values of this schema.
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_type_includes_nested_blocks_and_attributes() {
        let b = Block::new(
            "",
            vec![
                Attribute::new("a", Type::String).required(),
                Attribute::nested("n", Nesting::List, vec![Attribute::new("x", Type::Number)]),
            ],
        )
        .block(
            "k",
            Nesting::List,
            Block::new("", vec![Attribute::new("h", Type::String)]),
            1,
        );
        assert_eq!(
            b.value_type().to_json().to_string(),
            r#"["object",{"a":"string","k":["list",["object",{"h":"string"}]],"n":["list",["object",{"x":"number"}]]}]"#
        );
    }

    #[test]
    fn write_only_values_are_cleared_in_nested_blocks() {
        let b = Block::new(
            "",
            vec![Attribute::new("password", Type::String).write_only()],
        )
        .block(
            "vault",
            Nesting::List,
            Block::new(
                "",
                vec![
                    Attribute::new("token", Type::String).write_only(),
                    Attribute::new("address", Type::String),
                ],
            ),
            1,
        );
        let mut v = Value::object([
            ("password", Value::string("p")),
            (
                "vault",
                Value::List(vec![Value::object([
                    ("token", Value::string("t")),
                    ("address", Value::string("a")),
                ])]),
            ),
        ]);
        b.clear_write_only(&mut v);
        assert_eq!(v.get("password"), &Value::Null);
        let vault = v.at(&crate::framework::AttributePath::root("vault").index(0));
        assert_eq!(vault.get("token"), &Value::Null);
        assert_eq!(vault.get("address"), &Value::string("a"));
    }

    #[test]
    fn default_makes_an_attribute_optional_and_computed() {
        let a = Attribute::new("a", Type::Number).default(Value::int(3));
        assert!(a.optional && a.computed && !a.required);
    }
}
