//! Connections: accepting them under a limit, the TLS handshake, and HTTP/1.1 on each, with
//! timeouts that close what a slow or silent client holds open.
//!
//! - **Limit.** At most `max-connections` are open, within what the open-file limit allows (see
//!   `config::connection_limit`). At the limit a new connection replaces the one that has been
//!   idle longest (waiting for its TLS handshake or its next request head), one that has never
//!   sent a complete request first; connections with a request in flight are never closed for
//!   it. So connections that send nothing, or their
//!   headers a byte at a time, cannot lock out clients that send a request at once. When every
//!   connection is busy, the new one waits (up to the header timeout) for one to end.
//! - **Timeouts.** The TLS handshake and each request head must arrive within the header
//!   timeout. hyper's `header_read_timeout` (hyper 1.12, `src/proto/h1/conn.rs`,
//!   `Conn::poll_read_head`) starts its timer whenever the connection waits for a head, the first
//!   and every later one, so it is also the keep-alive idle timeout. A write of the answer that
//!   makes no progress for the request timeout ends the connection (a client that does not read
//!   holds memory otherwise). The body and the work on it are bounded in the handlers.
//! - **Protocol.** HTTP/1.1 only, whatever the client sends: TLS offers only `http/1.1` by ALPN
//!   (rustls answers a client that offers neither it nor nothing at all with the
//!   `no_application_protocol` alert, and `ServerConnection::alpn_protocol` names what was
//!   agreed), and a plain-HTTP connection that opens with the HTTP/2 preface (h2c) is answered
//!   as the malformed HTTP/1.1 request it is. Serving what was negotiated keeps the bounds
//!   above meaningful: they count one request at a time per connection, which HTTP/2's
//!   multiplexed streams are not.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use crate::codec::server::audit::AuditLog;
use crate::codec::server::metrics::Metrics;

/// What every connection is served with.
#[derive(Clone)]
pub struct ConnectionSettings {
    /// TLS, or plain HTTP when `None`.
    pub tls: Option<TlsAcceptor>,
    /// TLS handshake, request head and keep-alive idle timeout.
    pub header_timeout: Duration,
    /// The longest a write of an answer may make no progress.
    pub write_stall_timeout: Duration,
}

/// Accepts and serves connections until `shutdown` completes; then stops accepting, lets each
/// connection finish the request it is on for at most `grace`, and cuts what is left (their
/// audit lines say so).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: ConnectionSettings,
    connections: Arc<Connections>,
    audit: AuditLog,
    grace: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let stopping = CancellationToken::new();
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, client)) => {
                    let Some(slot) = connections.admit(settings.header_timeout).await else {
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    // A finished connection's task keeps its memory until it is reaped; under a
                    // flood of short connections the branch below alone falls behind.
                    while tasks.try_join_next().is_some() {}
                    tasks.spawn(connection(
                        stream,
                        client,
                        app.clone(),
                        settings.clone(),
                        slot,
                        stopping.clone(),
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: no new connections, finishing requests in flight");
    stopping.cancel();
    let drained =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("requests still running after the shutdown grace period; stopping anyway");
        audit.mark_cut_off();
        tasks.shutdown().await;
    }
}

/// One connection, from the TLS handshake to its close.
async fn connection(
    stream: TcpStream,
    client: SocketAddr,
    app: Router,
    settings: ConnectionSettings,
    slot: SlotGuard,
    stopping: CancellationToken,
) {
    let evicted = slot.slot.evict.notified();
    tokio::pin!(evicted);
    let stream = match settings.tls {
        None => Stream::Plain(stream),
        Some(acceptor) => {
            let handshake = tokio::time::timeout(settings.header_timeout, acceptor.accept(stream));
            tokio::select! {
                done = handshake => match done {
                    Ok(Ok(tls)) => Stream::Tls(Box::new(tls)),
                    Ok(Err(e)) => {
                        tracing::debug!(%client, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%client, "TLS handshake timed out");
                        return;
                    }
                },
                () = &mut evicted => return,
                () = stopping.cancelled() => return,
            }
        }
    };
    let io = TokioIo::new(Conn {
        stream,
        stall_timeout: settings.write_stall_timeout,
        stalled: None,
    });
    let service = ConnectionService {
        app: TowerToHyperService::new(app),
        client,
        slot: slot.slot.clone(),
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout);
    let served = http.serve_connection(io, service);
    tokio::pin!(served);
    tokio::select! {
        result = served.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%client, error = %e, "connection ended with an error");
            }
        }
        () = &mut evicted => tracing::debug!(%client, "idle connection closed for a new one"),
        () = stopping.cancelled() => {
            served.as_mut().graceful_shutdown();
            let _ = served.await;
        }
    }
}

/// The open connections, for the limit and for eviction.
pub struct Connections {
    /// One permit per connection that may be open; a connection gives its permit back only
    /// once its socket is closed, so open descriptors never exceed the limit by more than the
    /// one connection being admitted.
    permits: Arc<Semaphore>,
    open: Mutex<HashMap<u64, Arc<Slot>>>,
    next_id: AtomicU64,
    epoch: Instant,
    metrics: Arc<Metrics>,
}

/// A slot's state: [`BUSY`], [`EVICTED`], or one plus the nanoseconds since the epoch at which
/// it became idle.
const BUSY: u64 = 0;
const EVICTED: u64 = u64::MAX;

/// One open connection.
struct Slot {
    state: AtomicU64,
    /// Whether a request has reached the application on it: connections that never sent a
    /// complete request head are evicted before kept-alive ones.
    served: AtomicBool,
    evict: Notify,
    epoch: Instant,
}

/// The state of a connection idle since now, counted from `epoch`.
fn idle_since_now(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos())
        .unwrap_or(EVICTED - 1)
        .saturating_add(1)
        .min(EVICTED - 1)
}

impl Slot {
    /// Marks the connection idle again, unless it was evicted meanwhile.
    fn end_request(&self) {
        let _ = self.state.compare_exchange(
            BUSY,
            idle_since_now(self.epoch),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// Marks a request in flight, unless the connection was just chosen for eviction.
    fn begin_request(&self) -> bool {
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            if current == EVICTED {
                return false;
            }
            match self
                .state
                .compare_exchange(current, BUSY, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
    }
}

impl Connections {
    /// A registry allowing `limit` open connections.
    pub fn new(limit: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
            metrics,
        }
    }

    /// A slot for a connection just accepted. At the limit, closes the connection that has
    /// been idle longest and waits for it to be closed; if every connection is busy, waits for
    /// one to end, for at most `wait`. `None` when none ended in time.
    async fn admit(self: &Arc<Self>, wait: Duration) -> Option<SlotGuard> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.evict_longest_idle() {
                    self.metrics.connection_evicted();
                }
                let freed = tokio::time::timeout(wait, self.permits.clone().acquire_owned()).await;
                match freed {
                    Ok(Ok(permit)) => permit,
                    _ => {
                        self.metrics.connection_refused();
                        return None;
                    }
                }
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            state: AtomicU64::new(idle_since_now(self.epoch)),
            served: AtomicBool::new(false),
            evict: Notify::new(),
            epoch: self.epoch,
        });
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, slot.clone());
        self.metrics.connection(true);
        Some(SlotGuard {
            connections: self.clone(),
            id,
            slot,
            _permit: permit,
        })
    }

    /// Tells the connection idle longest to close, one that never sent a complete request
    /// first; `false` when every connection is busy.
    fn evict_longest_idle(&self) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mut idle: Vec<(bool, u64, u64)> = open
            .iter()
            .map(|(id, slot)| {
                let served = slot.served.load(Ordering::Relaxed);
                (served, slot.state.load(Ordering::Acquire), *id)
            })
            .filter(|(_, state, _)| *state != BUSY && *state != EVICTED)
            .collect();
        idle.sort_unstable();
        let evicted = idle.into_iter().find(|(_, state, id)| {
            open[id]
                .state
                .compare_exchange(*state, EVICTED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        });
        match evicted.and_then(|(_, _, id)| open.remove(&id)) {
            Some(slot) => {
                slot.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Frees the slot when its connection ends (after its socket is closed: the connection's
/// stream is a local of the task, dropped before this argument).
struct SlotGuard {
    connections: Arc<Connections>,
    id: u64,
    slot: Arc<Slot>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.connections
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
        self.connections.metrics.connection(false);
    }
}

/// Marks the connection idle again when the answer's body is done with.
struct RequestGuard(Arc<Slot>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.end_request();
    }
}

/// The application, served on one connection: marks it busy for each request and hands the
/// handlers the client's address.
#[derive(Clone)]
struct ConnectionService {
    app: TowerToHyperService<Router>,
    client: SocketAddr,
    slot: Arc<Slot>,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        if !self.slot.begin_request() {
            // Chosen for eviction the moment this request arrived: it closes now.
            let mut response =
                (StatusCode::SERVICE_UNAVAILABLE, "connection closing").into_response();
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            return Box::pin(async move {
                Ok(response.map(|inner| TrackedBody {
                    inner,
                    _guard: None,
                }))
            });
        }
        let guard = RequestGuard(self.slot.clone());
        request.extensions_mut().insert(ConnectInfo(self.client));
        let answer = hyper::service::Service::call(&self.app, request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|inner| TrackedBody {
                inner,
                _guard: Some(guard),
            }))
        })
    }
}

/// An answer's body that keeps its connection marked busy until hyper is done with it.
struct TrackedBody {
    inner: Body,
    _guard: Option<RequestGuard>,
}

impl hyper::body::Body for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection's stream, plain or TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A connection's stream with a bound on how long a write may stall.
struct Conn {
    stream: Stream,
    stall_timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Conn {
    /// Passes `poll` through, failing it with `TimedOut` once it has been pending for the stall
    /// timeout without progress.
    fn bounded<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Stream, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll(&mut self.stream, cx) {
            Poll::Pending => {
                let timeout = self.stall_timeout;
                let stalled = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if stalled.as_mut().poll(cx).is_ready() {
                    self.stalled = None;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client did not read the answer",
                    )));
                }
                Poll::Pending
            }
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().bounded(cx, |stream, cx| match stream {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        })
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().bounded(cx, |stream, cx| match stream {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        })
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().bounded(cx, |stream, cx| match stream {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        })
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().bounded(cx, |stream, cx| match stream {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        })
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn at_the_limit_the_longest_idle_connection_makes_room_and_busy_ones_stay() {
        let metrics = Arc::new(Metrics::default());
        let connections = Arc::new(Connections::new(2, metrics));
        let wait = Duration::from_millis(50);
        let first = connections.admit(wait).await.unwrap();
        let second = connections.admit(wait).await.unwrap();
        assert!(second.slot.begin_request());
        let closing = first.slot.clone();
        let closed = tokio::spawn(async move {
            closing.evict.notified().await;
            drop(first);
        });
        let third = connections
            .admit(wait)
            .await
            .expect("the idle first one makes room");
        closed.await.unwrap();
        assert_eq!(second.slot.state.load(Ordering::Acquire), BUSY);
        assert!(third.slot.begin_request());
        assert!(
            connections.admit(wait).await.is_none(),
            "every connection is busy"
        );
        assert_eq!(connections.open.lock().unwrap().len(), 2);
    }
}
