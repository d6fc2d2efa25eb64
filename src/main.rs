//! terraform-provider-engram: the plugin binary Terraform and OpenTofu start.
//! Run with `--debug` to start it by hand and attach Terraform through `TF_REATTACH_PROVIDERS`.

use engram::plugin::{ServeOptions, serve};
use engram::provider::{ADDRESS, EngramProvider};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // One TLS implementation for every client in the process (Kubernetes, KMS, Temporal).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let debug = std::env::args().skip(1).any(|a| a == "--debug");
    serve(
        EngramProvider,
        ServeOptions {
            debug,
            address: ADDRESS,
        },
    )
    .await
}
