//! The calculator's inputs, their defaults and their bounds.

use super::Environment;
use serde::Serialize;

/// What the calculator needs to know, in the units a platform team measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardInputs {
    /// Workflow starts per second at the busiest moment.
    pub peak_workflows_per_second: f64,
    /// State transitions (persistence writes) over a workflow's life; roughly the history
    /// events divided by two for activity-heavy workflows.
    pub state_transitions_per_workflow: f64,
    /// Workflows open at the same time at the peak (including ones sleeping on timers).
    pub peak_open_workflows: u64,
    /// The database's p99 write latency in milliseconds.
    pub persistence_write_latency_ms: f64,
    /// The share of a shard's capacity to plan for (the warning alert fires at 70%).
    pub target_utilization: f64,
    /// How much the load may grow over the cluster's life; shards can never be added later.
    pub growth_factor: f64,
    /// The environment preset that sets floors.
    pub environment: Environment,
}

impl Default for ShardInputs {
    fn default() -> Self {
        Self {
            peak_workflows_per_second: 1.0,
            state_transitions_per_workflow: 20.0,
            peak_open_workflows: 0,
            persistence_write_latency_ms: 10.0,
            target_utilization: 0.70,
            growth_factor: 2.0,
            environment: Environment::Prod,
        }
    }
}

/// An input outside what the model accepts. `field` is the attribute (and, with dashes, the
/// CLI flag) that caused it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InputError {
    /// The snake_case name of the input.
    pub field: &'static str,
    /// What is wrong and what to use instead.
    pub message: String,
}

struct Bound {
    field: &'static str,
    min: f64,
    min_inclusive: bool,
    max: f64,
    hint: &'static str,
}

const BOUNDS: [Bound; 5] = [
    Bound {
        field: "peak_workflows_per_second",
        min: 0.0,
        min_inclusive: false,
        max: 1_000_000.0,
        hint: "workflow starts per second at peak, e.g. 250",
    },
    Bound {
        field: "state_transitions_per_workflow",
        min: 1.0,
        min_inclusive: true,
        max: 1_000_000.0,
        hint: "persistence writes over a workflow's life, e.g. 20",
    },
    Bound {
        field: "persistence_write_latency_ms",
        min: 0.1,
        min_inclusive: true,
        max: 10_000.0,
        hint: "the database's p99 write latency in milliseconds, e.g. 5",
    },
    Bound {
        field: "target_utilization",
        min: 0.0,
        min_inclusive: false,
        max: 1.0,
        hint: "a fraction of shard capacity, e.g. 0.7",
    },
    Bound {
        field: "growth_factor",
        min: 1.0,
        min_inclusive: true,
        max: 1000.0,
        hint: "how many times today's peak the cluster must carry, e.g. 2",
    },
];

/// The largest number of open workflows the model accepts.
pub const MAX_OPEN_WORKFLOWS: u64 = 100_000_000_000;

impl ShardInputs {
    /// Checks every input, returning all problems at once (each names its field).
    pub fn validate(&self) -> Result<(), Vec<InputError>> {
        let values = [
            self.peak_workflows_per_second,
            self.state_transitions_per_workflow,
            self.persistence_write_latency_ms,
            self.target_utilization,
            self.growth_factor,
        ];
        let mut errors: Vec<InputError> = BOUNDS
            .iter()
            .zip(values)
            .filter_map(|(b, v)| check(b, v))
            .collect();
        if self.peak_open_workflows > MAX_OPEN_WORKFLOWS {
            errors.push(InputError {
                field: "peak_open_workflows",
                message: format!(
                    "must be at most {MAX_OPEN_WORKFLOWS}, got {}; a load this size needs several clusters",
                    self.peak_open_workflows
                ),
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn check(b: &Bound, v: f64) -> Option<InputError> {
    let low_ok = if b.min_inclusive {
        v >= b.min
    } else {
        v > b.min
    };
    if v.is_finite() && low_ok && v <= b.max {
        return None;
    }
    let low = if b.min_inclusive {
        "at least"
    } else {
        "greater than"
    };
    Some(InputError {
        field: b.field,
        message: format!(
            "must be a number {low} {} and at most {}, got {v}: give {}",
            b.min, b.max, b.hint
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(ShardInputs::default().validate(), Ok(()));
    }

    #[test]
    fn every_bad_number_is_named() {
        let bad = ShardInputs {
            peak_workflows_per_second: 0.0,
            state_transitions_per_workflow: f64::NAN,
            peak_open_workflows: MAX_OPEN_WORKFLOWS + 1,
            persistence_write_latency_ms: -5.0,
            target_utilization: 1.5,
            growth_factor: f64::INFINITY,
            environment: Environment::Prod,
        };
        let fields: Vec<_> = bad
            .validate()
            .unwrap_err()
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "peak_workflows_per_second",
                "state_transitions_per_workflow",
                "persistence_write_latency_ms",
                "target_utilization",
                "growth_factor",
                "peak_open_workflows"
            ]
        );
    }

    #[test]
    fn message_says_what_to_give() {
        let e = ShardInputs {
            target_utilization: 0.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "target_utilization: must be a number greater than 0 and at most 1, got 0: give a fraction of shard capacity, e.g. 0.7"
        );
    }
}
