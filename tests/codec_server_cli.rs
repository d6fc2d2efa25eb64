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
        .header("X-Namespace", "default")
        .body(body(&[plain("hello")]))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let too_big = client
        .post(format!("{base}/encode"))
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
