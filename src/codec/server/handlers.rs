//! The HTTP handlers: plain async functions over [`AppState`]. The codec handlers resolve the
//! namespace, authorize, read the body (only then, so an unauthorized caller cannot make the
//! server buffer a large body), convert all payloads or none, and leave what they learned for
//! the audit middleware.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::codec::format::{ENCODING_ENCRYPTED, METADATA_ENCODING, METADATA_KEY_ID};
use crate::codec::server::audit::{Facts, Operation};
use crate::codec::server::error::ApiError;
use crate::codec::server::namespace;
use crate::codec::server::state::AppState;
use crate::codec::{PayloadCodec, Payloads};

/// `POST /encode`.
pub async fn encode(State(state): State<AppState>, request: Request) -> Response {
    codec(state, Operation::Encode, None, request).await
}

/// `POST /decode`.
pub async fn decode(State(state): State<AppState>, request: Request) -> Response {
    codec(state, Operation::Decode, None, request).await
}

/// `POST /{namespace}/encode`.
pub async fn encode_in(
    State(state): State<AppState>,
    Path(ns): Path<String>,
    request: Request,
) -> Response {
    codec(state, Operation::Encode, Some(ns), request).await
}

/// `POST /{namespace}/decode`.
pub async fn decode_in(
    State(state): State<AppState>,
    Path(ns): Path<String>,
    request: Request,
) -> Response {
    codec(state, Operation::Decode, Some(ns), request).await
}

async fn codec(
    state: AppState,
    operation: Operation,
    path_namespace: Option<String>,
    request: Request,
) -> Response {
    let mut facts = Facts::default();
    let mut response = match convert(&state, operation, path_namespace, request, &mut facts).await {
        Ok(body) => {
            facts.response_bytes = body.len();
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(error) => {
            facts.error = Some(error.to_string());
            error.into_response()
        }
    };
    response.extensions_mut().insert(facts);
    response
}

async fn convert(
    state: &AppState,
    operation: Operation,
    path_namespace: Option<String>,
    request: Request,
    facts: &mut Facts,
) -> Result<Vec<u8>, ApiError> {
    let namespace = namespace::resolve(path_namespace.as_deref(), request.headers())?;
    facts.namespace.clone_from(&namespace);
    state
        .auth
        .authorize(request.headers(), namespace.as_deref(), operation, facts)
        .await?;
    let body = Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge {
                    limit: state.max_body_bytes,
                }
            } else {
                ApiError::BadBody(rejection.body_text())
            }
        })?;
    let payloads: Payloads =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadBody(e.to_string()))?;
    facts.payloads = payloads.payloads.len();
    let codec = state.keyrings.codec_for(namespace.as_deref())?;
    let converted = match operation {
        Operation::Encode => encode_all(&codec, payloads, facts)?,
        Operation::Decode => decode_all(&codec, payloads, facts)?,
    };
    serde_json::to_vec(&Payloads {
        payloads: converted,
    })
    .map_err(|e| ApiError::Internal(e.to_string()))
}

fn encode_all(
    codec: &PayloadCodec,
    payloads: Payloads,
    facts: &mut Facts,
) -> Result<Vec<crate::codec::Payload>, ApiError> {
    if !payloads.payloads.is_empty() {
        facts.add_key_id(codec.keyring().primary_id().as_str());
    }
    codec
        .encode(payloads.payloads)
        .map_err(ApiError::from_codec)
}

fn decode_all(
    codec: &PayloadCodec,
    payloads: Payloads,
    facts: &mut Facts,
) -> Result<Vec<crate::codec::Payload>, ApiError> {
    for payload in &payloads.payloads {
        let encrypted = payload.metadata.get(METADATA_ENCODING).map(Vec::as_slice)
            == Some(ENCODING_ENCRYPTED.as_bytes());
        if encrypted && let Some(id) = payload.metadata_str(METADATA_KEY_ID) {
            facts.add_key_id(&id.chars().take(64).collect::<String>());
        }
    }
    codec
        .decode(payloads.payloads)
        .map_err(ApiError::from_codec)
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 once every keyring is unwrapped through the KMS, else 503 with reasons.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.keyrings.ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let reasons = state.keyrings.not_ready_reasons().join("\n");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready:\n{reasons}\n"),
        )
            .into_response()
    }
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(state.keyrings.ready()),
    )
        .into_response()
}

/// A codec path with a method other than POST.
pub async fn post_only() -> Response {
    method_not_allowed("POST")
}

/// An operations path with a method other than GET.
pub async fn get_only() -> Response {
    method_not_allowed("GET")
}

fn method_not_allowed(allowed: &'static str) -> Response {
    let body = serde_json::json!({
        "code": 405,
        "message": format!("method not allowed here; use {allowed}"),
    });
    let mut response = (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    response
}

/// Any other path.
pub async fn not_found() -> Response {
    let body = serde_json::json!({
        "code": 404,
        "message": "no such endpoint; the codec endpoints are POST /encode, /decode, /{namespace}/encode and /{namespace}/decode",
    });
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
