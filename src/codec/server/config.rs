//! The codec server's configuration: [`Settings`] as given (flags, environment, a YAML or JSON
//! file, merged in that order of precedence) and [`ServerConfig`] as checked and resolved.
//!
//! Checking happens once, before anything binds: a server that needs tokens but has no TLS, a
//! CORS origin that is not an exact origin, or a KMS without its key are refused with a message
//! that names the setting.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::codec::Namespace;

/// Default bound on a request body: 4 MiB, Temporal's default gRPC message limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Default bound on the payloads of one request. The Web UI and the CLI send the payloads of one
/// history event per request, a handful; the bound keeps one request from costing millions of
/// seals of the primary key and gigabytes of answer.
pub const DEFAULT_MAX_PAYLOADS: usize = 1000;
/// Default bound on the memory all requests in flight may hold at once (bodies, parsed payloads
/// and answers), well inside the pod's default 1 GiB limit.
pub const DEFAULT_MEMORY_BUDGET_BYTES: usize = 256 * 1024 * 1024;
/// Default bound on open connections, lowered to what the open-file limit allows.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// File descriptors kept free of client connections: keyring and TLS files, KMS and JWKS
/// connections, the runtime's own.
pub const RESERVED_FILE_DESCRIPTORS: u64 = 64;
/// Default time a client has for the TLS handshake and each request head, in seconds.
pub const DEFAULT_HEADER_TIMEOUT_SECONDS: u64 = 10;
/// Default time from a request head to its answer being ready, in seconds.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 30;
/// Default time an answer waits for its audit line to be written, in seconds.
pub const DEFAULT_AUDIT_TIMEOUT_SECONDS: u64 = 5;
/// Default timeout of one JWKS fetch, in seconds.
pub const DEFAULT_JWKS_TIMEOUT_SECONDS: u64 = 5;
/// Default age after which a fetched JWKS is fetched again, in seconds.
pub const DEFAULT_JWKS_MAX_AGE_SECONDS: u64 = 15 * 60;
/// Default time past the maximum age that cached keys keep verifying tokens while the issuer
/// cannot be reached, in seconds: an hour, the usual life of an access token, so tokens issued
/// before an outage keep working through it.
pub const DEFAULT_JWKS_GRACE_SECONDS: u64 = 60 * 60;
/// A request reserves this many times its body size from the memory budget: the body, the
/// parsed payloads, the converted payload in hand and the answer, with room for allocator slack.
pub const MEMORY_PER_BODY_BYTE: usize = 4;
/// What a request reserves beyond [`MEMORY_PER_BODY_BYTE`] times its body: headers, state, and
/// the per-payload bookkeeping of up to `max-payloads` small payloads.
pub const MEMORY_PER_REQUEST_BYTES: usize = 64 * 1024;
/// The largest clock skew the server tolerates on token times.
pub const MAX_LEEWAY_SECONDS: u64 = 300;
/// The clock skew tolerated on token times when none is given.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 60;

/// Every setting as given. Each is optional here so a flag, an environment variable and the
/// configuration file can be merged before defaults apply.
#[derive(Debug, Default, Clone, clap::Args, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on [default: 127.0.0.1:8888].
    #[arg(long, env = "ENGRAM_CODEC_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Keyring document for namespaces without a keyring of their own.
    #[arg(long, env = "ENGRAM_CODEC_KEYRING")]
    pub keyring: Option<PathBuf>,
    /// A namespace bound to its own keyring document, as NAMESPACE=FILE (repeatable).
    #[arg(
        long = "namespace-keyring",
        env = "ENGRAM_CODEC_NAMESPACE_KEYRINGS",
        value_delimiter = ','
    )]
    #[serde(default)]
    pub namespace_keyrings: Vec<String>,
    /// A namespace that also opens payloads sealed for another, as NAMESPACE=SOURCE
    /// (repeatable): for Nexus operations, whose payloads cross namespaces on purpose.
    #[arg(
        long = "accept-source-namespace",
        env = "ENGRAM_CODEC_ACCEPT_SOURCE_NAMESPACES",
        value_delimiter = ','
    )]
    #[serde(default)]
    pub accept_source_namespaces: Vec<String>,
    /// The KMS that unwraps the keyrings: aws, vault, azure, gcp or local (development only).
    #[arg(long, env = "ENGRAM_CODEC_KMS")]
    pub kms: Option<String>,
    /// The timeout of each KMS call, in seconds [default: 10].
    #[arg(long, env = "ENGRAM_CODEC_KMS_TIMEOUT_SECONDS")]
    pub kms_timeout_seconds: Option<u64>,
    /// kms=local: the key file (32 random bytes, base64). Development only.
    #[arg(long, env = "ENGRAM_CODEC_LOCAL_KEY_FILE")]
    pub local_key_file: Option<PathBuf>,
    /// kms=vault: Vault/OpenBao address. The token is read from VAULT_TOKEN unless Kubernetes
    /// auth is configured.
    #[arg(long, env = "VAULT_ADDR")]
    pub vault_addr: Option<String>,
    /// kms=vault: the Transit mount [default: transit].
    #[arg(long, env = "ENGRAM_CODEC_VAULT_MOUNT")]
    pub vault_mount: Option<String>,
    /// kms=vault: the Transit key name.
    #[arg(long, env = "ENGRAM_CODEC_VAULT_KEY")]
    pub vault_key: Option<String>,
    /// kms=vault: a Vault Enterprise / OpenBao namespace.
    #[arg(long, env = "VAULT_NAMESPACE")]
    pub vault_namespace: Option<String>,
    /// kms=vault: log in with the pod's service account under this Vault role.
    #[arg(long, env = "ENGRAM_CODEC_VAULT_KUBERNETES_ROLE")]
    pub vault_kubernetes_role: Option<String>,
    /// kms=aws: key id, ARN or alias.
    #[arg(long, env = "ENGRAM_CODEC_AWS_KMS_KEY")]
    pub aws_kms_key: Option<String>,
    /// kms=aws: the region (else the SDK's default chain).
    #[arg(long, env = "AWS_REGION")]
    pub aws_region: Option<String>,
    /// kms=aws: an endpoint override (VPC endpoint).
    #[arg(long, env = "ENGRAM_CODEC_AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
    /// kms=azure: the Key Vault URL (`https://NAME.vault.azure.net`). The token comes from
    /// workload identity (AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID, AZURE_CLIENT_ID), else
    /// the managed identity.
    #[arg(long, env = "ENGRAM_CODEC_AZURE_VAULT_URL")]
    pub azure_vault_url: Option<String>,
    /// kms=azure: the key's name in the vault.
    #[arg(long, env = "ENGRAM_CODEC_AZURE_KEY_NAME")]
    pub azure_key_name: Option<String>,
    /// kms=azure: a user-assigned identity's client id (overrides AZURE_CLIENT_ID).
    #[arg(long, env = "ENGRAM_CODEC_AZURE_CLIENT_ID")]
    pub azure_client_id: Option<String>,
    /// kms=gcp: `projects/P/locations/L/keyRings/R/cryptoKeys/K`. The token comes from the
    /// metadata server (Workload Identity; GCE_METADATA_HOST overrides its address).
    #[arg(long, env = "ENGRAM_CODEC_GCP_KMS_KEY")]
    pub gcp_kms_key: Option<String>,
    /// kms=gcp: the API endpoint [default: https://cloudkms.googleapis.com].
    #[arg(long, env = "ENGRAM_CODEC_GCP_ENDPOINT")]
    pub gcp_endpoint: Option<String>,
    /// TLS certificate chain (PEM); reloaded when it changes.
    #[arg(long, env = "ENGRAM_CODEC_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); reloaded when it changes.
    #[arg(long, env = "ENGRAM_CODEC_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// The oldest TLS version accepted, `1.2` or `1.3` [default: 1.2].
    #[arg(long, env = "ENGRAM_CODEC_TLS_MIN_VERSION")]
    pub tls_min_version: Option<String>,
    /// A Web UI origin allowed to call from a browser, exactly as the browser sends it
    /// (`https://temporal.example.com`); repeatable.
    #[arg(
        long = "cors-origin",
        env = "ENGRAM_CODEC_CORS_ORIGINS",
        value_delimiter = ','
    )]
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Largest request body in bytes [default: 4194304].
    #[arg(long, env = "ENGRAM_CODEC_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Most payloads in one request [default: 1000].
    #[arg(long, env = "ENGRAM_CODEC_MAX_PAYLOADS")]
    pub max_payloads: Option<usize>,
    /// Largest answer body in bytes [default: twice --max-body-bytes].
    #[arg(long, env = "ENGRAM_CODEC_MAX_RESPONSE_BYTES")]
    pub max_response_bytes: Option<usize>,
    /// Memory all requests in flight may reserve together, in bytes; each reserves four times its
    /// body plus 64 KiB and waits while the budget is spent, and large requests may hold half
    /// of it at most [default: 268435456].
    #[arg(long, env = "ENGRAM_CODEC_MEMORY_BUDGET_BYTES")]
    pub memory_budget_bytes: Option<usize>,
    /// Most open client connections; at the limit a new connection replaces the one that has
    /// been idle longest [default: 1024, or the open-file limit less 64 if lower].
    #[arg(long, env = "ENGRAM_CODEC_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Time a client has for the TLS handshake and each request head, also the longest a
    /// keep-alive connection stays idle, in seconds [default: 10].
    #[arg(long, env = "ENGRAM_CODEC_HEADER_TIMEOUT_SECONDS")]
    pub header_timeout_seconds: Option<u64>,
    /// Time from a request head to its answer being ready (waiting for memory, reading the body,
    /// converting), and the longest a write of the answer may stall, in seconds [default: 30].
    #[arg(long, env = "ENGRAM_CODEC_REQUEST_TIMEOUT_SECONDS")]
    pub request_timeout_seconds: Option<u64>,
    /// Time an answer waits for its audit line to be written before a 2xx answer is withheld
    /// (503), in seconds [default: 5].
    #[arg(long, env = "ENGRAM_CODEC_AUDIT_TIMEOUT_SECONDS")]
    pub audit_timeout_seconds: Option<u64>,
    /// Serve without checking tokens. For local development only: anyone who reaches the
    /// server can decrypt.
    #[arg(long, env = "ENGRAM_CODEC_INSECURE_NO_AUTH")]
    #[serde(default)]
    pub insecure_no_auth: bool,
    /// The issuer's JSON Web Key Set URL.
    #[arg(long, env = "ENGRAM_CODEC_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// The `iss` a token must carry.
    #[arg(long, env = "ENGRAM_CODEC_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// An `aud` a token must carry (repeatable: any of them).
    #[arg(
        long = "jwt-audience",
        env = "ENGRAM_CODEC_JWT_AUDIENCES",
        value_delimiter = ','
    )]
    #[serde(default)]
    pub jwt_audiences: Vec<String>,
    /// The claim holding `<namespace>:<role>` permissions [default: permissions].
    #[arg(long, env = "ENGRAM_CODEC_PERMISSIONS_CLAIM")]
    pub permissions_claim: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds, at most 300 [default: 60].
    #[arg(long, env = "ENGRAM_CODEC_JWT_LEEWAY_SECONDS")]
    pub jwt_leeway_seconds: Option<u64>,
    /// CA certificates (PEM) trusted for the JWKS URL besides the public roots, for an issuer
    /// with a private CA.
    #[arg(long, env = "ENGRAM_CODEC_JWKS_CA_CERT")]
    pub jwks_ca_cert: Option<PathBuf>,
    /// Accept an http:// JWKS URL. Development only: whoever can change the answer on the way
    /// can mint tokens.
    #[arg(long, env = "ENGRAM_CODEC_INSECURE_JWKS_HTTP")]
    #[serde(default)]
    pub insecure_jwks_http: bool,
    /// Timeout of one JWKS fetch, in seconds [default: 5].
    #[arg(long, env = "ENGRAM_CODEC_JWKS_TIMEOUT_SECONDS")]
    pub jwks_timeout_seconds: Option<u64>,
    /// Age after which the JWKS is fetched again, in seconds [default: 900].
    #[arg(long, env = "ENGRAM_CODEC_JWKS_MAX_AGE_SECONDS")]
    pub jwks_max_age_seconds: Option<u64>,
    /// How long past its maximum age the cached JWKS keeps verifying tokens while the issuer
    /// cannot be reached, in seconds [default: 3600].
    #[arg(long, env = "ENGRAM_CODEC_JWKS_GRACE_SECONDS")]
    pub jwks_grace_seconds: Option<u64>,
    /// How often keyring and certificate files are checked for changes, in seconds
    /// [default: 10].
    #[arg(long, env = "ENGRAM_CODEC_RELOAD_INTERVAL_SECONDS")]
    pub reload_interval_seconds: Option<u64>,
    /// How long in-flight requests may take to finish after SIGTERM, in seconds [default: 20].
    #[arg(long, env = "ENGRAM_CODEC_SHUTDOWN_GRACE_SECONDS")]
    pub shutdown_grace_seconds: Option<u64>,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file cannot be read or parsed.
    #[error("configuration file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A setting is missing or has a value that cannot work.
    #[error("{setting}: {reason}")]
    Invalid {
        /// The setting, as its flag is spelled.
        setting: &'static str,
        /// What is wrong and what to do.
        reason: String,
    },
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        reason: reason.into(),
    }
}

/// Which KMS unwraps the keyrings, and how to reach it.
#[derive(Debug, Clone)]
pub enum KmsConfig {
    /// A local key file: development only.
    Local {
        /// The key file.
        key_file: PathBuf,
    },
    /// A Vault/OpenBao Transit key.
    Vault {
        /// The server.
        address: String,
        /// The Transit mount.
        mount: String,
        /// The key name.
        key: String,
        /// An enterprise namespace.
        namespace: Option<String>,
        /// Log in with the pod's service account under this role; else VAULT_TOKEN.
        kubernetes_role: Option<String>,
    },
    /// An AWS KMS key.
    Aws {
        /// Key id, ARN or alias.
        key: String,
        /// The region.
        region: Option<String>,
        /// An endpoint override.
        endpoint_url: Option<String>,
    },
    /// An Azure Key Vault key, reached with the pod's workload or managed identity.
    Azure {
        /// The vault URL.
        vault_url: String,
        /// The key name.
        key_name: String,
        /// A user-assigned identity's client id.
        client_id: Option<String>,
    },
    /// A Google Cloud KMS key, reached with the metadata server's credential.
    Gcp {
        /// The key's resource name.
        key: String,
        /// The API endpoint.
        endpoint: String,
    },
}

/// Where keyring documents are (one default and any number bound to a namespace), and which
/// other namespaces' payloads each namespace may open.
#[derive(Debug, Clone, Default)]
pub struct KeyringPaths {
    /// For namespaces without their own.
    pub default: Option<PathBuf>,
    /// Namespace → document.
    pub namespaces: BTreeMap<String, PathBuf>,
    /// Namespace → the source namespaces whose version 2 payloads it also opens.
    pub accepted_sources: BTreeMap<Namespace, Arc<BTreeSet<Namespace>>>,
}

/// The certificate and key files TLS is served with.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, PEM, leaf first.
    pub cert: PathBuf,
    /// Private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The oldest version accepted.
    pub min_version: TlsMinVersion,
}

/// The oldest TLS version the server accepts; rustls speaks nothing older than 1.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMinVersion {
    /// TLS 1.2 and 1.3.
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl TlsMinVersion {
    /// Parses `1.2` or `1.3`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "1.2" => Some(Self::Tls12),
            "1.3" => Some(Self::Tls13),
            _ => None,
        }
    }
}

/// How tokens are checked.
#[derive(Debug, Clone)]
pub enum AuthConfig {
    /// No checks. Loud at start and in every audit line.
    InsecureNoAuth,
    /// Bearer JWTs verified against a JWKS.
    Jwt(JwtConfig),
}

/// Bearer token verification settings.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The JWKS URL.
    pub jwks_url: String,
    /// The required issuer.
    pub issuer: String,
    /// Accepted audiences.
    pub audiences: Vec<String>,
    /// The permissions claim's name.
    pub permissions_claim: String,
    /// Tolerated clock skew.
    pub leeway: Duration,
    /// Extra CA certificates for the JWKS URL.
    pub ca_cert: Option<PathBuf>,
    /// Whether an http:// JWKS URL was explicitly allowed.
    pub allow_http: bool,
    /// Timeout of one fetch.
    pub fetch_timeout: Duration,
    /// Age after which the set is fetched again.
    pub max_age: Duration,
    /// How long past `max_age` cached keys serve while fetches fail.
    pub grace: Duration,
}

/// The checked configuration the server runs with.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The keyring documents.
    pub keyrings: KeyringPaths,
    /// The KMS that unwraps them.
    pub kms: KmsConfig,
    /// The timeout of each KMS call.
    pub kms_timeout: Duration,
    /// TLS files, or plain HTTP when `None`.
    pub tls: Option<TlsFiles>,
    /// Exact browser origins allowed by CORS.
    pub cors_origins: Vec<String>,
    /// Body size limit.
    pub max_body_bytes: usize,
    /// Payload count limit per request.
    pub max_payloads: usize,
    /// Answer size limit.
    pub max_response_bytes: usize,
    /// Memory the requests in flight may reserve together.
    pub memory_budget_bytes: usize,
    /// Open connection limit.
    pub max_connections: usize,
    /// TLS handshake, request head and keep-alive idle timeout.
    pub header_timeout: Duration,
    /// Request head to answer, and answer write stall, timeout.
    pub request_timeout: Duration,
    /// How long an answer waits for its audit line.
    pub audit_timeout: Duration,
    /// Token checking.
    pub auth: AuthConfig,
    /// File change polling interval.
    pub reload_interval: Duration,
    /// Drain time on shutdown.
    pub shutdown_grace: Duration,
}

impl Settings {
    /// Reads a YAML (or JSON) file of settings, keys spelled like the flags without `--`.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let file_error = |reason: String| ConfigError::File {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        serde_yaml_ng::from_str(&text).map_err(|e| file_error(e.to_string()))
    }

    /// `self` (flags and environment) over `file`: a setting given here wins.
    pub fn over(self, file: Settings) -> Settings {
        fn list(a: Vec<String>, b: Vec<String>) -> Vec<String> {
            if a.is_empty() { b } else { a }
        }
        Settings {
            listen: self.listen.or(file.listen),
            keyring: self.keyring.or(file.keyring),
            namespace_keyrings: list(self.namespace_keyrings, file.namespace_keyrings),
            accept_source_namespaces: list(
                self.accept_source_namespaces,
                file.accept_source_namespaces,
            ),
            kms: self.kms.or(file.kms),
            kms_timeout_seconds: self.kms_timeout_seconds.or(file.kms_timeout_seconds),
            local_key_file: self.local_key_file.or(file.local_key_file),
            vault_addr: self.vault_addr.or(file.vault_addr),
            vault_mount: self.vault_mount.or(file.vault_mount),
            vault_key: self.vault_key.or(file.vault_key),
            vault_namespace: self.vault_namespace.or(file.vault_namespace),
            vault_kubernetes_role: self.vault_kubernetes_role.or(file.vault_kubernetes_role),
            aws_kms_key: self.aws_kms_key.or(file.aws_kms_key),
            aws_region: self.aws_region.or(file.aws_region),
            aws_endpoint_url: self.aws_endpoint_url.or(file.aws_endpoint_url),
            azure_vault_url: self.azure_vault_url.or(file.azure_vault_url),
            azure_key_name: self.azure_key_name.or(file.azure_key_name),
            azure_client_id: self.azure_client_id.or(file.azure_client_id),
            gcp_kms_key: self.gcp_kms_key.or(file.gcp_kms_key),
            gcp_endpoint: self.gcp_endpoint.or(file.gcp_endpoint),
            tls_cert: self.tls_cert.or(file.tls_cert),
            tls_key: self.tls_key.or(file.tls_key),
            tls_min_version: self.tls_min_version.or(file.tls_min_version),
            cors_origins: list(self.cors_origins, file.cors_origins),
            max_body_bytes: self.max_body_bytes.or(file.max_body_bytes),
            max_payloads: self.max_payloads.or(file.max_payloads),
            max_response_bytes: self.max_response_bytes.or(file.max_response_bytes),
            memory_budget_bytes: self.memory_budget_bytes.or(file.memory_budget_bytes),
            max_connections: self.max_connections.or(file.max_connections),
            header_timeout_seconds: self.header_timeout_seconds.or(file.header_timeout_seconds),
            request_timeout_seconds: self
                .request_timeout_seconds
                .or(file.request_timeout_seconds),
            audit_timeout_seconds: self.audit_timeout_seconds.or(file.audit_timeout_seconds),
            insecure_no_auth: self.insecure_no_auth || file.insecure_no_auth,
            jwks_url: self.jwks_url.or(file.jwks_url),
            jwt_issuer: self.jwt_issuer.or(file.jwt_issuer),
            jwt_audiences: list(self.jwt_audiences, file.jwt_audiences),
            permissions_claim: self.permissions_claim.or(file.permissions_claim),
            jwt_leeway_seconds: self.jwt_leeway_seconds.or(file.jwt_leeway_seconds),
            jwks_ca_cert: self.jwks_ca_cert.or(file.jwks_ca_cert),
            insecure_jwks_http: self.insecure_jwks_http || file.insecure_jwks_http,
            jwks_timeout_seconds: self.jwks_timeout_seconds.or(file.jwks_timeout_seconds),
            jwks_max_age_seconds: self.jwks_max_age_seconds.or(file.jwks_max_age_seconds),
            jwks_grace_seconds: self.jwks_grace_seconds.or(file.jwks_grace_seconds),
            reload_interval_seconds: self
                .reload_interval_seconds
                .or(file.reload_interval_seconds),
            shutdown_grace_seconds: self.shutdown_grace_seconds.or(file.shutdown_grace_seconds),
        }
    }

    /// Applies defaults and checks everything.
    pub fn resolve(self) -> Result<ServerConfig, ConfigError> {
        let keyrings = self.keyrings()?;
        let kms = self.kms_config()?;
        let min_version = match &self.tls_min_version {
            Some(text) => TlsMinVersion::parse(text)
                .ok_or_else(|| invalid("--tls-min-version", "must be 1.2 or 1.3"))?,
            None => TlsMinVersion::default(),
        };
        let tls = match (self.tls_cert.clone(), self.tls_key.clone()) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert,
                key,
                min_version,
            }),
            (None, None) if self.tls_min_version.is_some() => {
                return Err(invalid(
                    "--tls-min-version",
                    "applies to TLS, which is off: give --tls-cert and --tls-key too",
                ));
            }
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "--tls-cert/--tls-key",
                    "give both the certificate and the key, or neither",
                ));
            }
        };
        let auth = self.auth_config()?;
        if matches!(auth, AuthConfig::Jwt(_)) && tls.is_none() {
            return Err(invalid(
                "--tls-cert",
                "access tokens are required but TLS is not configured; the Web UI sends tokens only to https endpoints, and tokens must not cross the network in clear text. Give --tls-cert and --tls-key",
            ));
        }
        for origin in &self.cors_origins {
            check_origin(origin)?;
        }
        let max_body_bytes = at_least_one(
            "--max-body-bytes",
            self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        )?;
        let max_payloads = at_least_one(
            "--max-payloads",
            self.max_payloads.unwrap_or(DEFAULT_MAX_PAYLOADS),
        )?;
        let max_response_bytes = at_least_one(
            "--max-response-bytes",
            self.max_response_bytes
                .unwrap_or(max_body_bytes.saturating_mul(2)),
        )?;
        let memory_budget_bytes = self
            .memory_budget_bytes
            .unwrap_or(DEFAULT_MEMORY_BUDGET_BYTES);
        let smallest_budget = reservation_bytes(max_body_bytes).saturating_mul(2);
        if memory_budget_bytes < smallest_budget {
            return Err(invalid(
                "--memory-budget-bytes",
                format!(
                    "must be at least {smallest_budget}: large requests may hold half the budget, and one request of --max-body-bytes reserves {MEMORY_PER_BODY_BYTE} times the body plus {MEMORY_PER_REQUEST_BYTES}; raise it or lower --max-body-bytes"
                ),
            ));
        }
        let max_connections = connection_limit(self.max_connections, open_files_limit())?;
        let seconds = |setting: &'static str, value: Option<u64>, default: u64| {
            at_least_one(setting, value.unwrap_or(default)).map(Duration::from_secs)
        };
        let header_timeout = seconds(
            "--header-timeout-seconds",
            self.header_timeout_seconds,
            DEFAULT_HEADER_TIMEOUT_SECONDS,
        )?;
        let request_timeout = seconds(
            "--request-timeout-seconds",
            self.request_timeout_seconds,
            DEFAULT_REQUEST_TIMEOUT_SECONDS,
        )?;
        let audit_timeout = seconds(
            "--audit-timeout-seconds",
            self.audit_timeout_seconds,
            DEFAULT_AUDIT_TIMEOUT_SECONDS,
        )?;
        let reload = seconds(
            "--reload-interval-seconds",
            self.reload_interval_seconds,
            10,
        )?;
        Ok(ServerConfig {
            listen: self
                .listen
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8888))),
            keyrings,
            kms,
            kms_timeout: Duration::from_secs(self.kms_timeout_seconds.unwrap_or(10)),
            tls,
            cors_origins: self.cors_origins,
            max_body_bytes,
            max_payloads,
            max_response_bytes,
            memory_budget_bytes,
            max_connections,
            header_timeout,
            request_timeout,
            audit_timeout,
            auth,
            reload_interval: reload,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds.unwrap_or(20)),
        })
    }

    fn keyrings(&self) -> Result<KeyringPaths, ConfigError> {
        let mut namespaces = BTreeMap::new();
        for entry in &self.namespace_keyrings {
            let (namespace, path) = entry
                .split_once('=')
                .filter(|(n, p)| !n.is_empty() && !p.is_empty())
                .ok_or_else(|| {
                    invalid(
                        "--namespace-keyring",
                        format!("`{entry}` is not NAMESPACE=FILE"),
                    )
                })?;
            if namespaces
                .insert(namespace.to_string(), PathBuf::from(path))
                .is_some()
            {
                return Err(invalid(
                    "--namespace-keyring",
                    format!("namespace `{namespace}` is given twice"),
                ));
            }
        }
        if self.keyring.is_none() && namespaces.is_empty() {
            return Err(invalid(
                "--keyring",
                "no keyring document is configured; give --keyring or --namespace-keyring",
            ));
        }
        let mut accepted_sources: BTreeMap<Namespace, BTreeSet<Namespace>> = BTreeMap::new();
        for entry in &self.accept_source_namespaces {
            let pair = entry
                .split_once('=')
                .and_then(|(n, s)| Some((Namespace::new(n).ok()?, Namespace::new(s).ok()?)));
            let Some((namespace, source)) = pair else {
                return Err(invalid(
                    "--accept-source-namespace",
                    "an entry is not NAMESPACE=SOURCE with two Temporal namespace names",
                ));
            };
            accepted_sources
                .entry(namespace)
                .or_default()
                .insert(source);
        }
        Ok(KeyringPaths {
            default: self.keyring.clone(),
            namespaces,
            accepted_sources: accepted_sources
                .into_iter()
                .map(|(n, s)| (n, Arc::new(s)))
                .collect(),
        })
    }

    fn kms_config(&self) -> Result<KmsConfig, ConfigError> {
        let required = |value: &Option<String>, setting: &'static str| {
            value
                .clone()
                .ok_or_else(|| invalid(setting, "required for this --kms"))
        };
        match self.kms.as_deref() {
            Some("local") => Ok(KmsConfig::Local {
                key_file: self
                    .local_key_file
                    .clone()
                    .ok_or_else(|| invalid("--local-key-file", "required for --kms local"))?,
            }),
            Some("vault") => Ok(KmsConfig::Vault {
                address: required(&self.vault_addr, "--vault-addr")?,
                mount: self.vault_mount.clone().unwrap_or_else(|| "transit".into()),
                key: required(&self.vault_key, "--vault-key")?,
                namespace: self.vault_namespace.clone(),
                kubernetes_role: self.vault_kubernetes_role.clone(),
            }),
            Some("aws") => Ok(KmsConfig::Aws {
                key: required(&self.aws_kms_key, "--aws-kms-key")?,
                region: self.aws_region.clone(),
                endpoint_url: self.aws_endpoint_url.clone(),
            }),
            Some("azure") => Ok(KmsConfig::Azure {
                vault_url: required(&self.azure_vault_url, "--azure-vault-url")?,
                key_name: required(&self.azure_key_name, "--azure-key-name")?,
                client_id: self.azure_client_id.clone(),
            }),
            Some("gcp") => Ok(KmsConfig::Gcp {
                key: required(&self.gcp_kms_key, "--gcp-kms-key")?,
                endpoint: self
                    .gcp_endpoint
                    .clone()
                    .unwrap_or_else(|| crate::kms::gcp::DEFAULT_ENDPOINT.into()),
            }),
            Some(other) => Err(invalid(
                "--kms",
                format!("`{other}` is not one of aws, vault, azure, gcp, local"),
            )),
            None => Err(invalid(
                "--kms",
                "required: aws, vault, azure, gcp or local",
            )),
        }
    }

    fn auth_config(&self) -> Result<AuthConfig, ConfigError> {
        if self.insecure_no_auth {
            if self.jwks_url.is_some() {
                return Err(invalid(
                    "--insecure-no-auth",
                    "cannot be combined with --jwks-url",
                ));
            }
            return Ok(AuthConfig::InsecureNoAuth);
        }
        let jwks_url = self.jwks_url.clone().ok_or_else(|| {
            invalid(
                "--jwks-url",
                "required unless --insecure-no-auth is given (development only)",
            )
        })?;
        let allowed_http = self.insecure_jwks_http && jwks_url.starts_with("http://");
        if !(jwks_url.starts_with("https://") || allowed_http) {
            return Err(invalid(
                "--jwks-url",
                "must be an https:// URL: the key set decides which tokens verify, so whoever can change it on the way can mint tokens (--insecure-jwks-http allows http:// for development)",
            ));
        }
        let issuer = self
            .jwt_issuer
            .clone()
            .ok_or_else(|| invalid("--jwt-issuer", "required with --jwks-url"))?;
        if self.jwt_audiences.is_empty() {
            return Err(invalid("--jwt-audience", "required with --jwks-url"));
        }
        let leeway = self.jwt_leeway_seconds.unwrap_or(DEFAULT_LEEWAY_SECONDS);
        if leeway > MAX_LEEWAY_SECONDS {
            return Err(invalid(
                "--jwt-leeway-seconds",
                format!("at most {MAX_LEEWAY_SECONDS}"),
            ));
        }
        Ok(AuthConfig::Jwt(JwtConfig {
            jwks_url,
            issuer,
            audiences: self.jwt_audiences.clone(),
            permissions_claim: self
                .permissions_claim
                .clone()
                .unwrap_or_else(|| "permissions".into()),
            leeway: Duration::from_secs(leeway),
            ca_cert: self.jwks_ca_cert.clone(),
            allow_http: self.insecure_jwks_http,
            fetch_timeout: Duration::from_secs(at_least_one(
                "--jwks-timeout-seconds",
                self.jwks_timeout_seconds
                    .unwrap_or(DEFAULT_JWKS_TIMEOUT_SECONDS),
            )?),
            max_age: Duration::from_secs(at_least_one(
                "--jwks-max-age-seconds",
                self.jwks_max_age_seconds
                    .unwrap_or(DEFAULT_JWKS_MAX_AGE_SECONDS),
            )?),
            grace: Duration::from_secs(
                self.jwks_grace_seconds
                    .unwrap_or(DEFAULT_JWKS_GRACE_SECONDS),
            ),
        }))
    }
}

fn at_least_one<T: PartialOrd + From<u8>>(
    setting: &'static str,
    value: T,
) -> Result<T, ConfigError> {
    if value < T::from(1) {
        return Err(invalid(setting, "must be at least 1"));
    }
    Ok(value)
}

/// What one request with a body of `body_bytes` reserves from the memory budget.
pub fn reservation_bytes(body_bytes: usize) -> usize {
    body_bytes
        .saturating_mul(MEMORY_PER_BODY_BYTE)
        .saturating_add(MEMORY_PER_REQUEST_BYTES)
}

/// The connection limit: `requested`, or the default lowered to fit `open_files` (the soft
/// limit on open file descriptors) less [`RESERVED_FILE_DESCRIPTORS`]. A requested limit the
/// descriptors cannot hold is refused: past it, accepting fails with "Too many open files" and
/// every client is refused.
fn connection_limit(
    requested: Option<usize>,
    open_files: Option<u64>,
) -> Result<usize, ConfigError> {
    let fits = open_files.map(|n| {
        usize::try_from(n.saturating_sub(RESERVED_FILE_DESCRIPTORS)).unwrap_or(usize::MAX)
    });
    match (requested, fits) {
        (Some(0), _) => Err(invalid("--max-connections", "must be at least 1")),
        (Some(n), Some(fits)) if n > fits => Err(invalid(
            "--max-connections",
            format!(
                "{n} connections do not fit the open-file limit ({}) less {RESERVED_FILE_DESCRIPTORS} kept for the server itself; give at most {fits}, or raise the limit (ulimit -n)",
                open_files.unwrap_or_default()
            ),
        )),
        (Some(n), _) => Ok(n),
        (None, Some(0)) => Err(invalid(
            "--max-connections",
            format!(
                "the open-file limit leaves no descriptor for clients; raise it above {RESERVED_FILE_DESCRIPTORS} (ulimit -n)"
            ),
        )),
        (None, Some(fits)) => Ok(DEFAULT_MAX_CONNECTIONS.min(fits)),
        (None, None) => Ok(DEFAULT_MAX_CONNECTIONS),
    }
}

/// The soft limit on open file descriptors, from `/proc/self/limits` (Linux); `None` where that
/// file does not exist or says "unlimited".
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|soft| soft.parse().ok())
}

/// An origin is `scheme://host[:port]`, exactly what a browser sends: no path, no wildcard.
fn check_origin(origin: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| invalid("--cors-origin", format!("`{origin}` {why}"));
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| bad("must start with https:// or http://"))?;
    if rest.is_empty() || rest.contains(['/', '*', ' ', '?', '#']) {
        return Err(bad(
            "must be an exact origin like https://temporal.example.com, without path or wildcard",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Settings {
        Settings {
            keyring: Some("k.json".into()),
            kms: Some("local".into()),
            local_key_file: Some("kek".into()),
            insecure_no_auth: true,
            ..Settings::default()
        }
    }

    #[test]
    fn tokens_without_tls_are_refused() {
        let settings = Settings {
            insecure_no_auth: false,
            jwks_url: Some("https://idp/jwks".into()),
            jwt_issuer: Some("https://idp".into()),
            jwt_audiences: vec!["codec".into()],
            ..base()
        };
        let err = settings.resolve().unwrap_err().to_string();
        assert!(err.contains("TLS is not configured"), "{err}");
    }

    #[test]
    fn no_auth_needs_an_explicit_choice() {
        let err = Settings {
            insecure_no_auth: false,
            ..base()
        }
        .resolve()
        .unwrap_err();
        assert!(err.to_string().contains("--jwks-url"), "{err}");
    }

    #[test]
    fn origins_must_be_exact() {
        for bad in [
            "*",
            "https://*.example.com",
            "https://ui.example.com/",
            "ui.example.com",
        ] {
            let settings = Settings {
                cors_origins: vec![bad.into()],
                ..base()
            };
            assert!(settings.resolve().is_err(), "{bad} accepted");
        }
        let good = Settings {
            cors_origins: vec!["http://127.0.0.1:8233".into()],
            ..base()
        };
        assert!(good.resolve().is_ok());
    }

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_the_rest() {
        let file: Settings =
            serde_yaml_ng::from_str("listen: 127.0.0.1:9000\nmax-body-bytes: 10\nkms: vault\n")
                .unwrap();
        let merged = Settings {
            kms: Some("local".into()),
            ..base()
        }
        .over(file);
        let config = merged.resolve().unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.max_body_bytes, 10);
        assert!(matches!(config.kms, KmsConfig::Local { .. }));
        assert_eq!(config.reload_interval, Duration::from_secs(10));
    }

    fn with_tokens(jwks_url: &str) -> Settings {
        Settings {
            insecure_no_auth: false,
            jwks_url: Some(jwks_url.into()),
            jwt_issuer: Some("https://idp".into()),
            jwt_audiences: vec!["codec".into()],
            tls_cert: Some("tls.crt".into()),
            tls_key: Some("tls.key".into()),
            ..base()
        }
    }

    #[test]
    fn the_jwks_url_must_be_https_unless_explicitly_allowed() {
        let err = with_tokens("http://idp/jwks")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--jwks-url") && err.contains("https://"),
            "{err}"
        );
        assert!(with_tokens("ftp://idp/jwks").resolve().is_err());
        let allowed = Settings {
            insecure_jwks_http: true,
            ..with_tokens("http://idp/jwks")
        };
        let AuthConfig::Jwt(jwt) = allowed.resolve().unwrap().auth else {
            panic!("tokens are checked");
        };
        assert!(jwt.allow_http);
        assert_eq!(
            jwt.max_age,
            Duration::from_secs(DEFAULT_JWKS_MAX_AGE_SECONDS)
        );
        assert_eq!(jwt.grace, Duration::from_secs(DEFAULT_JWKS_GRACE_SECONDS));
        assert!(with_tokens("https://idp/jwks").resolve().is_ok());
    }

    #[test]
    fn limits_have_defaults_and_the_budget_must_hold_one_largest_request() {
        let config = base().resolve().unwrap();
        assert_eq!(config.max_payloads, DEFAULT_MAX_PAYLOADS);
        assert_eq!(config.max_response_bytes, 2 * DEFAULT_MAX_BODY_BYTES);
        assert_eq!(config.memory_budget_bytes, DEFAULT_MEMORY_BUDGET_BYTES);
        assert_eq!(
            config.header_timeout,
            Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECONDS)
        );
        let err = Settings {
            memory_budget_bytes: Some(2 * reservation_bytes(DEFAULT_MAX_BODY_BYTES) - 1),
            ..base()
        }
        .resolve()
        .unwrap_err()
        .to_string();
        assert!(err.contains("--memory-budget-bytes"), "{err}");
        for zero in [
            Settings {
                max_payloads: Some(0),
                ..base()
            },
            Settings {
                request_timeout_seconds: Some(0),
                ..base()
            },
            Settings {
                max_connections: Some(0),
                ..base()
            },
        ] {
            assert!(zero.resolve().is_err());
        }
    }

    #[test]
    fn the_connection_limit_fits_the_open_file_limit() {
        assert_eq!(
            connection_limit(None, Some(128)).unwrap(),
            128 - RESERVED_FILE_DESCRIPTORS as usize
        );
        assert_eq!(
            connection_limit(None, Some(1 << 20)).unwrap(),
            DEFAULT_MAX_CONNECTIONS
        );
        assert_eq!(
            connection_limit(None, None).unwrap(),
            DEFAULT_MAX_CONNECTIONS
        );
        assert_eq!(connection_limit(Some(50), Some(128)).unwrap(), 50);
        let err = connection_limit(Some(100), Some(128))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 64"), "{err}");
        assert!(connection_limit(None, Some(10)).is_err());
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        assert!(serde_yaml_ng::from_str::<Settings>("listne: 1").is_err());
    }

    #[test]
    fn namespace_keyrings_parse() {
        let settings = Settings {
            namespace_keyrings: vec!["orders=o.json".into()],
            ..base()
        };
        let config = settings.resolve().unwrap();
        assert_eq!(
            config.keyrings.namespaces["orders"],
            PathBuf::from("o.json")
        );
        let bad = Settings {
            namespace_keyrings: vec!["orders".into()],
            ..base()
        };
        assert!(bad.resolve().is_err());
    }

    #[test]
    fn cloud_kms_settings_are_required_and_named() {
        let azure = Settings {
            kms: Some("azure".into()),
            azure_vault_url: Some("https://payments.vault.azure.net".into()),
            ..base()
        };
        let err = azure.clone().resolve().unwrap_err().to_string();
        assert!(err.contains("--azure-key-name"), "{err}");
        let config = Settings {
            azure_key_name: Some("engram".into()),
            ..azure
        }
        .resolve()
        .unwrap();
        assert!(
            matches!(config.kms, KmsConfig::Azure { ref key_name, .. } if key_name == "engram")
        );

        let gcp = Settings {
            kms: Some("gcp".into()),
            ..base()
        };
        let err = gcp.clone().resolve().unwrap_err().to_string();
        assert!(err.contains("--gcp-kms-key"), "{err}");
        let config = Settings {
            gcp_kms_key: Some("projects/p/locations/l/keyRings/r/cryptoKeys/k".into()),
            ..gcp
        }
        .resolve()
        .unwrap();
        assert!(
            matches!(config.kms, KmsConfig::Gcp { ref endpoint, .. } if endpoint == crate::kms::gcp::DEFAULT_ENDPOINT)
        );
    }
}
