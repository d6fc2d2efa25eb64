//! Import: rebuild a spec from a deployment already in the cluster (by namespace and name), so
//! Terraform can adopt it. The non-secret spec is read from the annotation every apply writes
//! on a known object, and checked against what is live.

use super::client::{Deployer, is_not_found, retry};
use super::error::DeployError;
use super::labels::{SPEC_ANNOTATION, STACK_LABEL, Stack};
use super::manifest::{Kind, ObjectId};
use super::render::{KEYRING_KEY, config_map_name, server_config};
use super::spec::{CodecServerSpec, TemporalClusterSpec};
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
