//! The `engram` command as a shell user meets it: output closed early, bad flags.

use std::process::{Command, Stdio};

#[test]
fn a_closed_output_ends_the_command_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_engram"))
        .args([
            "shard-calc",
            "--peak-workflows-per-second",
            "100",
            "--output",
            "json",
        ])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn a_bad_flag_is_one_message_with_the_usage_and_no_panic() {
    let output = Command::new(env!("CARGO_BIN_EXE_engram"))
        .args(["shard-calc", "--peak-workflows-per-second", "lots"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("--peak-workflows-per-second"), "{stderr}");
}
