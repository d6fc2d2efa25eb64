//! Objects in memory, a global resourceVersion, and the event history watches read.

use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

/// How many events are kept for watches that start from an older resourceVersion.
const HISTORY: usize = 10_000;

/// Where an object lives: its resource type (an index into the server's resource list),
/// namespace (empty for cluster-scoped objects) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// Index of the resource type.
    pub resource: usize,
    /// Namespace, empty when cluster-scoped.
    pub namespace: String,
    /// Object name.
    pub name: String,
}

/// A watch event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object was changed.
    Modified,
    /// The object was deleted.
    Deleted,
}

impl EventType {
    /// The name watch lines use.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// A change to one object.
#[derive(Debug, Clone)]
pub struct Event {
    /// What happened.
    pub kind: EventType,
    /// Where the object lives.
    pub key: ObjectKey,
    /// The object after the change (before it, for deletions, with a new resourceVersion).
    pub object: Arc<Value>,
    /// The object before a modification, so watches with selectors can tell when it entered or
    /// left their selection.
    pub previous: Option<Arc<Value>>,
    /// The resourceVersion of the change.
    pub resource_version: u64,
}

/// Past events after a resourceVersion, and a receiver for the events that follow.
pub type Subscription = (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>);

/// The in-memory object store.
pub struct Store {
    objects: BTreeMap<ObjectKey, Arc<Value>>,
    resource_version: u64,
    history: VecDeque<Arc<Event>>,
    oldest_kept: u64,
    sender: broadcast::Sender<Arc<Event>>,
    next_ip: u32,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(HISTORY);
        Self {
            objects: BTreeMap::new(),
            resource_version: 1000,
            history: VecDeque::new(),
            oldest_kept: 1000,
            sender,
            next_ip: 10,
        }
    }

    /// The newest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// An unused cluster IP from 10.96.0.0/12.
    pub fn allocate_cluster_ip(&mut self) -> String {
        let n = self.next_ip;
        self.next_ip += 1;
        format!("10.96.{}.{}", (n >> 8) & 0xff, n & 0xff)
    }

    /// One object.
    pub fn get(&self, key: &ObjectKey) -> Option<&Value> {
        self.objects.get(key).map(Arc::as_ref)
    }

    /// One object, shared rather than copied.
    pub fn get_shared(&self, key: &ObjectKey) -> Option<Arc<Value>> {
        self.objects.get(key).cloned()
    }

    /// Objects of a resource type, in one namespace or (with `None`) all of them, by name.
    pub fn list(&self, resource: usize, namespace: Option<&str>) -> Vec<(&ObjectKey, &Arc<Value>)> {
        self.objects
            .iter()
            .filter(|(key, _)| {
                key.resource == resource && namespace.is_none_or(|ns| key.namespace == ns)
            })
            .collect()
    }

    /// Keys of every object in a namespace, of any resource type.
    pub fn keys_in_namespace(&self, namespace: &str) -> Vec<ObjectKey> {
        self.objects
            .keys()
            .filter(|key| key.namespace == namespace)
            .cloned()
            .collect()
    }

    /// Keys of every object (any type) whose ownerReferences name `uid`.
    pub fn dependents_of(&self, uid: &str) -> Vec<ObjectKey> {
        self.objects
            .iter()
            .filter(|(_, object)| {
                object
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| {
                        refs.iter()
                            .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
                    })
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Stores an object under a new resourceVersion and records the event; returns the stored object.
    pub fn put(&mut self, key: ObjectKey, mut object: Value) -> Arc<Value> {
        let version = self.bump(&mut object);
        let object = Arc::new(object);
        let previous = self.objects.insert(key.clone(), object.clone());
        let kind = match previous {
            Some(_) => EventType::Modified,
            None => EventType::Added,
        };
        self.record(Event {
            kind,
            key,
            object: object.clone(),
            previous,
            resource_version: version,
        });
        object
    }

    /// Removes an object and records the deletion; returns it as last seen.
    pub fn remove(&mut self, key: &ObjectKey) -> Option<Arc<Value>> {
        let mut object = Arc::unwrap_or_clone(self.objects.remove(key)?);
        let version = self.bump(&mut object);
        let object = Arc::new(object);
        self.record(Event {
            kind: EventType::Deleted,
            key: key.clone(),
            object: object.clone(),
            previous: None,
            resource_version: version,
        });
        Some(object)
    }

    /// Forgets every object and the event history (a restart that loses its data).
    pub fn clear(&mut self) {
        self.objects.clear();
        self.compact();
    }

    /// Forgets the event history: watches from older resourceVersions get 410 Expired.
    pub fn compact(&mut self) {
        self.history.clear();
        self.oldest_kept = self.resource_version;
    }

    /// Events after `since` for which `filter` holds, and a receiver for the ones that follow;
    /// `Err(since)` when that history is no longer kept.
    pub fn watch_from(
        &self,
        since: u64,
        filter: impl Fn(&Event) -> bool,
    ) -> Result<Subscription, u64> {
        if since < self.oldest_kept {
            return Err(since);
        }
        let past = self
            .history
            .iter()
            .filter(|event| event.resource_version > since && filter(event))
            .cloned()
            .collect();
        Ok((past, self.sender.subscribe()))
    }

    fn bump(&mut self, object: &mut Value) -> u64 {
        self.resource_version += 1;
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.insert(
                "resourceVersion".into(),
                Value::String(self.resource_version.to_string()),
            );
        }
        self.resource_version
    }

    fn record(&mut self, event: Event) {
        let event = Arc::new(event);
        if self.history.len() == HISTORY
            && let Some(dropped) = self.history.pop_front()
        {
            self.oldest_kept = dropped.resource_version;
        }
        self.history.push_back(event.clone());
        let _ = self.sender.send(event);
    }
}
