//! Prometheus Operator objects: a ServiceMonitor for every Temporal Service's metrics port, and
//! a PrometheusRule whose alerts fire at 70% (warning) and 90% (critical) of the shard,
//! persistence and latency budgets the spec states.

use super::Context;
use super::names;
use crate::deploy::labels::STACK_LABEL;
use crate::deploy::manifest::{Kind, Manifest, Step};
use serde_json::{Value, json};

/// The warning threshold, as a share of the budget.
pub const WARNING: f64 = 0.7;
/// The critical threshold, as a share of the budget.
pub const CRITICAL: f64 = 0.9;

fn metadata(ctx: &Context, name: &str) -> Value {
    let mut labels = ctx.owner.labels("monitoring");
    labels.extend(ctx.spec.metrics.labels.clone());
    json!({
        "name": name,
        "namespace": ctx.owner.namespace,
        "labels": labels,
        "annotations": ctx.annotations,
    })
}

/// Frontend calls that wait by design (long polls, updates waiting for their outcome, and
/// calls that may wait), excluded from the latency alert. Temporal labels a call with its
/// method name; a waiting GetWorkflowExecutionHistory is labelled PollWorkflowExecutionHistory
/// (common/api/metadata.go `Polling`, v1.29.7 to v1.32.0; common/rpc/interceptor/telemetry.go).
pub const LONG_WAITING_OPERATIONS: &str = "Poll.*|UpdateWorkflowExecution|ExecuteMultiOperation|DescribeActivityExecution|DescribeNexusOperationExecution";

/// The ServiceMonitor.
pub fn service_monitor(ctx: &Context) -> Manifest {
    let spec = ctx.spec;
    let object = json!({
        "metadata": metadata(ctx, &names::object(spec, "metrics")),
        "spec": {
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "temporal",
                    "app.kubernetes.io/instance": spec.name,
                    STACK_LABEL: ctx.owner.stack.label(),
                }
            },
            "namespaceSelector": { "matchNames": [spec.namespace] },
            "endpoints": [{
                "port": "metrics",
                "interval": spec.metrics.scrape_interval,
                "path": "/metrics",
            }],
        },
    });
    Manifest::new(Kind::ServiceMonitor, Step::Edge, &object)
}

fn alert(name: &str, severity: &str, expr: String, summary: String) -> Value {
    json!({
        "alert": name,
        "expr": expr,
        "for": "10m",
        "labels": { "severity": severity },
        "annotations": { "summary": summary },
    })
}

fn pair(name: &str, expr: impl Fn(f64) -> String, what: &str) -> [Value; 2] {
    [
        alert(
            &format!("{name}Warning"),
            "warning",
            expr(WARNING),
            format!("{what} above 70% of its budget"),
        ),
        alert(
            &format!("{name}Critical"),
            "critical",
            expr(CRITICAL),
            format!("{what} above 90% of its budget"),
        ),
    ]
}

/// The PrometheusRule. Series are selected by the labels Prometheus adds from the
/// ServiceMonitor's targets (`namespace`, `service`) and Temporal's own `service_name`; a
/// Temporal `namespace` label on a series arrives as `exported_namespace`.
pub fn prometheus_rule(ctx: &Context) -> Manifest {
    let spec = ctx.spec;
    let m = &spec.metrics;
    let ns = &spec.namespace;
    let all = format!("{}-.*", spec.name);
    let shard_capacity = m.shard_capacity_per_second;
    let persistence_budget = m.persistence_latency_budget_seconds;
    let frontend_budget = m.frontend_latency_budget_seconds;
    let target = format!("namespace=\"{ns}\",service=~\"{all}\"");
    let mut rules = Vec::new();
    rules.extend(pair(
        "TemporalHistoryShardLoad",
        |share| {
            format!(
                "histogram_quantile(0.99, sum by (le) (rate(persistence_shard_rps_bucket{{{target},service_name=\"history\"}}[5m]))) > {}",
                shard_capacity * share
            )
        },
        "Persistence requests per second on the busiest history shards",
    ));
    rules.extend(pair(
        "TemporalPersistencePoolUsage",
        |share| {
            format!(
                "max by (pod) (persistence_sql_in_use{{{target}}} / persistence_sql_max_open_conn{{{target}}}) > {share}"
            )
        },
        "Database connections in use",
    ));
    rules.extend(pair(
        "TemporalPersistenceLatency",
        |share| {
            format!(
                "histogram_quantile(0.99, sum by (le) (rate(persistence_latency_bucket{{{target}}}[5m]))) > {}",
                persistence_budget * share
            )
        },
        "p99 persistence latency",
    ));
    rules.extend(pair(
        "TemporalFrontendLatency",
        |share| {
            format!(
                "histogram_quantile(0.99, sum by (le) (rate(service_latency_bucket{{{target},service_name=\"frontend\",operation!~\"{LONG_WAITING_OPERATIONS}\"}}[5m]))) > {}",
                frontend_budget * share
            )
        },
        "p99 frontend request latency",
    ));
    let object = json!({
        "metadata": metadata(ctx, &names::object(spec, "alerts")),
        "spec": { "groups": [{ "name": format!("temporal-{}", spec.name), "rules": rules }] },
    });
    Manifest::new(Kind::PrometheusRule, Step::Edge, &object)
}
