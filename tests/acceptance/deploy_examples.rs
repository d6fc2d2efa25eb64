//! Each spec file under examples/deploy, written mechanically as HCL (every YAML field an
//! attribute of the same name), plans through Terraform, and the planned spec renders exactly
//! the objects `engram render` prints for the YAML: the provider accepts every field of the spec
//! and drops none.

use crate::support;
use crate::terraform::{Version, Workspace};
use serde_json::Value as Json;
use std::process::Command;

/// Which resource each section of a spec file is, and its attributes that are no spec field.
const SECTIONS: [(&str, &str, &[&str]); 2] = [
    (
        "temporal_cluster",
        "engram_temporal_cluster",
        &[
            "id",
            "deletion_protection",
            "frontend_address",
            "drift",
            "live_history_shard_count",
            "timeouts",
        ],
    ),
    (
        "codec_server",
        "engram_codec_server",
        &["id", "endpoint", "drift", "timeouts"],
    ),
];

/// An HCL string literal: JSON escapes, and template sequences doubled so they stay literal.
fn hcl_string(s: &str) -> String {
    Json::from(s)
        .to_string()
        .replace("${", "$${")
        .replace("%{", "%%{")
}

/// A JSON value as an HCL expression.
fn hcl(value: &Json) -> String {
    match value {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => hcl_string(s),
        Json::Array(items) => format!("[{}]", items.iter().map(hcl).collect::<Vec<_>>().join(", ")),
        Json::Object(m) => format!(
            "{{\n{}\n}}",
            m.iter()
                .map(|(k, v)| format!("{} = {}", hcl_string(k), hcl(v)))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// A root module with one resource per section of `spec_file`.
fn root_module(spec_file: &Json) -> String {
    let mut config = String::from(
        "terraform {\n  required_providers {\n    engram = { source = \"engram/engram\" }\n  }\n}\nprovider \"engram\" {}\n",
    );
    for (section, type_name, _) in SECTIONS {
        let Some(Json::Object(fields)) = spec_file.get(section) else {
            continue;
        };
        config.push_str(&format!("resource \"{type_name}\" \"example\" {{\n"));
        for (name, value) in fields {
            config.push_str(&format!("  {name} = {}\n", hcl(value)));
        }
        config.push_str("}\n");
    }
    config
}

fn strip_nulls(json: &mut Json) {
    match json {
        Json::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Json::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// The spec file the plan describes: each planned resource's spec attributes.
fn planned_spec_file(plan: &Json) -> Json {
    let resources = plan["planned_values"]["root_module"]["resources"]
        .as_array()
        .expect("planned resources");
    let mut file = serde_json::Map::new();
    for (section, type_name, not_spec) in SECTIONS {
        let Some(resource) = resources.iter().find(|r| r["type"] == type_name) else {
            continue;
        };
        let mut values = resource["values"].clone();
        let map = values.as_object_mut().expect("values object");
        map.retain(|k, _| !not_spec.contains(&k.as_str()));
        strip_nulls(&mut values);
        file.insert(section.to_string(), values);
    }
    Json::Object(file)
}

/// `engram render -f <path>`'s output.
fn engram_render(path: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_engram"))
        .args(["render", "-f"])
        .arg(path)
        .output()
        .expect("run engram render");
    assert!(
        out.status.success(),
        "engram render -f {} failed:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn plans_and_renders_as_the_yaml(name: &str) {
    let yaml_path = support::repo_root().join("examples/deploy").join(name);
    let yaml: Json = serde_yaml_ng::from_str(&support::read(&yaml_path)).expect("example parses");
    let ws = Workspace::new(Version::V1_15_5, &root_module(&yaml));
    ws.ok(&["plan", "-no-color", "-input=false", "-out=tfplan"]);
    let shown = ws.ok(&["show", "-json", "tfplan"]);
    let plan: Json = serde_json::from_str(&shown.stdout).expect("show -json is JSON");
    let planned = planned_spec_file(&plan);
    for (section, _, _) in SECTIONS {
        assert_eq!(
            planned.get(section).is_some(),
            yaml.get(section).is_some(),
            "{name}: {section} planned as described"
        );
    }
    let planned_path = ws.path().join("planned.json");
    std::fs::write(&planned_path, planned.to_string()).expect("write planned spec");
    let from_plan = engram_render(&planned_path);
    let from_yaml = engram_render(&yaml_path);
    assert!(from_yaml.contains("kind: Deployment"), "{from_yaml}");
    assert_eq!(
        from_plan, from_yaml,
        "examples/deploy/{name}: the planned spec renders other objects than the YAML"
    );
}

#[test]
fn the_quickstart_spec_plans_as_hcl_and_renders_as_its_yaml() {
    plans_and_renders_as_the_yaml("quickstart.yaml");
}

#[test]
fn the_production_spec_plans_as_hcl_and_renders_as_its_yaml() {
    plans_and_renders_as_the_yaml("production.yaml");
}

#[test]
fn every_deploy_example_has_a_test() {
    let mut names: Vec<String> = std::fs::read_dir(support::repo_root().join("examples/deploy"))
        .expect("examples/deploy")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(names, ["production.yaml", "quickstart.yaml"]);
}
