//! Plan modifiers: per-attribute rules that adjust what `terraform plan` shows: keep a computed
//! value that does not change, or replace the resource when an immutable input changes (with a
//! warning that says why).

use super::diag::Diagnostics;
use super::path::AttributePath;
use super::value::Value;

/// What a modifier sees of one attribute while a resource is planned.
pub struct AttributePlan<'a> {
    /// Where the attribute is.
    pub path: &'a AttributePath,
    /// The configured value.
    pub config: &'a Value,
    /// The value in prior state (null on create).
    pub state: &'a Value,
    /// True when the resource does not exist yet.
    pub creating: bool,
}

/// What a modifier may change.
pub struct AttributePlanResult {
    /// The value the plan will show; starts as the framework's proposal.
    pub planned: Value,
    /// Set to replace the resource instead of updating it.
    pub requires_replace: bool,
    /// Warnings (and errors) to show with the plan.
    pub diagnostics: Diagnostics,
}

/// A rule that adjusts one attribute's planned value.
pub trait PlanModifier: Send + Sync {
    /// Adjusts `result` for `attr`.
    fn modify(&self, attr: &AttributePlan<'_>, result: &mut AttributePlanResult);
}

/// Keeps the prior state's value instead of "known after apply" for a computed attribute that
/// does not change once set (an id, a creation time).
pub struct UseStateForUnknown;

impl PlanModifier for UseStateForUnknown {
    fn modify(&self, attr: &AttributePlan<'_>, result: &mut AttributePlanResult) {
        if result.planned.is_unknown() && !attr.state.is_null() && !attr.creating {
            result.planned = attr.state.clone();
        }
    }
}

/// Replaces the resource when the attribute changes, and says why in a warning.
pub struct RequiresReplace {
    /// What replacing means for the user, and what to do instead.
    pub reason: &'static str,
}

impl PlanModifier for RequiresReplace {
    fn modify(&self, attr: &AttributePlan<'_>, result: &mut AttributePlanResult) {
        if attr.creating || result.planned.is_unknown() || result.planned == *attr.state {
            return;
        }
        result.requires_replace = true;
        result.diagnostics.attribute_warning(
            attr.path.clone(),
            format!("Changing {} replaces this resource", attr.path),
            self.reason,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(
        m: &dyn PlanModifier,
        state: Value,
        planned: Value,
        creating: bool,
    ) -> AttributePlanResult {
        let path = AttributePath::root("n");
        let mut r = AttributePlanResult {
            planned: planned.clone(),
            requires_replace: false,
            diagnostics: Diagnostics::default(),
        };
        m.modify(
            &AttributePlan {
                path: &path,
                config: &planned,
                state: &state,
                creating,
            },
            &mut r,
        );
        r
    }

    #[test]
    fn use_state_for_unknown_keeps_the_prior_value() {
        let r = apply(
            &UseStateForUnknown,
            Value::string("id-1"),
            Value::Unknown,
            false,
        );
        assert_eq!(r.planned, Value::string("id-1"));
        let r = apply(&UseStateForUnknown, Value::Null, Value::Unknown, true);
        assert_eq!(r.planned, Value::Unknown);
    }

    #[test]
    fn requires_replace_only_on_a_real_change_and_warns_why() {
        let m = RequiresReplace {
            reason: "history is not migrated",
        };
        let r = apply(&m, Value::int(512), Value::int(1024), false);
        assert!(r.requires_replace);
        let d = r.diagnostics.iter().next().unwrap();
        assert_eq!(d.summary, "Changing n replaces this resource");
        assert_eq!(d.detail, "history is not migrated");
        assert!(!apply(&m, Value::int(512), Value::int(512), false).requires_replace);
        assert!(!apply(&m, Value::Null, Value::int(512), true).requires_replace);
    }
}
