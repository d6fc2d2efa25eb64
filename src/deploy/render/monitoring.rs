//! Prometheus Operator objects: a ServiceMonitor for every Temporal Service's metrics port, and
//! a PrometheusRule whose alerts fire at 70% (warning) and 90% (critical) of the shard,
//! persistence and latency budgets the spec states.

use super::Context;
use super::names::{self, TemporalService};
use crate::deploy::labels::STACK_LABEL;
use crate::deploy::manifest::{Kind, Manifest, Step};
use serde_json::{Value, json};

/// The warning threshold, as a share of the budget.
pub const WARNING: f64 = 0.7;
/// The critical threshold, as a share of the budget.
pub const CRITICAL: f64 = 0.9;

fn metadata(ctx: &Context, name: &str) -> Value {
    json!({
        "name": name,
        "namespace": ctx.owner.namespace,
        "labels": ctx.owner.labels("monitoring"),
        "annotations": ctx.annotations,
    })
}

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

/// The PrometheusRule.
pub fn prometheus_rule(ctx: &Context) -> Manifest {
    let spec = ctx.spec;
    let m = &spec.metrics;
    let ns = &spec.namespace;
    let history = names::object(spec, TemporalService::History.component());
    let frontend = names::object(spec, TemporalService::Frontend.component());
    let all = format!("{}-.*", spec.name);
    let shards = spec.history_shard_count;
    let shard_capacity = m.shard_requests_per_second_capacity;
    let persistence_budget = m.persistence_latency_budget_seconds;
    let frontend_budget = m.frontend_latency_budget_seconds;
    let mut rules = Vec::new();
    rules.extend(pair(
        "TemporalHistoryShardLoad",
        |share| {
            format!(
                "sum(rate(service_requests{{namespace=\"{ns}\",service=\"{history}\"}}[5m])) / {shards} > {}",
                shard_capacity * share
            )
        },
        "Requests per history shard",
    ));
    rules.extend(pair(
        "TemporalPersistencePoolUsage",
        |share| {
            format!(
                "max by (pod) (persistence_sql_in_use{{namespace=\"{ns}\",service=~\"{all}\"}} / persistence_sql_max_open_conn{{namespace=\"{ns}\",service=~\"{all}\"}}) > {share}"
            )
        },
        "Database connections in use",
    ));
    rules.extend(pair(
        "TemporalPersistenceLatency",
        |share| {
            format!(
                "histogram_quantile(0.99, sum by (le) (rate(persistence_latency_bucket{{namespace=\"{ns}\",service=~\"{all}\"}}[5m]))) > {}",
                persistence_budget * share
            )
        },
        "p99 persistence latency",
    ));
    rules.extend(pair(
        "TemporalFrontendLatency",
        |share| {
            format!(
                "histogram_quantile(0.99, sum by (le) (rate(service_latency_bucket{{namespace=\"{ns}\",service=\"{frontend}\",operation!~\"Poll.*|GetWorkflowExecutionHistory\"}}[5m]))) > {}",
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
