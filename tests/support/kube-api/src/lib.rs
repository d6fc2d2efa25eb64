//! A Kubernetes API server for tests.
//!
//! Real HTTP on 127.0.0.1, a kubeconfig that kube-rs and kubectl load unchanged, and the parts of
//! the API server the provider relies on: discovery, server-side apply with managedFields and
//! conflicts, the other verbs, watch, Status errors, the defaults the real server adds, and the
//! immutable fields it guards. No controllers run: a [`Handle`] (and the same operations over HTTP
//! under `/__admin`) sets workload status, finishes Jobs, injects faults and restarts the server.
//! `docs/testing.md` lists what is modelled and what is not.

#![warn(missing_docs)]

mod admin;
mod api;
mod apply;
mod cluster;
mod control;
mod defaults;
mod delete;
mod discovery;
mod faults;
mod fieldpath;
mod fieldset;
mod handle;
mod kubeconfig;
mod managed;
mod merge;
mod ownership;
mod partial;
mod patch;
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
