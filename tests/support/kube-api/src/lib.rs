//! A Kubernetes API server for tests.
//!
//! Real HTTP on 127.0.0.1, a kubeconfig that kube-rs and kubectl load unchanged, and the parts of
//! the API server the provider relies on: discovery, server-side apply with managedFields,
//! conflicts and the typed conversion of the applied configuration, the other verbs, watch, Status
//! errors, the Go round trip a built-in object makes on its way to storage (unknown fields
//! dropped, `omitempty`, canonical quantities), the defaults the real server adds, the validation
//! it runs (422 Invalid, worded as the real server words it), the immutable fields it guards,
//! and CustomResourceDefinitions: custom kinds are served only once their CRD is installed, and
//! their schema prunes, defaults and validates them. Controllers run only when asked: a
//! [`Handle`] (and the same operations over HTTP under `/__admin`) steps the Deployment,
//! StatefulSet and Job controllers one deterministic step at a time, sets workload status,
//! finishes Jobs, installs CRDs, injects faults and restarts the server.
//! `CONFORMANCE.md` in this crate lists, rule by rule, what is enforced and what is not.

#![warn(missing_docs)]

mod admin;
mod api;
mod apply;
mod cluster;
mod control;
mod controllers;
mod crd;
mod decode;
mod defaults;
mod delete;
mod discovery;
mod faults;
mod fieldpath;
mod fieldset;
mod handle;
mod kubeconfig;
pub use kubeconfig::CONTEXT;
mod logs;
mod managed;
mod merge;
mod ownership;
mod partial;
mod patch;
mod pattern;
mod quantity;
mod read;
mod request;
mod resources;
mod schema;
mod selector;
mod server;
mod state;
mod status;
mod store;
mod table;
mod typed;
mod validation;
mod watch;
mod write;
mod writes;

pub use cluster::{REAL_CLUSTER_VAR, Selection, TestCluster, select};
pub use control::{JobOutcome, ObjectRef};
pub use faults::{Effect, Fault};
pub use handle::Handle;
pub use resources::ResourceType;
pub use server::{KubeApiServer, Options};
pub use status::{ApiError, Cause, Details};

/// The CustomResourceDefinitions bundled with the server, as their projects publish them
/// (descriptions dropped; `scripts/extract-crds.py`).
pub mod crds {
    use serde_json::Value;

    fn named(name: &str) -> Value {
        crate::crd::bundled()
            .into_iter()
            .find(|c| c.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
            .unwrap_or(Value::Null)
    }

    /// monitoring.coreos.com/v1 ServiceMonitor (prometheus-operator v0.93.0).
    pub fn service_monitor() -> Value {
        named("servicemonitors.monitoring.coreos.com")
    }

    /// monitoring.coreos.com/v1 PrometheusRule (prometheus-operator v0.93.0).
    pub fn prometheus_rule() -> Value {
        named("prometheusrules.monitoring.coreos.com")
    }

    /// cert-manager.io/v1 Certificate (cert-manager v1.21.1).
    pub fn certificate() -> Value {
        named("certificates.cert-manager.io")
    }

    /// All three.
    pub fn bundled() -> Vec<Value> {
        crate::crd::bundled()
    }
}
