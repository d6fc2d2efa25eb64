//! `engram codec-server`: serve Temporal's remote codec protocol (see docs/codec-server.md).

use std::io::IsTerminal as _;
use std::path::PathBuf;

use engram::codec::server::{AuditLog, AuthConfig, CodecServer, Settings};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Decrypt payloads for Temporal's Web UI and CLI, for authorized users only, with an audit line
/// per request on stdout. Settings come from flags, then environment variables, then the file.
#[derive(clap::Args)]
pub struct CodecServerArgs {
    /// A YAML or JSON file of settings, keys spelled like the flags (`max-body-bytes: 1048576`).
    #[arg(long, env = "ENGRAM_CODEC_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(args: CodecServerArgs) -> Result<String, String> {
    init_logs();
    let settings = match &args.config {
        Some(path) => args
            .settings
            .over(Settings::from_file(path).map_err(|e| e.to_string())?),
        None => args.settings,
    };
    let config = settings.resolve().map_err(|e| e.to_string())?;
    let runtime =
        tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let audit = AuditLog::stdout(matches!(config.auth, AuthConfig::InsecureNoAuth))
            .map_err(|e| e.to_string())?;
        let vault_token = std::env::var("VAULT_TOKEN").ok();
        let server = CodecServer::bind(config, audit, vault_token)
            .await
            .map_err(|e| e.to_string())?;
        server.run(shutdown_signal()).await;
        Ok::<(), String>(())
    })?;
    tracing::info!("codec server stopped");
    // stdout carries only audit lines, so a clean stop exits here instead of returning text
    // for the caller to print there.
    std::process::exit(0)
}

/// Human-readable logs on stderr (stdout carries the audit trail), filtered by RUST_LOG.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .try_init();
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
