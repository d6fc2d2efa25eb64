//! Process and transport: the go-plugin handshake, AutoMTLS, the gRPC services Terraform calls,
//! and translation between the generated protocol types and `framework` types. The only module
//! that touches generated code.

pub mod convert;
pub mod goplugin;
pub mod handshake;
pub mod logging;
pub mod server;
pub mod tls;
pub mod transport;

use crate::framework::Provider;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Code generated from `proto/` by `build.rs`.
pub mod proto {
    /// Terraform's provider protocol 6.
    #[allow(clippy::all, missing_docs)]
    pub mod tfplugin6 {
        tonic::include_proto!("tfplugin6");
    }
    /// go-plugin's controller, stdio and broker services.
    #[allow(clippy::all, missing_docs)]
    pub mod plugin {
        tonic::include_proto!("plugin");
    }
}

/// How the plugin was started.
pub struct ServeOptions {
    /// `--debug`: no handshake with a parent; print `TF_REATTACH_PROVIDERS` for a Terraform
    /// started by hand, and serve until interrupted.
    pub debug: bool,
    /// The provider's registry address, for `TF_REATTACH_PROVIDERS`.
    pub address: &'static str,
}

/// Runs the plugin: handshake, serve, shut down. Returns the process exit code.
pub async fn serve<P: Provider>(provider: P, options: ServeOptions) -> ExitCode {
    if !options.debug
        && let Err(e) = handshake::negotiate(
            std::env::var(handshake::MAGIC_COOKIE_KEY).ok().as_deref(),
            std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok().as_deref(),
        )
    {
        eprintln!("{e}");
        return ExitCode::from(1);
    }
    logging::init();
    match run(provider, options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "plugin server failed");
            eprintln!("terraform-provider-engram: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run<P: Provider>(
    provider: P,
    options: ServeOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    let tls = match std::env::var("PLUGIN_CLIENT_CERT") {
        Ok(pem) if !options.debug => Some(tls::auto_mtls(&pem)?),
        _ => None,
    };
    let dir = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let (listener, socket) = transport::bind(&dir)?;
    let address = socket.0.display().to_string();

    let shutdown = CancellationToken::new();
    if options.debug {
        print_reattach(options.address, &address);
        let on_interrupt = shutdown.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            on_interrupt.cancel();
        });
    } else {
        // Terraform forwards Ctrl-C to the whole process group, then asks the provider to
        // stop through StopProvider; the interrupt itself must not kill the plugin mid-write.
        tokio::spawn(async {
            while tokio::signal::ctrl_c().await.is_ok() {
                tracing::debug!("interrupt received; waiting for Terraform to stop the provider");
            }
        });
        let line = handshake::line(
            "unix",
            &address,
            tls.as_ref().map(|t| t.server_cert_der.as_slice()),
        );
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }

    let incoming = transport::incoming(listener, tls.map(|t| t.config));
    let stop = shutdown.clone();
    tonic::transport::Server::builder()
        .add_service(
            proto::tfplugin6::provider_server::ProviderServer::new(server::ProviderService::new(
                provider,
            ))
            .max_decoding_message_size(256 * 1024 * 1024)
            .max_encoding_message_size(256 * 1024 * 1024),
        )
        .add_service(
            proto::plugin::grpc_controller_server::GrpcControllerServer::new(
                goplugin::Controller { shutdown },
            ),
        )
        .add_service(proto::plugin::grpc_stdio_server::GrpcStdioServer::new(
            goplugin::Stdio,
        ))
        .add_service(proto::plugin::grpc_broker_server::GrpcBrokerServer::new(
            goplugin::Broker,
        ))
        .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
        .await?;
    drop(socket);
    Ok(())
}

fn print_reattach(provider_address: &str, socket: &str) {
    let reattach = serde_json::json!({
        provider_address: {
            "Protocol": "grpc",
            "ProtocolVersion": handshake::APP_PROTOCOL_VERSION,
            "Pid": std::process::id(),
            "Test": true,
            "Addr": {"Network": "unix", "String": socket}
        }
    });
    println!(
        "Provider started. To attach Terraform, set this in the shell that runs it:\n\n\tTF_REATTACH_PROVIDERS='{reattach}'\n"
    );
}
