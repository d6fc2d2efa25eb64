//! What a request URL names: a resource type, a namespace, an object and a subresource.

use crate::resources::ResourceType;
use crate::status::ApiError;
use std::collections::HashMap;

/// The object or collection a resource URL addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Index of the resource type in the server's list.
    pub resource: usize,
    /// The namespace in the URL, if any.
    pub namespace: Option<String>,
    /// The object name, absent for collections.
    pub name: Option<String>,
    /// `status` for the status subresource.
    pub subresource: Option<String>,
}

/// Parses `/api/v1/...` and `/apis/{group}/{version}/...` resource paths.
pub fn parse_target(path: &str, resources: &[ResourceType]) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let find = |plural: &str| {
        resources
            .iter()
            .position(|r| r.group == group && r.version == version && r.plural == plural)
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
    if subresource.as_deref().is_some_and(|s| s != "status") {
        return None;
    }
    Some(Target {
        resource,
        namespace,
        name,
        subresource,
    })
}

/// Query parameters, as given.
#[derive(Debug, Default, Clone)]
pub struct Query(pub HashMap<String, String>);

impl Query {
    /// Parses a URL query string.
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let Some(query) = query else {
            return Ok(Self::default());
        };
        serde_urlencoded_pairs(query).map(Query)
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Whether a boolean parameter is `true`.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }

    /// Whether `dryRun=All` was given.
    pub fn dry_run(&self) -> bool {
        self.get("dryRun") == Some("All")
    }
}

fn serde_urlencoded_pairs(query: &str) -> Result<HashMap<String, String>, ApiError> {
    let mut pairs = HashMap::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        pairs.insert(decode(key)?, decode(value)?);
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
        let resources = builtin();
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
}
