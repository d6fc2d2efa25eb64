//! The kubeconfig file clients load to reach the server (kube-rs, kubectl).

use std::io;
use std::path::Path;

/// The context, cluster and user name in the written kubeconfig.
pub const CONTEXT: &str = "kube-api";

/// The kubeconfig text for a server URL. Plain HTTP with a bearer token the server ignores;
/// kube-rs and kubectl both accept an `http://` server.
pub fn render(url: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {CONTEXT}
  cluster:
    server: {url}
contexts:
- name: {CONTEXT}
  context:
    cluster: {CONTEXT}
    user: {CONTEXT}
    namespace: default
current-context: {CONTEXT}
users:
- name: {CONTEXT}
  user:
    token: kube-api-test-token
"
    )
}

/// Writes the kubeconfig for `url` to `path`.
pub fn write(path: &Path, url: &str) -> io::Result<()> {
    std::fs::write(path, render(url))
}
