//! Connecting to a Temporal frontend, with TLS when configured, and reading what the cluster
//! says about itself.

use std::fmt;
use std::time::Duration;
use temporalio_client::errors::ClientConnectError;
use temporalio_client::{ClientTlsOptions, Connection, ConnectionOptions, TlsOptions, Url};
use temporalio_common::protos::temporal::api::workflowservice::v1::GetClusterInfoRequest;

/// How long connecting and each call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// The environment variable an API key is read from when none is configured: the name the
/// Temporal CLI reads (temporalio/cli, `--api-key` flag, env `TEMPORAL_API_KEY`).
pub const API_KEY_VARIABLE: &str = "TEMPORAL_API_KEY";

/// The API key in [`API_KEY_VARIABLE`], when set and not empty: what every caller that was
/// given no key presents.
pub fn api_key_from_environment() -> Option<String> {
    std::env::var(API_KEY_VARIABLE)
        .ok()
        .filter(|key| !key.is_empty())
}

/// Whether `value` can be sent in an ASCII gRPC header (`authorization: Bearer <value>`):
/// visible ASCII and spaces, as tonic's `AsciiMetadataValue` accepts. temporalio-client drops a
/// key it cannot parse into a header without saying so, so the provider refuses one first.
pub fn is_header_value(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

/// Where and how to reach a frontend.
#[derive(Clone, Default)]
pub struct TemporalEndpoint {
    /// `host:port` of the frontend's gRPC port.
    pub address: String,
    /// PEM CA of the frontend's certificate; TLS is used when set.
    pub ca_certificate: Option<String>,
    /// PEM client certificate for mutual TLS.
    pub client_certificate: Option<String>,
    /// PEM key of the client certificate.
    pub client_key: Option<String>,
    /// Name to verify in the server certificate when it differs from the host.
    pub server_name: Option<String>,
    /// API key or bearer token, sent as `authorization: Bearer <key>` on every call (what
    /// Temporal's default claim mapper reads: common/authorization/default_jwt_claim_mapper.go).
    pub api_key: Option<String>,
}

impl fmt::Debug for TemporalEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemporalEndpoint")
            .field("address", &self.address)
            .field("tls", &self.ca_certificate.is_some())
            .field(
                "client_key",
                &self.client_key.as_ref().map(|_| "[redacted]"),
            )
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// What went wrong talking to Temporal, with what to check.
#[derive(Debug, thiserror::Error)]
pub enum TemporalError {
    /// The address is not `host:port`.
    #[error("Temporal address {0:?} is not host:port")]
    Address(String),
    /// No connection within the timeout, or refused.
    #[error(
        "could not connect to the Temporal frontend at {address}: {reason}. Check that the address is reachable from where Terraform runs and that TLS settings match the frontend"
    )]
    Connect {
        /// The frontend address.
        address: String,
        /// The underlying error.
        reason: String,
    },
    /// A call timed out.
    #[error("Temporal call {call} to {address} did not answer within {timeout:?}")]
    Timeout {
        /// The RPC.
        call: &'static str,
        /// The frontend address.
        address: String,
        /// The limit.
        timeout: Duration,
    },
    /// The frontend answered with an error.
    #[error("Temporal {call} failed: {status}{}", access_hint(status.code()))]
    Rpc {
        /// The RPC.
        call: &'static str,
        /// The gRPC status from the frontend.
        status: Box<tonic::Status>,
    },
}

/// What to check when the frontend refuses the caller: with authorization on, Temporal answers
/// PermissionDenied to a call without a token it accepts (common/authorization/interceptor.go).
fn access_hint(code: tonic::Code) -> String {
    match code {
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => format!(
            ". The frontend checks callers: give a token whose permissions cover this call (`api_key` in the provider's `temporal` block, or {API_KEY_VARIABLE} for the provider and `engram evidence`), or a client certificate its authorizer accepts"
        ),
        _ => String::new(),
    }
}

impl TemporalError {
    /// The gRPC code when the frontend answered with an error.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            TemporalError::Rpc { status, .. } => Some(status.code()),
            _ => None,
        }
    }
}

/// What the cluster reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// The server version, e.g. `1.29.1`.
    pub server_version: String,
    /// The cluster's name.
    pub cluster_name: String,
    /// The cluster's unique id.
    pub cluster_id: String,
    /// The history shard count the cluster was created with (immutable).
    pub history_shard_count: i32,
    /// The persistence store, e.g. `postgres12`.
    pub persistence_store: String,
    /// The visibility store.
    pub visibility_store: String,
}

/// A connected frontend client.
pub struct TemporalClient {
    pub(super) connection: Connection,
    pub(super) address: String,
}

impl fmt::Debug for TemporalClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemporalClient")
            .field("address", &self.address)
            .finish()
    }
}

impl TemporalClient {
    /// Connects (and checks the frontend answers) within [`CALL_TIMEOUT`].
    pub async fn connect(endpoint: &TemporalEndpoint) -> Result<Self, TemporalError> {
        let address = endpoint.address.clone();
        let scheme = if endpoint.ca_certificate.is_some() {
            "https"
        } else {
            "http"
        };
        let url = Url::parse(&format!("{scheme}://{address}"))
            .map_err(|_| TemporalError::Address(address.clone()))?;
        if url.port().is_none() {
            return Err(TemporalError::Address(address));
        }
        let tls = endpoint.ca_certificate.as_ref().map(|ca| {
            let client = match (&endpoint.client_certificate, &endpoint.client_key) {
                (Some(cert), Some(key)) => Some(
                    ClientTlsOptions::builder()
                        .client_cert(cert.clone().into_bytes())
                        .client_private_key(key.clone().into_bytes())
                        .build(),
                ),
                _ => None,
            };
            TlsOptions::builder()
                .server_root_ca_cert(ca.clone().into_bytes())
                .maybe_domain(endpoint.server_name.clone())
                .maybe_client_tls_options(client)
                .build()
        });
        let options = ConnectionOptions::new(url)
            .identity("terraform-provider-engram".to_string())
            .maybe_tls_options(tls)
            .maybe_api_key(endpoint.api_key.clone())
            .connect_timeout(CALL_TIMEOUT)
            .build();
        let connection = tokio::time::timeout(CALL_TIMEOUT, Connection::connect(options))
            .await
            .map_err(|_| TemporalError::Timeout {
                call: "connect",
                address: address.clone(),
                timeout: CALL_TIMEOUT,
            })?
            .map_err(|e| match e {
                // The connection stands; the frontend refused the caller on its first call.
                ClientConnectError::SystemInfoCallError(status)
                    if matches!(
                        status.code(),
                        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated
                    ) =>
                {
                    TemporalError::Rpc {
                        call: "GetSystemInfo",
                        status: Box::new(status),
                    }
                }
                e => TemporalError::Connect {
                    address: address.clone(),
                    reason: e.to_string(),
                },
            })?;
        Ok(Self {
            connection,
            address,
        })
    }

    /// Runs one call with the timeout and error mapping every call shares.
    pub(super) async fn call<T>(
        &self,
        call: &'static str,
        fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, TemporalError> {
        tokio::time::timeout(CALL_TIMEOUT, fut)
            .await
            .map_err(|_| TemporalError::Timeout {
                call,
                address: self.address.clone(),
                timeout: CALL_TIMEOUT,
            })?
            .map(tonic::Response::into_inner)
            .map_err(|status| TemporalError::Rpc {
                call,
                status: Box::new(status),
            })
    }

    /// The cluster's own account of itself, including its real history shard count.
    pub async fn cluster_info(&self) -> Result<ClusterInfo, TemporalError> {
        use temporalio_client::grpc::WorkflowService;
        let mut conn = self.connection.clone();
        let r = self
            .call(
                "GetClusterInfo",
                WorkflowService::get_cluster_info(
                    &mut conn,
                    tonic::Request::new(GetClusterInfoRequest {}),
                ),
            )
            .await?;
        Ok(ClusterInfo {
            server_version: r.server_version,
            cluster_name: r.cluster_name,
            cluster_id: r.cluster_id,
            history_shard_count: r.history_shard_count,
            persistence_store: r.persistence_store,
            visibility_store: r.visibility_store,
        })
    }
}
