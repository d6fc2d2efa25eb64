//! Operation timeouts: the `timeouts { create = "30m" }` block users expect, and parsing of its
//! duration strings.

use super::diag::Diagnostics;
use super::path::AttributePath;
use super::schema::{Attribute, Block, Nesting};
use super::types::Type;
use super::validators::Validator;
use super::value::Value;
use std::time::Duration;

/// The name of the block.
pub const BLOCK: &str = "timeouts";

/// Adds a `timeouts` block with the given operations (e.g. `["create", "update", "delete"]`)
/// to a resource's top-level block.
pub fn add_block(block: Block, operations: &[&str]) -> Block {
    let attrs = operations
        .iter()
        .map(|op| {
            Attribute::new(op, Type::String)
                .validate(DurationText)
                .description(&format!(
                    "How long `{op}` may take, as a duration such as `\"30m\"` or `\"1h30m\"`."
                ))
        })
        .collect();
    block.block(
        BLOCK,
        Nesting::Single,
        Block::new("Operation timeouts.", attrs),
        1,
    )
}

/// Checks a timeout at plan time, so a malformed one never waits for apply to be reported.
struct DurationText;

impl Validator for DurationText {
    fn validate(&self, path: &AttributePath, value: &Value, diags: &mut Diagnostics) {
        if value.as_str().and_then(parse_duration).is_none() {
            diags.attribute_error(
                path.clone(),
                format!("Invalid {path}"),
                not_a_duration(value),
            );
        }
    }
}

fn not_a_duration(value: &Value) -> String {
    format!(
        "{:?} is not a duration; use a number with a unit: \"90s\", \"20m\", \"1h30m\".",
        value.as_str().unwrap_or_default()
    )
}

/// The timeout for `operation` from a resource's configuration or state, else `default`.
/// A malformed duration is an error on its attribute.
pub fn get(value: &Value, operation: &str, default: Duration, diags: &mut Diagnostics) -> Duration {
    let Some(text) = value.get(BLOCK).get(operation).as_str() else {
        return default;
    };
    match parse_duration(text) {
        Some(d) => d,
        None => {
            diags.attribute_error(
                AttributePath::root(BLOCK).attr(operation),
                format!("Invalid {BLOCK}.{operation}"),
                not_a_duration(value.get(BLOCK).get(operation)),
            );
            default
        }
    }
}

/// Parses Go-style durations with units h, m, s, ms: `"1h30m"`, `"45s"`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += Duration::try_from_secs_f64(number * seconds).ok()?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compound_durations() {
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        for bad in ["", "10", "5 minutes", "m", "-1m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_timeouts_name_their_attribute() {
        let v = Value::object([(BLOCK, Value::object([("create", Value::string("soon"))]))]);
        let mut d = Diagnostics::default();
        let t = get(&v, "create", Duration::from_secs(60), &mut d);
        assert_eq!(t, Duration::from_secs(60));
        let diag = d.iter().next().unwrap();
        assert_eq!(
            diag.attribute.as_ref().unwrap().to_string(),
            "timeouts.create"
        );
    }
}
