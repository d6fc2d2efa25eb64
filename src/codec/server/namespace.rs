//! Which Temporal namespace a request is for: from the path (`/{namespace}/decode`) or the
//! `X-Namespace` header the Web UI and CLI send. Both may be present; then they must agree. The
//! header may be given once only, and a name is checked before it is used or shown anywhere.

use axum::http::HeaderMap;

use crate::codec::Namespace;
use crate::codec::server::error::ApiError;

/// The header the Temporal Web UI and CLI name the namespace in.
pub const NAMESPACE_HEADER: &str = "x-namespace";

/// The namespace of a request, or `None` when neither the path nor the header names one.
pub fn resolve(path: Option<&str>, headers: &HeaderMap) -> Result<Option<Namespace>, ApiError> {
    let mut values = headers.get_all(NAMESPACE_HEADER).iter();
    let header = values.next();
    if values.next().is_some() {
        return Err(ApiError::BadNamespace(
            "X-Namespace is given more than once; send it once".into(),
        ));
    }
    let header = match header {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::BadNamespace("X-Namespace is not ASCII text".into()))?
                .trim(),
        ),
    };
    let header = header
        .filter(|h| !h.is_empty())
        .map(|h| validate(h, "X-Namespace"))
        .transpose()?;
    let path = path
        .map(|p| validate(p, "the path's namespace"))
        .transpose()?;
    match (path, header) {
        (Some(p), Some(h)) if p != h => Err(ApiError::BadNamespace(format!(
            "the path names namespace `{p}` but X-Namespace names `{h}`; send one, or the same in both"
        ))),
        (Some(name), _) | (None, Some(name)) => Ok(Some(name)),
        (None, None) => Ok(None),
    }
}

/// Checks `name` with [`Namespace::new`]; the message says which part of the request was wrong,
/// never its text.
fn validate(name: &str, what: &str) -> Result<Namespace, ApiError> {
    Namespace::new(name).map_err(|e| ApiError::BadNamespace(format!("{what} is {e}")))
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
                .as_ref()
                .map(Namespace::as_str),
            Some("orders")
        );
        assert_eq!(
            resolve(None, &headers("orders"))
                .unwrap()
                .as_ref()
                .map(Namespace::as_str),
            Some("orders")
        );
        assert_eq!(
            resolve(Some("orders"), &headers("orders"))
                .unwrap()
                .as_ref()
                .map(Namespace::as_str),
            Some("orders")
        );
        assert_eq!(resolve(None, &HeaderMap::new()).unwrap(), None);
        assert_eq!(resolve(None, &headers("  ")).unwrap(), None);
    }

    #[test]
    fn disagreement_and_bad_names_are_refused_without_echo() {
        let err = resolve(Some("a"), &headers("b")).unwrap_err();
        assert!(err.to_string().contains("`a`") && err.to_string().contains("`b`"));
        for bad in ["a b", ".", "..", "...", "-_.", &"x".repeat(256)] {
            assert!(resolve(Some(bad), &HeaderMap::new()).is_err(), "{bad}");
            assert!(resolve(None, &headers(bad)).is_err(), "{bad}");
        }
        let err = resolve(Some("secret name"), &HeaderMap::new())
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
        let err = resolve(Some("ok"), &headers("4111 1111"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("4111"), "{err}");
    }

    #[test]
    fn the_header_once_only() {
        let mut map = headers("orders");
        map.append(NAMESPACE_HEADER, "billing".parse().unwrap());
        assert!(
            resolve(None, &map)
                .unwrap_err()
                .to_string()
                .contains("more than once")
        );
    }
}
