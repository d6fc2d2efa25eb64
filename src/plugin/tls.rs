//! AutoMTLS as go-plugin does it: Terraform passes its own freshly generated client
//! certificate in `PLUGIN_CLIENT_CERT`; the plugin generates a server certificate, prints it in
//! the handshake line, and accepts only connections that present exactly Terraform's
//! certificate. The client certificate is self-signed and marked as a CA, which path-building
//! verifiers reject as an end entity, so it is pinned: compared byte for byte, with the TLS
//! handshake signature checked against its key.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{
    CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, ServerConfig,
    SignatureScheme,
};
use std::sync::Arc;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `PLUGIN_CLIENT_CERT` did not hold a PEM certificate.
    #[error("PLUGIN_CLIENT_CERT is not a PEM certificate: {0}")]
    ClientCert(String),
    /// Generating the server certificate failed.
    #[error("could not generate the plugin's server certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] Error),
}

/// The server side of AutoMTLS: the rustls configuration and the certificate to announce.
pub struct AutoMtls {
    /// Accepts only the pinned client certificate; offers HTTP/2 only.
    pub config: Arc<ServerConfig>,
    /// The server certificate (DER) for the handshake line.
    pub server_cert_der: Vec<u8>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Builds AutoMTLS from the PEM in `PLUGIN_CLIENT_CERT`.
pub fn auto_mtls(client_cert_pem: &str) -> Result<AutoMtls, TlsError> {
    let client = CertificateDer::from_pem_slice(client_cert_pem.as_bytes())
        .map_err(|e| TlsError::ClientCert(e.to_string()))?;
    let (cert, key) = server_certificate()?;
    let provider = provider();
    let verifier = Arc::new(PinnedClientCert {
        expected: client.into_owned(),
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert.clone()], key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(AutoMtls {
        config: Arc::new(config),
        server_cert_der: cert.to_vec(),
    })
}

/// A self-signed certificate for `localhost` (the name go-plugin verifies), valid from a
/// little before now for one year. Terraform trusts exactly this certificate as its root.
fn server_certificate() -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
    use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose};
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "terraform-provider-engram");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::seconds(30);
    params.not_after = now + time::Duration::days(365);
    let cert = params.self_signed(&key)?;
    let key_der = PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| TlsError::ClientCert(e.to_string()))?;
    Ok((cert.der().clone(), key_der))
}

/// Accepts exactly one certificate.
#[derive(Debug)]
struct PinnedClientCert {
    expected: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        if end_entity.as_ref() == self.expected.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_certificate_that_is_not_pem_is_refused() {
        assert!(matches!(
            auto_mtls("not a certificate"),
            Err(TlsError::ClientCert(_))
        ));
    }

    #[test]
    fn only_the_pinned_certificate_is_accepted() {
        let (a, _) = server_certificate().unwrap();
        let (b, _) = server_certificate().unwrap();
        let v = PinnedClientCert {
            expected: a.clone(),
            algorithms: provider().signature_verification_algorithms,
        };
        assert!(v.verify_client_cert(&a, &[], UnixTime::now()).is_ok());
        assert!(v.verify_client_cert(&b, &[], UnixTime::now()).is_err());
        assert!(v.client_auth_mandatory());
    }
}
