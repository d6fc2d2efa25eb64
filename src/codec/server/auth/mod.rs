//! Who may use the codec: either nobody is checked (`--insecure-no-auth`, development only), or
//! each request carries a bearer JWT from the organisation's identity provider, verified against
//! the issuer's JWKS, and its permissions claim must grant the namespace the operation needs.

mod jwks;
mod permissions;

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use crate::codec::server::audit::{Facts, Operation};
use crate::codec::server::config::{AuthConfig, JwtConfig};
use crate::codec::server::error::ApiError;
use crate::codec::server::metrics::Metrics;

pub use jwks::{Freshness, Jwks, JwksError};
pub use permissions::{Role, role_on};

/// Checks each request's token, or deliberately does not.
pub enum Authorizer {
    /// Every request is allowed. Audit lines say so.
    InsecureNoAuth,
    /// Bearer JWTs are verified and their permissions checked.
    Jwt(Box<JwtVerifier>),
}

impl Authorizer {
    /// The authorizer for `config`. The JWKS is fetched on first use.
    pub fn new(config: &AuthConfig, metrics: Arc<Metrics>) -> Result<Self, AuthSetupError> {
        Ok(match config {
            AuthConfig::InsecureNoAuth => Self::InsecureNoAuth,
            AuthConfig::Jwt(jwt) => Self::Jwt(Box::new(JwtVerifier::new(jwt.clone(), metrics)?)),
        })
    }

    /// Allows or refuses `operation` on `namespace`. The token's subject goes into `facts` as
    /// soon as the token verifies, so a refusal is audited under the name of who was refused.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        namespace: Option<&str>,
        operation: Operation,
        facts: &mut Facts,
    ) -> Result<(), ApiError> {
        match self {
            Self::InsecureNoAuth => Ok(()),
            Self::Jwt(verifier) => {
                verifier
                    .authorize(headers, namespace, operation, facts)
                    .await
            }
        }
    }
}

/// Why the JWKS client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    /// The CA file cannot be read or holds no certificate.
    #[error("--jwks-ca-cert {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the JWKS client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Most redirects followed from the JWKS URL, all on its own scheme, host and port.
const MAX_REDIRECTS: usize = 3;

/// The HTTP client for the JWKS: HTTPS only unless `allow_http`, the extra CA, the fetch timeout,
/// and redirects only within the URL's own origin, so a redirect cannot hand the choice of keys
/// to another host (reqwest's `redirect::Policy::custom` sees each hop before it is followed).
fn jwks_client(config: &JwtConfig) -> Result<reqwest::Client, AuthSetupError> {
    let mut builder = reqwest::Client::builder()
        .timeout(config.fetch_timeout)
        .https_only(!config.allow_http)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let origin = attempt.previous().first().map(|first| {
                (
                    first.scheme().to_string(),
                    first.host_str().map(str::to_string),
                    first.port_or_known_default(),
                )
            });
            let next = (
                attempt.url().scheme().to_string(),
                attempt.url().host_str().map(str::to_string),
                attempt.url().port_or_known_default(),
            );
            if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if origin.is_some_and(|o| o == next) {
                attempt.follow()
            } else {
                attempt.error("a redirect to another origin is not followed")
            }
        }));
    if let Some(path) = &config.ca_cert {
        let ca_error = |reason: String| AuthSetupError::CaFile {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|_| ca_error("not a PEM certificate bundle".into()))?;
        if certificates.is_empty() {
            return Err(ca_error("holds no CERTIFICATE block".into()));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder.build()?)
}

/// Verifies bearer tokens against one issuer.
pub struct JwtVerifier {
    config: JwtConfig,
    jwks: Arc<Jwks>,
}

impl JwtVerifier {
    /// A verifier for `config`.
    pub fn new(config: JwtConfig, metrics: Arc<Metrics>) -> Result<Self, AuthSetupError> {
        let freshness = Freshness {
            max_age: config.max_age,
            grace: config.grace,
        };
        Ok(Self {
            jwks: Arc::new(Jwks::new(
                config.jwks_url.clone(),
                jwks_client(&config)?,
                freshness,
                metrics,
            )),
            config,
        })
    }

    async fn authorize(
        &self,
        headers: &HeaderMap,
        namespace: Option<&str>,
        operation: Operation,
        facts: &mut Facts,
    ) -> Result<(), ApiError> {
        let token = bearer(headers)?;
        let claims = self.verify(token).await?;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or("(no subject)")
            .to_string();
        facts.subject = Some(subject.clone());
        let namespace = namespace.ok_or_else(|| {
            ApiError::BadNamespace(
                "a namespace is required: send X-Namespace or call /{namespace}/encode or /{namespace}/decode".into(),
            )
        })?;
        let permissions = permission_strings(claims.get(&self.config.permissions_claim));
        let needed = Role::required_for(operation);
        match role_on(permissions.iter().map(String::as_str), namespace) {
            Some(role) if role >= needed => Ok(()),
            held => Err(ApiError::Forbidden(format!(
                "`{subject}` may not {} in namespace `{namespace}`: that needs `{namespace}:{}` or higher in the `{}` claim, the token grants {}",
                operation.as_str(),
                needed.name(),
                self.config.permissions_claim,
                held.map_or("no role there".to_string(), |r| format!("`{}`", r.name())),
            ))),
        }
    }

    async fn verify(&self, token: &str) -> Result<serde_json::Map<String, Value>, ApiError> {
        let unauthenticated = |why: String| {
            ApiError::Unauthenticated(format!("the bearer token is not valid: {why}"))
        };
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| unauthenticated(describe(e.kind())))?;
        if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err(unauthenticated(
                "shared-secret (HS*) signatures are not accepted".into(),
            ));
        }
        let key = self
            .jwks
            .key(header.kid.as_deref())
            .await
            .map_err(|e| match e {
                JwksError::Unavailable => ApiError::Unavailable(
                    "the identity provider's signing keys cannot be fetched; try again later"
                        .into(),
                ),
                other => unauthenticated(other.to_string()),
            })?;
        if key
            .algorithm
            .as_deref()
            .is_some_and(|a| a != format!("{:?}", header.alg))
        {
            return Err(unauthenticated(
                "the token's algorithm is not the one its key is for".into(),
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&self.config.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway.as_secs();
        jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|e| unauthenticated(describe(e.kind())))
    }
}

fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthenticated("an `Authorization: Bearer <token>` header is required".into())
    })?;
    let text = value
        .to_str()
        .map_err(|_| ApiError::Unauthenticated("the Authorization header is not ASCII".into()))?;
    match text.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::Unauthenticated(
            "the Authorization header is not `Bearer <token>`".into(),
        )),
    }
}

/// The claim's permissions: an array of strings, or one string of space- or comma-separated
/// entries (some identity providers flatten lists).
fn permission_strings(claim: Option<&Value>) -> Vec<String> {
    match claim {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(text)) => text
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// A short reason for a rejected token, without echoing the token.
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "it has expired".into(),
        ErrorKind::ImmatureSignature => "it is not valid yet (nbf)".into(),
        ErrorKind::InvalidIssuer => "its issuer is not the trusted one".into(),
        ErrorKind::InvalidAudience => "its audience is not this codec server".into(),
        ErrorKind::InvalidSignature => "its signature does not verify".into(),
        ErrorKind::InvalidAlgorithm => "its algorithm does not match its key".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("it has no `{claim}` claim"),
        ErrorKind::InvalidClaimFormat(claim) => format!("its `{claim}` claim is malformed"),
        _ => "it is not a well-formed signed JWT".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        let mut headers = HeaderMap::new();
        assert!(bearer(&headers).is_err());
        headers.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer(&headers).unwrap(), "abc");
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert!(bearer(&headers).is_err());
    }

    #[test]
    fn permission_claims_as_list_or_string() {
        let list = serde_json::json!(["a:read", 3, "b:write"]);
        assert_eq!(permission_strings(Some(&list)), ["a:read", "b:write"]);
        let text = Value::String("a:read b:write".into());
        assert_eq!(permission_strings(Some(&text)), ["a:read", "b:write"]);
        assert!(permission_strings(None).is_empty());
    }
}
