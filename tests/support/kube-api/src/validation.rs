//! The validation a real API server runs on the built-in kinds the provider writes, worded as the
//! real server words it (field paths from `field.Path`, messages from `field.Error.ErrorBody`).
//!
//! Sources (kubernetes/kubernetes unless noted; the revisions the search index holds, near
//! v1.37): pkg/apis/core/validation/validation.go (object names, pod templates, containers,
//! resources, node affinity, services, config maps, secrets), pkg/apis/apps/validation/validation.go
//! (Deployments), pkg/apis/batch/validation/validation.go (Jobs),
//! pkg/apis/networking/validation/validation.go (NetworkPolicies; Ingresses in `ingress.rs`),
//! pkg/apis/policy/validation/validation.go (PodDisruptionBudgets); and k8s.io/apimachinery
//! v0.37.0-beta.0: pkg/api/validation/objectmeta.go and generic.go (metadata, name functions),
//! pkg/apis/meta/v1/validation/validation.go (labels, label selectors),
//! pkg/util/validation/validation.go, ip.go and pkg/api/validate/content/kube.go (formats),
//! pkg/util/validation/field/errors.go (message wording).

mod ingress;

use crate::quantity::{self, Quantity};
use crate::status::Cause;
use serde_json::{Map, Value, json};
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::net::IpAddr;

// ---------------------------------------------------------------------------------------------
// field.Error constructors (apimachinery pkg/util/validation/field/errors.go).

/// The text `ErrorBody` prints for a bad value: simple types with %v, strings quoted, the rest
/// as JSON.
fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 200 {
        format!("{}...", &text[..text.floor_char_boundary(200)])
    } else {
        text
    }
}

fn cause(kind: &str, field: &str, message: String) -> Cause {
    Cause {
        kind: kind.into(),
        message,
        field: field.into(),
    }
}

/// `field.Invalid`: "Invalid value: <value>: <detail>".
pub fn invalid(field: &str, value: &Value, detail: &str) -> Cause {
    let mut message = format!("Invalid value: {}", show(value));
    if !detail.is_empty() {
        message.push_str(": ");
        message.push_str(detail);
    }
    cause("FieldValueInvalid", field, message)
}

/// `field.Required`: "Required value[: <detail>]".
pub fn required(field: &str, detail: &str) -> Cause {
    let mut message = "Required value".to_string();
    if !detail.is_empty() {
        message.push_str(": ");
        message.push_str(detail);
    }
    cause("FieldValueRequired", field, message)
}

/// `field.NotSupported`: "Unsupported value: <value>: supported values: "a", "b"".
pub fn not_supported(field: &str, value: &Value, supported: &[&str]) -> Cause {
    let quoted: Vec<String> = supported
        .iter()
        .map(|s| Value::String((*s).into()).to_string())
        .collect();
    let mut message = format!("Unsupported value: {}", show(value));
    if !quoted.is_empty() {
        message.push_str(": supported values: ");
        message.push_str(&quoted.join(", "));
    }
    cause("FieldValueNotSupported", field, message)
}

/// `field.Forbidden`: "Forbidden: <detail>".
pub fn forbidden(field: &str, detail: &str) -> Cause {
    cause("FieldValueForbidden", field, format!("Forbidden: {detail}"))
}

/// `field.Duplicate`: "Duplicate value: <value>".
pub fn duplicate(field: &str, value: &Value) -> Cause {
    cause(
        "FieldValueDuplicate",
        field,
        format!("Duplicate value: {}", show(value)),
    )
}

/// `field.NotFound`: "Not found: <value>".
pub fn not_found(field: &str, value: &Value) -> Cause {
    cause(
        "FieldValueNotFound",
        field,
        format!("Not found: {}", show(value)),
    )
}

/// `field.TooLong`: "Too long: may not be more than <n> bytes".
pub fn too_long(field: &str, max: usize) -> Cause {
    let unit = if max == 1 { "byte" } else { "bytes" };
    cause(
        "FieldValueTooLong",
        field,
        format!("Too long: may not be more than {max} {unit}"),
    )
}

/// `field.TooMany`: "Too many: <n>: must have at most <max> items".
pub fn too_many(field: &str, actual: usize, max: usize) -> Cause {
    let unit = if max == 1 { "item" } else { "items" };
    cause(
        "FieldValueTooMany",
        field,
        format!("Too many: {actual}: must have at most {max} {unit}"),
    )
}

// ---------------------------------------------------------------------------------------------
// Formats (apimachinery pkg/util/validation/validation.go, pkg/api/validate/content/kube.go).

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// validation.go `RegexError`.
fn regex_error(message: &str, format: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{message} (regex used for validation is '{format}')");
    }
    // Byte for byte as apimachinery's RegexError builds it, including the double space before
    // " or " (pkg/util/validation/validation.go, apimachinery v0.37.0-beta.0).
    let mut out = format!("{message} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{example}', "));
    }
    out.push_str(&format!("regex used for validation is '{format}')"));
    out
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn matches_dns1123_label(value: &str) -> bool {
    !value.is_empty()
        && value.chars().all(|c| is_label_char(c) || c == '-')
        && value.chars().next().is_some_and(is_label_char)
        && value.chars().last().is_some_and(is_label_char)
}

fn matches_dns1123_subdomain(value: &str) -> bool {
    value.split('.').all(matches_dns1123_label)
}

/// `IsDNS1123Label`.
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            errs.push("must not contain dots".into());
        } else {
            errs.push(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// `IsDNS1123Subdomain`.
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push(max_len_error(253));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// `IsDNS1035Label`.
pub fn dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len_error(63));
    }
    let ok = !value.is_empty()
        && value.chars().all(|c| is_label_char(c) || c == '-')
        && value.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && value.chars().last().is_some_and(is_label_char);
    if !ok {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

fn matches_label_key_name(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    !name.is_empty()
        && name
            .chars()
            .all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
        && name.chars().next().is_some_and(alnum)
        && name.chars().last().is_some_and(alnum)
}

/// `IsQualifiedName` (content.IsLabelKey).
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".into());
            } else {
                errs.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            return vec![format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                    LABEL_KEY_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !matches_label_key_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                LABEL_KEY_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// `IsValidLabelValue` (content.IsLabelValue).
pub fn label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !value.is_empty() && !matches_label_key_name(value) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// `IsConfigMapKey`.
fn config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push(max_len_error(253));
    }
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !ok {
        errs.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+",
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    match value {
        "." => errs.push("must not be '.'".into()),
        ".." => errs.push("must not be '..'".into()),
        v if v.starts_with("..") => errs.push("must not start with '..'".into()),
        _ => {}
    }
    errs
}

/// `IsValidPortName`.
fn port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push(max_len_error(15));
    }
    if port.is_empty() || !port.chars().all(|c| is_label_char(c) || c == '-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !port.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

/// `IsValidPortNum`.
fn port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![inclusive_range_error(1, 65535)]
    }
}

/// `IsRelaxedEnvVarName` (the RelaxedEnvironmentVariableValidation feature is on by default).
fn env_var_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.is_empty() {
        errs.push("environment variable name must be non-empty".into());
    }
    if value
        .chars()
        .any(|c| !c.is_ascii() || c.is_ascii_control() || c == '=')
    {
        errs.push(
            "a valid environment variable name must consist only of printable ASCII characters other than '='"
                .into(),
        );
    }
    errs
}

/// `IsValidPercent`.
fn is_percent(value: &str) -> bool {
    value
        .strip_suffix('%')
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

// ---------------------------------------------------------------------------------------------
// Reading JSON.

fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn int(value: &Value, key: &str) -> Option<i64> {
    value.get(key).and_then(Value::as_i64)
}

fn list<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn map_at<'v>(value: &'v Value, key: &str) -> Option<&'v Map<String, Value>> {
    value.get(key).and_then(Value::as_object)
}

fn present(value: &Value, key: &str) -> bool {
    value.get(key).is_some_and(|v| !v.is_null())
}

fn sorted_entries(map: Option<&Map<String, Value>>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.map(|m| m.iter().collect()).unwrap_or_default();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn s(value: &str) -> Value {
    Value::String(value.into())
}

/// A list of errors being collected, with the paths built as `field.Path` prints them.
#[derive(Default)]
struct Errors(Vec<Cause>);

impl Errors {
    fn push(&mut self, cause: Cause) {
        self.0.push(cause);
    }

    fn messages(&mut self, field: &str, value: &str, messages: Vec<String>) {
        for message in messages {
            self.push(invalid(field, &s(value), &message));
        }
    }

    fn nonnegative(&mut self, field: &str, value: Option<i64>) {
        if let Some(v) = value.filter(|v| *v < 0) {
            self.push(invalid(
                field,
                &json!(v),
                "must be greater than or equal to 0",
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Object metadata (apimachinery pkg/api/validation/objectmeta.go).

/// Which name rule a kind uses (core validation.go `Validate*Name`).
#[derive(Debug, Clone, Copy)]
pub enum NameRule {
    /// `NameIsDNSSubdomain`.
    Subdomain,
    /// `NameIsDNSLabel` (namespaces).
    Label,
    /// `NameIsDNS1035Label` (services).
    Dns1035,
    /// RBAC path-segment names.
    PathSegment,
}

fn name_messages(rule: NameRule, name: &str) -> Vec<String> {
    match rule {
        NameRule::Subdomain => dns1123_subdomain(name),
        NameRule::Label => dns1123_label(name),
        NameRule::Dns1035 => dns1035_label(name),
        NameRule::PathSegment => {
            // apimachinery pkg/api/validation/path/name.go IsValidPathSegmentName
            let mut errs = Vec::new();
            if name == "." || name == ".." {
                errs.push(format!("may not be '{name}'"));
            }
            for bad in ["/", "%"] {
                if name.contains(bad) {
                    errs.push(format!("may not contain '{bad}'"));
                }
            }
            errs
        }
    }
}

/// `ValidateLabels`: keys are qualified names, values label values; the path is the map's.
fn labels(errors: &mut Errors, map: Option<&Map<String, Value>>, path: &str) {
    for (key, value) in sorted_entries(map) {
        errors.messages(path, key, qualified_name(key));
        let value = value.as_str().unwrap_or_default();
        errors.messages(path, value, label_value(value));
    }
}

/// `ValidateAnnotations`: keys are qualified names (case-insensitive), 256 KiB in total.
fn annotations(errors: &mut Errors, map: Option<&Map<String, Value>>, path: &str) {
    let mut total = 0usize;
    for (key, value) in sorted_entries(map) {
        errors.messages(path, key, qualified_name(&key.to_lowercase()));
        total += key.len() + value.as_str().map(str::len).unwrap_or_default();
    }
    const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * (1 << 10);
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errors.push(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
}

/// `ValidateObjectMetaAccessor` on create (and the parts update repeats).
fn metadata(errors: &mut Errors, object: &Value, rule: NameRule, namespaced: bool) {
    let meta = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let name = text(&meta, "name");
    if name.is_empty() {
        errors.push(required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        errors.messages("metadata.name", name, name_messages(rule, name));
    }
    if namespaced {
        let namespace = text(&meta, "namespace");
        if namespace.is_empty() {
            errors.push(required("metadata.namespace", ""));
        } else {
            errors.messages("metadata.namespace", namespace, dns1123_label(namespace));
        }
    } else if !text(&meta, "namespace").is_empty() {
        errors.push(forbidden("metadata.namespace", "not allowed on this type"));
    }
    labels(errors, object_of(&meta, "labels"), "metadata.labels");
    annotations(
        errors,
        object_of(&meta, "annotations"),
        "metadata.annotations",
    );
    for (i, reference) in list(&meta, "ownerReferences").iter().enumerate() {
        let path = format!("metadata.ownerReferences[{i}]");
        for field in ["apiVersion", "kind", "name", "uid"] {
            if text(reference, field).is_empty() {
                errors.push(required(&format!("{path}.{field}"), "must not be empty"));
            }
        }
    }
    for finalizer in list(&meta, "finalizers") {
        let value = finalizer.as_str().unwrap_or_default();
        errors.messages("metadata.finalizers", value, qualified_name(value));
    }
}

fn object_of<'v>(value: &'v Value, key: &str) -> Option<&'v Map<String, Value>> {
    map_at(value, key)
}

/// Metadata validation alone, as custom resources get it (apiextensions strategy: names are DNS
/// subdomains).
pub fn custom_metadata(object: &Value, namespaced: bool) -> Vec<Cause> {
    let mut errors = Errors::default();
    metadata(&mut errors, object, NameRule::Subdomain, namespaced);
    errors.0
}

// ---------------------------------------------------------------------------------------------
// Label selectors (apimachinery meta/v1/validation).

fn label_selector(errors: &mut Errors, selector: &Value, path: &str) {
    labels(
        errors,
        map_at(selector, "matchLabels"),
        &format!("{path}.matchLabels"),
    );
    for (i, expression) in list(selector, "matchExpressions").iter().enumerate() {
        let base = format!("{path}.matchExpressions[{i}]");
        let values = list(expression, "values");
        match text(expression, "operator") {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errors.push(required(
                        &format!("{base}.values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errors.push(forbidden(
                        &format!("{base}.values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            other => errors.push(invalid(
                &format!("{base}.operator"),
                &s(other),
                "not a valid selector operator",
            )),
        }
        let key = text(expression, "key");
        errors.messages(&format!("{base}.key"), key, qualified_name(key));
        for (j, value) in values.iter().enumerate() {
            let value = value.as_str().unwrap_or_default();
            errors.messages(&format!("{base}.values[{j}]"), value, label_value(value));
        }
    }
}

/// Whether a label selector selects a set of labels.
fn selector_matches(selector: &Value, labels: Option<&Map<String, Value>>) -> bool {
    let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    let by_labels = map_at(selector, "matchLabels")
        .is_none_or(|wanted| wanted.iter().all(|(k, v)| label(k) == v.as_str()));
    let by_expressions = list(selector, "matchExpressions").iter().all(|e| {
        let key = text(e, "key");
        let values: Vec<&str> = list(e, "values").iter().filter_map(Value::as_str).collect();
        match text(e, "operator") {
            "In" => label(key).is_some_and(|l| values.contains(&l)),
            "NotIn" => label(key).is_none_or(|l| !values.contains(&l)),
            "Exists" => label(key).is_some(),
            "DoesNotExist" => label(key).is_none(),
            _ => false,
        }
    });
    by_labels && by_expressions
}

fn selector_is_empty(selector: &Value) -> bool {
    map_at(selector, "matchLabels").is_none_or(Map::is_empty)
        && list(selector, "matchExpressions").is_empty()
}

// ---------------------------------------------------------------------------------------------
// Pod templates (core validation.go ValidatePodTemplateSpec, ValidatePodSpec, containers).

const VOLUME_SOURCES: &[&str] = &[
    "emptyDir",
    "hostPath",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "quobyte",
    "downwardAPI",
    "fc",
    "flexVolume",
    "configMap",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "storageos",
    "projected",
    "scaleIO",
    "csi",
    "ephemeral",
    "image",
];

const FILE_MODE_ERROR: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// `ValidateVolumes`: names and exactly one source; returns the names of the valid volumes.
fn volumes(errors: &mut Errors, spec: &Value, path: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, volume) in list(spec, "volumes").iter().enumerate() {
        let base = format!("{path}[{i}]");
        let mut local = Errors::default();
        let mut count = 0;
        for source in VOLUME_SOURCES {
            if !present(volume, source) {
                continue;
            }
            if count > 0 {
                local.push(forbidden(
                    &format!("{base}.{source}"),
                    "may not specify more than 1 volume type",
                ));
            } else {
                count += 1;
                if matches!(*source, "secret" | "configMap")
                    && let Some(mode) = volume.get(*source).and_then(|v| int(v, "defaultMode"))
                    && !(0..=0o777).contains(&mode)
                {
                    local.push(invalid(
                        &format!("{base}.{source}.defaultMode"),
                        &json!(mode),
                        FILE_MODE_ERROR,
                    ));
                }
            }
        }
        if count == 0 {
            local.push(required(&base, "must specify a volume type"));
        }
        let name = text(volume, "name");
        if name.is_empty() {
            local.push(required(&format!("{base}.name"), ""));
        } else {
            local.messages(&format!("{base}.name"), name, dns1123_label(name));
        }
        if names.contains(name) {
            local.push(duplicate(&format!("{base}.name"), &s(name)));
        }
        if local.0.is_empty() {
            names.insert(name.to_string());
        } else {
            errors.0.extend(local.0);
        }
    }
    names
}

fn container_ports(errors: &mut Errors, container: &Value, path: &str) {
    let mut names = BTreeSet::new();
    for (i, port) in list(container, "ports").iter().enumerate() {
        let base = format!("{path}[{i}]");
        let name = text(port, "name");
        if !name.is_empty() {
            let msgs = port_name(name);
            if !msgs.is_empty() {
                errors.messages(&format!("{base}.name"), name, msgs);
            } else if !names.insert(name.to_string()) {
                errors.push(duplicate(&format!("{base}.name"), &s(name)));
            }
        }
        match int(port, "containerPort").unwrap_or(0) {
            0 => errors.push(required(&format!("{base}.containerPort"), "")),
            n => {
                for msg in port_num(n) {
                    errors.push(invalid(&format!("{base}.containerPort"), &json!(n), &msg));
                }
            }
        }
        if let Some(n) = int(port, "hostPort").filter(|n| *n != 0) {
            for msg in port_num(n) {
                errors.push(invalid(&format!("{base}.hostPort"), &json!(n), &msg));
            }
        }
        protocol(errors, port, &format!("{base}.protocol"));
    }
}

fn protocol(errors: &mut Errors, port: &Value, path: &str) {
    match text(port, "protocol") {
        "" => errors.push(required(path, "")),
        "TCP" | "UDP" | "SCTP" => {}
        other => errors.push(not_supported(path, &s(other), &["SCTP", "TCP", "UDP"])),
    }
}

fn env(errors: &mut Errors, container: &Value, path: &str) {
    for (i, var) in list(container, "env").iter().enumerate() {
        let base = format!("{path}[{i}]");
        let name = text(var, "name");
        if name.is_empty() {
            errors.push(required(&format!("{base}.name"), ""));
        } else {
            errors.messages(&format!("{base}.name"), name, env_var_name(name));
        }
        let Some(from) = var.get("valueFrom").filter(|v| !v.is_null()) else {
            continue;
        };
        let from_path = format!("{base}.valueFrom");
        let sources = [
            "fieldRef",
            "resourceFieldRef",
            "configMapKeyRef",
            "secretKeyRef",
        ];
        let count = sources.iter().filter(|k| present(from, k)).count();
        for key in ["configMapKeyRef", "secretKeyRef"] {
            if let Some(selector) = from.get(key).filter(|v| !v.is_null()) {
                let name = text(selector, "name");
                errors.messages(
                    &format!("{from_path}.{key}.name"),
                    name,
                    dns1123_subdomain(name),
                );
                let k = text(selector, "key");
                if k.is_empty() {
                    errors.push(required(&format!("{from_path}.{key}.key"), ""));
                } else {
                    errors.messages(&format!("{from_path}.{key}.key"), k, config_map_key(k));
                }
            }
        }
        if count == 0 {
            errors.push(invalid(
                &from_path,
                &s(""),
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !text(var, "value").is_empty() {
            errors.push(invalid(
                &from_path,
                &s(""),
                "may not be specified when `value` is not empty",
            ));
        } else if count > 1 {
            errors.push(invalid(
                &from_path,
                &s(""),
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn volume_mounts(errors: &mut Errors, container: &Value, volumes: &BTreeSet<String>, path: &str) {
    let mut mount_points = BTreeSet::new();
    for (i, mount) in list(container, "volumeMounts").iter().enumerate() {
        let base = format!("{path}[{i}]");
        let name = text(mount, "name");
        if name.is_empty() {
            errors.push(required(&format!("{base}.name"), ""));
        }
        if !volumes.contains(name) {
            errors.push(not_found(&format!("{base}.name"), &s(name)));
        }
        let mount_path = text(mount, "mountPath");
        if mount_path.is_empty() {
            errors.push(required(&format!("{base}.mountPath"), ""));
        }
        if !mount_points.insert(mount_path.to_string()) {
            errors.push(invalid(
                &format!("{base}.mountPath"),
                &s(mount_path),
                "must be unique",
            ));
        }
    }
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// `validateResourceRequirements` with `validateContainerResourceName`.
fn resources(errors: &mut Errors, container: &Value, path: &str) {
    let Some(resources) = container.get("resources") else {
        return;
    };
    let parsed = |key: &str| -> Vec<(String, Option<Quantity>)> {
        sorted_entries(map_at(resources, key))
            .into_iter()
            .map(|(name, value)| (name.clone(), quantity::from_json(value).ok()))
            .collect()
    };
    let limits = parsed("limits");
    let requests = parsed("requests");
    for (key, entries) in [("limits", &limits), ("requests", &requests)] {
        for (name, value) in entries {
            let field = format!("{path}.{key}[{name}]");
            let name_errors = qualified_name(name);
            if !name_errors.is_empty() {
                errors.messages(&field, name, name_errors);
            } else if !name.contains('/') && !is_standard_container_resource(name) {
                errors.push(invalid(
                    &field,
                    &s(name),
                    "must be a standard resource for containers",
                ));
            }
            if let Some(q) = value
                && q.is_negative()
            {
                errors.push(invalid(
                    &field,
                    &s(&q.canonical()),
                    "must be greater than or equal to 0",
                ));
            }
        }
    }
    for (name, request) in &requests {
        let Some(request) = request else { continue };
        let limit = limits
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, q)| q.as_ref());
        if let Some(limit) = limit
            && request.cmp(limit) == Ordering::Greater
        {
            errors.push(invalid(
                &format!("{path}.requests"),
                &s(&request.canonical()),
                &format!(
                    "must be less than or equal to {name} limit of {}",
                    limit.canonical()
                ),
            ));
        }
    }
}

fn probe(errors: &mut Errors, probe: &Value, path: &str, kind: &str) {
    let handlers = ["exec", "httpGet", "tcpSocket", "grpc", "sleep"];
    let mut count = 0;
    for handler in handlers {
        let Some(action) = probe.get(handler).filter(|v| !v.is_null()) else {
            continue;
        };
        if count > 0 {
            errors.push(forbidden(
                &format!("{path}.{handler}"),
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        count += 1;
        let base = format!("{path}.{handler}");
        match handler {
            "exec" if list(action, "command").is_empty() => {
                errors.push(required(&format!("{base}.command"), ""));
            }
            "httpGet" | "tcpSocket" => {
                port_or_name(errors, action.get("port"), &format!("{base}.port"))
            }
            _ => {}
        }
    }
    if count == 0 {
        errors.push(required(path, "must specify a handler type"));
    }
    for field in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        errors.nonnegative(&format!("{path}.{field}"), int(probe, field));
    }
    if kind != "readiness"
        && let Some(n) = int(probe, "successThreshold").filter(|n| *n != 1)
    {
        errors.push(invalid(
            &format!("{path}.successThreshold"),
            &json!(n),
            "must be 1",
        ));
    }
}

/// `ValidatePortNumOrName`.
fn port_or_name(errors: &mut Errors, port: Option<&Value>, path: &str) {
    match port {
        Some(Value::String(name)) => errors.messages(path, name, port_name(name)),
        Some(Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(0);
            for msg in port_num(n) {
                errors.push(invalid(path, &json!(n), &msg));
            }
        }
        _ => {
            for msg in port_num(0) {
                errors.push(invalid(path, &json!(0), &msg));
            }
        }
    }
}

fn user_and_group_ids(errors: &mut Errors, context: &Value, path: &str) {
    for (field, max) in [
        ("runAsUser", i32::MAX as i64),
        ("runAsGroup", i32::MAX as i64),
        ("fsGroup", i32::MAX as i64),
    ] {
        if let Some(id) = int(context, field)
            && !(0..=max).contains(&id)
        {
            errors.push(invalid(
                &format!("{path}.{field}"),
                &json!(id),
                &inclusive_range_error(0, max),
            ));
        }
    }
    if let Some(profile) = context.get("seccompProfile").filter(|v| !v.is_null()) {
        let field = format!("{path}.seccompProfile.type");
        match text(profile, "type") {
            "" => errors.push(required(
                &field,
                "type is required when seccompProfile is set",
            )),
            "Localhost" | "RuntimeDefault" | "Unconfined" => {}
            other => errors.push(not_supported(
                &field,
                &s(other),
                &["Localhost", "RuntimeDefault", "Unconfined"],
            )),
        }
    }
}

/// `validateContainerCommon` and the per-list checks of `validateContainers` /
/// `validateInitContainers`.
fn containers(
    errors: &mut Errors,
    spec: &Value,
    key: &str,
    volumes: &BTreeSet<String>,
    path: &str,
    names: &mut BTreeSet<String>,
) {
    let items = list(spec, key);
    let init = key == "initContainers";
    if !init && items.is_empty() {
        errors.push(required(path, ""));
        return;
    }
    for (i, container) in items.iter().enumerate() {
        let base = format!("{path}[{i}]");
        let name = text(container, "name");
        if name.is_empty() {
            errors.push(required(&format!("{base}.name"), ""));
        } else {
            errors.messages(&format!("{base}.name"), name, dns1123_label(name));
        }
        if text(container, "image").is_empty() {
            errors.push(required(&format!("{base}.image"), ""));
        }
        match text(container, "terminationMessagePolicy") {
            "File" | "FallbackToLogsOnError" => {}
            "" => errors.push(required(&format!("{base}.terminationMessagePolicy"), "")),
            other => errors.push(not_supported(
                &format!("{base}.terminationMessagePolicy"),
                &s(other),
                &["File", "FallbackToLogsOnError"],
            )),
        }
        container_ports(errors, container, &format!("{base}.ports"));
        env(errors, container, &format!("{base}.env"));
        volume_mounts(errors, container, volumes, &format!("{base}.volumeMounts"));
        match text(container, "imagePullPolicy") {
            "Always" | "IfNotPresent" | "Never" => {}
            "" => errors.push(required(&format!("{base}.imagePullPolicy"), "")),
            other => errors.push(not_supported(
                &format!("{base}.imagePullPolicy"),
                &s(other),
                &["Always", "IfNotPresent", "Never"],
            )),
        }
        resources(errors, container, &format!("{base}.resources"));
        if let Some(context) = container.get("securityContext").filter(|v| !v.is_null()) {
            user_and_group_ids(errors, context, &format!("{base}.securityContext"));
        }
        if !names.insert(name.to_string()) {
            errors.push(duplicate(&format!("{base}.name"), &s(name)));
        }
        let restartable = text(container, "restartPolicy") == "Always";
        for (field, kind) in [
            ("livenessProbe", "liveness"),
            ("readinessProbe", "readiness"),
            ("startupProbe", "startup"),
        ] {
            let Some(p) = container.get(field).filter(|v| !v.is_null()) else {
                continue;
            };
            if init && !restartable {
                errors.push(forbidden(
                    &format!("{base}.{field}"),
                    "may not be set for init containers without restartPolicy=Always",
                ));
            } else {
                probe(errors, p, &format!("{base}.{field}"), kind);
            }
        }
        if !init && present(container, "restartPolicy") {
            errors.push(forbidden(
                &format!("{base}.restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
}

fn topology_spread(errors: &mut Errors, spec: &Value, path: &str) {
    let constraints = list(spec, "topologySpreadConstraints");
    for (i, constraint) in constraints.iter().enumerate() {
        let base = format!("{path}[{i}]");
        let skew = int(constraint, "maxSkew").unwrap_or(0);
        if skew <= 0 {
            errors.push(invalid(
                &format!("{base}.maxSkew"),
                &json!(skew),
                "must be greater than zero",
            ));
        }
        let key = text(constraint, "topologyKey");
        if key.is_empty() {
            errors.push(required(&format!("{base}.topologyKey"), "can not be empty"));
        } else {
            errors.messages(&format!("{base}.topologyKey"), key, qualified_name(key));
        }
        let action = text(constraint, "whenUnsatisfiable");
        if !matches!(action, "DoNotSchedule" | "ScheduleAnyway") {
            errors.push(not_supported(
                &format!("{base}.whenUnsatisfiable"),
                &s(action),
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        let repeated = constraints[i + 1..]
            .iter()
            .any(|c| text(c, "topologyKey") == key && text(c, "whenUnsatisfiable") == action);
        if repeated {
            errors.push(duplicate(
                &format!("{base}.{{topologyKey, whenUnsatisfiable}}"),
                &s(&format!("{{{key}, {action}}}")),
            ));
        }
        if let Some(selector) = constraint.get("labelSelector").filter(|v| !v.is_null()) {
            label_selector(errors, selector, &format!("{base}.labelSelector"));
        }
    }
}

/// `ValidateNodeSelectorRequirement`: the operator's value count, a key that is a qualified
/// name, and (unless `any_values`, as for preferred terms) values that are label values.
fn node_selector_requirement(
    errors: &mut Errors,
    requirement: &Value,
    any_values: bool,
    path: &str,
) {
    let values = list(requirement, "values");
    let operator = text(requirement, "operator");
    match operator {
        "In" | "NotIn" => {
            if values.is_empty() {
                errors.push(required(
                    &format!("{path}.values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errors.push(forbidden(
                    &format!("{path}.values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        "Gt" | "Lt" => {
            if values.len() != 1 {
                errors.push(required(
                    &format!("{path}.values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                ));
            }
        }
        other => errors.push(invalid(
            &format!("{path}.operator"),
            &s(other),
            "not a valid selector operator",
        )),
    }
    let key = text(requirement, "key");
    errors.messages(&format!("{path}.key"), key, qualified_name(key));
    if !any_values {
        for (i, value) in values.iter().enumerate() {
            let value = value.as_str().unwrap_or_default();
            errors.messages(&format!("{path}.values[{i}]"), value, label_value(value));
        }
    }
}

/// `ValidateNodeFieldSelectorRequirement`: `metadata.name` only, `In` or `NotIn` with exactly
/// one value, a node name.
fn node_field_requirement(errors: &mut Errors, requirement: &Value, path: &str) {
    let values = list(requirement, "values");
    let operator = text(requirement, "operator");
    match operator {
        "In" | "NotIn" => {
            if values.len() != 1 {
                errors.push(required(
                    &format!("{path}.values"),
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                ));
            }
        }
        other => errors.push(invalid(
            &format!("{path}.operator"),
            &s(other),
            "not a valid selector operator",
        )),
    }
    let key = text(requirement, "key");
    if key != "metadata.name" {
        errors.push(invalid(
            &format!("{path}.key"),
            &s(key),
            "not a valid field selector key",
        ));
    } else {
        for (i, value) in values.iter().enumerate() {
            let value = value.as_str().unwrap_or_default();
            errors.messages(
                &format!("{path}.values[{i}]"),
                value,
                dns1123_subdomain(value),
            );
        }
    }
}

/// `ValidateNodeSelectorTerm`.
fn node_selector_term(errors: &mut Errors, term: &Value, any_values: bool, path: &str) {
    for (j, requirement) in list(term, "matchExpressions").iter().enumerate() {
        node_selector_requirement(
            errors,
            requirement,
            any_values,
            &format!("{path}.matchExpressions[{j}]"),
        );
    }
    for (j, requirement) in list(term, "matchFields").iter().enumerate() {
        node_field_requirement(errors, requirement, &format!("{path}.matchFields[{j}]"));
    }
}

/// `validateNodeAffinity` (through `validateAffinity`): the required selector needs a term and
/// checks its values as label values; preferred terms weigh 1 to 100 and may hold any value.
fn node_affinity(errors: &mut Errors, spec: &Value, path: &str) {
    let Some(affinity) = spec
        .pointer("/affinity/nodeAffinity")
        .filter(|v| !v.is_null())
    else {
        return;
    };
    let path = format!("{path}.affinity.nodeAffinity");
    if let Some(selector) = affinity
        .get("requiredDuringSchedulingIgnoredDuringExecution")
        .filter(|v| !v.is_null())
    {
        let at = format!("{path}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
        let terms = list(selector, "nodeSelectorTerms");
        if terms.is_empty() {
            errors.push(required(&at, "must have at least one node selector term"));
        }
        for (i, term) in terms.iter().enumerate() {
            node_selector_term(errors, term, false, &format!("{at}[{i}]"));
        }
    }
    let at = format!("{path}.preferredDuringSchedulingIgnoredDuringExecution");
    for (i, term) in list(affinity, "preferredDuringSchedulingIgnoredDuringExecution")
        .iter()
        .enumerate()
    {
        let weight = int(term, "weight").unwrap_or(0);
        if !(1..=100).contains(&weight) {
            errors.push(invalid(
                &format!("{at}[{i}].weight"),
                &json!(weight),
                "must be in the range 1-100",
            ));
        }
        let preference = term.get("preference").cloned().unwrap_or_else(|| json!({}));
        node_selector_term(errors, &preference, true, &format!("{at}[{i}].preference"));
    }
}

/// `ValidateTolerations` (core validation.go, called from `ValidatePodSpec` without options, so
/// only `Equal` and `Exists` are operators), with `validateTaintEffect` allowing an empty effect.
/// As there, a bad value under `Equal` and a value under `Exists` are reported at `operator`;
/// the latter shows the whole toleration as its value (Go prints the internal struct with `%#v`;
/// here it is the JSON the client sent).
fn tolerations(errors: &mut Errors, spec: &Value, path: &str) {
    for (i, toleration) in list(spec, "tolerations").iter().enumerate() {
        let at = format!("{path}[{i}]");
        let key = text(toleration, "key");
        let operator = text(toleration, "operator");
        let value = text(toleration, "value");
        let effect = text(toleration, "effect");
        if !key.is_empty() {
            errors.messages(&format!("{at}.key"), key, qualified_name(key));
        }
        if key.is_empty() && operator != "Exists" {
            errors.push(invalid(
                &format!("{at}.operator"),
                &s(operator),
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if present(toleration, "tolerationSeconds") && effect != "NoExecute" {
            errors.push(invalid(
                &format!("{at}.effect"),
                &s(effect),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let messages = label_value(value);
                if !messages.is_empty() {
                    errors.push(invalid(
                        &format!("{at}.operator"),
                        &s(value),
                        &messages.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errors.push(invalid(
                        &format!("{at}.operator"),
                        toleration,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errors.push(not_supported(
                &format!("{at}.operator"),
                &s(other),
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
        {
            errors.push(not_supported(
                &format!("{at}.effect"),
                &s(effect),
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
}

/// `ValidatePodCreate`: the spec of a Pod, as of a template's.
fn pod(errors: &mut Errors, object: &Value) {
    match object.get("spec") {
        Some(spec) => pod_spec(errors, spec, "spec"),
        None => errors.push(required("spec.containers", "")),
    }
}

/// `ValidatePodSpec`, for a spec embedded in a template.
fn pod_spec(errors: &mut Errors, spec: &Value, path: &str) {
    if !present(spec, "terminationGracePeriodSeconds") {
        errors.push(required(
            &format!("{path}.terminationGracePeriodSeconds"),
            "",
        ));
    }
    let volumes = volumes(errors, spec, &format!("{path}.volumes"));
    let mut names = BTreeSet::new();
    containers(
        errors,
        spec,
        "containers",
        &volumes,
        &format!("{path}.containers"),
        &mut names,
    );
    containers(
        errors,
        spec,
        "initContainers",
        &volumes,
        &format!("{path}.initContainers"),
        &mut names,
    );
    match text(spec, "restartPolicy") {
        "Always" | "OnFailure" | "Never" => {}
        "" => errors.push(required(&format!("{path}.restartPolicy"), "")),
        other => errors.push(not_supported(
            &format!("{path}.restartPolicy"),
            &s(other),
            &["Always", "OnFailure", "Never"],
        )),
    }
    match text(spec, "dnsPolicy") {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errors.push(required(&format!("{path}.dnsPolicy"), "")),
        other => errors.push(not_supported(
            &format!("{path}.dnsPolicy"),
            &s(other),
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    labels(
        errors,
        map_at(spec, "nodeSelector"),
        &format!("{path}.nodeSelector"),
    );
    if let Some(context) = spec.get("securityContext").filter(|v| !v.is_null()) {
        user_and_group_ids(errors, context, &format!("{path}.securityContext"));
    }
    topology_spread(errors, spec, &format!("{path}.topologySpreadConstraints"));
    node_affinity(errors, spec, path);
    for (field, check) in [
        (
            "serviceAccountName",
            dns1123_subdomain as fn(&str) -> Vec<String>,
        ),
        ("priorityClassName", dns1123_subdomain),
        ("hostname", dns1123_label),
        ("subdomain", dns1123_label),
    ] {
        let value = text(spec, field);
        if !value.is_empty() {
            errors.messages(&format!("{path}.{field}"), value, check(value));
        }
    }
    tolerations(errors, spec, &format!("{path}.tolerations"));
    if let Some(seconds) = int(spec, "activeDeadlineSeconds")
        && !(1..=i32::MAX as i64).contains(&seconds)
    {
        errors.push(invalid(
            &format!("{path}.activeDeadlineSeconds"),
            &json!(seconds),
            &inclusive_range_error(1, i32::MAX as i64),
        ));
    }
}

/// `ValidatePodTemplateSpec`: note the labels path is `<template>.labels`, as in the source.
fn pod_template(errors: &mut Errors, template: &Value, path: &str) {
    let meta = template
        .get("metadata")
        .cloned()
        .unwrap_or_else(|| json!({}));
    labels(errors, map_at(&meta, "labels"), &format!("{path}.labels"));
    annotations(
        errors,
        map_at(&meta, "annotations"),
        &format!("{path}.annotations"),
    );
    let spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    pod_spec(errors, &spec, &format!("{path}.spec"));
    if !list(&spec, "ephemeralContainers").is_empty() {
        errors.push(forbidden(
            &format!("{path}.spec.ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

fn template_labels(object: &Value) -> Option<&Map<String, Value>> {
    object
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
}

/// The selector checks every workload spec shares (apps validation.go ValidateDeploymentSpec).
fn workload_selector(errors: &mut Errors, object: &Value, empty_message: &str) {
    let spec = object.get("spec").cloned().unwrap_or_else(|| json!({}));
    match spec.get("selector").filter(|v| !v.is_null()) {
        None => errors.push(required("spec.selector", "")),
        Some(selector) => {
            label_selector(errors, selector, "spec.selector");
            if selector_is_empty(selector) && !empty_message.is_empty() {
                errors.push(invalid("spec.selector", selector, empty_message));
            }
            if !selector_is_empty(selector) && !selector_matches(selector, template_labels(object))
            {
                let labels = template_labels(object)
                    .map(|l| Value::Object(l.clone()))
                    .unwrap_or(Value::Null);
                errors.push(invalid(
                    "spec.template.metadata.labels",
                    &labels,
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Kinds.

fn int_or_percent(errors: &mut Errors, value: Option<&Value>, path: &str) -> Option<i64> {
    match value {
        Some(Value::String(text)) => {
            if is_percent(text) {
                text.trim_end_matches('%').parse().ok()
            } else {
                errors.push(invalid(
                    path,
                    &s(text),
                    &regex_error(
                        "a valid percent string must be a numeric string followed by an ending '%'",
                        "[0-9]+%",
                        &["1%", "93%"],
                    ),
                ));
                None
            }
        }
        Some(Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(0);
            errors.nonnegative(path, Some(n));
            Some(n)
        }
        _ => Some(0),
    }
}

fn not_more_than_100_percent(errors: &mut Errors, value: Option<&Value>, path: &str) {
    if let Some(Value::String(text)) = value
        && is_percent(text)
        && text
            .trim_end_matches('%')
            .parse::<i64>()
            .is_ok_and(|n| n > 100)
    {
        errors.push(invalid(path, &s(text), "must not be greater than 100%"));
    }
}

fn deployment(errors: &mut Errors, object: &Value) {
    let spec = object.get("spec").cloned().unwrap_or_else(|| json!({}));
    errors.nonnegative("spec.replicas", int(&spec, "replicas"));
    workload_selector(errors, object, "empty selector is invalid for deployment");
    let template = spec.get("template").cloned().unwrap_or_else(|| json!({}));
    pod_template(errors, &template, "spec.template");
    let restart = template
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if restart != "Always" {
        errors.push(not_supported(
            "spec.template.spec.restartPolicy",
            &s(restart),
            &["Always"],
        ));
    }
    if template
        .pointer("/spec/activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null())
    {
        errors.push(forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    let strategy = spec.get("strategy").cloned().unwrap_or_else(|| json!({}));
    match text(&strategy, "type") {
        "Recreate" => {
            if present(&strategy, "rollingUpdate") {
                errors.push(forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match strategy.get("rollingUpdate").filter(|v| !v.is_null()) {
            None => errors.push(required(
                "spec.strategy.rollingUpdate",
                "this should be defaulted and never be nil",
            )),
            Some(rolling) => {
                let base = "spec.strategy.rollingUpdate";
                let unavailable = int_or_percent(
                    errors,
                    rolling.get("maxUnavailable"),
                    &format!("{base}.maxUnavailable"),
                );
                let surge =
                    int_or_percent(errors, rolling.get("maxSurge"), &format!("{base}.maxSurge"));
                if unavailable == Some(0) && surge == Some(0) {
                    errors.push(invalid(
                        &format!("{base}.maxUnavailable"),
                        rolling.get("maxUnavailable").unwrap_or(&json!(0)),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                not_more_than_100_percent(
                    errors,
                    rolling.get("maxUnavailable"),
                    &format!("{base}.maxUnavailable"),
                );
            }
        },
        other => errors.push(not_supported(
            "spec.strategy",
            &s(other),
            &["Recreate", "RollingUpdate"],
        )),
    }
    errors.nonnegative("spec.minReadySeconds", int(&spec, "minReadySeconds"));
    errors.nonnegative(
        "spec.revisionHistoryLimit",
        int(&spec, "revisionHistoryLimit"),
    );
    if let Some(deadline) = int(&spec, "progressDeadlineSeconds") {
        errors.nonnegative("spec.progressDeadlineSeconds", Some(deadline));
        if deadline <= int(&spec, "minReadySeconds").unwrap_or(0) {
            errors.push(invalid(
                "spec.progressDeadlineSeconds",
                &json!(deadline),
                "must be greater than minReadySeconds",
            ));
        }
    }
}

fn stateful_set(errors: &mut Errors, object: &Value) {
    let spec = object.get("spec").cloned().unwrap_or_else(|| json!({}));
    errors.nonnegative("spec.replicas", int(&spec, "replicas"));
    workload_selector(errors, object, "empty selector is invalid for statefulset");
    let template = spec.get("template").cloned().unwrap_or_else(|| json!({}));
    pod_template(errors, &template, "spec.template");
    let restart = template
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if restart != "Always" {
        errors.push(not_supported(
            "spec.template.spec.restartPolicy",
            &s(restart),
            &["Always"],
        ));
    }
}

fn job(errors: &mut Errors, object: &Value) {
    let spec = object.get("spec").cloned().unwrap_or_else(|| json!({}));
    for field in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
    ] {
        errors.nonnegative(&format!("spec.{field}"), int(&spec, field));
    }
    let template = spec.get("template").cloned().unwrap_or_else(|| json!({}));
    pod_template(errors, &template, "spec.template");
    let restart = template
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if restart != "OnFailure" && restart != "Never" {
        errors.push(not_supported(
            "spec.template.spec.restartPolicy",
            &s(restart),
            &["OnFailure", "Never"],
        ));
    }
    match spec.get("selector").filter(|v| !v.is_null()) {
        None => errors.push(required("spec.selector", "")),
        Some(selector) => {
            label_selector(errors, selector, "spec.selector");
            if !selector_matches(selector, template_labels(object)) {
                let labels = template_labels(object)
                    .map(|l| Value::Object(l.clone()))
                    .unwrap_or(Value::Null);
                errors.push(invalid(
                    "spec.template.metadata.labels",
                    &labels,
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
}

fn service(errors: &mut Errors, object: &Value) {
    let spec = object.get("spec").cloned().unwrap_or_else(|| json!({}));
    let service_type = text(&spec, "type");
    let headless = text(&spec, "clusterIP") == "None";
    let ports = list(&spec, "ports");
    if ports.is_empty() && !headless && service_type != "ExternalName" {
        errors.push(required("spec.ports", ""));
    }
    if service_type == "ExternalName" {
        let name = text(&spec, "externalName").trim_end_matches('.');
        if name.is_empty() {
            errors.push(required("spec.externalName", ""));
        } else {
            errors.messages("spec.externalName", name, dns1123_subdomain(name));
        }
    }
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let base = format!("spec.ports[{i}]");
        let name = text(port, "name");
        if ports.len() > 1 && name.is_empty() {
            errors.push(required(&format!("{base}.name"), ""));
        } else if !name.is_empty() {
            errors.messages(&format!("{base}.name"), name, dns1123_label(name));
            if !names.insert(name.to_string()) {
                errors.push(duplicate(&format!("{base}.name"), &s(name)));
            }
        }
        let number = int(port, "port").unwrap_or(0);
        for msg in port_num(number) {
            errors.push(invalid(&format!("{base}.port"), &json!(number), &msg));
        }
        protocol(errors, port, &format!("{base}.protocol"));
        port_or_name(
            errors,
            port.get("targetPort"),
            &format!("{base}.targetPort"),
        );
    }
    if let Some(selector) = map_at(&spec, "selector") {
        labels(errors, Some(selector), "spec.selector");
    }
    match text(&spec, "sessionAffinity") {
        "" => errors.push(required("spec.sessionAffinity", "")),
        "ClientIP" | "None" => {}
        other => errors.push(not_supported(
            "spec.sessionAffinity",
            &s(other),
            &["ClientIP", "None"],
        )),
    }
    let cluster_ip = text(&spec, "clusterIP");
    if !cluster_ip.is_empty() && cluster_ip != "None" && cluster_ip.parse::<IpAddr>().is_err() {
        errors.push(invalid(
            "spec.clusterIPs[0]",
            &s(cluster_ip),
            "must be empty, 'None', or a valid IP address",
        ));
    }
    match service_type {
        "" => errors.push(required("spec.type", "")),
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName" => {}
        other => errors.push(not_supported(
            "spec.type",
            &s(other),
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }
    if service_type == "ClusterIP" {
        for (i, port) in ports.iter().enumerate() {
            if int(port, "nodePort").unwrap_or(0) != 0 {
                errors.push(forbidden(
                    &format!("spec.ports[{i}].nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut seen = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let key = (
            text(port, "protocol").to_string(),
            int(port, "port").unwrap_or(0),
        );
        if !seen.insert(key.clone()) {
            errors.push(duplicate(
                &format!("spec.ports[{i}]"),
                &json!({"protocol": key.0, "port": key.1}),
            ));
        }
    }
}

fn config_data(errors: &mut Errors, object: &Value, field: &str, size: &mut usize) {
    for (key, value) in sorted_entries(object.get(field).and_then(Value::as_object)) {
        errors.messages(&format!("{field}[{key}]"), key, config_map_key(key));
        *size += value.as_str().map(str::len).unwrap_or_default();
    }
}

/// core.MaxSecretSize.
const MAX_SECRET_SIZE: usize = 1024 * 1024;

fn config_map(errors: &mut Errors, object: &Value) {
    let mut size = 0;
    config_data(errors, object, "data", &mut size);
    if let (Some(data), Some(binary)) = (map_at(object, "data"), map_at(object, "binaryData")) {
        let mut keys: Vec<&String> = data.keys().filter(|k| binary.contains_key(*k)).collect();
        keys.sort();
        for key in keys {
            errors.push(invalid(
                &format!("data[{key}]"),
                &s(key),
                "duplicate of key present in binaryData",
            ));
        }
    }
    let mut binary_size = 0;
    config_data(errors, object, "binaryData", &mut binary_size);
    // binaryData is base64 on the wire; its decoded length counts.
    size += binary_size * 3 / 4;
    if size > MAX_SECRET_SIZE {
        errors.push(too_long("", MAX_SECRET_SIZE));
    }
}

fn secret(errors: &mut Errors, object: &Value) {
    let mut size = 0;
    let data = map_at(object, "data");
    for (key, value) in sorted_entries(data) {
        errors.messages(&format!("data[{key}]"), key, config_map_key(key));
        size += value.as_str().map(|v| v.len() * 3 / 4).unwrap_or_default();
    }
    if size > MAX_SECRET_SIZE {
        errors.push(too_long("data", MAX_SECRET_SIZE));
    }
    let has = |key: &str| data.is_some_and(|d| d.contains_key(key));
    match text(object, "type") {
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !has(key) {
                    errors.push(required(&format!("data[{key}]"), ""));
                }
            }
        }
        "kubernetes.io/dockerconfigjson" if !has(".dockerconfigjson") => {
            errors.push(required("data[.dockerconfigjson]", ""));
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errors.push(required("data[username]", ""));
            errors.push(required("data[password]", ""));
        }
        "kubernetes.io/ssh-auth" if !has("ssh-privatekey") => {
            errors.push(required("data[ssh-privatekey]", ""));
        }
        "kubernetes.io/service-account-token"
            if object
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty) =>
        {
            errors.push(required(
                "metadata.annotations[kubernetes.io/service-account.name]",
                "",
            ));
        }
        _ => {}
    }
}

fn network_policy_port(errors: &mut Errors, port: &Value, path: &str) {
    if let Some(protocol) = port.get("protocol").and_then(Value::as_str)
        && !matches!(protocol, "TCP" | "UDP" | "SCTP")
    {
        errors.push(not_supported(
            &format!("{path}.protocol"),
            &s(protocol),
            &["TCP", "UDP", "SCTP"],
        ));
    }
    match port.get("port") {
        Some(Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(0);
            for msg in port_num(n) {
                errors.push(invalid(&format!("{path}.port"), &json!(n), &msg));
            }
        }
        Some(Value::String(name)) => {
            errors.messages(&format!("{path}.port"), name, port_name(name))
        }
        _ => {}
    }
}

/// Parses a CIDR as netutils.ParseCIDRSloppy does (the IP part may have bits past the prefix).
fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (ip, prefix) = text.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let prefix: u8 = prefix.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((ip, prefix))
}

fn masked(ip: IpAddr, prefix: u8) -> u128 {
    let (bits, width) = match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32u32),
        IpAddr::V6(v6) => (u128::from(v6), 128u32),
    };
    if prefix == 0 {
        return 0;
    }
    let shift = width - u32::from(prefix);
    (bits >> shift) << shift
}

const CIDR_ERROR: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// networking validation.go `ValidateIPBlock` (CIDR parsing as apimachinery ip.go parseCIDR).
fn ip_block(errors: &mut Errors, block: &Value, path: &str) {
    let cidr = text(block, "cidr");
    if cidr.is_empty() {
        errors.push(required(&format!("{path}.cidr"), ""));
        return;
    }
    let Some((ip, prefix)) = parse_cidr(cidr) else {
        errors.push(invalid(&format!("{path}.cidr"), &s(cidr), CIDR_ERROR));
        return;
    };
    for (i, except) in list(block, "except").iter().enumerate() {
        let field = format!("{path}.except[{i}]");
        let text = except.as_str().unwrap_or_default();
        let Some((except_ip, except_prefix)) = parse_cidr(text) else {
            errors.push(invalid(&field, &s(text), CIDR_ERROR));
            return;
        };
        let contains =
            ip.is_ipv4() == except_ip.is_ipv4() && masked(except_ip, prefix) == masked(ip, prefix);
        if !contains || prefix >= except_prefix {
            errors.push(invalid(
                &field,
                &s(text),
                "must be a strict subset of `cidr`",
            ));
        }
    }
}

fn network_policy(errors: &mut Errors, object: &Value) {
    let spec = object.get("spec").cloned().unwrap_or_else(|| json!({}));
    if let Some(selector) = spec.get("podSelector") {
        label_selector(errors, selector, "spec.podSelector");
    }
    for (direction, peers_key) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in list(&spec, direction).iter().enumerate() {
            let base = format!("spec.{direction}[{i}]");
            for (j, port) in list(rule, "ports").iter().enumerate() {
                network_policy_port(errors, port, &format!("{base}.ports[{j}]"));
            }
            for (j, peer) in list(rule, peers_key).iter().enumerate() {
                let peer_path = format!("{base}.{peers_key}[{j}]");
                let mut count = 0;
                for key in ["podSelector", "namespaceSelector"] {
                    if let Some(selector) = peer.get(key).filter(|v| !v.is_null()) {
                        count += 1;
                        label_selector(errors, selector, &format!("{peer_path}.{key}"));
                    }
                }
                let has_block = present(peer, "ipBlock");
                if let Some(block) = peer.get("ipBlock").filter(|v| !v.is_null()) {
                    count += 1;
                    ip_block(errors, block, &format!("{peer_path}.ipBlock"));
                }
                if count == 0 {
                    errors.push(required(&peer_path, "must specify a peer"));
                } else if count > 1 && has_block {
                    errors.push(forbidden(
                        &peer_path,
                        "may not specify both ipBlock and another peer",
                    ));
                }
            }
        }
    }
    let types = list(&spec, "policyTypes");
    if types.len() > 2 {
        errors.push(invalid(
            "spec.policyTypes",
            &Value::Array(types.to_vec()),
            "may not specify more than two policyTypes",
        ));
        return;
    }
    for (i, kind) in types.iter().enumerate() {
        let kind = kind.as_str().unwrap_or_default();
        if !matches!(kind, "Ingress" | "Egress") {
            errors.push(not_supported(
                &format!("spec.policyTypes[{i}]"),
                &s(kind),
                &["Ingress", "Egress"],
            ));
        }
    }
}

fn disruption_budget(errors: &mut Errors, object: &Value) {
    let spec = object.get("spec").cloned().unwrap_or_else(|| json!({}));
    if present(&spec, "minAvailable") && present(&spec, "maxUnavailable") {
        errors.push(invalid(
            "spec",
            &spec,
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for field in ["minAvailable", "maxUnavailable"] {
        if present(&spec, field) {
            int_or_percent(errors, spec.get(field), &format!("spec.{field}"));
            not_more_than_100_percent(errors, spec.get(field), &format!("spec.{field}"));
        }
    }
    if let Some(selector) = spec.get("selector").filter(|v| !v.is_null()) {
        label_selector(errors, selector, "spec.selector");
    }
}

/// The name rule of a built-in kind.
fn name_rule(kind: &str) -> NameRule {
    match kind {
        "Namespace" => NameRule::Label,
        "Service" => NameRule::Dns1035,
        "Role" | "RoleBinding" => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    }
}

/// Checks a built-in object about to be created or updated.
pub fn validate(kind: &str, object: &Value) -> Vec<Cause> {
    let mut errors = Errors::default();
    let namespaced = kind != "Namespace" && kind != "CustomResourceDefinition";
    if kind == "CustomResourceDefinition" {
        metadata(&mut errors, object, NameRule::Subdomain, false);
        errors.0.extend(crate::crd::validate_definition(object));
        return errors.0;
    }
    metadata(&mut errors, object, name_rule(kind), namespaced);
    match kind {
        "Deployment" => deployment(&mut errors, object),
        "StatefulSet" => stateful_set(&mut errors, object),
        "Job" => job(&mut errors, object),
        "Service" => service(&mut errors, object),
        "ConfigMap" => config_map(&mut errors, object),
        "Secret" => secret(&mut errors, object),
        "NetworkPolicy" => network_policy(&mut errors, object),
        "Ingress" => ingress::ingress(&mut errors, object),
        "PodDisruptionBudget" => disruption_budget(&mut errors, object),
        "Pod" => pod(&mut errors, object),
        _ => {}
    }
    errors.0
}

// ---------------------------------------------------------------------------------------------
// Updates: fields the real server refuses to change.

/// Fields that may not change on update, per kind.
pub fn immutable(kind: &str, old: &Value, new: &Value) -> Vec<Cause> {
    let changed = |pointer: &str| old.pointer(pointer) != new.pointer(pointer);
    let value = |pointer: &str| new.pointer(pointer).cloned().unwrap_or(Value::Null);
    let mut causes = Vec::new();
    let mut immutable_field = |pointer: &str, field: &str| {
        if changed(pointer) {
            causes.push(invalid(field, &value(pointer), "field is immutable"));
        }
    };
    match kind {
        "Deployment" => immutable_field("/spec/selector", "spec.selector"),
        "Job" => {
            immutable_field("/spec/selector", "spec.selector");
            immutable_field("/spec/template", "spec.template");
            immutable_field("/spec/completions", "spec.completions");
        }
        "Service" => {
            let old_ip = old.pointer("/spec/clusterIP");
            if old_ip.is_some() && changed("/spec/clusterIP") {
                immutable_field("/spec/clusterIP", "spec.clusterIP");
            }
        }
        "Secret" => {
            immutable_field("/type", "type");
            causes.extend(immutable_data(old, new));
        }
        "StatefulSet" => causes.extend(stateful_set_spec(old, new)),
        "ConfigMap" => causes.extend(immutable_data(old, new)),
        _ => {}
    }
    causes
}

const STATEFUL_SET_MUTABLE: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

fn stateful_set_spec(old: &Value, new: &Value) -> Option<Cause> {
    let fixed = |object: &Value| {
        let mut spec = object.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(map) = spec.as_object_mut() {
            map.retain(|k, _| !STATEFUL_SET_MUTABLE.contains(&k.as_str()));
        }
        spec
    };
    (fixed(old) != fixed(new)).then(|| Cause {
        kind: "FieldValueForbidden".into(),
        message: "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".into(),
        field: "spec".into(),
    })
}

/// ValidateConfigMapUpdate / ValidateSecretUpdate for `immutable: true`.
fn immutable_data(old: &Value, new: &Value) -> Vec<Cause> {
    if old.get("immutable") != Some(&Value::Bool(true)) {
        return Vec::new();
    }
    let mut causes = Vec::new();
    if new.get("immutable") != Some(&Value::Bool(true)) {
        causes.push(forbidden(
            "immutable",
            "field is immutable when `immutable` is set",
        ));
    }
    for field in ["data", "binaryData"] {
        if old.get(field) != new.get(field) {
            causes.push(forbidden(
                field,
                "field is immutable when `immutable` is set",
            ));
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_their_rules() {
        assert!(dns1123_subdomain("web-1.example").is_empty());
        assert!(!dns1123_subdomain("Web").is_empty());
        assert!(!dns1123_subdomain("-web").is_empty());
        assert_eq!(
            dns1123_label("a.b"),
            vec!["must not contain dots".to_string()]
        );
        assert!(!dns1035_label("1web").is_empty());
        assert!(dns1035_label("web-1").is_empty());
        assert!(qualified_name("app.kubernetes.io/name").is_empty());
        assert!(!qualified_name("a/b/c").is_empty());
        assert!(label_value("").is_empty());
        assert!(!label_value("-x").is_empty());
    }

    #[test]
    fn statefulset_replicas_may_change_but_service_name_may_not() {
        let old = json!({"spec": {"replicas": 1, "serviceName": "a"}});
        assert!(
            immutable(
                "StatefulSet",
                &old,
                &json!({"spec": {"replicas": 3, "serviceName": "a"}})
            )
            .is_empty()
        );
        assert_eq!(
            immutable(
                "StatefulSet",
                &old,
                &json!({"spec": {"replicas": 1, "serviceName": "b"}})
            )
            .len(),
            1
        );
    }

    #[test]
    fn node_affinity_is_refused_where_the_real_server_refuses_it() {
        let spec = |affinity: Value| {
            let mut errors = Errors::default();
            node_affinity(
                &mut errors,
                &json!({ "affinity": { "nodeAffinity": affinity } }),
                "s",
            );
            errors
                .0
                .into_iter()
                .map(|c| format!("{}: {}", c.field, c.message))
                .collect::<Vec<_>>()
        };
        let accepted = spec(json!({
            "requiredDuringSchedulingIgnoredDuringExecution": { "nodeSelectorTerms": [{
                "matchExpressions": [
                    { "key": "node.example.com/pool", "operator": "In", "values": ["temporal"] },
                    { "key": "spot", "operator": "DoesNotExist" },
                    { "key": "cores", "operator": "Gt", "values": ["8"] }
                ],
                "matchFields": [{ "key": "metadata.name", "operator": "In", "values": ["node-1"] }]
            }] },
            "preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "preference": { "matchExpressions": [
                    { "key": "zone", "operator": "In", "values": ["not a label value"] }
                ] }
            }]
        }));
        assert_eq!(accepted, Vec::<String>::new());
        let required = "s.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms";
        let preferred = "s.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution";
        let refused = spec(json!({
            "requiredDuringSchedulingIgnoredDuringExecution": { "nodeSelectorTerms": [{
                "matchExpressions": [
                    { "key": "pool", "operator": "In" },
                    { "key": "pool", "operator": "Exists", "values": ["x"] },
                    { "key": "cores", "operator": "Lt", "values": ["1", "2"] },
                    { "key": "pool", "operator": "Equal", "values": ["x"] },
                    { "key": "a/b/c", "operator": "In", "values": ["-x"] }
                ]
            }] },
            "preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 0,
                "preference": { "matchExpressions": [{ "key": "zone", "operator": "Exists" }] }
            }]
        }));
        let fields: Vec<&str> = refused
            .iter()
            .map(|line| line.split(": ").next().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                format!("{required}[0].matchExpressions[0].values"),
                format!("{required}[0].matchExpressions[1].values"),
                format!("{required}[0].matchExpressions[2].values"),
                format!("{required}[0].matchExpressions[3].operator"),
                format!("{required}[0].matchExpressions[4].key"),
                format!("{required}[0].matchExpressions[4].values[0]"),
                format!("{preferred}[0].weight"),
            ]
        );
        assert!(refused[1].ends_with(
            "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
        ));
        assert!(refused[6].ends_with("Invalid value: 0: must be in the range 1-100"));
        assert_eq!(
            spec(
                json!({ "requiredDuringSchedulingIgnoredDuringExecution": { "nodeSelectorTerms": [] } })
            ),
            [format!(
                "{required}: Required value: must have at least one node selector term"
            )]
        );
    }

    #[test]
    fn tolerations_are_refused_where_the_real_server_refuses_them() {
        let check = |list: Value| {
            let mut errors = Errors::default();
            tolerations(
                &mut errors,
                &json!({ "tolerations": list }),
                "s.tolerations",
            );
            errors
                .0
                .into_iter()
                .map(|c| format!("{}: {}", c.field, c.message))
                .collect::<Vec<_>>()
        };
        let accepted = check(json!([
            { "key": "dedicated", "operator": "Equal", "value": "temporal", "effect": "NoSchedule" },
            { "key": "example.com/spot", "value": "true" },
            { "key": "node.kubernetes.io/unreachable", "operator": "Exists",
              "effect": "NoExecute", "tolerationSeconds": 30 },
            { "operator": "Exists" }
        ]));
        assert_eq!(accepted, Vec::<String>::new());
        let refused = check(json!([
            { "operator": "Equal", "value": "x" },
            { "key": "dedicated", "operator": "Exists", "value": "x" },
            { "key": "dedicated", "operator": "Gt", "value": "1" },
            { "key": "dedicated", "operator": "Exists", "effect": "NoRun" },
            { "key": "dedicated", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 60 },
            { "key": "bad key!", "operator": "Exists" },
            { "key": "dedicated", "value": "not a value" }
        ]));
        let fields: Vec<&str> = refused
            .iter()
            .map(|line| line.split(": ").next().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "s.tolerations[0].operator",
                "s.tolerations[1].operator",
                "s.tolerations[2].operator",
                "s.tolerations[3].effect",
                "s.tolerations[4].effect",
                "s.tolerations[5].key",
                "s.tolerations[6].operator",
            ]
        );
        assert!(refused[0].ends_with(
            "Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\""
        ));
        assert!(refused[1].ends_with("value must be empty when `operator` is 'Exists'"));
        assert!(
            refused[2]
                .ends_with("Unsupported value: \"Gt\": supported values: \"Equal\", \"Exists\"")
        );
        assert!(refused[4].ends_with(
            "Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set"
        ));
    }

    #[test]
    fn cidrs_parse_and_excepts_must_be_inside() {
        let mut errors = Errors::default();
        ip_block(
            &mut errors,
            &json!({"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}),
            "b",
        );
        assert!(errors.0.is_empty());
        ip_block(
            &mut errors,
            &json!({"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}),
            "b",
        );
        ip_block(&mut errors, &json!({"cidr": "10.0.0/8"}), "c");
        let fields: Vec<&str> = errors.0.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, vec!["b.except[0]", "c.cidr"]);
    }
}
