//! Runs the Python worker codec's own tests (examples/workers/python: the format's test vectors,
//! Vault Transit and AWS KMS unwrapping against OpenBao and moto) with its pinned interpreter.

#[path = "support/mod.rs"]
mod support;

use std::process::Command;

#[test]
fn python_codec_tests_pass() {
    let output = Command::new(support::tool("worker-python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .current_dir(support::repo_root().join("examples/workers/python"))
        .output()
        .expect("run pytest");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "pytest failed:\n{text}");
    assert!(text.contains(" passed"), "{text}");
}
