//! The history-shard calculator.
//!
//! Temporal fixes `numHistoryShards` when a cluster first starts; it can never change afterwards
//! without a new cluster. This module turns numbers a platform team knows (peak load, database
//! latency, how many workflows stay open) into a shard count with the arithmetic shown, so the
//! one irreversible choice is made on evidence. Pure functions: the `engram shard-calc` command
//! and the `engram_history_shards` data source both call [`calculate`], so they cannot disagree.

mod environment;
mod inputs;

pub use environment::Environment;
pub use inputs::{InputError, ShardInputs};

use serde::Serialize;

/// A shard's updates are serialized behind one lock and one database write each, so its ceiling
/// is one write per write latency. Open workflows each hold a mutable state that the shard keeps
/// in its cache and rescans for timers and tasks; beyond this many per shard, cache misses turn
/// into database reads.
pub const OPEN_WORKFLOWS_PER_SHARD: f64 = 10_000.0;

/// The largest shard count the calculator recommends. Beyond it the per-shard overhead (one
/// row, one lease, one set of task queues each) dominates; a load that needs more wants several
/// clusters.
pub const MAX_HISTORY_SHARDS: u32 = 16_384;

/// The history service pods' share of shards that keeps a pod's shard ownership changes, and
/// the memory for its shard caches, within what one pod of the default size handles.
pub const SHARDS_PER_HISTORY_POD: u32 = 512;

/// The recommendation and everything needed to check it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardRecommendation {
    /// The power-of-two shard count to set as `history_shard_count`.
    pub history_shard_count: u32,
    /// Shards the load needs before the environment minimum and rounding.
    pub required_shards: f64,
    /// Peak persistence writes per second that the load produces (starts × transitions).
    pub peak_state_transitions_per_second: f64,
    /// The most writes per second one shard can take: 1000 / p99 write latency in ms.
    pub shard_capacity_per_second: f64,
    /// Writes per second each shard receives at today's peak with the recommended count.
    pub per_shard_load_at_peak: f64,
    /// `per_shard_load_at_peak / shard_capacity_per_second`: compare with the alert thresholds.
    pub utilization_at_peak: f64,
    /// How many times today's peak the recommended count can carry at the target utilization.
    pub headroom_factor: f64,
    /// History service replicas the shard count implies.
    pub history_pods: u32,
    /// The arithmetic, line by line, in words.
    pub rationale: String,
}

/// Computes the recommendation for validated inputs.
pub fn calculate(inputs: &ShardInputs) -> ShardRecommendation {
    let capacity = 1000.0 / inputs.persistence_write_latency_ms;
    let usable = capacity * inputs.target_utilization;
    let peak_writes = inputs.peak_workflows_per_second * inputs.state_transitions_per_workflow;
    let for_throughput = peak_writes * inputs.growth_factor / usable;
    let for_open_workflows =
        inputs.peak_open_workflows as f64 * inputs.growth_factor / OPEN_WORKFLOWS_PER_SHARD;
    let required = for_throughput.max(for_open_workflows);
    let minimum = inputs.environment.minimum_shards();
    let count = (required.ceil() as u32)
        .max(minimum)
        .checked_next_power_of_two()
        .unwrap_or(MAX_HISTORY_SHARDS)
        .min(MAX_HISTORY_SHARDS);
    let per_shard = peak_writes / f64::from(count);
    let utilization = per_shard / capacity;
    let headroom = usable * f64::from(count) / peak_writes;
    let pods = count
        .div_ceil(SHARDS_PER_HISTORY_POD)
        .max(inputs.environment.minimum_history_pods());

    let rationale = [
        format!(
            "Shard capacity: 1000 ms / {} ms p99 write latency = {} writes/s per shard (a shard's updates are serialized).",
            num(inputs.persistence_write_latency_ms),
            num(capacity)
        ),
        format!(
            "Usable at {}% target utilization: {} writes/s per shard.",
            num(inputs.target_utilization * 100.0),
            num(usable)
        ),
        format!(
            "Peak load: {} workflow starts/s x {} state transitions each = {} writes/s.",
            num(inputs.peak_workflows_per_second),
            num(inputs.state_transitions_per_workflow),
            num(peak_writes)
        ),
        format!(
            "For throughput: {} writes/s x {} growth / {} usable = {} shards.",
            num(peak_writes),
            num(inputs.growth_factor),
            num(usable),
            num(for_throughput)
        ),
        format!(
            "For open workflows: {} open x {} growth / {} per shard = {} shards.",
            inputs.peak_open_workflows,
            num(inputs.growth_factor),
            num(OPEN_WORKFLOWS_PER_SHARD),
            num(for_open_workflows)
        ),
        format!(
            "Required: {} shards; {} minimum: {}; next power of two: {}{}.",
            num(required),
            inputs.environment,
            minimum,
            count,
            if required > f64::from(MAX_HISTORY_SHARDS) {
                format!(" (capped at {MAX_HISTORY_SHARDS}: split the load across clusters)")
            } else {
                String::new()
            }
        ),
        format!(
            "At today's peak each shard takes {} writes/s = {}% of capacity (alerts warn at 70%, page at 90%); headroom {}x.",
            num(per_shard),
            num(utilization * 100.0),
            num(headroom)
        ),
        format!(
            "History pods: {} shards / {} per pod, at least {} for {} = {}.",
            count,
            SHARDS_PER_HISTORY_POD,
            inputs.environment.minimum_history_pods(),
            inputs.environment,
            pods
        ),
    ]
    .join("\n");

    ShardRecommendation {
        history_shard_count: count,
        required_shards: round2(required),
        peak_state_transitions_per_second: round2(peak_writes),
        shard_capacity_per_second: round2(capacity),
        per_shard_load_at_peak: round2(per_shard),
        utilization_at_peak: round4(utilization),
        headroom_factor: round2(headroom),
        history_pods: pods,
        rationale,
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// A number for the rationale: at most two decimals, no trailing zeros.
fn num(x: f64) -> String {
    let s = format!("{:.2}", round2(x));
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prod(peak: f64) -> ShardInputs {
        ShardInputs {
            peak_workflows_per_second: peak,
            ..ShardInputs::default()
        }
    }

    #[test]
    fn a_shard_takes_one_write_per_write_latency() {
        let inputs = ShardInputs {
            persistence_write_latency_ms: 5.0,
            ..prod(1.0)
        };
        assert_eq!(calculate(&inputs).shard_capacity_per_second, 200.0);
    }

    #[test]
    fn thousand_starts_per_second_needs_more_than_the_seed_formula_claimed() {
        // 1000/s x 20 transitions = 20,000 writes/s; at 10 ms a shard takes 100/s, 70 usable;
        // x2 growth = 571.4 shards -> 1024.
        let r = calculate(&prod(1000.0));
        assert_eq!(r.peak_state_transitions_per_second, 20_000.0);
        assert_eq!(r.required_shards, 571.43);
        assert_eq!(r.history_shard_count, 1024);
        assert_eq!(r.history_pods, 3);
        assert!(r.rationale.contains("= 571.43 shards"), "{}", r.rationale);
    }

    #[test]
    fn count_is_a_power_of_two_and_at_least_the_environment_minimum() {
        for env in Environment::ALL {
            for peak in [0.01, 1.0, 37.0, 500.0, 2500.0] {
                let r = calculate(&ShardInputs {
                    environment: env,
                    ..prod(peak)
                });
                assert!(r.history_shard_count.is_power_of_two());
                assert!(r.history_shard_count >= env.minimum_shards());
            }
        }
    }

    #[test]
    fn utilization_at_peak_stays_below_target_over_growth() {
        let r = calculate(&prod(3000.0));
        assert!(r.utilization_at_peak <= 0.70 / 2.0 + 1e-9, "{r:?}");
        assert!(r.headroom_factor >= 2.0);
    }

    #[test]
    fn open_workflows_can_dominate() {
        let r = calculate(&ShardInputs {
            peak_open_workflows: 50_000_000,
            ..prod(1.0)
        });
        // 50M x 2 / 10,000 = 10,000 -> 16384.
        assert_eq!(r.history_shard_count, 16_384);
    }

    #[test]
    fn beyond_the_maximum_is_capped_and_said() {
        let r = calculate(&prod(100_000.0));
        assert_eq!(r.history_shard_count, MAX_HISTORY_SHARDS);
        assert!(r.rationale.contains("split the load across clusters"));
    }

    #[test]
    fn dev_preset_is_small() {
        let r = calculate(&ShardInputs {
            environment: Environment::Dev,
            ..prod(1.0)
        });
        assert_eq!(r.history_shard_count, 4);
        assert_eq!(r.history_pods, 1);
    }
}
