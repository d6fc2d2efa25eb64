//! `engram render`: print the Kubernetes objects a spec file describes, as one YAML stream, for
//! GitOps repositories or review. The objects are exactly what `engram apply` and the Terraform
//! provider send.

use clap::Args;
use engram::deploy::{SpecFile, to_yaml_stream};
use std::path::PathBuf;

/// `engram render -f spec.yaml`.
#[derive(Args)]
pub struct RenderArgs {
    /// The spec file (YAML or JSON): `temporal_cluster:` and/or `codec_server:`.
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
}

/// Reads, checks and renders the spec file.
pub fn run(args: RenderArgs) -> Result<String, String> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let file = SpecFile::parse(&text).map_err(|e| e.to_string())?;
    let rendered = file.render().map_err(|e| e.to_string())?;
    let objects: Vec<_> = rendered.into_iter().flat_map(|r| r.objects).collect();
    Ok(to_yaml_stream(&objects).trim_end().to_string())
}
