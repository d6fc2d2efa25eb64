//! `engram_history_shards`: the history-shard calculator as a data source, so a module can feed
//! the recommendation straight into `engram_temporal_cluster.history_shard_count` and show the
//! arithmetic in its outputs. Same code path as `engram shard-calc`.

use crate::framework::{
    Attribute, AttributePath, Block, Context, DataSource, Diagnostics, Schema, Type, Value,
};
use crate::provider::ProviderSettings;
use crate::sizing::{self, Environment, ShardInputs};
use async_trait::async_trait;

/// The data source.
pub struct HistoryShards;

fn number(name: &str, description: &str) -> Attribute {
    Attribute::new(name, Type::Number).description(description)
}

fn output(name: &str, ty: Type, description: &str) -> Attribute {
    Attribute::new(name, ty).computed().description(description)
}

/// Reads the inputs from configuration, with defaults for what is unset. Problems are
/// diagnostics on the attribute; unknown values are skipped (checked again once known).
fn inputs(config: &Value, diags: &mut Diagnostics) -> Option<ShardInputs> {
    let defaults = ShardInputs::default();
    let mut known = true;
    let mut num = |name: &str, default: f64| match config.get(name) {
        Value::Unknown => {
            known = false;
            default
        }
        v => v.as_f64().unwrap_or(default),
    };
    let mut inputs = ShardInputs {
        peak_workflows_per_second: num(
            "peak_workflows_per_second",
            defaults.peak_workflows_per_second,
        ),
        state_transitions_per_workflow: num(
            "state_transitions_per_workflow",
            defaults.state_transitions_per_workflow,
        ),
        peak_open_workflows: 0,
        persistence_write_latency_ms: num(
            "persistence_write_latency_ms",
            defaults.persistence_write_latency_ms,
        ),
        target_utilization: num("target_utilization", defaults.target_utilization),
        growth_factor: num("growth_factor", defaults.growth_factor),
        environment: defaults.environment,
    };
    match config.get("peak_open_workflows") {
        Value::Unknown => known = false,
        Value::Null => {}
        v => match v.as_f64() {
            Some(n) if n >= 0.0 && n.fract() == 0.0 => inputs.peak_open_workflows = n as u64,
            _ => diags.attribute_error(
                AttributePath::root("peak_open_workflows"),
                "Invalid peak_open_workflows",
                "`peak_open_workflows` must be a whole number of workflows, 0 or more.",
            ),
        },
    }
    match config.get("environment") {
        Value::Unknown => known = false,
        Value::String(s) => match s.parse::<Environment>() {
            Ok(e) => inputs.environment = e,
            Err(e) => diags.attribute_error(
                AttributePath::root("environment"),
                "Invalid environment",
                format!("`environment` {e}. Each sets minimum shard and pod counts."),
            ),
        },
        _ => {}
    }
    if let Err(errors) = inputs.validate() {
        for e in errors {
            if !config.get(e.field).is_unknown() {
                diags.attribute_error(
                    AttributePath::root(e.field),
                    format!("Invalid {}", e.field),
                    e.message,
                );
            }
        }
    }
    (known && !diags.has_errors()).then_some(inputs)
}

#[async_trait]
impl DataSource<ProviderSettings> for HistoryShards {
    fn type_name(&self) -> &'static str {
        "engram_history_shards"
    }

    fn schema(&self) -> Schema {
        let d = ShardInputs::default();
        Schema::new(Block::new(
            "Recommends Temporal's `numHistoryShards`, which can never change after a cluster first starts. See the shard-sizing guide for the model.",
            vec![
                number("peak_workflows_per_second", "Workflow starts per second at the busiest moment.").required(),
                number("state_transitions_per_workflow", "Persistence writes (state transitions) over a workflow's life. Default 20.")
                    .default(Value::float(d.state_transitions_per_workflow)),
                number("peak_open_workflows", "Workflows open at once at the peak, sleeping ones included. Default 0 (not a constraint).")
                    .default(Value::int(0)),
                number("persistence_write_latency_ms", "The database's p99 write latency in milliseconds. Default 10.")
                    .default(Value::float(d.persistence_write_latency_ms)),
                number("target_utilization", "Share of a shard's capacity to plan for, 0–1. Default 0.7 (the warning alert's threshold).")
                    .default(Value::float(d.target_utilization)),
                number("growth_factor", "How many times today's peak the cluster must carry over its life. Default 2.")
                    .default(Value::float(d.growth_factor)),
                Attribute::new("environment", Type::String)
                    .description("`dev`, `test`, `uat` or `prod`: sets minimum shard and pod counts. Default `prod`.")
                    .default(Value::string(d.environment.to_string())),
                output("history_shard_count", Type::Number, "The recommended power-of-two shard count."),
                output("required_shards", Type::Number, "Shards the load needs before minimums and rounding."),
                output("peak_state_transitions_per_second", Type::Number, "Persistence writes per second at peak."),
                output("shard_capacity_per_second", Type::Number, "Writes per second one shard can take."),
                output("per_shard_load_at_peak", Type::Number, "Writes per second each shard takes at today's peak."),
                output("utilization_at_peak", Type::Number, "Share of shard capacity used at today's peak."),
                output("headroom_factor", Type::Number, "Multiples of today's peak the count carries at the target utilization."),
                output("history_pods", Type::Number, "History service replicas the shard count implies."),
                output("rationale", Type::String, "The arithmetic, one step per line."),
            ],
        ))
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        inputs(config, diags);
    }

    async fn read(
        &self,
        _ctx: &Context<ProviderSettings>,
        config: &Value,
        diags: &mut Diagnostics,
    ) -> Value {
        let Some(inputs) = inputs(config, diags) else {
            return Value::Null;
        };
        let r = sizing::calculate(&inputs);
        if r.utilization_at_peak > 1.0 {
            diags.warning(
                "Load beyond what the largest shard count carries",
                format!(
                    "At today's peak each of the {} shards (the most the calculator recommends) would take {} writes/s, {:.0}% of what one shard can do ({} writes/s). The cluster would fall behind at peak; split the load over several clusters or lower the write latency.",
                    r.history_shard_count,
                    r.per_shard_load_at_peak,
                    r.utilization_at_peak * 100.0,
                    r.shard_capacity_per_second
                ),
            );
        }
        Value::object([
            (
                "peak_workflows_per_second",
                Value::float(inputs.peak_workflows_per_second),
            ),
            (
                "state_transitions_per_workflow",
                Value::float(inputs.state_transitions_per_workflow),
            ),
            (
                "peak_open_workflows",
                Value::Number(inputs.peak_open_workflows.into()),
            ),
            (
                "persistence_write_latency_ms",
                Value::float(inputs.persistence_write_latency_ms),
            ),
            (
                "target_utilization",
                Value::float(inputs.target_utilization),
            ),
            ("growth_factor", Value::float(inputs.growth_factor)),
            ("environment", Value::string(inputs.environment.to_string())),
            (
                "history_shard_count",
                Value::int(r.history_shard_count.into()),
            ),
            ("required_shards", Value::float(r.required_shards)),
            (
                "peak_state_transitions_per_second",
                Value::float(r.peak_state_transitions_per_second),
            ),
            (
                "shard_capacity_per_second",
                Value::float(r.shard_capacity_per_second),
            ),
            (
                "per_shard_load_at_peak",
                Value::float(r.per_shard_load_at_peak),
            ),
            ("utilization_at_peak", Value::float(r.utilization_at_peak)),
            ("headroom_factor", Value::float(r.headroom_factor)),
            ("history_pods", Value::int(r.history_pods.into())),
            ("rationale", Value::string(r.rationale)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut v = Value::Object(Default::default());
        for (k, val) in pairs {
            v.set(k, val.clone());
        }
        v
    }

    #[test]
    fn wrong_values_are_named_and_nothing_is_computed() {
        let mut d = Diagnostics::default();
        let c = config(&[
            ("peak_workflows_per_second", Value::float(-1.0)),
            ("environment", Value::string("staging")),
            ("peak_open_workflows", Value::float(1.5)),
        ]);
        assert!(inputs(&c, &mut d).is_none());
        let paths: Vec<_> = d
            .iter()
            .map(|d| d.attribute.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "peak_open_workflows",
                "environment",
                "peak_workflows_per_second"
            ]
        );
    }

    #[test]
    fn unknown_inputs_are_not_errors() {
        let mut d = Diagnostics::default();
        let c = config(&[("peak_workflows_per_second", Value::Unknown)]);
        assert!(inputs(&c, &mut d).is_none());
        assert!(d.is_empty());
    }
}
