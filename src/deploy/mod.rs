//! What Temporal, the codec server and keyring Secrets look like on Kubernetes, and the work of
//! getting them there: pure rendering from a spec to objects (what `engram render` prints),
//! server-side apply in dependency order with rollout waits, prune, destroy, drift read-back and
//! import.
//!
//! Everything the Terraform resources need is re-exported here; a resource never builds
//! Kubernetes objects or requests itself.

mod apply;
mod client;
mod destroy;
mod drift;
mod error;
mod fields;
pub mod image_ref;
mod import;
mod inventory;
mod labels;
mod manifest;
mod progress;
mod render;
mod rollout;
mod spec;
mod spec_file;
pub mod temporal_versions;
mod validate;
mod version;

pub use apply::{ApplyOptions, ApplyReport};
pub use client::Deployer;
pub use drift::{Change, Drift, DriftReport, check_cluster_shard_count};
pub use error::DeployError;
pub use inventory::Inventory;
pub use labels::{
    CLUSTER_LABEL, FIELD_MANAGER, Owner, SHARD_COUNT_ANNOTATION, SPEC_ANNOTATION, STACK_LABEL,
    Stack,
};
pub use manifest::{Kind, Manifest, ObjectId, Step, to_yaml_stream};
pub use progress::{NoProgress, Outcome, Progress, ProgressEvent, WorkloadStatus};
pub use render::server_config::shard_count as history_shard_count_in_config;
pub use render::{
    KEYRING_KEY, Rendered, codec_endpoint, codec_server as render_codec_server,
    keyring_secret as render_keyring_secret, temporal_cluster as render_temporal_cluster,
};
pub use spec::*;
pub use spec_file::{SpecFile, SpecFileError};
pub use validate::{Problem, SpecError, is_dns_label};
pub use version::{TemporalVersion, UpgradeError, check_upgrade};
