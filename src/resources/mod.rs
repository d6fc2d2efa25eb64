//! Managed resources, one file per Terraform type. Each is a thin adapter: schema, a model of
//! its attributes, and CRUD that calls a domain module.

pub mod temporal_namespace;
