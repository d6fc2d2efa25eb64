//! Pure rendering: a spec in, the Kubernetes objects out, always the same objects in the same
//! order for the same spec (no clocks, no randomness). `engram render` prints exactly these.

mod certificates;
pub(crate) mod codec;
mod ingress;
mod keyring;
mod monitoring;
pub(crate) mod names;
mod network;
mod pod;
mod schema;
pub(crate) mod server_config;
mod servers;
mod web;

use super::labels::{Owner, SHARD_COUNT_ANNOTATION, Stack, digest};
use super::manifest::{Kind, Manifest, Step, to_yaml_stream};
use super::spec::{CodecServerSpec, KeyringSecretSpec, TemporalClusterSpec, TlsSource};
use super::validate::{self, SpecError};
use super::version::TemporalVersion;
use k8s_openapi::api::core::v1::Namespace;
use std::collections::BTreeMap;

pub use codec::{KEYRING_KEY, endpoint as codec_endpoint};
pub use servers::config_map_name;

/// What one renderer call needs besides the spec: the owner and the annotations every object
/// carries.
pub(crate) struct Context<'a> {
    spec: &'a TemporalClusterSpec,
    owner: Owner,
    annotations: BTreeMap<String, String>,
}

/// The objects of one deployment, in apply order, with the owner that labels them.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Whose objects these are.
    pub owner: Owner,
    /// The objects, in apply order.
    pub objects: Vec<Manifest>,
    /// The Temporal version (Temporal clusters only), for the upgrade check.
    pub temporal_version: Option<TemporalVersion>,
}

impl Rendered {
    /// The objects as one YAML stream.
    pub fn to_yaml(&self) -> String {
        to_yaml_stream(&self.objects)
    }
}

/// The Secret a TLS source's key pair is in.
pub(crate) fn tls_secret_name(
    spec: &TemporalClusterSpec,
    which: &str,
    source: &TlsSource,
) -> String {
    match source {
        TlsSource::ExistingSecret { secret_name } => secret_name.clone(),
        TlsSource::CertManager { .. } => certificates::secret_name(&spec.name, which),
    }
}

/// The owner of a Temporal cluster's objects.
pub fn temporal_owner(spec: &TemporalClusterSpec) -> Owner {
    Owner {
        stack: Stack::Temporal,
        namespace: spec.namespace.clone(),
        instance: spec.name.clone(),
        cluster: spec.name.clone(),
    }
}

/// The owner's namespace, labelled for the restricted Pod Security Standard in every mode; a
/// stack that creates its namespace also deletes it on destroy.
fn restricted_namespace(owner: &Owner, annotations: &BTreeMap<String, String>) -> Manifest {
    let mut labels = owner.labels("namespace");
    for mode in ["enforce", "audit", "warn"] {
        labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            "restricted".into(),
        );
    }
    let mut meta = pod::meta(owner, &owner.namespace, "namespace", annotations);
    meta.namespace = None;
    meta.labels = Some(labels);
    let namespace = Namespace {
        metadata: meta,
        ..Namespace::default()
    };
    Manifest::new(Kind::Namespace, Step::Namespace, &namespace)
}

/// Renders a Temporal cluster. Fails only on an invalid spec.
pub fn temporal_cluster(spec: &TemporalClusterSpec) -> Result<Rendered, SpecError> {
    let release = validate::temporal_cluster(spec)?;
    let version = release.version;
    let ctx = Context {
        spec,
        owner: temporal_owner(spec),
        annotations: BTreeMap::from([(
            SHARD_COUNT_ANNOTATION.to_string(),
            spec.history_shard_count.to_string(),
        )]),
    };
    let config = server_config::render(spec);
    let dynamic_config = server_config::render_dynamic(spec);
    let config_hash = digest(&format!("{config}\n---\n{dynamic_config}"));
    let mut objects = Vec::new();
    if spec.create_namespace {
        objects.push(restricted_namespace(&ctx.owner, &ctx.annotations));
    }
    objects.push(servers::service_account(&ctx));
    objects.push(servers::config_map(&ctx, &config));
    objects.push(servers::dynamic_config_map(&ctx, &dynamic_config));
    for (which, source) in [
        ("internode", &spec.tls.internode),
        ("frontend", &spec.tls.frontend),
    ] {
        if let Some(source) = source {
            objects.extend(certificates::certificate(&ctx, which, source));
        }
    }
    let services = names::services_with_specs(spec);
    for (service, _) in &services {
        objects.push(servers::service(&ctx, &release, *service));
    }
    objects.extend(network::policies(&ctx));
    for (service, settings) in &services {
        let budget = &settings.disruption_budget;
        objects.extend(servers::disruption_budget(
            &ctx,
            service.component(),
            &names::object(spec, service.component()),
            settings.replicas,
            budget.enabled,
            budget.max_unavailable,
        ));
    }
    objects.push(schema::setup(&ctx, &release));
    objects.push(schema::update(&ctx, &release));
    for (service, settings) in &services {
        objects.push(servers::deployment(
            &ctx,
            &release,
            *service,
            settings,
            &config_hash,
        ));
    }
    objects.extend(web::web_ui(&ctx));
    objects.extend(web::admin_tools(&ctx, &release));
    if spec.metrics.service_monitor {
        objects.push(monitoring::service_monitor(&ctx));
    }
    if spec.metrics.prometheus_rule {
        objects.push(monitoring::prometheus_rule(&ctx));
    }
    objects.sort_by_key(|m| m.step);
    Ok(Rendered {
        owner: ctx.owner,
        objects,
        temporal_version: Some(version),
    })
}

/// Renders a codec server. Fails only on an invalid spec.
pub fn codec_server(spec: &CodecServerSpec) -> Result<Rendered, SpecError> {
    validate::codec_server(spec)?;
    let mut objects = codec::render(spec);
    if spec.create_namespace {
        objects.push(restricted_namespace(&codec::owner(spec), &BTreeMap::new()));
    }
    objects.sort_by_key(|m| m.step);
    Ok(Rendered {
        owner: codec::owner(spec),
        objects,
        temporal_version: None,
    })
}

/// Renders a keyring Secret. Fails only on an invalid spec.
pub fn keyring_secret(spec: &KeyringSecretSpec) -> Result<Rendered, SpecError> {
    validate::keyring_secret(spec)?;
    Ok(Rendered {
        owner: keyring::owner(spec),
        objects: keyring::render(spec),
        temporal_version: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::spec::{NodeAffinity, NodeRequirement, WeightedNodeRequirement};

    fn quickstart() -> TemporalClusterSpec {
        crate::deploy::SpecFile::parse(include_str!("../../../examples/deploy/quickstart.yaml"))
            .unwrap()
            .temporal_cluster
            .unwrap()
    }

    fn deployment<'r>(rendered: &'r Rendered, name: &str) -> &'r serde_json::Value {
        &rendered
            .objects
            .iter()
            .find(|m| m.kind == Kind::Deployment && m.object["metadata"]["name"] == name)
            .unwrap()
            .object
    }

    fn images(rendered: &Rendered) -> Vec<String> {
        let mut images: Vec<String> = rendered
            .objects
            .iter()
            .filter_map(|m| m.object.pointer("/spec/template/spec"))
            .flat_map(|pod| {
                ["containers", "initContainers"]
                    .into_iter()
                    .flat_map(|list| pod[list].as_array().cloned().unwrap_or_default())
            })
            .map(|c| c["image"].as_str().unwrap().to_string())
            .collect();
        images.sort();
        images.dedup();
        images
    }

    #[test]
    fn a_registry_goes_before_every_image_that_names_none_and_the_server_tag_wins() {
        let mut spec = quickstart();
        let before = images(&temporal_cluster(&spec).unwrap());
        assert!(
            before.contains(&"temporalio/server:1.32.0".to_string()),
            "{before:?}"
        );
        spec.images.registry = Some("registry.example.com/mirror".into());
        spec.images.server_tag = Some("1.32.0-mirror".into());
        spec.images.ui = "ghcr.io/example/ui".into();
        let after = images(&temporal_cluster(&spec).unwrap());
        assert!(
            after.contains(&"registry.example.com/mirror/temporalio/server:1.32.0-mirror".into()),
            "{after:?}"
        );
        assert!(
            after.contains(&"registry.example.com/mirror/temporalio/admin-tools:1.32.0".into()),
            "{after:?}"
        );
        assert!(
            after.iter().any(|i| i.starts_with("ghcr.io/example/ui:")),
            "a repository with its own registry keeps it: {after:?}"
        );
        assert_eq!(after.len(), before.len());

        spec.images.registry = Some("https://registry.example.com/".into());
        spec.images.server_tag = Some("-mirror".into());
        let error = temporal_cluster(&spec).unwrap_err();
        let fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["images.registry", "images.server_tag"]);
        assert!(error.problems[0].reason.contains("scheme"), "{error}");
    }

    #[test]
    fn node_affinity_reaches_its_role_only_and_nothing_is_rendered_without_it() {
        let mut spec = quickstart();
        let plain = temporal_cluster(&spec).unwrap();
        spec.services.history.node_affinity = Some(NodeAffinity::default());
        assert_eq!(
            deployment(&temporal_cluster(&spec).unwrap(), "temporal-history")["spec"],
            deployment(&plain, "temporal-history")["spec"],
            "an empty affinity renders nothing"
        );
        assert!(
            deployment(&plain, "temporal-history")
                .pointer("/spec/template/spec/affinity")
                .is_none()
        );
        spec.services.history.node_affinity = Some(NodeAffinity {
            required: vec![
                NodeRequirement {
                    key: "node.example.com/pool".into(),
                    operator: "In".into(),
                    values: vec!["temporal".into()],
                },
                NodeRequirement {
                    key: "node.example.com/spot".into(),
                    operator: "DoesNotExist".into(),
                    values: vec![],
                },
            ],
            preferred: vec![WeightedNodeRequirement {
                weight: 50,
                key: "topology.kubernetes.io/zone".into(),
                operator: "In".into(),
                values: vec!["eu-west-1a".into()],
            }],
        });
        let rendered = temporal_cluster(&spec).unwrap();
        assert_eq!(
            deployment(&rendered, "temporal-history")["spec"]["template"]["spec"]["affinity"],
            serde_json::json!({ "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": { "nodeSelectorTerms": [{
                    "matchExpressions": [
                        { "key": "node.example.com/pool", "operator": "In", "values": ["temporal"] },
                        { "key": "node.example.com/spot", "operator": "DoesNotExist" }
                    ]
                }] },
                "preferredDuringSchedulingIgnoredDuringExecution": [{
                    "weight": 50,
                    "preference": { "matchExpressions": [
                        { "key": "topology.kubernetes.io/zone", "operator": "In", "values": ["eu-west-1a"] }
                    ] }
                }]
            } })
        );
        assert!(
            deployment(&rendered, "temporal-matching")
                .pointer("/spec/template/spec/affinity")
                .is_none()
        );
    }

    #[test]
    fn a_spec_without_the_new_fields_serializes_as_before() {
        let json = serde_json::to_value(quickstart()).unwrap();
        assert!(json["images"].get("registry").is_none());
        assert!(json["images"].get("server_tag").is_none());
        assert!(json["services"]["history"].get("node_affinity").is_none());
    }
}
