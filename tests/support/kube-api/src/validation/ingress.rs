//! Ingress (`networking.k8s.io/v1`) validation, worded as the real server words it.
//!
//! Source: kubernetes/kubernetes pkg/apis/networking/validation/validation.go
//! (`ValidateIngressCreate`, `ValidateIngressSpec`, `validateIngressRules`,
//! `validateHTTPIngressPath`, `validateIngressBackend`, `validateIngressTLS`), at the revision the
//! search index holds near v1.37. Backend Service names are checked as Service names
//! (`ValidateServiceName`, DNS-1035), the stricter of the two rules the server picks between.

use super::{
    Errors, dns1035_label, dns1123_subdomain, invalid, list, not_supported, port_name, port_num,
    present, required, s, text,
};
use serde_json::{Value, json};
use std::net::IpAddr;

/// The path types a path may have (`supportedPathTypes`).
const PATH_TYPES: [&str; 3] = ["Exact", "ImplementationSpecific", "Prefix"];
/// Sequences an `Exact` or `Prefix` path may not contain (`invalidPathSequences`).
const INVALID_PATH_SEQUENCES: [&str; 5] = ["//", "/./", "/../", "%2f", "%2F"];
/// Endings an `Exact` or `Prefix` path may not have (`invalidPathSuffixes`).
const INVALID_PATH_SUFFIXES: [&str; 2] = ["/..", "/."];
/// The legacy class annotation, which must agree with `spec.ingressClassName`.
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// `IsWildcardDNS1123Subdomain`.
fn wildcard_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push(super::max_len_error(253));
    }
    let ok = value
        .strip_prefix("*.")
        .is_some_and(|rest| dns1123_subdomain(rest).is_empty());
    if !ok {
        errs.push(super::regex_error(
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
            "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
            &["*.example.com"],
        ));
    }
    errs
}

/// A host name of a rule or a TLS entry: a wildcard or a plain DNS subdomain.
fn host_messages(host: &str) -> Vec<String> {
    if host.contains('*') {
        wildcard_subdomain(host)
    } else {
        dns1123_subdomain(host)
    }
}

/// Checks an Ingress about to be created or updated.
pub(super) fn ingress(errors: &mut Errors, object: &Value) {
    let spec = object.get("spec").cloned().unwrap_or_else(|| json!({}));
    let rules = list(&spec, "rules");
    if rules.is_empty() && !present(&spec, "defaultBackend") {
        errors.push(invalid(
            "spec",
            &spec.get("rules").cloned().unwrap_or(Value::Null),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(backend) = spec.get("defaultBackend").filter(|v| !v.is_null()) {
        self::backend(errors, backend, "spec.defaultBackend");
    }
    for (i, rule) in rules.iter().enumerate() {
        let base = format!("spec.rules[{i}]");
        let host = text(rule, "host");
        if !host.is_empty() {
            if host.parse::<IpAddr>().is_ok() {
                errors.push(invalid(
                    &format!("{base}.host"),
                    &s(host),
                    "must be a DNS name, not an IP address",
                ));
            }
            errors.messages(&format!("{base}.host"), host, host_messages(host));
        }
        if let Some(http) = rule.get("http").filter(|v| !v.is_null()) {
            let paths = list(http, "paths");
            if paths.is_empty() {
                errors.push(required(&format!("{base}.http.paths"), ""));
            }
            for (j, path) in paths.iter().enumerate() {
                http_path(errors, path, &format!("{base}.http.paths[{j}]"));
            }
        }
    }
    for (i, tls) in list(&spec, "tls").iter().enumerate() {
        for (j, host) in list(tls, "hosts").iter().enumerate() {
            let host = host.as_str().unwrap_or_default();
            errors.messages(
                &format!("spec.tls[{i}].hosts[{j}]"),
                host,
                host_messages(host),
            );
        }
        let secret = text(tls, "secretName");
        if !secret.is_empty() {
            errors.messages(
                &format!("spec.tls[{i}].secretName"),
                secret,
                dns1123_subdomain(secret),
            );
        }
    }
    let class = spec.get("ingressClassName").and_then(Value::as_str);
    if let Some(class) = class {
        errors.messages("spec.ingressClassName", class, dns1123_subdomain(class));
    }
    let annotation = object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(CLASS_ANNOTATION))
        .and_then(Value::as_str);
    if let (Some(annotation), Some(class)) = (annotation, class)
        && annotation != class
    {
        errors.push(invalid(
            &format!("annotations.{CLASS_ANNOTATION}"),
            &s(annotation),
            "must match `ingressClassName` when both are specified",
        ));
    }
}

/// `validateHTTPIngressPath`.
fn http_path(errors: &mut Errors, path: &Value, base: &str) {
    let Some(path_type) = path.get("pathType").and_then(Value::as_str) else {
        errors.push(required(
            &format!("{base}.pathType"),
            "pathType must be specified",
        ));
        return;
    };
    let value = text(path, "path");
    let field = format!("{base}.path");
    match path_type {
        "Exact" | "Prefix" => {
            if !value.starts_with('/') {
                errors.push(invalid(&field, &s(value), "must be an absolute path"));
            }
            if !value.is_empty() {
                for sequence in INVALID_PATH_SEQUENCES {
                    if value.contains(sequence) {
                        errors.push(invalid(
                            &field,
                            &s(value),
                            &format!("must not contain '{sequence}'"),
                        ));
                    }
                }
                for suffix in INVALID_PATH_SUFFIXES {
                    if value.ends_with(suffix) {
                        errors.push(invalid(
                            &field,
                            &s(value),
                            &format!("cannot end with '{suffix}'"),
                        ));
                    }
                }
            }
        }
        "ImplementationSpecific" => {
            if !value.is_empty() && !value.starts_with('/') {
                errors.push(invalid(&field, &s(value), "must be an absolute path"));
            }
        }
        other => errors.push(not_supported(
            &format!("{base}.pathType"),
            &s(other),
            &PATH_TYPES,
        )),
    }
    let backend = path.get("backend").cloned().unwrap_or_else(|| json!({}));
    self::backend(errors, &backend, &format!("{base}.backend"));
}

/// `validateIngressBackend`.
fn backend(errors: &mut Errors, backend: &Value, base: &str) {
    let service = backend.get("service").filter(|v| !v.is_null());
    let resource = backend.get("resource").filter(|v| !v.is_null());
    match (service, resource) {
        (Some(_), Some(_)) => errors.push(invalid(
            base,
            &s(""),
            "cannot set both resource and service backends",
        )),
        (None, Some(resource)) => {
            for key in ["kind", "name"] {
                if text(resource, key).is_empty() {
                    errors.push(required(&format!("{base}.resource.{key}"), ""));
                }
            }
        }
        (Some(service), None) => {
            let name = text(service, "name");
            if name.is_empty() {
                errors.push(required(&format!("{base}.service.name"), ""));
            } else {
                errors.messages(&format!("{base}.service.name"), name, dns1035_label(name));
            }
            let port = service.get("port").cloned().unwrap_or_else(|| json!({}));
            let port_name_value = text(&port, "name");
            let number = port.get("number").and_then(Value::as_i64).unwrap_or(0);
            match (port_name_value.is_empty(), number == 0) {
                (false, false) => errors.push(invalid(
                    base,
                    &s(""),
                    "cannot set both port name & port number",
                )),
                (false, true) => errors.messages(
                    &format!("{base}.service.port.name"),
                    port_name_value,
                    port_name(port_name_value),
                ),
                (true, false) => {
                    for message in port_num(number) {
                        errors.push(invalid(
                            &format!("{base}.service.port.number"),
                            &json!(number),
                            &message,
                        ));
                    }
                }
                (true, true) => errors.push(required(base, "port name or number is required")),
            }
        }
        (None, None) => errors.push(invalid(
            base,
            &s(""),
            "resource or service backend is required",
        )),
    }
}
