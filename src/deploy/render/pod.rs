//! Pieces every pod shares: restricted Pod Security contexts, probes, resources, topology
//! spread, and the object metadata with the cluster's labels and annotations.

use crate::deploy::labels::Owner;
use crate::deploy::spec::{NodeAffinity, Resources, Spread, Toleration};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, EnvVar, EnvVarSource, LocalObjectReference, NodeSelector,
    NodeSelectorRequirement, NodeSelectorTerm, PodSecurityContext, PreferredSchedulingTerm, Probe,
    ResourceRequirements, SeccompProfile, SecretKeySelector, SecurityContext, TCPSocketAction,
    TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The metadata of an object of `owner` in `component`, with extra annotations.
pub fn meta(
    owner: &Owner,
    name: &str,
    component: &str,
    annotations: &BTreeMap<String, String>,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(owner.namespace.clone()),
        labels: Some(owner.labels(component)),
        annotations: (!annotations.is_empty()).then(|| annotations.clone()),
        ..ObjectMeta::default()
    }
}

/// A selector matching exactly these labels.
pub fn selector(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        ..LabelSelector::default()
    }
}

/// Pod-level security for the restricted Pod Security Standard.
pub fn pod_security(user: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(user),
        run_as_group: Some(user),
        fs_group: Some(user),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// Container-level security for the restricted Pod Security Standard.
pub fn container_security(user: i64) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        run_as_user: Some(user),
        run_as_group: Some(user),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        ..SecurityContext::default()
    }
}

/// Requests and limits.
pub fn resources(r: &Resources) -> ResourceRequirements {
    let pair = |cpu: &str, memory: &str| {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.to_string())),
            ("memory".to_string(), Quantity(memory.to_string())),
        ])
    };
    ResourceRequirements {
        requests: Some(pair(&r.cpu_request, &r.memory_request)),
        limits: Some(pair(&r.cpu_limit, &r.memory_limit)),
        ..ResourceRequirements::default()
    }
}

/// A TCP probe on a named port: works whether or not the port speaks TLS.
pub fn tcp_probe(port: &str, initial_delay_seconds: i32, period_seconds: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String(port.to_string()),
            ..TCPSocketAction::default()
        }),
        initial_delay_seconds: Some(initial_delay_seconds),
        period_seconds: Some(period_seconds),
        timeout_seconds: Some(5),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

/// One constraint per topology key, spreading the component's pods.
pub fn spread(spec: &Spread, labels: &BTreeMap<String, String>) -> Vec<TopologySpreadConstraint> {
    spec.topology_keys
        .iter()
        .map(|key| TopologySpreadConstraint {
            topology_key: key.clone(),
            max_skew: spec.max_skew,
            when_unsatisfiable: spec.when_unsatisfiable.clone(),
            label_selector: Some(selector(labels.clone())),
            ..TopologySpreadConstraint::default()
        })
        .collect()
}

/// `imagePullSecrets` naming these Secrets; unset when there are none.
pub fn pull_secrets(names: &[String]) -> Option<Vec<LocalObjectReference>> {
    (!names.is_empty()).then(|| {
        names
            .iter()
            .map(|name| LocalObjectReference { name: name.clone() })
            .collect()
    })
}

/// `nodeSelector`; unset when empty.
pub fn node_selector(labels: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!labels.is_empty()).then(|| labels.clone())
}

/// `tolerations`; unset when there are none.
pub fn tolerations(given: &[Toleration]) -> Option<Vec<k8s_openapi::api::core::v1::Toleration>> {
    (!given.is_empty()).then(|| {
        given
            .iter()
            .map(|t| k8s_openapi::api::core::v1::Toleration {
                key: t.key.clone(),
                operator: Some(t.operator.clone()),
                value: t.value.clone(),
                effect: t.effect.clone(),
                toleration_seconds: t.toleration_seconds,
            })
            .collect()
    })
}

/// `affinity` with the node affinity asked for: the required expressions ANDed in one term, each
/// preferred expression its own weighted term. Unset when nothing is asked for, so pods of a
/// spec without it are rendered as before.
pub fn affinity(given: Option<&NodeAffinity>) -> Option<Affinity> {
    let given = given.filter(|a| !a.is_empty())?;
    let expression = |key: &str, operator: &str, values: &[String]| NodeSelectorRequirement {
        key: key.to_string(),
        operator: operator.to_string(),
        // `values` is omitempty (core/v1): none is sent rather than an empty list.
        values: (!values.is_empty()).then(|| values.to_vec()),
    };
    let term = |expressions: Vec<NodeSelectorRequirement>| NodeSelectorTerm {
        match_expressions: Some(expressions),
        match_fields: None,
    };
    let required = (!given.required.is_empty()).then(|| NodeSelector {
        node_selector_terms: vec![term(
            given
                .required
                .iter()
                .map(|r| expression(&r.key, &r.operator, &r.values))
                .collect(),
        )],
    });
    let preferred = (!given.preferred.is_empty()).then(|| {
        given
            .preferred
            .iter()
            .map(|p| PreferredSchedulingTerm {
                weight: p.weight,
                preference: term(vec![expression(&p.key, &p.operator, &p.values)]),
            })
            .collect()
    });
    Some(Affinity {
        node_affinity: Some(k8s_openapi::api::core::v1::NodeAffinity {
            required_during_scheduling_ignored_during_execution: required,
            preferred_during_scheduling_ignored_during_execution: preferred,
        }),
        ..Affinity::default()
    })
}

/// An environment variable read from a Secret key.
pub fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_string(),
                key: key.to_string(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// A plain environment variable.
pub fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        ..EnvVar::default()
    }
}

/// A writable scratch directory at `/tmp`, since the root filesystem is read-only.
pub fn tmp() -> (Volume, VolumeMount) {
    (
        Volume {
            name: "tmp".into(),
            empty_dir: Some(Default::default()),
            ..Volume::default()
        },
        mount("tmp", "/tmp"),
    )
}

/// A read-only mount of a volume.
pub fn mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.to_string(),
        mount_path: path.to_string(),
        // `readOnly` is a plain bool with omitempty (core/v1 VolumeMount): a real server stores
        // no `false`, so one is never sent, or the object would never look applied.
        read_only: (volume != "tmp").then_some(true),
        ..VolumeMount::default()
    }
}

/// A volume from a Secret, readable by the pod's group only.
pub fn secret_volume(volume: &str, secret: &str) -> Volume {
    Volume {
        name: volume.to_string(),
        secret: Some(k8s_openapi::api::core::v1::SecretVolumeSource {
            secret_name: Some(secret.to_string()),
            default_mode: Some(0o440),
            ..Default::default()
        }),
        ..Volume::default()
    }
}

/// A volume with only the named keys of a Secret, each at its path, readable by the pod's
/// group only: a pod that needs a CA certificate gets no private key beside it.
pub fn secret_items_volume(volume: &str, secret: &str, items: &[(&str, &str)]) -> Volume {
    let mut v = secret_volume(volume, secret);
    if let Some(source) = v.secret.as_mut() {
        source.items = Some(
            items
                .iter()
                .map(|(key, path)| k8s_openapi::api::core::v1::KeyToPath {
                    key: key.to_string(),
                    path: path.to_string(),
                    ..Default::default()
                })
                .collect(),
        );
    }
    v
}

/// A volume from a ConfigMap.
pub fn config_map_volume(volume: &str, config_map: &str) -> Volume {
    Volume {
        name: volume.to_string(),
        config_map: Some(k8s_openapi::api::core::v1::ConfigMapVolumeSource {
            name: config_map.to_string(),
            ..Default::default()
        }),
        ..Volume::default()
    }
}
