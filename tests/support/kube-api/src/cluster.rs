//! Choosing the cluster a test runs against: this server, or a real cluster when asked for.
//!
//! `ENGRAM_TEST_REAL_CLUSTER=1` with `KUBECONFIG` set selects the real cluster that kubeconfig
//! names; `ENGRAM_TEST_REAL_CLUSTER=1` without `KUBECONFIG` is an error rather than a silent fall
//! back. Otherwise a [`KubeApiServer`] is started.

use crate::handle::Handle;
use crate::server::KubeApiServer;
use std::io;
use std::path::{Path, PathBuf};

/// The environment variable that asks for a real cluster.
pub const REAL_CLUSTER_VAR: &str = "ENGRAM_TEST_REAL_CLUSTER";

/// Which cluster the environment asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// Start a local test server.
    Local,
    /// Use the real cluster in this kubeconfig.
    Real(PathBuf),
}

/// Decides from the two variables' values (`ENGRAM_TEST_REAL_CLUSTER`, `KUBECONFIG`).
pub fn select(real_cluster: Option<&str>, kubeconfig: Option<&str>) -> io::Result<Selection> {
    match (real_cluster, kubeconfig.filter(|k| !k.is_empty())) {
        (Some("1"), Some(path)) => Ok(Selection::Real(PathBuf::from(path))),
        (Some("1"), None) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{REAL_CLUSTER_VAR}=1 needs KUBECONFIG to name the real cluster's kubeconfig"),
        )),
        _ => Ok(Selection::Local),
    }
}

/// The cluster a test talks to.
pub enum TestCluster {
    /// This crate's server, with its test handle.
    Local(KubeApiServer),
    /// A real cluster, reached through a kubeconfig file.
    Real(PathBuf),
}

impl TestCluster {
    /// A real cluster when the environment selects one, else a freshly started local server.
    pub async fn from_env_or_start() -> io::Result<Self> {
        let real = std::env::var(REAL_CLUSTER_VAR).ok();
        let kubeconfig = std::env::var("KUBECONFIG").ok();
        match select(real.as_deref(), kubeconfig.as_deref())? {
            Selection::Real(path) => Ok(TestCluster::Real(path)),
            Selection::Local => Ok(TestCluster::Local(KubeApiServer::start().await?)),
        }
    }

    /// The kubeconfig to load.
    pub fn kubeconfig_path(&self) -> &Path {
        match self {
            TestCluster::Local(server) => server.kubeconfig_path(),
            TestCluster::Real(path) => path,
        }
    }

    /// The test handle, only for the local server: on a real cluster the real controllers act,
    /// and tests that need the handle must say why they skip.
    pub fn handle(&self) -> Option<Handle> {
        match self {
            TestCluster::Local(server) => Some(server.handle()),
            TestCluster::Real(_) => None,
        }
    }

    /// Whether this is a real cluster.
    pub fn is_real(&self) -> bool {
        matches!(self, TestCluster::Real(_))
    }
}
