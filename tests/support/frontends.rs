//! Fronts for `temporal server start-dev`, which has neither TLS nor authorization settings,
//! so a test can reach it as a production frontend is reached.
//!
//! [`tls_listener`]: a TLS 1.2/1.3 listener (rustls, ALPN h2) that hands every connection to the
//! plaintext frontend once the handshake is done, presenting the certificate a TLS frontend
//! would, and closing one that did not negotiate `h2`, as Temporal's gRPC server does.
//!
//! [`AuthorizingFrontend`]: a gRPC proxy that passes a call on only when it carries
//! `authorization: Bearer <token>` with the expected token, and otherwise answers
//! PermissionDenied "Request unauthorized.", as Temporal's frontend does with the default claim
//! mapper and authorizer (common/authorization/default_jwt_claim_mapper.go and interceptor.go,
//! v1.31.2: the header split at the first space, `bearer` in any case). As there, the health
//! check and GetSystemInfo pass without a token (frontend_api.go `healthCheckAPI`), but not with
//! a wrong one (the claim mapper refuses it first).
#![allow(dead_code)]

use http_body_util::BodyExt as _;
use http_body_util::combinators::BoxBody;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A running authorizing front; stops with the test process.
pub struct AuthorizingFrontend {
    /// Its `host:port`.
    pub address: String,
    refused: Arc<AtomicUsize>,
    passed: Arc<AtomicUsize>,
}

/// The calls Temporal's default authorizer admits without claims.
const HEALTH_CHECK_APIS: [&str; 2] = [
    "/grpc.health.v1.Health/Check",
    "/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo",
];

/// Whether a call to `path` with `header` passes: a health check without a token, or any call
/// with what Temporal's default claim mapper accepts as the bearer `token`.
fn authorized(path: &str, header: Option<&hyper::header::HeaderValue>, token: &str) -> bool {
    let Some(header) = header else {
        return HEALTH_CHECK_APIS.contains(&path);
    };
    let Ok(value) = header.to_str() else {
        return false;
    };
    match value.split_once(' ') {
        Some((scheme, presented)) => scheme.eq_ignore_ascii_case("bearer") && presented == token,
        None => false,
    }
}

/// A trailers-only gRPC answer with `code` and `message`.
fn grpc_error(code: u8, message: &str) -> hyper::Response<BoxBody<Bytes, hyper::Error>> {
    hyper::Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .header("grpc-status", code.to_string())
        .header("grpc-message", message)
        .body(
            http_body_util::Empty::new()
                .map_err(|never| match never {})
                .boxed(),
        )
        .unwrap()
}

impl AuthorizingFrontend {
    /// Starts a front for the plaintext frontend at `upstream` that admits `token`.
    pub fn start(upstream: &str, token: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let refused = Arc::new(AtomicUsize::new(0));
        let passed = Arc::new(AtomicUsize::new(0));
        let (upstream, token) = (upstream.to_string(), token.to_string());
        let (refused_count, passed_count) = (refused.clone(), passed.clone());
        on_own_thread(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                .http2_only(true)
                .build_http::<Incoming>();
            while let Ok((tcp, _)) = listener.accept().await {
                let (client, upstream, token) = (client.clone(), upstream.clone(), token.clone());
                let (refused, passed) = (refused_count.clone(), passed_count.clone());
                let service =
                    hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                        let (client, upstream) = (client.clone(), upstream.clone());
                        let admitted = authorized(
                            request.uri().path(),
                            request.headers().get("authorization"),
                            &token,
                        );
                        let (refused, passed) = (refused.clone(), passed.clone());
                        async move {
                            if !admitted {
                                refused.fetch_add(1, Ordering::SeqCst);
                                return Ok::<_, hyper::Error>(grpc_error(
                                    7,
                                    "Request unauthorized.",
                                ));
                            }
                            passed.fetch_add(1, Ordering::SeqCst);
                            let path = request
                                .uri()
                                .path_and_query()
                                .map(|p| p.as_str().to_string())
                                .unwrap_or_default();
                            *request.uri_mut() =
                                format!("http://{upstream}{path}").parse().unwrap();
                            Ok(match client.request(request).await {
                                Ok(answer) => answer.map(|body| body.boxed()),
                                Err(_) => {
                                    grpc_error(14, "the dev server behind the front did not answer")
                                }
                            })
                        }
                    });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        Self {
            address,
            refused,
            passed,
        }
    }

    /// Calls refused so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    /// Calls passed on so far.
    pub fn passed(&self) -> usize {
        self.passed.load(Ordering::SeqCst)
    }
}

/// Runs `serve` to its end on a thread of its own with a current-thread runtime, so a front
/// keeps answering whatever the test's own runtime (or its absence) is doing.
fn on_own_thread(serve: impl std::future::Future<Output = ()> + Send + 'static) {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(serve);
    });
}

/// A TLS listener on 127.0.0.1 in front of `upstream` (a plaintext `host:port`); returns its
/// `host:port`. Runs on its own thread until the test process ends.
pub fn tls_listener(upstream: String, mut config: rustls::ServerConfig) -> String {
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    on_own_thread(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                // Temporal's gRPC server closes a TLS connection that did not negotiate `h2`
                // once the handshake is done (grpc-go enforces ALPN since v1.67.0,
                // grpc/grpc-go#7535; Temporal v1.31.2's go.mod requires v1.79.3).
                if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                    return;
                }
                let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    address
}
