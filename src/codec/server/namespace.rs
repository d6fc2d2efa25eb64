//! Which Temporal namespace a request is for: from the path (`/{namespace}/decode`) or the
//! `X-Namespace` header the Web UI and CLI send. Both may be present; then they must agree.

use axum::http::HeaderMap;

use crate::codec::server::error::ApiError;

/// The header the Temporal Web UI and CLI name the namespace in.
pub const NAMESPACE_HEADER: &str = "x-namespace";

/// Temporal caps namespace names at 255 bytes.
const MAX_LEN: usize = 255;

/// The namespace of a request, or `None` when neither the path nor the header names one.
pub fn resolve(path: Option<&str>, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let header = match headers.get(NAMESPACE_HEADER) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::BadNamespace("X-Namespace is not ASCII text".into()))?
                .trim(),
        ),
    };
    let header = header.filter(|h| !h.is_empty());
    match (path, header) {
        (Some(p), Some(h)) if p != h => Err(ApiError::BadNamespace(format!(
            "the path names namespace `{p}` but X-Namespace names `{h}`; send one, or the same in both"
        ))),
        (Some(name), _) | (None, Some(name)) => validate(name).map(Some),
        (None, None) => Ok(None),
    }
}

fn validate(name: &str) -> Result<String, ApiError> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || name.len() > MAX_LEN || !valid_chars {
        return Err(ApiError::BadNamespace(format!(
            "`{}` is not a Temporal namespace name (1 to {MAX_LEN} letters, digits, `-`, `_` or `.`)",
            name.chars().take(64).collect::<String>()
        )));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(NAMESPACE_HEADER, value.parse().unwrap());
        map
    }

    #[test]
    fn path_or_header_or_neither() {
        assert_eq!(
            resolve(Some("orders"), &HeaderMap::new())
                .unwrap()
                .as_deref(),
            Some("orders")
        );
        assert_eq!(
            resolve(None, &headers("orders")).unwrap().as_deref(),
            Some("orders")
        );
        assert_eq!(
            resolve(Some("orders"), &headers("orders"))
                .unwrap()
                .as_deref(),
            Some("orders")
        );
        assert_eq!(resolve(None, &HeaderMap::new()).unwrap(), None);
        assert_eq!(resolve(None, &headers("  ")).unwrap(), None);
    }

    #[test]
    fn disagreement_and_bad_names_are_refused() {
        let err = resolve(Some("a"), &headers("b")).unwrap_err();
        assert!(err.to_string().contains("`a`") && err.to_string().contains("`b`"));
        assert!(resolve(Some("a b"), &HeaderMap::new()).is_err());
        assert!(resolve(Some(&"x".repeat(256)), &HeaderMap::new()).is_err());
    }
}
