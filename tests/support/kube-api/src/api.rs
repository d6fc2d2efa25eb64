//! The resource API: routes a request to discovery or to the verb handlers, and turns results into
//! responses.

use crate::request::{Query, Target, parse_target, served_group_version};
use crate::state::Shared;
use crate::status::ApiError;
use crate::{delete, discovery, logs, read, watch, writes};
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Largest request body accepted, as on a real API server (3 MiB objects, some headroom).
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// What a handler needs to know about the request besides its target.
pub struct Call {
    /// Parsed query parameters.
    pub query: Query,
    /// The request body.
    pub body: bytes::Bytes,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The `Accept` header.
    pub accept: String,
    /// The `fieldManager` parameter, if given.
    pub manager: Option<String>,
    /// The manager name ordinary writes use without `fieldManager`: the User-Agent up to its
    /// first `/`, as the real server derives it.
    pub default_manager: String,
}

/// What the end of the apiserver's handler chain answers for a path nothing serves
/// (apiserver pkg/util/notfoundhandler: Go's `http.NotFound`): a CRD not installed, an unknown
/// group or version.
pub fn page_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        "404 page not found\n",
    )
        .into_response()
}

/// A JSON response with a status code.
pub fn json(code: StatusCode, value: impl serde::Serialize) -> Response {
    (code, axum::Json(value)).into_response()
}

/// The handler for every non-admin path.
pub async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    match route(shared, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn route(shared: Arc<Shared>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    if let Some(answer) = discovery::answer(&path, &shared) {
        return Ok(json(StatusCode::OK, answer));
    }
    if matches!(path.as_str(), "/healthz" | "/livez" | "/readyz") {
        return Ok((StatusCode::OK, "ok").into_response());
    }
    let resources = shared.resources();
    let Some(target) = parse_target(&path, &resources) else {
        if served_group_version(&path, &resources) {
            return Err(ApiError::no_route(&path));
        }
        return Ok(page_not_found());
    };
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let query = Query::parse(parts.uri.query())?;
    let user_agent = header(header::USER_AGENT);
    let default_manager = user_agent
        .split('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .chars()
        .take(128)
        .collect();
    let call = Call {
        manager: query.get("fieldManager").map(str::to_string),
        query,
        body: to_bytes(Body::new(body), MAX_BODY_BYTES)
            .await
            .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?,
        content_type: header(header::CONTENT_TYPE),
        accept: header(header::ACCEPT),
        default_manager,
    };
    dispatch(&shared, &parts.method, &target, call).await
}

async fn dispatch(
    shared: &Arc<Shared>,
    method: &Method,
    target: &Target,
    call: Call,
) -> Result<Response, ApiError> {
    let named = target.name.is_some();
    match (method.as_str(), named) {
        ("GET", false) if call.query.flag("watch") => watch::serve(shared, target, &call.query),
        ("GET", false) => read::list(shared, target, &call),
        ("GET", true) if target.subresource.as_deref() == Some("log") => {
            logs::get(shared, target, &call)
        }
        ("GET", true) => read::get(shared, target, &call),
        ("POST", false) => writes::create(shared, target, &call),
        ("PUT", true) => writes::replace(shared, target, &call),
        ("PATCH", true) => writes::patch(shared, target, &call),
        ("DELETE", true) => delete::delete(shared, target, &call),
        ("DELETE", false) => delete::delete_collection(shared, target, &call),
        _ if target.subresource.as_deref() == Some("log") => Err(ApiError::method_not_allowed(
            format!("the server does not allow this method on the requested resource ({method})"),
        )),
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method})"
        ))),
    }
}
