//! The Temporal frontend client: cluster information (the live history shard count, server
//! version, stores) and namespace management. Built on `temporalio-client`; no Terraform here.

mod client;
mod history;
mod namespace;

pub use client::{
    API_KEY_VARIABLE, ClusterInfo, TemporalClient, TemporalEndpoint, TemporalError,
    api_key_from_environment, is_header_value,
};
pub use history::{HistoryPayloads, PayloadSeen, WorkflowRun};
pub use namespace::{NamespaceInfo, NamespaceSpec};
