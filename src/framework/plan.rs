//! The framework's part of `PlanResourceChange`: from Terraform's proposed new state to the
//! planned state, applying defaults, "known after apply" for computed values that will change,
//! and each attribute's plan modifiers. The resource then gets the last word.

use super::diag::Diagnostics;
use super::path::AttributePath;
use super::plan_modifiers::{AttributePlan, AttributePlanResult};
use super::schema::Schema;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::plan_modifiers::{RequiresReplace, UseStateForUnknown};
    use crate::framework::schema::{Attribute, Block};
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

    #[test]
    fn write_only_values_never_reach_the_plan() {
        let mut config = obj(Value::Null, Value::Null, 512, Value::Null);
        config.set("password", Value::string("hunter2"));
        let p = plan_attributes(&schema(), &Value::Null, &config, &config);
        assert_eq!(p.planned.get("password"), &Value::Null);
    }
}
