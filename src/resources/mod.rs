//! Managed resources, one file per Terraform type. Each is a thin adapter: schema, a model of
//! its attributes, and CRUD that calls a domain module.

mod clock;
pub mod cmk_binding;
pub mod codec_server;
mod deploy_support;
pub mod temporal_cluster;
pub mod temporal_namespace;
