//! `engram apply`: apply a spec file to a cluster (the same ordered, waited, pruning apply the
//! Terraform provider runs), or with `--dry-run` report how the cluster differs from it.

use clap::Args;
use engram::deploy::{ApplyOptions, Change, Deployer, ProgressEvent, SpecFile};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// `engram apply -f spec.yaml [--dry-run]`.
#[derive(Args)]
pub struct ApplyArgs {
    /// The spec file (YAML or JSON): `temporal_cluster:` and/or `codec_server:`.
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
    /// Change nothing: print the differences between the cluster and the spec.
    #[arg(long)]
    dry_run: bool,
    /// The kubeconfig to use [default: KUBECONFIG, then in-cluster].
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Give up when the apply, rollouts included, takes longer than this.
    #[arg(long, default_value_t = 900)]
    timeout_seconds: u64,
}

fn describe(event: &ProgressEvent) -> String {
    match event {
        ProgressEvent::Step(step) => format!("step {step:?}"),
        ProgressEvent::Applied(id, outcome) => format!("{id}: {outcome:?}"),
        ProgressEvent::Waiting(s) => format!(
            "{}: {}/{} ready {}",
            s.object,
            s.ready,
            s.desired,
            s.conditions.join("; ")
        ),
        ProgressEvent::Ready(id) => format!("{id}: ready"),
        ProgressEvent::Pruned(id) => format!("{id}: pruned"),
        ProgressEvent::Deleted(id) => format!("{id}: deleted"),
    }
}

/// Applies (or diffs) every stack in the file, Temporal first.
pub fn run(args: ApplyArgs) -> Result<String, String> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let stacks = SpecFile::parse(&text)
        .and_then(|f| f.render())
        .map_err(|e| e.to_string())?;
    let runtime =
        tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let deployer = Deployer::connect(args.kubeconfig.as_deref(), Duration::from_secs(30))
            .await
            .map_err(|e| e.to_string())?;
        let cancel = CancellationToken::new();
        let on_signal = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_signal.cancel();
            }
        });
        let mut lines = Vec::new();
        for stack in &stacks {
            if args.dry_run {
                let report = deployer.drift(stack).await.map_err(|e| e.to_string())?;
                for drift in &report.drifts {
                    lines.push(match &drift.change {
                        Change::Missing => format!("{}: missing", drift.object),
                        Change::Unexpected => {
                            format!("{}: not in the spec (would be pruned)", drift.object)
                        }
                        Change::Field {
                            path,
                            desired,
                            live,
                        } => format!(
                            "{}: {path}: {} -> {}",
                            drift.object,
                            live.as_ref().map_or("(absent)".into(), ToString::to_string),
                            desired
                                .as_ref()
                                .map_or("(absent)".into(), ToString::to_string),
                        ),
                    });
                }
            } else {
                let options = ApplyOptions {
                    timeout: Duration::from_secs(args.timeout_seconds),
                    ..ApplyOptions::default()
                };
                let progress = |event: &ProgressEvent| eprintln!("{}", describe(event));
                let report = deployer
                    .apply(stack, &options, &progress, &cancel)
                    .await
                    .map_err(|e| e.to_string())?;
                lines.push(format!(
                    "{}/{}: {} objects applied, {} changed, {} pruned",
                    stack.owner.namespace,
                    stack.owner.instance,
                    report.outcomes.len(),
                    report
                        .outcomes
                        .iter()
                        .filter(|(_, o)| *o != engram::deploy::Outcome::Unchanged)
                        .count(),
                    report.pruned.len()
                ));
            }
        }
        if args.dry_run && lines.is_empty() {
            lines.push("no differences".into());
        }
        Ok(lines.join("\n"))
    })
}
