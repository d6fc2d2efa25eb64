//! Managed resources, one module per Terraform type (a folder when the type has parts, as
//! `cmk_binding/` has its KMS backend blocks and its import). Each is a thin adapter: schema, a
//! model of its attributes, and CRUD that calls a domain module.

pub mod cmk_binding;
pub mod codec_server;
mod deploy_support;
pub mod keyring_secret;
#[cfg(test)]
mod schema_docs;
mod stack;
pub mod temporal_cluster;
pub mod temporal_namespace;
