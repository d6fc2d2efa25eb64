//! Acceptance tests: a real Terraform CLI (1.15.5, and 1.0.3 for a smoke subset) plans and
//! applies configurations against the built provider. Install the CLIs with
//! `scripts/install-tools`.

#[path = "../support/mod.rs"]
mod support;

#[path = "../codec_common/openbao.rs"]
mod openbao;

#[path = "../codec_common/stub.rs"]
mod stub;

mod cmk_binding;
mod cmk_binding_cloud;
mod codec_server;
mod examples;
mod history_shards;
mod keyring_secret;
mod provider_config;
mod temporal_cluster;
mod temporal_namespace;
mod terraform;
