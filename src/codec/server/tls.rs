//! TLS with rustls (aws-lc-rs): the certificate and key are read from PEM files and re-read when
//! they change (cert-manager renews them in place), so a renewal needs no restart. A pair that
//! does not load leaves the previous one serving.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::aws_lc_rs;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::codec::server::config::{TlsFiles, TlsMinVersion};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the key or the configuration.
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Serves the current certificate and reloads it when its files change.
pub struct CertReloader {
    files: TlsFiles,
    current: RwLock<(Arc<CertifiedKey>, Vec<u8>)>,
}

impl fmt::Debug for CertReloader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertReloader")
            .field("cert", &self.files.cert)
            .finish()
    }
}

impl CertReloader {
    /// Loads the pair now; fails if it does not load.
    pub fn new(files: TlsFiles) -> Result<Self, TlsError> {
        let loaded = load(&files)?;
        Ok(Self {
            files,
            current: RwLock::new(loaded),
        })
    }

    /// A rustls server configuration that asks this reloader for its certificate.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let versions: &[&'static rustls::SupportedProtocolVersion] = match self.files.min_version {
            TlsMinVersion::Tls12 => rustls::DEFAULT_VERSIONS,
            TlsMinVersion::Tls13 => &[&rustls::version::TLS13],
        };
        let mut config =
            rustls::ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
                .with_protocol_versions(versions)?
                .with_no_client_auth()
                .with_cert_resolver(self.clone());
        // Only HTTP/1.1 is served (see listener.rs), so only it is offered: rustls then refuses a
        // client that offers ALPN without it (`no_application_protocol`), and one that offers
        // none gets HTTP/1.1 too (rustls `ServerConfig::alpn_protocols`: "Protocol names we
        // support, most preferred first. If empty we don't do ALPN at all.").
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Re-reads the files every `interval` and swaps in a changed pair that loads.
    pub async fn watch(self: Arc<Self>, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let (Ok(cert), Ok(key)) = (
                std::fs::read(&self.files.cert),
                std::fs::read(&self.files.key),
            ) else {
                tracing::error!(cert = %self.files.cert.display(), "cannot read the TLS files; still serving the previous certificate");
                continue;
            };
            let changed = self.current.read().unwrap_or_else(|p| p.into_inner()).1
                != fingerprint(&cert, &key);
            if !changed {
                continue;
            }
            match load(&self.files) {
                Ok(loaded) => {
                    *self.current.write().unwrap_or_else(|p| p.into_inner()) = loaded;
                    tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                }
                Err(e) => {
                    tracing::error!(error = %e, "TLS certificate reload failed; still serving the previous certificate")
                }
            }
        }
    }
}

impl ResolvesServerCert for CertReloader {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .0
                .clone(),
        )
    }
}

fn fingerprint(cert: &[u8], key: &[u8]) -> Vec<u8> {
    [cert, key].concat()
}

fn load(files: &TlsFiles) -> Result<(Arc<CertifiedKey>, Vec<u8>), TlsError> {
    let file_error = |path: &std::path::Path, reason: String| TlsError::File {
        path: path.display().to_string(),
        reason,
    };
    let cert_pem =
        std::fs::read(&files.cert).map_err(|e| file_error(&files.cert, e.to_string()))?;
    let key_pem = std::fs::read(&files.key).map_err(|e| file_error(&files.key, e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(&files.cert, format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(file_error(&files.cert, "holds no CERTIFICATE block".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| file_error(&files.key, format!("not a PEM private key: {e}")))?;
    let signing_key = aws_lc_rs::default_provider()
        .key_provider
        .load_private_key(key)?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match()?;
    Ok((Arc::new(certified), fingerprint(&cert_pem, &key_pem)))
}
