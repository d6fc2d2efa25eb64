//! The file `engram render` and `engram apply` read: a Temporal cluster, a codec server, or
//! both, in one YAML (or JSON) document.

use super::render::{self, Rendered};
use super::spec::{CodecServerSpec, TemporalClusterSpec};
use super::validate::SpecError;
use serde::{Deserialize, Serialize};

/// A spec file's contents.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    /// The Temporal cluster, if the file describes one.
    #[serde(default)]
    pub temporal_cluster: Option<TemporalClusterSpec>,
    /// The codec server, if the file describes one.
    #[serde(default)]
    pub codec_server: Option<CodecServerSpec>,
}

/// Why a spec file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecFileError {
    /// Not YAML, or fields that do not belong.
    #[error("the spec file does not parse: {0}; compare it with examples/deploy/quickstart.yaml")]
    Parse(String),
    /// Neither stack is described.
    #[error(
        "the spec file describes nothing: add a `temporal_cluster:` or `codec_server:` section"
    )]
    Empty,
    /// A spec is invalid.
    #[error(transparent)]
    Invalid(#[from] SpecError),
}

impl SpecFile {
    /// Parses a YAML or JSON document.
    pub fn parse(text: &str) -> Result<Self, SpecFileError> {
        let file: SpecFile =
            serde_yaml_ng::from_str(text).map_err(|e| SpecFileError::Parse(e.to_string()))?;
        if file.temporal_cluster.is_none() && file.codec_server.is_none() {
            return Err(SpecFileError::Empty);
        }
        Ok(file)
    }

    /// Renders every stack the file describes: the Temporal cluster first.
    pub fn render(&self) -> Result<Vec<Rendered>, SpecFileError> {
        let mut out = Vec::new();
        if let Some(spec) = &self.temporal_cluster {
            out.push(render::temporal_cluster(spec)?);
        }
        if let Some(spec) = &self.codec_server {
            out.push(render::codec_server(spec)?);
        }
        Ok(out)
    }
}
