//! Starting, restarting and stopping the server.

use crate::handle::Handle;
use crate::resources::{self, ResourceType};
use crate::state::Shared;
use crate::{admin, api, faults, kubeconfig};
use axum::Router;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a restart waits for open connections to finish before cutting them.
const DRAIN: Duration = Duration::from_secs(2);

/// How the server starts.
#[derive(Debug, Clone)]
pub struct Options {
    /// The address to bind; port 0 picks a free port.
    pub address: SocketAddr,
    /// The resource types served; the core v1 Namespace type must come first. Custom types
    /// ([`ResourceType::custom`]) are served from a CustomResourceDefinition installed at start:
    /// the bundled one when the kind has one ([`crate::crds`]), otherwise one that keeps every
    /// field.
    pub resources: Vec<ResourceType>,
    /// CustomResourceDefinitions installed at start (and again after a restart that loses the
    /// stored objects), e.g. [`crate::crds::bundled`].
    pub crds: Vec<serde_json::Value>,
    /// The automatic controller mode: with `Some(tick)`, every Deployment, StatefulSet and Job
    /// written has its controllers stepped every `tick` until a step changes nothing, so a rollout
    /// completes (a Job succeeds) a few ticks after each write. `None`: workloads only progress
    /// through the [`Handle`] (`step`, `mark_ready`, `complete_job`, ...).
    pub auto_ready: Option<Duration>,
}

impl Default for Options {
    /// 127.0.0.1 on a free port; the built-in kinds, and the Prometheus Operator's
    /// ServiceMonitor and PrometheusRule CRDs installed (the kinds this server served before it
    /// modelled CRDs), as on a cluster with the Prometheus Operator.
    fn default() -> Self {
        Self {
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            resources: resources::builtin(),
            crds: vec![
                crate::crds::service_monitor(),
                crate::crds::prometheus_rule(),
            ],
            auto_ready: None,
        }
    }
}

impl Options {
    /// The defaults with the three bundled CRDs installed: monitoring.coreos.com/v1
    /// ServiceMonitor and PrometheusRule, cert-manager.io/v1 Certificate.
    pub fn with_bundled_crds() -> Self {
        Self {
            crds: crate::crd::bundled(),
            ..Self::default()
        }
    }

    /// The defaults without any CRD, as a new cluster: only the built-in kinds are served.
    pub fn without_crds() -> Self {
        Self {
            crds: Vec::new(),
            ..Self::default()
        }
    }
}

struct Running {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Serves the router on one address and can stop and serve again there.
pub(crate) struct Runner {
    address: SocketAddr,
    shared: Arc<Shared>,
    running: Mutex<Option<Running>>,
}

impl Runner {
    fn serve(self: &Arc<Self>, listener: TcpListener) {
        let handle = Handle {
            shared: self.shared.clone(),
            runner: Arc::downgrade(self),
        };
        let router = Router::new()
            .nest(admin::PREFIX, admin::router(handle))
            .fallback(api::handle)
            .layer(axum::middleware::from_fn_with_state(
                self.shared.clone(),
                faults::inject,
            ))
            .with_state(self.shared.clone());
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let stopped = async {
                let _ = signal.await;
            };
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(%error, "kube-api-server stopped serving");
            }
        });
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Running { shutdown, task });
    }

    fn take_running(&self) -> Option<Running> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    pub(crate) async fn restart(self: &Arc<Self>, keep_data: bool) -> io::Result<()> {
        if let Some(running) = self.take_running() {
            let _ = running.shutdown.send(());
            self.shared.restart(keep_data);
            let abort = running.task.abort_handle();
            if tokio::time::timeout(DRAIN, running.task).await.is_err() {
                abort.abort();
            }
        } else {
            self.shared.restart(keep_data);
        }
        let listener = TcpListener::bind(self.address).await?;
        self.serve(listener);
        Ok(())
    }

    fn stop(&self) {
        if let Some(running) = self.take_running() {
            let _ = running.shutdown.send(());
            self.shared.restart(true);
            running.task.abort();
        }
    }
}

/// A Kubernetes API server for tests, on 127.0.0.1 with a free port. Stops when dropped.
///
/// ```no_run
/// # async fn example() -> std::io::Result<()> {
/// let server = kube_api::KubeApiServer::start().await?;
/// // KUBECONFIG=server.kubeconfig_path() for kube-rs or kubectl
/// println!("{} {}", server.url(), server.kubeconfig_path().display());
/// # Ok(())
/// # }
/// ```
pub struct KubeApiServer {
    url: String,
    kubeconfig: PathBuf,
    runner: Arc<Runner>,
    _directory: tempfile::TempDir,
}

impl KubeApiServer {
    /// Starts a server with the default [`Options`]. Must be called inside a tokio runtime; the
    /// server runs on that runtime's tasks. Returns once the port is bound (the server answers
    /// from then on) and the kubeconfig is written.
    pub async fn start() -> io::Result<Self> {
        Self::start_with(Options::default()).await
    }

    /// Starts a server with the given options.
    pub async fn start_with(options: Options) -> io::Result<Self> {
        let namespaces_first = options
            .resources
            .get(resources::NAMESPACES)
            .is_some_and(|r| r.group.is_empty() && r.kind == "Namespace");
        if !namespaces_first {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Options::resources must start with the core v1 Namespace type",
            ));
        }
        let listener = TcpListener::bind(options.address).await?;
        let address = listener.local_addr()?;
        let mut builtin = Vec::new();
        let mut crds = options.crds;
        for resource in options.resources {
            if !resource.is_custom {
                builtin.push(resource);
                continue;
            }
            let crd = crate::crd::bundled_for(&resource.group, &resource.kind)
                .filter(|c| {
                    c.pointer("/spec/names/plural")
                        .and_then(serde_json::Value::as_str)
                        == Some(resource.plural.as_str())
                })
                .unwrap_or_else(|| {
                    crate::crd::schemaless(
                        &resource.group,
                        &resource.version,
                        &resource.kind,
                        &resource.plural,
                    )
                });
            let name = crd.pointer("/metadata/name").cloned();
            if !crds
                .iter()
                .any(|c| c.pointer("/metadata/name").cloned() == name)
            {
                crds.push(crd);
            }
        }
        if !builtin
            .iter()
            .any(|r| r.group == "apiextensions.k8s.io" && r.kind == "CustomResourceDefinition")
            && !crds.is_empty()
        {
            builtin.extend(
                resources::builtin()
                    .into_iter()
                    .filter(|r| r.kind == "CustomResourceDefinition"),
            );
        }
        let shared = Arc::new(Shared::new(builtin, crds));
        shared.set_auto_ready(options.auto_ready);
        let runner = Arc::new(Runner {
            address,
            shared,
            running: Mutex::new(None),
        });
        runner.serve(listener);
        let url = format!("http://{address}");
        let directory = tempfile::tempdir()?;
        let kubeconfig = directory.path().join("kubeconfig");
        kubeconfig::write(&kubeconfig, &url)?;
        Ok(Self {
            url,
            kubeconfig,
            runner,
            _directory: directory,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.runner.address
    }

    /// A kubeconfig file that points at this server (removed when the server is dropped).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// Starts a server without any CRD installed ([`Options::without_crds`]).
    pub async fn start_without_crds() -> io::Result<Self> {
        Self::start_with(Options::without_crds()).await
    }

    /// Starts a server with the three bundled CRDs installed ([`Options::with_bundled_crds`]).
    pub async fn start_with_bundled_crds() -> io::Result<Self> {
        Self::start_with(Options::with_bundled_crds()).await
    }

    /// The test handle: workload status, Job outcomes, controller steps, CRDs, faults, restarts.
    pub fn handle(&self) -> Handle {
        Handle {
            shared: self.runner.shared.clone(),
            runner: Arc::downgrade(&self.runner),
        }
    }
}

impl Drop for KubeApiServer {
    fn drop(&mut self) {
        self.runner.stop();
    }
}
