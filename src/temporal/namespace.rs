//! Namespaces: register, describe, update and delete, with the settings the provider manages
//! (description, owner, retention, and the data map that records which codec endpoint and key
//! binding the namespace's payloads use).

use super::client::{TemporalClient, TemporalError};
use std::collections::BTreeMap;
use std::time::Duration;
use temporalio_common::protos::temporal::api::namespace::v1::{
    NamespaceConfig, UpdateNamespaceInfo,
};
use temporalio_common::protos::temporal::api::operatorservice::v1::DeleteNamespaceRequest;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeNamespaceRequest, RegisterNamespaceRequest, UpdateNamespaceRequest,
};

/// The settings of a namespace this provider manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceSpec {
    /// The namespace name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Who to contact.
    pub owner_email: String,
    /// How long closed workflows' histories are kept.
    pub retention: Duration,
    /// Key/value data stored with the namespace.
    pub data: BTreeMap<String, String>,
}

/// A namespace as the cluster reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceInfo {
    /// Its settings.
    pub spec: NamespaceSpec,
    /// The server-assigned id.
    pub id: String,
    /// `Registered`, `Deprecated` or `Deleted`.
    pub state: String,
}

impl TemporalClient {
    /// Registers a new namespace.
    pub async fn register_namespace(&self, spec: &NamespaceSpec) -> Result<(), TemporalError> {
        use temporalio_client::grpc::WorkflowService;
        let mut conn = self.connection.clone();
        let request = RegisterNamespaceRequest {
            namespace: spec.name.clone(),
            description: spec.description.clone(),
            owner_email: spec.owner_email.clone(),
            workflow_execution_retention_period: spec.retention.try_into().ok(),
            data: spec.data.clone().into_iter().collect(),
            ..Default::default()
        };
        self.call(
            "RegisterNamespace",
            WorkflowService::register_namespace(&mut conn, tonic::Request::new(request)),
        )
        .await?;
        Ok(())
    }

    /// Describes a namespace; `None` when it does not exist.
    pub async fn describe_namespace(
        &self,
        name: &str,
    ) -> Result<Option<NamespaceInfo>, TemporalError> {
        use temporalio_client::grpc::WorkflowService;
        let mut conn = self.connection.clone();
        let request = DescribeNamespaceRequest {
            namespace: name.to_string(),
            ..Default::default()
        };
        let result = self
            .call(
                "DescribeNamespace",
                WorkflowService::describe_namespace(&mut conn, tonic::Request::new(request)),
            )
            .await;
        let r = match result {
            Err(e) if e.code() == Some(tonic::Code::NotFound) => return Ok(None),
            other => other?,
        };
        let info = r.namespace_info.unwrap_or_default();
        let retention = r
            .config
            .and_then(|c| c.workflow_execution_retention_ttl)
            .map(|d| Duration::from_secs(u64::try_from(d.seconds).unwrap_or_default()))
            .unwrap_or_default();
        let state = info
            .state()
            .as_str_name()
            .trim_start_matches("NAMESPACE_STATE_")
            .to_string();
        Ok(Some(NamespaceInfo {
            id: info.id,
            state,
            spec: NamespaceSpec {
                name: info.name,
                description: info.description,
                owner_email: info.owner_email,
                retention,
                data: info.data.into_iter().collect(),
            },
        }))
    }

    /// Updates description, owner, data and retention.
    pub async fn update_namespace(&self, spec: &NamespaceSpec) -> Result<(), TemporalError> {
        use temporalio_client::grpc::WorkflowService;
        let mut conn = self.connection.clone();
        let request = UpdateNamespaceRequest {
            namespace: spec.name.clone(),
            update_info: Some(UpdateNamespaceInfo {
                description: spec.description.clone(),
                owner_email: spec.owner_email.clone(),
                data: spec.data.clone().into_iter().collect(),
                ..Default::default()
            }),
            config: Some(NamespaceConfig {
                workflow_execution_retention_ttl: spec.retention.try_into().ok(),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.call(
            "UpdateNamespace",
            WorkflowService::update_namespace(&mut conn, tonic::Request::new(request)),
        )
        .await?;
        Ok(())
    }

    /// Deletes a namespace and, in the background on the server, its workflows.
    pub async fn delete_namespace(&self, name: &str) -> Result<(), TemporalError> {
        use temporalio_client::grpc::OperatorService;
        let mut conn = self.connection.clone();
        let request = DeleteNamespaceRequest {
            namespace: name.to_string(),
            ..Default::default()
        };
        self.call(
            "DeleteNamespace",
            OperatorService::delete_namespace(&mut conn, tonic::Request::new(request)),
        )
        .await?;
        Ok(())
    }
}
