//! `engram codec-server`: Temporal's remote codec protocol over HTTP(S), so that people can read
//! encrypted payloads in the Web UI and the `temporal` CLI while Temporal stores only ciphertext.
//!
//! At start the server unwraps its keyring documents through the KMS and keeps the plaintext
//! keys in memory only. Each `/encode` or `/decode` request is authorized (a bearer JWT with a
//! Temporal permission on the namespace, unless `--insecure-no-auth`), converted all or nothing,
//! and written to the audit trail on stdout. Every request is bounded in size, payload count,
//! time and memory, and so is the number of connections. The protocol, configuration, limits
//! and audit schema are documented in docs/codec-server.md.

mod audit;
mod auth;
mod body;
mod budget;
mod config;
mod error;
mod handlers;
mod keyrings;
mod kms;
mod listener;
mod local_only;
mod metrics;
mod namespace;
mod router;
mod state;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinSet;

pub use audit::{AuditError, AuditLog, Operation, Outcome};
pub use auth::{AuthSetupError, Role, role_on};
pub use body::MAX_METADATA_ENTRIES;
pub use config::{
    AuthConfig, ConfigError, DEFAULT_LEEWAY_SECONDS, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_PAYLOADS,
    DEFAULT_MEMORY_BUDGET_BYTES, JwtConfig, KeyringPaths, KmsConfig, MAX_LEEWAY_SECONDS,
    ServerConfig, Settings, TlsFiles,
};
pub use error::ApiError;
pub use kms::KmsSetupError;
pub use router::ALLOWED_HEADERS;
pub use tls::TlsError;

use tokio::net::TcpListener;

use crate::codec::server::auth::Authorizer;
use crate::codec::server::budget::MemoryBudget;
use crate::codec::server::keyrings::Keyrings;
use crate::codec::server::listener::{ConnectionSettings, Connections};
use crate::codec::server::local_only::LocalOnly;
use crate::codec::server::metrics::Metrics;
use crate::codec::server::state::{AppState, RequestLimits};
use crate::codec::server::tls::CertReloader;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The KMS client could not be built.
    #[error(transparent)]
    Kms(#[from] KmsSetupError),
    /// TLS files or settings are unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The HTTP client for the JWKS could not be built.
    #[error(transparent)]
    Jwks(#[from] AuthSetupError),
    /// The address cannot be bound, or serving failed.
    #[error("{addr}: {source}")]
    Io {
        /// The listen address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// A bound, not yet serving, codec server.
pub struct CodecServer {
    config: ServerConfig,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: AppState,
    background: JoinSet<()>,
}

impl CodecServer {
    /// Builds the KMS client, makes a first attempt at unwrapping every keyring (a failure
    /// leaves the server unready and retried, not stopped), loads TLS and binds the address.
    /// `vault_token` is VAULT_TOKEN, for kms=vault.
    pub async fn bind(
        config: ServerConfig,
        audit: AuditLog,
        vault_token: Option<String>,
    ) -> Result<Self, ServerError> {
        if matches!(config.auth, AuthConfig::InsecureNoAuth) {
            tracing::warn!(
                "INSECURE: --insecure-no-auth is set. Tokens are not checked: anyone who can reach this server can decrypt every payload. For local development only."
            );
        }
        let provider = kms::provider(&config.kms, config.kms_timeout, vault_token).await?;
        let metrics = Arc::new(Metrics::default());
        let keyrings = Arc::new(Keyrings::new(&config.keyrings, provider));
        keyrings.refresh(&metrics).await;
        let mut background = JoinSet::new();
        background.spawn(
            keyrings
                .clone()
                .watch(config.reload_interval, metrics.clone()),
        );
        let tls = match &config.tls {
            Some(files) => {
                let reloader = Arc::new(CertReloader::new(files.clone())?);
                background.spawn(reloader.clone().watch(config.reload_interval));
                Some(reloader.server_config()?)
            }
            None => None,
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Io {
                    addr: config.listen,
                    source,
                })?;
        let local_only = matches!(config.auth, AuthConfig::InsecureNoAuth).then(|| {
            let listen = listener.local_addr().unwrap_or(config.listen);
            Arc::new(LocalOnly::new(listen, &config.cors_origins))
        });
        let state = AppState {
            keyrings,
            auth: Arc::new(Authorizer::new(&config.auth, metrics.clone())?),
            local_only,
            budget: Arc::new(MemoryBudget::new(
                config.memory_budget_bytes,
                metrics.clone(),
            )),
            metrics,
            audit,
            limits: RequestLimits {
                max_body_bytes: config.max_body_bytes,
                max_payloads: config.max_payloads,
                max_response_bytes: config.max_response_bytes,
                request_timeout: config.request_timeout,
                audit_timeout: config.audit_timeout,
            },
        };
        Ok(Self {
            config,
            listener,
            tls,
            state,
            background,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.listen)
    }

    /// Serves until `shutdown` completes, then stops accepting, gives requests in flight the
    /// configured grace period to finish, cuts the rest, and waits for the audit lines of them
    /// all to be written.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let Self {
            config,
            listener,
            tls,
            state,
            mut background,
        } = self;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let addr = listener.local_addr().unwrap_or(config.listen);
        tracing::info!(address = %format!("{scheme}://{addr}"), ready = state.ready(), max_connections = config.max_connections, "codec server listening");
        let audit = state.audit.clone();
        let connections = Arc::new(Connections::new(
            config.max_connections,
            state.metrics.clone(),
        ));
        let settings = ConnectionSettings {
            tls: tls.map(tokio_rustls::TlsAcceptor::from),
            header_timeout: config.header_timeout,
            write_stall_timeout: config.request_timeout,
        };
        let app = router::router(state, &config.cors_origins);
        listener::serve(
            listener,
            app,
            settings,
            connections,
            audit.clone(),
            config.shutdown_grace,
            shutdown,
        )
        .await;
        background.shutdown().await;
        if !audit.drain(config.audit_timeout).await {
            tracing::error!("the last audit lines could not be written before exit");
        }
    }
}
