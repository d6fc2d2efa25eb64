//! The admin HTTP endpoint: the test handle for clients that are not Rust (scripts, the demo).
//!
//! | Method and path                        | Body                                              |
//! |----------------------------------------|---------------------------------------------------|
//! | `POST /__admin/status`                 | `{apiVersion, kind, namespace, name, status}`     |
//! | `POST /__admin/ready`                  | `{apiVersion, kind, namespace, name}`             |
//! | `POST /__admin/jobs/{namespace}/{name}`| `{"outcome":"Complete"}` or `{"outcome":"Failed","reason","message"}` |
//! | `POST /__admin/faults`                 | `{pathPrefix, method?, count, effect}`            |
//! | `DELETE /__admin/faults`               |                                                   |
//! | `POST /__admin/compact`                |                                                   |
//! | `POST /__admin/restart`                | `{"keepData": true}`                              |
//! | `PUT /__admin/auto-ready`              | `{"delayMillis": 500}` or `{"delayMillis": null}` |
//! | `POST /__admin/step`                   | none (every workload), or `{apiVersion, kind, namespace, name}` |
//! | `POST /__admin/crds`                   | a CustomResourceDefinition                        |

use crate::control::{JobOutcome, ObjectRef};
use crate::faults::Fault;
use crate::handle::Handle;
use crate::status::ApiError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// Where the admin endpoint is mounted.
pub const PREFIX: &str = "/__admin";

#[derive(Deserialize)]
struct StatusBody {
    #[serde(flatten)]
    target: ObjectRef,
    status: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestartBody {
    #[serde(default)]
    keep_data: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AutoReadyBody {
    delay_millis: Option<u64>,
}

fn answer(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(object) => Json(object).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn set_status(State(handle): State<Handle>, Json(body): Json<StatusBody>) -> Response {
    answer(handle.set_status(&body.target, body.status))
}

async fn ready(State(handle): State<Handle>, Json(target): Json<ObjectRef>) -> Response {
    answer(handle.mark_ready(&target))
}

async fn job(
    State(handle): State<Handle>,
    Path((namespace, name)): Path<(String, String)>,
    Json(outcome): Json<JobOutcome>,
) -> Response {
    answer(match outcome {
        JobOutcome::Complete => handle.complete_job(&namespace, &name),
        JobOutcome::Failed { reason, message } => {
            handle.fail_job(&namespace, &name, &reason, &message)
        }
    })
}

async fn add_fault(State(handle): State<Handle>, Json(fault): Json<Fault>) -> StatusCode {
    handle.inject_fault(fault);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(handle): State<Handle>) -> StatusCode {
    handle.clear_faults();
    StatusCode::NO_CONTENT
}

async fn compact(State(handle): State<Handle>) -> StatusCode {
    handle.compact();
    StatusCode::NO_CONTENT
}

async fn restart(State(handle): State<Handle>, Json(body): Json<RestartBody>) -> StatusCode {
    tokio::spawn(async move {
        if let Err(error) = handle.restart(body.keep_data).await {
            tracing::error!(%error, "restart failed");
        }
    });
    StatusCode::ACCEPTED
}

async fn step(State(handle): State<Handle>, body: axum::body::Bytes) -> Response {
    let result = if body.iter().all(u8::is_ascii_whitespace) {
        handle.step()
    } else {
        match serde_json::from_slice::<ObjectRef>(&body) {
            Ok(target) => handle.step_object(&target).map(usize::from),
            Err(error) => Err(ApiError::bad_request(format!(
                "reading the target: {error}"
            ))),
        }
    };
    answer(result.map(|changed| serde_json::json!({"changed": changed})))
}

async fn install_crd(State(handle): State<Handle>, Json(crd): Json<Value>) -> Response {
    answer(handle.install_crd(crd))
}

async fn auto_ready(State(handle): State<Handle>, Json(body): Json<AutoReadyBody>) -> StatusCode {
    handle.set_auto_ready(body.delay_millis.map(Duration::from_millis));
    StatusCode::NO_CONTENT
}

/// The admin routes, to be nested under [`PREFIX`].
pub fn router<S: Clone + Send + Sync + 'static>(handle: Handle) -> Router<S> {
    Router::new()
        .route("/status", post(set_status))
        .route("/ready", post(ready))
        .route("/jobs/{namespace}/{name}", post(job))
        .route("/faults", post(add_fault).delete(clear_faults))
        .route("/compact", post(compact))
        .route("/restart", post(restart))
        .route("/auto-ready", put(auto_ready))
        .route("/step", post(step))
        .route("/crds", post(install_crd))
        .with_state(handle)
}
