//! What a deployment has in the cluster right now: one LIST per kind, filtered by the owner's
//! labels, so the cost grows with the number of kinds and not with the number of objects.

use super::client::{Deployer, is_not_found, retry};
use super::error::DeployError;
use super::labels::Owner;
use super::manifest::{Kind, ObjectId};
use futures_util::future::try_join_all;
use kube::api::ListParams;
use serde_json::Value;
use std::collections::BTreeMap;

/// Every live object of one owner, by identity.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// The objects, as JSON (with metadata.managedFields).
    pub objects: BTreeMap<ObjectId, Value>,
}

impl Deployer {
    /// Lists every kind deploy/ writes, by the owner's selector. Kinds the cluster does not serve
    /// (a CRD that is not installed) have no objects.
    pub async fn inventory(&self, owner: &Owner) -> Result<Inventory, DeployError> {
        let lists = Kind::ALL
            .into_iter()
            .map(|kind| self.list_kind(owner, kind));
        let mut objects = BTreeMap::new();
        for list in try_join_all(lists).await? {
            objects.extend(list);
        }
        Ok(Inventory { objects })
    }

    async fn list_kind(
        &self,
        owner: &Owner,
        kind: Kind,
    ) -> Result<Vec<(ObjectId, Value)>, DeployError> {
        let api = self.api(kind, &owner.namespace);
        let params = ListParams::default().labels(&owner.selector());
        let list = match retry(|| api.list(&params)).await {
            Ok(list) => list,
            Err(error) if is_not_found(&error) => return Ok(Vec::new()),
            Err(error) => return Err(self.api_error("list", kind.name(), &error)),
        };
        Ok(list
            .items
            .into_iter()
            .filter_map(|item| {
                let mut value = serde_json::to_value(&item).ok()?;
                // A real server's LIST leaves `apiVersion` and `kind` off the items of built-in
                // kinds (apimachinery runtime encoding of a List); the kind is the one listed.
                value["apiVersion"] = Value::from(kind.api_version());
                value["kind"] = Value::from(kind.name());
                let id = ObjectId {
                    kind,
                    namespace: if kind.namespaced() {
                        item.metadata.namespace.clone().unwrap_or_default()
                    } else {
                        String::new()
                    },
                    name: item.metadata.name.clone()?,
                };
                Some((id, value))
            })
            .collect())
    }
}
