//! The rendered deployment checked against what each supported Temporal release really is:
//! image tags that were published, probes only on ports the role opens, no volume hiding a file
//! the image carries, the images' own start commands kept where the pod relies on them, Job
//! names that follow their template, and mounts limited to what each pod reads. The facts come
//! from `engram::deploy::temporal_versions`, whose comments name the sources; these tests make
//! every renderer obey them for every release.

#[path = "support/mod.rs"]
mod support;

use engram::deploy::temporal_versions::{self, Release, SUPPORTED, UI_IMAGE_FILES};
use engram::deploy::{SpecFile, TemporalClusterSpec, render_temporal_cluster};
use serde_json::Value;
use std::collections::BTreeSet;

fn example(name: &str) -> SpecFile {
    let path = support::repo_root().join(format!("examples/deploy/{name}.yaml"));
    SpecFile::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every supported release, at its newest patch, or for 1.29 at the newest patch whose admin
/// tools tag is known.
fn supported_versions() -> Vec<String> {
    SUPPORTED
        .iter()
        .map(|r| {
            let patch = if r.minor == 29 { 1 } else { r.newest_patch };
            format!("1.{}.{patch}", r.minor)
        })
        .collect()
}

/// The quickstart and production clusters at `version`, rendered.
fn rendered_at(version: &str) -> Vec<(String, TemporalClusterSpec, Vec<Value>)> {
    ["quickstart", "production"]
        .into_iter()
        .map(|name| {
            let mut spec = example(name).temporal_cluster.unwrap();
            spec.version = version.into();
            let objects = render_temporal_cluster(&spec)
                .unwrap_or_else(|e| panic!("{name} at {version}: {e}"))
                .objects
                .into_iter()
                .map(|m| m.object)
                .collect();
            (format!("{name}@{version}"), spec, objects)
        })
        .collect()
}

fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap()
}

fn kind(object: &Value) -> &str {
    object["kind"].as_str().unwrap()
}

fn component(object: &Value) -> &str {
    object["metadata"]["labels"]["app.kubernetes.io/component"]
        .as_str()
        .unwrap_or_default()
}

fn pod_spec(object: &Value) -> Option<&Value> {
    object.pointer("/spec/template/spec")
}

fn containers(pod: &Value) -> Vec<&Value> {
    pod["containers"]
        .as_array()
        .into_iter()
        .chain(pod.get("initContainers").and_then(Value::as_array))
        .flatten()
        .collect()
}

fn volume<'a>(pod: &'a Value, volume: &str) -> &'a Value {
    pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == volume)
        .unwrap_or_else(|| panic!("no volume {volume}"))
}

fn mounts(container: &Value) -> Vec<(&str, &str)> {
    container["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["name"].as_str().unwrap(),
                m["mountPath"].as_str().unwrap(),
            )
        })
        .collect()
}

fn env<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
}

/// The names of the ports a container declares.
fn port_names(container: &Value) -> BTreeSet<&str> {
    container["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["name"].as_str().unwrap())
        .collect()
}

fn release(version: &str) -> Release {
    Release::of(version.parse().unwrap(), None).unwrap()
}

#[test]
fn images_are_the_tags_temporal_published() {
    for version in supported_versions() {
        let release = release(&version);
        for (label, _, objects) in rendered_at(&version) {
            for object in &objects {
                let Some(pod) = pod_spec(object) else {
                    continue;
                };
                for c in containers(pod) {
                    let image = c["image"].as_str().unwrap();
                    let (repository, tag) = image.rsplit_once(':').unwrap();
                    match repository {
                        "temporalio/server" => assert_eq!(tag, version, "{label}"),
                        "temporalio/admin-tools" => {
                            assert_eq!(tag, release.admin_tools_tag(), "{label}")
                        }
                        "temporalio/ui" => {
                            assert_eq!(tag, temporal_versions::UI_VERSION, "{label}")
                        }
                        other => panic!("{label}: unexpected image {other}"),
                    }
                }
            }
        }
    }
    assert_eq!(
        release("1.29.1").admin_tools_tag(),
        "1.29.1-tctl-1.18.4-cli-1.5.0"
    );
    assert_eq!(release("1.30.6").admin_tools_tag(), "1.30.6");
    assert_eq!(release("1.32.0").admin_tools_tag(), "1.32.0");
}

#[test]
fn probes_and_service_ports_use_only_ports_the_role_opens() {
    for version in supported_versions() {
        let release = release(&version);
        for (label, _, objects) in rendered_at(&version) {
            for object in objects.iter().filter(|o| kind(o) == "Deployment") {
                let container = &pod_spec(object).unwrap()["containers"][0];
                let declared = port_names(container);
                for probe in ["readinessProbe", "livenessProbe"] {
                    if let Some(port) = container[probe]
                        .pointer("/tcpSocket/port")
                        .or_else(|| container[probe].pointer("/httpGet/port"))
                    {
                        let port = port.as_str().unwrap();
                        assert!(
                            declared.contains(port),
                            "{label}: {} probes {port}, which it does not open",
                            name(object)
                        );
                    }
                }
                if component(object) == "worker" {
                    let grpc = declared.contains("grpc");
                    assert_eq!(
                        grpc, release.facts.worker_listens_on_grpc,
                        "{label}: the worker's gRPC port"
                    );
                }
            }
            for service in objects.iter().filter(|o| kind(o) == "Service") {
                let deployment = objects
                    .iter()
                    .find(|o| kind(o) == "Deployment" && component(o) == component(service))
                    .unwrap_or_else(|| panic!("{label}: no pods for {}", name(service)));
                let declared = port_names(&pod_spec(deployment).unwrap()["containers"][0]);
                for port in service["spec"]["ports"].as_array().unwrap() {
                    let target = port["targetPort"].as_str().unwrap();
                    assert!(
                        declared.contains(target),
                        "{label}: Service {} targets {target}, which its pods do not open",
                        name(service)
                    );
                }
            }
        }
    }
}

#[test]
fn no_volume_hides_a_file_of_the_image() {
    for version in supported_versions() {
        let release = release(&version);
        for (label, _, objects) in rendered_at(&version) {
            for object in &objects {
                let Some(pod) = pod_spec(object) else {
                    continue;
                };
                for c in containers(pod) {
                    let image = c["image"].as_str().unwrap();
                    let files: &[&str] = if image.starts_with("temporalio/server:") {
                        release.facts.server_image_files
                    } else if image.starts_with("temporalio/admin-tools:") {
                        release.facts.admin_tools_image_files
                    } else {
                        UI_IMAGE_FILES
                    };
                    for (volume, path) in mounts(c) {
                        for file in files {
                            let hidden = *file == path
                                || file.starts_with(&format!("{}/", path.trim_end_matches('/')));
                            assert!(
                                !hidden,
                                "{label}: volume {volume} at {path} hides {file} in {image}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn servers_load_the_mounted_configuration_and_tools_keep_the_image_start() {
    for version in supported_versions() {
        let release = release(&version);
        for (label, _, objects) in rendered_at(&version) {
            let config_map = objects
                .iter()
                .find(|o| kind(o) == "ConfigMap" && name(o).ends_with("-config"))
                .unwrap();
            for object in objects.iter().filter(|o| kind(o) == "Deployment") {
                let pod = pod_spec(object).unwrap();
                let c = &pod["containers"][0];
                match component(object) {
                    "admin-tools" | "web-ui" => {
                        assert!(c.get("command").is_none(), "{label}: {}", name(object));
                        assert!(c.get("args").is_none(), "{label}: {}", name(object));
                    }
                    _ => {
                        assert_eq!(c["command"], serde_json::json!(["temporal-server"]));
                        let args: Vec<&str> = c["args"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|a| a.as_str().unwrap())
                            .collect();
                        let (dir, file) = if release.facts.config_file_flag {
                            assert_eq!(args[0], "--config-file", "{label}");
                            args[1].rsplit_once('/').unwrap()
                        } else {
                            assert_eq!(args[..2], ["--root", "/"], "{label}");
                            assert_eq!(args[2], "--config");
                            assert_eq!(args[4], "--env");
                            (args[3], &*format!("{}.yaml", args[5]).leak())
                        };
                        let config_volume = mounts(c)
                            .into_iter()
                            .find(|(_, path)| *path == dir)
                            .unwrap_or_else(|| panic!("{label}: nothing mounted at {dir}"))
                            .0;
                        assert_eq!(
                            volume(pod, config_volume)["configMap"]["name"],
                            config_map["metadata"]["name"]
                        );
                        assert!(config_map["data"].get(file).is_some(), "{label}: {file}");
                        assert_eq!(args[args.len() - 3..args.len() - 1], ["start", "--service"]);
                    }
                }
            }
        }
    }
}

#[test]
fn unsupported_versions_are_refused_with_the_supported_list() {
    let mut spec = example("quickstart").temporal_cluster.unwrap();
    for (version, wanted) in [
        ("1.28.3", "supported releases: 1.29"),
        ("1.33.0", "supported releases: 1.29"),
        ("1.31.9", "newest known 1.31 release, 1.31.2"),
        ("1.29.5", "set images.admin_tools_tag"),
    ] {
        spec.version = version.into();
        let error = render_temporal_cluster(&spec).unwrap_err();
        assert_eq!(error.problems.len(), 1, "{error}");
        assert_eq!(error.problems[0].field, "version");
        assert!(error.problems[0].reason.contains(wanted), "{error}");
    }
    spec.images.admin_tools_tag = Some("1.29.5-tctl-1.18.4-cli-1.6.0".into());
    let rendered = render_temporal_cluster(&spec).unwrap();
    assert!(
        rendered
            .to_yaml()
            .contains("temporalio/admin-tools:1.29.5-tctl-1.18.4-cli-1.6.0")
    );
    assert_eq!(
        temporal_versions::newest().to_string(),
        "1.32.0",
        "examples and docs use the newest"
    );
    assert_eq!(
        example("quickstart").temporal_cluster.unwrap().version,
        temporal_versions::newest().to_string()
    );
}

fn jobs(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .filter(|o| kind(o) == "Job")
        .map(|o| name(o).to_string())
        .collect()
}

#[test]
fn schema_job_names_follow_their_pod_template() {
    let spec = example("production").temporal_cluster.unwrap();
    let render = |spec: &TemporalClusterSpec| -> Vec<Value> {
        render_temporal_cluster(spec)
            .unwrap()
            .objects
            .into_iter()
            .map(|m| m.object)
            .collect()
    };
    let before = jobs(&render(&spec));
    assert_eq!(before.len(), 2);
    assert!(
        before[0].starts_with("prod-schema-setup-1-32-0-"),
        "{before:?}"
    );
    assert!(
        before[1].starts_with("prod-schema-update-1-32-0-"),
        "{before:?}"
    );
    for name in &before {
        assert!(name.len() <= 63, "{name} is too long for a label value");
    }
    assert_eq!(
        jobs(&render(&spec)),
        before,
        "an unchanged spec keeps its Jobs"
    );
    let mut changes: Vec<TemporalClusterSpec> = Vec::new();
    let mut s = spec.clone();
    s.persistence.default.host = "db2.example.internal".into();
    changes.push(s);
    let mut s = spec.clone();
    s.persistence.visibility.password_secret.name = "other-db".into();
    changes.push(s);
    let mut s = spec.clone();
    s.priority_class_name = Some("other".into());
    changes.push(s);
    let mut s = spec.clone();
    s.persistence.default.tls.ca.as_mut().unwrap().name = "other-ca".into();
    changes.push(s);
    for changed in changes {
        let after = jobs(&render(&changed));
        assert_ne!(after[0], before[0]);
        assert_ne!(after[1], before[1]);
    }
    // A change that only the servers see leaves the Jobs alone.
    let mut s = spec.clone();
    s.services.history.replicas = 7;
    assert_eq!(jobs(&render(&s)), before);
}

#[test]
fn the_setup_job_creates_each_database_first_unless_told_not_to() {
    let mut spec = example("quickstart").temporal_cluster.unwrap();
    spec.persistence.default.host = "fd00::5".into();
    let objects: Vec<Value> = render_temporal_cluster(&spec)
        .unwrap()
        .objects
        .into_iter()
        .map(|m| m.object)
        .collect();
    let setup = objects
        .iter()
        .find(|o| kind(o) == "Job" && name(o).contains("-schema-setup-"))
        .unwrap();
    let pod = pod_spec(setup).unwrap();
    let order: Vec<&str> = pod["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(pod["containers"].as_array().unwrap())
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "default-create",
            "default-setup",
            "visibility-create",
            "visibility-setup"
        ]
    );
    let create = &pod["initContainers"][0];
    let args: Vec<&str> = create["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args.last(), Some(&"create-database"));
    let endpoint = args.iter().position(|a| *a == "--endpoint").unwrap();
    assert_eq!(args[endpoint + 1], "[fd00::5]", "IPv6 hosts in brackets");
    assert!(!args.contains(&"--tls-server-name"));
    spec.persistence.default.create_database = false;
    spec.persistence.visibility.create_database = false;
    let yaml = render_temporal_cluster(&spec).unwrap().to_yaml();
    assert!(!yaml.contains("create-database"));
}

#[test]
fn each_pod_mounts_only_what_it_reads() {
    let (label, _, objects) = rendered_at("1.32.0").remove(1);
    for object in &objects {
        let Some(pod) = pod_spec(object) else {
            continue;
        };
        let secret_keys = |volume: &Value| -> Option<Vec<String>> {
            volume["secret"]["items"].as_array().map(|items| {
                items
                    .iter()
                    .map(|i| i["key"].as_str().unwrap().to_string())
                    .collect()
            })
        };
        for c in containers(pod) {
            for (volume_name, _) in mounts(c) {
                let v = volume(pod, volume_name);
                match component(object) {
                    "schema" => assert!(
                        volume_name.starts_with("sql-ca-"),
                        "{label}: a schema Job mounts {volume_name}"
                    ),
                    "web-ui" | "admin-tools" if v.get("secret").is_some() => {
                        assert_eq!(
                            secret_keys(v),
                            Some(vec!["ca.crt".to_string()]),
                            "{label}: {} mounts more than a CA from {volume_name}",
                            name(object)
                        );
                    }
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn admin_tools_reach_the_frontend_as_the_cli_reads_its_settings() {
    let (label, _, objects) = rendered_at("1.32.0").remove(1);
    let admin = objects
        .iter()
        .find(|o| kind(o) == "Deployment" && component(o) == "admin-tools")
        .unwrap();
    let c = &pod_spec(admin).unwrap()["containers"][0];
    assert!(
        env(c, "TEMPORAL_TLS_ENABLE_HOST_VERIFICATION").is_none(),
        "{label}"
    );
    assert_eq!(env(c, "TEMPORAL_TLS").unwrap()["value"], "true");
    assert!(env(c, "TEMPORAL_TLS_CA").is_some());
    let key = env(c, "TEMPORAL_API_KEY").unwrap();
    assert_eq!(
        key["valueFrom"]["secretKeyRef"]["name"],
        "temporal-admin-token"
    );
    let ui = objects
        .iter()
        .find(|o| kind(o) == "Deployment" && component(o) == "web-ui")
        .unwrap();
    let c = &pod_spec(ui).unwrap()["containers"][0];
    assert_eq!(
        env(c, "TEMPORAL_TLS_ENABLE_HOST_VERIFICATION").unwrap()["value"],
        "true"
    );
    let mut spec = example("production").temporal_cluster.unwrap();
    spec.admin_tools.api_key_secret = None;
    let error = render_temporal_cluster(&spec).unwrap_err();
    assert_eq!(error.problems[0].field, "admin_tools.api_key_secret");
    spec.admin_tools.enabled = false;
    assert!(render_temporal_cluster(&spec).is_ok());
}

/// Whether a selector (matchLabels and `In` expressions) selects pods with `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let matches = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            assert_eq!(e["operator"], "In");
            e["values"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| labels.get(e["key"].as_str().unwrap()) == Some(v))
        });
    matches && expressions
}

#[test]
fn only_server_pods_reach_the_internal_frontend() {
    let (label, _, objects) = rendered_at("1.32.0").remove(1);
    let pod_labels = |component_name: &str| -> Value {
        let object = objects
            .iter()
            .find(|o| kind(o) == "Deployment" && component(o) == component_name)
            .unwrap_or_else(|| panic!("{label}: no {component_name}"));
        object["spec"]["template"]["metadata"]["labels"].clone()
    };
    let internal = pod_labels("internal-frontend");
    for client in ["web-ui", "admin-tools"] {
        let client_labels = pod_labels(client);
        for policy in objects.iter().filter(|o| kind(o) == "NetworkPolicy") {
            if !selects(&policy["spec"]["podSelector"], &internal) {
                continue;
            }
            for rule in policy["spec"]["ingress"].as_array().into_iter().flatten() {
                let admitted = rule["from"].as_array().is_none_or(|peers| {
                    peers.iter().any(|p| {
                        p.get("ipBlock").is_some()
                            || p.get("pod_selector").is_none()
                                && p.get("podSelector").is_none()
                                && p.get("namespaceSelector").is_none()
                            || p.get("podSelector")
                                .is_some_and(|s| selects(s, &client_labels))
                    })
                });
                assert!(
                    !admitted,
                    "{label}: {} admits {client} to the internal frontend",
                    name(policy)
                );
            }
        }
    }
    let mut spec = example("production").temporal_cluster.unwrap();
    spec.tls.internode = None;
    let error = render_temporal_cluster(&spec).unwrap_err();
    assert_eq!(error.problems[0].field, "tls.internode", "{error}");
}

#[test]
fn database_tls_settings_temporal_would_ignore_are_refused() {
    let mut spec = example("quickstart").temporal_cluster.unwrap();
    spec.persistence.default.tls.mode = "verify-ca".into();
    spec.persistence.default.tls.ca = None;
    spec.persistence.visibility.tls.server_name = Some("db.internal".into());
    spec.authorization = None;
    let error = render_temporal_cluster(&spec).unwrap_err();
    let fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "persistence.default.tls.ca",
            "persistence.visibility.tls.server_name"
        ]
    );
}

#[test]
fn authorization_plugins_are_the_ones_temporal_knows() {
    let mut spec = example("production").temporal_cluster.unwrap();
    let auth = spec.authorization.as_mut().unwrap();
    auth.authorizer = "opa".into();
    auth.claim_mapper = "default".into();
    let error = render_temporal_cluster(&spec).unwrap_err();
    let fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["authorization.authorizer"]);
}

#[test]
fn certificates_reload_and_the_configuration_has_no_unknown_key() {
    let (_, _, objects) = rendered_at("1.32.0").remove(1);
    let config = server_config(&objects);
    assert_eq!(config["global"]["tls"]["refreshInterval"], "5m");
    let info = &config["clusterMetadata"]["clusterInformation"]["prod"];
    assert!(info.get("rpcName").is_none());
    assert!(
        config["persistence"]["datastores"]["default"]["sql"]["tls"]
            .get("serverName")
            .is_none()
    );
}

/// The server configuration of a rendered cluster, with its templates expanded.
fn server_config(objects: &[Value]) -> Value {
    let map = objects
        .iter()
        .find(|o| kind(o) == "ConfigMap" && name(o).ends_with("-config"))
        .unwrap();
    let text = map["data"]["docker.yaml"].as_str().unwrap();
    let expanded = text
        .replace(
            "{{ env \"TEMPORAL_DEFAULT_STORE_PASSWORD\" | quote }}",
            "\"x\"",
        )
        .replace(
            "{{ env \"TEMPORAL_VISIBILITY_STORE_PASSWORD\" | quote }}",
            "\"x\"",
        )
        .replace("{{ env \"POD_IP\" }}", "10.0.0.1");
    serde_yaml_ng::from_str(&expanded).unwrap()
}

/// Every leaf path of a configuration, in the key lists' notation: `.`-joined keys, a list of
/// mappings as `name[]`, a list of scalars as a leaf. Paths whose value is null, an empty
/// mapping or an empty list (a structure the printer did not expand) are collected in `nulls`.
fn leaves(value: &Value, path: &str, out: &mut BTreeSet<String>, nulls: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                leaves(child, &child_path, out, nulls);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            for item in items {
                leaves(item, &format!("{path}[]"), out, nulls);
            }
        }
        Value::Array(items) if items.is_empty() => {
            nulls.insert(path.to_string());
        }
        Value::Null | Value::Object(_) => {
            nulls.insert(path.to_string());
        }
        _ => {
            out.insert(path.to_string());
        }
    }
}

/// `path` in the list's notation: each segment kept where the list has keys under it, or `*`
/// where the list has a map there (`persistence.datastores.default.sql` becomes
/// `persistence.datastores.*.sql`).
fn generalize(keys: &[&str], path: &str) -> String {
    let mut out = String::new();
    for segment in path.split('.') {
        let join = |s: &str| {
            if out.is_empty() {
                s.to_string()
            } else {
                format!("{out}.{s}")
            }
        };
        let literal = join(segment);
        let known = |candidate: &str| {
            keys.iter()
                .any(|k| *k == candidate || k.starts_with(&format!("{candidate}.")))
        };
        out = if known(&literal) {
            literal
        } else if known(&join("*")) {
            join("*")
        } else {
            literal
        };
    }
    out
}

/// Whether `path` is a key of the list.
fn known_key(keys: &[&str], path: &str) -> bool {
    let pattern = generalize(keys, path);
    keys.contains(&pattern.as_str())
}

#[test]
fn every_rendered_configuration_key_is_one_the_release_reads() {
    for version in supported_versions() {
        let release = release(&version);
        let keys: Vec<&str> = release.config_keys().collect();
        assert!(keys.len() > 250, "{version}: the key list looks truncated");
        for (label, _, objects) in rendered_at(&version) {
            let mut paths = BTreeSet::new();
            leaves(
                &server_config(&objects),
                "",
                &mut paths,
                &mut BTreeSet::new(),
            );
            for path in &paths {
                assert!(
                    known_key(&keys, path),
                    "{label}: `{path}` is not a configuration key of Temporal {version}"
                );
            }
        }
    }
    // A misspelt key is caught.
    let keys: Vec<&str> = release("1.32.0").config_keys().collect();
    assert!(!known_key(&keys, "global.tls.refreshIntervall"));
    assert!(!known_key(
        &keys,
        "clusterMetadata.clusterInformation.prod.rpcName"
    ));
    assert!(known_key(
        &keys,
        "clusterMetadata.clusterInformation.prod.rpcAddress"
    ));
}

/// The configuration the pinned `temporal server start-dev` prints with `--log-config`: every
/// key of its configuration structure with its zero value.
fn dev_server_config() -> Value {
    let dir = support::temp_dir("engram-log-config-");
    let log = dir.path().join("stderr");
    let port = support::free_port();
    let mut command = std::process::Command::new(support::tool("temporal"));
    command
        .args(["server", "start-dev", "--log-config", "--headless"])
        .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
        .args(["--http-port", &support::free_port().to_string()])
        .args(["--metrics-port", &support::free_port().to_string()])
        .arg("--db-filename")
        .arg(dir.path().join("temporal.db"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let process = support::ServerProcess::spawn("temporal server start-dev", command);
    support::wait_for_port(
        port,
        std::time::Duration::from_secs(90),
        "temporal server start-dev",
    );
    drop(process);
    let text = support::read(&log);
    let start = text
        .find("global:")
        .expect("--log-config printed no configuration");
    let yaml: String = text[start..]
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with(' ') || !l.starts_with('{'))
        .collect::<Vec<_>>()
        .join("\n");
    serde_yaml_ng::from_str(&yaml).expect("the printed configuration is YAML")
}

#[test]
fn the_newest_release_says_itself_which_keys_it_reads() {
    let printed = dev_server_config();
    let version = release(&temporal_versions::newest().to_string());
    let keys: Vec<&str> = version.config_keys().collect();
    let mut real = BTreeSet::new();
    let mut unexpanded = BTreeSet::new();
    leaves(&printed, "", &mut real, &mut unexpanded);
    for section in [
        "global",
        "persistence",
        "log",
        "clusterMetadata",
        "services",
        "archival",
    ] {
        assert!(
            printed.get(section).is_some(),
            "--log-config printed no `{section}`"
        );
    }
    let real: BTreeSet<String> = real.iter().map(|p| generalize(&keys, p)).collect();
    let unexpanded: BTreeSet<String> = unexpanded.iter().map(|p| generalize(&keys, p)).collect();
    // The committed list knows every key the real server has.
    for path in &real {
        assert!(
            keys.contains(&path.as_str()),
            "the server reads `{path}`, which temporal_config_keys/1.32.txt lacks"
        );
    }
    for path in &unexpanded {
        assert!(
            keys.iter().any(|k| k == path
                || k.starts_with(&format!("{path}."))
                || k.starts_with(&format!("{path}[]."))),
            "the server has `{path}`, which temporal_config_keys/1.32.txt lacks"
        );
    }
    // Every rendered key is one the real server printed, or lies in a structure it left
    // unexpanded (`null`) and is in the committed list.
    for (label, _, objects) in rendered_at(&version.version.to_string()) {
        let mut paths = BTreeSet::new();
        leaves(
            &server_config(&objects),
            "",
            &mut paths,
            &mut BTreeSet::new(),
        );
        for path in &paths {
            let pattern = generalize(&keys, path);
            let printed_key = real.contains(&pattern);
            let under_null = unexpanded
                .iter()
                .any(|n| *n == pattern || pattern.starts_with(&format!("{n}.")))
                && keys.contains(&pattern.as_str());
            assert!(
                printed_key || under_null,
                "{label}: `{path}` is not a key the real Temporal {} prints",
                version.version
            );
        }
    }
}
