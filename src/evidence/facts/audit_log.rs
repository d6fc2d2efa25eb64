//! The codec server's audit trail (its stdout, one JSON line per request; see
//! src/codec/server/audit.rs), read from a file or from its pods' logs through the Kubernetes
//! API: counts per operation, outcome and subject, the newest line's time, and whether the trail
//! accounts for the decode requests the server's metrics count.

use super::live_objects::{KubeTarget, codec_logs};
use crate::evidence::report::{Control, Fact};
use std::collections::BTreeMap;
use std::path::Path;
use tokio::io::AsyncReadExt;

/// The most of the file that is read: its last this-many bytes.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// How many subjects are named; the rest are counted together.
pub const MAX_SUBJECTS: usize = 20;

async fn tail(path: &Path) -> std::io::Result<String> {
    use tokio::io::AsyncSeekExt;
    let mut file = tokio::fs::File::open(path).await?;
    let len = file.metadata().await?.len();
    let skip = len.saturating_sub(MAX_BYTES);
    file.seek(std::io::SeekFrom::Start(skip)).await?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES).read_to_end(&mut bytes).await?;
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if skip > 0 {
        // The first line was cut.
        text = text
            .split_once('\n')
            .map(|(_, rest)| rest.to_string())
            .unwrap_or_default();
    }
    Ok(text)
}

/// Reads the audit trail at `path` into `control` and compares its decode lines with the
/// `decode_requests` the metrics count (the file must cover the server's life since it started).
pub async fn compare(control: &mut Control, path: &Path, decode_requests: f64) {
    let method = format!(
        "read audit trail {} (last {MAX_BYTES} bytes at most)",
        path.display()
    );
    match tail(path).await {
        Ok(text) => analyse(control, &text, method, decode_requests),
        Err(e) => control.fact(Fact::now(
            format!("the audit trail {} could not be read: {e}", path.display()),
            method,
            false,
        )),
    }
}

/// Reads the audit trail from the logs of the codec server's pods (every pod's, so the count
/// covers every replica while the metrics are one replica's) and compares its decode lines
/// with the `decode_requests` the metrics count.
pub async fn compare_pods(control: &mut Control, target: &KubeTarget, decode_requests: f64) {
    let logs = match codec_logs(target).await {
        Ok(logs) => logs,
        Err(e) => {
            control.fact(Fact::now(
                e,
                format!("Kubernetes API {}", target.server),
                false,
            ));
            return;
        }
    };
    if logs.is_empty() {
        control.fact(Fact::now(
            format!(
                "no codec server pod in namespace `{}` carries the labels {}: no audit trail to read",
                target.codec_namespace,
                target.codec_selector()
            ),
            format!("Kubernetes API {}", target.server),
            false,
        ));
        return;
    }
    let mut text = String::new();
    let mut read = Vec::new();
    for log in logs {
        match log.text {
            Ok(t) => {
                text.push_str(&t);
                if !t.ends_with('\n') {
                    text.push('\n');
                }
                read.push(log.method);
            }
            Err(e) => control.fact(Fact::now(
                format!("the log of {} could not be read: {e}", log.source),
                log.method,
                false,
            )),
        }
    }
    if !read.is_empty() {
        analyse(control, &text, read.join("; "), decode_requests);
    }
}

/// Counts the audit lines of `text` (lines without an `operation` are not audit lines: the
/// server's own log, in a pod's log) into `control`, read with `method`.
fn analyse(control: &mut Control, text: &str, method: String, decode_requests: f64) {
    let mut by_kind: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut subjects: BTreeMap<String, usize> = BTreeMap::new();
    let mut newest: Option<String> = None;
    let mut unreadable = 0usize;
    let mut insecure = 0usize;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Some(v) = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .filter(|v| v.get("operation").is_some())
        else {
            unreadable += 1;
            continue;
        };
        let field = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .unwrap_or("none")
                .to_string()
        };
        *by_kind
            .entry((field("operation"), field("outcome")))
            .or_default() += 1;
        *subjects.entry(field("subject")).or_default() += 1;
        insecure += usize::from(v.get("insecure_no_auth").and_then(|x| x.as_bool()) == Some(true));
        let time = field("time");
        if newest.as_ref().is_none_or(|n| time > *n) {
            newest = Some(time);
        }
    }
    let total: usize = by_kind.values().sum();
    let kinds: Vec<String> = by_kind
        .iter()
        .map(|((op, outcome), n)| format!("{op}/{outcome}: {n}"))
        .collect();
    let mut named: Vec<(&String, &usize)> = subjects.iter().collect();
    named.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let others: usize = named.iter().skip(MAX_SUBJECTS).map(|(_, n)| **n).sum();
    let mut who: Vec<String> = named
        .iter()
        .take(MAX_SUBJECTS)
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    if others > 0 {
        who.push(format!("others: {others}"));
    }
    control.fact(Fact::now(
        format!(
            "{total} audit lines ({}); by subject ({}); newest at {}{}{}",
            kinds.join(", "),
            who.join(", "),
            newest.as_deref().unwrap_or("none"),
            if insecure > 0 {
                format!("; {insecure} written in --insecure-no-auth mode")
            } else {
                String::new()
            },
            if unreadable > 0 {
                format!("; {unreadable} other lines (not audit lines)")
            } else {
                String::new()
            }
        ),
        method.clone(),
        true,
    ));
    let decode_lines: usize = by_kind
        .iter()
        .filter(|((op, _), _)| op == "decode")
        .map(|(_, n)| *n)
        .sum();
    let covered = decode_lines as f64 >= decode_requests;
    control.fact(Fact::now(
        format!(
            "{decode_lines} decode audit lines for {decode_requests} decode requests the metrics count{}",
            if covered { "" } else { ": decode traffic without audit lines" }
        ),
        method,
        covered,
    ));
}
