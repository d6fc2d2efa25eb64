//! `engram codec-server` as a process under hostile traffic, measured from outside: its peak
//! resident memory under a flood of amplifying and maximum-size requests stays within its memory
//! budget, and with only 128 file descriptors, hundreds of connections that trickle their
//! headers neither exhaust them nor lock out clients that send a request at once.

mod codec_server_common;
#[path = "support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codec_server_common::{Child, KeyringFiles, body, peak_rss_kib, plain};
use engram::codec::Payload;
use support::{free_port, wait_for_http_ok};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `engram codec-server` over `files` on `port` in insecure mode, with `extra` flags, started by
/// `sh` so that `ulimit -n` can be set first; stdout and stderr go to files in `files.dir`.
fn codec_server(files: &KeyringFiles, port: u16, open_files: u32, extra: &[&str]) -> Child {
    let stdout = std::fs::File::create(files.dir.path().join("audit.jsonl")).unwrap();
    let stderr = std::fs::File::create(files.dir.path().join("stderr.log")).unwrap();
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {open_files} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_engram"))
        .args(["codec-server", "--insecure-no-auth", "--kms", "local"])
        .arg("--local-key-file")
        .arg(&files.kek)
        .arg("--keyring")
        .arg(&files.keyring)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("start engram codec-server");
    let child = Child(child);
    wait_for_http_ok(
        port,
        "/readyz",
        Duration::from_secs(30),
        "engram codec-server",
    );
    child
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn post(client: &reqwest::Client, url: &str, body: String) -> reqwest::StatusCode {
    client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the server answers")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_within_the_budget_under_a_flood_of_amplifying_and_maximum_requests() {
    const BUDGET_MIB: u64 = 64;
    let files = KeyringFiles::create("default").await;
    let port = free_port();
    let budget = (BUDGET_MIB << 20).to_string();
    let server = codec_server(&files, port, 4096, &["--memory-budget-bytes", &budget]);
    let base = format!("http://127.0.0.1:{port}");
    let http = client();
    let empty_flood = format!(r#"{{"payloads":[{}{{}}]}}"#, "{},".repeat(1_390_000));
    let largest = body(&[Payload::new("binary/plain", vec![b'z'; 5 << 19])]);
    let answer = http
        .post(format!("{base}/default/encode"))
        .header("content-type", "application/json")
        .body(largest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let sealed = answer.text().await.unwrap();
    let before_kib = peak_rss_kib(server.id());

    let mut flood = Vec::new();
    for task in 0..24 {
        let (http, base) = (http.clone(), base.clone());
        let bodies = [
            ("/default/encode", empty_flood.clone()),
            ("/default/encode", largest.clone()),
            ("/default/decode", sealed.clone()),
        ];
        flood.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for round in 0..3 {
                let (path, body) = &bodies[(task + round) % bodies.len()];
                statuses.push((
                    *path,
                    post(&http, &format!("{base}{path}"), body.clone()).await,
                ));
            }
            statuses
        }));
    }
    let mut served = 0;
    for task in flood {
        for (path, status) in task.await.unwrap() {
            match status.as_u16() {
                200 => served += 1,
                413 | 503 => {}
                other => panic!("{path}: {other}"),
            }
        }
    }
    assert!(
        served > 0,
        "maximum-size requests are served under the flood"
    );
    let peak_kib = peak_rss_kib(server.id());
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("engram_codec_memory_reserved_bytes 0"),
        "{metrics}"
    );
    // The budget, what the process held before the flood, and room for the allocator's own
    // bookkeeping; without the bounds one such request alone took more than 1 GiB.
    let bound_kib = before_kib + (BUDGET_MIB << 10) + (64 << 10);
    eprintln!(
        "peak resident set {peak_kib} KiB (before the flood {before_kib} KiB, bound {bound_kib} KiB), {served} of 72 requests served"
    );
    assert!(
        peak_kib < bound_kib,
        "peak resident set {peak_kib} KiB, bound {bound_kib} KiB (before the flood {before_kib} KiB)"
    );
}

/// A connection that sends a request head one byte at a time and never finishes it; returns
/// once the server has closed it.
async fn trickle(port: u16) {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return;
    };
    let head = b"POST /decode HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ";
    if stream.write_all(head).await.is_err() {
        return;
    }
    let mut buf = [0u8; 256];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            () = tokio::time::sleep(Duration::from_millis(300)) => {
                if stream.write_all(b"a").await.is_err() {
                    return;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_connections_cannot_exhaust_file_descriptors_or_lock_out_clients() {
    let files = KeyringFiles::create("default").await;
    let worker = files.codec(&files.document).await;
    let sealed = body(&worker.encode(vec![plain("hello")]).unwrap());
    let port = free_port();
    let server = codec_server(&files, port, 128, &["--header-timeout-seconds", "2"]);
    let slow: Vec<_> = (0..300).map(|_| tokio::spawn(trickle(port))).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let url = format!("http://127.0.0.1:{port}/default/decode");
    for _ in 0..20 {
        // A new connection each time, as a fresh client would open.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let response = http
            .post(&url)
            .header("content-type", "application/json")
            .body(sealed.clone())
            .send()
            .await
            .expect("answered while slow connections are open");
        assert_eq!(response.status(), 200);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for connection in slow {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout(left, connection)
            .await
            .expect("every slow connection is closed by the server")
            .unwrap();
    }
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let evicted: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("engram_codec_connections_evicted_total "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(evicted > 0, "{metrics}");
    let logs = std::fs::read_to_string(files.dir.path().join("stderr.log")).unwrap();
    assert!(
        !logs.contains("Too many open files"),
        "descriptors ran out: {logs}"
    );
    assert!(
        logs.contains("max_connections=64"),
        "the limit follows the open-file limit (128 less 64): {logs}"
    );
    drop(server);
}

#[test]
fn a_connection_limit_the_open_file_limit_cannot_hold_is_refused() {
    let output = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 128 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_engram"))
        .args([
            "codec-server",
            "--insecure-no-auth",
            "--kms",
            "local",
            "--local-key-file",
            "kek",
            "--keyring",
            "k.json",
            "--max-connections",
            "1000",
        ])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--max-connections") && stderr.contains("at most 64"),
        "{stderr}"
    );
}
