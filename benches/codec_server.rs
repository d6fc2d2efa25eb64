//! `engram codec-server` under load, side by side in the same run with a Python codec server
//! built the way Temporal's Python sample builds one (`benches/peers/python_codec_server.py`).
//!
//! `cargo bench --bench codec_server` starts both servers on 127.0.0.1, each pinned to CPU
//! [`SERVER_CPU`] with `taskset`, has each one `/encode` a 1 KiB and a 256 KiB payload, then drives
//! `/decode` of its own ciphertext with `wrk` pinned to CPU [`LOAD_CPU`] (one payload per
//! request, keep-alive connections) at 1, 64 and 256 concurrent connections, and prints
//! payloads/s, plaintext MB/s and p50/p99 latency as a Markdown table for docs/benchmarks.md, with
//! the Rust server's own time per request (from its audit lines) and its peak resident set in
//! each row, the Rust / Python ratio and the goal of each row beside its figures.
//! `ENGRAM_BENCH_MEMORY_BUDGET_BYTES` sets the Rust server's `--memory-budget-bytes`. It goes on with a 60 s
//! run against the Rust server that reports its resident memory at the start and the end, and
//! ends with the soak: 60 s of hostile traffic beside the normal one (see [`soak`]).
//! `cargo bench --bench codec_server -- soak` runs the soak alone; `-- table` skips it;
//! `-- profile` samples the Rust server with `perf` while `wrk` decodes each size at 64
//! connections, and prints where its core's time goes (see [`profile`]).
//!
//! Needs `.tools/bin/wrk` (`scripts/tools/chromium`), `.tools/bin/codec-bench-python`
//! (`scripts/tools/codec-bench-python`) and `taskset` (util-linux); a missing tool fails the run
//! with its install command.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use engram::codec::KeyId;
use engram::kms::local::LocalKeyFile;
use serde_json::{Value, json};
use support::{ServerProcess, free_port, repo_root, tool, wait_for_port};

/// How long each measured `wrk` run lasts.
const RUN: Duration = Duration::from_secs(5);
/// How long the unmeasured warm-up before each payload size lasts.
const WARM_UP: Duration = Duration::from_secs(1);
/// How long the memory run lasts.
const MEMORY_RUN: Duration = Duration::from_secs(60);
/// How long the soak lasts: `ENGRAM_BENCH_SOAK_SECONDS`, 60 by default (longer runs show
/// whether the resident set levels off).
fn soak_run() -> Duration {
    let seconds = std::env::var("ENGRAM_BENCH_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(seconds)
}
/// The soak's `wrk` connections decoding 1 KiB payloads.
const SOAK_DECODERS: u32 = 256;
/// The soak's connections posting oversized encodes, one after another.
const SOAK_OVERSIZED: usize = 16;
/// The soak's connections that trickle a request head a byte a second and reconnect when closed:
/// with the decoders and encoders, more than the default `max-connections` (1024).
const SOAK_SLOW: usize = 1000;
/// Payload sizes (the plaintext `data` of one payload) and their labels.
const SIZES: [(usize, &str); 2] = [(1 << 10, "1 KiB"), (256 << 10, "256 KiB")];
/// Concurrent keep-alive connections.
const CONNECTIONS: [u32; 3] = [1, 64, 256];
/// The CPU both servers under test are pinned to, one after the other.
const SERVER_CPU: &str = "0";
/// The CPU `wrk` is pinned to.
const LOAD_CPU: &str = "1";
/// The memory goal: the Rust server's resident set stays under this many MiB.
const MEMORY_GOAL_MIB: f64 = 50.0;

/// The `wrk` script: POST the body file named by `BENCH_BODY`, then print one machine-readable
/// line: requests, microseconds, p50 and p99 latency in microseconds, non-2xx answers, socket
/// errors.
const WRK_SCRIPT: &str = r#"
local file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Namespace"] = "default"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"#;

/// One server under test.
struct Peer {
    name: &'static str,
    base: String,
    process: ServerProcess,
    /// What reads the server's audit lines, stopped with it.
    _reader: Option<ServerProcess>,
    /// Its audit lines, if it writes any.
    audit: Option<AuditLines>,
}

/// The audit lines a server writes, kept in a file only while a table row records them: a run of
/// a minute writes hundreds of megabytes of lines that nothing reads.
struct AuditLines {
    /// The file the reader appends the lines to.
    path: PathBuf,
    /// Whether a row is recording; while it is not, the file is emptied twice a second.
    recording: Arc<AtomicBool>,
    /// Tells the thread that empties the file to stop.
    stop: Arc<AtomicBool>,
}

impl AuditLines {
    /// Lines appended to `path` from now on, emptied while no row records them.
    fn keep(path: PathBuf) -> Self {
        let recording = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (file, flags) = (path.clone(), (recording.clone(), stop.clone()));
        std::thread::spawn(move || {
            while !flags.1.load(Ordering::Relaxed) {
                if !flags.0.load(Ordering::Relaxed) {
                    empty(&file);
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        Self {
            path,
            recording,
            stop,
        }
    }

    /// The server's own time per request while `measure` runs, from the `latency_ms` of the
    /// lines written meanwhile: p50 and p99 in milliseconds.
    fn server_time<T>(&self, measure: impl FnOnce() -> T) -> (T, f64, f64) {
        self.recording.store(true, Ordering::Relaxed);
        empty(&self.path);
        let measured = measure();
        // The lines are written before their answers; give the reader a moment to copy the last.
        std::thread::sleep(Duration::from_millis(300));
        let text = std::fs::read(&self.path).expect("read audit.log");
        self.recording.store(false, Ordering::Relaxed);
        let mut latencies: Vec<f64> = text
            .split(|&b| b == b'\n')
            .filter_map(|line| {
                let at = line.windows(13).position(|w| w == b"\"latency_ms\":")? + 13;
                let number = &line[at..];
                let end = number.iter().position(|&b| b == b',' || b == b'}')?;
                std::str::from_utf8(&number[..end]).ok()?.parse().ok()
            })
            .collect();
        latencies.sort_by(f64::total_cmp);
        let at = |q: f64| {
            latencies
                .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or(f64::NAN)
        };
        (measured, at(0.50), at(0.99))
    }
}

impl Drop for AuditLines {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Empties the audit log at `path`; the reader appends, so its next line lands at the start.
fn empty(path: &Path) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|file| file.set_len(0))
        .expect("empty audit.log");
}

/// Resets the peak resident set of process `pid` (`VmHWM`) to its current one (proc(5),
/// `/proc/<pid>/clear_refs`, value 5), so the next reading is the peak of what follows.
fn reset_peak_rss(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("write /proc/<pid>/clear_refs");
}

/// What one `wrk` run measured.
struct Measured {
    payloads_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    failures: u64,
    non_2xx: u64,
}

impl Measured {
    /// Payloads per second for the table, with the number of failed requests when there were
    /// any (timeouts, socket errors, non-2xx answers).
    fn rate(&self) -> String {
        match self.failures {
            0 => format!("{:.0}", self.payloads_per_second),
            n => format!("{:.0} ({n} failed)", self.payloads_per_second),
        }
    }
}

/// What the issue asks of one table row, if anything, and whether `rust` beside `python` meets
/// it; `size` is the payload's plaintext bytes.
fn goal(size: usize, connections: u32, rust: &Measured, python: &Measured) -> String {
    let ratio = rust.payloads_per_second / python.payloads_per_second;
    let plaintext_gb_per_s = rust.payloads_per_second * size as f64 / 1e9;
    let verdict = |met: bool| if met { "met" } else { "not met" };
    match (size, connections) {
        (_, 1) => format!(
            "p99 ≤ 3 × p50: {}",
            verdict(rust.p99_ms <= 3.0 * rust.p50_ms)
        ),
        (1024, 64) => format!(
            "≥ 20x: {}; p99 < 2 ms: {}",
            verdict(ratio >= 20.0),
            verdict(rust.p99_ms < 2.0)
        ),
        (262_144, 64) => format!(
            "≥ 10x: {}; ≥ 1 GB/s: {}",
            verdict(ratio >= 10.0),
            verdict(plaintext_gb_per_s >= 1.0)
        ),
        _ => "-".into(),
    }
}

/// `program` run by `taskset`, pinned to `cpu`.
fn pinned(cpu: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new("taskset");
    command.args(["--cpu-list", cpu]).arg(program);
    command
}

/// Fails with `install`, the command that installs it, when `program` is missing.
fn require_system_tool(program: &str, install: &str) {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(found, "{program} is missing: {install}");
}

/// The 1, 5 and 15 minute load averages, from /proc.
fn load_average() -> String {
    let text = support::read(Path::new("/proc/loadavg"));
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Starts `engram codec-server` (the release build Cargo made for this bench) over a fresh
/// keyring wrapped by a local key file, without token checks, with its default limits. Its audit
/// lines go to a pipe that `cat`, pinned to the load generator's CPU, copies to `audit.log` in
/// `dir` (the server refuses a stdout that is /dev/null), as a container runtime's log reader
/// would; the lines' `latency_ms` give the server's own time per request. The file holds only
/// the lines of the row being recorded ([`AuditLines`]).
fn rust_server(dir: &Path, runtime: &tokio::runtime::Runtime) -> Peer {
    let kek = dir.join("kek");
    let keyring = dir.join("keyring.json");
    let provider = LocalKeyFile::create(&kek).expect("create the key file");
    let document = runtime
        .block_on(engram::codec::lifecycle::create(
            KeyId::new("bench").unwrap(),
            &engram::codec::lifecycle::LifecyclePolicy::DEFAULT,
            &provider,
            engram::codec::clock::now_unix(),
            None,
        ))
        .expect("create the keyring")
        .document;
    std::fs::write(&keyring, document.to_json()).unwrap();
    let port = free_port();
    let (audit, audit_in) = std::io::pipe().expect("a pipe for the audit lines");
    let mut command = pinned(SERVER_CPU, env!("CARGO_BIN_EXE_engram"));
    command
        .args(["codec-server", "--insecure-no-auth", "--kms", "local"])
        .arg("--local-key-file")
        .arg(&kek)
        .arg("--keyring")
        .arg(&keyring)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(memory_budget())
        .stdout(audit_in)
        .stderr(Stdio::null());
    let process = ServerProcess::spawn("engram codec-server", command);
    let audit_log = dir.join("audit.log");
    let mut reader = pinned(LOAD_CPU, "cat");
    reader.stdin(audit).stdout(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&audit_log)
            .expect("create audit.log"),
    );
    let audit_reader = ServerProcess::spawn("cat of the audit lines", reader);
    wait_for_port(port, Duration::from_secs(20), "engram codec-server");
    Peer {
        name: "Rust",
        base: format!("http://127.0.0.1:{port}"),
        process,
        _reader: Some(audit_reader),
        audit: Some(AuditLines::keep(audit_log)),
    }
}

/// `--memory-budget-bytes` from `ENGRAM_BENCH_MEMORY_BUDGET_BYTES`, if set: the server's default
/// otherwise.
fn memory_budget() -> Vec<String> {
    std::env::var("ENGRAM_BENCH_MEMORY_BUDGET_BYTES")
        .map(|bytes| vec!["--memory-budget-bytes".to_string(), bytes])
        .unwrap_or_default()
}

/// Starts the Python peer.
fn python_server() -> Peer {
    let script = repo_root().join("benches/peers/python_codec_server.py");
    let port = free_port();
    let mut command = pinned(SERVER_CPU, tool("codec-bench-python"));
    command
        .arg(script)
        .args(["--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let process = ServerProcess::spawn("python codec server", command);
    wait_for_port(port, Duration::from_secs(30), "python codec server");
    Peer {
        name: "Python",
        base: format!("http://127.0.0.1:{port}"),
        process,
        _reader: None,
        audit: None,
    }
}

/// POSTs `body` to `url` and returns the JSON answer; panics unless it is 200. Retries for a
/// while, since a server listens before its keyring is ready.
async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = http
            .post(url)
            .header("x-namespace", "default")
            .json(body)
            .send()
            .await;
        match answer {
            Ok(answer) if answer.status().is_success() => return answer.json().await.unwrap(),
            other if Instant::now() > deadline => panic!("POST {url}: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Has `peer` encode one payload of `size` bytes and checks that it decodes back; returns the
/// `/decode` body (the peer's own ciphertext) as written to a file for `wrk`.
fn decode_body(runtime: &tokio::runtime::Runtime, dir: &Path, peer: &Peer, size: usize) -> PathBuf {
    let data: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    let plain = json!({"payloads": [{
        "metadata": {"encoding": STANDARD.encode("binary/plain")},
        "data": STANDARD.encode(&data),
    }]});
    let http = reqwest::Client::new();
    let encoded = runtime.block_on(post(&http, &format!("{}/encode", peer.base), &plain));
    let decoded = runtime.block_on(post(&http, &format!("{}/decode", peer.base), &encoded));
    assert_eq!(
        decoded["payloads"][0]["data"], plain["payloads"][0]["data"],
        "{} does not decode what it encoded",
        peer.name
    );
    let path = dir.join(format!("{}-{size}.json", peer.name));
    std::fs::write(&path, serde_json::to_vec(&encoded).unwrap()).unwrap();
    path
}

/// A `wrk` command that posts `body` to `peer`'s `/decode` for `duration`.
fn wrk(script: &Path, body: &Path, peer: &Peer, connections: u32, duration: Duration) -> Command {
    let mut command = pinned(LOAD_CPU, tool("wrk"));
    command
        .args(["--threads", "1"])
        .args(["--connections", &connections.to_string()])
        .args(["--duration", &format!("{}s", duration.as_secs())])
        .args(["--timeout", "10s", "--script"])
        .arg(script)
        .arg(format!("{}/decode", peer.base))
        .env("BENCH_BODY", body)
        .stdin(Stdio::null());
    command
}

/// Reads the `RESULT` line of a finished `wrk`.
fn measured(output: std::process::Output) -> Measured {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed: {stdout}");
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line from wrk: {stdout}"));
    let n: Vec<f64> = line
        .split_whitespace()
        .map(|v| v.parse().expect("wrk printed a number"))
        .collect();
    Measured {
        payloads_per_second: n[0] / (n[1] / 1e6),
        p50_ms: n[2] / 1e3,
        p99_ms: n[3] / 1e3,
        failures: (n[4] + n[5]) as u64,
        non_2xx: n[4] as u64,
    }
}

/// Runs `wrk` to its end and returns what it measured.
fn run(script: &Path, body: &Path, peer: &Peer, connections: u32, duration: Duration) -> Measured {
    let output = wrk(script, body, peer, connections, duration)
        .output()
        .expect("run wrk");
    measured(output)
}

/// The resident set size of process `pid` in KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

/// The peak resident set size of process `pid` since it started, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmHWM:")
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = support::read(Path::new(&format!("/proc/{pid}/status")));
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/<pid>/status"))
}

/// A connection that sends a request head one byte a second and never finishes it, opened
/// again each time the server closes it, until `stop`; counts the closes in `closed`.
async fn trickle(port: u16, stop: Arc<AtomicBool>, closed: Arc<AtomicU64>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let head = b"POST /decode HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
        let mut open = stream.write_all(head).await.is_ok();
        let mut buf = [0u8; 512];
        while open && !stop.load(Ordering::Relaxed) {
            tokio::select! {
                read = stream.read(&mut buf) => open = matches!(read, Ok(n) if n > 0),
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    open = stream.write_all(b"a").await.is_ok();
                }
            }
        }
        if !open {
            closed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Posts an `/encode` of 1.39 million empty payloads (4 MiB, under the body limit) on one
/// keep-alive connection after another until `stop`, counting the answers by status (0: no
/// answer).
async fn oversized(
    url: String,
    body: Bytes,
    stop: Arc<AtomicBool>,
    statuses: Arc<Mutex<BTreeMap<u16, u64>>>,
) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    while !stop.load(Ordering::Relaxed) {
        let status = http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-namespace", "default")
            .body(body.clone())
            .send()
            .await
            .map_or(0, |r| r.status().as_u16());
        *statuses.lock().unwrap().entry(status).or_default() += 1;
    }
}

/// A counter from the server's `/metrics`.
fn metric(runtime: &tokio::runtime::Runtime, base: &str, name: &str) -> u64 {
    let text = runtime
        .block_on(async { reqwest::get(format!("{base}/metrics")).await?.text().await })
        .expect("metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} in /metrics"))
}

/// The soak: for [`soak_run`], against a fresh Rust server with its default limits, at once:
/// `wrk` decoding 1 KiB payloads on [`SOAK_DECODERS`] keep-alive connections,
/// [`SOAK_OVERSIZED`] connections posting encodes of 1.39 million empty payloads (the
/// amplification body of issue 14; refused with 413 at the 1001st payload), and [`SOAK_SLOW`]
/// connections trickling request heads (closed by the header timeout, or evicted at
/// `max-connections`, then opened again). Prints the decoders' rate, latency and failures, the
/// oversized answers by status, the slow connections closed, evictions, and resident memory at
/// the start, the end and its peak (VmHWM).
fn soak(runtime: &tokio::runtime::Runtime, dir: &Path, script: &Path) {
    let rust = rust_server(dir, runtime);
    let body = decode_body(runtime, dir, &rust, SIZES[0].0);
    let pid = rust.process.id();
    let port: u16 = rust.base.rsplit(':').next().unwrap().parse().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let closed = Arc::new(AtomicU64::new(0));
    let statuses = Arc::new(Mutex::new(BTreeMap::new()));
    let flood = Bytes::from(format!(
        r#"{{"payloads":[{}{{}}]}}"#,
        "{},".repeat(1_390_000)
    ));
    let mut hostile = Vec::new();
    for _ in 0..SOAK_SLOW {
        hostile.push(runtime.spawn(trickle(port, stop.clone(), closed.clone())));
    }
    for _ in 0..SOAK_OVERSIZED {
        let url = format!("{}/encode", rust.base);
        hostile.push(runtime.spawn(oversized(
            url,
            flood.clone(),
            stop.clone(),
            statuses.clone(),
        )));
    }
    std::thread::sleep(Duration::from_secs(2));
    let start_kib = rss_kib(pid);
    let run = soak_run();
    let mut load = wrk(script, &body, &rust, SOAK_DECODERS, run)
        .stdout(Stdio::piped())
        .spawn()
        .expect("run wrk");
    let started = Instant::now();
    let mut samples = Vec::new();
    while load.try_wait().expect("wait for wrk").is_none() {
        if started.elapsed() >= Duration::from_secs(10) * (samples.len() as u32 + 1) {
            let reserved = metric(runtime, &rust.base, "engram_codec_memory_reserved_bytes");
            let open = metric(runtime, &rust.base, "engram_codec_connections_open");
            samples.push(format!(
                "{:.0} ({:.0} reserved, {open} open)",
                rss_kib(pid) as f64 / 1024.0,
                reserved as f64 / 1048576.0
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let end_kib = rss_kib(pid);
    let peak_kib = peak_rss_kib(pid);
    let decoders = measured(load.wait_with_output().expect("wrk output"));
    stop.store(true, Ordering::Relaxed);
    let evicted = metric(
        runtime,
        &rust.base,
        "engram_codec_connections_evicted_total",
    );
    let refused = metric(
        runtime,
        &rust.base,
        "engram_codec_connections_refused_total",
    );
    runtime.block_on(async {
        for task in hostile {
            task.abort();
        }
    });
    let answers: Vec<String> = statuses
        .lock()
        .unwrap()
        .iter()
        .map(|(status, n)| match status {
            0 => format!("{n} without an answer"),
            s => format!("{n} × {s}"),
        })
        .collect();
    println!(
        "\nsoak, Rust server with its default limits, {} s: {SOAK_DECODERS} wrk connections decoding 1 KiB, {SOAK_OVERSIZED} connections posting oversized encodes, {SOAK_SLOW} slow connections",
        run.as_secs()
    );
    println!(
        "- decodes: {} payloads/s, p50 {:.2} ms, p99 {:.2} ms, {} failed ({} non-2xx, {} socket errors)",
        decoders.payloads_per_second as u64,
        decoders.p50_ms,
        decoders.p99_ms,
        decoders.failures,
        decoders.non_2xx,
        decoders.failures - decoders.non_2xx
    );
    println!("- oversized encodes: {}", answers.join(", "));
    println!(
        "- slow connections closed by the server: {}; idle connections evicted at max-connections: {evicted}; new connections refused: {refused}",
        closed.load(Ordering::Relaxed)
    );
    println!(
        "- resident memory: {:.1} MiB at the start, every 10 s {} MiB, {:.1} MiB at the end, {:.1} MiB peak",
        start_kib as f64 / 1024.0,
        samples.join(", "),
        end_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0
    );
}

/// Where the server's time goes, by what the sampled function belongs to: the first group whose
/// marker a sample's symbol (or, for the kernel, its object) contains.
const PROFILE_GROUPS: [(&str, &[&str]); 9] = [
    (
        "kernel (TCP over loopback, syscalls, scheduling)",
        &["[kernel"],
    ),
    ("base64", &["base64", "vsimd"]),
    (
        "copies (memcpy, memmove, memset)",
        &["memcpy", "memmove", "memset"],
    ),
    ("AES-256-GCM and key derivation (aws-lc)", &["aws_lc"]),
    ("JSON (serde_json)", &["serde_json", "serde::", "from_utf8"]),
    ("allocator", &["mi_", "malloc", "free", "realloc", "_rjem"]),
    (
        "HTTP (hyper, axum, tower)",
        &["hyper", "axum", "tower", "http::", "httparse"],
    ),
    ("runtime (tokio)", &["tokio", "mio", "epoll"]),
    (
        "audit line, metrics",
        &["audit", "metrics", "time::", "fmt"],
    ),
];

/// The context switches of every thread of process `pid` so far, voluntary or not, from /proc.
fn context_switches(pid: u32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc/<pid>/task");
    tasks
        .filter_map(Result::ok)
        .map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// Samples the Rust server's core with `perf record` (cpu-clock, 1999 Hz) for [`RUN`] while
/// `wrk` decodes each payload size on 64 connections, and prints the share of samples per group
/// of [`PROFILE_GROUPS`] and the heaviest functions: a flat profile, the text form of a flame
/// graph's widest frames. Needs `perf` (Debian's linux-perf).
fn profile(runtime: &tokio::runtime::Runtime, dir: &Path, script: &Path) {
    require_system_tool("perf", "apt-get install linux-perf");
    let rust = rust_server(dir, runtime);
    for (size, label) in SIZES {
        let body = decode_body(runtime, dir, &rust, size);
        run(script, &body, &rust, 64, WARM_UP);
        let data = dir.join(format!("perf-{size}.data"));
        let mut perf = Command::new("perf")
            .args(["record", "-e", "cpu-clock", "-F", "1999", "-q", "-o"])
            .arg(&data)
            .args(["-p", &rust.process.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run perf record");
        let switches_before = context_switches(rust.process.id());
        let load = run(script, &body, &rust, 64, RUN);
        let switches = context_switches(rust.process.id()) - switches_before;
        // perf writes its file when it is interrupted.
        let _ = Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status();
        perf.wait().expect("wait for perf record");
        let report = Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--no-children",
                "-q",
                "--sort",
                "dso,sym",
                "-i",
            ])
            .arg(&data)
            .output()
            .expect("run perf report");
        let text = String::from_utf8_lossy(&report.stdout);
        let samples: Vec<(f64, String)> = text
            .lines()
            .filter_map(|line| {
                let (share, rest) = line.trim().split_once('%')?;
                Some((share.trim().parse().ok()?, rest.trim().to_string()))
            })
            .collect();
        let mut groups = vec![0.0; PROFILE_GROUPS.len() + 1];
        for (share, name) in &samples {
            let group = PROFILE_GROUPS
                .iter()
                .position(|(_, markers)| markers.iter().any(|m| name.contains(m)))
                .unwrap_or(PROFILE_GROUPS.len());
            groups[group] += share;
        }
        println!(
            "\nprofile, Rust server, {label}, 64 connections: {} payloads/s while sampled, {:.2} context switches per request\n\n| where | share of the core |\n|---|---:|",
            load.rate(),
            switches as f64 / (load.payloads_per_second * RUN.as_secs_f64())
        );
        for (i, share) in groups.iter().enumerate() {
            let name = PROFILE_GROUPS.get(i).map_or("other", |(name, _)| name);
            println!("| {name} | {share:.1} % |");
        }
        println!("\nheaviest functions:");
        for (share, name) in samples.iter().take(15) {
            println!("- {share:.1} % {name}");
        }
    }
}

fn main() {
    let started = Instant::now();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = support::temp_dir("engram-bench-codec-server");
    let script = dir.path().join("decode.lua");
    std::fs::write(&script, WRK_SCRIPT).unwrap();
    tool("wrk");
    require_system_tool("taskset", "apt-get install util-linux");
    if std::env::args().any(|a| a == "profile") {
        profile(&runtime, dir.path(), &script);
        return;
    }
    if std::env::args().any(|a| a == "soak") {
        println!(
            "{} CPUs, load average {} at start",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            load_average()
        );
        soak(&runtime, dir.path(), &script);
        println!("load average {} at the end", load_average());
        return;
    }
    let peers = [rust_server(dir.path(), &runtime), python_server()];
    println!(
        "{} CPUs, load average {} at start\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );

    println!(
        "servers on CPU {SERVER_CPU}, wrk on CPU {LOAD_CPU}\n\n| payload | connections | Rust payloads/s | Rust plaintext MB/s | Rust p50 | Rust p99 | Rust server time p50 / p99 | Rust peak RSS | Python payloads/s | Python p50 | Python p99 | Rust / Python | goal |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for (size, label) in SIZES {
        let bodies: Vec<PathBuf> = peers
            .iter()
            .map(|peer| decode_body(&runtime, dir.path(), peer, size))
            .collect();
        for (peer, body) in peers.iter().zip(&bodies) {
            run(&script, body, peer, 64, WARM_UP);
        }
        for connections in CONNECTIONS {
            let rust_pid = peers[0].process.id();
            reset_peak_rss(rust_pid);
            let audit = peers[0]
                .audit
                .as_ref()
                .expect("the Rust server's audit lines");
            let (rust, server_p50, server_p99) =
                audit.server_time(|| run(&script, &bodies[0], &peers[0], connections, RUN));
            let rust_peak_mib = peak_rss_kib(rust_pid) as f64 / 1024.0;
            let python = run(&script, &bodies[1], &peers[1], connections, RUN);
            println!(
                "| {label} | {connections} | {} | {:.0} | {:.2} ms | {:.2} ms | {server_p50:.3} / {server_p99:.3} ms | {rust_peak_mib:.1} MiB | {} | {:.2} ms | {:.2} ms | {:.1}x | {} |",
                rust.rate(),
                rust.payloads_per_second * size as f64 / 1e6,
                rust.p50_ms,
                rust.p99_ms,
                python.rate(),
                python.p50_ms,
                python.p99_ms,
                rust.payloads_per_second / python.payloads_per_second,
                goal(size, connections, &rust, &python),
            );
        }
    }
    println!(
        "\nload average {} after the table; Rust server's peak resident set through it {:.1} MiB",
        load_average(),
        peak_rss_kib(peers[0].process.id()) as f64 / 1024.0
    );

    let rust = &peers[0];
    let body = decode_body(&runtime, dir.path(), rust, SIZES[0].0);
    let pid = rust.process.id();
    let start_kib = rss_kib(pid);
    let mut load = wrk(&script, &body, rust, 64, MEMORY_RUN)
        .stdout(Stdio::piped())
        .spawn()
        .expect("run wrk");
    let mut peak_kib = start_kib;
    while load.try_wait().expect("wait for wrk").is_none() {
        peak_kib = peak_kib.max(rss_kib(pid));
        std::thread::sleep(Duration::from_millis(500));
    }
    let end_kib = rss_kib(pid);
    let memory = measured(load.wait_with_output().expect("wrk output"));
    println!(
        "\nmemory, Rust server, 1 KiB, 64 connections, {} s ({} payloads/s): RSS {:.1} MiB at start, {:.1} MiB at end, {:.1} MiB peak, {:.1} MiB peak since it started (VmHWM); under {MEMORY_GOAL_MIB} MiB: {}",
        MEMORY_RUN.as_secs(),
        memory.rate(),
        start_kib as f64 / 1024.0,
        end_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0,
        peak_rss_kib(pid) as f64 / 1024.0,
        if (peak_rss_kib(pid) as f64 / 1024.0) < MEMORY_GOAL_MIB {
            "met"
        } else {
            "not met"
        },
    );
    drop(peers);
    if std::env::args().any(|a| a == "table") {
        println!("load average {} at the end", load_average());
        return;
    }
    soak(&runtime, dir.path(), &script);
    println!(
        "whole run: {:.0} s, load average {} at the end",
        started.elapsed().as_secs_f64(),
        load_average()
    );
}
