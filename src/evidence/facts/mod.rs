//! The checks, one module per source of facts. Each reads the live system within a timeout and
//! bounded work, and returns a [`crate::evidence::Control`] with what it observed.

pub mod at_rest;
pub mod audit_log;
pub mod codec_http;
pub mod customer_key;
pub mod deployment;
pub mod keyring;
pub mod live_config;
pub mod live_objects;
pub mod selector;
pub mod tls;
