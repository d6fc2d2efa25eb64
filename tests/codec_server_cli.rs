//! `engram codec-server` as an operator runs it: settings from a file and flags, the loud
//! insecure-mode warning, audit lines on stdout, refusal to take tokens without TLS, and a clean
//! exit on SIGTERM.

mod codec_server_common;
#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use codec_server_common::{Child, KeyringFiles, body, plain};
use support::{free_port, wait_for_port};

fn engram() -> Command {
    Command::new(env!("CARGO_BIN_EXE_engram"))
}

#[test]
fn refuses_to_take_tokens_without_tls() {
    let output = engram()
        .args([
            "codec-server",
            "--keyring",
            "k.json",
            "--kms",
            "local",
            "--local-key-file",
            "kek",
        ])
        .args([
            "--jwks-url",
            "https://idp.example/jwks",
            "--jwt-issuer",
            "https://idp.example",
            "--jwt-audience",
            "codec",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TLS is not configured"), "{stderr}");
    let neither = engram()
        .args([
            "codec-server",
            "--keyring",
            "k.json",
            "--kms",
            "local",
            "--local-key-file",
            "kek",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&neither.stderr).contains("--insecure-no-auth"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_from_a_config_file_audits_on_stdout_and_stops_on_sigterm() {
    let files = KeyringFiles::create("default").await;
    let port = free_port();
    let config = files.dir.path().join("codec.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\nkeyring: {}\nkms: local\nlocal-key-file: {}\ninsecure-no-auth: true\nmax-body-bytes: 100000\n",
            files.keyring.display(),
            files.kek.display()
        ),
    )
    .unwrap();
    let mut command = engram();
    command
        .args(["codec-server", "--config"])
        .arg(&config)
        .args(["--max-body-bytes", "2048"])
        .env("ENGRAM_CODEC_CORS_ORIGINS", "http://127.0.0.1:8233")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut server = command.spawn().unwrap();
    let stdout = server.stdout.take().unwrap();
    let stderr = server.stderr.take().unwrap();
    let mut server = Child(server);
    wait_for_port(port, Duration::from_secs(20), "engram codec-server");

    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let ok = client
        .post(format!("{base}/encode"))
        .header("content-type", "application/json")
        .header("X-Namespace", "default")
        .body(body(&[plain("hello")]))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let too_big = client
        .post(format!("{base}/encode"))
        .header("content-type", "application/json")
        .body(body(&[plain(&"x".repeat(4000))]))
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413, "the flag wins over the file");
    let preflight = client
        .request(reqwest::Method::OPTIONS, format!("{base}/decode"))
        .header("Origin", "http://127.0.0.1:8233")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://127.0.0.1:8233",
        "from the environment"
    );

    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server
        .wait_timeout(Duration::from_secs(20))
        .expect("exits after SIGTERM");
    assert!(exit.success(), "{exit}");

    let lines: Vec<serde_json::Value> = BufReader::new(stdout)
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).expect("stdout holds only audit lines"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["outcome"], "ok");
    assert_eq!(lines[0]["insecure_no_auth"], true);
    assert_eq!(lines[1]["status"], 413);
    let logs: String = BufReader::new(stderr)
        .lines()
        .map(|l| l.unwrap() + "\n")
        .collect();
    assert!(
        logs.contains("INSECURE: --insecure-no-auth is set"),
        "{logs}"
    );
    assert!(logs.contains("shutting down"), "{logs}");
}

/// The flags of an insecure-mode server over `files` on `port`.
fn insecure_server(files: &KeyringFiles, port: u16) -> Command {
    let mut command = engram();
    command
        .args(["codec-server", "--insecure-no-auth", "--kms", "local"])
        .arg("--local-key-file")
        .arg(&files.kek)
        .arg("--keyring")
        .arg(&files.keyring)
        .args(["--listen", &format!("127.0.0.1:{port}")]);
    command
}

/// Runs `command` with stderr to a file; returns its exit code and stderr, or panics if it is
/// still running after 20 s (a server that started instead of refusing).
fn exits(mut command: Command, dir: &std::path::Path) -> (Option<i32>, String) {
    let log = dir.join("refusal.log");
    command.stderr(std::fs::File::create(&log).unwrap());
    let mut child = Child(command.spawn().unwrap());
    let status = child
        .wait_timeout(Duration::from_secs(20))
        .expect("refuses to start instead of serving");
    (status.code(), std::fs::read_to_string(&log).unwrap())
}

#[tokio::test]
async fn refuses_a_stdout_that_would_lose_the_audit_lines() {
    let files = KeyringFiles::create("default").await;
    let mut null = insecure_server(&files, free_port());
    null.stdout(Stdio::null());
    let (code, stderr) = exits(null, files.dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("stdout is /dev/null"), "{stderr}");
    let program = insecure_server(&files, free_port());
    let mut closed = Command::new("sh");
    closed
        .arg("-c")
        .arg("exec \"$0\" \"$@\" >&-")
        .arg(program.get_program())
        .args(program.get_args());
    let (code, stderr) = exits(closed, files.dir.path());
    assert_eq!(code, Some(2), "a closed stdout: {stderr}");
    assert!(stderr.contains("(or was closed)"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stdout_nobody_reads_withholds_answers_without_hanging_and_recovers_when_read() {
    let files = KeyringFiles::create("default").await;
    let worker = files.codec(&files.document).await;
    let sealed = body(&worker.encode(vec![plain("hello")]).unwrap());
    let port = free_port();
    let mut server = insecure_server(&files, port)
        .args(["--audit-timeout-seconds", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = server.stdout.take().unwrap();
    let _server = Child(server);
    wait_for_port(port, Duration::from_secs(20), "engram codec-server");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let decode = || {
        client
            .post(format!("{base}/default/decode"))
            .header("content-type", "application/json")
            .body(sealed.clone())
            .send()
    };
    // The pipe holds 64 KiB; once it is full, lines cannot be written.
    let mut served = 0;
    loop {
        let status = decode().await.expect("answered, not hung").status();
        if status == 503 {
            break;
        }
        assert_eq!(status, 200);
        served += 1;
        assert!(served < 5000, "the pipe never filled");
    }
    assert!(served > 10);
    assert_eq!(
        decode().await.unwrap().status(),
        503,
        "withheld at once now"
    );
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the server is not hung");
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(&l.unwrap()).unwrap())
            .collect::<Vec<_>>()
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(std::time::Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(decode().await.unwrap().status(), 200);
    drop(_server);
    let lines = reader.join().unwrap();
    assert!(lines.len() > served, "{} lines", lines.len());
    assert_eq!(lines.last().unwrap()["status"], 200);
}

#[test]
fn a_plain_http_jwks_url_needs_the_explicit_insecure_flag() {
    let base = [
        "codec-server",
        "--keyring",
        "k.json",
        "--kms",
        "local",
        "--local-key-file",
        "kek",
        "--jwks-url",
        "http://idp.example/jwks",
        "--jwt-issuer",
        "https://idp.example",
        "--jwt-audience",
        "codec",
    ];
    let refused = engram().args(base).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--jwks-url") && stderr.contains("https://"),
        "{stderr}"
    );
    let allowed = engram()
        .args(base)
        .arg("--insecure-jwks-http")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&allowed.stderr);
    assert!(
        stderr.contains("TLS is not configured"),
        "past the JWKS check: {stderr}"
    );
}
