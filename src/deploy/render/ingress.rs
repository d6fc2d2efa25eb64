//! An Ingress that publishes one Service at one host: every path (`/`, `Prefix`) goes to the
//! Service's named port, with TLS for the host when a Secret is given. The Web UI and the codec
//! server each may have one; browsers reach the codec server directly, so its endpoint is then
//! the Ingress's host.

use super::pod;
use crate::deploy::labels::Owner;
use crate::deploy::manifest::{Kind, Manifest, Step};
use crate::deploy::spec::IngressSpec;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec as KubeIngressSpec, IngressTLS, ServiceBackendPort,
};
use std::collections::BTreeMap;

/// What the Ingress routes to.
pub(crate) struct Backend<'a> {
    /// The object name of the Ingress and of the Service it routes to.
    pub name: &'a str,
    /// The component label.
    pub component: &'a str,
    /// The Service port's name.
    pub port_name: &'a str,
}

/// The Ingress for `spec`, routing every path of its host to `backend`.
pub(crate) fn render(
    owner: &Owner,
    spec: &IngressSpec,
    backend: &Backend<'_>,
    annotations: &BTreeMap<String, String>,
) -> Manifest {
    let mut all_annotations = spec.annotations.clone();
    all_annotations.extend(annotations.clone());
    let ingress = Ingress {
        metadata: pod::meta(owner, backend.name, backend.component, &all_annotations),
        spec: Some(KubeIngressSpec {
            ingress_class_name: spec.class_name.clone(),
            tls: spec.tls_secret_name.as_ref().map(|secret| {
                vec![IngressTLS {
                    hosts: Some(vec![spec.host.clone()]),
                    secret_name: Some(secret.clone()),
                }]
            }),
            rules: Some(vec![IngressRule {
                host: Some(spec.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: backend.name.to_string(),
                                port: Some(ServiceBackendPort {
                                    name: Some(backend.port_name.to_string()),
                                    number: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            default_backend: None,
        }),
        status: None,
    };
    Manifest::new(Kind::Ingress, Step::Edge, &ingress)
}
