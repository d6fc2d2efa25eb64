//! Without token checks (`--insecure-no-auth`), anyone who reaches the server can decrypt, and a
//! web page can make a browser reach it: a page on a name the attacker controls that resolves to
//! 127.0.0.1 (DNS rebinding) sends requests the browser considers same-origin, and a cross-origin
//! form post needs no CORS preflight. So in that mode a codec request must:
//!
//! - name this server in `Host`: an IP address (the one listened on, or any if the server
//!   listens on all addresses), `localhost` for a loopback or all-address listener, or the host
//!   of an allowed CORS origin; a rebinding page's `Host` is the attacker's name;
//! - come from an allowed CORS origin or from the server's own origin, when it has an `Origin`;
//! - be `Content-Type: application/json`, which the codec protocol's clients send
//!   (temporalio/samples-go `codec-server/protocol.md`) and which a browser sends cross-origin
//!   only after a preflight that CORS answers.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, header};

use crate::codec::server::error::ApiError;

/// The checks, for one listen address and its CORS origins.
pub struct LocalOnly {
    listen: SocketAddr,
    origins: Vec<String>,
    origin_hosts: Vec<String>,
}

impl LocalOnly {
    /// Checks for a server listening on `listen` that allows `origins` (exact, already checked).
    pub fn new(listen: SocketAddr, origins: &[String]) -> Self {
        let origin_hosts = origins
            .iter()
            .filter_map(|o| {
                o.split_once("://")
                    .map(|(_, rest)| host_of(rest).to_ascii_lowercase())
            })
            .collect();
        Self {
            listen,
            origins: origins.to_vec(),
            origin_hosts,
        }
    }

    /// Refuses a request that could come from a page the user did not mean to trust.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| self.host_allowed(host_of(h)))
            .ok_or_else(|| {
                ApiError::Forbidden(
                    "without token checks (--insecure-no-auth) the Host header must name this server by its address, localhost, or the host of a --cors-origin".into(),
                )
            })?;
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            let own = origin.split_once("://").map(|(_, rest)| rest) == Some(host);
            if !own && !self.origins.iter().any(|o| o == origin) {
                return Err(ApiError::Forbidden(
                    "without token checks (--insecure-no-auth) a browser request must come from a --cors-origin".into(),
                ));
            }
        }
        Ok(())
    }

    fn host_allowed(&self, host: &str) -> bool {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let listen = self.listen.ip();
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return listen.is_unspecified() || ip == listen;
        }
        let host = host.to_ascii_lowercase();
        (host == "localhost" && (listen.is_loopback() || listen.is_unspecified()))
            || self.origin_hosts.contains(&host)
    }
}

/// The host of `host[:port]` (an IPv6 literal keeps its brackets).
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .find(']')
            .map_or(authority, |end| &authority[..=end]);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(host: &str, origin: Option<&str>, content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        headers.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_listen_address_localhost_and_origin_hosts_pass() {
        let guard = LocalOnly::new(
            "127.0.0.1:8888".parse().unwrap(),
            &["http://ui.test:8233".into()],
        );
        let json = "application/json; charset=utf-8";
        for host in [
            "127.0.0.1:8888",
            "localhost:8888",
            "LOCALHOST",
            "ui.test:8888",
        ] {
            assert!(guard.check(&request(host, None, json)).is_ok(), "{host}");
        }
        assert!(
            guard
                .check(&request(
                    "127.0.0.1:8888",
                    Some("http://ui.test:8233"),
                    json
                ))
                .is_ok()
        );
        assert!(
            guard
                .check(&request(
                    "127.0.0.1:8888",
                    Some("http://127.0.0.1:8888"),
                    json
                ))
                .is_ok()
        );
    }

    #[test]
    fn rebinding_shapes_are_refused() {
        let guard = LocalOnly::new("127.0.0.1:8888".parse().unwrap(), &[]);
        let json = "application/json";
        for host in ["evil.test:8888", "10.0.0.1:8888", "127.0.0.1.evil.test"] {
            assert!(
                matches!(
                    guard.check(&request(host, None, json)),
                    Err(ApiError::Forbidden(_))
                ),
                "{host}"
            );
        }
        assert!(matches!(
            guard.check(&request("127.0.0.1:8888", Some("http://evil.test"), json)),
            Err(ApiError::Forbidden(_))
        ));
        assert!(matches!(
            guard.check(&request("127.0.0.1:8888", None, "text/plain")),
            Err(ApiError::UnsupportedMediaType)
        ));
        let any = LocalOnly::new("0.0.0.0:8888".parse().unwrap(), &[]);
        assert!(any.check(&request("10.0.0.1:8888", None, json)).is_ok());
        assert!(any.check(&request("[::1]:8888", None, json)).is_ok());
        assert!(any.check(&request("codec.evil.test", None, json)).is_err());
    }
}
