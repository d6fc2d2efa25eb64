//! The HTTP handlers: plain async functions over [`AppState`].
//!
//! A codec request is checked from the cheapest check to the dearest, and each bound applies
//! before the work it bounds: method, the `--insecure-no-auth` origin checks, the declared body
//! size, the namespace, the token, the keyring, a reservation from the memory budget, the body
//! (read within the request timeout and the size limit), the payload count (while parsing), the
//! answer size (before each payload, and for `/encode` before the first seal). All payloads are
//! converted or none, and every request, whatever its end, gets one audit line.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;

use crate::codec::format::{self, ENCODING_ENCRYPTED, METADATA_ENCODING, METADATA_KEY_ID};
use crate::codec::server::audit::{Facts, Operation};
use crate::codec::server::body::{self, Answer};
use crate::codec::server::budget::ReservedBody;
use crate::codec::server::config::reservation_bytes;
use crate::codec::server::error::ApiError;
use crate::codec::server::namespace;
use crate::codec::server::state::{AppState, RequestLimits};
use crate::codec::{KeyId, Namespace, PayloadCodec, clock};

/// Bodies up to this size are converted on the request's own task; larger ones on the blocking
/// pool, so a few milliseconds of AES and base64 never hold up the runtime's other connections
/// while other cores could serve them. A runtime with one worker (one core) converts every body
/// on the request's task: there the blocking pool's thread only takes turns with the worker on
/// the same core and adds two context switches per request (measured in docs/benchmarks.md).
const INLINE_BODY_BYTES: usize = 64 * 1024;

/// `/encode`.
pub async fn encode(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    codec(state, Operation::Encode, false, client, request).await
}

/// `/decode`.
pub async fn decode(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    codec(state, Operation::Decode, false, client, request).await
}

/// `/{namespace}/encode`.
pub async fn encode_in(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    codec(state, Operation::Encode, true, client, request).await
}

/// `/{namespace}/decode`.
pub async fn decode_in(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    codec(state, Operation::Decode, true, client, request).await
}

async fn codec(
    state: AppState,
    operation: Operation,
    namespaced: bool,
    client: SocketAddr,
    request: Request,
) -> Response {
    let mut record = state.audit.begin(operation, client, state.metrics.clone());
    let response = match respond(&state, operation, namespaced, request, &mut record.facts).await {
        Ok(response) => response,
        Err(error) => {
            record.facts.error = Some(error.to_string());
            error.into_response()
        }
    };
    record.finish(response, state.limits.audit_timeout).await
}

async fn respond(
    state: &AppState,
    operation: Operation,
    namespaced: bool,
    request: Request,
    facts: &mut Facts,
) -> Result<Response, ApiError> {
    let deadline = Instant::now() + state.limits.request_timeout;
    let limits = state.limits;
    if request.method() != Method::POST {
        return Err(ApiError::MethodNotAllowed { allowed: "POST" });
    }
    if let Some(local_only) = &state.local_only {
        local_only.check(request.headers())?;
    }
    let declared = declared_length(request.headers())?;
    if declared.is_some_and(|n| n > limits.max_body_bytes) {
        return Err(ApiError::TooLarge {
            limit: limits.max_body_bytes,
        });
    }
    let path_namespace = namespaced
        .then(|| namespace_segment(request.uri().path()))
        .flatten();
    let namespace = namespace::resolve(path_namespace, request.headers())?;
    facts.namespace = namespace.as_ref().map(ToString::to_string);
    state
        .auth
        .authorize(
            request.headers(),
            namespace.as_ref().map(Namespace::as_str),
            operation,
            facts,
        )
        .await?;
    let codec = state.keyrings.codec_for(namespace.as_ref())?;
    let reservation = state
        .budget
        .reserve(
            reservation_bytes(declared.unwrap_or(limits.max_body_bytes)),
            deadline,
        )
        .await?;
    let body = read_body(request.into_body(), declared, &limits, deadline).await?;
    facts.request_bytes = body.len();
    let (answer, learned) = if body.len() <= INLINE_BODY_BYTES || one_worker() {
        convert(operation, &codec, body, &limits)
    } else {
        tokio::task::spawn_blocking(move || convert(operation, &codec, body, &limits))
            .await
            .map_err(|_| ApiError::Internal("the conversion did not finish".into()))?
    };
    facts.payloads = learned.payloads;
    for id in &learned.key_ids {
        facts.add_key_id(id);
    }
    facts.format_versions = learned.format_versions;
    let answer = Bytes::from(answer?);
    facts.response_bytes = answer.len();
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::new(ReservedBody::new(answer, reservation)),
    )
        .into_response())
}

/// Whether the runtime serving this request has a single worker.
fn one_worker() -> bool {
    tokio::runtime::Handle::current().metrics().num_workers() == 1
}

/// The `Content-Length` a request declares, if any.
fn declared_length(headers: &HeaderMap) -> Result<Option<usize>, ApiError> {
    headers
        .get(header::CONTENT_LENGTH)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                .ok_or_else(|| ApiError::BadBody("Content-Length is not a number".into()))
        })
        .transpose()
}

/// The `{namespace}` of `/{namespace}/encode` or `/{namespace}/decode`, as sent (a
/// percent-encoded name is no namespace name and is refused as such).
fn namespace_segment(path: &str) -> Option<&str> {
    path.strip_prefix('/')?.split_once('/').map(|(ns, _)| ns)
}

/// Reads the body within the deadline and the size limit, into one allocation when its length
/// was declared.
async fn read_body(
    body: Body,
    declared: Option<usize>,
    limits: &RequestLimits,
    deadline: Instant,
) -> Result<Vec<u8>, ApiError> {
    let limit = limits.max_body_bytes;
    let read = async {
        let mut out = Vec::with_capacity(declared.unwrap_or(0).min(limit));
        let mut chunks = body.into_data_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk
                .map_err(|_| ApiError::BadBody("the request body could not be read".into()))?;
            if out.len() + chunk.len() > limit {
                return Err(ApiError::TooLarge { limit });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    };
    tokio::time::timeout_at(deadline.into(), read)
        .await
        .map_err(|_| ApiError::BodyTimeout {
            seconds: limits.request_timeout.as_secs(),
        })?
}

/// What a conversion learned for the audit line, success or not.
#[derive(Default)]
struct Learned {
    payloads: usize,
    key_ids: Vec<String>,
    format_versions: Vec<u8>,
}

/// Parses `body` and converts every payload into the answer, or fails as a whole.
fn convert(
    operation: Operation,
    codec: &PayloadCodec,
    body: Vec<u8>,
    limits: &RequestLimits,
) -> (Result<Vec<u8>, ApiError>, Learned) {
    let mut learned = Learned::default();
    let result = (|| {
        let payloads = body::parse(&body, limits.max_payloads)?;
        let body_len = body.len();
        drop(body);
        learned.payloads = payloads.len();
        match operation {
            Operation::Encode => {
                if payloads.is_empty() {
                    return Ok(Answer::new(0, limits.max_response_bytes).finish());
                }
                let now = clock::now_unix();
                let namespace = codec
                    .namespace()
                    .ok_or_else(|| ApiError::from_codec(crate::codec::CodecError::NoNamespace))?;
                let sealing = codec
                    .sealing_key_id(now)
                    .map_err(|refused| ApiError::from_codec(refused.into()))?
                    .clone();
                learned.key_ids.push(sealing.to_string());
                let predicted = body::encoded_answer_len(
                    sealing.as_str(),
                    namespace.as_str(),
                    payloads.iter().map(format::sealed_len),
                );
                if predicted > limits.max_response_bytes {
                    return Err(ApiError::AnswerTooLarge {
                        limit: limits.max_response_bytes,
                    });
                }
                let mut answer = Answer::new(predicted, limits.max_response_bytes);
                learned.format_versions.push(format::FORMAT_V2);
                for payload in payloads {
                    let sealed = codec
                        .encode_one_at(&payload, now)
                        .map_err(ApiError::from_codec)?;
                    drop(payload);
                    answer.push(&sealed)?;
                }
                Ok(answer.finish())
            }
            Operation::Decode => {
                let mut answer = Answer::new(body_len, limits.max_response_bytes);
                for payload in payloads {
                    let encrypted = payload.metadata.get(METADATA_ENCODING).map(Vec::as_slice)
                        == Some(ENCODING_ENCRYPTED.as_bytes());
                    let named = payload
                        .metadata_str(METADATA_KEY_ID)
                        .and_then(|id| KeyId::new(id).ok());
                    if encrypted
                        && let Some(id) = named
                        && !learned.key_ids.iter().any(|k| k == id.as_str())
                    {
                        learned.key_ids.push(id.to_string());
                    }
                    let (plain, version) = codec
                        .decode_one_reporting(payload)
                        .map_err(ApiError::from_codec)?;
                    if let Some(v) = version
                        && !learned.format_versions.contains(&v)
                    {
                        learned.format_versions.push(v);
                    }
                    answer.push(&plain)?;
                }
                Ok(answer.finish())
            }
        }
    })();
    (result, learned)
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 once every keyring is unwrapped and loads from its document and audit
/// lines are written, else 503 with the reasons. Anyone may ask, so the reasons name the
/// keyring and the kind of problem, never a file path or an error's text (those are logged).
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let reasons = state.not_ready_reasons().join("\n");
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
        state.metrics.render(state.ready()),
    )
        .into_response()
}

/// An operations path with a method other than GET.
pub async fn get_only() -> Response {
    ApiError::MethodNotAllowed { allowed: "GET" }.into_response()
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
