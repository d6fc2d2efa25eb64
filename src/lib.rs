//! terraform-provider-engram: deploys self-hosted Temporal on Kubernetes with every workflow
//! payload encrypted under the customer's own key.
//!
//! The library is shared by two binaries: `terraform-provider-engram` (the plugin Terraform
//! starts) and `engram` (the operator's command line). See `docs/` for the user-facing side.

pub mod codec;
pub mod data_sources;
pub mod deploy;
pub mod evidence;
pub mod framework;
pub mod kms;
pub mod plugin;
pub mod provider;
pub mod resources;
pub mod sizing;
pub mod temporal;
