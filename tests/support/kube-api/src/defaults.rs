//! The defaults the real API server fills in, so clients see the object a cluster would store.
//!
//! Values follow the Kubernetes API's `SetDefaults_*` functions for the kinds served here. They are
//! applied to every stored object (created or updated); a field the client set is never changed.

use serde_json::{Map, Value, json};

/// Server-assigned values that defaulting needs.
pub struct Context<'a> {
    /// The object's uid (Job selectors use it).
    pub uid: &'a str,
    /// A free cluster IP, used when a Service has none.
    pub cluster_ip: &'a str,
}

/// Fills in the defaults for an object of the given kind.
pub fn apply_defaults(kind: &str, object: &mut Value, context: &Context<'_>) {
    match kind {
        "Deployment" => deployment(object),
        "StatefulSet" => stateful_set(object),
        "Job" => job(object, context.uid),
        "Service" => service(object, context.cluster_ip),
        "Secret" => secret(object),
        "Namespace" => namespace(object),
        "NetworkPolicy" => network_policy(object),
        "Pod" => pod_template(object),
        _ => {}
    }
}

fn object_at<'v>(value: &'v mut Value, key: &str) -> Option<&'v mut Map<String, Value>> {
    let map = value.as_object_mut()?;
    map.entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

fn set_default(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_string(), value);
    }
}

fn rolling_update(spec: &mut Map<String, Value>, key: &str, rolling: Value) {
    let strategy = spec
        .entry(key.to_string())
        .or_insert_with(|| json!({"type": "RollingUpdate"}));
    let Some(strategy) = strategy.as_object_mut() else {
        return;
    };
    set_default(strategy, "type", json!("RollingUpdate"));
    if strategy.get("type") == Some(&json!("RollingUpdate")) {
        let target = strategy
            .entry("rollingUpdate".to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let (Some(target), Value::Object(defaults)) = (target.as_object_mut(), rolling) {
            for (name, value) in defaults {
                set_default(target, &name, value);
            }
        }
    }
}

fn deployment(object: &mut Value) {
    let Some(spec) = object_at(object, "spec") else {
        return;
    };
    set_default(spec, "replicas", json!(1));
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "progressDeadlineSeconds", json!(600));
    rolling_update(
        spec,
        "strategy",
        json!({"maxUnavailable": "25%", "maxSurge": "25%"}),
    );
    if let Some(template) = spec.get_mut("template") {
        pod_template(template);
    }
}

fn stateful_set(object: &mut Value) {
    let Some(spec) = object_at(object, "spec") else {
        return;
    };
    set_default(spec, "replicas", json!(1));
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "podManagementPolicy", json!("OrderedReady"));
    set_default(
        spec,
        "persistentVolumeClaimRetentionPolicy",
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
    );
    rolling_update(spec, "updateStrategy", json!({"partition": 0}));
    if let Some(template) = spec.get_mut("template") {
        pod_template(template);
    }
}

fn job(object: &mut Value, uid: &str) {
    let name = object
        .pointer("/metadata/name")
        .cloned()
        .unwrap_or_default();
    let Some(spec) = object_at(object, "spec") else {
        return;
    };
    set_default(spec, "backoffLimit", json!(6));
    set_default(spec, "completions", json!(1));
    set_default(spec, "parallelism", json!(1));
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    set_default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    if spec.get("manualSelector") != Some(&json!(true)) {
        set_default(
            spec,
            "selector",
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
        );
    }
    if let Some(template) = spec.get_mut("template") {
        let labels = object_at(template, "metadata").and_then(|m| object_at_map(m, "labels"));
        if let Some(labels) = labels {
            set_default(labels, "batch.kubernetes.io/controller-uid", json!(uid));
            set_default(labels, "controller-uid", json!(uid));
            set_default(labels, "batch.kubernetes.io/job-name", json!(name));
            set_default(labels, "job-name", json!(name));
        }
        pod_template(template);
    }
}

fn pod_template(template: &mut Value) {
    let Some(spec) = object_at(template, "spec") else {
        return;
    };
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            containers.iter_mut().for_each(container);
        }
    }
    if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
        volumes.iter_mut().for_each(volume);
    }
}

/// SetDefaults_Volume (no source: an emptyDir) and the volume sources' defaultMode 0644
/// (SetDefaults_SecretVolumeSource, _ConfigMapVolumeSource, _DownwardAPIVolumeSource,
/// _ProjectedVolumeSource), core/v1 defaults.go.
fn volume(volume: &mut Value) {
    let Some(map) = volume.as_object_mut() else {
        return;
    };
    if map.keys().all(|k| k == "name") {
        map.insert("emptyDir".into(), json!({}));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(Value::Object(source)) = map.get_mut(source) {
            set_default(source, "defaultMode", json!(420));
        }
    }
}

/// SetDefaults_Probe and SetDefaults_HTTPGetAction (core/v1 defaults.go).
fn probe(probe: &mut Value) {
    let Some(map) = probe.as_object_mut() else {
        return;
    };
    set_default(map, "timeoutSeconds", json!(1));
    set_default(map, "periodSeconds", json!(10));
    set_default(map, "successThreshold", json!(1));
    set_default(map, "failureThreshold", json!(3));
    if let Some(Value::Object(get)) = map.get_mut("httpGet") {
        set_default(get, "path", json!("/"));
        set_default(get, "scheme", json!("HTTP"));
    }
}

fn container(container: &mut Value) {
    let Some(map) = container.as_object_mut() else {
        return;
    };
    let image = map.get("image").and_then(Value::as_str).unwrap_or_default();
    let policy = if image_is_latest(image) {
        "Always"
    } else {
        "IfNotPresent"
    };
    set_default(map, "imagePullPolicy", json!(policy));
    set_default(map, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(map, "terminationMessagePolicy", json!("File"));
    if let Some(Value::Array(ports)) = map.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(port, "protocol", json!("TCP"));
        }
    }
    for kind in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(found) = map.get_mut(kind).filter(|p| p.is_object()) {
            probe(found);
        }
    }
}

/// `:latest` or no tag (and no digest) means Always, as the real defaulting does.
fn image_is_latest(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

fn service(object: &mut Value, cluster_ip: &str) {
    let Some(spec) = object_at(object, "spec") else {
        return;
    };
    set_default(spec, "type", json!("ClusterIP"));
    set_default(spec, "sessionAffinity", json!("None"));
    let service_type = spec.get("type").and_then(Value::as_str).unwrap_or_default();
    if service_type != "ExternalName" {
        set_default(spec, "clusterIP", json!(cluster_ip));
        let ip = spec.get("clusterIP").cloned().unwrap_or_default();
        set_default(spec, "clusterIPs", json!([ip]));
        set_default(spec, "ipFamilies", json!(["IPv4"]));
        set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
        set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(port, "protocol", json!("TCP"));
            // SetDefaults_Service: a zero targetPort (0 or "") becomes the port.
            let unset = matches!(port.get("targetPort"), None | Some(Value::Null))
                || port.get("targetPort") == Some(&json!(0))
                || port.get("targetPort") == Some(&json!(""));
            if unset && let Some(number) = port.get("port").cloned() {
                port.insert("targetPort".into(), number);
            }
        }
    }
}

fn secret(object: &mut Value) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    set_default(map, "type", json!("Opaque"));
    let Some(Value::Object(string_data)) = map.remove("stringData") else {
        return;
    };
    let data = map
        .entry("data".to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(data) = data.as_object_mut() {
        use base64::Engine;
        for (key, value) in string_data {
            let text = value.as_str().unwrap_or_default();
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            data.insert(key, json!(encoded));
        }
    }
}

fn namespace(object: &mut Value) {
    let name = object
        .pointer("/metadata/name")
        .cloned()
        .unwrap_or_default();
    if let Some(labels) = object_at(object, "metadata").and_then(|m| object_at_map(m, "labels")) {
        labels.insert("kubernetes.io/metadata.name".into(), name);
    }
    if let Some(spec) = object_at(object, "spec") {
        set_default(spec, "finalizers", json!(["kubernetes"]));
    }
    if let Some(status) = object_at(object, "status") {
        set_default(status, "phase", json!("Active"));
    }
}

fn object_at_map<'m>(
    map: &'m mut Map<String, Value>,
    key: &str,
) -> Option<&'m mut Map<String, Value>> {
    map.entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

fn network_policy(object: &mut Value) {
    let Some(spec) = object_at(object, "spec") else {
        return;
    };
    for direction in ["ingress", "egress"] {
        if let Some(Value::Array(rules)) = spec.get_mut(direction) {
            for rule in rules.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(Value::Array(ports)) = rule.get_mut("ports") {
                    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                        set_default(port, "protocol", json!("TCP"));
                    }
                }
            }
        }
    }
    if spec.get("policyTypes").is_none() {
        let mut types = vec![json!("Ingress")];
        if spec.get("egress").is_some_and(|e| !e.is_null()) {
            types.push(json!("Egress"));
        }
        spec.insert("policyTypes".into(), Value::Array(types));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_pull_policy_follows_the_tag() {
        assert!(image_is_latest("nginx"));
        assert!(image_is_latest("nginx:latest"));
        assert!(image_is_latest("localhost:5000/app"));
        assert!(!image_is_latest("localhost:5000/app:1.2"));
        assert!(!image_is_latest("nginx@sha256:abc"));
    }
}
