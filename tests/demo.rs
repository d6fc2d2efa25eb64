//! README's first command, `scripts/demo`, end to end with `--no-wait`: OpenBao, the Kubernetes
//! API test server, `terraform apply` of examples/terraform/quickstart, the codec server beside
//! `temporal server start-dev`, and a Python worker's encrypted workflow. Its summary must show
//! the input Temporal stored as ciphertext and the codec server's decoding of it as plaintext,
//! and every server must be stopped and the temporary folder removed when it returns.

#[path = "support/mod.rs"]
mod support;

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A first run also builds the Kubernetes API test server; later runs take well under 90 s.
const BOUND: Duration = Duration::from_secs(15 * 60);

/// The text of `summary` from the line holding `from` up to the line holding `to`.
fn section<'a>(summary: &'a str, from: &str, to: &str) -> &'a str {
    let start = summary
        .find(from)
        .unwrap_or_else(|| panic!("the summary has no `{from}`:\n{summary}"));
    let end = summary[start..]
        .find(to)
        .map(|n| start + n)
        .unwrap_or_else(|| panic!("the summary has no `{to}` after `{from}`:\n{summary}"));
    &summary[start..end]
}

/// The rest of the first line that starts (after spaces) with `label`, trimmed.
fn rest_after<'a>(summary: &'a str, label: &str) -> &'a str {
    summary
        .lines()
        .map(str::trim_start)
        .find_map(|line| line.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("the summary has no `{label}` line:\n{summary}"))
}

/// The first word after `label` on the first line that starts with it.
fn value_after<'a>(summary: &'a str, label: &str) -> &'a str {
    rest_after(summary, label)
        .split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("nothing after `{label}`:\n{summary}"))
}

/// Runs `scripts/demo --no-wait` with `input` as the workflow's input; returns its exit success,
/// stdout and stderr. A run past [`BOUND`] is stopped with SIGTERM (the demo then stops its
/// servers) and fails the test.
fn run_demo(input: &str) -> (bool, String, String) {
    let mut command = Command::new(support::repo_root().join("scripts/demo"));
    // The demo runs `cargo build`; the variables Cargo sets for this test (OUT_DIR and
    // CARGO_MANIFEST_DIR, which build scripts such as ring's watch, among them) would make that
    // build differ from a person's and rebuild half the dependency tree, twice.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&name.as_ref())
        {
            command.env_remove(name.as_ref());
        }
    }
    let mut child = command
        .arg("--no-wait")
        .env("ENGRAM_DEMO_INPUT", input)
        .env_remove("ENGRAM_DEMO_NO_WAIT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start scripts/demo");
    let drain = |mut stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stream.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + BOUND;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for scripts/demo") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            std::thread::sleep(Duration::from_secs(20));
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    let Some(status) = status else {
        panic!("scripts/demo --no-wait ran longer than {BOUND:?}:\n{stdout}\n{stderr}");
    };
    (status.success(), stdout, stderr)
}

#[test]
fn the_demo_shows_ciphertext_in_temporal_and_plaintext_from_the_codec_server() {
    // The demo installs its tools itself; this test runs only with them installed.
    for tool in ["terraform", "bao", "temporal", "kubectl", "worker-python"] {
        support::tool(tool);
    }
    let secret = format!("Grace Hopper, account {}", std::process::id());
    let started = Instant::now();
    let (success, stdout, stderr) = run_demo(&secret);
    assert!(
        success,
        "scripts/demo --no-wait failed:\n{stdout}\n--- stderr\n{stderr}"
    );
    eprintln!("scripts/demo --no-wait took {:?}", started.elapsed());

    let stored = section(&stdout, "Stored by Temporal", "Decoded by the codec server");
    let decoded = section(&stdout, "Decoded by the codec server", "Web UI");
    assert_eq!(
        value_after(stored, "metadata encoding"),
        "binary/encrypted",
        "the stored input is not marked encrypted:\n{stored}"
    );
    assert!(
        value_after(stored, "metadata encryption-key-id").starts_with("dek-"),
        "the stored input names no data key:\n{stored}"
    );
    assert!(
        !stored.contains(&secret),
        "the plaintext appears in what Temporal stored:\n{stored}"
    );
    let plain_base64 = STANDARD.encode(format!("\"{secret}\""));
    assert!(
        !stored.contains(&plain_base64[..20]),
        "the stored data is the plaintext in base64:\n{stored}"
    );
    assert_eq!(
        value_after(decoded, "metadata encoding"),
        "json/plain",
        "the codec server's answer is not plain JSON:\n{decoded}"
    );
    assert!(
        rest_after(decoded, "data") == format!("\"{secret}\""),
        "the codec server's answer is not the plaintext:\n{decoded}"
    );
    assert!(
        stdout.contains(&format!("completed: Hello, {secret}!")),
        "the workflow's result is missing:\n{stdout}"
    );

    let web_ui = value_after(&stdout, "Web UI");
    assert!(
        web_ui.starts_with("http://127.0.0.1:")
            && web_ui.contains("/namespaces/default/workflows/"),
        "{web_ui}"
    );
    assert!(
        stdout.contains("the project's Kubernetes API test server, not a real cluster")
            && stderr.contains("is the project's Kubernetes API test server"),
        "the demo does not say its cluster is the test server:\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("terraform apply examples/terraform/quickstart")
            && stderr.contains("Apply complete!"),
        "no apply progress:\n{stderr}"
    );

    // Everything it started is stopped, and its temporary folder is gone.
    for label in ["Codec server", "OpenBao", "Temporal"] {
        let address = value_after(&stdout, label);
        let host_port = address.trim_start_matches("http://");
        assert!(
            TcpStream::connect(host_port).is_err(),
            "{label} at {host_port} still answers after the demo returned"
        );
    }
    let kubeconfig = value_after(&stdout, "kubectl --kubeconfig");
    let work = Path::new(kubeconfig).parent().unwrap();
    assert!(
        !work.exists(),
        "the demo left its folder {}",
        work.display()
    );
}
