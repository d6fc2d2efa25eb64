//! The provider configuration as typed settings, and its checks. Secrets (the Kubernetes token,
//! the Temporal client key) are kept out of `Debug` output.

use crate::deploy::{DeployError, Deployer};
use crate::framework::{AttributePath, Diagnostics, Value};
use crate::temporal::{TemporalClient, TemporalEndpoint, TemporalError};
use rustls::pki_types::pem::PemObject;
use std::fmt;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// What the provider block configured, shared by every resource.
#[derive(Clone, Default)]
pub struct ProviderSettings {
    /// Namespace for resources that do not name one.
    pub default_namespace: String,
    /// Whether `default_namespace` comes from a value not known until apply (the provider
    /// configured from another resource of the same run): plans must then leave namespaces
    /// unknown rather than promise `temporal`.
    pub default_namespace_unknown: bool,
    /// How to reach Kubernetes.
    pub kubernetes: KubernetesSettings,
    /// How to reach Temporal, when configured.
    pub temporal: Option<TemporalSettings>,
    /// The Temporal client, connected on first use and shared by every resource.
    temporal_client: Arc<OnceCell<TemporalClient>>,
    /// The Kubernetes client, built on first use and shared by every resource, with the API
    /// server's address.
    deployer: Arc<OnceCell<(Deployer, String)>>,
}

/// How long each Kubernetes request may take.
const KUBERNETES_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("default_namespace", &self.default_namespace)
            .field("kubernetes", &self.kubernetes)
            .field("temporal", &self.temporal)
            .finish_non_exhaustive()
    }
}

/// Why a shared client is not available.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The provider block lacks the settings this operation needs.
    #[error("{0}")]
    NotConfigured(&'static str),
    /// Connecting to Temporal failed.
    #[error(transparent)]
    Temporal(#[from] TemporalError),
    /// Building the Kubernetes client failed.
    #[error(transparent)]
    Kubernetes(#[from] DeployError),
}

/// How to reach the Kubernetes API.
#[derive(Clone, Default)]
pub struct KubernetesSettings {
    /// A kubeconfig path.
    pub config_path: Option<String>,
    /// A kubeconfig context.
    pub config_context: Option<String>,
    /// An API server URL (instead of a kubeconfig).
    pub host: Option<String>,
    /// A bearer token for `host`.
    pub token: Option<String>,
    /// The API server's CA (PEM).
    pub cluster_ca_certificate: Option<String>,
}

impl fmt::Debug for KubernetesSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubernetesSettings")
            .field("config_path", &self.config_path)
            .field("config_context", &self.config_context)
            .field("host", &self.host)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// How to reach the Temporal frontend.
#[derive(Clone, Default)]
pub struct TemporalSettings {
    /// `host:port`.
    pub address: String,
    /// CA for TLS.
    pub ca_certificate: Option<String>,
    /// Client certificate for mTLS.
    pub client_certificate: Option<String>,
    /// Client key for mTLS.
    pub client_key: Option<String>,
    /// TLS server name override.
    pub server_name: Option<String>,
    /// API key or bearer token for a frontend with authorization on.
    pub api_key: Option<String>,
}

impl TemporalSettings {
    /// Where and how to connect, for the shared client and for the evidence's history reads.
    pub fn endpoint(&self) -> TemporalEndpoint {
        TemporalEndpoint {
            address: self.address.clone(),
            ca_certificate: self.ca_certificate.clone(),
            client_certificate: self.client_certificate.clone(),
            client_key: self.client_key.clone(),
            server_name: self.server_name.clone(),
            api_key: self.api_key.clone(),
        }
    }
}

impl fmt::Debug for TemporalSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemporalSettings")
            .field("address", &self.address)
            .field("server_name", &self.server_name)
            .field(
                "client_key",
                &self.client_key.as_ref().map(|_| "[redacted]"),
            )
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

fn string(v: &Value, name: &str) -> Option<String> {
    v.get(name).as_str().map(str::to_string)
}

/// The only element of a `max_items = 1` list block, or null.
fn single(config: &Value, block: &str) -> Value {
    match config.get(block) {
        Value::List(items) => items.first().cloned().unwrap_or_default(),
        _ => Value::Null,
    }
}

impl ProviderSettings {
    /// Reads validated configuration.
    pub fn from_config(config: &Value) -> Self {
        let k = single(config, "kubernetes");
        let t = single(config, "temporal");
        Self {
            default_namespace: string(config, "default_namespace")
                .unwrap_or_else(|| "temporal".into()),
            default_namespace_unknown: config.get("default_namespace").is_unknown(),
            kubernetes: KubernetesSettings {
                config_path: string(&k, "config_path"),
                config_context: string(&k, "config_context"),
                host: string(&k, "host"),
                token: string(&k, "token"),
                cluster_ca_certificate: string(&k, "cluster_ca_certificate"),
            },
            temporal: string(&t, "address").map(|address| TemporalSettings {
                address,
                ca_certificate: string(&t, "ca_certificate"),
                client_certificate: string(&t, "client_certificate"),
                client_key: string(&t, "client_key"),
                server_name: string(&t, "server_name"),
                api_key: string(&t, "api_key").or_else(crate::temporal::api_key_from_environment),
            }),
            temporal_client: Arc::default(),
            deployer: Arc::default(),
        }
    }

    /// The Kubernetes client, from the provider's `kubernetes` block or, without one, from
    /// `KUBECONFIG`/`~/.kube/config`/the in-cluster service account.
    pub async fn deployer(&self) -> Result<&Deployer, ClientError> {
        Ok(&self.kubernetes_connection().await?.0)
    }

    /// The shared Kubernetes client and the address of its API server, for reads outside
    /// deploy/ (the security evidence).
    pub async fn kubernetes_client(&self) -> Result<(kube::Client, String), ClientError> {
        let (deployer, server) = self.kubernetes_connection().await?;
        Ok((deployer.client.clone(), server.clone()))
    }

    async fn kubernetes_connection(&self) -> Result<&(Deployer, String), ClientError> {
        let k = self.kubernetes.clone();
        Ok(self
            .deployer
            .get_or_try_init(|| async move { kube_client(&k).await })
            .await?)
    }

    /// The Temporal frontend client, connected on first use.
    pub async fn temporal_client(&self) -> Result<&TemporalClient, ClientError> {
        let settings = self.temporal.as_ref().ok_or(ClientError::NotConfigured(
            "This needs the Temporal frontend: add `temporal { address = \"HOST:7233\" }` to the engram provider block.",
        ))?;
        let endpoint = settings.endpoint();
        Ok(self
            .temporal_client
            .get_or_try_init(|| TemporalClient::connect(&endpoint))
            .await?)
    }
}

async fn kube_client(k: &KubernetesSettings) -> Result<(Deployer, String), DeployError> {
    let bad = |e: String| DeployError::Kubeconfig(e);
    let mut config = if let Some(host) = &k.host {
        let mut config = kube::Config::new(host.parse().map_err(|e| bad(format!("host: {e}")))?);
        if let Some(token) = &k.token {
            config.auth_info.token = Some(token.clone().into());
        }
        if let Some(ca) = &k.cluster_ca_certificate {
            let certs = rustls::pki_types::CertificateDer::pem_slice_iter(ca.as_bytes())
                .map(|c| c.map(|c| c.to_vec()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(format!("cluster_ca_certificate: {e}")))?;
            config.root_cert = Some(certs);
        }
        config
    } else {
        let options = kube::config::KubeConfigOptions {
            context: k.config_context.clone(),
            ..Default::default()
        };
        match &k.config_path {
            Some(path) => {
                let file = kube::config::Kubeconfig::read_from(shellexpand_home(path))
                    .map_err(|e| bad(e.to_string()))?;
                kube::Config::from_custom_kubeconfig(file, &options)
                    .await
                    .map_err(|e| bad(e.to_string()))?
            }
            None => kube::Config::infer()
                .await
                .map_err(|e| bad(e.to_string()))?,
        }
    };
    config.connect_timeout = Some(KUBERNETES_REQUEST_TIMEOUT);
    config.read_timeout = Some(KUBERNETES_REQUEST_TIMEOUT);
    config.write_timeout = Some(KUBERNETES_REQUEST_TIMEOUT);
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).map_err(|e| bad(e.to_string()))?;
    Ok((Deployer::new(client, server.clone()), server))
}

/// `~/x` as the user means it.
fn shellexpand_home(path: &str) -> std::path::PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::PathBuf::from(home).join(rest),
        _ => std::path::PathBuf::from(path),
    }
}

/// Checks that go beyond single attributes: combinations and formats. Unknown values pass.
pub fn validate(config: &Value, diags: &mut Diagnostics) {
    let k = single(config, "kubernetes");
    let kpath = |name: &str| AttributePath::root("kubernetes").index(0).attr(name);
    if let Some(host) = k.get("host").as_str() {
        if !(host.starts_with("https://") || host.starts_with("http://")) {
            diags.attribute_error(
                kpath("host"),
                "Invalid kubernetes.host",
                format!("{host:?} is not a URL; give the API server as https://HOST:PORT."),
            );
        }
        if !k.get("config_path").is_null() {
            diags.attribute_error(
                kpath("config_path"),
                "Conflicting Kubernetes settings",
                "Set either `config_path` (a kubeconfig) or `host` with `token` and `cluster_ca_certificate`, not both.",
            );
        }
    }
    if let Some(ca) = k.get("cluster_ca_certificate").as_str()
        && !ca.contains("-----BEGIN CERTIFICATE-----")
    {
        diags.attribute_error(
            kpath("cluster_ca_certificate"),
            "Invalid kubernetes.cluster_ca_certificate",
            "Expected a PEM certificate starting with -----BEGIN CERTIFICATE-----; use file(\"ca.crt\") or base64decode() of the kubeconfig's certificate-authority-data.",
        );
    }

    let t = single(config, "temporal");
    let tpath = |name: &str| AttributePath::root("temporal").index(0).attr(name);
    if !t.is_null() && t.get("address").is_null() {
        diags.attribute_error(
            tpath("address"),
            "Missing temporal.address",
            "The temporal block needs the frontend address as host:port, e.g. \"temporal-frontend.temporal:7233\".",
        );
    }
    if let Some(address) = t.get("address").as_str() {
        let valid = address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !valid {
            diags.attribute_error(
                tpath("address"),
                "Invalid temporal.address",
                format!("{address:?} is not host:port; give the frontend's gRPC address, e.g. \"temporal-frontend.temporal:7233\"."),
            );
        }
    }
    if let Some(ca) = t.get("ca_certificate").as_str()
        && !ca.contains("-----BEGIN CERTIFICATE-----")
    {
        diags.attribute_error(
            tpath("ca_certificate"),
            "Invalid temporal.ca_certificate",
            "Expected a PEM certificate starting with -----BEGIN CERTIFICATE-----; use file(\"ca.crt\").",
        );
    }
    if let Some(key) = t.get("api_key").as_str()
        && !crate::temporal::is_header_value(key)
    {
        diags.attribute_error(
            tpath("api_key"),
            "Invalid temporal.api_key",
            "The API key is sent in a gRPC header, which carries only visible ASCII characters and spaces; check for a trailing newline (use trimspace(file(...))) or a value pasted with its quotes.",
        );
    }
    if !t.get("api_key").is_null() && t.get("ca_certificate").is_null() {
        diags.attribute_warning(
            tpath("api_key"),
            "temporal.api_key over plain TCP",
            "Without `ca_certificate` the provider speaks plain TCP to the frontend, so anyone on the path can read the API key. Set `ca_certificate` to the CA of the frontend's certificate.",
        );
    }
    if !k.get("token").is_null() && !k.get("token").is_unknown() && k.get("host").is_null() {
        diags.attribute_error(
            AttributePath::root("kubernetes").index(0),
            "Token without a host",
            "A token is sent to the API server named by `host`; set `host = \"https://HOST:PORT\"` (and `cluster_ca_certificate`), or use `config_path` with a kubeconfig instead.",
        );
    }
    if let Some(namespace) = config.get("default_namespace").as_str()
        && !crate::deploy::is_dns_label(namespace, 63)
    {
        diags.attribute_error(
            AttributePath::root("default_namespace"),
            "Invalid default_namespace",
            "A Kubernetes namespace name is 1 to 63 lower-case letters, digits or '-', starting and ending with a letter or digit, e.g. \"temporal\".",
        );
    }
    if t.get("client_certificate").is_null() != t.get("client_key").is_null()
        && !t.get("client_certificate").is_unknown()
        && !t.get("client_key").is_unknown()
    {
        diags.attribute_error(
            tpath("client_key"),
            "Incomplete Temporal client certificate",
            "Set both `client_certificate` and `client_key` for mutual TLS, or neither.",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kubernetes: Value, temporal: Value) -> Value {
        Value::object([
            ("default_namespace", Value::Null),
            ("kubernetes", Value::List(vec![kubernetes])),
            ("temporal", Value::List(vec![temporal])),
        ])
    }

    fn errors(c: &Value) -> Vec<String> {
        let mut d = Diagnostics::default();
        validate(c, &mut d);
        d.iter()
            .map(|d| d.attribute.as_ref().unwrap().to_string())
            .collect()
    }

    #[test]
    fn bad_combinations_name_their_attribute() {
        let c = config(
            Value::object([
                ("host", Value::string("10.0.0.1")),
                ("config_path", Value::string("~/.kube/config")),
                ("cluster_ca_certificate", Value::string("abc")),
            ]),
            Value::object([
                ("address", Value::string("frontend")),
                ("client_key", Value::string("k")),
            ]),
        );
        assert_eq!(
            errors(&c),
            [
                "kubernetes[0].host",
                "kubernetes[0].config_path",
                "kubernetes[0].cluster_ca_certificate",
                "temporal[0].address",
                "temporal[0].client_key"
            ]
        );
    }

    #[test]
    fn unknown_values_pass_validation() {
        let c = config(
            Value::object([("host", Value::Unknown)]),
            Value::object([("address", Value::Unknown), ("client_key", Value::Unknown)]),
        );
        assert!(errors(&c).is_empty());
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = config(
            Value::object([
                ("host", Value::string("https://k")),
                ("token", Value::string("s3cr3t-token")),
            ]),
            Value::object([
                ("address", Value::string("t:7233")),
                ("client_key", Value::string("PRIVATE")),
            ]),
        );
        let s = format!("{:?}", ProviderSettings::from_config(&c));
        assert!(!s.contains("s3cr3t-token") && !s.contains("PRIVATE"), "{s}");
        assert!(s.contains("[redacted]"));
    }
}
