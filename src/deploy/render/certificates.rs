//! cert-manager `Certificate` objects, for the internode and frontend certificates a spec asks
//! cert-manager to issue. The issued Secret holds `tls.crt`, `tls.key` and `ca.crt`, the layout
//! the servers mount.

use super::Context;
use super::names::{self, TemporalService};
use crate::deploy::manifest::{Kind, Manifest, Step};
use crate::deploy::spec::TlsSource;
use serde_json::json;

/// The Secret a certificate's key pair is in.
pub fn secret_name(cluster: &str, which: &str) -> String {
    format!("{cluster}-{which}-tls")
}

/// A Certificate for `which` (`internode` or `frontend`), when its source is cert-manager.
pub fn certificate(ctx: &Context, which: &str, source: &TlsSource) -> Option<Manifest> {
    let TlsSource::CertManager {
        issuer_name,
        issuer_kind,
        duration,
        renew_before,
        extra_dns_names,
    } = source
    else {
        return None;
    };
    let spec = ctx.spec;
    let mut dns_names = if which == "internode" {
        vec![names::internode_server_name(spec)]
    } else {
        let short = names::object(spec, TemporalService::Frontend.component());
        vec![
            names::service_host(spec, TemporalService::Frontend),
            format!("{short}.{}", spec.namespace),
            short,
        ]
    };
    dns_names.extend(extra_dns_names.iter().cloned());
    let usages = if which == "internode" {
        json!(["server auth", "client auth"])
    } else {
        json!(["server auth"])
    };
    let object = json!({
        "metadata": {
            "name": names::object(spec, &format!("{which}-tls")),
            "namespace": spec.namespace,
            "labels": ctx.owner.labels("certificate"),
            "annotations": ctx.annotations,
        },
        "spec": {
            "secretName": secret_name(&spec.name, which),
            "duration": duration,
            "renewBefore": renew_before,
            "dnsNames": dns_names,
            "usages": usages,
            "privateKey": { "algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always" },
            "issuerRef": { "name": issuer_name, "kind": issuer_kind, "group": "cert-manager.io" },
        },
    });
    Some(Manifest::new(Kind::Certificate, Step::Foundation, &object))
}
