//! Prometheus metrics for `/metrics`, in the text exposition format. Counters are atomics, so
//! recording costs no lock on the request path; the few per-status error counters sit behind a
//! mutex because they are rare.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::StatusCode;

use crate::codec::server::audit::{Operation, Outcome};

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
const OPERATIONS: [Operation; 2] = [Operation::Encode, Operation::Decode];
const OUTCOMES: [Outcome; 3] = [Outcome::Ok, Outcome::Denied, Outcome::Error];

#[derive(Default)]
struct PerOperation {
    requests: [AtomicU64; 3],
    payloads: AtomicU64,
    request_bytes: AtomicU64,
    response_bytes: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

/// The server's counters and histograms.
#[derive(Default)]
pub struct Metrics {
    encode: PerOperation,
    decode: PerOperation,
    errors: Mutex<BTreeMap<(&'static str, u16), u64>>,
    keyring_reloads_ok: AtomicU64,
    keyring_reloads_failed: AtomicU64,
    audit_failures: AtomicU64,
    jwks_fetches_ok: AtomicU64,
    jwks_fetches_failed: AtomicU64,
    connections_open: AtomicU64,
    connections_evicted: AtomicU64,
    connections_refused: AtomicU64,
    memory_reserved_bytes: AtomicU64,
}

impl Metrics {
    fn of(&self, operation: Operation) -> &PerOperation {
        match operation {
            Operation::Encode => &self.encode,
            Operation::Decode => &self.decode,
        }
    }

    /// Counts one finished codec request.
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &self,
        operation: Operation,
        outcome: Outcome,
        status: StatusCode,
        payloads: usize,
        request_bytes: usize,
        response_bytes: usize,
        latency: Duration,
    ) {
        let m = self.of(operation);
        let outcome_index = OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(2);
        m.requests[outcome_index].fetch_add(1, Ordering::Relaxed);
        m.payloads.fetch_add(payloads as u64, Ordering::Relaxed);
        m.request_bytes
            .fetch_add(request_bytes as u64, Ordering::Relaxed);
        m.response_bytes
            .fetch_add(response_bytes as u64, Ordering::Relaxed);
        let seconds = latency.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|le| seconds <= *le) {
            m.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
        m.latency_count.fetch_add(1, Ordering::Relaxed);
        m.latency_sum_micros.fetch_add(
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if !status.is_success() {
            let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
            *errors
                .entry((operation.as_str(), status.as_u16()))
                .or_default() += 1;
        }
    }

    /// Counts one keyring reload attempt.
    pub fn keyring_reloaded(&self, ok: bool) {
        let counter = if ok {
            &self.keyring_reloads_ok
        } else {
            &self.keyring_reloads_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one request whose audit line could not be written in time (its 2xx answer, if
    /// any, was withheld).
    pub fn audit_failed(&self) {
        self.audit_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one fetch of the issuer's key set.
    pub fn jwks_fetched(&self, ok: bool) {
        let counter = if ok {
            &self.jwks_fetches_ok
        } else {
            &self.jwks_fetches_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was accepted (`true`) or closed (`false`).
    pub fn connection(&self, opened: bool) {
        if opened {
            self.connections_open.fetch_add(1, Ordering::Relaxed);
        } else {
            self.connections_open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// An idle connection was closed to make room for a new one.
    pub fn connection_evicted(&self) {
        self.connections_evicted.fetch_add(1, Ordering::Relaxed);
    }

    /// A new connection was closed at once: every connection was busy.
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// `bytes` of the memory budget were reserved (`true`) or returned (`false`).
    pub fn memory_reserved(&self, bytes: usize, reserved: bool) {
        let bytes = bytes as u64;
        if reserved {
            self.memory_reserved_bytes
                .fetch_add(bytes, Ordering::Relaxed);
        } else {
            self.memory_reserved_bytes
                .fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    /// The text exposition of every metric. `ready` is the readiness gauge's value.
    pub fn render(&self, ready: bool) -> String {
        let mut out = String::with_capacity(4096);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        header(
            &mut out,
            "engram_codec_requests_total",
            "counter",
            "Codec requests by operation and outcome (ok, denied, error).",
        );
        for op in OPERATIONS {
            for (i, outcome) in OUTCOMES.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "engram_codec_requests_total{{operation=\"{}\",outcome=\"{}\"}} {}",
                    op.as_str(),
                    outcome.as_str(),
                    load(&self.of(op).requests[i])
                );
            }
        }
        header(
            &mut out,
            "engram_codec_errors_total",
            "counter",
            "Codec requests answered with an error status, by operation and status.",
        );
        for ((op, status), count) in self.errors.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "engram_codec_errors_total{{operation=\"{op}\",status=\"{status}\"}} {count}"
            );
        }
        for (name, help, pick) in [
            (
                "engram_codec_payloads_total",
                "Payloads received, by operation.",
                (|m: &PerOperation| &m.payloads) as fn(&PerOperation) -> &AtomicU64,
            ),
            (
                "engram_codec_request_bytes_total",
                "Request body bytes, by operation.",
                |m: &PerOperation| &m.request_bytes,
            ),
            (
                "engram_codec_response_bytes_total",
                "Response body bytes, by operation.",
                |m: &PerOperation| &m.response_bytes,
            ),
        ] {
            header(&mut out, name, "counter", help);
            for op in OPERATIONS {
                let _ = writeln!(
                    out,
                    "{name}{{operation=\"{}\"}} {}",
                    op.as_str(),
                    load(pick(self.of(op)))
                );
            }
        }
        let name = "engram_codec_request_duration_seconds";
        header(
            &mut out,
            name,
            "histogram",
            "Codec request latency, by operation.",
        );
        for op in OPERATIONS {
            let m = self.of(op);
            let mut cumulative = 0;
            for (i, le) in BUCKETS.iter().enumerate() {
                cumulative += load(&m.buckets[i]);
                let _ = writeln!(
                    out,
                    "{name}_bucket{{operation=\"{}\",le=\"{le}\"}} {cumulative}",
                    op.as_str()
                );
            }
            let count = load(&m.latency_count);
            let _ = writeln!(
                out,
                "{name}_bucket{{operation=\"{}\",le=\"+Inf\"}} {count}",
                op.as_str()
            );
            let _ = writeln!(
                out,
                "{name}_sum{{operation=\"{}\"}} {}",
                op.as_str(),
                load(&m.latency_sum_micros) as f64 / 1e6
            );
            let _ = writeln!(out, "{name}_count{{operation=\"{}\"}} {count}", op.as_str());
        }
        header(
            &mut out,
            "engram_codec_keyring_reloads_total",
            "counter",
            "Keyring reloads after a file change, by result.",
        );
        let _ = writeln!(
            out,
            "engram_codec_keyring_reloads_total{{result=\"ok\"}} {}",
            load(&self.keyring_reloads_ok)
        );
        let _ = writeln!(
            out,
            "engram_codec_keyring_reloads_total{{result=\"failed\"}} {}",
            load(&self.keyring_reloads_failed)
        );
        for (name, kind, help, value) in [
            (
                "engram_codec_audit_failures_total",
                "counter",
                "Requests whose audit line could not be written in time; their 2xx answers were withheld.",
                &self.audit_failures,
            ),
            (
                "engram_codec_connections_open",
                "gauge",
                "Client connections open now.",
                &self.connections_open,
            ),
            (
                "engram_codec_connections_evicted_total",
                "counter",
                "Idle connections closed to make room for new ones at max-connections.",
                &self.connections_evicted,
            ),
            (
                "engram_codec_connections_refused_total",
                "counter",
                "New connections closed at once because every connection was busy.",
                &self.connections_refused,
            ),
            (
                "engram_codec_memory_reserved_bytes",
                "gauge",
                "Memory budget reserved by requests in flight.",
                &self.memory_reserved_bytes,
            ),
        ] {
            header(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {}", load(value));
        }
        header(
            &mut out,
            "engram_codec_jwks_fetches_total",
            "counter",
            "Fetches of the issuer's key set, by result.",
        );
        let _ = writeln!(
            out,
            "engram_codec_jwks_fetches_total{{result=\"ok\"}} {}",
            load(&self.jwks_fetches_ok)
        );
        let _ = writeln!(
            out,
            "engram_codec_jwks_fetches_total{{result=\"failed\"}} {}",
            load(&self.jwks_fetches_failed)
        );
        header(
            &mut out,
            "engram_codec_ready",
            "gauge",
            "1 when every keyring is unwrapped, its document loads, and audit lines are written.",
        );
        let _ = writeln!(out, "engram_codec_ready {}", u8::from(ready));
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_requests_appear_in_the_exposition() {
        let metrics = Metrics::default();
        metrics.observe(
            Operation::Decode,
            Outcome::Ok,
            StatusCode::OK,
            3,
            100,
            80,
            Duration::from_micros(700),
        );
        metrics.observe(
            Operation::Decode,
            Outcome::Denied,
            StatusCode::FORBIDDEN,
            0,
            10,
            5,
            Duration::from_millis(2),
        );
        let text = metrics.render(true);
        assert!(
            text.contains("engram_codec_requests_total{operation=\"decode\",outcome=\"ok\"} 1")
        );
        assert!(text.contains("engram_codec_errors_total{operation=\"decode\",status=\"403\"} 1"));
        assert!(text.contains("engram_codec_payloads_total{operation=\"decode\"} 3"));
        assert!(text.contains(
            "engram_codec_request_duration_seconds_bucket{operation=\"decode\",le=\"0.001\"} 1"
        ));
        assert!(text.contains(
            "engram_codec_request_duration_seconds_bucket{operation=\"decode\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("engram_codec_ready 1"));
    }
}
