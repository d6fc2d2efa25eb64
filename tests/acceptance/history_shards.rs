//! `engram_history_shards` through Terraform, and agreement with `engram shard-calc`.

use crate::terraform::{Version, Workspace};
use serde_json::Value as Json;
use std::process::Command;

const PROVIDER: &str = r#"
terraform {
  required_providers {
    engram = { source = "engram/engram" }
  }
}
provider "engram" {}
"#;

fn workspace(version: Version, data_source_body: &str) -> Workspace {
    Workspace::new(
        version,
        &format!(
            "{PROVIDER}\ndata \"engram_history_shards\" \"s\" {{\n{data_source_body}\n}}\noutput \"all\" {{ value = data.engram_history_shards.s }}\n"
        ),
    )
}

fn example_applies_and_replans_empty(version: Version) {
    let ws = Workspace::from_example(version, "shard-sizing");
    ws.ok(&["validate", "-no-color"]);
    ws.apply();
    let out = ws.outputs();
    assert_eq!(out["history_shard_count"], 512);
    assert_eq!(out["history_pods"], 3);
    assert!(
        out["rationale"]
            .as_str()
            .unwrap()
            .contains("= 285.71 shards"),
        "{}",
        out["rationale"]
    );
    ws.assert_no_changes();
}

#[test]
fn shard_sizing_example_applies_and_replans_empty_on_1_15_5() {
    example_applies_and_replans_empty(Version::V1_15_5);
}

#[test]
fn shard_sizing_example_applies_and_replans_empty_on_1_0_3() {
    example_applies_and_replans_empty(Version::V1_0_3);
}

#[test]
fn a_variable_changes_the_recommendation() {
    let ws = Workspace::from_example(Version::V1_15_5, "shard-sizing");
    ws.set_vars("peak_workflows_per_second = 8000\n");
    ws.apply();
    // 8000 x 20 x 2 / 140 = 2285.7 shards -> 4096.
    assert_eq!(ws.outputs()["history_shard_count"], 4096);
}

#[test]
fn cli_and_data_source_give_identical_numbers() {
    let args = [
        ("peak_workflows_per_second", "1000"),
        ("state_transitions_per_workflow", "35"),
        ("peak_open_workflows", "750000"),
        ("persistence_write_latency_ms", "4.5"),
        ("target_utilization", "0.6"),
        ("growth_factor", "3"),
        ("environment", "uat"),
    ];
    let mut cli = Command::new(env!("CARGO_BIN_EXE_engram"));
    cli.arg("shard-calc").args(["--output", "json"]);
    for (k, v) in args {
        cli.arg(format!("--{}", k.replace('_', "-"))).arg(v);
    }
    let out = cli.output().expect("run engram");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_cli: Json = serde_json::from_slice(&out.stdout).expect("json");

    let body: String = args
        .iter()
        .map(|(k, v)| {
            if *k == "environment" {
                format!("  {k} = \"{v}\"\n")
            } else {
                format!("  {k} = {v}\n")
            }
        })
        .collect();
    let ws = workspace(Version::V1_15_5, &body);
    ws.apply();
    let from_tf = &ws.outputs()["all"];

    let recommendation = from_cli["recommendation"].as_object().unwrap();
    assert_eq!(recommendation.len(), 9);
    let inputs = from_cli["inputs"].as_object().unwrap();
    for (field, value) in recommendation.iter().chain(inputs) {
        assert!(
            same(&from_tf[field], value),
            "{field} differs: data source {} vs CLI {value}",
            from_tf[field]
        );
    }
}

/// Equal values, numbers compared by value (Terraform prints 35000 where serde prints 35000.0).
fn same(a: &Json, b: &Json) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[test]
fn defaults_are_filled_and_shown() {
    let ws = workspace(Version::V1_15_5, "  peak_workflows_per_second = 10");
    ws.apply();
    let all = &ws.outputs()["all"];
    assert_eq!(all["target_utilization"], 0.7);
    assert_eq!(all["growth_factor"], 2.0);
    assert_eq!(all["environment"], "prod");
    assert_eq!(all["history_shard_count"], 512);
    ws.assert_no_changes();
}

fn rejected(body: &str) -> String {
    let ws = workspace(Version::V1_15_5, body);
    let run = ws.run(&["plan", "-no-color", "-input=false"]);
    assert_eq!(run.code, 1, "plan should fail:\n{}", run.all());
    run.all()
}

#[test]
fn negative_peak_is_rejected_with_the_attribute_and_the_fix() {
    let out = rejected("  peak_workflows_per_second = -5");
    assert!(out.contains("Invalid peak_workflows_per_second"), "{out}");
    assert!(out.contains("must be a number greater than 0"), "{out}");
    assert!(out.contains("e.g. 250"), "{out}");
}

#[test]
fn every_bad_input_is_named_in_one_run() {
    let out = rejected(
        "  peak_workflows_per_second = 0\n  target_utilization = 1.5\n  growth_factor = 0.5\n  persistence_write_latency_ms = 0\n  state_transitions_per_workflow = 0\n",
    );
    for field in [
        "peak_workflows_per_second",
        "target_utilization",
        "growth_factor",
        "persistence_write_latency_ms",
        "state_transitions_per_workflow",
    ] {
        assert!(
            out.contains(&format!("Invalid {field}")),
            "{field} not named:\n{out}"
        );
    }
}

#[test]
fn unknown_environment_lists_the_choices() {
    let out = rejected("  peak_workflows_per_second = 10\n  environment = \"staging\"");
    assert!(out.contains("Invalid environment"), "{out}");
    assert!(
        out.contains("expected one of dev, test, uat, prod"),
        "{out}"
    );
}

#[test]
fn fractional_open_workflows_are_rejected() {
    let out = rejected("  peak_workflows_per_second = 10\n  peak_open_workflows = 2.5");
    assert!(out.contains("Invalid peak_open_workflows"), "{out}");
}

#[test]
fn absurd_load_is_rejected() {
    let out = rejected("  peak_workflows_per_second = 1e9");
    assert!(out.contains("at most 1000000"), "{out}");
}

#[test]
fn missing_required_input_is_reported_by_terraform() {
    let out = rejected("  environment = \"dev\"");
    assert!(out.contains("peak_workflows_per_second"), "{out}");
    assert!(out.contains("required"), "{out}");
}

#[test]
fn a_failed_apply_writes_no_state() {
    let ws = workspace(Version::V1_15_5, "  peak_workflows_per_second = -1");
    let run = ws.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        !ws.file_exists("terraform.tfstate")
            || !ws
                .file("terraform.tfstate")
                .contains("engram_history_shards"),
        "state was written for a failed apply"
    );
}

#[test]
fn cli_rejects_bad_flags_naming_them() {
    let out = Command::new(env!("CARGO_BIN_EXE_engram"))
        .args([
            "shard-calc",
            "--peak-workflows-per-second=-3",
            "--growth-factor=0",
        ])
        .output()
        .expect("run engram");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--peak-workflows-per-second: must be a number greater than 0"),
        "{err}"
    );
    assert!(
        err.contains("--growth-factor: must be a number at least 1"),
        "{err}"
    );
}

#[test]
fn cli_table_shows_the_count_and_the_arithmetic() {
    let out = Command::new(env!("CARGO_BIN_EXE_engram"))
        .args(["shard-calc", "--peak-workflows-per-second", "1000"])
        .output()
        .expect("run engram");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("history_shard_count"), "{text}");
    assert!(text.contains("1024"), "{text}");
    assert!(text.contains("can never change"), "{text}");
}

#[test]
fn cli_yaml_output_parses() {
    let out = Command::new(env!("CARGO_BIN_EXE_engram"))
        .args([
            "shard-calc",
            "--peak-workflows-per-second",
            "1",
            "--environment",
            "dev",
            "--output",
            "yaml",
        ])
        .output()
        .expect("run engram");
    assert!(out.status.success());
    let doc: serde_json::Value = serde_yaml_ng::from_slice(&out.stdout).expect("yaml");
    assert_eq!(doc["recommendation"]["history_shard_count"], 4);
}

#[test]
fn a_load_beyond_the_largest_count_and_an_odd_count_are_said_in_the_plan() {
    let ws = workspace(Version::V1_15_5, "  peak_workflows_per_second = 100000");
    let run = ws.ok(&["plan", "-no-color", "-input=false"]);
    let out = run.all();
    assert!(
        out.contains("Warning: Load beyond what the largest shard count carries"),
        "{out}"
    );
    assert!(out.contains("16384 shards"), "{out}");

    let ws = Workspace::new(
        Version::V1_15_5,
        &format!(
            r#"{PROVIDER}
resource "engram_temporal_cluster" "odd" {{
  name                = "odd"
  namespace           = "temporal"
  version             = "1.32.0"
  history_shard_count = 3
  persistence = {{
    default    = {{ host = "h", database = "t", user = "u", password_secret = {{ name = "s", key = "p" }} }}
    visibility = {{ host = "h", database = "v", user = "u", password_secret = {{ name = "s", key = "p" }} }}
  }}
}}
"#
        ),
    );
    let run = ws.run(&["validate", "-no-color"]);
    let out = run.all();
    assert!(out.contains("Shard count is not a power of two"), "{out}");
    assert!(out.contains("2 or 4"), "{out}");
}
