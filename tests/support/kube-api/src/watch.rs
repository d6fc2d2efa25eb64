//! WATCH: a stream of `{"type": ..., "object": ...}` lines.
//!
//! Without a resourceVersion (or with `0`) the stream starts with the current objects as `ADDED`;
//! with one it replays the kept history after it and follows live changes. A resourceVersion older
//! than the kept history gets an `ERROR` event with a 410 `Expired` Status, as from the real watch
//! cache. Streams end at `timeoutSeconds` and when the server restarts.

use crate::request::{Query, Target};
use crate::selector::{FieldSelector, LabelSelector};
use crate::state::Shared;
use crate::status::ApiError;
use crate::store::{Event, EventType};
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::wrappers::BroadcastStream;

/// How long a watch lasts when the client gives no timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

fn line(kind: &str, object: &Value) -> bytes::Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    bytes::Bytes::from(text)
}

/// Which changes a watch reports.
struct Filter {
    resource: usize,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn in_scope(&self, event: &Event) -> bool {
        event.key.resource == self.resource
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| *ns == event.key.namespace)
    }

    fn selects(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }

    /// The line a change produces, if any. As in the real watch cache, a modification that moves
    /// an object into the selection is ADDED, and one that moves it out is DELETED.
    fn line_for(&self, event: &Event) -> Option<bytes::Bytes> {
        let now = self.selects(&event.object);
        let kind = match (
            event.kind,
            event.previous.as_deref().map(|p| self.selects(p)),
        ) {
            (EventType::Modified, Some(before)) => match (before, now) {
                (true, true) => "MODIFIED",
                (false, true) => "ADDED",
                (true, false) => "DELETED",
                (false, false) => return None,
            },
            (kind, _) if now => kind.as_str(),
            _ => return None,
        };
        Some(line(kind, &event.object))
    }
}

/// Starts a watch on a collection.
pub fn serve(shared: &Arc<Shared>, target: &Target, query: &Query) -> Result<Response, ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or_default())?;
    let fields = FieldSelector::parse(query.get("fieldSelector").unwrap_or_default())?;
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let requested = query.get("resourceVersion").unwrap_or_default();
    let initial_events = query.flag("sendInitialEvents");
    let filter = Arc::new(Filter {
        resource: target.resource,
        namespace: target.namespace.clone(),
        labels,
        fields,
    });

    let store = shared.store();
    let current = store.resource_version();
    let mut first: Vec<bytes::Bytes> = Vec::new();
    let since = if requested.is_empty() || requested == "0" || initial_events {
        for (_, object) in store.list(target.resource, target.namespace.as_deref()) {
            if filter.selects(object) {
                first.push(line("ADDED", object));
            }
        }
        if initial_events {
            let bookmark = json!({
                "kind": shared.resource(target.resource).kind,
                "apiVersion": shared.resource(target.resource).api_version(),
                "metadata": {
                    "resourceVersion": current.to_string(),
                    "annotations": {"k8s.io/initial-events-end": "true"},
                },
            });
            first.push(line("BOOKMARK", &bookmark));
        }
        current
    } else {
        requested.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("invalid resource version: {requested:?}"))
        })?
    };
    let watched = store.watch_from(since, |event| filter.in_scope(event));
    drop(store);

    let body = match watched {
        Err(too_old) => {
            let error = ApiError::expired(too_old).to_status();
            Body::from(line("ERROR", &error))
        }
        Ok((past, receiver)) => {
            first.extend(past.iter().filter_map(|e| filter.line_for(e)));
            let live = BroadcastStream::new(receiver).filter_map(move |item| {
                let out = match item {
                    Ok(event) if event.resource_version > since && filter.in_scope(&event) => {
                        filter.line_for(&event)
                    }
                    Ok(_) => None,
                    Err(_) => Some(line("ERROR", &ApiError::expired(since).to_status())),
                };
                std::future::ready(out)
            });
            let mut epoch = shared.epoch();
            let restarted = async move {
                let _ = epoch.changed().await;
            };
            let stream = stream::iter(first)
                .chain(live)
                .take_until(tokio::time::sleep(timeout))
                .take_until(restarted)
                .map(Ok::<_, std::convert::Infallible>);
            Body::from_stream(stream)
        }
    };
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}
