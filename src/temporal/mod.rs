//! The Temporal frontend client: cluster information (the live history shard count, server
//! version, stores) and namespace management. Built on `temporalio-client`; no Terraform here.

mod client;
mod history;
mod namespace;

pub use client::{ClusterInfo, TemporalClient, TemporalEndpoint, TemporalError};
pub use history::{HistoryPayloads, PayloadSeen, WorkflowRun};
pub use namespace::{NamespaceInfo, NamespaceSpec};
