//! The checks, one module per source of facts. Each reads the live system within a timeout and
//! bounded work, and returns a [`crate::evidence::Control`] with what it observed.

pub mod at_rest;
pub mod audit_log;
pub mod codec_http;
pub mod customer_key;
pub mod keyring;
pub mod tls;
