//! The routes and the tower layers around them: CORS for the Web UI's exact origins, and request
//! tracing. The codec routes take every method, so a wrong one is refused (405) by the handler,
//! with its audit line, like any other refusal.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{any, get};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::codec::server::handlers;
use crate::codec::server::state::AppState;

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The headers the Web UI and CLI send to a codec endpoint.
pub const ALLOWED_HEADERS: [&str; 4] = [
    "authorization",
    "authorization-extras",
    "content-type",
    "x-namespace",
];

/// The whole application. `cors_origins` are exact origins, already checked.
pub fn router(state: AppState, cors_origins: &[String]) -> Router {
    Router::new()
        .route("/encode", any(handlers::encode))
        .route("/decode", any(handlers::decode))
        .route("/{namespace}/encode", any(handlers::encode_in))
        .route("/{namespace}/decode", any(handlers::decode_in))
        .route(
            "/healthz",
            get(handlers::healthz).fallback(handlers::get_only),
        )
        .route(
            "/readyz",
            get(handlers::readyz).fallback(handlers::get_only),
        )
        .route(
            "/metrics",
            get(handlers::metrics).fallback(handlers::get_only),
        )
        .fallback(handlers::not_found)
        .layer(cors(cors_origins))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// CORS for exactly `origins`, with credentials, so the Web UI can pass the user's token.
fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::POST])
        .allow_headers(ALLOWED_HEADERS.map(HeaderName::from_static))
        .expose_headers([header::CONTENT_TYPE])
        .max_age(PREFLIGHT_MAX_AGE)
}
