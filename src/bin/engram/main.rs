//! `engram`: the operator's command line. Each subcommand is a thin front over a library
//! module, so what it prints is what the Terraform provider computes.

mod apply;
mod codec_server;
mod evidence;
mod render;
mod shard_calc;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc returns freed pages to the system after a short delay, where glibc's malloc keeps
/// them in per-thread arenas: the codec server frees a 4 MiB body or answer after each request.
/// The soak in docs/benchmarks.md records what the resident set does under hostile traffic.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Operate self-hosted, customer-keyed Temporal.
#[derive(Parser)]
#[command(name = "engram", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Recommend Temporal's numHistoryShards (fixed for a cluster's life) from your load.
    ShardCalc(shard_calc::ShardCalc),
    /// Apply a spec file to the cluster in KUBECONFIG (or check it for drift with --dry-run).
    Apply(apply::ApplyArgs),
    /// Print the Kubernetes objects of a Temporal cluster or codec server spec, as YAML.
    Render(render::RenderArgs),
    /// Serve Temporal's remote codec protocol: decrypt payloads for the Web UI and CLI.
    CodecServer(Box<codec_server::CodecServerArgs>),
    /// Read facts from the running system and write the security-evidence report (JSON,
    /// Markdown, HTML); exit 1 when a control fails.
    Evidence(Box<evidence::EvidenceArgs>),
}

fn main() -> ExitCode {
    // One TLS implementation for every client in the process.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::ShardCalc(args) => shard_calc::run(args),
        Command::Render(args) => render::run(args),
        Command::Apply(args) => apply::run(args),
        Command::CodecServer(args) => codec_server::run(*args),
        Command::Evidence(args) => {
            return match evidence::run(*args) {
                Ok((text, failed)) => match print_output(&text) {
                    code if failed && code == ExitCode::SUCCESS => ExitCode::from(1),
                    code => code,
                },
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            };
        }
    };
    match result {
        Ok(text) => print_output(&text),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes the result to stdout. A reader that closed its end early (`engram ... | head`) is
/// no error: the command ends quietly, as Unix tools do.
fn print_output(text: &str) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: could not write the output: {e}");
            ExitCode::from(2)
        }
    }
}
