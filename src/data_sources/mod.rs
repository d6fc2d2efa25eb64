//! Data sources, one file per Terraform type.

pub mod history_shards;
pub mod security_evidence;
pub mod temporal_cluster_info;
