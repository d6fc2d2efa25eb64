//! A keyring Secret for a namespace where workers run: one Opaque Secret holding the keyring
//! document under `keyring.json`, the layout of the codec server's own keyring Secret, so a
//! worker mounts it the same way. Wrapped data keys only; nothing else is put in it.

use super::codec::KEYRING_KEY;
use super::pod;
use crate::deploy::labels::{Owner, Stack};
use crate::deploy::manifest::{Kind, Manifest, Step};
use crate::deploy::spec::KeyringSecretSpec;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;

/// The component label of a keyring Secret.
pub const COMPONENT: &str = "keyring";

/// The owner of a keyring Secret: no Temporal cluster, since any worker of the namespace may
/// mount it.
pub fn owner(spec: &KeyringSecretSpec) -> Owner {
    Owner {
        stack: Stack::KeyringSecret,
        namespace: spec.namespace.clone(),
        instance: spec.name.clone(),
        cluster: String::new(),
    }
}

/// The Secret.
pub fn render(spec: &KeyringSecretSpec) -> Vec<Manifest> {
    let secret = Secret {
        metadata: pod::meta(&owner(spec), &spec.name, COMPONENT, &BTreeMap::new()),
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(
            KEYRING_KEY.to_string(),
            ByteString(spec.keyring.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    };
    vec![Manifest::new(Kind::Secret, Step::Foundation, &secret)]
}
