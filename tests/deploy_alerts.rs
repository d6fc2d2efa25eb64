//! The rendered alert rules in Prometheus's own tool and against Temporal's real metrics:
//! `promtool check rules` accepts them, `promtool test rules` proves each alert fires on series
//! shaped as Temporal emits them and stays silent on a healthy cluster (long polls included),
//! and a scrape of the real server's `/metrics` has every metric and label the rules use.

#[path = "support/mod.rs"]
mod support;

use engram::deploy::{Kind, SpecFile, TemporalClusterSpec, render_temporal_cluster};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

fn production() -> TemporalClusterSpec {
    let path = support::repo_root().join("examples/deploy/production.yaml");
    SpecFile::parse(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .temporal_cluster
        .unwrap()
}

/// The rendered PrometheusRule's rules.
fn rules(spec: &TemporalClusterSpec) -> Value {
    let rendered = render_temporal_cluster(spec).unwrap();
    let rule = rendered
        .objects
        .into_iter()
        .find(|m| m.kind == Kind::PrometheusRule)
        .unwrap();
    rule.object["spec"].clone()
}

/// Bucket bounds of Temporal's histograms, as its `/metrics` serves them (seen on the pinned
/// dev server: dimensionless histograms such as persistence_shard_rps, and latencies in
/// seconds).
const DIMENSIONLESS_BUCKETS: [&str; 17] = [
    "1", "2", "5", "10", "20", "50", "100", "200", "500", "1000", "2000", "5000", "10000", "20000",
    "50000", "100000", "+Inf",
];
const SECONDS_BUCKETS: [&str; 20] = [
    "0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2", "5", "10",
    "20", "50", "100", "200", "500", "1000", "+Inf",
];

/// The series of a histogram whose observations all fall at `value`, 60 of them a minute.
fn histogram(name: &str, labels: &str, buckets: &[&str], value: f64) -> Vec<Value> {
    buckets
        .iter()
        .map(|le| {
            let bound = if *le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            let per_minute = if value <= bound { 60 } else { 0 };
            json!({
                "series": format!("{name}_bucket{{{labels},le=\"{le}\"}}"),
                "values": format!("0+{per_minute}x40"),
            })
        })
        .collect()
}

/// The series of a cluster: `hot` puts every budget above 90%, otherwise all stay far below,
/// while long-waiting calls take a minute (which a latency alert must not count).
fn cluster_series(hot: bool) -> Vec<Value> {
    let target = |service: &str| format!("namespace=\"temporal-prod\",service=\"prod-{service}\"");
    let pick = |hot_value: f64, calm: f64| if hot { hot_value } else { calm };
    let mut series = Vec::new();
    series.extend(histogram(
        "persistence_shard_rps",
        &format!("{},service_name=\"history\"", target("history")),
        &DIMENSIONLESS_BUCKETS,
        pick(150.0, 15.0),
    ));
    series.extend(histogram(
        "persistence_latency",
        &format!(
            "{},service_name=\"history\",operation=\"UpdateWorkflowExecution\",exported_namespace=\"payments\"",
            target("history")
        ),
        &SECONDS_BUCKETS,
        pick(0.8, 0.015),
    ));
    series.extend(histogram(
        "service_latency",
        &format!(
            "{},service_name=\"frontend\",operation=\"StartWorkflowExecution\",exported_namespace=\"payments\"",
            target("frontend")
        ),
        &SECONDS_BUCKETS,
        pick(1.5, 0.015),
    ));
    for operation in [
        "PollWorkflowTaskQueue",
        "PollActivityTaskQueue",
        "PollWorkflowExecutionHistory",
        "UpdateWorkflowExecution",
        "ExecuteMultiOperation",
    ] {
        series.extend(histogram(
            "service_latency",
            &format!(
                "{},service_name=\"frontend\",operation=\"{operation}\",exported_namespace=\"payments\"",
                target("frontend")
            ),
            &SECONDS_BUCKETS,
            60.0,
        ));
    }
    for (name, value) in [
        ("persistence_sql_in_use", pick(48.0, 5.0)),
        ("persistence_sql_max_open_conn", 50.0),
    ] {
        series.push(json!({
            "series": format!("{name}{{{},service_name=\"history\",pod=\"prod-history-0\",db_kind=\"main\"}}", target("history")),
            "values": format!("{value}x40"),
        }));
    }
    series
}

fn expected(rule: &Value) -> Value {
    let mut labels = rule["labels"].clone();
    if rule["expr"].as_str().unwrap().contains("max by (pod)") {
        labels["pod"] = json!("prod-history-0");
    }
    json!({ "exp_labels": labels, "exp_annotations": rule["annotations"] })
}

fn promtool(args: &[&str], dir: &std::path::Path) -> String {
    let output = Command::new(support::tool("promtool"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool");
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn prometheus_accepts_the_rules_and_each_alert_fires_only_when_its_budget_is_spent() {
    let spec = production();
    let rules = rules(&spec);
    let dir = support::temp_dir("engram-alerts-");
    let rules_yaml = serde_yaml_ng::to_string(&rules).unwrap();
    std::fs::write(dir.path().join("rules.yml"), &rules_yaml).unwrap();
    let checked = promtool(&["check", "rules", "rules.yml"], dir.path());
    let all: Vec<&Value> = rules["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert!(
        checked.contains(&format!("{} rules found", all.len())),
        "{checked}"
    );
    assert_eq!(all.len(), 8, "four alerts, each at 70% and 90%");

    let mut tests = Vec::new();
    for hot in [true, false] {
        let alert_tests: Vec<Value> = all
            .iter()
            .map(|rule| {
                json!({
                    "eval_time": "30m",
                    "alertname": rule["alert"],
                    "exp_alerts": if hot { vec![expected(rule)] } else { Vec::new() },
                })
            })
            .collect();
        tests.push(json!({
            "interval": "1m",
            "input_series": cluster_series(hot),
            "alert_rule_test": alert_tests,
        }));
    }
    let test_file = json!({
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": tests,
    });
    std::fs::write(
        dir.path().join("test.yml"),
        serde_yaml_ng::to_string(&test_file).unwrap(),
    )
    .unwrap();
    let tested = promtool(&["test", "rules", "test.yml"], dir.path());
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
fn the_shard_alert_uses_the_budget_that_sized_the_cluster() {
    let mut spec = production();
    spec.metrics.shard_capacity_per_second = 250.0;
    let rules = rules(&spec);
    let shard = rules["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["alert"] == "TemporalHistoryShardLoadCritical")
        .unwrap();
    let expr = shard["expr"].as_str().unwrap();
    assert!(expr.contains("persistence_shard_rps_bucket"), "{expr}");
    assert!(expr.ends_with("> 225"), "{expr}");
}

/// The metric selectors of a PromQL expression: each `name{labels}`, with the label names.
fn selectors(expr: &str) -> Vec<(String, BTreeSet<String>)> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(open) = rest.find('{') {
        let name: String = rest[..open]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let close = rest[open..].find('}').unwrap() + open;
        let labels = rest[open + 1..close]
            .split(',')
            .filter_map(|m| {
                m.split(['=', '!', '~'])
                    .next()
                    .map(|l| l.trim().to_string())
            })
            .filter(|l| !l.is_empty())
            .collect();
        out.push((name, labels));
        rest = &rest[close + 1..];
    }
    out
}

/// Labels Prometheus adds to every target a ServiceMonitor finds, so Temporal does not emit
/// them (a Temporal `namespace` label is renamed `exported_namespace`).
const TARGET_LABELS: [&str; 4] = ["namespace", "service", "pod", "job"];

/// Metrics the dev server cannot show: the SQL connection pool gauges are reported once a
/// minute by the SQL plugins' connection handle (common/persistence/sql/sqlplugin/db_metrics.go
/// `report`, v1.29.7: persistence_sql_max_open_conn, persistence_sql_in_use), which the dev
/// server's in-process SQLite store never emits. Their names are pinned here from that source.
const NOT_ON_THE_DEV_SERVER: [&str; 2] =
    ["persistence_sql_in_use", "persistence_sql_max_open_conn"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_and_label_the_rules_use_is_served_by_a_real_temporal() {
    let metrics_port = support::free_port();
    let server = support::TemporalDevServer::start_with(support::DevServerOptions {
        metrics_port: Some(metrics_port),
        ..support::DevServerOptions::default()
    });
    for id in ["alerts-1", "alerts-2"] {
        server.cli(&[
            "workflow",
            "start",
            "--type",
            "Probe",
            "--task-queue",
            "alerts",
            "--workflow-id",
            id,
        ]);
    }
    let wanted: Vec<(String, BTreeSet<String>)> = rules(&production())["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| selectors(r["expr"].as_str().unwrap()))
        .collect();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{metrics_port}/metrics");
    // The per-shard histogram is first recorded 30 s after start
    // (common/persistence/health_signal_aggregator.go `emitMetricsInterval`).
    let deadline = Instant::now() + Duration::from_secs(120);
    let text = loop {
        let text = client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"))
            .text()
            .await
            .unwrap();
        if text.contains("persistence_shard_rps_bucket") || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    for (metric, labels) in &wanted {
        if NOT_ON_THE_DEV_SERVER.contains(&metric.as_str()) {
            continue;
        }
        let served: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{metric}{{")))
            .collect();
        assert!(!served.is_empty(), "the real server serves no `{metric}`");
        for label in labels {
            if TARGET_LABELS.contains(&label.as_str()) {
                continue;
            }
            assert!(
                served.iter().any(|l| l.contains(&format!("{label}=\""))),
                "`{metric}` has no label `{label}` on the real server"
            );
        }
    }
    assert!(
        wanted
            .iter()
            .any(|(m, l)| m == "service_latency_bucket" && l.contains("operation"))
    );
}
