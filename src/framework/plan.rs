//! The framework's part of `PlanResourceChange`: from Terraform's proposed new state to the
//! planned state, applying defaults, "known after apply" for computed values that will change,
//! and each attribute's plan modifiers. The resource then gets the last word.

use super::diag::Diagnostics;
use super::path::AttributePath;
use super::plan_modifiers::{AttributePlan, AttributePlanResult};
use super::schema::{Attribute, AttributeKind, Nesting, Schema};
use super::value::Value;

/// The framework's planned state for an update or create, before the resource's own hook.
pub struct PlannedChange {
    /// The planned new state.
    pub planned: Value,
    /// Attributes whose change replaces the resource.
    pub requires_replace: Vec<AttributePath>,
    /// Warnings from plan modifiers.
    pub diagnostics: Diagnostics,
}

/// Plans top-level attributes: defaults for null optional+computed values; unknown for computed
/// values on create, or on update when any configurable attribute changes; then modifiers.
pub fn plan_attributes(
    schema: &Schema,
    prior: &Value,
    proposed: &Value,
    config: &Value,
) -> PlannedChange {
    let creating = prior.is_null();
    let proposed = &configured_nested(&schema.block.attributes, proposed, prior, config);
    let mut planned = proposed.clone();
    let mut requires_replace = Vec::new();
    let mut diagnostics = Diagnostics::default();

    let configurable_changed = !creating
        && schema.block.attributes.iter().any(|a| {
            (a.optional || a.required)
                && !a.write_only
                && proposed.get(&a.name) != prior.get(&a.name)
                && !a.computed
        });

    for attr in &schema.block.attributes {
        let name = attr.name.as_str();
        let config_value = config.get(name);
        let mut value = planned.get(name).clone();
        if config_value.is_null() && attr.computed && !attr.write_only {
            if let Some(default) = &attr.default {
                value = default.clone();
            } else if creating || (configurable_changed && !attr.optional) {
                value = Value::Unknown;
            }
        }
        let path = AttributePath::root(name);
        let mut result = AttributePlanResult {
            planned: value,
            requires_replace: false,
            diagnostics: Diagnostics::default(),
        };
        for m in &attr.plan_modifiers {
            m.modify(
                &AttributePlan {
                    path: &path,
                    config: config_value,
                    state: prior.get(name),
                    creating,
                },
                &mut result,
            );
        }
        if result.requires_replace {
            requires_replace.push(path);
        }
        diagnostics.extend(result.diagnostics);
        planned.set(name, result.planned);
    }
    schema.block.clear_write_only(&mut planned);
    PlannedChange {
        planned,
        requires_replace,
        diagnostics,
    }
}

/// Terraform's proposed object with every [`Attribute::shielded_nested`] attribute replaced by
/// what configuration says, merged with the prior state as Terraform merges other attributes:
/// Terraform proposed the prior value for a null one because it was declared computed (and
/// Terraform 1.0 takes a configured one verbatim, without the prior values of the computed
/// attributes inside it), while the provider plans it as configured.
fn configured_nested(
    attributes: &[Attribute],
    proposed: &Value,
    prior: &Value,
    config: &Value,
) -> Value {
    let Value::Object(fields) = proposed else {
        return proposed.clone();
    };
    let mut fields = fields.clone();
    for attr in attributes.iter().filter(|a| a.shielded_nested()) {
        if let AttributeKind::Nested(nesting, inner) = &attr.kind {
            let value = merged(
                *nesting,
                inner,
                prior.get(&attr.name),
                config.get(&attr.name),
            );
            fields.insert(attr.name.clone(), value);
        }
    }
    Value::Object(fields)
}

/// One nested attribute's value: the configured objects, each attribute inside taken from
/// configuration, except computed ones left null there, which keep their prior value. Objects
/// are matched with prior ones by position (lists) or key (maps); set elements have no identity
/// to match by, so a set is taken as configured.
fn merged(nesting: Nesting, inner: &[Attribute], prior: &Value, config: &Value) -> Value {
    match (nesting, config) {
        (Nesting::Single | Nesting::Group, Value::Object(_)) => merged_object(inner, prior, config),
        (Nesting::List, Value::List(items)) => Value::List(
            items
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let p = match prior {
                        Value::List(p) => p.get(i).unwrap_or(&Value::Null),
                        _ => &Value::Null,
                    };
                    merged_object(inner, p, c)
                })
                .collect(),
        ),
        (Nesting::Map, Value::Map(items)) => Value::Map(
            items
                .iter()
                .map(|(k, c)| {
                    let p = match prior {
                        Value::Map(p) => p.get(k).unwrap_or(&Value::Null),
                        _ => &Value::Null,
                    };
                    (k.clone(), merged_object(inner, p, c))
                })
                .collect(),
        ),
        _ => config.clone(),
    }
}

fn merged_object(inner: &[Attribute], prior: &Value, config: &Value) -> Value {
    let Value::Object(fields) = config else {
        return config.clone();
    };
    let mut fields = fields.clone();
    for attr in inner {
        let c = config.get(&attr.name);
        let p = match prior {
            Value::Object(_) => prior.get(&attr.name),
            _ => &Value::Null,
        };
        let value = match &attr.kind {
            _ if attr.computed && c.is_null() => p.clone(),
            AttributeKind::Nested(nesting, attrs) => merged(*nesting, attrs, p, c),
            AttributeKind::Typed(_) => c.clone(),
        };
        fields.insert(attr.name.clone(), value);
    }
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::plan_modifiers::{RequiresReplace, UseStateForUnknown};
    use crate::framework::schema::Block;
    use crate::framework::types::Type;

    fn schema() -> Schema {
        Schema::new(Block::new(
            "",
            vec![
                Attribute::new("id", Type::String)
                    .computed()
                    .plan(UseStateForUnknown),
                Attribute::new("endpoint", Type::String).computed(),
                Attribute::new("shards", Type::Number)
                    .required()
                    .plan(RequiresReplace {
                        reason: "new cluster",
                    }),
                Attribute::new("replicas", Type::Number).default(Value::int(3)),
                Attribute::new("password", Type::String).write_only(),
            ],
        ))
    }

    fn obj(id: Value, endpoint: Value, shards: i64, replicas: Value) -> Value {
        Value::object([
            ("id", id),
            ("endpoint", endpoint),
            ("shards", Value::int(shards)),
            ("replicas", replicas),
            ("password", Value::Null),
        ])
    }

    #[test]
    fn create_marks_computed_unknown_and_applies_defaults() {
        let config = obj(Value::Null, Value::Null, 512, Value::Null);
        let p = plan_attributes(&schema(), &Value::Null, &config, &config);
        assert_eq!(
            p.planned,
            obj(Value::Unknown, Value::Unknown, 512, Value::int(3))
        );
        assert!(p.requires_replace.is_empty());
    }

    #[test]
    fn no_change_plans_the_prior_state_exactly() {
        let prior = obj(Value::string("a"), Value::string("e"), 512, Value::int(3));
        let config = obj(Value::Null, Value::Null, 512, Value::Null);
        let p = plan_attributes(&schema(), &prior, &prior, &config);
        assert_eq!(p.planned, prior);
        assert!(p.diagnostics.is_empty());
    }

    #[test]
    fn a_change_keeps_stable_ids_and_replaces_on_immutable_inputs() {
        let prior = obj(Value::string("a"), Value::string("e"), 512, Value::int(3));
        let mut proposed = prior.clone();
        proposed.set("shards", Value::int(1024));
        let config = obj(Value::Null, Value::Null, 1024, Value::Null);
        let p = plan_attributes(&schema(), &prior, &proposed, &config);
        assert_eq!(p.planned.get("id"), &Value::string("a"));
        assert_eq!(p.planned.get("endpoint"), &Value::Unknown);
        assert_eq!(p.requires_replace, vec![AttributePath::root("shards")]);
        assert!(!p.diagnostics.has_errors());
    }

    fn nested_schema() -> Schema {
        let tls = Attribute::nested(
            "tls",
            Nesting::Single,
            vec![
                Attribute::new("secret", Type::String),
                Attribute::nested(
                    "client",
                    Nesting::Single,
                    vec![Attribute::new("name", Type::String)],
                ),
            ],
        );
        Schema::new(Block::new(
            "",
            vec![Attribute::new("name", Type::String), tls],
        ))
    }

    #[test]
    fn a_removed_nested_attribute_is_planned_null_although_terraform_proposed_the_prior() {
        let prior_tls = Value::object([
            ("secret", Value::string("s")),
            ("client", Value::object([("name", Value::string("c"))])),
        ]);
        let prior = Value::object([("name", Value::string("a")), ("tls", prior_tls.clone())]);
        // Declared computed, a null `tls` is proposed as its prior value.
        let config = Value::object([("name", Value::string("a")), ("tls", Value::Null)]);
        let p = plan_attributes(&nested_schema(), &prior, &prior, &config);
        assert_eq!(p.planned.get("tls"), &Value::Null);

        // Inside a configured object, a removed nested attribute is null too.
        let config_tls = Value::object([("secret", Value::string("s")), ("client", Value::Null)]);
        let config = Value::object([("name", Value::string("a")), ("tls", config_tls.clone())]);
        let p = plan_attributes(&nested_schema(), &prior, &prior, &config);
        assert_eq!(p.planned.get("tls"), &config_tls);
    }

    #[test]
    fn computed_attributes_inside_a_configured_nested_one_keep_their_prior_value() {
        let schema = Schema::new(Block::new(
            "",
            vec![Attribute::nested(
                "auth",
                Nesting::Single,
                vec![
                    Attribute::new("uri", Type::String),
                    Attribute::new("claim", Type::String).default(Value::string("permissions")),
                ],
            )],
        ));
        let prior = Value::object([(
            "auth",
            Value::object([
                ("uri", Value::string("u")),
                ("claim", Value::string("permissions")),
            ]),
        )]);
        // Terraform 1.0 proposes a computed nested attribute exactly as configured.
        let config = Value::object([(
            "auth",
            Value::object([("uri", Value::string("u")), ("claim", Value::Null)]),
        )]);
        let p = plan_attributes(&schema, &prior, &config, &config);
        assert_eq!(p.planned, prior);
    }

    #[test]
    fn optional_nested_attributes_are_declared_computed_and_nothing_else_is() {
        let schema = nested_schema();
        let [name, tls] = &schema.block.attributes[..] else {
            panic!("two attributes")
        };
        assert!(tls.declared_computed() && tls.shielded_nested());
        assert!(!name.declared_computed());
        let required = Attribute::nested("p", Nesting::Single, vec![]).required();
        assert!(!required.declared_computed());
    }

    #[test]
    fn write_only_values_never_reach_the_plan() {
        let mut config = obj(Value::Null, Value::Null, 512, Value::Null);
        config.set("password", Value::string("hunter2"));
        let p = plan_attributes(&schema(), &Value::Null, &config, &config);
        assert_eq!(p.planned.get("password"), &Value::Null);
    }
}
