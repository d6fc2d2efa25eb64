//! Encryption in transit, from handshakes: for each address, whether TLS 1.3 and TLS 1.2 are
//! accepted (one handshake offering only that version), the certificate's expiry, and whether
//! the certificate verifies against the CA given. rustls offers neither TLS 1.0 nor 1.1, so the
//! report says they were not offered by the checker rather than claiming the server refuses them.

use crate::evidence::report::{Control, Fact, RmfFunction};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::TlsConnector;

/// How long each connection and handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One endpoint to probe.
#[derive(Debug, Clone)]
pub struct Target {
    /// What it is, e.g. `codec server`.
    pub role: String,
    /// `host:port`.
    pub address: String,
    /// Whether the operator's URL asked for plain TCP (`http://`), which fails without a probe.
    pub plaintext: bool,
    /// PEM CA to verify the certificate with; without one the chain is not verified.
    pub ca_pem: Option<String>,
}

/// Accepts any certificate; used only to see what a server offers when no CA was given, and
/// the report says the chain was not verified.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn config(
    version: &'static rustls::SupportedProtocolVersion,
    ca_pem: Option<&str>,
) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .map_err(|e| e.to_string())?;
    Ok(match ca_pem {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| format!("the CA file is not PEM: {e}"))?;
                roots.add(cert).map_err(|e| e.to_string())?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
            .with_no_client_auth(),
    })
}

/// The outcome of one handshake.
struct Handshake {
    /// The leaf certificate's notAfter, Unix seconds, when it could be read.
    not_after: Option<i64>,
}

async fn handshake(
    address: &str,
    version: &'static rustls::SupportedProtocolVersion,
    ca_pem: Option<&str>,
) -> Result<Handshake, String> {
    let host = address
        .rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .ok_or_else(|| format!("{address} is not host:port"))?;
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let connector = TlsConnector::from(Arc::new(config(version, ca_pem)?));
    let work = async {
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| format!("could not connect to {address}: {e}"))?;
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake with {address} failed: {e}"))?;
        let (_, session) = tls.get_ref();
        let not_after = session
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|leaf| not_after(leaf.as_ref()));
        Ok(Handshake { not_after })
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, work)
        .await
        .map_err(|_| format!("no handshake with {address} within {HANDSHAKE_TIMEOUT:?}"))?
}

/// The encryption-in-transit control over `targets`, judged at `now` (Unix seconds).
pub async fn encryption_in_transit(targets: &[Target], now: i64) -> Control {
    let mut control = Control::new(
        "encryption-in-transit",
        "Encryption in transit: TLS 1.3 on every endpoint",
        &[RmfFunction::Measure, RmfFunction::Manage],
        "Encryption in transit (TLS 1.3)",
    );
    for t in targets {
        let method13 = format!(
            "TLS handshake offering only TLS 1.3 to {} ({})",
            t.address, t.role
        );
        if t.plaintext {
            control.fact(Fact::now(
                format!(
                    "the {} at {} is reached over plain TCP: no TLS",
                    t.role, t.address
                ),
                format!(
                    "the {}'s address as given (an http:// URL, or a frontend without --temporal-tls)",
                    t.role
                ),
                false,
            ));
            continue;
        }
        let verified = if t.ca_pem.is_some() {
            "certificate verified against the given CA"
        } else {
            "certificate chain not verified (no CA given)"
        };
        match handshake(&t.address, &rustls::version::TLS13, t.ca_pem.as_deref()).await {
            Ok(h) => {
                control.fact(Fact::now(
                    format!(
                        "the {} at {} accepts TLS 1.3; {verified}",
                        t.role, t.address
                    ),
                    method13.clone(),
                    t.ca_pem.is_some(),
                ));
                if let Some(end) = h.not_after {
                    control.fact(Fact::now(
                        format!(
                            "the {}'s certificate expires {}{}",
                            t.role,
                            crate::codec::clock::rfc3339(end),
                            if end <= now { ": it has expired" } else { "" }
                        ),
                        method13.clone(),
                        end > now,
                    ));
                }
            }
            Err(e) => control.fact(Fact::now(
                format!("the {} does not complete a TLS 1.3 handshake: {e}", t.role),
                method13.clone(),
                false,
            )),
        }
        let method12 = format!(
            "TLS handshake offering only TLS 1.2 to {} ({})",
            t.address, t.role
        );
        match handshake(&t.address, &rustls::version::TLS12, t.ca_pem.as_deref()).await {
            Ok(_) => control.fact(Fact::now(
                format!("the {} at {} also accepts TLS 1.2", t.role, t.address),
                method12,
                true,
            )),
            Err(e) => control.fact(Fact::now(
                format!("the {} refuses TLS 1.2 ({e})", t.role),
                method12,
                true,
            )),
        }
        control.fact(Fact::now(
            format!(
                "TLS 1.0 and 1.1 for the {}: not offered by the checker (rustls implements neither), so not tested",
                t.role
            ),
            "none",
            true,
        ));
    }
    control.conclude(if targets.is_empty() {
        "no endpoint was given".to_string()
    } else if control.facts.iter().all(|f| f.holds) {
        "every endpoint accepts TLS 1.3 with a valid, unexpired certificate".to_string()
    } else {
        "an endpoint is plain TCP, refuses TLS 1.3, or its certificate is not verified or expired"
            .to_string()
    });
    control
}

/// Reads a DER item at `at`: (tag, content start, content end).
fn der_item(der: &[u8], at: usize) -> Option<(u8, usize, usize)> {
    let tag = *der.get(at)?;
    let first = *der.get(at + 1)? as usize;
    let (len, start) = if first < 0x80 {
        (first, at + 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *der.get(at + 2 + i)? as usize;
        }
        (len, at + 2 + n)
    };
    let end = start.checked_add(len)?;
    (end <= der.len()).then_some((tag, start, end))
}

/// The notAfter of an X.509 certificate (RFC 5280 4.1.2.5), Unix seconds.
fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert, _) = der_item(der, 0)?;
    let (_, tbs, _) = der_item(der, cert)?;
    let mut at = tbs;
    let (tag, _, end) = der_item(der, at)?;
    if tag == 0xa0 {
        at = end; // explicit version
    }
    for _ in 0..3 {
        // serial, signature algorithm, issuer
        at = der_item(der, at)?.2;
    }
    let (_, validity, _) = der_item(der, at)?;
    let not_before_end = der_item(der, validity)?.2;
    let (tag, start, end) = der_item(der, not_before_end)?;
    let text = std::str::from_utf8(&der[start..end]).ok()?;
    let full = match tag {
        0x17 => {
            // UTCTime YYMMDDHHMMSSZ: years 50-99 are 19xx.
            let yy: i32 = text.get(0..2)?.parse().ok()?;
            format!("{}{}", if yy >= 50 { 19 } else { 20 }, text)
        }
        0x18 => text.to_string(),
        _ => return None,
    };
    let format = time::macros::format_description!("[year][month][day][hour][minute][second]Z");
    time::PrimitiveDateTime::parse(&full, format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::not_after;

    #[test]
    fn reads_a_certificates_expiry() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 5, 17);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let expected = time::macros::datetime!(2031-05-17 0:00 UTC).unix_timestamp();
        assert_eq!(not_after(cert.der()), Some(expected));
        assert_eq!(not_after(b"\x30\x03\x02\x01"), None);
    }
}
