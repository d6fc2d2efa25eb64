//! `GET /api/v1/namespaces/{ns}/pods/{name}/log`: what a container wrote, as the API server
//! proxies it from the kubelet (pkg/registry/core/pod/rest/log.go and strategy.go
//! `LogLocation`, v1.37): the container named by `container`, or the pod's only one; errors
//! worded as the real server words them. Supported options: `container`, `tailLines` and
//! `limitBytes`; the others (`follow`, `previous`, `sinceSeconds`, `sinceTime`, `timestamps`,
//! `insecureSkipTLSVerifyBackend`) are refused with 400 instead of being ignored.

use crate::api::Call;
use crate::request::Target;
use crate::state::Shared;
use crate::status::{ApiError, Subject};
use crate::store::ObjectKey;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::sync::Arc;

const UNSUPPORTED: [&str; 6] = [
    "follow",
    "previous",
    "sinceSeconds",
    "sinceTime",
    "timestamps",
    "insecureSkipTLSVerifyBackend",
];

fn names(pod: &Value, list: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A positive (or, with `zero_ok`, non-negative) integer option, or the 422 the server answers.
fn number(call: &Call, name: &str, zero_ok: bool, pod: &str) -> Result<Option<usize>, ApiError> {
    let Some(text) = call.query.get(name) else {
        return Ok(None);
    };
    let invalid = |message: &str| {
        ApiError::new(
            422,
            "Invalid",
            format!("PodLogOptions \"{pod}\" is invalid: {name}: Invalid value: {text}: {message}"),
        )
    };
    let value: i64 = text
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{name}: invalid value {text:?}")))?;
    if value < 0 || (value == 0 && !zero_ok) {
        return Err(invalid(if zero_ok {
            "must be greater than or equal to 0"
        } else {
            "must be greater than 0"
        }));
    }
    Ok(Some(usize::try_from(value).unwrap_or(usize::MAX)))
}

/// Serves a pod's log.
pub fn get(shared: &Arc<Shared>, target: &Target, call: &Call) -> Result<Response, ApiError> {
    let namespace = target.namespace.clone().unwrap_or_default();
    let name = target.name.clone().unwrap_or_default();
    let pod = shared
        .store()
        .get_shared(&ObjectKey {
            resource: target.resource,
            namespace: namespace.clone(),
            name: name.clone(),
        })
        .ok_or_else(|| {
            ApiError::not_found(Subject {
                resource: "pods",
                group: "",
                name: &name,
            })
        })?;
    if let Some(option) = UNSUPPORTED.iter().find(|o| call.query.get(o).is_some()) {
        return Err(ApiError::bad_request(format!(
            "the test server does not implement the log option {option}"
        )));
    }
    let containers = names(&pod, "containers");
    let mut all = names(&pod, "initContainers");
    all.extend(containers.iter().cloned());
    let container = match call.query.get("container") {
        Some(c) if !c.is_empty() => {
            if !all.iter().any(|n| n == c) {
                return Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )));
            }
            c.to_string()
        }
        _ if containers.len() == 1 => containers[0].clone(),
        _ => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                all.join(" ")
            )));
        }
    };
    let tail = number(call, "tailLines", true, &name)?;
    let limit = number(call, "limitBytes", false, &name)?;
    if pod.pointer("/status/phase").and_then(Value::as_str) != Some("Running") {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        )));
    }
    let mut text = shared.log(&namespace, &name, &container);
    if let Some(n) = tail {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        text = lines[lines.len().saturating_sub(n)..].concat();
    }
    if let Some(n) = limit {
        let mut cut = n.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], text).into_response())
}
