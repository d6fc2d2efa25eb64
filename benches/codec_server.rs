//! `engram codec-server` under load, side by side in the same run with a Python codec server
//! built the way Temporal's Python sample builds one (`benches/peers/python_codec_server.py`).
//!
//! `cargo bench --bench codec_server` starts both servers on 127.0.0.1, has each one `/encode` a
//! 1 KiB and a 256 KiB payload, then drives `/decode` of its own ciphertext with `wrk` (one
//! payload per request, keep-alive connections) at 1, 64 and 256 concurrent connections, and
//! prints payloads/s and p50/p99 latency as a Markdown table for docs/benchmarks.md. It ends with
//! a 60 s run against the Rust server that reports its resident memory at the start and the end.
//!
//! Needs `.tools/bin/wrk` (`scripts/tools/chromium`) and `.tools/bin/codec-bench-python`
//! (`scripts/tools/codec-bench-python`); a missing tool fails the run with its install command.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use engram::codec::{KeyId, KeyringDocument};
use engram::kms::local::LocalKeyFile;
use serde_json::{Value, json};
use support::{ServerProcess, free_port, repo_root, tool, wait_for_port};

/// How long each measured `wrk` run lasts.
const RUN: Duration = Duration::from_secs(5);
/// How long the unmeasured warm-up before each payload size lasts.
const WARM_UP: Duration = Duration::from_secs(1);
/// How long the memory run lasts.
const MEMORY_RUN: Duration = Duration::from_secs(60);
/// Payload sizes (the plaintext `data` of one payload) and their labels.
const SIZES: [(usize, &str); 2] = [(1 << 10, "1 KiB"), (256 << 10, "256 KiB")];
/// Concurrent keep-alive connections.
const CONNECTIONS: [u32; 3] = [1, 64, 256];

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
}

/// What one `wrk` run measured.
struct Measured {
    payloads_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    failures: u64,
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

/// The 1, 5 and 15 minute load averages, from /proc.
fn load_average() -> String {
    let text = support::read(Path::new("/proc/loadavg"));
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Starts `engram codec-server` (the release build Cargo made for this bench) over a fresh
/// keyring wrapped by a local key file, without token checks, audit lines discarded.
fn rust_server(dir: &Path, runtime: &tokio::runtime::Runtime) -> Peer {
    let kek = dir.join("kek");
    let keyring = dir.join("keyring.json");
    let provider = LocalKeyFile::create(&kek).expect("create the key file");
    let document = runtime
        .block_on(KeyringDocument::create(
            KeyId::new("bench").unwrap(),
            &provider,
        ))
        .expect("create the keyring");
    std::fs::write(&keyring, document.to_json()).unwrap();
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_engram"));
    command
        .args(["codec-server", "--insecure-no-auth", "--kms", "local"])
        .arg("--local-key-file")
        .arg(&kek)
        .arg("--keyring")
        .arg(&keyring)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let process = ServerProcess::spawn("engram codec-server", command);
    wait_for_port(port, Duration::from_secs(20), "engram codec-server");
    Peer {
        name: "Rust",
        base: format!("http://127.0.0.1:{port}"),
        process,
    }
}

/// Starts the Python peer.
fn python_server() -> Peer {
    let script = repo_root().join("benches/peers/python_codec_server.py");
    let port = free_port();
    let mut command = Command::new(tool("codec-bench-python"));
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
    }
}

/// POSTs `body` to `url` and returns the JSON answer; panics unless it is 200. Retries for a
/// while, since a server listens before its keyring is ready.
async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = http.post(url).json(body).send().await;
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
    let mut command = Command::new(tool("wrk"));
    command
        .args(["--threads", &connections.min(2).to_string()])
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
    let status = support::read(Path::new(&format!("/proc/{pid}/status")));
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

fn main() {
    let started = Instant::now();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = support::temp_dir("engram-bench-codec-server");
    let script = dir.path().join("decode.lua");
    std::fs::write(&script, WRK_SCRIPT).unwrap();
    tool("wrk");
    let peers = [rust_server(dir.path(), &runtime), python_server()];
    println!(
        "{} CPUs, load average {} at start\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );

    println!(
        "| payload | connections | Rust payloads/s | Rust p50 | Rust p99 | Python payloads/s | Python p50 | Python p99 | Rust / Python |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (size, label) in SIZES {
        let bodies: Vec<PathBuf> = peers
            .iter()
            .map(|peer| decode_body(&runtime, dir.path(), peer, size))
            .collect();
        for (peer, body) in peers.iter().zip(&bodies) {
            run(&script, body, peer, 64, WARM_UP);
        }
        for connections in CONNECTIONS {
            let [rust, python] =
                [0, 1].map(|i| run(&script, &bodies[i], &peers[i], connections, RUN));
            println!(
                "| {label} | {connections} | {} | {:.2} ms | {:.2} ms | {} | {:.2} ms | {:.2} ms | {:.1}x |",
                rust.rate(),
                rust.p50_ms,
                rust.p99_ms,
                python.rate(),
                python.p50_ms,
                python.p99_ms,
                rust.payloads_per_second / python.payloads_per_second,
            );
        }
    }

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
        "\nmemory, Rust server, 1 KiB, 64 connections, {} s ({} payloads/s): RSS {:.1} MiB at start, {:.1} MiB at end, {:.1} MiB peak",
        MEMORY_RUN.as_secs(),
        memory.rate(),
        start_kib as f64 / 1024.0,
        end_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0,
    );
    println!(
        "whole run: {:.0} s, load average {} at the end",
        started.elapsed().as_secs_f64(),
        load_average()
    );
}
