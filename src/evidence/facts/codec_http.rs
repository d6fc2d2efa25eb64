//! Facts from the codec server over HTTP: whether it refuses a decode without a token, and what
//! its `/metrics` say about audit lines (src/codec/server/metrics.rs names the series).

use crate::evidence::report::{Control, Fact, RmfFunction};
use std::time::Duration;

/// How long each request may take.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The body of the decode probe: one payload, so the request is well formed and only the
/// missing token can refuse it.
const PROBE_BODY: &str =
    r#"{"payloads":[{"metadata":{"encoding":"YmluYXJ5L2VuY3J5cHRlZA=="},"data":""}]}"#;

/// An HTTP client that trusts `ca_pem` (when given) besides nothing else it is told.
pub fn client(ca_pem: Option<&str>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = ca_pem {
        let cert = reqwest::Certificate::from_pem(pem.as_bytes())
            .map_err(|e| format!("the CA file is not a PEM certificate: {e}"))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| e.to_string())
}

/// A token that holds no right on `namespace`, for the 403 probe. Redacted in Debug and
/// zeroized on drop; never written into the report.
#[derive(Clone)]
pub struct ProbeToken {
    token: zeroize::Zeroizing<String>,
    /// The namespace the token has no right on.
    pub namespace: String,
}

impl ProbeToken {
    /// A probe of `namespace` with `token`.
    pub fn new(token: String, namespace: String) -> Self {
        Self {
            token: zeroize::Zeroizing::new(token),
            namespace,
        }
    }
}

impl std::fmt::Debug for ProbeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeToken")
            .field("token", &"[redacted]")
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// One decode probe: the status it was answered with, or the error naming the URL.
async fn probe(
    client: &reqwest::Client,
    url: &str,
    namespace: &str,
    token: Option<&str>,
) -> Result<u16, String> {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-namespace", namespace)
        .body(PROBE_BODY);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("no answer from {url}: {e}"))
}

/// The access-control control: `POST {base}/default/decode` without a token must be answered
/// 401; with `denied`, a decode in its namespace with its token must be answered 403.
pub async fn access_control(
    client: &reqwest::Client,
    base: &str,
    denied: Option<&ProbeToken>,
) -> Control {
    let mut control = Control::new(
        "access-control",
        "Access control: the codec server refuses the unauthenticated",
        &[RmfFunction::Govern, RmfFunction::Manage],
        "Access control (RBAC + SSO): decryption only for authenticated callers",
    );
    let base = base.trim_end_matches('/');
    let url = format!("{base}/default/decode");
    let method = format!("POST {url} (X-Namespace: default, no Authorization header)");
    let mut summary = match probe(client, &url, "default", None).await {
        Ok(status) => {
            control.fact(Fact::now(
                format!("a decode without a token was answered HTTP {status}"),
                method,
                status == 401,
            ));
            if status == 401 {
                "the codec server refuses a decode without a token (401)".to_string()
            } else {
                format!(
                    "the codec server answered a decode without a token with {status}, not 401: it does not require authentication"
                )
            }
        }
        Err(e) => {
            control.fact(Fact::now(e, method, false));
            format!("the codec server at {base} could not be reached")
        }
    };
    match denied {
        Some(probe_token) => {
            let ns = &probe_token.namespace;
            let url = format!("{base}/{ns}/decode");
            let method = format!(
                "POST {url} (X-Namespace: {ns}, Authorization: Bearer <the probe token, not recorded>)"
            );
            let fact = match probe(client, &url, ns, Some(probe_token.token.as_str())).await {
                Ok(status) => Fact::now(
                    format!(
                        "a decode in namespace `{ns}` with a token that holds no right on it was answered HTTP {status}"
                    ),
                    method,
                    status == 403,
                ),
                Err(e) => Fact::now(e, method, false),
            };
            summary.push_str(if fact.holds {
                "; a token without rights on the namespace is refused (403)"
            } else {
                "; a token without rights on the namespace is not refused with 403"
            });
            control.fact(fact);
        }
        None => summary.push_str(
            "; a token without rights on a namespace (403) was not checked: no probe token was given",
        ),
    }
    control.conclude(summary);
    control
}

/// Adds `GET {base}/readyz` to `control`: 200 means every keyring the codec server serves
/// is unwrapped through the KMS, its document loads, and audit lines are written.
pub async fn readiness(control: &mut Control, client: &reqwest::Client, base: &str) {
    let url = format!("{}/readyz", base.trim_end_matches('/'));
    let method = format!("GET {url}");
    let fact = match client.get(&url).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            let first: String = text.lines().take(4).collect::<Vec<_>>().join("; ");
            Fact::now(
                if status == 200 {
                    "the codec server reports ready: every keyring unwrapped through the KMS"
                        .to_string()
                } else {
                    format!("the codec server reports not ready (HTTP {status}): {first:.300}")
                },
                method,
                status == 200,
            )
        }
        Err(e) => Fact::now(format!("no answer from {url}: {e}"), method, false),
    };
    let ready = fact.holds;
    control.fact(fact);
    let mut summary = control.summary.clone();
    if !ready {
        summary.push_str("; the codec server does not report every keyring unwrapped");
    }
    control.conclude(summary);
}

/// The value of the series `name` with exactly `labels` (e.g. `operation="decode"`) summed over
/// matching lines of a Prometheus text exposition.
pub fn metric_sum(text: &str, name: &str, label: Option<&str>) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let bare = series.split('{').next().unwrap_or(series);
        if bare != name || label.is_some_and(|l| !series.contains(l)) {
            continue;
        }
        if let Ok(v) = value.parse::<f64>() {
            found = Some(found.unwrap_or(0.0) + v);
        }
    }
    found
}

/// The audit control: `/metrics` shows requests handled (each writes an audit line) and no
/// audit line that failed to be written; the trail is read from `audit_log`, or else from the
/// logs of the codec server's pods in `pods`.
pub async fn audit(
    client: &reqwest::Client,
    base: &str,
    audit_log: Option<&std::path::Path>,
    pods: Option<&super::live_objects::KubeTarget>,
) -> Control {
    let mut control = Control::new(
        "audit",
        "Audit: every codec request leaves an audit line",
        &[RmfFunction::Measure, RmfFunction::Govern],
        "Audit logs of key access",
    );
    let url = format!("{}/metrics", base.trim_end_matches('/'));
    let method = format!("GET {url}");
    let text = match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => match r.text().await {
            Ok(t) => t,
            Err(e) => {
                control.fact(Fact::now(
                    format!("{url} answered unreadably: {e}"),
                    method,
                    false,
                ));
                control.conclude("the codec server's metrics could not be read");
                return control;
            }
        },
        Ok(r) => {
            control.fact(Fact::now(
                format!("{url} answered HTTP {}", r.status().as_u16()),
                method,
                false,
            ));
            control.conclude("the codec server's metrics could not be read");
            return control;
        }
        Err(e) => {
            control.fact(Fact::now(
                format!("no answer from {url}: {e}"),
                method,
                false,
            ));
            control.conclude(format!("the codec server at {base} could not be reached"));
            return control;
        }
    };
    let requests = metric_sum(&text, "engram_codec_requests_total", None);
    let decodes = metric_sum(
        &text,
        "engram_codec_requests_total",
        Some("operation=\"decode\""),
    );
    let failures = metric_sum(&text, "engram_codec_audit_failures_total", None);
    match (requests, failures) {
        (Some(requests), Some(failures)) => {
            control.fact(Fact::now(
                format!(
                    "{requests} codec requests counted ({} decode), each answered only after its audit line was written",
                    decodes.unwrap_or(0.0)
                ),
                format!("{method}: engram_codec_requests_total"),
                true,
            ));
            control.fact(Fact::now(
                format!("{failures} requests whose audit line could not be written"),
                format!("{method}: engram_codec_audit_failures_total"),
                failures == 0.0,
            ));
            match (audit_log, pods) {
                (Some(path), _) => {
                    super::audit_log::compare(&mut control, path, decodes.unwrap_or(0.0)).await
                }
                (None, Some(target)) => {
                    super::audit_log::compare_pods(&mut control, target, decodes.unwrap_or(0.0))
                        .await
                }
                (None, None) => {}
            }
            control.conclude(if control.facts.iter().all(|f| f.holds) {
                "the codec server reports no audit line that failed to be written, and the audit trail read covers the decode traffic".to_string()
            } else if failures > 0.0 {
                format!("{failures} audit lines could not be written")
            } else {
                "the audit trail read does not account for the decode traffic the metrics show".to_string()
            });
        }
        _ => {
            control.fact(Fact::now(
                "the metrics do not include engram_codec_requests_total and engram_codec_audit_failures_total",
                method,
                false,
            ));
            control.conclude("the endpoint is not an engram codec server's metrics");
        }
    }
    control
}

#[cfg(test)]
mod tests {
    use super::metric_sum;

    #[test]
    fn sums_series_by_name_and_label() {
        let text = "# HELP x\nengram_codec_requests_total{operation=\"decode\",outcome=\"ok\"} 3\n\
engram_codec_requests_total{operation=\"encode\",outcome=\"ok\"} 2\nengram_codec_requests_total_other 9\n";
        assert_eq!(
            metric_sum(text, "engram_codec_requests_total", None),
            Some(5.0)
        );
        assert_eq!(
            metric_sum(
                text,
                "engram_codec_requests_total",
                Some("operation=\"decode\"")
            ),
            Some(3.0)
        );
        assert_eq!(metric_sum(text, "missing", None), None);
    }
}
