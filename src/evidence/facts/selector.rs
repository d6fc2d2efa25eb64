//! Kubernetes label selectors, evaluated as the API server does
//! (apimachinery pkg/apis/meta/v1/helpers.go `LabelSelectorAsSelector`): every `matchLabels`
//! pair and every `matchExpressions` requirement must hold; an empty selector selects
//! everything.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// Whether `selector` selects an object labelled `labels`. An operator Kubernetes does not
/// know selects nothing, as the API server refuses such a selector.
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let pairs = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions = selector.match_expressions.iter().flatten().all(|r| {
        let values = r.values.as_deref().unwrap_or_default();
        let value = labels.get(&r.key);
        match r.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    pairs && expressions
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn requirement(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn labels_and_expressions_must_all_hold() {
        let pod = labels(&[("app", "temporal"), ("component", "history")]);
        let empty = LabelSelector::default();
        assert!(
            matches(&empty, &pod),
            "an empty selector selects everything"
        );
        let mut s = LabelSelector {
            match_labels: Some(labels(&[("app", "temporal")])),
            ..LabelSelector::default()
        };
        assert!(matches(&s, &pod));
        s.match_expressions = Some(vec![requirement("component", "In", &["frontend"])]);
        assert!(!matches(&s, &pod));
        s.match_expressions = Some(vec![
            requirement("component", "NotIn", &["frontend"]),
            requirement("app", "Exists", &[]),
            requirement("tier", "DoesNotExist", &[]),
        ]);
        assert!(matches(&s, &pod));
        s.match_expressions = Some(vec![requirement("app", "Gt", &["1"])]);
        assert!(!matches(&s, &pod), "an unknown operator selects nothing");
        s.match_expressions = None;
        s.match_labels = Some(labels(&[("app", "codec")]));
        assert!(!matches(&s, &pod));
    }
}
