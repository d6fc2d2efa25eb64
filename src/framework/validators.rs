//! Validators: small checks attached to attributes, run on known configuration values. Each
//! failure names the attribute and says what would be accepted.

use super::diag::Diagnostics;
use super::path::AttributePath;
use super::schema::{AttributeKind, Block};
use super::value::Value;

/// A check of one attribute's configured value. Called only for known, non-null values.
pub trait Validator: Send + Sync {
    /// Adds an error to `diags` when `value` is not acceptable.
    fn validate(&self, path: &AttributePath, value: &Value, diags: &mut Diagnostics);
}

/// A number within `[min, max]`.
pub struct NumberBetween {
    /// Smallest accepted.
    pub min: f64,
    /// Largest accepted.
    pub max: f64,
}

impl Validator for NumberBetween {
    fn validate(&self, path: &AttributePath, value: &Value, diags: &mut Diagnostics) {
        match value.as_f64() {
            Some(n) if n >= self.min && n <= self.max => {}
            _ => diags.attribute_error(
                path.clone(),
                format!("Invalid {path}"),
                format!(
                    "`{path}` must be a number from {} to {}; got {}.",
                    self.min,
                    self.max,
                    display(value)
                ),
            ),
        }
    }
}

/// A whole number within `[min, max]`.
pub struct IntegerBetween {
    /// Smallest accepted.
    pub min: i64,
    /// Largest accepted.
    pub max: i64,
}

impl Validator for IntegerBetween {
    fn validate(&self, path: &AttributePath, value: &Value, diags: &mut Diagnostics) {
        match value.as_i64() {
            Some(n) if n >= self.min && n <= self.max => {}
            _ => diags.attribute_error(
                path.clone(),
                format!("Invalid {path}"),
                format!(
                    "`{path}` must be a whole number from {} to {}; got {}.",
                    self.min,
                    self.max,
                    display(value)
                ),
            ),
        }
    }
}

/// One of a fixed set of strings.
pub struct OneOf(pub &'static [&'static str]);

impl Validator for OneOf {
    fn validate(&self, path: &AttributePath, value: &Value, diags: &mut Diagnostics) {
        if !value.as_str().is_some_and(|s| self.0.contains(&s)) {
            diags.attribute_error(
                path.clone(),
                format!("Invalid {path}"),
                format!(
                    "`{path}` must be one of {}; got {}.",
                    self.0
                        .iter()
                        .map(|s| format!("\"{s}\""))
                        .collect::<Vec<_>>()
                        .join(", "),
                    display(value)
                ),
            );
        }
    }
}

/// A string that is not empty or only white space.
pub struct NotBlank;

impl Validator for NotBlank {
    fn validate(&self, path: &AttributePath, value: &Value, diags: &mut Diagnostics) {
        if value.as_str().is_none_or(|s| s.trim().is_empty()) {
            diags.attribute_error(
                path.clone(),
                format!("Invalid {path}"),
                format!("`{path}` must not be empty; remove it or give a value."),
            );
        }
    }
}

/// Runs every attribute's validators over a block's configuration value, nested attributes and
/// nested blocks included. Unknown and null values are skipped: they are checked again once known.
pub fn validate_block(
    block: &Block,
    value: &Value,
    path: Option<&AttributePath>,
    diags: &mut Diagnostics,
) {
    let at = |name: &str| match path {
        Some(p) => p.clone().attr(name),
        None => AttributePath::root(name),
    };
    for attr in &block.attributes {
        let v = value.get(&attr.name);
        let p = at(&attr.name);
        if !v.is_null() && !v.is_unknown() {
            for validator in &attr.validators {
                validator.validate(&p, v, diags);
            }
        }
        if let AttributeKind::Nested(_, attrs) = &attr.kind {
            let inner = Block::new("", attrs.clone());
            for_each_element(v, &p, |e, ep| validate_block(&inner, e, Some(ep), diags));
        }
    }
    for nb in &block.blocks {
        let p = at(&nb.name);
        for_each_element(value.get(&nb.name), &p, |e, ep| {
            validate_block(&nb.block, e, Some(ep), diags)
        });
    }
}

fn for_each_element(v: &Value, path: &AttributePath, mut f: impl FnMut(&Value, &AttributePath)) {
    match v {
        Value::Object(_) => f(v, path),
        Value::List(items) | Value::Set(items) => {
            for (i, item) in items.iter().enumerate() {
                f(item, &path.clone().index(i as i64));
            }
        }
        Value::Map(m) => {
            for (k, item) in m {
                f(item, &path.clone().key(k));
            }
        }
        _ => {}
    }
}

fn display(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        other => other.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: &dyn Validator, value: Value) -> Diagnostics {
        let mut d = Diagnostics::default();
        v.validate(&AttributePath::root("a"), &value, &mut d);
        d
    }

    #[test]
    fn number_between_names_the_attribute_and_the_range() {
        let d = run(&NumberBetween { min: 0.5, max: 1.0 }, Value::float(2.0));
        let diag = d.iter().next().unwrap();
        assert_eq!(diag.attribute, Some(AttributePath::root("a")));
        assert_eq!(diag.detail, "`a` must be a number from 0.5 to 1; got 2.0.");
        assert!(run(&NumberBetween { min: 0.5, max: 1.0 }, Value::float(0.7)).is_empty());
    }

    #[test]
    fn integer_between_rejects_fractions() {
        assert!(run(&IntegerBetween { min: 1, max: 9 }, Value::float(2.5)).has_errors());
        assert!(run(&IntegerBetween { min: 1, max: 9 }, Value::int(9)).is_empty());
    }

    #[test]
    fn one_of_lists_the_choices() {
        let d = run(&OneOf(&["dev", "prod"]), Value::string("qa"));
        assert_eq!(
            d.iter().next().unwrap().detail,
            r#"`a` must be one of "dev", "prod"; got "qa"."#
        );
    }

    #[test]
    fn nested_blocks_are_validated_with_their_path() {
        use crate::framework::schema::{Attribute, Nesting};
        use crate::framework::types::Type;
        let block = Block::new("", vec![]).block(
            "kubernetes",
            Nesting::List,
            Block::new(
                "",
                vec![Attribute::new("host", Type::String).validate(NotBlank)],
            ),
            1,
        );
        let value = Value::object([(
            "kubernetes",
            Value::List(vec![Value::object([("host", Value::string(""))])]),
        )]);
        let mut d = Diagnostics::default();
        validate_block(&block, &value, None, &mut d);
        let diag = d.iter().next().expect("an error");
        assert_eq!(
            diag.attribute.as_ref().unwrap().to_string(),
            "kubernetes[0].host"
        );
    }

    #[test]
    fn not_blank_rejects_white_space() {
        assert!(run(&NotBlank, Value::string("  ")).has_errors());
        assert!(run(&NotBlank, Value::string("x")).is_empty());
    }
}
