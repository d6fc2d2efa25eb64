//! `kube-api-server`: runs the test API server until interrupted.
//!
//! ```text
//! kube-api-server [--port PORT] [--kubeconfig PATH] [--auto-ready-ms MILLIS] [--no-crds]
//! ```
//! Prints the URL and writes a kubeconfig (to PATH when given). The bundled CRDs (ServiceMonitor,
//! PrometheusRule, Certificate) are installed unless `--no-crds` is given; `--auto-ready-ms` turns
//! on the automatic controller mode with that tick.

use kube_api::{KubeApiServer, Options};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

struct Args {
    port: u16,
    kubeconfig: Option<PathBuf>,
    auto_ready: Option<Duration>,
    crds: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        kubeconfig: None,
        auto_ready: None,
        crds: true,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = || given.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => args.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--kubeconfig" => args.kubeconfig = Some(PathBuf::from(value()?)),
            "--auto-ready-ms" => {
                let millis = value()?
                    .parse()
                    .map_err(|e| format!("--auto-ready-ms: {e}"))?;
                args.auto_ready = Some(Duration::from_millis(millis));
            }
            "--no-crds" => args.crds = false,
            "--help" | "-h" => {
                return Err("usage: kube-api-server [--port PORT] [--kubeconfig PATH] [--auto-ready-ms MILLIS] [--no-crds]".into());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let base = if args.crds {
        Options::with_bundled_crds()
    } else {
        Options::without_crds()
    };
    let options = Options {
        address: SocketAddr::from(([127, 0, 0, 1], args.port)),
        auto_ready: args.auto_ready,
        ..base
    };
    let server = match KubeApiServer::start_with(options).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("kube-api-server: {error}");
            return ExitCode::FAILURE;
        }
    };
    let kubeconfig = match &args.kubeconfig {
        Some(path) => match std::fs::copy(server.kubeconfig_path(), path) {
            Ok(_) => path.clone(),
            Err(error) => {
                eprintln!("kube-api-server: writing {}: {error}", path.display());
                return ExitCode::FAILURE;
            }
        },
        None => server.kubeconfig_path().to_path_buf(),
    };
    println!("url={}", server.url());
    println!("kubeconfig={}", kubeconfig.display());
    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("kube-api-server: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
