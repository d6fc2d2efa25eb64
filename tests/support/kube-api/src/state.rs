//! The state every request handler shares: resource types, objects, faults and test settings.

use crate::controllers::Workloads;
use crate::faults::Fault;
use crate::resources::ResourceType;
use crate::store::{ObjectKey, Store};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// Namespaces every cluster starts with.
const INITIAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Shared server state.
pub struct Shared {
    /// The resource types; `ObjectKey::resource` indexes this list, which only grows (a type
    /// whose CRD is deleted stays, unserved).
    resources: RwLock<Vec<Arc<ResourceType>>>,
    /// CRDs installed at start, and again after a restart that loses the stored objects.
    initial_crds: Vec<Value>,
    store: Mutex<Store>,
    faults: Mutex<Vec<Fault>>,
    auto_ready: Mutex<Option<Duration>>,
    epoch: watch::Sender<u64>,
    /// What the controllers know of each workload (replica sets, pods).
    pub(crate) workloads: Mutex<Workloads>,
    /// What each pod's containers wrote, by namespace, pod and container.
    logs: Mutex<BTreeMap<(String, String, String), String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// State with the given built-in resource types, the initial namespaces, and these CRDs
    /// installed.
    pub fn new(resources: Vec<ResourceType>, crds: Vec<Value>) -> Self {
        let shared = Self {
            resources: RwLock::new(resources.into_iter().map(Arc::new).collect()),
            initial_crds: crds,
            store: Mutex::new(Store::new()),
            faults: Mutex::new(Vec::new()),
            auto_ready: Mutex::new(None),
            epoch: watch::channel(0).0,
            workloads: Mutex::new(Workloads::default()),
            logs: Mutex::new(BTreeMap::new()),
        };
        shared.seed();
        shared
    }

    /// The object store, locked.
    /// Appends to what a pod's container wrote (its stdout and stderr, as the kubelet keeps them).
    pub(crate) fn append_log(&self, namespace: &str, pod: &str, container: &str, text: &str) {
        lock(&self.logs)
            .entry((namespace.into(), pod.into(), container.into()))
            .or_default()
            .push_str(text);
    }

    /// What a pod's container wrote so far.
    pub(crate) fn log(&self, namespace: &str, pod: &str, container: &str) -> String {
        lock(&self.logs)
            .get(&(namespace.into(), pod.into(), container.into()))
            .cloned()
            .unwrap_or_default()
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// The pending faults, locked.
    pub fn faults(&self) -> MutexGuard<'_, Vec<Fault>> {
        lock(&self.faults)
    }

    /// The delay between controller steps in the automatic mode, when it is on.
    pub fn auto_ready(&self) -> Option<Duration> {
        *lock(&self.auto_ready)
    }

    /// Turns the automatic controller mode on (`Some(tick)`) or off.
    pub fn set_auto_ready(&self, delay: Option<Duration>) {
        *lock(&self.auto_ready) = delay;
    }

    /// A receiver that changes when the server restarts; open watches end then.
    pub fn epoch(&self) -> watch::Receiver<u64> {
        self.epoch.subscribe()
    }

    /// One resource type by index.
    pub fn resource(&self, index: usize) -> Arc<ResourceType> {
        self.resources
            .read()
            .unwrap_or_else(PoisonError::into_inner)[index]
            .clone()
    }

    /// Every resource type (served or not), by index.
    pub fn resources(&self) -> Vec<Arc<ResourceType>> {
        self.resources
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Marks a restart: ends open watches and, unless `keep_data`, forgets every object (and so
    /// every CRD installed since start).
    pub fn restart(&self, keep_data: bool) {
        self.epoch.send_modify(|epoch| *epoch += 1);
        if !keep_data {
            self.store().clear();
            lock(&self.workloads).clear();
            let mut resources = self
                .resources
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            for resource in resources.iter_mut().filter(|r| r.is_custom) {
                let mut unserved = ResourceType::clone(resource);
                unserved.served = false;
                *resource = Arc::new(unserved);
            }
            drop(resources);
            self.seed();
        }
    }

    /// The index of a served resource type by API version and kind.
    pub fn resource_index(&self, api_version: &str, kind: &str) -> Option<usize> {
        self.resources()
            .iter()
            .position(|r| r.served && r.api_version() == api_version && r.kind == kind)
    }

    /// The index of the type a CRD (by name) defines, served or not.
    pub(crate) fn custom_index(&self, crd_name: &str) -> Option<usize> {
        self.resources()
            .iter()
            .position(|r| r.custom.as_ref().is_some_and(|c| c.crd_name == crd_name))
    }

    /// Serves (or updates) the type a stored CRD defines; returns its index.
    pub(crate) fn register_crd(&self, crd: &Value) -> Option<usize> {
        let resource = ResourceType::from_crd(crd)?;
        let name = crd.pointer("/metadata/name")?.as_str()?.to_string();
        let mut resources = self
            .resources
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let existing = resources.iter().position(|r| {
            r.custom.as_ref().is_some_and(|c| c.crd_name == name)
                || (r.is_custom && r.group == resource.group && r.plural == resource.plural)
        });
        Some(match existing {
            Some(index) => {
                resources[index] = Arc::new(resource);
                index
            }
            None => {
                resources.push(Arc::new(resource));
                resources.len() - 1
            }
        })
    }

    /// Stops serving the type a CRD defined.
    pub(crate) fn unregister_crd(&self, crd_name: &str) {
        let mut resources = self
            .resources
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for resource in resources.iter_mut() {
            if resource
                .custom
                .as_ref()
                .is_some_and(|c| c.crd_name == crd_name)
            {
                let mut unserved = ResourceType::clone(resource);
                unserved.served = false;
                *resource = Arc::new(unserved);
            }
        }
    }

    fn seed(&self) {
        let Some(index) = self.resource_index("v1", "Namespace") else {
            return;
        };
        let now = crate::write::timestamp();
        {
            let mut store = self.store();
            for name in INITIAL_NAMESPACES {
                let namespace = json!({
                    "kind": "Namespace",
                    "apiVersion": "v1",
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
        for crd in self.initial_crds.clone() {
            if let Err(error) = crate::writes::install_crd(self, crd) {
                tracing::error!(%error, "installing an initial CRD failed");
            }
        }
    }
}
