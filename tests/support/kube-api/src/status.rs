//! `Status` error bodies, as the real API server writes them.
//!
//! Every failure leaves the server as a `meta.k8s.io/v1` `Status` object with the HTTP code, the
//! machine-readable `reason` and `details`, so clients (kube-rs's `ErrorResponse`, kubectl) parse it
//! exactly as they would a real cluster's answer.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One entry of `details.causes`: which field failed and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// The cause type, e.g. `FieldValueInvalid`, `FieldManagerConflict`.
    pub kind: String,
    /// A human readable message.
    pub message: String,
    /// The field path, e.g. `spec.selector` or `.spec.replicas`.
    pub field: String,
}

/// A request failure that renders as a Kubernetes `Status` body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code, repeated in the body's `code`.
    pub code: u16,
    /// `Status.reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// `Status.message`.
    pub message: String,
    /// `Status.details`.
    pub details: Box<Details>,
}

/// `Status.details`: which object failed, why, and when to retry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    /// `details.name`.
    pub name: Option<String>,
    /// `details.group`.
    pub group: Option<String>,
    /// `details.kind` (the resource's plural name, as the real server writes it).
    pub kind: Option<String>,
    /// `details.causes`.
    pub causes: Vec<Cause>,
    /// `details.retryAfterSeconds`, also sent as a `Retry-After` header.
    pub retry_after_seconds: Option<u64>,
}

/// The object a `Status` names: its resource, group and name.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The resource's plural name, e.g. `deployments`.
    pub resource: &'a str,
    /// The API group, empty for the core group.
    pub group: &'a str,
    /// The object's name.
    pub name: &'a str,
}

impl Subject<'_> {
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

impl ApiError {
    /// A bare error with a code, reason and message.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: Box::default(),
        }
    }

    fn about(mut self, subject: Subject<'_>) -> Self {
        self.details.name = Some(subject.name.to_string());
        if !subject.group.is_empty() {
            self.details.group = Some(subject.group.to_string());
        }
        self.details.kind = Some(subject.resource.to_string());
        self
    }

    /// 404 NotFound: `deployments.apps "x" not found`.
    pub fn not_found(subject: Subject<'_>) -> Self {
        let message = format!("{} \"{}\" not found", subject.qualified(), subject.name);
        Self::new(404, "NotFound", message).about(subject)
    }

    /// 409 AlreadyExists: `configmaps "x" already exists`.
    pub fn already_exists(subject: Subject<'_>) -> Self {
        let message = format!(
            "{} \"{}\" already exists",
            subject.qualified(),
            subject.name
        );
        Self::new(409, "AlreadyExists", message).about(subject)
    }

    /// 409 Conflict for a stale `resourceVersion`.
    pub fn stale(subject: Subject<'_>) -> Self {
        let message = format!(
            "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
            subject.qualified(),
            subject.name
        );
        Self::new(409, "Conflict", message).about(subject)
    }

    /// 409 Conflict for server-side apply field-manager conflicts.
    pub fn apply_conflict(subject: Subject<'_>, message: String, causes: Vec<Cause>) -> Self {
        let mut error = Self::new(409, "Conflict", message).about(subject);
        error.details.causes = causes;
        error
    }

    /// 422 Invalid: `Deployment.apps "x" is invalid: spec.selector: Invalid value: ...`.
    pub fn invalid(kind: &str, subject: Subject<'_>, causes: Vec<Cause>) -> Self {
        let prefix = if subject.group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{}", subject.group)
        };
        // field.ErrorList.ToAggregate drops repeated messages.
        let mut summary: Vec<String> = Vec::new();
        for c in &causes {
            let line = format!("{}: {}", c.field, c.message);
            if !summary.contains(&line) {
                summary.push(line);
            }
        }
        let message = match summary.as_slice() {
            [one] => format!("{prefix} \"{}\" is invalid: {one}", subject.name),
            many => format!(
                "{prefix} \"{}\" is invalid: [{}]",
                subject.name,
                many.join(", ")
            ),
        };
        let mut error = Self::new(422, "Invalid", message).about(subject);
        error.details.kind = Some(kind.to_string());
        error.details.causes = causes;
        error
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 500 with no reason: an error that is not a Status, as the apiserver reports it
    /// (responsewriters/status.go `ErrorToAPIStatus`, `StatusReasonUnknown`).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "", message)
    }

    /// 422 Invalid with one `patch` cause, as apiserver patch.go reports a patched object that
    /// does not decode (`errors.NewInvalid(schema.GroupKind{}, "", ...)`).
    pub fn invalid_patch(patched: &str, detail: &str) -> Self {
        let cause = crate::validation::invalid("patch", &Value::String(patched.into()), detail);
        let mut error = Self::new(
            422,
            "Invalid",
            format!(" \"\" is invalid: patch: {}", cause.message),
        );
        error.details.causes = vec![cause];
        error
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, got {content_type:?}"
            ),
        )
    }

    /// 404 NotFound for a path under a served group/version that names no resource (go-restful's
    /// 404 through apiserver handler.go `serviceErrorHandler` / `NewGenericServerResponse`).
    pub fn no_route(_path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 403 Forbidden for writes into a namespace that is being deleted.
    pub fn namespace_terminating(namespace: &str, resource: &str, name: &str) -> Self {
        let message = format!(
            "{resource} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated"
        );
        Self::new(403, "Forbidden", message)
    }

    /// 410 Expired for a watch or list from a resourceVersion that is no longer kept.
    pub fn expired(resource_version: u64) -> Self {
        Self::new(
            410,
            "Expired",
            format!("too old resource version: {resource_version}"),
        )
    }

    /// The `Status` object as JSON.
    pub fn to_status(&self) -> Value {
        let mut details = serde_json::Map::new();
        let given = &self.details;
        if let Some(name) = given.name.as_ref().filter(|n| !n.is_empty()) {
            details.insert("name".into(), json!(name));
        }
        if let Some(group) = given.group.as_ref().filter(|g| !g.is_empty()) {
            details.insert("group".into(), json!(group));
        }
        if let Some(kind) = given.kind.as_ref().filter(|k| !k.is_empty()) {
            details.insert("kind".into(), json!(kind));
        }
        if !given.causes.is_empty() {
            let causes: Vec<Value> = given
                .causes
                .iter()
                .map(|c| json!({"reason": c.kind, "message": c.message, "field": c.field}))
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(seconds) = given.retry_after_seconds {
            details.insert("retryAfterSeconds".into(), json!(seconds));
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        });
        if !self.reason.is_empty() {
            status["reason"] = json!(self.reason);
        }
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status["code"] = json!(self.code);
        status
    }
}

/// The `Status` a successful immediate deletion returns.
pub fn deleted(subject: Subject<'_>, uid: &str) -> Value {
    let mut details = json!({"name": subject.name, "kind": subject.resource, "uid": uid});
    if !subject.group.is_empty() {
        details["group"] = json!(subject.group);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (code, axum::Json(self.to_status())).into_response();
        if let Some(seconds) = self.details.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
