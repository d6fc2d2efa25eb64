//! moto's KMS (`moto_server`, PyPI moto[server]==5.2.5, installed by scripts/tools/moto) on a
//! free port, with keys created through the AWS SDK as a platform team would create them.

use crate::support::{ServerProcess, free_port, tool, wait_for_port};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The credentials every test hands to the SDK; moto accepts any.
pub const ACCESS_KEY_ID: &str = "testing";
/// See [`ACCESS_KEY_ID`].
pub const SECRET_ACCESS_KEY: &str = "testing";

/// A running moto server, stopped when dropped.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    _process: ServerProcess,
}

impl Moto {
    /// Starts moto and waits until it listens.
    pub fn start() -> Self {
        let port = free_port();
        let mut command = Command::new(tool("moto_server"));
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut process = ServerProcess::spawn("moto_server", command);
        wait_for_port(port, Duration::from_secs(60), "moto_server");
        process.assert_running();
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            _process: process,
        }
    }

    /// A KMS client for moto in `region`, with the test credentials.
    pub async fn client(&self, region: &str) -> aws_sdk_kms::Client {
        let credentials = aws_sdk_kms::config::Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "test",
        );
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(credentials)
            .http_client(
                aws_smithy_http_client::Builder::new()
                    .tls_provider(Provider::Rustls(CryptoMode::Ring))
                    .build_https(),
            )
            .load()
            .await;
        aws_sdk_kms::Client::new(&config)
    }

    /// Creates a symmetric key in `region` and returns its id.
    pub async fn create_key(&self, region: &str) -> String {
        self.client(region)
            .await
            .create_key()
            .description("engram test key")
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id
    }

    /// Creates a key in `region` named by `alias` (`alias/...`) and returns the key's id.
    pub async fn create_aliased_key(&self, region: &str, alias: &str) -> String {
        let key_id = self.create_key(region).await;
        self.client(region)
            .await
            .create_alias()
            .alias_name(alias)
            .target_key_id(&key_id)
            .send()
            .await
            .unwrap();
        key_id
    }
}
