//! The go-plugin handshake: Terraform starts the plugin with a magic cookie and the protocol
//! versions it speaks in the environment, and reads one line from stdout that says where to
//! connect and with which certificate.

/// The environment variable Terraform sets to prove the plugin was started by Terraform.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// Its value (Terraform's, fixed for all providers).
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// go-plugin's own protocol version.
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// The provider protocol this plugin serves.
pub const APP_PROTOCOL_VERSION: u32 = 6;

/// Why the handshake cannot proceed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HandshakeError {
    /// Started by a person rather than Terraform.
    #[error(
        "This binary is a plugin for Terraform and OpenTofu; it is not meant to be run directly. Install it as the provider engram/engram and run `terraform init`, or run `engram --help` for the operator command line."
    )]
    NotStartedByTerraform,
    /// Terraform does not speak protocol 6.
    #[error(
        "This provider speaks plugin protocol {APP_PROTOCOL_VERSION}, but the calling tool offered {offered:?}. Use Terraform 1.0 or later, or OpenTofu."
    )]
    NoCommonProtocol {
        /// What the caller offered.
        offered: String,
    },
}

/// Checks the magic cookie and picks the protocol version from `PLUGIN_PROTOCOL_VERSIONS`.
pub fn negotiate(
    cookie: Option<&str>,
    offered_versions: Option<&str>,
) -> Result<u32, HandshakeError> {
    if cookie != Some(MAGIC_COOKIE_VALUE) {
        return Err(HandshakeError::NotStartedByTerraform);
    }
    match offered_versions {
        None => Ok(APP_PROTOCOL_VERSION),
        Some(list) => list
            .split(',')
            .filter_map(|v| v.trim().parse::<u32>().ok())
            .find(|v| *v == APP_PROTOCOL_VERSION)
            .ok_or_else(|| HandshakeError::NoCommonProtocol {
                offered: list.to_string(),
            }),
    }
}

/// The line printed to stdout: `core|app|network|address|grpc|certificate`.
pub fn line(network: &str, address: &str, server_cert_der: Option<&[u8]>) -> String {
    use base64::Engine;
    let cert = server_cert_der
        .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    let mut line =
        format!("{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|{network}|{address}|grpc");
    if !cert.is_empty() {
        line.push('|');
        line.push_str(&cert);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_running_the_binary_is_told_what_it_is() {
        assert_eq!(
            negotiate(None, None),
            Err(HandshakeError::NotStartedByTerraform)
        );
        assert_eq!(
            negotiate(Some("wrong"), Some("6")),
            Err(HandshakeError::NotStartedByTerraform)
        );
    }

    #[test]
    fn protocol_six_is_chosen_from_the_offer() {
        assert_eq!(negotiate(Some(MAGIC_COOKIE_VALUE), Some("5,6")), Ok(6));
        assert!(matches!(
            negotiate(Some(MAGIC_COOKIE_VALUE), Some("4,5")),
            Err(HandshakeError::NoCommonProtocol { .. })
        ));
    }

    #[test]
    fn the_line_carries_the_certificate_without_padding() {
        assert_eq!(
            line("unix", "/tmp/p", Some(&[1, 2, 3, 4])),
            "1|6|unix|/tmp/p|grpc|AQIDBA"
        );
        assert_eq!(line("unix", "/tmp/p", None), "1|6|unix|/tmp/p|grpc");
    }
}
