//! Acceptance tests: a real Terraform CLI (1.15.5, and 1.0.3 for a smoke subset) plans and
//! applies configurations against the built provider. Install the CLIs with
//! `scripts/install-tools`. `install` packages the provider with `scripts/release` and installs it
//! as users do (mirrors and a registry, no `dev_overrides`), and builds and runs the codec server
//! image.

#[path = "../support/mod.rs"]
mod support;

#[path = "../codec_common/moto.rs"]
mod moto;

#[path = "../codec_common/openbao.rs"]
mod openbao;

#[path = "../codec_common/stub.rs"]
mod stub;

#[path = "../codec_server_common/mod.rs"]
mod codec_server_common;

#[path = "../support/frontends.rs"]
mod frontends;

#[path = "../support/provider_registry.rs"]
mod provider_registry;

mod cmk_binding;
mod cmk_binding_cloud;
mod codec_server;
mod deploy_examples;
mod examples;
mod history_shards;
mod install;
mod key_rotation;
mod keyring_secret;
mod provider_config;
mod security_evidence;
mod temporal_cluster;
mod temporal_namespace;
mod terraform;
