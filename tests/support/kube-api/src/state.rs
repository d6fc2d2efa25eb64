//! The state every request handler shares: resource types, objects, faults and test settings.

use crate::faults::Fault;
use crate::resources::ResourceType;
use crate::store::{ObjectKey, Store};
use serde_json::json;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// Namespaces every cluster starts with.
const INITIAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Shared server state.
pub struct Shared {
    /// The served resource types; `ObjectKey::resource` indexes this list.
    pub resources: Vec<ResourceType>,
    store: Mutex<Store>,
    faults: Mutex<Vec<Fault>>,
    auto_ready: Mutex<Option<Duration>>,
    epoch: watch::Sender<u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// State with the given resource types and the initial namespaces.
    pub fn new(resources: Vec<ResourceType>) -> Self {
        let shared = Self {
            resources,
            store: Mutex::new(Store::new()),
            faults: Mutex::new(Vec::new()),
            auto_ready: Mutex::new(None),
            epoch: watch::channel(0).0,
        };
        shared.seed();
        shared
    }

    /// The object store, locked.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// The pending faults, locked.
    pub fn faults(&self) -> MutexGuard<'_, Vec<Fault>> {
        lock(&self.faults)
    }

    /// The delay after which workloads are marked ready, when that mode is on.
    pub fn auto_ready(&self) -> Option<Duration> {
        *lock(&self.auto_ready)
    }

    /// Turns the mark-ready-after-a-delay mode on (`Some`) or off.
    pub fn set_auto_ready(&self, delay: Option<Duration>) {
        *lock(&self.auto_ready) = delay;
    }

    /// A receiver that changes when the server restarts; open watches end then.
    pub fn epoch(&self) -> watch::Receiver<u64> {
        self.epoch.subscribe()
    }

    /// Marks a restart: ends open watches and, unless `keep_data`, forgets every object.
    pub fn restart(&self, keep_data: bool) {
        self.epoch.send_modify(|epoch| *epoch += 1);
        if !keep_data {
            self.store().clear();
            self.seed();
        }
    }

    /// The index of a resource type by API version and kind.
    pub fn resource_index(&self, api_version: &str, kind: &str) -> Option<usize> {
        self.resources
            .iter()
            .position(|r| r.api_version() == api_version && r.kind == kind)
    }

    fn seed(&self) {
        let Some(index) = self.resource_index("v1", "Namespace") else {
            return;
        };
        let now = crate::write::timestamp();
        let mut store = self.store();
        for name in INITIAL_NAMESPACES {
            let namespace = json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "uid": uuid::Uuid::new_v4().to_string(),
                    "creationTimestamp": now,
                    "labels": {"kubernetes.io/metadata.name": name},
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            });
            let key = ObjectKey {
                resource: index,
                namespace: String::new(),
                name: name.to_string(),
            };
            store.put(key, namespace);
        }
    }
}
