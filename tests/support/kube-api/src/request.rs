//! What a request URL names: a resource type, a namespace, an object and a subresource.

use crate::resources::ResourceType;
use crate::status::{ApiError, Cause};
use crate::validation;
use std::collections::HashMap;
use std::sync::Arc;

/// The object or collection a resource URL addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Index of the resource type in the server's list.
    pub resource: usize,
    /// The namespace in the URL, if any.
    pub namespace: Option<String>,
    /// The object name, absent for collections.
    pub name: Option<String>,
    /// `status` for the status subresource, `log` for a pod's log.
    pub subresource: Option<String>,
}

/// Whether a path names a group/version the server serves (so that an unknown resource under it
/// is a `Status` 404 from go-restful rather than the plain-text 404 of the not-found handler).
pub fn served_group_version(path: &str, resources: &[Arc<ResourceType>]) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version) = match segments.as_slice() {
        ["api", version, ..] => ("", *version),
        ["apis", group, version, ..] => (*group, *version),
        _ => return false,
    };
    resources
        .iter()
        .any(|r| r.served && !r.is_custom && r.group == group && r.version == version)
}

/// Parses `/api/v1/...` and `/apis/{group}/{version}/...` resource paths.
pub fn parse_target(path: &str, resources: &[Arc<ResourceType>]) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let find = |plural: &str| {
        resources.iter().position(|r| {
            r.served && r.group == group && r.version == version && r.plural == plural
        })
    };
    let namespaced_form = match rest {
        ["namespaces", namespace, plural, tail @ ..] => find(plural)
            .filter(|&index| resources[index].namespaced)
            .map(|index| (index, Some(namespace.to_string()), tail)),
        _ => None,
    };
    let (resource, namespace, tail) = match namespaced_form {
        Some(found) => found,
        None => match rest {
            [plural, tail @ ..] => (find(plural)?, None, tail),
            _ => return None,
        },
    };
    let (name, subresource) = match tail {
        [] => (None, None),
        [name] => (Some(name.to_string()), None),
        [name, sub] => (Some(name.to_string()), Some(sub.to_string())),
        _ => return None,
    };
    let pods = resources[resource].group.is_empty() && resources[resource].plural == "pods";
    if subresource
        .as_deref()
        .is_some_and(|s| s != "status" && !(s == "log" && pods))
    {
        return None;
    }
    Some(Target {
        resource,
        namespace,
        name,
        subresource,
    })
}

/// Query parameters, as given (every value of a repeated parameter, in order).
#[derive(Debug, Default, Clone)]
pub struct Query(pub HashMap<String, Vec<String>>);

/// How unknown and duplicate fields are treated (`fieldValidation`, apiserver rest.go
/// `fieldValidation`: Warn when not given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and say so in a `Warning` header.
    Warn,
    /// Refuse the request.
    Strict,
}

/// Which options type a request's parameters decode into, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Options {
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH; `true` for server-side apply.
    Patch(bool),
    /// DELETE.
    Delete,
}

impl Options {
    fn kind(self) -> &'static str {
        match self {
            Options::Create => "CreateOptions",
            Options::Update => "UpdateOptions",
            Options::Patch(_) => "PatchOptions",
            Options::Delete => "DeleteOptions",
        }
    }
}

impl Query {
    /// Parses a URL query string.
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let Some(query) = query else {
            return Ok(Self::default());
        };
        serde_urlencoded_pairs(query).map(Query)
    }

    /// A parameter's (first) value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.first()).map(String::as_str)
    }

    /// A boolean parameter as apimachinery runtime/conversion.go
    /// `Convert_Slice_string_To_bool` reads it (v0.37.0-beta.0): absent, "0" and any case of
    /// "false" are false; every other value, the empty string included, is true.
    pub fn flag(&self, name: &str) -> bool {
        match self.get(name) {
            None => false,
            Some(value) => value != "0" && !value.eq_ignore_ascii_case("false"),
        }
    }

    /// Whether a dry run was asked for (`dryRun=All`; other values are refused by
    /// [`Query::validate`]).
    pub fn dry_run(&self) -> bool {
        self.0.get("dryRun").is_some_and(|v| !v.is_empty())
    }

    /// The `fieldValidation` directive.
    pub fn field_validation(&self) -> FieldValidation {
        match self.get("fieldValidation") {
            Some("Ignore") => FieldValidation::Ignore,
            Some("Strict") => FieldValidation::Strict,
            _ => FieldValidation::Warn,
        }
    }

    /// Validates the write options as apimachinery meta/v1/validation `ValidateCreateOptions`,
    /// `ValidateUpdateOptions`, `ValidatePatchOptions` and `ValidateDeleteOptions` do; failures
    /// are 422 Invalid on the options kind (apiserver handlers create.go, update.go, patch.go,
    /// delete.go).
    pub fn validate(&self, options: Options) -> Result<(), ApiError> {
        let mut causes: Vec<Cause> = Vec::new();
        let manager = self.get("fieldManager").unwrap_or_default();
        match options {
            Options::Patch(true) if manager.is_empty() => {
                causes.push(validation::required(
                    "fieldManager",
                    "is required for apply patch",
                ));
            }
            Options::Patch(false) if self.0.contains_key("force") => {
                causes.push(validation::forbidden(
                    "force",
                    "may not be specified for non-apply patch",
                ));
            }
            _ => {}
        }
        if options != Options::Delete {
            if manager.len() > 128 {
                causes.push(validation::too_long("fieldManager", 128));
            }
            for (i, c) in manager.chars().enumerate() {
                if c.is_control() {
                    causes.push(validation::invalid(
                        "fieldManager",
                        &serde_json::Value::String(manager.into()),
                        &format!("invalid character U+{:04X} (at position {i})", c as u32),
                    ));
                }
            }
        }
        if let Some(values) = self.0.get("dryRun")
            && values.iter().any(|v| v != "All")
        {
            let given: Vec<serde_json::Value> = values
                .iter()
                .map(|v| serde_json::Value::String(v.clone()))
                .collect();
            causes.push(validation::not_supported(
                "dryRun",
                &serde_json::Value::Array(given),
                &["All"],
            ));
        }
        if options != Options::Delete
            && let Some(value) = self.get("fieldValidation")
            && !matches!(value, "" | "Ignore" | "Warn" | "Strict")
        {
            causes.push(validation::not_supported(
                "fieldValidation",
                &serde_json::Value::String(value.into()),
                &["", "Ignore", "Strict", "Warn"],
            ));
        }
        if causes.is_empty() {
            return Ok(());
        }
        Err(ApiError::invalid(
            options.kind(),
            crate::status::Subject {
                resource: "",
                group: "meta.k8s.io",
                name: "",
            },
            causes,
        ))
    }
}

fn serde_urlencoded_pairs(query: &str) -> Result<HashMap<String, Vec<String>>, ApiError> {
    let mut pairs: HashMap<String, Vec<String>> = HashMap::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        pairs.entry(decode(key)?).or_default().push(decode(value)?);
    }
    Ok(pairs)
}

fn decode(text: &str) -> Result<String, ApiError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text
                    .get(index + 1..index + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("invalid query escape in {text:?}"))
                    })?;
                out.push(hex);
                index += 2;
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("query is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::builtin;

    #[test]
    fn namespaced_and_cluster_paths() {
        let resources: Vec<Arc<ResourceType>> = builtin().into_iter().map(Arc::new).collect();
        let t = parse_target(
            "/apis/apps/v1/namespaces/ns/deployments/web/status",
            &resources,
        );
        let t = t.map(|t| {
            (
                resources[t.resource].plural.clone(),
                t.namespace,
                t.name,
                t.subresource,
            )
        });
        assert_eq!(
            t,
            Some((
                "deployments".into(),
                Some("ns".into()),
                Some("web".into()),
                Some("status".into())
            ))
        );
        let ns = parse_target("/api/v1/namespaces/ns", &resources).map(|t| (t.resource, t.name));
        assert_eq!(ns, Some((0, Some("ns".into()))));
        let all = parse_target("/api/v1/configmaps", &resources).map(|t| t.namespace);
        assert_eq!(all, Some(None));
    }

    #[test]
    fn query_decoding() {
        let q = Query::parse(Some("labelSelector=app%3Dweb%2Ctier+in+(a)&watch=true")).ok();
        assert_eq!(
            q.as_ref().and_then(|q| q.get("labelSelector")),
            Some("app=web,tier in (a)")
        );
        assert!(q.is_some_and(|q| q.flag("watch")));
    }

    #[test]
    fn booleans_are_true_unless_absent_zero_or_false() {
        let q = Query::parse(Some("a=1&b=t&c=FALSE&d=0&e=&f=yes")).expect("query");
        let flags: Vec<bool> = ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .map(|n| q.flag(n))
            .collect();
        assert_eq!(flags, vec![true, true, false, false, true, true, false]);
    }
}
