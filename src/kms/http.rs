//! The HTTP plumbing shared by the REST backends (Vault/OpenBao, Azure, GCP): one client with
//! timeouts, bounded retries for idempotent calls, and the mapping of HTTP statuses to
//! [`KmsErrorKind`].

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};

use crate::kms::{Backend, KmsError, KmsErrorKind, SecretBytes};

/// How many times an idempotent call is tried in all.
const ATTEMPTS: u32 = 3;
/// The first pause between attempts; it doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The variable naming a PEM bundle of extra certificate authorities, as for Terraform, curl and
/// OpenSSL: a KMS behind a private endpoint or a TLS-inspecting proxy is signed by a CA that the
/// bundled public roots do not hold. The codec server's image sets it to Debian's bundle.
pub const CA_BUNDLE_VARIABLE: &str = "SSL_CERT_FILE";

/// A client whose every request ends after `timeout`, trusting the public roots and the
/// certificates in [`CA_BUNDLE_VARIABLE`] when it is set.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout);
    if let Some(path) = std::env::var_os(CA_BUNDLE_VARIABLE).filter(|p| !p.is_empty()) {
        let shown = std::path::Path::new(&path).display().to_string();
        let pem = std::fs::read(&path).map_err(|e| {
            format!("{CA_BUNDLE_VARIABLE} names {shown}, which cannot be read: {e}")
        })?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| {
            format!("{CA_BUNDLE_VARIABLE} names {shown}, which is not a bundle of PEM certificates")
        })?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

/// A response body with its status.
pub(crate) struct Response {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Response {
    /// Parses the body as JSON, or says which response could not be read.
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        backend: Backend,
        key: &str,
        what: &str,
    ) -> Result<T, KmsError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            KmsError::new(
                backend,
                key,
                KmsErrorKind::InvalidResponse(format!("{what}: {e}")),
            )
        })
    }
}

/// A JSON REST API called with a bearer token (Azure Key Vault, Google Cloud KMS).
pub(crate) struct BearerJsonApi<'a> {
    /// The client.
    pub http: &'a reqwest::Client,
    /// The backend, for errors.
    pub backend: Backend,
    /// The customer key, for errors.
    pub key: &'a str,
    /// The timeout of each attempt.
    pub timeout: Duration,
    /// The backend's reading of an error answer.
    pub status_error: fn(&Response) -> KmsErrorKind,
}

impl BearerJsonApi<'_> {
    /// POSTs `body` (or GETs without one) to `url`, retrying as [`send`] does, and returns the
    /// answer's JSON; `what` names the call in errors.
    pub async fn call(
        &self,
        url: &str,
        token: &SecretBytes,
        body: Option<&serde_json::Value>,
        what: &str,
    ) -> Result<serde_json::Value, KmsError> {
        let bearer = format!("Bearer {}", String::from_utf8_lossy(token.expose()));
        let response = send(self.backend, self.key, self.timeout, true, || {
            let request = match body {
                Some(body) => self.http.post(url).json(body),
                None => self.http.get(url),
            };
            request.header("Authorization", bearer.as_str())
        })
        .await?;
        if !response.status.is_success() {
            return Err(KmsError::new(
                self.backend,
                self.key,
                (self.status_error)(&response),
            ));
        }
        response.json(self.backend, self.key, what)
    }
}

/// Sends the request `build` makes. When `idempotent`, connection failures, timeouts, 429 and
/// 502/503/504 are retried with backoff; otherwise the first outcome is returned.
pub(crate) async fn send(
    backend: Backend,
    key: &str,
    timeout: Duration,
    idempotent: bool,
    build: impl Fn() -> RequestBuilder,
) -> Result<Response, KmsError> {
    let attempts = if idempotent { ATTEMPTS } else { 1 };
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        let outcome = match build().send().await {
            Ok(response) => {
                let status = response.status();
                match response.bytes().await {
                    Ok(body) => Ok(Response {
                        status,
                        body: body.to_vec(),
                    }),
                    Err(e) => Err(transport_kind(&e, timeout)),
                }
            }
            Err(e) => Err(transport_kind(&e, timeout)),
        };
        let retryable = match &outcome {
            Ok(r) => matches!(
                r.status,
                StatusCode::TOO_MANY_REQUESTS
                    | StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            ),
            Err(_) => true,
        };
        if !retryable || attempt >= attempts {
            return outcome.map_err(|kind| KmsError::new(backend, key, kind));
        }
        tracing::debug!(%backend, key, attempt, "retrying idempotent KMS call");
        tokio::time::sleep(backoff).await;
        backoff *= 2;
        attempt += 1;
    }
}

fn transport_kind(error: &reqwest::Error, timeout: Duration) -> KmsErrorKind {
    if error.is_timeout() {
        KmsErrorKind::Timeout(timeout)
    } else {
        KmsErrorKind::Unavailable(without_url(error))
    }
}

/// The error text with the address it tried (scheme, host and port), but not the whole request
/// URL, whose path and query may be long or name more than the reader needs.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" ({url})"), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    if let Some(url) = error.url() {
        text.push_str("; tried ");
        text.push_str(&url.origin().ascii_serialization());
    }
    text
}

/// The error kind for an unsuccessful status, with the backend's own message.
pub(crate) fn status_kind(status: StatusCode, message: String) -> KmsErrorKind {
    let message = format!("HTTP {}: {message}", status.as_u16());
    match status {
        StatusCode::UNAUTHORIZED => KmsErrorKind::Unauthenticated(message),
        StatusCode::FORBIDDEN => KmsErrorKind::PermissionDenied(message),
        StatusCode::NOT_FOUND => KmsErrorKind::KeyNotFound(message),
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
            KmsErrorKind::Unavailable(message)
        }
        _ => KmsErrorKind::InvalidResponse(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_what_to_check() {
        assert!(matches!(
            status_kind(StatusCode::UNAUTHORIZED, "x".into()),
            KmsErrorKind::Unauthenticated(_)
        ));
        assert!(matches!(
            status_kind(StatusCode::FORBIDDEN, "x".into()),
            KmsErrorKind::PermissionDenied(_)
        ));
        assert!(matches!(
            status_kind(StatusCode::NOT_FOUND, "x".into()),
            KmsErrorKind::KeyNotFound(_)
        ));
        assert!(matches!(
            status_kind(StatusCode::SERVICE_UNAVAILABLE, "x".into()),
            KmsErrorKind::Unavailable(_)
        ));
    }

    #[tokio::test]
    async fn unreachable_endpoint_is_unavailable_after_retries() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let http = client(Duration::from_secs(2)).unwrap();
        let url = format!("http://127.0.0.1:{port}/");
        let err = send(Backend::GcpKms, "k", Duration::from_secs(2), true, || {
            http.get(&url)
        })
        .await
        .err()
        .unwrap();
        assert!(matches!(err.kind, KmsErrorKind::Unavailable(_)), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("tried http://127.0.0.1:{port}")),
            "the error names the address it tried: {err}"
        );
    }
}
