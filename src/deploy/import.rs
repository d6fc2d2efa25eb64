//! Import: rebuild a spec from a deployment already in the cluster (by namespace and name), so
//! Terraform can adopt it. The non-secret spec is read from the annotation every apply writes
//! on a known object, and checked against what is live; a keyring Secret is its own spec.
//! Also the check before a create that the names it will write are not someone else's.

use super::client::{Deployer, is_not_found, retry};
use super::error::DeployError;
use super::labels::{FIELD_MANAGER, SPEC_ANNOTATION, STACK_LABEL, Stack};
use super::manifest::{Kind, Manifest, ObjectId};
use super::render::{KEYRING_KEY, Rendered, config_map_name, server_config};
use super::spec::{CodecServerSpec, KeyringSecretSpec, TemporalClusterSpec};
use serde::de::DeserializeOwned;
use serde_json::Value;

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.pointer("/metadata/annotations")?.get(key)?.as_str()
}

impl Deployer {
    async fn get(&self, id: &ObjectId, what: &str) -> Result<Value, DeployError> {
        let api = self.api_for(id);
        match retry(|| api.get(&id.name)).await {
            Ok(object) => Ok(serde_json::to_value(&object).unwrap_or_default()),
            Err(error) if is_not_found(&error) => Err(DeployError::NotFound {
                what: format!("{what} ({id})"),
            }),
            Err(error) => Err(self.api_error("read", id, &error)),
        }
    }

    async fn get_owned(
        &self,
        id: &ObjectId,
        stack: Stack,
        what: &str,
    ) -> Result<Value, DeployError> {
        let object = self.get(id, what).await?;
        let label = object
            .pointer("/metadata/labels")
            .and_then(|l| l.get(STACK_LABEL))
            .and_then(Value::as_str);
        if label != Some(stack.label()) {
            return Err(DeployError::NotImportable {
                object: id.clone(),
                reason: format!(
                    "it is not labelled {STACK_LABEL}={}; only deployments made by engram can be imported",
                    stack.label()
                ),
            });
        }
        Ok(object)
    }

    /// The keyring document a Secret holds under `keyring.json`: the codec server's
    /// `<name>-keyring` Secret, or any copy made in the same layout. Import of a key binding
    /// starts from it.
    pub async fn keyring_from_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<String, DeployError> {
        let id = ObjectId {
            kind: Kind::Secret,
            namespace: namespace.into(),
            name: name.into(),
        };
        let secret = self.get(&id, "keyring Secret").await?;
        keyring_of(&id, &secret)
    }

    /// Rebuilds a Temporal cluster's spec from its configuration ConfigMap.
    pub async fn import_temporal_cluster(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<TemporalClusterSpec, DeployError> {
        let id = ObjectId {
            kind: Kind::ConfigMap,
            namespace: namespace.into(),
            name: format!("{name}-config"),
        };
        let object = self
            .get_owned(
                &id,
                Stack::Temporal,
                &format!("Temporal cluster {namespace}/{name}"),
            )
            .await?;
        let spec: TemporalClusterSpec = parse_spec(&id, &object)?;
        if spec.name != name || config_map_name(&spec) != id.name {
            return Err(DeployError::NotImportable {
                object: id,
                reason: format!("its spec names cluster `{}`", spec.name),
            });
        }
        let live = object
            .pointer(&format!("/data/{}", server_config::CONFIG_FILE))
            .and_then(Value::as_str)
            .and_then(server_config::shard_count);
        if live != Some(spec.history_shard_count) {
            return Err(DeployError::NotImportable {
                object: id,
                reason: format!(
                    "its server configuration has numHistoryShards {live:?} but its spec says {}; repair the ConfigMap before importing",
                    spec.history_shard_count
                ),
            });
        }
        Ok(spec)
    }

    /// Rebuilds a codec server's spec from its Deployment and keyring Secret.
    pub async fn import_codec_server(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<CodecServerSpec, DeployError> {
        let id = ObjectId {
            kind: Kind::Deployment,
            namespace: namespace.into(),
            name: name.into(),
        };
        let what = format!("codec server {namespace}/{name}");
        let object = self.get_owned(&id, Stack::CodecServer, &what).await?;
        let mut spec: CodecServerSpec = parse_spec(&id, &object)?;
        let secret_id = ObjectId {
            kind: Kind::Secret,
            namespace: namespace.into(),
            name: format!("{name}-keyring"),
        };
        let secret = self
            .get_owned(&secret_id, Stack::CodecServer, &what)
            .await?;
        spec.keyring = keyring_of(&secret_id, &secret)?;
        Ok(spec)
    }

    /// Rebuilds a keyring Secret's spec from the Secret itself: it holds nothing but the
    /// keyring document.
    pub async fn import_keyring_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<KeyringSecretSpec, DeployError> {
        let id = ObjectId {
            kind: Kind::Secret,
            namespace: namespace.into(),
            name: name.into(),
        };
        let what = format!("keyring Secret {namespace}/{name}");
        let secret = self.get_owned(&id, Stack::KeyringSecret, &what).await?;
        let instance = label(&secret, "app.kubernetes.io/instance");
        if instance != Some(name) {
            return Err(DeployError::NotImportable {
                object: id,
                reason: format!(
                    "its app.kubernetes.io/instance label is {instance:?}, not {name:?}; it was renamed by hand"
                ),
            });
        }
        let keyring = keyring_of(&id, &secret)?;
        Ok(KeyringSecretSpec {
            name: name.into(),
            namespace: namespace.into(),
            keyring,
        })
    }

    /// The rendered objects that already exist as someone else's: made by hand or another
    /// tool, or by another engram deployment (a codec server's `<name>-keyring` Secret). Each
    /// with who holds it. One GET per object; for small deployments (a keyring Secret) whose
    /// create must not take over an object that only shares its name.
    pub async fn held_by_others(
        &self,
        rendered: &Rendered,
    ) -> Result<Vec<(ObjectId, String)>, DeployError> {
        let owner = &rendered.owner;
        let mut held = Vec::new();
        for id in rendered.objects.iter().map(Manifest::id) {
            let object = match self.get(&id, "object").await {
                Ok(object) => object,
                Err(DeployError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            let ours = label(&object, "app.kubernetes.io/managed-by") == Some(FIELD_MANAGER)
                && label(&object, STACK_LABEL) == Some(owner.stack.label())
                && label(&object, "app.kubernetes.io/instance") == Some(owner.instance.as_str());
            if ours {
                continue;
            }
            let holder = match (
                label(&object, "app.kubernetes.io/managed-by"),
                label(&object, STACK_LABEL),
                label(&object, "app.kubernetes.io/instance"),
            ) {
                (Some(FIELD_MANAGER), Some(stack), Some(instance)) => {
                    format!("engram's {stack} `{instance}`")
                }
                _ => "something other than engram".to_string(),
            };
            held.push((id, holder));
        }
        Ok(held)
    }
}

fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.pointer("/metadata/labels")?.get(key)?.as_str()
}

fn keyring_of(id: &ObjectId, secret: &Value) -> Result<String, DeployError> {
    use base64::Engine as _;
    let encoded = secret
        .pointer(&format!("/data/{}", KEYRING_KEY.replace('/', "~1")))
        .and_then(Value::as_str)
        .ok_or_else(|| DeployError::NotImportable {
            object: id.clone(),
            reason: format!("it has no {KEYRING_KEY} entry"),
        })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| DeployError::NotImportable {
            object: id.clone(),
            reason: format!("its keyring is not base64: {e}"),
        })?;
    String::from_utf8(bytes).map_err(|_| DeployError::NotImportable {
        object: id.clone(),
        reason: "its keyring is not UTF-8 JSON".into(),
    })
}

fn parse_spec<T: DeserializeOwned>(id: &ObjectId, object: &Value) -> Result<T, DeployError> {
    let text = annotation(object, SPEC_ANNOTATION).ok_or_else(|| DeployError::NotImportable {
        object: id.clone(),
        reason: format!("it has no {SPEC_ANNOTATION} annotation"),
    })?;
    serde_json::from_str(text).map_err(|e| DeployError::NotImportable {
        object: id.clone(),
        reason: format!("its {SPEC_ANNOTATION} annotation does not parse: {e}"),
    })
}
