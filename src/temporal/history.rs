//! Reading what Temporal stores: the newest workflow executions of a namespace and the
//! payloads of their histories, described by their metadata only (encoding and key id, never the
//! data), for the security evidence's encryption-at-rest check.

use super::{TemporalClient, TemporalError};
use futures_util::future::BoxFuture;
use temporalio_common::data_converters::PayloadConversionError;
use temporalio_common::payload_visitor::{
    AsyncPayloadVisitor, PayloadField, PayloadFieldData, PayloadVisitable,
};
use temporalio_common::protos::temporal::api::common::v1::{Payload, WorkflowExecution};
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryRequest, ListWorkflowExecutionsRequest,
};

/// One workflow run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRun {
    /// The workflow id.
    pub workflow_id: String,
    /// The run id.
    pub run_id: String,
}

/// One payload in a history, by its metadata alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadSeen {
    /// The event that holds it.
    pub event_id: i64,
    /// The proto field it sits in, e.g.
    /// `temporal.api.history.v1.WorkflowExecutionStartedEventAttributes.input`.
    pub field: &'static str,
    /// The `encoding` metadata, when present and UTF-8.
    pub encoding: Option<String>,
    /// The `encryption-key-id` metadata, when present and UTF-8.
    pub key_id: Option<String>,
}

/// A history read within bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPayloads {
    /// Every payload found, in event order.
    pub payloads: Vec<PayloadSeen>,
    /// Events read.
    pub events: usize,
    /// Whether the history had more events than the bound allowed reading.
    pub truncated: bool,
}

struct Collect<'a> {
    event_id: i64,
    out: &'a mut Vec<PayloadSeen>,
}

fn text(payload: &Payload, key: &str) -> Option<String> {
    payload
        .metadata
        .get(key)
        .and_then(|v| String::from_utf8(v.clone()).ok())
}

impl AsyncPayloadVisitor for Collect<'_> {
    fn visit<'a>(
        &'a mut self,
        field: PayloadField<'a>,
    ) -> BoxFuture<'a, Result<(), PayloadConversionError>> {
        Box::pin(async move {
            // Search attributes stay readable to the server by design; codecs never touch them.
            if field.path.contains("SearchAttributes.indexed_fields") {
                return Ok(());
            }
            let list: Vec<&Payload> = match field.data {
                PayloadFieldData::Single(p) => vec![&*p],
                PayloadFieldData::Repeated(ps) => ps.iter().collect(),
                PayloadFieldData::Payloads(ps) => ps.payloads.iter().collect(),
            };
            for p in list {
                self.out.push(PayloadSeen {
                    event_id: self.event_id,
                    field: field.path,
                    encoding: text(p, "encoding"),
                    key_id: text(p, "encryption-key-id"),
                });
            }
            Ok(())
        })
    }
}

impl TemporalClient {
    /// The `limit` newest workflow runs of `namespace` (visibility's order: newest first).
    pub async fn recent_workflows(
        &self,
        namespace: &str,
        limit: usize,
    ) -> Result<Vec<WorkflowRun>, TemporalError> {
        self.list_workflows(namespace, "", limit).await
    }

    /// The `limit` newest workflow runs of `namespace` started before `unix_seconds`: a sample
    /// of older workflows that needs no ORDER BY (which SQL visibility does not support).
    pub async fn workflows_started_before(
        &self,
        namespace: &str,
        unix_seconds: i64,
        limit: usize,
    ) -> Result<Vec<WorkflowRun>, TemporalError> {
        let query = format!(
            "StartTime < \"{}\"",
            crate::codec::clock::rfc3339(unix_seconds)
        );
        self.list_workflows(namespace, &query, limit).await
    }

    /// The first `limit` runs of `namespace` that visibility lists for `query` (newest first).
    async fn list_workflows(
        &self,
        namespace: &str,
        query: &str,
        limit: usize,
    ) -> Result<Vec<WorkflowRun>, TemporalError> {
        use temporalio_client::grpc::WorkflowService;
        let mut conn = self.connection.clone();
        let response = self
            .call(
                "ListWorkflowExecutions",
                WorkflowService::list_workflow_executions(
                    &mut conn,
                    tonic::Request::new(ListWorkflowExecutionsRequest {
                        namespace: namespace.to_string(),
                        page_size: i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000),
                        query: query.to_string(),
                        ..Default::default()
                    }),
                ),
            )
            .await?;
        Ok(response
            .executions
            .into_iter()
            .filter_map(|info| info.execution)
            .take(limit)
            .map(|e| WorkflowRun {
                workflow_id: e.workflow_id,
                run_id: e.run_id,
            })
            .collect())
    }

    /// The payload metadata of `run`'s history, reading at most `max_events` events.
    pub async fn history_payloads(
        &self,
        namespace: &str,
        run: &WorkflowRun,
        max_events: usize,
    ) -> Result<HistoryPayloads, TemporalError> {
        use temporalio_client::grpc::WorkflowService;
        let mut conn = self.connection.clone();
        let mut token = Vec::new();
        let mut result = HistoryPayloads {
            payloads: Vec::new(),
            events: 0,
            truncated: false,
        };
        loop {
            let response = self
                .call(
                    "GetWorkflowExecutionHistory",
                    WorkflowService::get_workflow_execution_history(
                        &mut conn,
                        tonic::Request::new(GetWorkflowExecutionHistoryRequest {
                            namespace: namespace.to_string(),
                            execution: Some(WorkflowExecution {
                                workflow_id: run.workflow_id.clone(),
                                run_id: run.run_id.clone(),
                            }),
                            maximum_page_size: 256,
                            next_page_token: token,
                            ..Default::default()
                        }),
                    ),
                )
                .await?;
            for mut event in response.history.map(|h| h.events).unwrap_or_default() {
                if result.events >= max_events {
                    result.truncated = true;
                    return Ok(result);
                }
                result.events += 1;
                let mut visitor = Collect {
                    event_id: event.event_id,
                    out: &mut result.payloads,
                };
                // The collector never fails, so neither does the walk.
                let _ = event.visit_payloads_mut(&mut visitor).await;
            }
            if response.next_page_token.is_empty() {
                return Ok(result);
            }
            token = response.next_page_token;
        }
    }
}
