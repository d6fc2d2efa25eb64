//! The audit trail: one JSON line per `/encode` or `/decode` request on stdout. It says who asked,
//! for which namespace, what and with which key ids, never payload content or tokens. The schema
//! is documented in docs/codec-server.md.
//!
//! The trail fails closed. A request writes its own line when that cannot block: the descriptor
//! has room for it now (a `poll` with no wait) and no other line is being written. Otherwise the
//! line goes to a writer thread, so a stdout that blocks (a pipe nobody reads) never blocks a
//! request thread; writing in place saves the two context switches per request that handing
//! every line to the thread costs (docs/benchmarks.md). Lines handed to the thread may come out
//! after later lines written in place; each carries its own time. Every answer waits for its line
//! to be written, for at most the audit timeout; a 2xx answer whose line was not written in time, or
//! could not be written, is withheld and answered 503 instead, so no plaintext leaves without an
//! audit line. While lines cannot be written the server is not ready, and every failure is
//! counted in `engram_codec_audit_failures_total`. A request that ends without an answer (the
//! client went away, or it was cut at the end of the shutdown grace period) still gets its line.

use std::io::Write;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::codec::server::error::ApiError;
use crate::codec::server::metrics::Metrics;

/// Lines queued for the writer at most; past that the trail counts as failing.
const QUEUE_LINES: usize = 4096;
/// Lines the writer takes from the queue for one write.
const BATCH_LINES: usize = 256;
/// The longest line a request writes itself: a pipe takes a write of up to `PIPE_BUF` bytes
/// (4096 on Linux, pipe(7)) whole or not at all, and Linux's `pipe_poll` (fs/pipe.c) reports
/// `POLLOUT` only while a whole buffer slot is free, so a line that fits never blocks once `poll`
/// has said there is room (the unit test below fills a real pipe).
const PIPE_BUF: usize = 4096;

/// The two codec operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Plaintext payloads in, encrypted payloads out.
    Encode,
    /// Encrypted payloads in, plaintext payloads out.
    Decode,
}

impl Operation {
    /// The operation's name in audit lines and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Encode => "encode",
            Self::Decode => "decode",
        }
    }
}

/// How a request ended, from the point of view of access control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Answered with the converted payloads.
    Ok,
    /// Refused for lack of a valid token or permission (401, 403).
    Denied,
    /// Refused or failed for any other reason.
    Error,
}

impl Outcome {
    /// The outcome a response status stands for.
    pub fn of(status: StatusCode) -> Self {
        if status.is_success() {
            Self::Ok
        } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            Self::Denied
        } else {
            Self::Error
        }
    }

    /// The outcome's name in audit lines and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Denied => "denied",
            Self::Error => "error",
        }
    }
}

/// What a handler learned about a request, for its audit line.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The token's subject, once verified.
    pub subject: Option<String>,
    /// The namespace, once resolved.
    pub namespace: Option<String>,
    /// How many payloads the request carried, once parsed.
    pub payloads: usize,
    /// Valid data key ids used or named, in first-seen order.
    pub key_ids: Vec<String>,
    /// The payload format versions sealed or opened, in first-seen order.
    pub format_versions: Vec<u8>,
    /// Bytes of the request body, once read.
    pub request_bytes: usize,
    /// Bytes of the answer's body.
    pub response_bytes: usize,
    /// The refusal or failure message, if any: the message sent to the caller, which describes
    /// the shape of bad input and never quotes it.
    pub error: Option<String>,
}

impl Facts {
    /// Records a key id once. Callers pass ids that passed [`crate::codec::KeyId`] validation.
    pub fn add_key_id(&mut self, id: &str) {
        if !self.key_ids.iter().any(|k| k == id) {
            self.key_ids.push(id.to_string());
        }
    }
}

/// One audit line, as serialized.
#[derive(Serialize)]
struct Line<'a> {
    time: String,
    insecure_no_auth: bool,
    subject: Option<&'a str>,
    namespace: Option<&'a str>,
    operation: &'a str,
    payloads: usize,
    key_ids: &'a [String],
    format_versions: &'a [u8],
    outcome: &'a str,
    status: u16,
    latency_ms: f64,
    client: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// Why the trail could not be started on stdout.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// stdout is /dev/null (also what a closed stdout becomes: the Rust runtime reopens closed
    /// standard descriptors on /dev/null), so every line would be lost.
    #[error(
        "stdout is /dev/null (or was closed): audit lines written there are lost. Give the codec server a stdout that something reads (the container runtime's log pipe, a file, a log shipper)"
    )]
    Discarded,
    /// The audit lines' descriptor (stdout's, in production) could not be duplicated.
    #[error("cannot duplicate the descriptor of the audit lines (stdout): {0}")]
    Descriptor(std::io::Error),
    /// The writer thread could not be started.
    #[error("cannot start the audit writer thread: {0}")]
    Thread(std::io::Error),
}

/// One queued line, and where to say whether it was written.
struct Queued {
    bytes: Vec<u8>,
    written: Option<oneshot::Sender<bool>>,
}

/// Where the lines are written, by the writer thread and by requests alike; the lock keeps one
/// line (or one batch) whole.
struct Sink {
    out: Mutex<Box<dyn Write + Send>>,
    /// The descriptor behind `out`, asked whether it has room; `None` for a writer without one,
    /// whose lines all go through the thread.
    descriptor: Option<OwnedFd>,
    healthy: AtomicBool,
}

impl Sink {
    /// Writes and flushes `bytes`, and keeps `healthy` (and the log) up to date.
    fn write(&self, out: &mut dyn Write, bytes: &[u8]) -> bool {
        let result = out.write_all(bytes).and_then(|()| out.flush());
        match result {
            Err(e) => {
                if self.healthy.swap(false, Ordering::Relaxed) {
                    tracing::error!(error = %e, "cannot write audit lines; answers with payloads are withheld until they can be written");
                }
                false
            }
            Ok(()) => {
                if !self.healthy.swap(true, Ordering::Relaxed) {
                    tracing::info!("audit lines are written again");
                }
                true
            }
        }
    }

    /// Writes `bytes` at once if that cannot block: whether it was written, or `None` when it
    /// must go through the thread (no descriptor, a longer line than a pipe writes whole, another
    /// write in progress, or no room).
    fn write_now(&self, bytes: &[u8]) -> Option<bool> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let descriptor = self.descriptor.as_ref()?;
        if bytes.len() > PIPE_BUF {
            return None;
        }
        let mut out = self.out.try_lock().ok()?;
        let mut asked = [PollFd::new(descriptor, PollFlags::OUT)];
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let room = poll(&mut asked, Some(&now)).is_ok_and(|n| n == 1)
            && asked[0].revents() == PollFlags::OUT;
        room.then(|| self.write(out.as_mut(), bytes))
    }
}

/// Where audit lines go: stdout in production, a descriptor or any writer in embedding code.
/// Cloning shares the one writer thread; it ends when every clone is dropped and the queue is
/// written.
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Queued>,
    sink: Arc<Sink>,
    cut_off: Arc<AtomicBool>,
    insecure_no_auth: bool,
}

impl AuditLog {
    /// Audit lines to stdout. `insecure_no_auth` marks every line. Refuses a stdout that
    /// discards what is written to it.
    pub fn stdout(insecure_no_auth: bool) -> Result<Self, AuditError> {
        if stdout_is_dev_null() {
            return Err(AuditError::Discarded);
        }
        let descriptor = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(AuditError::Descriptor)?;
        Self::to_descriptor(descriptor, insecure_no_auth)
    }

    /// Audit lines to a descriptor (a pipe, a file), unbuffered: written by the request itself
    /// whenever the descriptor has room, else by the writer thread.
    pub fn to_descriptor(descriptor: OwnedFd, insecure_no_auth: bool) -> Result<Self, AuditError> {
        let out = std::fs::File::from(descriptor.try_clone().map_err(AuditError::Descriptor)?);
        Self::start(Box::new(out), Some(descriptor), insecure_no_auth)
    }

    /// Audit lines to `out`, written and flushed by a thread of their own.
    pub fn to_writer(
        out: Box<dyn Write + Send>,
        insecure_no_auth: bool,
    ) -> Result<Self, AuditError> {
        Self::start(out, None, insecure_no_auth)
    }

    fn start(
        out: Box<dyn Write + Send>,
        descriptor: Option<OwnedFd>,
        insecure_no_auth: bool,
    ) -> Result<Self, AuditError> {
        let (queue, lines) = mpsc::channel(QUEUE_LINES);
        let sink = Arc::new(Sink {
            out: Mutex::new(out),
            descriptor,
            healthy: AtomicBool::new(true),
        });
        let writer = sink.clone();
        std::thread::Builder::new()
            .name("engram-audit".into())
            .spawn(move || write_lines(&writer, lines))
            .map_err(AuditError::Thread)?;
        Ok(Self {
            queue,
            sink,
            cut_off: Arc::new(AtomicBool::new(false)),
            insecure_no_auth,
        })
    }

    /// Marks the end of the shutdown grace period: requests dropped from now on are recorded
    /// as cut by the server, not as abandoned by their clients.
    pub fn mark_cut_off(&self) {
        self.cut_off.store(true, Ordering::Relaxed);
    }

    /// Whether lines are being written: the last write succeeded and no line waited past the
    /// audit timeout since. Readiness follows it.
    pub fn healthy(&self) -> bool {
        self.sink.healthy.load(Ordering::Relaxed)
    }

    /// Starts the line of one request, written when the request ends, however it ends.
    pub fn begin(&self, operation: Operation, client: SocketAddr, metrics: Arc<Metrics>) -> Record {
        Record {
            log: self.clone(),
            metrics,
            operation,
            client,
            started: Instant::now(),
            facts: Facts::default(),
            done: false,
        }
    }

    /// Waits until every line queued so far is written, for at most `timeout`. Used at
    /// shutdown, so the lines of the last requests are out before the process exits.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let (written, confirmed) = oneshot::channel();
        let barrier = Queued {
            bytes: Vec::new(),
            written: Some(written),
        };
        if self.queue.try_send(barrier).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(timeout, confirmed).await, Ok(Ok(true)))
    }

    /// Writes `line` at once if that cannot block, else queues it for the thread.
    fn send(&self, line: &Line<'_>) -> Sent {
        let Ok(mut bytes) = serde_json::to_vec(line) else {
            return Sent::Lost;
        };
        bytes.push(b'\n');
        if let Some(written) = self.sink.write_now(&bytes) {
            return if written { Sent::Written } else { Sent::Lost };
        }
        let (written, confirmed) = oneshot::channel();
        let queued = self.queue.try_send(Queued {
            bytes,
            written: Some(written),
        });
        match queued {
            Ok(()) => Sent::Queued(confirmed),
            Err(_) => Sent::QueueFull,
        }
    }
}

/// What became of a line handed to [`AuditLog::send`].
enum Sent {
    /// Written and flushed.
    Written,
    /// Could not be written (or serialized).
    Lost,
    /// With the writer thread; the receiver says whether it was written.
    Queued(oneshot::Receiver<bool>),
    /// The queue is full or the writer is gone.
    QueueFull,
}

/// The writer thread: takes what is queued, writes it in one go, flushes, and tells each line's
/// request whether it made it.
fn write_lines(sink: &Sink, mut lines: mpsc::Receiver<Queued>) {
    let mut batch = Vec::with_capacity(BATCH_LINES);
    let mut bytes = Vec::new();
    while lines.blocking_recv_many(&mut batch, BATCH_LINES) > 0 {
        bytes.clear();
        for line in &batch {
            bytes.extend_from_slice(&line.bytes);
        }
        let ok = {
            let mut out = sink.out.lock().unwrap_or_else(|p| p.into_inner());
            sink.write(out.as_mut(), &bytes)
        };
        for line in batch.drain(..) {
            if let Some(written) = line.written {
                let _ = written.send(ok);
            }
        }
    }
}

/// Whether file descriptor 1 is the null device (Linux: `/proc/self/fd/1` resolves to the
/// character device 1:3, `/dev/null`, as devices.txt of the kernel documentation numbers it).
fn stdout_is_dev_null() -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        const DEV_NULL: u64 = (1 << 8) | 3;
        std::fs::metadata("/proc/self/fd/1")
            .is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == DEV_NULL)
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// The audit line of one request in progress. [`Record::finish`] writes it with the answer;
/// dropped unfinished (the client went away, or the request was cut at shutdown) it still
/// writes one, without waiting.
pub struct Record {
    log: AuditLog,
    metrics: Arc<Metrics>,
    operation: Operation,
    client: SocketAddr,
    started: Instant,
    /// What the handler learned.
    pub facts: Facts,
    done: bool,
}

/// The status an audit line records for a request cut at the end of the shutdown grace period.
const CUT_AT_SHUTDOWN: StatusCode = StatusCode::SERVICE_UNAVAILABLE;
/// The status an audit line records for a request whose client closed the connection first
/// (499, as nginx logs it).
const CLIENT_CLOSED: u16 = 499;

impl Record {
    fn line<'a>(&'a self, status: u16, outcome: Outcome, error: Option<&'a str>) -> Line<'a> {
        let elapsed = self.started.elapsed();
        Line {
            time: now_rfc3339(),
            insecure_no_auth: self.log.insecure_no_auth,
            subject: self.facts.subject.as_deref(),
            namespace: self.facts.namespace.as_deref(),
            operation: self.operation.as_str(),
            payloads: self.facts.payloads,
            key_ids: &self.facts.key_ids,
            format_versions: &self.facts.format_versions,
            outcome: outcome.as_str(),
            status,
            latency_ms: (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0,
            client: self.client.to_string(),
            error,
        }
    }

    /// Writes the line for `response` and returns what to send: `response` itself once the line
    /// is written, or, for a 2xx answer whose line could not be written in time, a 503 without
    /// the payloads. Waits at most `timeout`.
    pub async fn finish(mut self, response: Response, timeout: Duration) -> Response {
        self.done = true;
        let mut response = response;
        // Known to be failing: a 2xx answer is withheld at once, the line records what was
        // actually answered, and nothing waits on a writer that is not writing.
        let failing = !self.log.healthy();
        if failing && response.status().is_success() {
            response = self.withhold();
        }
        let status = response.status();
        let sent = self.log.send(&self.line(
            status.as_u16(),
            Outcome::of(status),
            self.facts.error.as_deref(),
        ));
        let written = match sent {
            Sent::Written => true,
            Sent::Lost => false,
            Sent::Queued(receiver) if !failing => {
                match tokio::time::timeout(timeout, receiver).await {
                    Ok(Ok(ok)) => ok,
                    Ok(Err(_)) => false,
                    Err(_) => {
                        if self.log.sink.healthy.swap(false, Ordering::Relaxed) {
                            tracing::error!(
                                timeout_seconds = timeout.as_secs(),
                                "an audit line was not written in time; answers with payloads are withheld until lines are written again"
                            );
                        }
                        false
                    }
                }
            }
            Sent::Queued(_) => false,
            Sent::QueueFull => {
                if self.log.sink.healthy.swap(false, Ordering::Relaxed) {
                    tracing::error!(
                        "the audit queue is full; answers with payloads are withheld until lines are written again"
                    );
                }
                false
            }
        };
        if !written {
            self.metrics.audit_failed();
            if response.status().is_success() {
                response = self.withhold();
            }
        }
        let status = response.status();
        self.metrics.observe(
            self.operation,
            Outcome::of(status),
            status,
            self.facts.payloads,
            self.facts.request_bytes,
            if status.is_success() {
                self.facts.response_bytes
            } else {
                0
            },
            self.started.elapsed(),
        );
        response
    }

    fn withhold(&mut self) -> Response {
        let withheld = ApiError::AuditUnavailable;
        self.facts.error = Some(withheld.to_string());
        withheld.into_response()
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let (status, error) = if self.log.cut_off.load(Ordering::Relaxed) {
            (
                CUT_AT_SHUTDOWN.as_u16(),
                "the server stopped at the end of its shutdown grace period before answering",
            )
        } else {
            (
                CLIENT_CLOSED,
                "the client closed the connection before the answer",
            )
        };
        if matches!(
            self.log
                .send(&self.line(status, Outcome::Error, Some(error))),
            Sent::Lost | Sent::QueueFull
        ) {
            self.metrics.audit_failed();
        }
        self.metrics.observe(
            self.operation,
            Outcome::Error,
            StatusCode::from_u16(status).unwrap_or(CUT_AT_SHUTDOWN),
            self.facts.payloads,
            self.facts.request_bytes,
            0,
            self.started.elapsed(),
        );
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn sink_on_pipe() -> (Sink, std::io::PipeReader) {
        let (reader, writer) = std::io::pipe().unwrap();
        let descriptor = OwnedFd::from(writer);
        let out = std::fs::File::from(descriptor.try_clone().unwrap());
        let sink = Sink {
            out: Mutex::new(Box::new(out)),
            descriptor: Some(descriptor),
            healthy: AtomicBool::new(true),
        };
        (sink, reader)
    }

    #[test]
    fn a_line_is_written_in_place_only_while_that_cannot_block() {
        let (sink, mut reader) = sink_on_pipe();
        assert_eq!(sink.write_now(b"one\n"), Some(true));
        let mut read = [0u8; 4];
        reader.read_exact(&mut read).unwrap();
        assert_eq!(&read, b"one\n");

        assert_eq!(
            sink.write_now(&[b'x'; PIPE_BUF + 1]),
            None,
            "longer than PIPE_BUF"
        );
        let held = sink.out.lock().unwrap();
        assert_eq!(sink.write_now(b"two\n"), None, "another write in progress");
        drop(held);

        // Nobody reads: the pipe fills, and then no line is written in place, so none blocks.
        let mut pages = 0;
        while sink.write_now(&[b'x'; PIPE_BUF]) == Some(true) {
            pages += 1;
            assert!(pages <= 1024, "the pipe never filled");
        }
        assert!(pages >= 1, "{pages}");
        assert_eq!(sink.write_now(b"three\n"), None);
        assert!(sink.healthy.load(Ordering::Relaxed));
    }

    #[test]
    fn a_writer_without_a_descriptor_always_goes_through_the_thread() {
        let sink = Sink {
            out: Mutex::new(Box::new(Vec::new())),
            descriptor: None,
            healthy: AtomicBool::new(true),
        };
        assert_eq!(sink.write_now(b"one\n"), None);
    }

    #[test]
    fn outcome_follows_status() {
        assert_eq!(Outcome::of(StatusCode::OK), Outcome::Ok);
        assert_eq!(Outcome::of(StatusCode::FORBIDDEN), Outcome::Denied);
        assert_eq!(Outcome::of(StatusCode::UNAUTHORIZED), Outcome::Denied);
        assert_eq!(
            Outcome::of(StatusCode::UNPROCESSABLE_ENTITY),
            Outcome::Error
        );
    }
}
