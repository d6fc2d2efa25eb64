//! `engram shard-calc`: the history-shard calculator on the command line. Same code path as the
//! `engram_history_shards` data source, so the numbers are identical.

use clap::{Args, ValueEnum};
use engram::sizing::{self, Environment, ShardInputs, ShardRecommendation};
use serde::Serialize;

/// How `shard-calc` prints its result.
#[derive(Clone, Copy, ValueEnum)]
pub enum Output {
    /// A readable table and the arithmetic.
    Table,
    /// JSON: inputs and recommendation.
    Json,
    /// YAML: inputs and recommendation.
    Yaml,
}

/// `engram shard-calc`: the flags mirror `engram_history_shards`' attributes.
#[derive(Args)]
pub struct ShardCalc {
    /// Workflow starts per second at the busiest moment.
    #[arg(long)]
    peak_workflows_per_second: f64,
    /// Persistence writes (state transitions) over a workflow's life.
    #[arg(long, default_value_t = ShardInputs::default().state_transitions_per_workflow)]
    state_transitions_per_workflow: f64,
    /// Workflows open at once at the peak, sleeping ones included.
    #[arg(long, default_value_t = 0)]
    peak_open_workflows: u64,
    /// The database's p99 write latency in milliseconds.
    #[arg(long, default_value_t = ShardInputs::default().persistence_write_latency_ms)]
    persistence_write_latency_ms: f64,
    /// Share of a shard's capacity to plan for (0-1).
    #[arg(long, default_value_t = ShardInputs::default().target_utilization)]
    target_utilization: f64,
    /// How many times today's peak the cluster must carry over its life.
    #[arg(long, default_value_t = ShardInputs::default().growth_factor)]
    growth_factor: f64,
    /// dev, test, uat or prod: sets minimum shard and pod counts.
    #[arg(long, default_value = "prod")]
    environment: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    output: Output,
}

#[derive(Serialize)]
struct Report<'a> {
    inputs: &'a ShardInputs,
    recommendation: &'a ShardRecommendation,
}

/// Runs the calculator; returns the text to print or the error (naming the flag).
pub fn run(args: ShardCalc) -> Result<String, String> {
    let environment: Environment = args
        .environment
        .parse()
        .map_err(|e| format!("--environment: {e}"))?;
    let inputs = ShardInputs {
        peak_workflows_per_second: args.peak_workflows_per_second,
        state_transitions_per_workflow: args.state_transitions_per_workflow,
        peak_open_workflows: args.peak_open_workflows,
        persistence_write_latency_ms: args.persistence_write_latency_ms,
        target_utilization: args.target_utilization,
        growth_factor: args.growth_factor,
        environment,
    };
    inputs.validate().map_err(|errors| {
        errors
            .iter()
            .map(|e| format!("--{}: {}", e.field.replace('_', "-"), e.message))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let r = sizing::calculate(&inputs);
    let report = Report {
        inputs: &inputs,
        recommendation: &r,
    };
    Ok(match args.output {
        Output::Json => serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?,
        Output::Yaml => serde_yaml_ng::to_string(&report).map_err(|e| e.to_string())?,
        Output::Table => table(&r),
    })
}

fn table(r: &ShardRecommendation) -> String {
    let rows = [
        ("history_shard_count", r.history_shard_count.to_string()),
        ("required_shards", r.required_shards.to_string()),
        (
            "peak_state_transitions_per_second",
            r.peak_state_transitions_per_second.to_string(),
        ),
        (
            "shard_capacity_per_second",
            r.shard_capacity_per_second.to_string(),
        ),
        (
            "per_shard_load_at_peak",
            r.per_shard_load_at_peak.to_string(),
        ),
        (
            "utilization_at_peak",
            format!("{:.2}%", r.utilization_at_peak * 100.0),
        ),
        ("headroom_factor", format!("{}x", r.headroom_factor)),
        ("history_pods", r.history_pods.to_string()),
    ];
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out: Vec<String> = rows
        .iter()
        .map(|(k, v)| format!("{k:<width$}  {v}"))
        .collect();
    out.push(String::new());
    out.push("How:".into());
    out.extend(r.rationale.lines().map(|l| format!("  {l}")));
    out.push(String::new());
    out.push(format!(
        "numHistoryShards can never change after the cluster first starts: set history_shard_count = {} before the first apply.",
        r.history_shard_count
    ));
    out.join("\n")
}
