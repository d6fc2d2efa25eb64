//! `engram codec-server`: Temporal's remote codec protocol over HTTP(S), so that people can read
//! encrypted payloads in the Web UI and the `temporal` CLI while Temporal stores only ciphertext.
//!
//! At start the server unwraps its keyring documents through the KMS and keeps the plaintext
//! keys in memory only. Each `/encode` or `/decode` request is authorized (a bearer JWT with a
//! Temporal permission on the namespace, unless `--insecure-no-auth`), converted all or nothing,
//! and written to the audit trail on stdout. The protocol, configuration and audit schema are
//! documented in docs/codec-server.md.

mod audit;
mod auth;
mod config;
mod error;
mod handlers;
mod keyrings;
mod kms;
mod listener;
mod metrics;
mod namespace;
mod router;
mod state;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinSet;

pub use audit::{AuditLog, Operation, Outcome};
pub use auth::{Role, role_on};
pub use config::{
    AuthConfig, ConfigError, DEFAULT_MAX_BODY_BYTES, JwtConfig, KeyringPaths, KmsConfig,
    MAX_LEEWAY_SECONDS, ServerConfig, Settings, TlsFiles,
};
pub use error::ApiError;
pub use kms::KmsSetupError;
pub use router::ALLOWED_HEADERS;
pub use tls::TlsError;

use crate::codec::server::auth::Authorizer;
use crate::codec::server::keyrings::Keyrings;
use crate::codec::server::listener::{ClientAddr, CodecListener};
use crate::codec::server::metrics::Metrics;
use crate::codec::server::state::AppState;
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
    #[error("cannot build the JWKS client: {0}")]
    Jwks(#[from] reqwest::Error),
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
    listener: CodecListener,
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
        let state = AppState {
            keyrings,
            auth: Arc::new(Authorizer::new(&config.auth)?),
            metrics,
            audit,
            max_body_bytes: config.max_body_bytes,
        };
        let listener = CodecListener::bind(config.listen, tls)
            .await
            .map_err(|source| ServerError::Io {
                addr: config.listen,
                source,
            })?;
        Ok(Self {
            config,
            listener,
            state,
            background,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        axum::serve::Listener::local_addr(&self.listener).unwrap_or(self.config.listen)
    }

    /// Serves until `shutdown` completes, then stops accepting and gives requests in flight the
    /// configured grace period to finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Self {
            config,
            listener,
            state,
            mut background,
        } = self;
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let addr = axum::serve::Listener::local_addr(&listener).unwrap_or(config.listen);
        tracing::info!(address = %format!("{scheme}://{addr}"), ready = state.keyrings.ready(), "codec server listening");
        let app = router::router(state, &config.cors_origins)
            .into_make_service_with_connect_info::<ClientAddr>();
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections, finishing requests in flight");
            let _ = stopping.send(());
        });
        let grace = config.shutdown_grace;
        let result = tokio::select! {
            result = serve.into_future() => result,
            () = async {
                let _ = stopped.await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!("requests still running after the shutdown grace period; stopping anyway");
                Ok(())
            }
        };
        background.shutdown().await;
        result.map_err(|source| ServerError::Io { addr, source })
    }
}
